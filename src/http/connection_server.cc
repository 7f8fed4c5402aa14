#include "http/connection_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ta::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The receive timeout of a connection's socket: how often a blocked read
// looks at its own deadline and at whether the server is stopping.
constexpr milliseconds kReadSlice{250};

milliseconds ToMs(time_t sec, time_t usec) { return milliseconds(sec * 1000 + usec / 1000); }

void SetTimeout(int sock, int option, milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  setsockopt(sock, SOL_SOCKET, option, &tv, sizeof tv);
}

// One end of a connection's address, looked up on first use (the library asks
// for both on every request).
class CachedAddress {
 public:
  explicit CachedAddress(bool peer) : peer_(peer) {}

  void Get(int sock, std::string& ip, int& port) {
    if (!known_) {
      known_ = true;
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      auto* sa = reinterpret_cast<sockaddr*>(&addr);
      char host[NI_MAXHOST];
      char serv[NI_MAXSERV];
      if ((peer_ ? getpeername(sock, sa, &len) : getsockname(sock, sa, &len)) == 0 &&
          getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                      NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        ip_ = host;
        port_ = std::atoi(serv);
      }
    }
    ip = ip_;
    port = port_;
  }

 private:
  bool peer_;
  bool known_ = false;
  std::string ip_;
  int port_ = 0;
};

class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int sock, milliseconds read_timeout, milliseconds write_timeout)
      : sock_(sock), read_timeout_(read_timeout), write_timeout_(write_timeout) {
    SetTimeout(sock_, SO_RCVTIMEO, kReadSlice);
    SetTimeout(sock_, SO_SNDTIMEO, write_timeout_);
  }

  // Waits for the first bytes of the next request on a kept-alive connection.
  // False when the client closed it, it stayed idle past `idle`, or the
  // server is stopping (its listening socket is gone).
  bool WaitForRequest(milliseconds idle, const std::atomic<socket_t>& listener) {
    if (pos_ < end_) return true;  // a pipelined request is already buffered
    const auto deadline = Clock::now() + idle;
    while (true) {
      const ssize_t n = ::recv(sock_, buf_, sizeof buf_, 0);
      if (n > 0) {
        pos_ = 0;
        end_ = static_cast<size_t>(n);
        return true;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
      if (listener == INVALID_SOCKET || Clock::now() >= deadline) return false;
    }
  }

  // The next write is a response head (see HeadAwaitsBody).
  void BeginResponse() { head_pending_ = true; }

  // Sends a held-back head (a response without a body, or one the library
  // abandoned).
  bool Flush() {
    head_pending_ = false;
    if (held_.empty()) return true;
    iovec iov{held_.data(), held_.size()};
    const bool ok = SendAll(&iov, 1);
    held_.clear();
    return ok;
  }

  bool is_readable() const override { return pos_ < end_ || Poll(POLLIN, read_timeout_); }

  bool is_writable() const override { return Poll(POLLOUT, write_timeout_) && PeerOpen(); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == end_) {
      const ssize_t n = Receive();
      if (n <= 0) return n;
      pos_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t k = std::min(size, end_ - pos_);
    std::memcpy(ptr, buf_ + pos_, k);
    pos_ += k;
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, size_t size) override {
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
    peer_.Get(sock_, ip, port);
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    local_.Get(sock_, ip, port);
  }

  socket_t socket() const override { return sock_; }

 private:
  // recv() with the read timeout; the socket's own timeout is only a slice of it.
  ssize_t Receive() {
    const auto deadline = Clock::now() + read_timeout_;
    while (true) {
      const ssize_t n = ::recv(sock_, buf_, sizeof buf_, 0);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && Clock::now() < deadline) continue;
      return -1;
    }
  }

  // Sends every byte or fails (peer gone, or the write timeout passed).
  bool SendAll(iovec* iov, int count) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    while (msg.msg_iovlen > 0) {
      const ssize_t n = ::sendmsg(sock_, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
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

  bool Poll(short events, milliseconds timeout) const {
    pollfd p{sock_, events, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    return rc > 0 && (p.revents & events) != 0;
  }

  // False once the client has closed its side (a readable socket with no data).
  bool PeerOpen() const {
    if (!Poll(POLLIN, milliseconds(0))) return true;
    char c;
    return ::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  int sock_;
  milliseconds read_timeout_;
  milliseconds write_timeout_;
  char buf_[16 * 1024];
  size_t pos_ = 0, end_ = 0;
  bool head_pending_ = false;
  std::string held_;
  mutable CachedAddress peer_{true}, local_{false};
};

}  // namespace

bool HeadAwaitsBody(const std::string& head) {
  return head.starts_with("HTTP/1.1 ") && head.ends_with("\r\n\r\n") &&
         strcasestr(head.c_str(), "\r\nContent-Length:") != nullptr &&
         strcasestr(head.c_str(), "\r\nTransfer-Encoding:") == nullptr;
}

bool ConnectionServer::process_and_close_socket(socket_t sock) {
  bool ret = false;
  {
    ConnectionStream strm(sock, ToMs(read_timeout_sec_, read_timeout_usec_),
                          ToMs(write_timeout_sec_, write_timeout_usec_));
    const milliseconds idle = ToMs(keep_alive_timeout_sec_, 0);
    for (size_t left = keep_alive_max_count_; left > 0; --left) {
      if (!strm.WaitForRequest(idle, svr_sock_)) break;
      bool closed = false;
      strm.BeginResponse();
      ret = process_request(strm, /*close_connection=*/left == 1, closed, nullptr);
      if (!strm.Flush()) ret = false;
      if (!ret || closed) break;
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace ta::http
