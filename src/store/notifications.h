#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct Notification {
  int64_t id = 0;
  int64_t user_id = 0;
  int64_t tenant_id = 0;
  std::optional<int64_t> run_id;
  std::string level;  // info | success | warning | error
  std::string title;
  std::string body;
  std::optional<std::string> action;  // JSON {"label":"View run","url":"/runs/7"}
  std::optional<int64_t> read_at;
  int64_t created_at = 0;
};

class NotificationsRepository {
 public:
  // A run's notification replaces the user's earlier one for the same run
  // (one entry per run, unread again, with a new id so streams see it).
  static Result<int64_t> Insert(Tx& tx, const Notification& n);
  // The first notifications of runs made in this transaction, in one
  // statement: there is none to replace and no caller needs the ids, so the
  // insert is deferred (Tx::Defer) and travels with the commit on PostgreSQL.
  static Status InsertFirst(Tx& tx, const std::vector<Notification>& ns);
  static Result<std::vector<Notification>> ForUser(Tx& tx, int64_t user_id, int64_t limit = 100);

  struct Filter {
    bool unread_only = false;
    std::optional<int64_t> before_id;  // newest first, ids below this
    std::optional<int64_t> after_id;   // or oldest first, ids above this (streams)
    int64_t limit = 50;
  };
  static Result<std::vector<Notification>> List(Tx& tx, int64_t user_id, const Filter& filter);
  static Result<int64_t> UnreadCount(Tx& tx, int64_t user_id);
  static Result<int64_t> MaxId(Tx& tx, int64_t user_id);
  static Result<int64_t> MaxIdOfAll(Tx& tx);
  // The users with a notification newer than `after_id`, with their newest id
  // (a range scan of the primary key): what the stream hub looks at each tick.
  static Result<std::vector<std::pair<int64_t, int64_t>>> NewestPerUserAfter(Tx& tx,
                                                                             int64_t after_id);
  // NotFound when it does not exist; PermissionDenied when it is another user's.
  static Status MarkRead(Tx& tx, int64_t user_id, int64_t id, int64_t now_ms);
  static Result<int64_t> MarkAllRead(Tx& tx, int64_t user_id, int64_t now_ms);
};

}  // namespace ta::store
