#include "http/event_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ta::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kSweep{250};  // how often deadlines are checked

enum class State {
  kWaiting,  // no request started: a new or kept-alive connection
  kHead,     // a request's first bytes are in, its headers are not complete
  kBody,     // headers complete, the Content-Length body is still arriving
  kBusy,     // on a pool thread
  kStream,   // an event stream, written by the loop
};

struct Conn {
  Conn(int f, std::string a, int p) : fd(f), ip(std::move(a)), port(p) {}
  const int fd;
  const std::string ip;
  const int port;
  std::weak_ptr<Conn> self;  // for the pool thread that serves it
  std::string local_ip;      // looked up by the first request that asks
  int local_port = -1;

  // Loop thread, or the one pool thread that holds a kBusy connection: the
  // pool thread writes the fields below, then `state` (leaving kBusy), then
  // re-arms the watch, so the loop sees them once it sees the new state.
  std::atomic<State> state{State::kWaiting};
  std::string in;   // bytes read and not yet consumed by a request
  size_t need = 0;  // kBody: bytes of head plus body the request needs
  Clock::time_point deadline;
  bool in_epoll = false;
  bool closed = false;
  bool close_pending = false;  // a close asked for while on a pool thread
  bool write_armed = false;

  // An event stream's output, pushed from any thread.
  std::mutex mu;
  std::string out;    // unsent bytes
  bool live = false;  // the response head is out; pushes may be sent
  bool dead = false;  // closed or being closed: pushes fail
  bool ending = false;
};

// kStream and kFinish come from the pool thread that served a request (the
// connection is no longer busy); kClose and kFlush from a stream's sink. A
// connection going back to waiting needs no command: the pool thread re-arms
// its watch itself (Resume).
enum class Cmd { kStream, kFinish, kClose, kFlush };

// Where a header line's value starts, if `line` is header `name` (case-insensitive).
std::string_view HeaderValue(std::string_view head, std::string_view name) {
  size_t at = 0;
  while (true) {
    const size_t eol = head.find('\n', at);
    if (eol == std::string_view::npos) return {};
    std::string_view line = head.substr(at, eol - at);
    at = eol + 1;
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
      return v;
    }
  }
}

// The end of a request's head (just past its blank line), or npos.
size_t HeadEnd(const std::string& in) {
  const size_t crlf = in.find("\r\n\r\n");
  const size_t lf = in.find("\n\n");
  if (crlf == std::string::npos && lf == std::string::npos) return std::string::npos;
  if (crlf != std::string::npos && (lf == std::string::npos || crlf < lf)) return crlf + 4;
  return lf + 2;
}

// What the bytes buffered for a request amount to.
enum class Framing {
  kNeedHead,      // the headers are not complete
  kHeadTooLarge,  // ... and already past the cap
  kNeedBody,      // headers complete, `*need` bytes (head + body) not all in yet
  kReady,         // hand it to the library (complete, or a body the library reads itself)
};

Framing Frame(const std::string& in, size_t max_header, size_t max_body, size_t* need) {
  const size_t end = HeadEnd(in);
  if (end == std::string::npos)
    return in.size() > max_header ? Framing::kHeadTooLarge : Framing::kNeedHead;
  const std::string_view head(in.data(), end);
  // Chunked bodies, 100-continue and oversized bodies are the library's to read or refuse.
  if (!HeaderValue(head, "Transfer-Encoding").empty() || !HeaderValue(head, "Expect").empty())
    return Framing::kReady;
  const std::string_view length = HeaderValue(head, "Content-Length");
  size_t body = 0;
  if (!length.empty()) {
    char* stop = nullptr;
    const std::string digits(length);
    const unsigned long long v = std::strtoull(digits.c_str(), &stop, 10);
    if (*stop != '\0' || v > max_body) return Framing::kReady;
    body = static_cast<size_t>(v);
  }
  *need = end + body;
  return in.size() >= *need ? Framing::kReady : Framing::kNeedBody;
}

// A served connection waits this long on its pool thread for the client's
// next request before going back to the event loop: a busy client's next
// request then costs no loop round trip (two thread wake-ups; measured: run
// reads took 25% more server CPU without it, 2 ms recovered little, 20 ms
// most). It holds the thread only while no other request waits for one.
constexpr milliseconds kLinger{20};

// Waits until `fd` is ready for `events` or `deadline` passes.
bool WaitReady(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

std::string Problem(int status, const char* reason, const std::string& detail) {
  const std::string body = "{\"type\":\"about:blank\",\"title\":\"" + std::string(reason) +
                           "\",\"status\":" + std::to_string(status) + ",\"detail\":\"" + detail +
                           "\"}";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/problem+json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

bool HeadAwaitsBody(const std::string& head) {
  return head.starts_with("HTTP/1.1 ") && head.ends_with("\r\n\r\n") &&
         strcasestr(head.c_str(), "\r\nContent-Length:") != nullptr &&
         strcasestr(head.c_str(), "\r\nTransfer-Encoding:") == nullptr;
}

struct EventServer::Loop {
  Loop(EventServer& s, Limits l) : server(s), limits(l) {}

  // A connection waiting for request bytes is watched one-shot: the event that
  // completes a request disarms it, so handing it to a pool thread needs no
  // epoll call, and giving it back one (EPOLL_CTL_MOD).
  static constexpr uint32_t kWaitEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;

  EventServer& server;
  const Limits limits;
  Counters counters;
  std::atomic<bool> stopping{false};
  std::atomic<bool> serving{false};
  int ep = -1;
  int wake = -1;
  // Readable while a request waits for a pool thread: threads lingering for a
  // next request (NextRequestHere) stop at once and give theirs back.
  int spill = -1;
  int listen_fd = -1;
  bool accepting = true;
  Clock::time_point resume_accept;

  // Loop thread only.
  std::unordered_map<int, std::shared_ptr<Conn>> conns;
  std::unordered_map<std::string, size_t> per_ip;

  std::mutex cmd_mu;
  std::vector<std::pair<std::shared_ptr<Conn>, Cmd>> cmds;  // GUARDED_BY(cmd_mu)
  bool loop_gone = false;                                   // GUARDED_BY(cmd_mu)
  std::unique_ptr<httplib::ThreadPool> pool;

  // From any thread: the loop applies `cmd` to `c`. Dropped once the loop is gone
  // (Serve() then closes every connection itself).
  void Post(const std::shared_ptr<Conn>& c, Cmd cmd) {
    bool first;
    {
      std::lock_guard lock(cmd_mu);
      if (loop_gone) return;
      first = cmds.empty();
      cmds.emplace_back(c, cmd);
    }
    if (first) {
      const uint64_t one = 1;
      (void)!::write(wake, &one, sizeof one);
    }
  }

  void Watch(Conn& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = c.fd;
    epoll_ctl(ep, c.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
    c.in_epoll = true;
  }
  void Unwatch(Conn& c) {
    if (c.in_epoll) epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    c.in_epoll = false;
  }

  void Close(const std::shared_ptr<Conn>& c) {
    if (c->closed) return;
    c->closed = true;
    {
      std::lock_guard lock(c->mu);
      c->dead = true;
      Unwatch(*c);
      ::close(c->fd);
    }
    conns.erase(c->fd);
    if (auto it = per_ip.find(c->ip); it != per_ip.end() && --it->second == 0) per_ip.erase(it);
    --counters.open;
    if (c->state == State::kStream) --counters.streams;
  }

  // Answers a connection the server will not serve, and closes it.
  static void Refuse(int fd, int status, const char* reason, const std::string& detail) {
    const std::string r = Problem(status, reason, detail);
    (void)!::send(fd, r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::close(fd);
  }
  void RefuseOpen(const std::shared_ptr<Conn>& c, int status, const char* reason,
                  const std::string& detail) {
    const std::string r = Problem(status, reason, detail);
    (void)!::send(c->fd, r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    Close(c);
  }

  void Accept() {
    for (int i = 0; i < 256; ++i) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of fds: stop accepting for a moment instead of spinning.
          epoll_ctl(ep, EPOLL_CTL_DEL, listen_fd, nullptr);
          accepting = false;
          resume_accept = Clock::now() + milliseconds(100);
        }
        return;
      }
      ++counters.accepted;
      char host[INET6_ADDRSTRLEN] = "";
      int port = 0;
      if (addr.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
      } else if (addr.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
      }
      if (conns.size() >= limits.max_connections) {
        ++counters.refused_max_connections;
        Refuse(fd, 503, "Service Unavailable",
               "connections: the server has its maximum of " +
                   std::to_string(limits.max_connections) +
                   " open; retry later, or raise --max-connections");
        continue;
      }
      size_t& from_ip = per_ip[host];
      if (limits.max_connections_per_ip > 0 && from_ip >= limits.max_connections_per_ip) {
        ++counters.refused_per_ip;
        Refuse(fd, 429, "Too Many Requests",
               "connections: " + std::to_string(from_ip) + " are open from " + host +
                   "; close some, or raise --max-connections-per-ip");
        continue;
      }
      ++from_ip;
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_shared<Conn>(fd, host, port);
      c->self = c;
      c->deadline = Clock::now() + limits.header_timeout;  // the first request must come soon
      conns.emplace(fd, c);
      ++counters.open;
      Watch(*c, kWaitEvents);
    }
  }

  void OnEvent(int fd, uint32_t events) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    std::shared_ptr<Conn> c = it->second;
    if (c->state == State::kStream) {
      if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) return Close(c);
      if (events & EPOLLIN) {  // a stream's client sends nothing we use
        char buf[512];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return Close(c);
      }
      if (events & EPOLLOUT) Flush(c);
      return;
    }
    if (c->state == State::kBusy) return;
    // A waiting connection's next request usually arrives in one segment: the
    // pool thread reads it, so its buffer is allocated and freed on one thread.
    if (c->state == State::kWaiting) return Dispatch(c);
    bool eof = false;
    char buf[64 * 1024];
    while (true) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        c->in.append(buf, static_cast<size_t>(n));
        if (c->in.size() > limits.max_header_bytes + server.payload_max_length_) break;
        continue;
      }
      if (n == 0)
        eof = true;
      else if (errno == EINTR)
        continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK)
        eof = true;
      break;
    }
    if (c->state == State::kWaiting && !c->in.empty()) {
      c->state = State::kHead;
      c->deadline = Clock::now() + limits.header_timeout;
    }
    if (eof) {
      // The client closed its side; serve what it completed, else close.
      Examine(c);
      if (c->state != State::kBusy) Close(c);
      return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) return Close(c);
    if (c->state == State::kWaiting)
      Watch(*c, kWaitEvents);
    else
      Examine(c);
  }

  // Hands a complete request to a pool thread; checks the head's limits.
  void Examine(const std::shared_ptr<Conn>& c) {
    if (c->state != State::kHead && c->state != State::kBody) return;
    switch (Frame(c->in, limits.max_header_bytes, server.payload_max_length_, &c->need)) {
      case Framing::kNeedHead:
        break;
      case Framing::kHeadTooLarge:
        ++counters.headers_too_large;
        return RefuseOpen(c, 431, "Request Header Fields Too Large",
                          "headers: longer than " + std::to_string(limits.max_header_bytes) +
                              " bytes; send fewer or shorter headers");
      case Framing::kNeedBody:
        if (c->state == State::kHead) {
          c->state = State::kBody;
          c->deadline = Clock::now() + limits.body_timeout;
        }
        break;
      case Framing::kReady:
        return Dispatch(c);
    }
    Watch(*c, kWaitEvents);  // one-shot: re-armed after every read that left it waiting
  }

  void Dispatch(const std::shared_ptr<Conn>& c) {
    c->state = State::kBusy;  // its one-shot watch has fired: the loop no longer sees it
    if (++counters.busy > limits.threads) {
      const uint64_t one = 1;
      (void)!::write(spill, &one, sizeof one);
    }
    pool->enqueue([this, raw = c.get()] { ServeRequest(raw->self.lock()); });
  }

  void ServeRequest(const std::shared_ptr<Conn>& c);  // on a pool thread
  bool NextRequestHere(Conn& c);                      // on a pool thread
  void Resume(Conn& c);                               // on a pool thread
  bool ReadAvailable(Conn& c);                        // on a pool thread

  void RunCommands() {
    std::vector<std::pair<std::shared_ptr<Conn>, Cmd>> todo;
    {
      std::lock_guard lock(cmd_mu);
      todo.swap(cmds);
    }
    for (auto& [c, cmd] : todo) {
      if (c->closed) continue;
      switch (cmd) {
        case Cmd::kFinish:
          Close(c);
          break;
        case Cmd::kClose:
          // A stream's sink may ask while its request is still on a pool
          // thread, which owns the socket until it hands the connection back.
          if (c->state == State::kBusy)
            c->close_pending = true;
          else
            Close(c);
          break;
        case Cmd::kStream:
          if (c->close_pending) {
            Close(c);
            break;
          }
          c->state = State::kStream;
          ++counters.streams;
          Watch(*c, EPOLLIN | EPOLLRDHUP);
          {
            std::lock_guard lock(c->mu);
            c->live = true;
          }
          Flush(c);
          break;
        case Cmd::kFlush:
          if (c->state == State::kStream) Flush(c);
          break;
      }
    }
  }

  // Writes a stream's pending bytes without blocking; arms EPOLLOUT for the rest.
  void Flush(const std::shared_ptr<Conn>& c) {
    bool close = false;
    {
      std::lock_guard lock(c->mu);
      size_t sent = 0;
      while (!c->dead && sent < c->out.size()) {
        const ssize_t n =
            ::send(c->fd, c->out.data() + sent, c->out.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) c->dead = true;
          break;
        }
      }
      c->out.erase(0, sent);
      if (c->out.empty()) std::string().swap(c->out);
      close = c->dead || (c->out.empty() && c->ending);
    }
    if (close) return Close(c);
    const bool want = !c->out.empty();
    if (want != c->write_armed) {
      c->write_armed = want;
      Watch(*c, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u));
    }
  }

  void Sweep() {
    const auto now = Clock::now();
    if (!accepting && now >= resume_accept) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = listen_fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
      accepting = true;
    }
    std::vector<std::shared_ptr<Conn>> expired;
    for (auto& [fd, c] : conns) {
      if ((c->state == State::kWaiting || c->state == State::kHead || c->state == State::kBody) &&
          now >= c->deadline)
        expired.push_back(c);
    }
    for (auto& c : expired) {
      if (c->state == State::kWaiting) {
        ++counters.idle_timeouts;
        Close(c);
      } else if (c->state == State::kHead) {
        ++counters.header_timeouts;
        RefuseOpen(c, 408, "Request Timeout",
                   "headers: not complete within " + std::to_string(limits.header_timeout.count()) +
                       " ms");
      } else {
        ++counters.body_timeouts;
        RefuseOpen(
            c, 408, "Request Timeout",
            "body: not complete within " + std::to_string(limits.body_timeout.count()) + " ms");
      }
    }
  }

  void Run() {
    listen_fd = server.svr_sock_;
    if (listen_fd == INVALID_SOCKET) return;
    ::listen(listen_fd, SOMAXCONN);  // the library listens with a backlog of 5
    ::fcntl(listen_fd, F_SETFL, ::fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.fd = wake;
    epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev);
    pool = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(std::max(1, limits.threads)));
    serving = true;
    auto next_sweep = Clock::now() + kSweep;
    std::vector<epoll_event> events(512);
    while (!stopping) {
      const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(kSweep.count()));
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd) {
          Accept();
        } else if (fd == wake) {
          uint64_t v;
          (void)!::read(wake, &v, sizeof v);
          RunCommands();
        } else {
          OnEvent(fd, events[i].events);
        }
      }
      if (Clock::now() >= next_sweep) {
        Sweep();
        next_sweep = Clock::now() + kSweep;
      }
    }
    // Stop: no new connections; waiting ones and streams close now; requests
    // in flight finish (their pool threads see `stopping` and close after).
    epoll_ctl(ep, EPOLL_CTL_DEL, listen_fd, nullptr);
    ::close(server.svr_sock_.exchange(INVALID_SOCKET));
    CloseAll(/*busy=*/false);
    {
      std::lock_guard lock(cmd_mu);
      loop_gone = true;
      cmds.clear();
    }
    pool->shutdown();
    CloseAll(/*busy=*/true);
    serving = false;
  }

  void CloseAll(bool busy) {
    std::vector<std::shared_ptr<Conn>> all;
    for (auto& [fd, c] : conns)
      if (busy || c->state != State::kBusy) all.push_back(c);
    for (auto& c : all) Close(c);
  }
};

namespace {

// What a pool thread reads a request from (the loop's buffer, then the
// socket) and writes its response to.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(Conn& c, milliseconds io_timeout) : c_(c), io_timeout_(io_timeout) {}

  void BeginResponse() { head_pending_ = true; }
  bool Flush() {
    head_pending_ = false;
    if (held_.empty()) return true;
    iovec iov{held_.data(), held_.size()};
    const bool ok = SendAll(&iov, 1);
    held_.clear();
    return ok;
  }
  // The bytes of later (pipelined) requests stay with the connection.
  void KeepLeftover() {
    if (pos_ >= c_.in.size())
      std::string().swap(c_.in);
    else
      c_.in.erase(0, pos_);
    pos_ = 0;
  }
  bool detached() const { return detached_; }
  void Detach() { detached_ = true; }

  bool is_readable() const override {
    return pos_ < c_.in.size() || WaitReady(c_.fd, POLLIN, Clock::now() + io_timeout_);
  }
  bool is_writable() const override {
    return WaitReady(c_.fd, POLLOUT, Clock::now() + io_timeout_) && PeerOpen();
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < c_.in.size()) {
      const size_t k = std::min(size, c_.in.size() - pos_);
      std::memcpy(ptr, c_.in.data() + pos_, k);
      pos_ += k;
      return static_cast<ssize_t>(k);
    }
    const auto deadline = Clock::now() + io_timeout_;
    while (true) {
      const ssize_t n = ::recv(c_.fd, ptr, size, 0);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !WaitReady(c_.fd, POLLIN, deadline))
        return -1;
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (detached_ && !head_pending_ && held_.empty())
      return static_cast<ssize_t>(size);  // an event stream's body belongs to the loop
    if (head_pending_) {
      head_pending_ = false;
      held_.assign(ptr, size);
      if (HeadAwaitsBody(held_)) return static_cast<ssize_t>(size);
      return Flush() ? static_cast<ssize_t>(size) : -1;
    }
    iovec iov[2];
    int n = 0;
    if (!held_.empty()) iov[n++] = {held_.data(), held_.size()};
    iov[n++] = {const_cast<char*>(ptr), size};
    const bool ok = SendAll(iov, n);
    held_.clear();
    return ok ? static_cast<ssize_t>(size) : -1;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.ip;
    port = c_.port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (c_.local_port < 0) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      char host[INET6_ADDRSTRLEN] = "";
      c_.local_port = 0;
      if (getsockname(c_.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        if (addr.ss_family == AF_INET) {
          const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
          inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
          c_.local_port = ntohs(a->sin_port);
        } else if (addr.ss_family == AF_INET6) {
          const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
          inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
          c_.local_port = ntohs(a->sin6_port);
        }
      }
      c_.local_ip = host;
    }
    ip = c_.local_ip;
    port = c_.local_port;
  }
  socket_t socket() const override { return c_.fd; }

 private:
  // Sends every byte or fails (peer gone, or the I/O timeout passed).
  bool SendAll(iovec* iov, int count) {
    const auto deadline = Clock::now() + io_timeout_;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    while (msg.msg_iovlen > 0) {
      const ssize_t n = ::sendmsg(c_.fd, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitReady(c_.fd, POLLOUT, deadline))
          continue;
        return false;
      }
      auto left = static_cast<size_t>(n);
      while (msg.msg_iovlen > 0 && left >= msg.msg_iov->iov_len) {
        left -= msg.msg_iov->iov_len;
        ++msg.msg_iov;
        --msg.msg_iovlen;
      }
      if (msg.msg_iovlen > 0) {
        msg.msg_iov->iov_base = static_cast<char*>(msg.msg_iov->iov_base) + left;
        msg.msg_iov->iov_len -= left;
      }
    }
    return true;
  }

  // False once the client has closed its side (a readable socket with no data).
  bool PeerOpen() const {
    char ch;
    const ssize_t n = ::recv(c_.fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

  Conn& c_;
  milliseconds io_timeout_;
  size_t pos_ = 0;
  bool head_pending_ = false;
  bool detached_ = false;
  std::string held_;
};

class ConnSink final : public StreamSink {
 public:
  ConnSink(EventServer::Loop& loop, std::shared_ptr<Conn> c) : loop_(loop), c_(std::move(c)) {}

  bool Push(std::string_view data) override {
    if (data.empty()) return open();
    char size[20];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::lock_guard lock(c_->mu);
    if (c_->dead || c_->ending) return false;
    if (c_->live && c_->out.empty()) {  // the common case: straight to the socket
      iovec iov[3] = {{size, static_cast<size_t>(n)},
                      {const_cast<char*>(data.data()), data.size()},
                      {const_cast<char*>("\r\n"), 2}};
      const ssize_t sent = ::writev(c_->fd, iov, 3);
      const size_t total = static_cast<size_t>(n) + data.size() + 2;
      if (sent == static_cast<ssize_t>(total)) return true;
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c_->dead = true;
        loop_.Post(c_, Cmd::kClose);
        return false;
      }
      std::string all = std::string(size, static_cast<size_t>(n)) + std::string(data) + "\r\n";
      c_->out.assign(all, sent > 0 ? static_cast<size_t>(sent) : 0);
      loop_.Post(c_, Cmd::kFlush);
      return true;
    }
    c_->out.append(size, static_cast<size_t>(n)).append(data).append("\r\n");
    if (c_->out.size() > loop_.limits.stream_buffer_bytes) {
      c_->dead = true;  // a slow reader: drop it rather than buffer without bound
      ++loop_.counters.streams_dropped_slow;
      loop_.Post(c_, Cmd::kClose);
      return false;
    }
    if (c_->live) loop_.Post(c_, Cmd::kFlush);
    return true;
  }

  void End() override {
    std::lock_guard lock(c_->mu);
    if (c_->dead || c_->ending) return;
    c_->ending = true;
    static constexpr char kLast[] = "0\r\n\r\n";
    if (c_->live && c_->out.empty() &&
        ::send(c_->fd, kLast, sizeof kLast - 1, MSG_DONTWAIT | MSG_NOSIGNAL) ==
            static_cast<ssize_t>(sizeof kLast - 1)) {
      c_->dead = true;  // all sent: the loop only closes it
      loop_.Post(c_, Cmd::kClose);
      return;
    }
    c_->out += kLast;
    loop_.Post(c_, Cmd::kFlush);
  }

  bool open() const override {
    std::lock_guard lock(c_->mu);
    return !c_->dead && !c_->ending;
  }

 private:
  EventServer::Loop& loop_;
  std::shared_ptr<Conn> c_;
};

struct Current {
  RequestStream* stream = nullptr;
  std::shared_ptr<Conn> conn;
  EventServer::Loop* loop = nullptr;
};
thread_local Current t_current;

}  // namespace

void EventServer::Loop::ServeRequest(const std::shared_ptr<Conn>& c) {
  if (counters.busy <= limits.threads) {  // nothing waits for a thread (any more)
    uint64_t v;
    (void)!::read(spill, &v, sizeof v);
  }
  size_t need = 0;
  if (Frame(c->in, limits.max_header_bytes, server.payload_max_length_, &need) != Framing::kReady) {
    // Woken by the loop for a waiting connection: read what has arrived.
    const bool open = ReadAvailable(*c);
    const Framing f = Frame(c->in, limits.max_header_bytes, server.payload_max_length_, &need);
    if (f == Framing::kHeadTooLarge) {
      ++counters.headers_too_large;
      const std::string r =
          Problem(431, "Request Header Fields Too Large",
                  "headers: longer than " + std::to_string(limits.max_header_bytes) +
                      " bytes; send fewer or shorter headers");
      (void)!::send(c->fd, r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (f == Framing::kHeadTooLarge || (!open && f != Framing::kReady)) {
      --counters.busy;
      return Post(c, Cmd::kFinish);
    }
    if (f != Framing::kReady) return Resume(*c);  // the rest arrives through the loop
  }
  while (true) {
    RequestStream strm(*c, limits.io_timeout);
    t_current = {&strm, c, this};
    bool closed = false;
    strm.BeginResponse();
    bool ok = server.process_request(strm, /*close_connection=*/stopping.load(), closed, nullptr);
    if (!strm.Flush()) ok = false;
    t_current = {};
    if (strm.detached() && ok) {
      --counters.busy;
      return Post(c, Cmd::kStream);
    }
    if (!ok || closed || stopping) {
      --counters.busy;
      return Post(c, Cmd::kFinish);
    }
    strm.KeepLeftover();
    if (!NextRequestHere(*c)) break;
  }
  Resume(*c);
}

// Gives a served connection back to the loop: waiting for its next request
// (or the rest of one already begun), watched one-shot again.
void EventServer::Loop::Resume(Conn& c) {
  size_t need = 0;
  const bool idle = c.in.empty();
  const bool body = !idle && Frame(c.in, limits.max_header_bytes, server.payload_max_length_,
                                   &need) == Framing::kNeedBody;
  if (body) c.need = need;
  c.deadline = Clock::now() + (idle   ? limits.idle_timeout
                               : body ? limits.body_timeout
                                      : limits.header_timeout);
  c.state = idle ? State::kWaiting : body ? State::kBody : State::kHead;
  --counters.busy;
  epoll_event ev{};
  ev.events = kWaitEvents;
  ev.data.fd = c.fd;
  epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
}

// True when the connection's next request is complete in its buffer, or
// arrives complete within kLinger: the pool thread then serves it without the
// loop's round trip. Not while other connections wait for a thread.
bool EventServer::Loop::NextRequestHere(Conn& c) {
  size_t need = 0;
  if (!c.in.empty())
    return Frame(c.in, limits.max_header_bytes, server.payload_max_length_, &need) ==
           Framing::kReady;
  if (counters.busy > limits.threads) return false;
  pollfd p[2] = {{c.fd, POLLIN, 0}, {spill, POLLIN, 0}};
  int rc;
  do {
    rc = ::poll(p, 2, static_cast<int>(kLinger.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0 || (p[0].revents & POLLIN) == 0) return false;
  ReadAvailable(c);  // a close is seen by the loop when it watches again
  return !c.in.empty() &&
         Frame(c.in, limits.max_header_bytes, server.payload_max_length_, &need) == Framing::kReady;
}

// Reads what the socket holds without waiting; false once the client closed.
bool EventServer::Loop::ReadAvailable(Conn& c) {
  char buf[16 * 1024];
  while (c.in.size() <= limits.max_header_bytes + server.payload_max_length_) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

std::shared_ptr<StreamSink> DetachAsStream() {
  if (!t_current.stream) return nullptr;
  t_current.stream->Detach();
  return std::make_shared<ConnSink>(*t_current.loop, t_current.conn);
}

EventServer::EventServer(Limits limits) : loop_(std::make_unique<Loop>(*this, limits)) {
  loop_->ep = epoll_create1(EPOLL_CLOEXEC);
  loop_->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  loop_->spill = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

EventServer::~EventServer() {
  Stop();
  if (loop_->ep >= 0) ::close(loop_->ep);
  if (loop_->wake >= 0) ::close(loop_->wake);
  if (loop_->spill >= 0) ::close(loop_->spill);
}

void EventServer::Serve() {
  if (loop_->stopping) return;
  loop_->Run();
}

void EventServer::Stop() {
  loop_->stopping = true;
  const uint64_t one = 1;
  (void)!::write(loop_->wake, &one, sizeof one);
}

bool EventServer::serving() const { return loop_->serving; }
const Counters& EventServer::counters() const { return loop_->counters; }
const Limits& EventServer::limits() const { return loop_->limits; }

bool EventServer::process_and_close_socket(socket_t sock) {
  ::close(sock);
  return false;
}

}  // namespace ta::http
