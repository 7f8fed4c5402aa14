#pragma once

// Tenancy: tenants, their Microsoft app credentials, who may do what in them
// (memberships, with the last-owner rule) and API tokens. One home for these
// rules: the API, the CLI and the demo are thin callers that parse their own
// input and render their own output.
//
// Every function works inside the caller's transaction (so a handler can read
// back what it changed in the same one) and appends its own audit entry there:
// the change and its record commit or roll back together.

#include <cstdint>
#include <optional>
#include <string>

#include "core/certificate.h"
#include "core/result.h"
#include "core/secret_box.h"
#include "store/database.h"

namespace ta::tenancy {

// Who makes a change, as the audit log records it.
struct Actor {
  std::optional<int64_t> user_id;  // nullopt: the command line or the demo
  std::string via;                 // "api", "cli" or "demo"
  int64_t now_ms = 0;
};

struct AppCredentials {
  std::string entra_tenant_id, client_id, client_secret;
  // When the secret expires, as Entra showed it when it was made (ms);
  // nullopt: unknown until a connection check reads it from Graph.
  std::optional<int64_t> secret_expires_at = std::nullopt;
  // Where the tenant's directory lives (core/cloud.h): its authority and Graph.
  std::string cloud = "global";
};

// A secret's expiry as the tenant page and the portfolio show it: "expired",
// "expiring" (within 30 days), "valid", or "unknown" (no date known).
std::string CredentialExpiry(std::optional<int64_t> expires_at, int64_t now_ms);
// "the client secret expires on 2027-06-30 (in 10 days)" / "... expired on ...";
// "the certificate ..." for a certificate.
std::string ExpiryPhrase(int64_t expires_at, int64_t now_ms, bool certificate = false);

// The credentials' shape: every field present, the directory id a GUID or a
// domain. The error names the field (as the API spells it) and the fix.
Status ValidateCredentials(const AppCredentials& c);
// The directory id (a GUID or a domain; may be "" unless required) and the
// cloud's name.
Status ValidateDirectory(const std::string& entra_tenant_id, const std::string& cloud,
                         bool entra_required = true);

Result<int64_t> CreateUser(store::Tx& tx, const Actor& actor, const std::string& email,
                           const std::string& name, const std::string& password_hash,
                           bool platform_admin);

// A new tenant; with `owner`, that user owns it (so someone can manage it).
Result<int64_t> CreateTenant(store::Tx& tx, const Actor& actor, const std::string& name,
                             std::optional<int64_t> owner);

// Seals the client secret under `box` and stores the credentials. The audit
// entry names the directory and client id, never the secret.
Status SetCredentials(store::Tx& tx, const Actor& actor, int64_t tenant,
                      const AppCredentials& credentials, const SecretBox& box);

// Certificate credentials: a new RSA 2048 key pair and a self-signed
// certificate valid `valid_days` (1..730), the key sealed under `box`, the
// certificate's end stored as the credential's expiry. The app's client
// secret in `app` is ignored. Returns the certificate to upload to the app
// registration in Entra; the private key never leaves the store.
struct IssuedCertificate {
  std::string certificate_pem;
  CertificateInfo info;
};
Result<IssuedCertificate> SetCertificateCredentials(store::Tx& tx, const Actor& actor,
                                                    int64_t tenant, const AppCredentials& app,
                                                    int valid_days, const SecretBox& box);

// Gives `user` `role` (owner, operator or readonly) in `tenant`. Demoting the
// tenant's last owner is Conflict.
Status SetMember(store::Tx& tx, const Actor& actor, int64_t tenant, int64_t user,
                 const std::string& role);
// NotFound when `user` is not a member; removing the last owner is Conflict.
Status RemoveMember(store::Tx& tx, const Actor& actor, int64_t tenant, int64_t user);

// A token for `user`; only `secret_hash` is stored (the secret is shown once
// by the caller).
Result<int64_t> CreateToken(store::Tx& tx, const Actor& actor, int64_t user,
                            const std::string& name, const std::string& secret_hash,
                            std::optional<int64_t> expires_at_ms);
// With `owner`, only that user's token may be revoked (PermissionDenied
// otherwise); the command line passes nullopt.
Status RevokeToken(store::Tx& tx, const Actor& actor, int64_t token_id,
                   std::optional<int64_t> owner);

}  // namespace ta::tenancy
