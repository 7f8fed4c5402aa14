#include "demo/serve_demo.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "core/credentials.h"
#include "demo/demo_world.h"
#include "sim.h"
#include "store/accounts.h"

namespace ta::demo {
namespace {

Result<int64_t> EnsureTenant(store::Database& db, const SecretBox& box, const DemoTenant& t,
                             int64_t user, int64_t now) {
  return store::WriteResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    auto found = store::Accounts::TenantIdByName(tx, t.name);
    if (!found) return Unexpected(found.error());
    int64_t id = found->value_or(0);
    if (!*found) {
      auto created = store::Accounts::CreateTenant(tx, t.name, now);
      if (!created) return Unexpected(created.error());
      id = *created;
    }
    if (Status s = store::Accounts::SetCredentials(tx, id, t.entra_tenant_id, t.client_id,
                                                   box.Seal(t.client_secret));
        !s.ok())
      return Unexpected(s);
    if (Status s = store::Accounts::SetMember(tx, id, user, "owner", now); !s.ok())
      return Unexpected(s);
    return id;
  });
}

}  // namespace

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
      auto created =
          store::Accounts::CreateUser(tx, login.email, "Demo engineer", *hash, true, now);
      if (!created) return Unexpected(created.error());
      id = *created;
    }
    auto token =
        store::Accounts::CreateToken(tx, id, "demo", SecretHash(login.token), std::nullopt, now);
    if (!token) return Unexpected(token.error());
    return id;
  });
  if (!user) return Unexpected(user.error());
  auto a = EnsureTenant(db, box, kContoso, *user, now);
  if (!a) return Unexpected(a.error());
  auto b = EnsureTenant(db, box, kFabrikam, *user, now);
  if (!b) return Unexpected(b.error());
  login.tenant = *a;
  login.other_tenant = *b;
  return login;
}

}  // namespace ta::demo
