#include "store/notifications.h"

namespace ta::store {

Result<int64_t> NotificationsRepository::Insert(Tx& tx, const Notification& n) {
  auto rows = tx.Query(
      "INSERT INTO notifications (user_id, tenant_id, run_id, level, title, body, action, "
      "created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
      {n.user_id, n.tenant_id, n.run_id ? Param(*n.run_id) : Param(nullptr), n.level, n.title,
       n.body, n.action ? Param(*n.action) : Param(nullptr), n.created_at});
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Result<std::vector<Notification>> NotificationsRepository::ForUser(Tx& tx, int64_t user_id,
                                                                   int64_t limit) {
  auto rows = tx.Query(
      "SELECT id, user_id, tenant_id, run_id, level, title, body, action, read_at, created_at "
      "FROM notifications WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
      {user_id, limit});
  if (!rows) return Unexpected(rows.error());
  std::vector<Notification> out;
  for (const auto& r : *rows) {
    out.push_back(Notification{r.Int(0), r.Int(1), r.Int(2), r.OptInt(3), r.Text(4), r.Text(5),
                               r.Text(6), r.OptText(7), r.OptInt(8), r.Int(9)});
  }
  return out;
}

}  // namespace ta::store
