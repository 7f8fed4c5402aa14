#include "store/notifications.h"

#include "store/row_reader.h"
#include "store/sql_text.h"

namespace ta::store {

namespace {

constexpr const char* kInsert =
    "INSERT INTO notifications (user_id, tenant_id, run_id, level, title, body, action, "
    "created_at) VALUES ";
constexpr const char* kRow = "($1, $2, $3, $4, $5, $6, $7, $8)";
constexpr size_t kRowParams = 8;

void AppendInsertParams(Params& p, const Notification& n) {
  p.insert(p.end(), {n.user_id, n.tenant_id, OptParam(n.run_id), n.level, n.title, n.body,
                     OptParam(n.action), n.created_at});
}

}  // namespace

Result<int64_t> NotificationsRepository::Insert(Tx& tx, const Notification& n) {
  if (n.run_id) {  // one per (user, run): the newer status replaces the older
    auto gone = tx.Exec("DELETE FROM notifications WHERE user_id = $1 AND run_id = $2",
                        {n.user_id, *n.run_id});
    if (!gone) return Unexpected(gone.error());
  }
  Params params;
  AppendInsertParams(params, n);
  auto rows = tx.Query(std::string(kInsert) + kRow + " RETURNING id", params);
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Status NotificationsRepository::InsertFirst(Tx& tx, const std::vector<Notification>& ns) {
  if (ns.empty()) return Status::Ok();
  Params params;
  params.reserve(ns.size() * kRowParams);
  for (const auto& n : ns) AppendInsertParams(params, n);
  return tx.Defer(kInsert + ValuesRows(ns.size(), kRow, kRowParams), params);
}

Result<std::vector<Notification>> NotificationsRepository::ForUser(Tx& tx, int64_t user_id,
                                                                   int64_t limit) {
  Filter f;
  f.limit = limit;
  return List(tx, user_id, f);
}

Result<std::vector<Notification>> NotificationsRepository::List(Tx& tx, int64_t user_id,
                                                                const Filter& f) {
  const bool ascending = f.after_id.has_value();
  auto rows = tx.Query(
      std::string("SELECT id, user_id, tenant_id, run_id, level, title, body, action, read_at, "
                  "created_at FROM notifications WHERE user_id = $1 AND ($2 = 0 OR read_at IS "
                  "NULL) AND (CAST($3 AS BIGINT) IS NULL OR id < $3) AND (CAST($4 AS BIGINT) IS "
                  "NULL OR id > $4) ORDER BY id ") +
          (ascending ? "ASC" : "DESC") + " LIMIT $5",
      {user_id, int64_t{f.unread_only ? 1 : 0}, f.before_id ? Param(*f.before_id) : Param(nullptr),
       f.after_id ? Param(*f.after_id) : Param(nullptr), f.limit});
  if (!rows) return Unexpected(rows.error());
  std::vector<Notification> out;
  for (const auto& r : *rows) {
    out.push_back(Notification{r.Int(0), r.Int(1), r.Int(2), r.OptInt(3), r.Text(4), r.Text(5),
                               r.Text(6), r.OptText(7), r.OptInt(8), r.Int(9)});
  }
  return out;
}

Result<int64_t> NotificationsRepository::UnreadCount(Tx& tx, int64_t user_id) {
  auto rows = tx.Query("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
                       {user_id});
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Result<int64_t> NotificationsRepository::MaxId(Tx& tx, int64_t user_id) {
  auto rows =
      tx.Query("SELECT COALESCE(MAX(id), 0) FROM notifications WHERE user_id = $1", {user_id});
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Result<int64_t> NotificationsRepository::MaxIdOfAll(Tx& tx) {
  auto rows = tx.Query("SELECT COALESCE(MAX(id), 0) FROM notifications");
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Result<std::vector<std::pair<int64_t, int64_t>>> NotificationsRepository::NewestPerUserAfter(
    Tx& tx, int64_t after_id) {
  return QueryAll(tx, "SELECT user_id, MAX(id) FROM notifications WHERE id > $1 GROUP BY user_id",
                  {after_id}, [](const Row& row) {
                    RowReader r(row);
                    const int64_t user = r.Int();
                    return std::pair<int64_t, int64_t>(user, r.Int());
                  });
}

Status NotificationsRepository::MarkRead(Tx& tx, int64_t user_id, int64_t id, int64_t now_ms) {
  auto n = tx.Exec(
      "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3",
      {now_ms, id, user_id});
  if (!n) return n.error();
  if (*n == 1) return Status::Ok();
  auto other = tx.Query("SELECT 1 FROM notifications WHERE id = $1", {id});
  if (!other) return other.error();
  const std::string name = "notification: " + std::to_string(id);
  return other->empty() ? Status::NotFound(name + " does not exist")
                        : Status::PermissionDenied(name + " belongs to another user");
}

Result<int64_t> NotificationsRepository::MarkAllRead(Tx& tx, int64_t user_id, int64_t now_ms) {
  return tx.Exec("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
                 {now_ms, user_id});
}

}  // namespace ta::store
