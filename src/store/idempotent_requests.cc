#include "store/idempotent_requests.h"

#include "store/row_reader.h"

namespace ta::store {

Result<std::optional<StoredResponse>> IdempotentRequests::Find(Tx& tx, int64_t user_id,
                                                               const std::string& key,
                                                               int64_t fresh_after_ms) {
  auto rows = tx.Query(
      "SELECT request_hash, status, location, body FROM idempotent_requests WHERE user_id = $1 "
      "AND idem_key = $2 AND created_at > $3",
      {user_id, key, fresh_after_ms});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<StoredResponse>();
  RowReader r(rows->front());
  StoredResponse s;
  s.request_hash = r.Text();
  s.status = static_cast<int>(r.Int());
  s.location = r.OptText();
  s.body = r.Text();
  return std::optional<StoredResponse>(std::move(s));
}

Result<std::optional<StoredResponse>> IdempotentRequests::Keep(Tx& tx, int64_t user_id,
                                                               const std::string& key,
                                                               const StoredResponse& response,
                                                               int64_t fresh_after_ms,
                                                               int64_t now_ms) {
  auto del = tx.Exec(
      "DELETE FROM idempotent_requests WHERE user_id = $1 AND idem_key = $2 AND created_at <= $3",
      {user_id, key, fresh_after_ms});
  if (!del) return Unexpected(del.error());
  auto ins = tx.Exec(
      "INSERT INTO idempotent_requests (user_id, idem_key, request_hash, status, location, body, "
      "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, idem_key) DO NOTHING",
      {user_id, key, response.request_hash, int64_t{response.status},
       response.location ? Param(*response.location) : Param(nullptr), response.body, now_ms});
  if (!ins) return Unexpected(ins.error());
  if (*ins == 1) return std::optional<StoredResponse>();
  return Find(tx, user_id, key, fresh_after_ms);
}

}  // namespace ta::store
