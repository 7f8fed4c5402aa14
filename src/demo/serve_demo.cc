#include "demo/serve_demo.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "core/credentials.h"
#include "demo/demo_world.h"
#include "sim.h"
#include "store/accounts.h"
#include "tenancy/tenancy.h"

namespace ta::demo {
namespace {

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

}  // namespace ta::demo
