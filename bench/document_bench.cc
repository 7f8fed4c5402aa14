// Documentation export of a large backup set: builds a SQLite database with
// a real backup of N synthetic objects spread over every catalog type
// (graph-sim in process, throttling off: the backup is not what is measured),
// then runs `tenantatlas document` once per format as a child process and
// reports its wall time, the document's size and the child's peak RSS
// (wait4). Run with two sizes to see that memory does not grow with the set:
//
//   ta_document_bench --objects 5000 --objects 500
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/secret_box.h"
#include "graph/curl_transport.h"
#include "ops/ops_stack.h"
#include "sim.h"

using namespace ta;

namespace {

// Builds the database; returns the backup set's tenant and id (0 on failure).
std::pair<int64_t, int64_t> Build(const std::string& db_path, int objects) {
  sim::SimConfig sc;
  sc.throttle_enabled = false;
  sc.page_size = 999;
  sim::GraphSim sim(sc);
  sim.AddTenant("t1", {{"app", "s3cret-Qx8"}});
  sim.Seed("t1", "groups", {{{"id", "g-1"}, {"displayName", "All Windows Devices"}}});
  sim.GeneratePolicies("t1", objects);
  if (sim.Start() < 0) return {0, 0};
  auto db = store::OpenDatabase(db_path);
  if (!db) return {0, 0};
  auto box = *SecretBox::FromBase64Key(SecretBox::GenerateKeyBase64());
  Redactor redactor;
  auto transport = graph::MakeCurlTransport();
  ops::OpsStackOptions options;
  options.graph.authority_base = options.graph.graph_base = sim.base_url();
  ops::OpsStack stack(**db, box, *transport, redactor, SystemClock::Instance(), options);
  const int64_t tenant = *store::WriteResult<int64_t>(**db, [](store::Tx& tx) -> Result<int64_t> {
    auto r = tx.Query("INSERT INTO tenants (name, created_at) VALUES ('Contoso', 0) RETURNING id");
    if (!r) return Unexpected(r.error());
    return r->front().Int(0);
  });
  if (!ops::SetTenantCredentials(**db, box, tenant, "t1", "app", "s3cret-Qx8").ok()) return {0, 0};
  if (!ops::StartInventorySync(stack.runs(), tenant, std::nullopt)) return {0, 0};
  while (stack.pool().RunOnce().value_or(0) > 0) {
  }
  auto run = ops::StartBackupSet(stack.runs(), **db, tenant, "Nightly", std::nullopt, std::nullopt);
  if (!run) return {0, 0};
  while (stack.pool().RunOnce().value_or(0) > 0) {
  }
  auto set = store::ReadResult<int64_t>(**db, [&](store::Tx& tx) -> Result<int64_t> {
    auto r = tx.Query("SELECT id FROM backup_sets WHERE run_id = $1", {run->run.id});
    if (!r || r->empty()) return Unexpected(Status::NotFound("backup set"));
    return r->front().Int(0);
  });
  return {tenant, set.value_or(0)};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  CLI::App app{"documentation export benchmark"};
  app.add_option("--objects", sizes, "backup set sizes (repeatable)")->default_val(5000);
  CLI11_PARSE(app, argc, argv);
  if (sizes.empty()) sizes = {5000};
  const std::string binary =
      std::filesystem::path(argv[0]).parent_path().parent_path() / "tenantatlas";
  for (int objects : sizes) {
    char tmpl[] = "/tmp/ta-document-bench-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const std::string db_path = dir + "/bench.db";
    const auto t0 = std::chrono::steady_clock::now();
    // Built in a child process, so that this one stays small: a child's
    // peak RSS starts from its parent's at fork, and the export's own is
    // what is measured.
    int fds[2];
    if (pipe(fds) != 0) return 1;
    const pid_t builder = fork();
    if (builder == 0) {
      const auto ids = Build(db_path, objects);
      const int64_t both[2] = {ids.first, ids.second};
      _exit(write(fds[1], both, sizeof both) == sizeof both && ids.second ? 0 : 1);
    }
    int64_t ids[2] = {0, 0};
    const bool got = read(fds[0], ids, sizeof ids) == sizeof ids;
    int build_status = 0;
    waitpid(builder, &build_status, 0);
    close(fds[0]);
    close(fds[1]);
    const int64_t tenant = ids[0], set = ids[1];
    if (!got || !set || build_status != 0) {
      std::fprintf(stderr, "building the backup set failed\n");
      return 1;
    }
    const double build_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%d objects backed up in %.1f s (setup, not measured)\n", objects, build_s);
    rusage self{};
    getrusage(RUSAGE_SELF, &self);
    std::printf("  (this process, which starts each export: peak RSS %.1f MiB)\n",
                static_cast<double>(self.ru_maxrss) / 1024.0);
    for (const char* format : {"md", "html", "csv"}) {
      const std::string out = dir + "/doc." + format;
      const auto start = std::chrono::steady_clock::now();
      const pid_t pid = fork();
      if (pid == 0) {
        execl(binary.c_str(), binary.c_str(), "document", "--db", db_path.c_str(), "--tenant",
              std::to_string(tenant).c_str(), "--backup-set", std::to_string(set).c_str(),
              "--format", format, "--out", out.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      int status = 0;
      rusage ru{};
      wait4(pid, &status, 0, &ru);
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "tenantatlas document failed (status %d)\n", status);
        return 1;
      }
      std::printf("  %-4s %5d objects: %.2f s, document %.1f MiB, peak RSS of the export %.1f MiB\n",
                  format, objects, wall,
                  static_cast<double>(std::filesystem::file_size(out)) / (1024.0 * 1024.0),
                  static_cast<double>(ru.ru_maxrss) / 1024.0);
    }
    std::filesystem::remove_all(dir);
  }
  return 0;
}
