// Liveness, readiness and Prometheus metrics.
#include <dirent.h>
#include <malloc.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "api/routes.h"

namespace ta::api::handlers {
namespace {

// The process's own gauges: resident memory, open fds and threads (from
// /proc), and the heap split into what is in use and what the allocator holds
// free. Together they tell a leak (in use grows) from retention (free grows).
std::string ProcessGauges(const store::Database& db) {
  long rss_pages = 0, threads = 0;
  {
    std::ifstream statm("/proc/self/statm");
    long size = 0;
    statm >> size >> rss_pages;
  }
  {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("Threads:", 0) == 0) threads = std::stol(line.substr(8));
  }
  long fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++fds;
    closedir(d);
    --fds;  // the directory's own
  }
  const struct mallinfo2 heap = mallinfo2();
  auto gauge = [](const char* name, const char* help, double v) {
    return GaugeText(name, help, static_cast<int64_t>(v));
  };
  return gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
               static_cast<double>(rss_pages) * static_cast<double>(sysconf(_SC_PAGESIZE))) +
         gauge("process_open_fds", "Open file descriptors.", static_cast<double>(fds)) +
         gauge("process_threads", "Threads of the process.", static_cast<double>(threads)) +
         gauge("ta_heap_in_use_bytes", "Heap bytes allocated and not freed (malloc).",
               static_cast<double>(heap.uordblks + heap.hblkhd)) +
         gauge("ta_heap_free_bytes", "Heap bytes freed but still held by the allocator.",
               static_cast<double>(heap.fordblks)) +
         (db.CacheBytes() ? gauge("ta_db_cache_bytes",
                                  "Heap bytes of the database page caches in this process "
                                  "(SQLite; bounded by cache_size per connection).",
                                  static_cast<double>(*db.CacheBytes()))
                          : std::string());
}

}  // namespace

Result<Response> Healthz(ApiContext&, Request&) { return Response::Json(200, {{"status", "ok"}}); }

Result<Response> Readyz(ApiContext& ctx, Request&) {
  Status db = ctx.db.Ping();
  // A full disk still reads fine: the database also reports its last write.
  if (db.ok()) db = ctx.db.WriteHealth();
  if (!db.ok()) ctx.log.Error("readiness: database fault", {{"error", db.ToString()}});
  const bool workers = !ctx.ready || ctx.ready();
  const bool ok = db.ok() && workers && !ctx.stopping;
  const char* database = db.ok()                                   ? "ok"
                         : db.code() == Status::Code::kStorageFull ? "full"
                                                                   : "unavailable";
  Response r = Response::Json(ok ? 200 : 503, {{"status", ok ? "ready" : "not ready"},
                                               {"database", database},
                                               {"workers", workers ? "ok" : "not started"},
                                               {"stopping", ctx.stopping.load()}});
  if (!ok) r.headers.emplace_back("Retry-After", "5");
  return r;
}

Result<Response> MetricsText(ApiContext& ctx, Request&) {
  std::string out;
  Status s = ctx.db.Read([&](store::Tx& tx) -> Status {
    auto runs = store::RunsRepository::CountByTypeAndStatus(tx);
    if (!runs) return runs.error();
    out += "# HELP ta_runs Runs by type and status.\n# TYPE ta_runs gauge\n";
    for (const auto& c : *runs)
      out += "ta_runs" + RenderLabels({{"type", c.type}, {"status", c.status}}) + " " +
             std::to_string(c.count) + "\n";
    auto depth = jobs::JobQueue::CurrentDepth(tx);
    if (!depth) return depth.error();
    out += "# HELP ta_queue_depth Jobs waiting or running.\n# TYPE ta_queue_depth gauge\n";
    out += "ta_queue_depth{state=\"queued\"} " + std::to_string(depth->queued) + "\n";
    out += "ta_queue_depth{state=\"running\"} " + std::to_string(depth->running) + "\n";
    return Status::Ok();
  });
  if (!s.ok()) return Unexpected(s);
  out += ctx.metrics.Render();
  out += ProcessGauges(ctx.db);
  if (ctx.connection_metrics) out += ctx.connection_metrics();
  if (ctx.extra_metrics) out += ctx.extra_metrics();
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace ta::api::handlers
