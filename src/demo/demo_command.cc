#include "demo/demo_command.h"

#include "demo/demo_world.h"

#include <filesystem>
#include <iomanip>
#include <ostream>

#include "core/secret_box.h"
#include "graph/curl_transport.h"
#include "ops/ops_stack.h"
#include "sim.h"
#include "store/accounts.h"
#include "store/audit_log.h"
#include "store/backup_sets.h"
#include "store/notifications.h"
#include "tenancy/tenancy.h"

namespace ta::demo {

using nlohmann::json;

namespace {

struct Demo {
  std::ostream& out;
  store::Database& db;
  runs::RunService& runs;
  jobs::WorkerPool& pool;

  void Drain() {
    while (pool.RunOnce().value_or(0) > 0) {
    }
  }
  store::RunRecord Get(int64_t tenant, int64_t id) {
    return *store::ReadResult<store::RunRecord>(
        db, [&](store::Tx& tx) { return store::RunsRepository::Get(tx, tenant, id); });
  }
  std::vector<store::RunItem> Items(int64_t tenant, int64_t id) {
    return *store::ReadResult<std::vector<store::RunItem>>(
        db, [&](store::Tx& tx) { return store::RunsRepository::Items(tx, tenant, id); });
  }
  void Summary(const char* step, int64_t tenant, const Result<runs::StartResult>& started) {
    if (!started) {
      out << step << " failed to start: " << started.error().ToString() << "\n";
      return;
    }
    const auto r = Get(tenant, started->run.id);
    std::map<std::string, int> counts;
    for (const auto& i : Items(tenant, r.id)) counts[i.status]++;
    out << step << " run #" << r.id << " " << store::ToString(r.status) << ": ";
    bool first = true;
    for (const auto& [status, n] : counts) {
      out << (first ? "" : ", ") << n << " " << status;
      first = false;
    }
    out << "\n";
  }
};

}  // namespace

int RunDemoCommand(const std::string& db_path, int policies, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  std::filesystem::remove(db_path, ec);
  std::filesystem::remove(db_path + "-wal", ec);
  std::filesystem::remove(db_path + "-shm", ec);
  auto db = store::OpenDatabase(db_path);
  if (!db) {
    err << "error: " << db.error().ToString() << "\n";
    return 2;
  }
  sim::GraphSim sim;
  SeedDemoWorld(sim, policies);
  if (sim.Start() < 0) {
    err << "error: the Graph simulator could not bind a loopback port\n";
    return 1;
  }

  auto box = *SecretBox::FromBase64Key(SecretBox::GenerateKeyBase64());
  Redactor redactor;
  auto transport = graph::MakeCurlTransport();
  ops::OpsStackOptions options;
  options.graph.authority_base = options.graph.graph_base = sim.base_url();
  ops::OpsStack stack(**db, box, *transport, redactor, SystemClock::Instance(), options);
  runs::RunService& runs = stack.runs();
  jobs::WorkerPool& pool = stack.pool();

  // An engineer who operates both demo tenants.
  auto engineer = store::WriteResult<int64_t>(**db, [&](store::Tx& tx) {
    return tenancy::CreateUser(tx, {std::nullopt, "demo", 0}, "engineer@msp.example",
                               "MSP engineer", "", false);
  });
  if (!engineer) {
    err << "error: " << engineer.error().ToString() << "\n";
    return 1;
  }
  const int64_t user = *engineer;
  auto tenants = EnsureDemoTenants(**db, box, user, "operator");
  if (!tenants) {
    err << "error: " << tenants.error().ToString() << "\n";
    return 1;
  }
  const int64_t contoso = tenants->first, fabrikam = tenants->second;

  out << "TenantAtlas demo: two customer tenants on the built-in Graph simulator ("
      << sim.base_url() << "), database " << db_path << " (SQLite, synchronous=FULL)\n\n";
  Demo demo{out, **db, runs, pool};
  auto sync_a = ops::StartInventorySync(runs, contoso, user);
  auto sync_b = ops::StartInventorySync(runs, fabrikam, user);
  demo.Drain();
  demo.Summary("1. inventory.sync Contoso  ", contoso, sync_a);
  demo.Summary("   inventory.sync Fabrikam ", fabrikam, sync_b);
  auto backup = ops::StartBackupSet(runs, **db, contoso, "Contoso baseline", std::nullopt, user);
  demo.Drain();
  demo.Summary("2. backup_set.create       ", contoso, backup);
  auto sets = store::ReadResult<std::vector<store::BackupSetRecord>>(
      **db, [&](store::Tx& tx) { return store::BackupSets::List(tx, contoso, std::nullopt, 1); });
  if (!sets || sets->empty()) {
    err << "error: the backup set was not created\n";
    return 1;
  }
  const int64_t set_id = sets->front().id;

  auto suggestions = ops::SuggestMapping(**db, contoso, fabrikam, set_id);
  std::map<std::string, std::string> mapping;
  out << "3. reference mapping for Contoso -> Fabrikam (suggested by display name; confirmed here "
         "by the demo):\n";
  for (const auto& s : *suggestions) {
    out << "     " << s["kind"].get<std::string>() << " " << s["source_name"].get<std::string>()
        << " (" << s["source_id"].get<std::string>() << ") -> "
        << (s["target_id"].is_null() ? std::string("(no match)")
                                     : s["target_id"].get<std::string>())
        << (s["suggested"].get<bool>() ? "  [suggested]" : "") << "\n";
    if (!s["target_id"].is_null()) mapping[s["source_id"]] = s["target_id"];
  }
  ops::RestoreRequest req{user, contoso, fabrikam, set_id, std::nullopt, mapping};
  sim.ClearRequests();
  auto preview = ops::StartRestore(runs, **db, req, false);
  demo.Drain();
  int64_t writes = 0;
  for (const auto& r : sim.Requests())
    if (r["method"] != "GET" && r["path"].get<std::string>().find("oauth2") == std::string::npos)
      ++writes;
  demo.Summary("4. restore.preview         ", fabrikam, preview);
  out << "   Graph writes made by the preview: " << writes << "\n";
  auto execute = ops::StartRestore(runs, **db, req, true);
  auto again = ops::StartRestore(runs, **db, req, true);  // a double click
  out << "5. restore.execute started as run #" << execute->run.id << "; the same request again "
      << (again->reused ? "reused run #" + std::to_string(again->run.id)
                        : std::string("created a new run"))
      << "\n";
  demo.Drain();
  demo.Summary("   restore.execute         ", fabrikam, execute);

  out << "\n   item        type                      outcome    name\n";
  for (const auto& i : demo.Items(fabrikam, execute->run.id)) {
    const json d = i.details ? json::parse(*i.details, nullptr, false) : json();
    out << "   " << std::left << std::setw(11) << i.item_ref << " " << std::setw(27)
        << (d.is_object() ? d.value("type", "") : "") << " " << std::setw(10) << i.status << " "
        << (d.is_object() ? d.value("name", "") : "")
        << (i.error_message ? "  (" + *i.error_message + ")" : "") << "\n";
  }
  auto audit = store::AuditLog::Verify(**db);
  out << "\n6. audit chain: " << (audit && audit->empty() ? "intact" : "BROKEN") << "\n";
  auto notes = store::ReadResult<int64_t>(
      **db, [&](store::Tx& tx) { return store::NotificationsRepository::UnreadCount(tx, user); });
  out << "7. notifications for the engineer (each with a \"View run\" link): " << notes.value_or(0)
      << "\n";
  const auto final_run = demo.Get(fabrikam, execute->run.id);
  return final_run.status == store::RunStatus::kSucceeded && writes == 0 ? 0 : 1;
}

}  // namespace ta::demo
