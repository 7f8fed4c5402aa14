// Soak: a mixed load on real processes (graph-sim, `tenantatlas serve` with an
// in-process worker pool) for TA_SOAK_SECONDS (default 60, what CI runs; the
// 30-minute run is in bench/run and docs/BENCHMARKS.md):
//   - a starter: captures of random policies, every 10th a backup set, every
//     25th a sync, every 40th a restore preview, all real jobs against the
//     simulator;
//   - two readers: runs list, a run, its items, policies, backup sets, me,
//     notifications, healthz;
//   - two followers: a run's event stream to its end, or the notification
//     stream for a few seconds.
// Every 10 s it samples the server's RSS, open fds and threads (from /proc)
// and prints a SOAK-SAMPLE line. It passes only with 0 errors (any answer but
// the expected one, any run that did not succeed), and no growth after
// warm-up (the first fifth, 30 s to 5 minutes): threads are back to the idle
// count once the load ended and fds within 16 of warm-up's most; for runs of
// 10 minutes or more also the most fds and threads in the last quarter stay
// within 16 fds and 8 threads of the most seen in warm-up and the first
// post-warm-up quarter (a backup set runs up to 8 capture threads, each with
// its own pooled Graph connection), and (for runs of 10
// minutes or more) the last quarter's mean RSS is within 10% + 2 MiB of the
// first post-warm-up quarter's (plus what SQLite's bounded page caches grew,
// ta_db_cache_bytes), and its heap in use less those caches
// (ta_heap_in_use_bytes from /metrics) within 10% + 1 MiB: a leak grows the
// heap in use, allocator retention only RSS.
// The heap and RSS are judged in separate runs. By default `serve` runs with
// the production allocator and RSS is judged. TA_SOAK_ALLOCATOR=tcache-off
// starts it with glibc's per-thread cache off
// (GLIBC_TUNABLES=glibc.malloc.tcache_count=0) and judges the heap in use
// instead: with ~80 threads, chunks parked in those caches count as "in use"
// in mallinfo2 and fill slowly over half an hour (about 1.5 MiB, not a leak),
// while without the caches freed memory goes back to the bins and RSS then
// reflects fragmentation that the production allocator does not show.
// TA_SOAK_BACKEND=postgres runs it on a private PostgreSQL cluster.
#include <dirent.h>

#include <atomic>
#include <map>
#include <mutex>
#include <numeric>
#include <random>

#include "support/installation.h"

namespace ta {
namespace {

using namespace ::ta::testing;

struct Sample {
  double t = 0;
  long rss_kib = 0, fds = 0, threads = 0;
  long heap_in_use_kib = -1, heap_free_kib = -1;  // from the server's /metrics
  long db_cache_kib = 0;                          // SQLite's page caches (bounded)
  long heap_own_kib = -1;                         // heap in use less the page caches
  int64_t requests = 0, errors = 0, runs = 0;
};

long ProcField(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  return -1;
}

long OpenFds(pid_t pid) {
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  long n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

// Open fds by kind ("socket 12, db 9, pipe 2, other 4"), to say what grew.
std::string FdKinds(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::map<std::string, int> kinds;
  DIR* d = opendir(dir.c_str());
  if (!d) return "?";
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[512];
    const ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    const std::string t = n > 0 ? std::string(target, n) : "";
    ++kinds[t.rfind("socket:", 0) == 0           ? "socket"
            : t.rfind("pipe:", 0) == 0           ? "pipe"
            : t.find(".db") != std::string::npos ? "db"
            : t.rfind("anon_inode:", 0) == 0     ? t.substr(11)
                                                 : "other"];
  }
  closedir(d);
  std::string out;
  for (const auto& [k, v] : kinds) out += (out.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return out;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

double Mean(const std::vector<Sample>& s, long Sample::*field, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += static_cast<double>(s[i].*field);
  return to > from ? sum / static_cast<double>(to - from) : 0;
}

// One gauge's value from Prometheus text, in KiB (-1 when absent).
long GaugeKiB(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return static_cast<long>(std::stod(text.substr(at + name.size() + 2)) / 1024);
}

class Soak : public ::ta::testing::TempDirTest {};

TEST_F(Soak, MixedLoadHasNoErrorsAndNoGrowth) {
  const int seconds = EnvInt("TA_SOAK_SECONDS", 60);
  const bool postgres = std::string(std::getenv("TA_SOAK_BACKEND") ? std::getenv("TA_SOAK_BACKEND")
                                                                   : "") == "postgres";
  PgCluster pg;
  std::string db = dir_ + "/ta.db";
  if (postgres) {
    ASSERT_TRUE(pg.Start());
    db = pg.url;
  }
  constexpr int kPolicies = 40;
  Installation ta(dir_, db, kPolicies, 5);
  const bool judge_growth = seconds >= 600;
  const char* allocator = std::getenv("TA_SOAK_ALLOCATOR");
  const bool tcache_off = allocator && std::string(allocator) == "tcache-off";
  ta.StartServe(1, {"--log-level", "warn"},
                tcache_off ? std::vector<std::string>{"GLIBC_TUNABLES=glibc.malloc.tcache_count=0"}
                           : std::vector<std::string>{});
  const int64_t first_sync = ta.Start("/policies/sync");
  ASSERT_EQ(ta.AwaitEnd(first_sync, std::chrono::seconds(60))["status"], "succeeded");
  const int64_t first_set = ta.Start("/backup-sets", R"({"name":"Baseline"})");
  ASSERT_EQ(ta.AwaitEnd(first_set, std::chrono::seconds(60))["status"], "succeeded");
  const pid_t server = ta.serve().pid;

  std::atomic<bool> stop{false};
  std::atomic<int64_t> requests{0}, errors{0};
  std::mutex mu;
  std::vector<int64_t> started;  // every run the starter started (new or reused)
  std::vector<std::string> error_log;
  const httplib::Headers auth = {{"Authorization", "Bearer " + ta.token()}};
  auto client = [&] {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", ta.port());
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(60, 0);
    c->set_keep_alive(true);
    return c;
  };
  auto failed = [&](const std::string& what) {
    ++errors;
    std::lock_guard lock(mu);
    if (error_log.size() < 20) error_log.push_back(what);
  };
  // One request; anything but `expect` (200 or 202 for starts) is an error.
  auto call = [&](httplib::Client& c, const std::string& method, const std::string& path,
                  const std::string& body = "") -> std::optional<json> {
    ++requests;
    auto r = method == "POST" ? c.Post(path.c_str(), auth, body, "application/json")
                              : c.Get(path.c_str(), auth);
    if (!r) {
      failed(method + " " + path + ": no answer (" + httplib::to_string(r.error()) + ")");
      return std::nullopt;
    }
    if (r->status != 200 && r->status != 202) {
      failed(method + " " + path + ": " + std::to_string(r->status) + " " + r->body.substr(0, 200));
      return std::nullopt;
    }
    return json::parse(r->body, nullptr, false);
  };
  const std::string t = "/api/v1/tenants/1";

  std::vector<std::thread> load;
  load.emplace_back([&] {  // the starter
    auto c = client();
    std::mt19937 rng(1);
    for (int i = 1; !stop; ++i) {
      std::optional<json> r;
      if (i % 40 == 0) {
        r = call(*c, "POST", t + "/restores/preview", json{{"backup_set_id", 1}}.dump());
      } else if (i % 25 == 0) {
        r = call(*c, "POST", t + "/policies/sync");
      } else if (i % 10 == 0) {
        r = call(*c, "POST", t + "/backup-sets",
                 json{{"name", "Soak " + std::to_string(i)}}.dump());
      } else {
        r = call(*c, "POST", t + "/policies/" + std::to_string(1 + rng() % kPolicies) + "/capture");
      }
      if (r && r->is_object() && r->contains("run")) {
        std::lock_guard lock(mu);
        started.push_back((*r)["run"]["id"].get<int64_t>());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the load's pace
    }
  });
  for (int reader = 0; reader < 2; ++reader)
    load.emplace_back([&, reader] {
      auto c = client();
      std::mt19937 rng(10 + reader);
      while (!stop) {
        int64_t run = first_set;
        {
          std::lock_guard lock(mu);
          if (!started.empty()) run = started[rng() % started.size()];
        }
        const std::string id = std::to_string(run);
        for (const std::string& path :
             {t + "/runs?limit=50", t + "/runs/" + id, t + "/runs/" + id + "/items?limit=50",
              t + "/policies?limit=50", t + "/backup-sets", std::string("/api/v1/me"),
              std::string("/api/v1/notifications?limit=20"), std::string("/healthz")})
          call(*c, "GET", path);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the load's pace
      }
    });
  for (int follower = 0; follower < 2; ++follower)
    load.emplace_back([&, follower] {
      int n = 0;
      while (!stop) {
        httplib::Client c("127.0.0.1", ta.port());
        c.set_read_timeout(120, 0);
        std::string got;
        const auto opened = SteadyClock::now();
        std::string path = "/api/v1/notifications/stream";
        if ((follower + n++) % 2 == 0) {
          std::lock_guard lock(mu);
          if (!started.empty()) path = t + "/runs/" + std::to_string(started.back()) + "/events";
        }
        ++requests;
        const bool notifications = path.find("notifications") != std::string::npos;
        auto r = c.Get(path.c_str(), auth, [&](const char* d, size_t len) {
          got.append(d, len);
          // The notification stream never ends by itself: leave after 5 s.
          return !stop && !(notifications && SteadyClock::now() - opened > std::chrono::seconds(5));
        });
        const bool left_on_purpose = r.error() == httplib::Error::Canceled;
        if (!left_on_purpose && (!r || r->status != 200))
          failed("GET " + path + ": " +
                 (r ? std::to_string(r->status) : httplib::to_string(r.error())));
        else if (!notifications && !left_on_purpose && got.find("event: end") == std::string::npos)
          failed("GET " + path + ": the stream closed before the run's end event");
      }
    });

  // Sample every 10 s.
  std::vector<Sample> samples;
  const auto t0 = SteadyClock::now();
  auto sample = [&] {
    Sample s;
    s.t = Seconds(SteadyClock::now() - t0);
    s.rss_kib = ProcField(server, "VmRSS");
    s.fds = OpenFds(server);
    s.threads = ProcField(server, "Threads");
    {
      httplib::Client m("127.0.0.1", ta.port());
      m.set_read_timeout(30, 0);
      auto r = m.Get("/metrics", auth);
      if (r && r->status == 200) {
        s.heap_in_use_kib = GaugeKiB(r->body, "ta_heap_in_use_bytes");
        s.heap_free_kib = GaugeKiB(r->body, "ta_heap_free_bytes");
        s.db_cache_kib = std::max(0L, GaugeKiB(r->body, "ta_db_cache_bytes"));
        if (s.heap_in_use_kib >= 0) s.heap_own_kib = s.heap_in_use_kib - s.db_cache_kib;
      }
    }
    s.requests = requests;
    s.errors = errors;
    {
      std::lock_guard lock(mu);
      s.runs = static_cast<int64_t>(started.size());
    }
    samples.push_back(s);
    std::printf(
        "SOAK-SAMPLE|%s|t %.0f s|rss %ld KiB|heap in use %ld KiB (page caches %ld), free %ld KiB|"
        "fds %ld (%s)|"
        "threads %ld|requests %lld|starts %lld|errors %lld\n",
        postgres ? "postgres" : "sqlite", s.t, s.rss_kib, s.heap_in_use_kib, s.db_cache_kib,
        s.heap_free_kib, s.fds, FdKinds(server).c_str(), s.threads,
        static_cast<long long>(s.requests), static_cast<long long>(s.runs),
        static_cast<long long>(s.errors));
    std::fflush(stdout);
  };
  sample();
  while (Seconds(SteadyClock::now() - t0) < seconds) {
    std::this_thread::sleep_for(std::chrono::seconds(10));  // the sampling period
    sample();
  }
  stop = true;
  for (auto& th : load) th.join();

  // Every run the load started ends, and succeeds.
  std::sort(started.begin(), started.end());
  started.erase(std::unique(started.begin(), started.end()), started.end());
  int64_t not_succeeded = 0;
  for (int64_t id : started) {
    const json run = ta.AwaitEnd(id, std::chrono::seconds(120));
    if (run.value("status", std::string()) != "succeeded") {
      ++not_succeeded;
      if (not_succeeded <= 5) ADD_FAILURE() << "run " << id << ": " << run.dump();
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let closed connections be reaped
  sample();
  std::string audit;
  EXPECT_EQ(ta.AuditVerify(&audit), 0) << audit;

  // Warm-up: the first fifth, at least 30 s and at most 5 minutes. Pools that
  // fill on demand (database connections, Graph handles, threads) fill there.
  const size_t loaded = samples.size() - 1;  // samples taken under load; the last is after it
  const size_t warm = std::clamp<size_t>(loaded / 5, 3, 30);
  const size_t quarter = std::max<size_t>((loaded - warm) / 4, 1);
  auto max_of = [&](long Sample::*field, size_t from, size_t to) {
    long m = 0;
    for (size_t i = from; i < to && i < samples.size(); ++i) m = std::max(m, samples[i].*field);
    return m;
  };
  // Early: warm-up plus the first post-warm-up quarter. Late: the last quarter
  // under load plus the sample after the load ended.
  const long early_fds = max_of(&Sample::fds, 0, warm + quarter);
  const long late_fds = max_of(&Sample::fds, samples.size() - 1 - quarter, samples.size());
  const long early_threads = max_of(&Sample::threads, 0, warm + quarter);
  const long late_threads = max_of(&Sample::threads, samples.size() - 1 - quarter, samples.size());
  const double early = Mean(samples, &Sample::rss_kib, warm, warm + quarter);
  const double late = Mean(samples, &Sample::rss_kib, loaded - quarter, loaded);
  // The heap in use less SQLite's page caches: those fill as the database
  // grows, up to cache_size per connection, by design.
  const double heap_early = Mean(samples, &Sample::heap_own_kib, warm, warm + quarter);
  const double heap_late = Mean(samples, &Sample::heap_own_kib, loaded - quarter, loaded);
  const double cache_growth = Mean(samples, &Sample::db_cache_kib, loaded - quarter, loaded) -
                              Mean(samples, &Sample::db_cache_kib, warm, warm + quarter);
  std::printf(
      "SOAK-RESULT|%s|%s|%d s|requests %lld|runs %zu|errors %lld|runs not succeeded %lld|rss mean "
      "after warm-up %.0f KiB, last quarter %.0f KiB (%+.1f%%)|heap in use less page caches "
      "%.0f KiB, last quarter %.0f KiB (%+.1f%%)|page caches grew %.0f KiB|fds max early %ld, "
      "late %ld|threads max early %ld, late %ld\n",
      postgres ? "postgres" : "sqlite", tcache_off ? "tcache off" : "production allocator", seconds,
      static_cast<long long>(requests.load()),
      started.size(), static_cast<long long>(errors.load()), static_cast<long long>(not_succeeded),
      early, late, early > 0 ? 100.0 * (late - early) / early : 0.0, heap_early, heap_late,
      heap_early > 0 ? 100.0 * (heap_late - heap_early) / heap_early : 0.0, cache_growth, early_fds,
      late_fds, early_threads, late_threads);
  for (const auto& e : error_log) std::printf("SOAK-ERROR|%s\n", e.c_str());
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(not_succeeded, 0);
  EXPECT_GT(started.size(), static_cast<size_t>(seconds / 2)) << "the load did not run";
  // Once the load has ended and every run with it, the server is back to its
  // idle thread count, and holds no more fds than it did in warm-up (plus the
  // Graph connections its pool keeps, at most one per capture thread).
  EXPECT_LE(samples.back().threads, samples.front().threads)
      << "threads left over once the load ended";
  EXPECT_LE(samples.back().fds, early_fds + 16) << "open fds left over once the load ended";
  if (judge_growth) {
    // Long enough for warm-up to have seen every peak (a backup set runs up
    // to 8 capture threads, each with its own pooled Graph connection).
    EXPECT_LE(late_fds, early_fds + 16) << "open fds grew after warm-up";
    EXPECT_LE(late_threads, early_threads + 8) << "threads grew after warm-up";
    if (!tcache_off)
      EXPECT_LE(late, early * 1.10 + 2048 + std::max(0.0, cache_growth))
          << "RSS grew after warm-up (beyond the page caches' growth)";
    else
      EXPECT_LE(heap_late, heap_early * 1.10 + 1024) << "heap in use grew after warm-up";
  }
}

}  // namespace
}  // namespace ta
