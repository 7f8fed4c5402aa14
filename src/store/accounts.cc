#include "store/accounts.h"

#include <atomic>

#include <algorithm>
#include <cctype>

#include "store/row_reader.h"

namespace ta::store {
namespace {

std::atomic<uint64_t> g_access_generation{0};
// After the commit: a reader that sees the new generation also sees the change.
void AccessChangedAfterCommit(Tx& tx) {
  tx.AfterCommit([] { g_access_generation.fetch_add(1); });
}

std::string NormalizeEmail(std::string e) {
  const auto b = e.find_first_not_of(" \t\r\n");
  const auto last = e.find_last_not_of(" \t\r\n");
  e = b == std::string::npos ? "" : e.substr(b, last - b + 1);
  std::transform(e.begin(), e.end(), e.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

Result<int64_t> InsertId(Tx& tx, std::string_view sql, const Params& params) {
  auto rows = tx.Query(sql, params);
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

constexpr const char* kUserCols =
    "u.id, u.email, u.display_name, u.is_platform_admin, u.created_at, u.notify";
constexpr size_t kUserColCount = 6;  // the columns after kUserCols start here

User UserFrom(const Row& r, size_t at = 0) {
  return User{r.Int(at),          r.Text(at + 1), r.Text(at + 2),
              r.Int(at + 3) != 0, r.Int(at + 4),  r.Text(at + 5)};
}

ApiToken TokenFrom(const Row& r) {
  return ApiToken{r.Int(0), r.Int(1), r.Text(2), r.OptInt(3), r.OptInt(4), r.OptInt(5), r.Int(6)};
}

Result<std::vector<Membership>> Memberships(Tx& tx, std::string_view where, int64_t id) {
  auto rows = tx.Query(
      std::string("SELECT m.tenant_id, t.name, m.user_id, u.email, m.role, m.created_at, "
                  "t.entra_tenant_id, t.tags FROM "
                  "memberships m JOIN tenants t ON t.id = m.tenant_id JOIN users u ON u.id = "
                  "m.user_id WHERE ") +
          std::string(where) + " ORDER BY m.tenant_id, m.user_id",
      {id});
  if (!rows) return Unexpected(rows.error());
  std::vector<Membership> out;
  for (const auto& r : *rows)
    out.push_back(
        {r.Int(0), r.Text(1), r.Int(2), r.Text(3), r.Text(4), r.Int(5), r.OptText(6), r.Text(7)});
  return out;
}

}  // namespace

int RoleRank(std::string_view role) {
  if (role == "readonly") return 1;
  if (role == "operator") return 2;
  if (role == "owner") return 3;
  return 0;
}

bool IsRole(std::string_view role) { return RoleRank(role) > 0; }

bool IsNotifyPreference(std::string_view v) {
  return v == "all" || v == "finished" || v == "failures";
}

uint64_t Accounts::AccessGeneration() { return g_access_generation.load(); }

Status Accounts::SetNotifyPreference(Tx& tx, int64_t user_id, const std::string& notify) {
  auto rows =
      tx.Query("UPDATE users SET notify = $1 WHERE id = $2 RETURNING id", {notify, user_id});
  if (!rows) return rows.error();
  AccessChangedAfterCommit(tx);  // the principal carries the user's settings
  return rows->empty() ? Status::NotFound("user " + std::to_string(user_id) + ": does not exist")
                       : Status::Ok();
}

Result<std::optional<std::string>> Accounts::TenantRetention(Tx& tx, int64_t tenant_id) {
  auto rows = tx.Query("SELECT retention FROM tenants WHERE id = $1", {tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty())
    return Unexpected(Status::NotFound("tenant " + std::to_string(tenant_id) + " does not exist"));
  return rows->front().OptText(0);
}

Status Accounts::SetTenantRetention(Tx& tx, int64_t tenant_id,
                                    const std::optional<std::string>& rule_json) {
  auto n =
      tx.Exec("UPDATE tenants SET retention = $1 WHERE id = $2", {OptParam(rule_json), tenant_id});
  if (!n) return n.error();
  if (*n == 0) return Status::NotFound("tenant " + std::to_string(tenant_id) + " does not exist");
  return Status::Ok();
}

Status Accounts::SetDirectory(Tx& tx, int64_t tenant_id, const std::string& entra_tenant_id,
                              const std::string& cloud) {
  auto n = tx.Exec(
      "UPDATE tenants SET entra_tenant_id = CASE WHEN $1 = '' THEN entra_tenant_id ELSE $1 END, "
      "cloud = $2 WHERE id = $3",
      {entra_tenant_id, cloud, tenant_id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok() : Status::NotFound("tenant: does not exist");
}

Status Accounts::SetPlatformCredentials(Tx& tx, int64_t tenant_id,
                                        const std::string& entra_tenant_id,
                                        const std::string& cloud, bool name_from_directory) {
  auto n = tx.Exec(
      "UPDATE tenants SET entra_tenant_id = $1, cloud = $2, credential_kind = 'platform', "
      "client_id = NULL, client_secret_enc = NULL, client_certificate = NULL, "
      "credential_expires_at = NULL, credential_expiry_source = NULL, name_from_directory = $3 "
      "WHERE id = $4",
      {entra_tenant_id, cloud, int64_t{name_from_directory ? 1 : 0}, tenant_id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok() : Status::NotFound("tenant: does not exist");
}

Result<std::optional<std::string>> Accounts::NameFromDirectory(Tx& tx, int64_t tenant_id,
                                                               const std::string& name) {
  auto pending = tx.Query(
      "SELECT entra_tenant_id FROM tenants WHERE id = $1 AND "
      "name_from_directory = 1",
      {tenant_id});
  if (!pending) return Unexpected(pending.error());
  if (pending->empty()) return std::optional<std::string>();
  // Another tenant may have that name already: then the directory id tells them apart.
  for (const std::string& candidate : {name, name + " (" + pending->front().Text(0) + ")"}) {
    auto taken = TenantIdByName(tx, candidate);
    if (!taken) return Unexpected(taken.error());
    if (*taken && **taken != tenant_id) continue;
    auto n = tx.Exec("UPDATE tenants SET name = $1, name_from_directory = 0 WHERE id = $2",
                     {candidate, tenant_id});
    if (!n) return Unexpected(n.error());
    return std::optional<std::string>(candidate);
  }
  return std::optional<std::string>();
}

Status Accounts::SetTenantTags(Tx& tx, int64_t tenant_id, const std::string& tags_json) {
  auto rows =
      tx.Query("UPDATE tenants SET tags = $1 WHERE id = $2 RETURNING id", {tags_json, tenant_id});
  if (!rows) return rows.error();
  return rows->empty() ? Status::NotFound("tenant: does not exist") : Status::Ok();
}

Result<int64_t> Accounts::CreateUser(Tx& tx, const std::string& email_in,
                                     const std::string& display_name,
                                     const std::string& password_hash, bool platform_admin,
                                     int64_t now_ms) {
  const std::string email = NormalizeEmail(email_in);
  const auto at = email.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == email.size() || email.size() > 254 ||
      email.find_first_of(" \t\r\n,;<>") != std::string::npos) {
    return Unexpected(Status::InvalidArgument("email: expected an address like ops@example.com"));
  }
  if (display_name.size() > 200)
    return Unexpected(Status::InvalidArgument("display_name: at most 200 characters"));
  auto id = InsertId(tx,
                     "INSERT INTO users (email, display_name, password_hash, is_platform_admin, "
                     "created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                     {email, display_name, password_hash, int64_t{platform_admin ? 1 : 0}, now_ms});
  if (!id && id.error().code() == Status::Code::kAlreadyExists)
    return Unexpected(Status::AlreadyExists("email: a user with this email already exists"));
  return id;
}

Result<std::optional<User>> Accounts::UserById(Tx& tx, int64_t id) {
  auto rows = tx.Query(std::string("SELECT ") + kUserCols + " FROM users u WHERE u.id = $1", {id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<User>();
  return std::optional<User>(UserFrom(rows->front()));
}

Result<std::map<int64_t, User>> Accounts::UsersByIds(Tx& tx, const std::vector<int64_t>& ids) {
  std::map<int64_t, User> out;
  if (ids.empty()) return out;
  auto rows = tx.Query(std::string("SELECT ") + kUserCols + " FROM users u WHERE " +
                           InIdArray(tx.backend(), "u.id", 1),
                       {IdArray(tx.backend(), ids)});
  if (!rows) return Unexpected(rows.error());
  for (const auto& r : *rows) {
    User u = UserFrom(r);
    out.emplace(u.id, std::move(u));
  }
  return out;
}

Result<std::optional<std::pair<User, std::string>>> Accounts::UserByEmail(
    Tx& tx, const std::string& email) {
  auto rows = tx.Query(
      std::string("SELECT ") + kUserCols + ", u.password_hash FROM users u WHERE u.email = $1",
      {NormalizeEmail(email)});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<std::pair<User, std::string>>();
  return std::optional<std::pair<User, std::string>>(
      std::make_pair(UserFrom(rows->front()), rows->front().Text(kUserColCount)));
}

Result<int64_t> Accounts::CreateToken(Tx& tx, int64_t user_id, const std::string& name,
                                      const std::string& secret_hash,
                                      std::optional<int64_t> expires_at, int64_t now_ms) {
  if (name.empty() || name.size() > 100)
    return Unexpected(Status::InvalidArgument("name: 1 to 100 characters"));
  return InsertId(
      tx,
      "INSERT INTO api_tokens (user_id, name, token_hash, expires_at, created_at) "
      "VALUES ($1, $2, $3, $4, $5) RETURNING id",
      {user_id, name, secret_hash, expires_at ? Param(*expires_at) : Param(nullptr), now_ms});
}

Result<std::optional<Principal>> Accounts::PrincipalForToken(Tx& tx, const std::string& hash,
                                                             int64_t now_ms) {
  auto rows = tx.Query(
      std::string("SELECT ") + kUserCols +
          ", t.id, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE "
          "t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL "
          "OR t.expires_at > $2)",
      {hash, now_ms});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<Principal>();
  Principal p{UserFrom(rows->front()), Principal::Via::kToken, rows->front().Int(kUserColCount), "",
              rows->front().OptInt(kUserColCount + 1)};
  return std::optional<Principal>(std::move(p));
}

Result<std::vector<ApiToken>> Accounts::TokensOf(Tx& tx, int64_t user_id) {
  auto rows = tx.Query(
      "SELECT id, user_id, name, expires_at, revoked_at, last_used_at, created_at FROM api_tokens "
      "WHERE user_id = $1 ORDER BY id",
      {user_id});
  if (!rows) return Unexpected(rows.error());
  std::vector<ApiToken> out;
  for (const auto& r : *rows) out.push_back(TokenFrom(r));
  return out;
}

Result<std::optional<ApiToken>> Accounts::TokenById(Tx& tx, int64_t token_id) {
  auto rows = tx.Query(
      "SELECT id, user_id, name, expires_at, revoked_at, last_used_at, created_at FROM api_tokens "
      "WHERE id = $1",
      {token_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<ApiToken>();
  return std::optional<ApiToken>(TokenFrom(rows->front()));
}

Status Accounts::TouchToken(Tx& tx, int64_t token_id, int64_t now_ms) {
  auto n = tx.Exec("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", {now_ms, token_id});
  return n ? Status::Ok() : n.error();
}

Status Accounts::RevokeToken(Tx& tx, int64_t token_id, int64_t now_ms) {
  auto n = tx.Exec("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
                   {now_ms, token_id});
  if (!n) return n.error();
  AccessChangedAfterCommit(tx);
  return *n == 1 ? Status::Ok()
                 : Status::NotFound("token " + std::to_string(token_id) + " does not exist");
}

Result<int64_t> Accounts::CreateSession(Tx& tx, int64_t user_id, const std::string& secret_hash,
                                        const std::string& csrf_token, int64_t expires_at,
                                        int64_t now_ms) {
  return InsertId(tx,
                  "INSERT INTO sessions (secret_hash, user_id, csrf_token, expires_at, created_at) "
                  "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                  {secret_hash, user_id, csrf_token, expires_at, now_ms});
}

Result<std::optional<Principal>> Accounts::PrincipalForSession(Tx& tx, const std::string& hash,
                                                               int64_t now_ms) {
  auto rows = tx.Query(std::string("SELECT ") + kUserCols +
                           ", s.id, s.csrf_token FROM sessions s JOIN users u ON u.id = "
                           "s.user_id WHERE s.secret_hash = $1 AND s.revoked_at IS NULL AND "
                           "s.expires_at > $2",
                       {hash, now_ms});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<Principal>();
  const Row& r = rows->front();
  Principal p{UserFrom(r), Principal::Via::kSession, r.Int(kUserColCount),
              r.Text(kUserColCount + 1), std::nullopt};
  return std::optional<Principal>(std::move(p));
}

Status Accounts::RevokeSession(Tx& tx, int64_t session_id, int64_t now_ms) {
  auto n = tx.Exec("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                   {now_ms, session_id});
  if (!n) return n.error();
  AccessChangedAfterCommit(tx);
  return Status::Ok();
}

Result<int64_t> Accounts::CreateTenant(Tx& tx, const std::string& name, int64_t now_ms) {
  if (name.empty() || name.size() > 200 || name.find_first_of("\r\n\t") != std::string::npos)
    return Unexpected(
        Status::InvalidArgument("name: 1 to 200 characters on one line, e.g. \"Contoso Ltd\""));
  auto id = InsertId(tx, "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id",
                     {name, now_ms});
  if (!id && id.error().code() == Status::Code::kAlreadyExists)
    return Unexpected(Status::AlreadyExists("name: a tenant with this name already exists"));
  return id;
}

Result<bool> Accounts::TenantExists(Tx& tx, int64_t tenant_id) {
  auto rows = tx.Query("SELECT 1 FROM tenants WHERE id = $1", {tenant_id});
  if (!rows) return Unexpected(rows.error());
  return !rows->empty();
}

Result<std::optional<Accounts::SealedCredentials>> Accounts::Credentials(Tx& tx,
                                                                         int64_t tenant_id) {
  // A tenant onboarded through admin consent signs in with the MSP's own app.
  auto rows = tx.Query(
      "SELECT t.entra_tenant_id, COALESCE(p.client_id, t.client_id), COALESCE(p.sealed, "
      "t.client_secret_enc), t.cloud, COALESCE(p.credential_kind, t.credential_kind), "
      "COALESCE(p.certificate, t.client_certificate) FROM tenants t LEFT JOIN platform_app p ON "
      "t.credential_kind = 'platform' WHERE t.id = $1",
      {tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty())
    return Unexpected(Status::NotFound("tenant " + std::to_string(tenant_id) + " does not exist"));
  const Row& r = rows->front();
  if (r.IsNull(0) || r.IsNull(1) || r.IsNull(2)) return std::optional<SealedCredentials>();
  RowReader read(r);
  SealedCredentials c;
  c.entra_tenant_id = read.Text();
  c.client_id = read.Text();
  c.sealed_secret = read.Text();
  c.cloud = read.Text();
  c.kind = read.Text();
  c.certificate = read.OptText().value_or("");
  return std::optional<SealedCredentials>(std::move(c));
}

Status Accounts::SetPasswordHash(Tx& tx, int64_t user_id, const std::string& password_hash) {
  auto n = tx.Exec("UPDATE users SET password_hash = $1 WHERE id = $2", {password_hash, user_id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok() : Status::NotFound("user " + std::to_string(user_id));
}

Result<std::map<int64_t, std::string>> Accounts::TenantNames(Tx& tx,
                                                             const std::vector<int64_t>& ids) {
  std::map<int64_t, std::string> out;
  if (ids.empty()) return out;
  auto rows = tx.Query("SELECT id, name FROM tenants WHERE " + InIdArray(tx.backend(), "id", 1),
                       {IdArray(tx.backend(), ids)});
  if (!rows) return Unexpected(rows.error());
  for (const auto& r : *rows) out[r.Int(0)] = r.Text(1);
  return out;
}

Result<Accounts::Tenant> Accounts::TenantById(Tx& tx, int64_t tenant_id) {
  auto rows = tx.Query(
      "SELECT id, name, entra_tenant_id, client_id, CASE WHEN client_secret_enc IS NULL AND "
      "credential_kind <> 'platform' THEN 0 ELSE 1 END, settings, created_at, tags, "
      "credential_expires_at, credential_expiry_source, "
      "cloud, credential_kind, client_certificate, name_from_directory FROM tenants WHERE id = $1",
      {tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return Unexpected(Status::NotFound("tenant: does not exist"));
  RowReader r(rows->front());
  Tenant t;
  t.id = r.Int();
  t.name = r.Text();
  t.entra_tenant_id = r.OptText();
  t.client_id = r.OptText();
  t.has_credentials = r.Int() != 0;
  t.settings = r.Text();
  t.created_at = r.Int();
  t.tags = r.Text();
  t.credential_expires_at = r.OptInt();
  t.credential_expiry_source = r.OptText();
  t.cloud = r.Text();
  t.credential_kind = r.Text();
  t.certificate = r.OptText();
  t.name_from_directory = r.Int() != 0;
  return t;
}

Result<std::optional<int64_t>> Accounts::FirstTenantId(Tx& tx) {
  auto rows = tx.Query("SELECT MIN(id) FROM tenants");
  if (!rows) return Unexpected(rows.error());
  return rows->front().OptInt(0);
}

Result<std::optional<int64_t>> Accounts::TenantIdByName(Tx& tx, const std::string& name) {
  auto rows = tx.Query("SELECT id FROM tenants WHERE name = $1", {name});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().Int(0));
}

Result<std::optional<int64_t>> Accounts::FindTenant(Tx& tx, const std::string& id_or_name) {
  const bool by_id = !id_or_name.empty() && id_or_name.size() < 19 &&
                     std::all_of(id_or_name.begin(), id_or_name.end(),
                                 [](unsigned char c) { return std::isdigit(c); });
  if (!by_id) return TenantIdByName(tx, id_or_name);
  auto rows = tx.Query("SELECT id FROM tenants WHERE id = $1", {std::stoll(id_or_name)});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().Int(0));
}

Result<Accounts::TenantAccess> Accounts::AccessTo(Tx& tx, int64_t user_id, int64_t tenant_id) {
  auto rows = tx.Query(
      "SELECT t.id, m.role FROM tenants t LEFT JOIN memberships m ON m.tenant_id = t.id AND "
      "m.user_id = $2 WHERE t.id = $1",
      {tenant_id, user_id});
  if (!rows) return Unexpected(rows.error());
  TenantAccess out;
  if (rows->empty()) return out;
  RowReader r(rows->front());
  out.tenant_exists = r.Int() != 0;
  out.role = r.OptText();
  return out;
}

Status Accounts::SetCredentials(Tx& tx, int64_t tenant_id, const SealedCredentials& c,
                                std::optional<int64_t> expires_at,
                                const std::string& expiry_source) {
  // New credentials: their expiry is what was entered with them (or the
  // certificate's; or unknown until a connection check reads it), and no
  // warning has been raised for it yet.
  auto n = tx.Exec(
      "UPDATE tenants SET entra_tenant_id = $1, client_id = $2, client_secret_enc = $3, "
      "credential_expires_at = $4, credential_expiry_source = CASE WHEN CAST($4 AS BIGINT) IS NULL "
      "THEN NULL ELSE CAST($7 AS TEXT) END, credential_warned_stage = 0, cloud = $6, "
      "credential_kind = $8, "
      "client_certificate = $9 WHERE id = $5",
      {c.entra_tenant_id, c.client_id, c.sealed_secret, OptParam(expires_at), tenant_id, c.cloud,
       expiry_source, c.kind, c.certificate.empty() ? Param(nullptr) : Param(c.certificate)});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok()
                 : Status::NotFound("tenant " + std::to_string(tenant_id) + " does not exist");
}

Result<bool> Accounts::SetCredentialExpiry(Tx& tx, int64_t tenant_id, int64_t expires_at,
                                           const std::string& source,
                                           const std::optional<std::string>& sealed_secret) {
  auto n = tx.Exec(
      "UPDATE tenants SET credential_warned_stage = CASE WHEN credential_expires_at = $1 THEN "
      "credential_warned_stage ELSE 0 END, credential_expires_at = $1, credential_expiry_source = "
      "$2 WHERE id = $3 AND (CAST($4 AS TEXT) IS NULL OR client_secret_enc = $4)",
      {expires_at, source, tenant_id, OptParam(sealed_secret)});
  if (!n) return Unexpected(n.error());
  if (*n == 1) return true;
  auto exists = TenantExists(tx, tenant_id);
  if (!exists) return Unexpected(exists.error());
  if (!*exists)
    return Unexpected(Status::NotFound("tenant " + std::to_string(tenant_id) + " does not exist"));
  return false;
}

Result<std::vector<Accounts::ExpiryWarning>> Accounts::TakeExpiryWarnings(Tx& tx, int64_t now_ms) {
  // The stage a tenant is in now; a row changes (and is returned) only when
  // that stage is past the one already warned about, so each stage of each
  // expiry date is raised once, by whichever node gets here first.
  const std::string stage =
      "(CASE WHEN credential_expires_at <= $1 THEN 3 WHEN credential_expires_at <= $2 THEN 2 "
      "ELSE 1 END)";
  return QueryAll(
      tx,
      "UPDATE tenants SET credential_warned_stage = " + stage +
          " WHERE client_secret_enc IS NOT NULL AND credential_expires_at IS NOT NULL AND "
          "credential_expires_at <= $3 AND credential_warned_stage < " +
          stage +
          " RETURNING id, name, credential_expires_at, credential_warned_stage, credential_kind",
      {now_ms, now_ms + kExpiryUrgentMs, now_ms + kExpiryWarnMs}, [](const Row& row) {
        RowReader r(row);
        ExpiryWarning w;
        w.tenant_id = r.Int();
        w.name = r.Text();
        w.expires_at = r.Int();
        w.stage = static_cast<int>(r.Int());
        w.certificate = r.Text() == "certificate";
        return w;
      });
}

Result<std::optional<std::string>> Accounts::RoleOf(Tx& tx, int64_t user_id, int64_t tenant_id) {
  auto rows = tx.Query("SELECT role FROM memberships WHERE user_id = $1 AND tenant_id = $2",
                       {user_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows->front().Text(0));
}

namespace {

// Refuses a change that would leave a tenant whose user `user_id` is an owner
// without any owner.
Status KeepAnOwner(Tx& tx, int64_t tenant_id, int64_t user_id) {
  auto current = Accounts::RoleOf(tx, user_id, tenant_id);
  if (!current) return current.error();
  if (*current != std::optional<std::string>("owner")) return Status::Ok();
  auto rows = tx.Query(
      "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner' AND user_id <> $2",
      {tenant_id, user_id});
  if (!rows) return rows.error();
  return rows->front().Int(0) > 0
             ? Status::Ok()
             : Status::Conflict("role: the tenant would have no owner; add another owner first");
}

}  // namespace

Status Accounts::SetMember(Tx& tx, int64_t tenant_id, int64_t user_id, const std::string& role,
                           int64_t now_ms) {
  if (!IsRole(role))
    return Status::InvalidArgument("role: must be one of owner, operator, readonly");
  if (role != "owner") TA_RETURN_IF_ERROR(KeepAnOwner(tx, tenant_id, user_id));
  auto n = tx.Exec(
      "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = excluded.role",
      {tenant_id, user_id, role, now_ms});
  if (!n) return n.error();
  AccessChangedAfterCommit(tx);
  return Status::Ok();
}

Result<bool> Accounts::RemoveMember(Tx& tx, int64_t tenant_id, int64_t user_id) {
  TA_RETURN_IF_ERROR(KeepAnOwner(tx, tenant_id, user_id));
  auto n = tx.Exec("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2",
                   {tenant_id, user_id});
  if (!n) return Unexpected(n.error());
  AccessChangedAfterCommit(tx);
  return *n > 0;
}

Result<std::vector<Membership>> Accounts::MembersOf(Tx& tx, int64_t tenant_id) {
  return Memberships(tx, "m.tenant_id = $1", tenant_id);
}

Result<std::vector<Membership>> Accounts::MembershipsOf(Tx& tx, int64_t user_id) {
  return Memberships(tx, "m.user_id = $1", user_id);
}

}  // namespace ta::store
