#pragma once

// Schedules as users manage them (API and CLI): validation that names the
// field, who may see and change which schedule, the audit trail, and the
// JSON view with the next fire times.
//
// Who: a schedule over every tenant, or over a tag, is fleet configuration
// and needs a platform admin. One over a list of tenants may be managed by a
// user who is operator or owner in each of them, and seen by a user who is a
// member of each.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.h"
#include "core/result.h"
#include "schedule/retention.h"
#include "store/accounts.h"
#include "store/database.h"
#include "store/schedules.h"

namespace ta::schedule {

struct ScheduleInput {
  std::string name;
  std::string cron;
  std::string time_zone;
  std::optional<std::vector<int64_t>> tenant_ids;  // nullopt = every tenant
  std::optional<std::string> tag;
  std::string operation = "backup";
  int64_t jitter_seconds = 0;
  bool enabled = true;
  RetentionRule retention;  // of the sets this schedule makes; none: keep all
};

// The operations a schedule can start.
bool IsScheduleOperation(std::string_view op);
inline constexpr int64_t kMaxJitterSeconds = 6 * 3600;

// The command line acts as a platform admin with no user (id 0): its
// schedules have no creator, and its audit entries no actor.
store::User CommandLineActor();

class ScheduleService {
 public:
  ScheduleService(store::Database& db, Clock& clock) : db_(db), clock_(clock) {}

  Result<store::ScheduleRecord> Create(const store::User& actor, const ScheduleInput& in);
  // A changed cron, time zone or a re-enable starts counting slots from now
  // (no catch-up for slots of the old definition or of the disabled time).
  Result<store::ScheduleRecord> Update(const store::User& actor, int64_t id,
                                       const ScheduleInput& in);
  Status Delete(const store::User& actor, int64_t id);
  Result<std::vector<store::ScheduleRecord>> List(const store::User& actor);
  Result<store::ScheduleRecord> Get(const store::User& actor, int64_t id);
  // Newest first, with each slot's fires.
  Result<nlohmann::json> SlotsJson(const store::User& actor, int64_t id, int64_t limit);

  // The schedule with "next" (the next `n` fire times: "at" in UTC and
  // "local" in its zone) and "targets" (how many tenants it covers now).
  Result<nlohmann::json> Json(const store::ScheduleRecord& s, size_t n);

 private:
  Status Validate(store::Tx& tx, const ScheduleInput& in);
  Status CheckManage(store::Tx& tx, const store::User& actor,
                     const std::optional<std::vector<int64_t>>& tenant_ids);

  store::Database& db_;
  Clock& clock_;
};

// Next `n` fire times of a cron expression in a zone (for a form that shows
// them while it is typed): [{"at", "local"}]; InvalidArgument naming the field.
Result<nlohmann::json> PreviewJson(const std::string& cron, const std::string& time_zone,
                                   Clock::TimePoint now, size_t n);

}  // namespace ta::schedule
