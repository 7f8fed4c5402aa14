// HTTP load driver for `tenantatlas serve` (a real server process, API only).
//
//   ta_api_load_bench --backend sqlite|postgres [--starts 100000] [--reads 50000]
//                     [--clients 64] [--tenants 1]
//
// Seeds a fresh database (a user with an API token, operator of `tenants`
// tenants, one policy per start), starts `tenantatlas serve --workers 0`, and
// then, with `clients` keep-alive connections:
//   starts: POST .../policies/{id}/capture, each a distinct new run (202);
//   reads:  GET .../runs/{id} for random runs.
// Reports requests/s, p50/p99/max latency, and the server's RSS when idle and
// after the starts (from /proc). Reports only; it never fails the build.
//
// With --idle N and/or --streams M it measures under held connections: GET
// /healthz and half the starts unloaded, then it opens N keep-alive
// connections (each served one /healthz, then silent) and M event streams of
// other operators of the tenant (their notifications, read and discarded by a
// drain thread), and measures /healthz and the
// other half of the starts again. It reports both, the ratio of the start
// rates, and the server's RSS per idle connection and per stream.
// --serve-flags passes extra flags to serve (the limits a held load needs).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "bench_db.h"
#include "core/credentials.h"
#include "store/accounts.h"

using namespace ta;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

long RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// User + system CPU seconds the process has used so far.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

struct Server {
  pid_t pid = -1;
  int port = 0;
};

Server StartServer(const std::string& binary, const std::string& url,
                   const std::vector<std::string>& extra) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  Server s;
  s.pid = fork();
  if (s.pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    setenv("TA_MASTER_KEY", kKey, 1);
    std::vector<std::string> args = {binary, "serve", "--workers", "0",           "--port",
                                     "0",    "--db",  url,         "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  while (out.find('\n') == std::string::npos) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) {
      std::fprintf(stderr, "serve did not start\n");
      std::exit(1);
    }
    out.append(buf, n);
  }
  s.port = std::stoi(out.substr(out.rfind(':') + 1));
  return s;
}

struct Phase {
  double seconds = 0;
  std::vector<double> ms;
  int64_t errors = 0;
};

// `total` requests over `clients` keep-alive connections, driven by one
// epoll thread (as wrk does), so the driver takes as little of the shared CPU
// as it can: a thread-per-connection client spent about as much CPU per
// request as the server did. `request(i)` returns the raw HTTP/1.1 request.
Phase Drive(int port, int clients, int64_t total,
            const std::function<std::string(int64_t)>& request, int expect_status) {
  struct Conn {
    int fd = -1;
    std::string in;
    SteadyClock::time_point sent;
  };
  std::vector<Conn> conns(clients);
  const int ep = epoll_create1(0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int64_t next = 0, done = 0, errors = 0;
  Phase p;
  p.ms.reserve(total);
  auto send_next = [&](int c) {
    if (next >= total) return;
    const std::string req = request(next++);
    conns[c].sent = SteadyClock::now();
    if (send(conns[c].fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      ++errors;
  };
  const auto t0 = SteadyClock::now();
  for (int c = 0; c < clients; ++c) {
    conns[c].fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(conns[c].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(conns[c].fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::perror("connect");
      std::exit(1);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(c);
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[c].fd, &ev);
    send_next(c);
  }
  std::vector<epoll_event> events(clients);
  char buf[65536];
  while (done < total) {
    const int n = epoll_wait(ep, events.data(), clients, 60'000);
    if (n <= 0) {
      std::fprintf(stderr, "no response for 60 s (%lld of %lld done)\n",
                   static_cast<long long>(done), static_cast<long long>(total));
      std::exit(1);
    }
    for (int e = 0; e < n; ++e) {
      const int c = static_cast<int>(events[e].data.u32);
      Conn& conn = conns[c];
      const ssize_t got = recv(conn.fd, buf, sizeof buf, 0);
      if (got <= 0) {
        std::fprintf(stderr, "server closed a connection\n");
        std::exit(1);
      }
      conn.in.append(buf, got);
      // One response: headers, then Content-Length bytes of body.
      const size_t end = conn.in.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t length = 0;
      const size_t cl = conn.in.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) length = std::stoul(conn.in.substr(cl + 16));
      if (conn.in.size() < end + 4 + length) continue;
      p.ms.push_back(
          std::chrono::duration<double, std::milli>(SteadyClock::now() - conn.sent).count());
      if (std::stoi(conn.in.substr(9, 3)) != expect_status) ++errors;
      conn.in.erase(0, end + 4 + length);
      ++done;
      send_next(c);
    }
  }
  p.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  for (auto& c : conns) close(c.fd);
  close(ep);
  std::sort(p.ms.begin(), p.ms.end());
  p.errors = errors;
  return p;
}

int Connect(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

// Reads until `until` has arrived (blocking); false on close or error.
bool ReadUntil(int fd, const std::string& until, std::string* got = nullptr) {
  std::string in;
  char buf[4096];
  while (in.find(until) == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
  }
  if (got) *got = std::move(in);
  return true;
}

// Connections held open for the loaded phase: idle keep-alives and streams.
struct Held {
  std::vector<int> idle, streams;
  int ep = -1;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> closed{0};  // connections the server closed while held
  std::thread drain;
  std::vector<int> slow;
  std::atomic<int64_t> slow_closed{0};  // slowloris connections the server cut
  std::thread trickle;

  // Slowloris: `n` connections each send one header byte per second, forever
  // (a cut connection is replaced by a new one).
  void OpenSlow(int port, int n) {
    for (int i = 0; i < n; ++i) slow.push_back(Connect(port));
    trickle = std::thread([this, port] {
      const std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      size_t at = 0;
      while (!stop) {
        const char byte = at < head.size() ? head[at] : 'a';
        ++at;
        for (int& fd : slow) {
          char junk[512];
          const bool cut = recv(fd, junk, sizeof junk, MSG_DONTWAIT) >= 0;  // 408 or close
          if (cut || send(fd, &byte, 1, MSG_NOSIGNAL) != 1) {
            ++slow_closed;
            close(fd);
            fd = Connect(port);
          }
        }
        for (int i = 0; i < 10 && !stop; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }

  // Each idle connection is served one /healthz first, so it is a kept-alive
  // connection, not a new one.
  void OpenIdle(int port, int n) {
    const std::string req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < n; ++i) {
      const int fd = Connect(port);
      if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()) ||
          !ReadUntil(fd, "\"ok\"}")) {
        std::fprintf(stderr, "idle connection %d was not served\n", i);
        std::exit(1);
      }
      idle.push_back(fd);
      Watch(fd);
    }
  }
  // Stream i belongs to user i / 20 (the per-user cap is 32), an operator of
  // the tenant the starts go to, and follows that user's notifications.
  void OpenStreams(int port, int n, const std::vector<std::string>& tokens) {
    for (int i = 0; i < n; ++i) {
      const std::string req =
          "GET /api/v1/notifications/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
          "Bearer " +
          tokens[i / 20] + "\r\n\r\n";
      const int fd = Connect(port);
      std::string head;
      if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()) ||
          !ReadUntil(fd, "\r\n\r\n", &head) || head.rfind("HTTP/1.1 200 ", 0) != 0) {
        std::fprintf(stderr, "stream %d was not opened: %s\n", i, head.substr(0, 200).c_str());
        std::exit(1);
      }
      streams.push_back(fd);
      Watch(fd);
    }
  }
  void Watch(int fd) {
    if (ep < 0) {
      ep = epoll_create1(0);
      drain = std::thread([this] { Drain(); });
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  // Reads and discards stream events; counts connections the server closed.
  void Drain() {
    std::vector<epoll_event> events(256);
    char buf[16384];
    while (!stop) {
      const int n = epoll_wait(ep, events.data(), 256, 100);
      for (int i = 0; i < n; ++i) {
        const ssize_t got = recv(events[i].data.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0) {
          ++closed;
          epoll_ctl(ep, EPOLL_CTL_DEL, events[i].data.fd, nullptr);
        }
      }
    }
  }
  ~Held() {
    stop = true;
    if (drain.joinable()) drain.join();
    if (trickle.joinable()) trickle.join();
    for (int fd : slow) close(fd);
    for (int fd : idle) close(fd);
    for (int fd : streams) close(fd);
    if (ep >= 0) close(ep);
  }
};

void Report(const char* what, const std::string& backend, const Phase& p) {
  const auto at = [&](double q) { return p.ms[static_cast<size_t>(q * (p.ms.size() - 1))]; };
  std::printf(
      "%-6s %-8s %8zu requests  %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms  errors "
      "%lld\n",
      what, backend.c_str(), p.ms.size(), p.ms.size() / p.seconds, at(0.5), at(0.99), p.ms.back(),
      static_cast<long long>(p.errors));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTP load driver for tenantatlas serve"};
  std::string backend = "sqlite";
  int64_t starts = 100'000, reads = 50'000;
  int clients = 64, tenants = 1;
  std::string server_binary = TA_BINARY;
  app.add_option("--backend", backend)->check(CLI::IsMember({"sqlite", "postgres"}));
  app.add_option("--starts", starts);
  app.add_option("--reads", reads);
  app.add_option("--clients", clients);
  app.add_option("--tenants", tenants);
  app.add_option("--server", server_binary,
                 "tenantatlas binary to start (to compare two builds in one session)");
  int idle = 0, streams = 0, slowloris = 0;
  int64_t probes = 20'000;
  std::string serve_flags;
  app.add_option("--idle", idle, "Keep-alive connections held open in the loaded phase");
  app.add_option("--streams", streams, "Notification streams held open in the loaded phase");
  app.add_option("--slowloris", slowloris,
                 "Connections sending one header byte per second in the loaded phase");
  app.add_option("--probes", probes, "GET /healthz requests per phase (with --idle/--streams)");
  app.add_option("--serve-flags", serve_flags, "Extra flags for serve, space-separated");
  CLI11_PARSE(app, argc, argv);

  auto fresh = bench::OpenFresh(backend, 4);
  store::Database& db = *fresh->db;
  const std::string token = NewSecret("tat_");
  std::vector<int64_t> tenant_ids;
  std::vector<std::string> stream_tokens;
  Status seeded = db.Write([&](store::Tx& tx) -> Status {
    auto user = store::Accounts::CreateUser(tx, "bench@example.com", "bench", "", false, 0);
    if (!user) return user.error();
    auto tok = store::Accounts::CreateToken(tx, *user, "bench", SecretHash(token), std::nullopt, 0);
    if (!tok) return tok.error();
    for (int t = 0; t < tenants; ++t) {
      auto id = store::Accounts::CreateTenant(tx, "bench-" + std::to_string(t), 0);
      if (!id) return id.error();
      tenant_ids.push_back(*id);
      if (Status s = store::Accounts::SetMember(tx, *id, *user, "operator", 0); !s.ok()) return s;
    }
    // The stream holders: other operators of the first tenant, 20 streams each.
    for (int u = 0; u < (streams + 19) / 20; ++u) {
      auto other = store::Accounts::CreateUser(tx, "watcher" + std::to_string(u) + "@example.com",
                                               "watcher", "", false, 0);
      if (!other) return other.error();
      stream_tokens.push_back(NewSecret("tat_"));
      auto t = store::Accounts::CreateToken(tx, *other, "bench", SecretHash(stream_tokens.back()),
                                            std::nullopt, 0);
      if (!t) return t.error();
      if (Status s = store::Accounts::SetMember(tx, tenant_ids[0], *other, "operator", 0); !s.ok())
        return s;
    }
    return Status::Ok();
  });
  // One policy per start (policy i belongs to tenant i % tenants), so every start is a new run.
  for (int64_t done = 0; seeded.ok() && done < starts;) {
    const int64_t chunk = std::min<int64_t>(10'000, starts - done);
    seeded = db.Write([&](store::Tx& tx) -> Status {
      for (int64_t i = done; i < done + chunk; ++i) {
        auto r = tx.Exec(
            "INSERT INTO policies (id, tenant_id, policy_type, graph_id, display_name, synced_at) "
            "VALUES ($1, $2, 'deviceConfiguration', $3, 'P', 0)",
            {i + 1, tenant_ids[i % tenants], "g-" + std::to_string(i)});
        if (!r) return r.error();
      }
      return Status::Ok();
    });
    done += chunk;
  }
  if (!seeded.ok()) {
    std::fprintf(stderr, "seeding: %s\n", seeded.ToString().c_str());
    return 1;
  }
  fresh->db.reset();  // the server owns the database from here

  std::vector<std::string> extra;
  {
    std::istringstream in(serve_flags);
    for (std::string f; in >> f;) extra.push_back(f);
  }
  // The held connections need fds on both sides; serve inherits the limit.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  const Server server = StartServer(server_binary, fresh->url, extra);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let startup allocations settle
  const long idle_kib = RssKiB(server.pid);
  const double cpu0 = CpuSeconds(server.pid);
  const std::string auth = "Host: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n";
  auto capture = [&](int64_t policy) {
    return "POST /api/v1/tenants/" + std::to_string(tenant_ids[policy % tenants]) + "/policies/" +
           std::to_string(policy + 1) + "/capture HTTP/1.1\r\n" + auth +
           "Content-Length: 0\r\n\r\n";
  };
  if (idle > 0 || streams > 0 || slowloris > 0) {
    const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    auto probe = [&](int64_t) { return healthz; };
    const int64_t half = starts / 2;
    const Phase h0 = Drive(server.port, 8, probes, probe, 200);
    const Phase s0 = Drive(server.port, clients, half, capture, 202);
    const long before_kib = RssKiB(server.pid);
    Held held;
    const auto o0 = SteadyClock::now();
    held.OpenIdle(server.port, idle);
    const auto o1 = SteadyClock::now();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const long idle_held_kib = RssKiB(server.pid);
    held.OpenStreams(server.port, streams, stream_tokens);
    const auto o2 = SteadyClock::now();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const long all_held_kib = RssKiB(server.pid);
    held.OpenSlow(server.port, slowloris);
    std::this_thread::sleep_for(std::chrono::seconds(slowloris > 0 ? 3 : 0));
    const Phase h1 = Drive(server.port, 8, probes, probe, 200);
    const Phase s1 = Drive(
        server.port, clients, starts - half, [&](int64_t i) { return capture(half + i); }, 202);
    const long end_kib = RssKiB(server.pid);
    const int64_t closed = held.closed;
    const int64_t slow_cut = held.slow_closed;
    std::printf(
        "%s, %d clients, %d tenant(s); held: %d idle keep-alive, %d streams, %d slowloris\n",
        backend.c_str(), clients, tenants, idle, streams, slowloris);
    std::printf(
        "open   %-8s %d idle connections served and held in %.2f s, %d streams opened in %.2f s\n",
        backend.c_str(), idle, std::chrono::duration<double>(o1 - o0).count(), streams,
        std::chrono::duration<double>(o2 - o1 - std::chrono::seconds(1)).count());
    Report("health", backend + "/0", h0);
    Report("start", backend + "/0", s0);
    Report("health", backend + "/held", h1);
    Report("start", backend + "/held", s1);
    std::printf(
        "ratio  %-8s starts/s held / unloaded %.2f; held connections closed by the server %lld; "
        "slowloris connections cut %lld\n",
        backend.c_str(), (s1.ms.size() / s1.seconds) / (s0.ms.size() / s0.seconds),
        static_cast<long long>(closed), static_cast<long long>(slow_cut));
    std::printf(
        "rss    %-8s before holding %.1f MiB; +%d idle %.1f MiB (%.2f KB each); +%d streams %.1f "
        "MiB (%.2f KB each); at the end %.1f MiB\n",
        backend.c_str(), before_kib / 1024.0, idle, idle_held_kib / 1024.0,
        idle > 0 ? (idle_held_kib - before_kib) * 1.024 / idle : 0.0, streams,
        all_held_kib / 1024.0, streams > 0 ? (all_held_kib - idle_held_kib) * 1.024 / streams : 0.0,
        end_kib / 1024.0);
    kill(server.pid, SIGTERM);
    int status = 0;
    waitpid(server.pid, &status, 0);
    return 0;
  }
  const Phase start = Drive(server.port, clients, starts, capture, 202);
  const long after_kib = RssKiB(server.pid);
  const double cpu1 = CpuSeconds(server.pid);
  std::mt19937_64 rng(7);
  std::vector<int64_t> picks(reads);
  for (auto& p : picks) p = static_cast<int64_t>(rng() % starts);
  // Run ids follow the start order 1..starts. With several tenants a run's
  // tenant is not known here, so reads are measured in one-tenant runs only.
  if (tenants > 1) reads = 0;
  const Phase read = Drive(
      server.port, clients, reads,
      [&](int64_t i) {
        return "GET /api/v1/tenants/" + std::to_string(tenant_ids[0]) + "/runs/" +
               std::to_string(picks[i] + 1) + " HTTP/1.1\r\n" + auth + "\r\n";
      },
      200);
  const long after_reads_kib = RssKiB(server.pid);
  const double cpu2 = CpuSeconds(server.pid);
  kill(server.pid, SIGTERM);
  int status = 0;
  waitpid(server.pid, &status, 0);

  std::printf("%s, %d clients, %d tenant(s)\n", backend.c_str(), clients, tenants);
  Report("start", backend, start);
  if (reads > 0) Report("detail", backend, read);
  std::printf(
      "cpu    %-8s server CPU per request: start %.0f us, detail %.0f us (the load driver shares "
      "the machine)\n",
      backend.c_str(), (cpu1 - cpu0) * 1e6 / starts, reads > 0 ? (cpu2 - cpu1) * 1e6 / reads : 0.0);
  std::printf("rss    %-8s idle %.1f MiB, after %lld starts %.1f MiB, after reads %.1f MiB\n",
              backend.c_str(), idle_kib / 1024.0, static_cast<long long>(starts),
              after_kib / 1024.0, after_reads_kib / 1024.0);
  return 0;
}
