#include "store/key_rotations.h"

#include "store/row_reader.h"

namespace ta::store {

const std::vector<SealedPlace>& SealedPlaces() {
  static const std::vector<SealedPlace> kPlaces = {
      {"tenants", "client_secret_enc", false},    // client secrets and private keys
      {"platform_app", "sealed", false},          // the MSP's multi-tenant app's
      {"alert_channels", "secret_enc", false},    // webhook signing secrets
      {"policy_versions", "payload", true},       // encrypted OMA-URI values as captured
      {"backup_items", "payload", true},          // the same, in backup sets
  };
  return kPlaces;
}

namespace {

KeyRotation ReadRotation(const Row& row) {
  RowReader r(row);
  KeyRotation k;
  k.id = r.Int();
  k.to_key = r.Text();
  k.started_at = r.Int();
  k.finished_at = r.OptInt();
  k.progress = r.Text();
  return k;
}

constexpr const char* kColumns = "id, to_key, started_at, finished_at, progress";

}  // namespace

Result<std::optional<KeyRotation>> KeyRotations::Latest(Tx& tx) {
  auto rows = tx.Query(std::string("SELECT ") + kColumns +
                       " FROM key_rotations ORDER BY id DESC LIMIT 1");
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<KeyRotation>();
  return std::optional<KeyRotation>(ReadRotation(rows->front()));
}

Result<KeyRotation> KeyRotations::Start(Tx& tx, const std::string& to_key, int64_t now_ms) {
  auto latest = Latest(tx);
  if (!latest) return Unexpected(latest.error());
  if (*latest && !(*latest)->finished_at) {
    if ((*latest)->to_key == to_key) return **latest;
    return Unexpected(Status::FailedPrecondition(
        "a rotation to key " + (*latest)->to_key +
        " is unfinished; run `tenantatlas keys rotate` with that key's file to finish it first"));
  }
  auto rows = tx.Query(std::string("INSERT INTO key_rotations (to_key, started_at) VALUES ($1, "
                                   "$2) RETURNING ") + kColumns,
                       {to_key, now_ms});
  if (!rows) return Unexpected(rows.error());
  return ReadRotation(rows->front());
}

Result<std::vector<std::pair<int64_t, std::string>>> KeyRotations::Batch(Tx& tx,
                                                                        const SealedPlace& p,
                                                                        int64_t after_id,
                                                                        int limit) {
  const std::string col(p.column);
  auto rows = tx.Query("SELECT id, " + col + " FROM " + std::string(p.table) + " WHERE id > $1 AND " +
                           col + " IS NOT NULL ORDER BY id LIMIT $2",
                       {after_id, int64_t{limit}});
  if (!rows) return Unexpected(rows.error());
  std::vector<std::pair<int64_t, std::string>> out;
  for (const auto& row : *rows) {
    RowReader r(row);
    const int64_t id = r.Int();
    out.emplace_back(id, r.Text());
  }
  return out;
}

Result<bool> KeyRotations::Replace(Tx& tx, const SealedPlace& p, int64_t id,
                                   const std::string& expected, const std::string& value) {
  const std::string col(p.column);
  auto n = tx.Exec("UPDATE " + std::string(p.table) + " SET " + col + " = $1 WHERE id = $2 AND " +
                       col + " = $3",
                   {value, id, expected});
  if (!n) return Unexpected(n.error());
  return *n == 1;
}

Result<int64_t> KeyRotations::Count(Tx& tx, const SealedPlace& p) {
  auto rows = tx.Query("SELECT COUNT(*) FROM " + std::string(p.table) + " WHERE " +
                       std::string(p.column) + " IS NOT NULL");
  if (!rows) return Unexpected(rows.error());
  return RowReader(rows->front()).Int();
}

Status KeyRotations::SaveProgress(Tx& tx, int64_t rotation_id, const std::string& progress) {
  auto n = tx.Exec("UPDATE key_rotations SET progress = $1 WHERE id = $2", {progress, rotation_id});
  if (!n) return n.error();
  return Status::Ok();
}

Status KeyRotations::Finish(Tx& tx, int64_t rotation_id, int64_t now_ms) {
  auto n = tx.Exec("UPDATE key_rotations SET finished_at = $1 WHERE id = $2", {now_ms, rotation_id});
  if (!n) return n.error();
  return Status::Ok();
}

}  // namespace ta::store
