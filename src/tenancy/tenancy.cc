#include "tenancy/tenancy.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/certificate.h"
#include "core/cloud.h"
#include "core/log.h"
#include "store/accounts.h"
#include "store/audit_log.h"

namespace ta::tenancy {

using nlohmann::json;
using store::Accounts;

namespace {

Status Audit(store::Tx& tx, const Actor& actor, int64_t tenant, std::string action,
             std::string target_type, std::string target_id, json details = json::object()) {
  if (actor.via != "api") details["via"] = actor.via;
  return store::AuditLog::Record(tx, tenant, actor.user_id, std::move(action),
                                 std::move(target_type), std::move(target_id), details.dump(),
                                 actor.now_ms);
}

}  // namespace

Status ValidateDirectory(const std::string& entra_tenant_id, const std::string& cloud,
                         bool entra_required) {
  if (entra_tenant_id.empty() && entra_required)
    return Status::InvalidArgument(
        "entra_tenant_id: is required (the directory id, a GUID, or a domain like "
        "contoso.onmicrosoft.com)");
  for (char ch : entra_tenant_id) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.'))
      return Status::InvalidArgument(
          "entra_tenant_id: expected the directory id (a GUID) or a domain like "
          "contoso.onmicrosoft.com");
  }
  if (!FindCloud(cloud))
    return Status::InvalidArgument("cloud: must be " + CloudNames() + " (the cloud the tenant's "
                                   "directory lives in; \"global\" for commercial and GCC)");
  return Status::Ok();
}

namespace {

// The app's directory, client id and cloud (both kinds of credentials).
Status ValidateApp(const AppCredentials& c) {
  if (c.client_id.empty())
    return Status::InvalidArgument(
        "client_id: is required (the app registration's application (client) id)");
  return ValidateDirectory(c.entra_tenant_id, c.cloud);
}

}  // namespace

Status ValidateCredentials(const AppCredentials& c) {
  if (c.client_secret.empty())
    return Status::InvalidArgument(
        "client_secret: is required (credentials need entra_tenant_id, client_id and "
        "client_secret)");
  return ValidateApp(c);
}

Result<int64_t> CreateUser(store::Tx& tx, const Actor& actor, const std::string& email,
                           const std::string& name, const std::string& password_hash,
                           bool platform_admin) {
  auto id = Accounts::CreateUser(tx, email, name, password_hash, platform_admin, actor.now_ms);
  if (!id) return Unexpected(id.error());
  TA_RETURN_IF_ERROR(Audit(tx, actor, 0, "user.created", "user", std::to_string(*id),
                           {{"email", email}, {"platform_admin", platform_admin}}));
  return *id;
}

Result<int64_t> CreateTenant(store::Tx& tx, const Actor& actor, const std::string& name,
                             std::optional<int64_t> owner) {
  auto id = Accounts::CreateTenant(tx, name, actor.now_ms);
  if (!id) return Unexpected(id.error());
  TA_RETURN_IF_ERROR(
      Audit(tx, actor, *id, "tenant.created", "tenant", std::to_string(*id), {{"name", name}}));
  if (owner) TA_RETURN_IF_ERROR(SetMember(tx, actor, *id, *owner, "owner"));
  return *id;
}

Status SetCredentials(store::Tx& tx, const Actor& actor, int64_t tenant, const AppCredentials& c,
                      const SecretBox& box) {
  TA_RETURN_IF_ERROR(ValidateCredentials(c));
  TA_RETURN_IF_ERROR(Accounts::SetCredentials(
      tx, tenant, {c.entra_tenant_id, c.client_id, box.Seal(c.client_secret), c.cloud},
      c.secret_expires_at));
  return Audit(tx, actor, tenant, "tenant.credentials_set", "tenant", std::to_string(tenant),
               {{"entra_tenant_id", c.entra_tenant_id},
                {"client_id", c.client_id},
                {"cloud", c.cloud},
                {"kind", "secret"},
                {"secret_expires_at",
                 c.secret_expires_at ? json(FormatIso8601(*c.secret_expires_at)) : json()}});
}

Result<IssuedCertificate> SetCertificateCredentials(store::Tx& tx, const Actor& actor,
                                                    int64_t tenant, const AppCredentials& app,
                                                    int valid_days, const SecretBox& box) {
  TA_RETURN_IF_ERROR(ValidateApp(app));
  if (valid_days < 1 || valid_days > 730)
    return Unexpected(Status::InvalidArgument(
        "valid_days: 1 to 730 (Entra advises certificates of at most two years)"));
  auto name = Accounts::TenantById(tx, tenant);
  if (!name) return Unexpected(name.error());
  auto made = GenerateCertificate("TenantAtlas " + name->name, valid_days, actor.now_ms);
  if (!made) return Unexpected(made.error());
  auto info = ReadCertificate(made->certificate_pem);
  if (!info) return Unexpected(info.error());
  TA_RETURN_IF_ERROR(Accounts::SetCredentials(
      tx, tenant,
      {app.entra_tenant_id, app.client_id, box.Seal(made->private_key_pem), app.cloud,
       "certificate", made->certificate_pem},
      info->not_after_ms, "certificate"));
  TA_RETURN_IF_ERROR(Audit(tx, actor, tenant, "tenant.credentials_set", "tenant",
                           std::to_string(tenant),
                           {{"entra_tenant_id", app.entra_tenant_id},
                            {"client_id", app.client_id},
                            {"cloud", app.cloud},
                            {"kind", "certificate"},
                            {"thumbprint", info->thumbprint},
                            {"certificate_expires_at", FormatIso8601(info->not_after_ms)}}));
  return IssuedCertificate{made->certificate_pem, *info};
}

std::string CredentialExpiry(std::optional<int64_t> expires_at, int64_t now_ms) {
  if (!expires_at) return "unknown";
  if (*expires_at <= now_ms) return "expired";
  if (*expires_at <= now_ms + Accounts::kExpiryWarnMs) return "expiring";
  return "valid";
}

std::string ExpiryPhrase(int64_t expires_at, int64_t now_ms, bool certificate) {
  const std::string day = FormatIso8601(expires_at).substr(0, 10);
  const std::string what = certificate ? "the certificate" : "the client secret";
  if (expires_at <= now_ms) return what + " expired on " + day;
  const int64_t days = (expires_at - now_ms) / 86'400'000;
  const std::string in = days == 0   ? std::string("less than a day")
                         : days == 1 ? std::string("1 day")
                                     : std::to_string(days) + " days";
  return what + " expires on " + day + " (in " + in + ")";
}

Status SetMember(store::Tx& tx, const Actor& actor, int64_t tenant, int64_t user,
                 const std::string& role) {
  if (!store::IsRole(role))
    return Status::InvalidArgument("role: must be one of owner, operator, readonly");
  auto previous = Accounts::RoleOf(tx, user, tenant);
  if (!previous) return previous.error();
  TA_RETURN_IF_ERROR(Accounts::SetMember(tx, tenant, user, role, actor.now_ms));
  return Audit(tx, actor, tenant, "member.set", "user", std::to_string(user),
               {{"role", role}, {"previous_role", *previous ? json(**previous) : json()}});
}

Status RemoveMember(store::Tx& tx, const Actor& actor, int64_t tenant, int64_t user) {
  auto current = Accounts::RoleOf(tx, user, tenant);
  if (!current) return current.error();
  if (!*current)
    return Status::NotFound("user: " + std::to_string(user) + " is not a member of this tenant");
  auto removed = Accounts::RemoveMember(tx, tenant, user);
  if (!removed) return removed.error();
  return Audit(tx, actor, tenant, "member.removed", "user", std::to_string(user),
               {{"role", **current}});
}

Result<int64_t> CreateToken(store::Tx& tx, const Actor& actor, int64_t user,
                            const std::string& name, const std::string& secret_hash,
                            std::optional<int64_t> expires_at_ms) {
  auto id = Accounts::CreateToken(tx, user, name, secret_hash, expires_at_ms, actor.now_ms);
  if (!id) return Unexpected(id.error());
  TA_RETURN_IF_ERROR(Audit(tx, actor, 0, "token.created", "api_token", std::to_string(*id),
                           {{"name", name}, {"user_id", user}}));
  return *id;
}

Status RevokeToken(store::Tx& tx, const Actor& actor, int64_t token_id,
                   std::optional<int64_t> owner) {
  if (owner) {
    auto t = Accounts::TokenById(tx, token_id);
    if (!t) return t.error();
    if (!*t) return Status::NotFound("token: " + std::to_string(token_id) + " does not exist");
    if ((*t)->user_id != *owner)
      return Status::PermissionDenied("token: " + std::to_string(token_id) +
                                      " belongs to another user");
  }
  TA_RETURN_IF_ERROR(Accounts::RevokeToken(tx, token_id, actor.now_ms));
  return Audit(tx, actor, 0, "token.revoked", "api_token", std::to_string(token_id));
}

}  // namespace ta::tenancy
