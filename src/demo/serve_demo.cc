#include "demo/serve_demo.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <thread>

#include "core/clock.h"
#include "core/credentials.h"
#include "demo/demo_world.h"
#include "runs/operations.h"
#include "sim.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/inventory.h"
#include "store/runs_repository.h"
#include "tenancy/tenancy.h"

namespace ta::demo {
namespace {

// Waits for a run to end (the in-process workers run it).
bool AwaitRun(store::Database& db, int64_t tenant, int64_t run, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = store::ReadResult<store::RunRecord>(
        db, [&](store::Tx& tx) { return store::RunsRepository::Get(tx, tenant, run); });
    if (!r) return false;
    if (store::IsTerminal(r->status)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

tenancy::Actor Demo(int64_t now) { return {std::nullopt, "demo", now}; }

}  // namespace

Result<std::pair<int64_t, int64_t>> EnsureDemoTenants(store::Database& db, const SecretBox& box,
                                                      int64_t user, const std::string& role) {
  const int64_t now = ToUnixMillis(SystemClock::Instance().Now());
  auto ensure = [&](const DemoTenant& t) {
    return store::WriteResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
      auto found = store::Accounts::TenantIdByName(tx, t.name);
      if (!found) return Unexpected(found.error());
      int64_t id = found->value_or(0);
      if (!*found) {
        auto created = tenancy::CreateTenant(tx, Demo(now), t.name, std::nullopt);
        if (!created) return Unexpected(created.error());
        id = *created;
      }
      TA_RETURN_IF_ERROR(tenancy::SetCredentials(
          tx, Demo(now), id, {t.entra_tenant_id, t.client_id, t.client_secret}, box));
      TA_RETURN_IF_ERROR(tenancy::SetMember(tx, Demo(now), id, user, role));
      return id;
    });
  };
  auto a = ensure(kContoso);
  if (!a) return Unexpected(a.error());
  auto b = ensure(kFabrikam);
  if (!b) return Unexpected(b.error());
  return std::make_pair(*a, *b);
}

DemoGraph::DemoGraph() = default;
DemoGraph::~DemoGraph() { Stop(); }

Result<std::string> DemoGraph::Start(int generated) {
  sim_ = std::make_unique<sim::GraphSim>();
  SeedDemoWorld(*sim_, generated);
  if (sim_->Start() < 0)
    return Unexpected(Status::Unavailable("the Graph simulator could not bind a loopback port"));
  return sim_->base_url();
}

void DemoGraph::Stop() {
  if (sim_) sim_->Stop();
}

Result<std::string> DemoKey(const std::string& path) {
  std::ifstream in(path);
  std::string key;
  if (in && std::getline(in, key) && !key.empty()) return key;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  key = SecretBox::GenerateKeyBase64();
  std::ofstream f(path, std::ios::trunc);
  if (!f) return Unexpected(Status::Unavailable("demo key: cannot write " + path));
  f << key << "\n";
  f.close();
  ::chmod(path.c_str(), 0600);
  return key;
}

Result<DemoLogin> PrepareDemo(store::Database& db, const SecretBox& box) {
  const int64_t now = ToUnixMillis(SystemClock::Instance().Now());
  DemoLogin login;
  login.email = "demo@tenantatlas.example";
  login.password = NewSecret("").substr(0, 20);
  login.token = NewSecret("tat_");
  auto hash = HashPassword(login.password);
  if (!hash) return Unexpected(hash.error());
  auto user = store::WriteResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    auto found = store::Accounts::UserByEmail(tx, login.email);
    if (!found) return Unexpected(found.error());
    int64_t id = 0;
    if (*found) {
      id = (*found)->first.id;
      TA_RETURN_IF_ERROR(store::Accounts::SetPasswordHash(tx, id, *hash));
    } else {
      auto created = tenancy::CreateUser(tx, Demo(now), login.email, "Demo engineer", *hash, true);
      if (!created) return Unexpected(created.error());
      id = *created;
    }
    auto token =
        tenancy::CreateToken(tx, Demo(now), id, "demo", SecretHash(login.token), std::nullopt);
    if (!token) return Unexpected(token.error());
    return id;
  });
  if (!user) return Unexpected(user.error());
  auto tenants = EnsureDemoTenants(db, box, *user, "owner");
  if (!tenants) return Unexpected(tenants.error());
  login.tenant = tenants->first;
  login.other_tenant = tenants->second;
  return login;
}

void WelcomeDemo(store::Database& db, const SecretBox& box, runs::RunService& runs,
                 const std::string& base, const std::string& sim_url, std::ostream& out,
                 std::ostream& err) {
  auto login = PrepareDemo(db, box);
  if (!login) {
    err << "error: demo setup: " << login.error().ToString() << "\n";
  } else {
    // Fill the demo tenants and take a first backup, as jobs, before
    // showing the commands that use them. Contoso first, so that on a new
    // database its policies get the first ids, as the README's lines assume.
    auto a = runs::StartInventorySync(runs, login->tenant, std::nullopt);
    bool ready = a && AwaitRun(db, login->tenant, a->run.id, std::chrono::seconds(60));
    auto b = runs::StartInventorySync(runs, login->other_tenant, std::nullopt);
    ready = ready && b && AwaitRun(db, login->other_tenant, b->run.id, std::chrono::seconds(60));
    int64_t set_id = 0, policy_id = 0;
    if (ready) {
      auto backup = runs::StartBackupSet(runs, db, login->tenant, "Contoso baseline", std::nullopt,
                                         std::nullopt);
      ready = backup && AwaitRun(db, login->tenant, backup->run.id, std::chrono::seconds(60));
      // The newest set and the first policy, for the printed curl lines.
      (void)(db).Read([&](store::Tx& tx) -> Status {
        auto sets = store::BackupSets::List(tx, login->tenant, std::nullopt, 1);
        if (sets && !sets->empty()) set_id = sets->front().id;
        store::PolicyFilter first;
        first.limit = 1;
        auto p = store::Inventory::ListPolicies(tx, login->tenant, first);
        if (p && !p->empty()) policy_id = p->front().id;
        return Status::Ok();
      });
    }
    const std::string t = std::to_string(login->tenant);
    out << "\nDemo (Graph simulator at " << sim_url << "): tenants Contoso (id " << t
        << ") and Fabrikam (id " << login->other_tenant << ")"
        << (ready ? ", inventory synced and a first backup set taken" : " (setup still running)")
        << ".\n"
        << "  sign-in: " << login->email << " / " << login->password << "\n"
        << "  API token (shown once): " << login->token << "\n\n"
        << "  export TOKEN=" << login->token << "\n"
        << "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" " << base << "/api/v1/tenants/"
        << t << "/policies/" << policy_id << "/capture\n"
        << "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: "
           "application/json' -d '{\"backup_set_id\":"
        << set_id << "}' " << base << "/api/v1/tenants/" << t << "/restores/preview\n"
        << "  curl -sN -H \"Authorization: Bearer $TOKEN\" " << base << "/api/v1/tenants/" << t
        << "/runs/RUN_ID/events   # RUN_ID from the answer above\n"
        << std::endl;
  }
}

}  // namespace ta::demo
