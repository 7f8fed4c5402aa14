#include "store/onboarding.h"

#include "store/row_reader.h"

namespace ta::store {

Result<std::optional<PlatformApp>> Onboarding::App(Tx& tx) {
  auto rows = tx.Query(
      "SELECT client_id, credential_kind, sealed, certificate, updated_at FROM platform_app "
      "WHERE id = 1");
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<PlatformApp>();
  RowReader r(rows->front());
  PlatformApp a;
  a.client_id = r.Text();
  a.kind = r.Text();
  a.sealed = r.Text();
  a.certificate = r.OptText();
  a.updated_at = r.Int();
  return std::optional<PlatformApp>(std::move(a));
}

Status Onboarding::SetApp(Tx& tx, const PlatformApp& a) {
  auto n = tx.Exec(
      "INSERT INTO platform_app (id, client_id, credential_kind, sealed, certificate, updated_at) "
      "VALUES (1, $1, $2, $3, CAST($4 AS TEXT), $5) ON CONFLICT (id) DO UPDATE SET client_id = "
      "excluded.client_id, credential_kind = excluded.credential_kind, sealed = excluded.sealed, "
      "certificate = excluded.certificate, updated_at = excluded.updated_at",
      {a.client_id, a.kind, a.sealed, OptParam(a.certificate), a.updated_at});
  if (!n) return n.error();
  return Status::Ok();
}

Status Onboarding::AddState(Tx& tx, const OnboardingState& s, int64_t now_ms) {
  auto n = tx.Exec(
      "INSERT INTO onboarding_states (nonce, created_by, name, cloud, created_at, expires_at) "
      "VALUES ($1, CAST($2 AS BIGINT), CAST($3 AS TEXT), $4, $5, $6)",
      {s.nonce, OptParam(s.created_by), OptParam(s.name), s.cloud, now_ms, s.expires_at});
  if (!n) return n.error();
  return Status::Ok();
}

Result<std::optional<OnboardingState>> Onboarding::FindState(Tx& tx, const std::string& nonce) {
  auto rows = tx.Query(
      "SELECT nonce, created_by, name, cloud, expires_at, used_at FROM onboarding_states WHERE "
      "nonce = $1",
      {nonce});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<OnboardingState>();
  RowReader r(rows->front());
  OnboardingState s;
  s.nonce = r.Text();
  s.created_by = r.OptInt();
  s.name = r.OptText();
  s.cloud = r.Text();
  s.expires_at = r.Int();
  s.used_at = r.OptInt();
  return std::optional<OnboardingState>(std::move(s));
}

Result<bool> Onboarding::UseState(Tx& tx, const std::string& nonce, int64_t tenant_id,
                                  int64_t now_ms) {
  auto n = tx.Exec(
      "UPDATE onboarding_states SET used_at = $1, tenant_id = $2 WHERE nonce = $3 AND used_at IS "
      "NULL",
      {now_ms, tenant_id, nonce});
  if (!n) return Unexpected(n.error());
  return *n == 1;
}

}  // namespace ta::store
