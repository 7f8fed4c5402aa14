#pragma once

// Users, API tokens, browser sessions, tenants and memberships. Secrets are
// never stored: tokens and sessions are looked up by the hash of the secret
// (core/credentials.h), passwords by their argon2id hash.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct User {
  int64_t id = 0;
  std::string email;
  std::string display_name;
  bool is_platform_admin = false;
  int64_t created_at = 0;
  // Which runs notify this user: all | finished | failures (IsNotifyPreference).
  std::string notify = "all";
};

// Who is making a request, and how they proved it.
struct Principal {
  User user;
  enum class Via { kToken, kSession } via = Via::kToken;
  int64_t credential_id = 0;            // api_tokens.id or sessions.id
  std::string csrf_token;               // sessions only
  std::optional<int64_t> last_used_at;  // tokens only
};

struct ApiToken {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string name;
  std::optional<int64_t> expires_at, revoked_at, last_used_at;
  int64_t created_at = 0;
};

struct Membership {
  int64_t tenant_id = 0;
  std::string tenant_name;
  int64_t user_id = 0;
  std::string email;
  std::string role;  // owner | operator | readonly
  int64_t created_at = 0;
  std::optional<std::string> entra_tenant_id;
  std::string tags = "[]";  // JSON array of strings
};

// The user's id, or nullopt for the command line's stand-in user (id 0):
// what an audit entry's actor or a record's creator holds.
inline std::optional<int64_t> ActorIdOf(const User& u) {
  return u.id > 0 ? std::optional<int64_t>(u.id) : std::nullopt;
}

// all: a run's notification when it is queued and when it ends; finished:
// only when it ends; failures: only when it fails or partially succeeds.
bool IsNotifyPreference(std::string_view v);

// Role order: readonly < operator < owner. Unknown roles rank below readonly.
int RoleRank(std::string_view role);
bool IsRole(std::string_view role);

class Accounts {
 public:
  // Users. Email is trimmed and lower-cased; a duplicate is AlreadyExists.
  // A process-wide counter that moves after every committed change that can
  // take access away or change what a credential resolves to (a token or
  // session revoked, a membership changed or removed, the user's settings):
  // caches of authorization results drop what they hold from before.
  static uint64_t AccessGeneration();

  static Result<int64_t> CreateUser(Tx& tx, const std::string& email,
                                    const std::string& display_name,
                                    const std::string& password_hash, bool platform_admin,
                                    int64_t now_ms);
  static Result<std::optional<User>> UserById(Tx& tx, int64_t id);
  // The users of these ids that exist, by id, in one statement.
  static Result<std::map<int64_t, User>> UsersByIds(Tx& tx, const std::vector<int64_t>& ids);
  static Status SetPasswordHash(Tx& tx, int64_t user_id, const std::string& password_hash);
  static Status SetNotifyPreference(Tx& tx, int64_t user_id, const std::string& notify);
  // With the password hash, for login only.
  static Result<std::optional<std::pair<User, std::string>>> UserByEmail(Tx& tx,
                                                                         const std::string& email);

  // API tokens, by the hash of the secret. Expired and revoked tokens do not match.
  static Result<int64_t> CreateToken(Tx& tx, int64_t user_id, const std::string& name,
                                     const std::string& secret_hash,
                                     std::optional<int64_t> expires_at, int64_t now_ms);
  static Result<std::optional<Principal>> PrincipalForToken(Tx& tx, const std::string& secret_hash,
                                                            int64_t now_ms);
  static Result<std::vector<ApiToken>> TokensOf(Tx& tx, int64_t user_id);
  static Result<std::optional<ApiToken>> TokenById(Tx& tx, int64_t token_id);
  static Status TouchToken(Tx& tx, int64_t token_id, int64_t now_ms);  // sets last_used_at
  // NotFound when the token does not exist; idempotent when already revoked.
  static Status RevokeToken(Tx& tx, int64_t token_id, int64_t now_ms);

  static Result<int64_t> CreateSession(Tx& tx, int64_t user_id, const std::string& secret_hash,
                                       const std::string& csrf_token, int64_t expires_at,
                                       int64_t now_ms);
  static Result<std::optional<Principal>> PrincipalForSession(Tx& tx,
                                                              const std::string& secret_hash,
                                                              int64_t now_ms);
  static Status RevokeSession(Tx& tx, int64_t session_id, int64_t now_ms);

  // Tenants. A duplicate name is AlreadyExists.
  static Result<int64_t> CreateTenant(Tx& tx, const std::string& name, int64_t now_ms);
  static Result<bool> TenantExists(Tx& tx, int64_t tenant_id);
  struct Tenant {
    int64_t id = 0;
    std::string name;
    std::optional<std::string> entra_tenant_id, client_id;
    bool has_credentials = false;  // the sealed secret itself never leaves the store here
    std::string settings;          // JSON
    int64_t created_at = 0;
    std::string tags = "[]";                              // JSON array of strings
    std::optional<int64_t> credential_expires_at;         // the client secret's end (ms)
    std::optional<std::string> credential_expiry_source;  // entered | graph
    std::string cloud = "global";                         // global | usgov | usgovdod | china
    std::string credential_kind = "secret";  // secret | certificate | platform (the MSP's app)
    std::optional<std::string> certificate;  // PEM (public) for a certificate
    bool name_from_directory = false;        // onboarded unnamed: the next check names it
  };
  // Where a tenant lives before it has credentials (an imported tenant): its
  // directory id ("" leaves it unset) and cloud.
  static Status SetDirectory(Tx& tx, int64_t tenant_id, const std::string& entra_tenant_id,
                             const std::string& cloud);
  // A tenant onboarded through admin consent: it signs in with the MSP's
  // multi-tenant app (store/onboarding.h) in its own directory. With
  // `name_from_directory`, its next connection check names it after the
  // directory's organization (NameFromDirectory).
  static Status SetPlatformCredentials(Tx& tx, int64_t tenant_id,
                                       const std::string& entra_tenant_id, const std::string& cloud,
                                       bool name_from_directory);
  // Renames a tenant waiting for its directory's name; the name given (or,
  // when another tenant has it, with the directory id added). nullopt when
  // the tenant was not waiting for a name.
  static Result<std::optional<std::string>> NameFromDirectory(Tx& tx, int64_t tenant_id,
                                                              const std::string& name);
  // `tags_json` is a JSON array of strings (the caller validates it).
  static Status SetTenantTags(Tx& tx, int64_t tenant_id, const std::string& tags_json);
  // NotFound when there is no such tenant.
  static Result<Tenant> TenantById(Tx& tx, int64_t tenant_id);
  // Tenant id -> name for the ids that exist, in one statement.
  static Result<std::map<int64_t, std::string>> TenantNames(Tx& tx,
                                                            const std::vector<int64_t>& ids);
  // The tenant's retention rule (JSON), nullopt when it has none.
  static Result<std::optional<std::string>> TenantRetention(Tx& tx, int64_t tenant_id);
  static Status SetTenantRetention(Tx& tx, int64_t tenant_id,
                                   const std::optional<std::string>& rule_json);
  static Result<std::optional<int64_t>> TenantIdByName(Tx& tx, const std::string& name);
  // By id when `id_or_name` is all digits, else by name.
  static Result<std::optional<int64_t>> FindTenant(Tx& tx, const std::string& id_or_name);
  // A tenant's app credentials, the secret still sealed.
  struct SealedCredentials {
    std::string entra_tenant_id, client_id;
    // kind "secret": the sealed client secret; "certificate": the sealed PEM
    // private key, and `certificate` is its (public) certificate.
    std::string sealed_secret;
    std::string cloud = "global";
    std::string kind = "secret";
    std::string certificate = {};
  };
  // NotFound when there is no tenant; nullopt when it has no complete credentials.
  static Result<std::optional<SealedCredentials>> Credentials(Tx& tx, int64_t tenant_id);
  // Stores the app credentials; `sealed_secret` is already encrypted (SecretBox).
  // `expires_at`: the secret's end as entered with it, or the certificate's
  // (nullopt: unknown); `expiry_source` says which ("entered", "certificate").
  static Status SetCredentials(Tx& tx, int64_t tenant_id, const SealedCredentials& credentials,
                               std::optional<int64_t> expires_at = std::nullopt,
                               const std::string& expiry_source = "entered");
  // The secret's end and where it came from ("entered", "graph"); a changed
  // date re-arms the expiry warnings. With `sealed_secret`, only while that is
  // still the stored secret: false when it was replaced meanwhile.
  static Result<bool> SetCredentialExpiry(
      Tx& tx, int64_t tenant_id, int64_t expires_at, const std::string& source,
      const std::optional<std::string>& sealed_secret = std::nullopt);
  // Expiry warnings: within kExpiryWarnMs of its end a secret is "expiring"
  // (stage 1), within kExpiryUrgentMs stage 2, past it "expired" (stage 3).
  static constexpr int64_t kExpiryWarnMs = 30LL * 86'400'000;
  static constexpr int64_t kExpiryUrgentMs = 7LL * 86'400'000;
  struct ExpiryWarning {
    int64_t tenant_id = 0;
    std::string name;
    int64_t expires_at = 0;
    int stage = 0;
    bool certificate = false;  // the credential is a certificate, not a client secret
  };
  // The tenants whose secret entered a warning stage not yet warned about,
  // marked as warned in `tx` (so each stage is raised once across nodes).
  static Result<std::vector<ExpiryWarning>> TakeExpiryWarnings(Tx& tx, int64_t now_ms);

  // Memberships.
  // One query for the authorization of a tenant route: does the tenant exist,
  // and the user's role in it (nullopt: not a member).
  struct TenantAccess {
    bool tenant_exists = false;
    std::optional<std::string> role;
  };
  static Result<TenantAccess> AccessTo(Tx& tx, int64_t user_id, int64_t tenant_id);
  static Result<std::optional<std::string>> RoleOf(Tx& tx, int64_t user_id, int64_t tenant_id);
  // The last-owner rule lives here, so the API, the CLI and the demo all keep
  // it: demoting or removing a tenant's only owner is Conflict.
  static Status SetMember(Tx& tx, int64_t tenant_id, int64_t user_id, const std::string& role,
                          int64_t now_ms);
  // False when there was no such membership.
  static Result<bool> RemoveMember(Tx& tx, int64_t tenant_id, int64_t user_id);
  static Result<std::vector<Membership>> MembersOf(Tx& tx, int64_t tenant_id);
  static Result<std::vector<Membership>> MembershipsOf(Tx& tx, int64_t user_id);
  // The lowest tenant id, if there is any tenant.
  static Result<std::optional<int64_t>> FirstTenantId(Tx& tx);
};

}  // namespace ta::store
