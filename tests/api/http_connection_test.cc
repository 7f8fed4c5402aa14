// The server's connection loop (api/http_connection.h) over raw sockets:
// keep-alive and pipelining, one segment per small response, event-stream
// heads sent at once, slow clients, closed connections freeing their thread,
// and a prompt stop with idle keep-alive connections open.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "api_env.h"
#include "http/event_server.h"

namespace ta::api {
namespace {

using Clock = std::chrono::steady_clock;
using ::ta::testing::TestBackend;

// A plain TCP client: what it sends is exactly what the test wrote.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // One recv() with a deadline: what a single read returns. Empty on timeout or close.
  std::string ReadOnce(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[64 * 1024];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  // The next complete response with a Content-Length body ("" on timeout or close).
  std::string ReadResponse() {
    while (true) {
      const size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t at = pending_.find("Content-Length: ");
        if (at != std::string::npos && at < head_end) {
          const size_t total = head_end + 4 + std::stoul(pending_.substr(at + 16));
          if (pending_.size() >= total) {
            std::string one = pending_.substr(0, total);
            pending_.erase(0, total);
            return one;
          }
        }
      }
      std::string more = ReadOnce();
      if (more.empty()) return "";
      pending_ += more;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::string Get(const std::string& path, const std::string& token = "") {
  std::string r = "GET " + path + " HTTP/1.1\r\nHost: t\r\n";
  if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
  return r + "\r\n";
}

std::string Post(const std::string& path, const std::string& token, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

struct Env {
  std::unique_ptr<ApiEnv> api;
  int64_t tenant = 0;
  Who op;
};

Env Open() {
  Env e;
  auto t = ::ta::testing::TestDatabase::Create(TestBackend::kSqlite);
  if (!t) return e;
  e.api = std::make_unique<ApiEnv>(std::move(t));
  e.tenant = ::ta::testing::MakeTenant(e.api->db(), "A");
  e.op = e.api->AddUser("op@example.com");
  e.api->Member(e.op, e.tenant, "operator");
  ::ta::testing::MustExec(e.api->db(),
                          "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, "
                          "synced_at) VALUES ($1, 'deviceConfiguration', 'g-1', 'P', 0)",
                          {e.tenant});
  return e;
}

// A server with one operator and policy 1 of tenant A, and one connection to it.
class HttpConnection : public ::testing::Test {
 protected:
  void SetUp() override {
    e = Open();
    ASSERT_TRUE(e.api);
    client = std::make_unique<RawClient>(e.api->port());
    ASSERT_TRUE(client->connected());
  }
  Env e;
  std::unique_ptr<RawClient> client;
};

TEST_F(HttpConnection, KeepAliveServesPipelinedRequestsInOrder) {
  RawClient& c = *client;
  ASSERT_TRUE(c.Send(Get("/healthz")));
  const std::string first = c.ReadResponse();
  EXPECT_TRUE(first.starts_with("HTTP/1.1 200 ")) << first;
  // Two requests in one write, on the same connection: answered in order.
  const std::string capture = "/api/v1/tenants/" + std::to_string(e.tenant) + "/policies/1/capture";
  ASSERT_TRUE(c.Send(Post(capture, e.op.token, "{}") + Get("/api/v1/me", e.op.token)));
  const std::string started = c.ReadResponse();
  const std::string me = c.ReadResponse();
  EXPECT_TRUE(started.starts_with("HTTP/1.1 202 ")) << started;
  EXPECT_NE(started.find("\"reused\":false"), std::string::npos) << started;
  EXPECT_TRUE(me.starts_with("HTTP/1.1 200 ")) << me;
  EXPECT_NE(me.find("op@example.com"), std::string::npos) << me;
}

TEST_F(HttpConnection, ASmallResponseIsOneSegment) {
  RawClient& c = *client;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.Send(Get("/api/v1/me", e.op.token)));
    // Head and body were sent together, so the first read holds all of it.
    const std::string got = c.ReadOnce();
    const size_t head_end = got.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos) << got;
    const size_t at = got.find("Content-Length: ");
    ASSERT_NE(at, std::string::npos) << got;
    EXPECT_EQ(got.size(), head_end + 4 + std::stoul(got.substr(at + 16))) << got;
  }
}

TEST(HttpHead, OnlyAFixedLengthHeadWaitsForItsBody) {
  EXPECT_TRUE(http::HeadAwaitsBody("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"));
  EXPECT_TRUE(http::HeadAwaitsBody("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"));
  EXPECT_FALSE(http::HeadAwaitsBody(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_FALSE(http::HeadAwaitsBody("HTTP/1.1 100 Continue\r\n\r\n"));
  EXPECT_FALSE(
      http::HeadAwaitsBody("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"));  // not a whole head
  EXPECT_FALSE(http::HeadAwaitsBody("0\r\n\r\n"));                         // a chunk, not a head
}

TEST_F(HttpConnection, AnEventStreamIsChunkedAndStartsAtOnce) {
  RawClient& c = *client;
  ASSERT_TRUE(c.Send(Get("/api/v1/notifications/stream", e.op.token)));
  const std::string head = c.ReadOnce(std::chrono::seconds(5));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 ")) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
}

TEST_F(HttpConnection, ARequestArrivingInPiecesIsServed) {
  RawClient& c = *client;
  const std::string request =
      Post("/api/v1/tenants/" + std::to_string(e.tenant) + "/policies/1/capture", e.op.token, "{}");
  for (size_t at = 0; at < request.size(); at += 40) {
    ASSERT_TRUE(c.Send(request.substr(at, 40)));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  const std::string reply = c.ReadResponse();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 202 ")) << reply;
}

TEST_F(HttpConnection, ClosedConnectionsFreeTheirThreads) {
  // Three times as many connections as the server has threads, one after
  // another: each must be served, so each closed one gave its thread back.
  for (int i = 0; i < 3 * ServerOptions{}.limits.threads; ++i) {
    RawClient c(e.api->port());
    ASSERT_TRUE(c.connected()) << i;
    ASSERT_TRUE(c.Send(Get("/healthz")));
    ASSERT_TRUE(c.ReadResponse().starts_with("HTTP/1.1 200 ")) << i;
  }
}

TEST_F(HttpConnection, StopDoesNotWaitForIdleKeepAliveConnections) {
  RawClient& used = *client;
  ASSERT_TRUE(used.Send(Get("/healthz")));
  ASSERT_TRUE(used.ReadResponse().starts_with("HTTP/1.1 200 "));
  RawClient silent(e.api->port());  // connected, never sends a byte
  ASSERT_TRUE(silent.connected());
  // Both connections would stay open for the 30 s keep-alive timeout.
  const auto t0 = Clock::now();
  e.api.reset();  // Server::Stop() and join
  const auto took = Clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(5))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(used.ReadOnce(std::chrono::seconds(2)), "");  // closed by the server
}

}  // namespace
}  // namespace ta::api
