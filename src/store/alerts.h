#pragma once

// Alert channels and their delivery log. Channels belong to a tenant or are
// global (tenant_id nullopt). The signing secret is stored sealed and read
// only by the sender.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct AlertChannel {
  int64_t id = 0;
  std::optional<int64_t> tenant_id;  // nullopt: every tenant (platform admins)
  std::string name;
  std::string kind;    // webhook | chat | email
  std::string target;  // URL, or recipients
  std::optional<std::string> secret_enc;
  std::vector<std::string> events;
  bool enabled = true;
  std::optional<std::string> disabled_reason;
  int64_t consecutive_failures = 0;
  std::optional<int64_t> created_by;
  int64_t created_at = 0, updated_at = 0;
};

struct AlertDelivery {
  int64_t id = 0;
  int64_t channel_id = 0;
  std::optional<int64_t> tenant_id;
  std::string event;
  std::string payload;
  std::string status = "pending";  // pending | delivered | failed
  int64_t attempts = 0;
  std::optional<std::string> last_error;
  int64_t created_at = 0;
  std::optional<int64_t> finished_at;
};

class Alerts {
 public:
  static Result<int64_t> CreateChannel(Tx& tx, const AlertChannel& c);
  // Name, target, events, enabled (re-enabling clears the failure count).
  static Status UpdateChannel(Tx& tx, const AlertChannel& c);
  static Status DeleteChannel(Tx& tx, int64_t id);
  static Result<AlertChannel> Channel(Tx& tx, int64_t id);  // NotFound
  // The channels of these tenants and, with `global`, the global ones;
  // with `all`, every channel.
  static Result<std::vector<AlertChannel>> Channels(Tx& tx, const std::vector<int64_t>& tenants,
                                                    bool global, bool all = false);
  // Enabled channels that take `event` for `tenant` (its own and global ones).
  static Result<std::vector<AlertChannel>> Subscribed(Tx& tx, int64_t tenant,
                                                      const std::string& event);

  static Result<int64_t> AddDelivery(Tx& tx, const AlertDelivery& d);
  static Result<std::optional<AlertDelivery>> Delivery(Tx& tx, int64_t id);
  // Newest first.
  static Result<std::vector<AlertDelivery>> Deliveries(Tx& tx, int64_t channel_id, int64_t limit);
  // An attempt's outcome: delivered (resets the channel's failure count),
  // or failed for good (counts one failure; at `disable_after` in a row the
  // channel is switched off with `reason`), or still pending (an attempt
  // that will be retried: only attempts and last_error change).
  static Status RecordAttempt(Tx& tx, int64_t delivery_id, const std::string& status,
                              const std::optional<std::string>& error, int64_t now_ms,
                              int64_t disable_after);
};

}  // namespace ta::store
