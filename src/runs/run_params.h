#pragma once

// The typed parameters of each operation: written by its start function (the
// job's payload) and read back by its handler. Parse is strict: a missing or
// mistyped field is an InvalidArgument naming it ("payload.policy_id: ..."),
// so a key renamed on one side fails loudly instead of reading as a default.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ta::runs {

struct CaptureParams {
  int64_t policy_id = 0;
  std::string ToJson() const;
  static Result<CaptureParams> Parse(std::string_view payload);
};

struct BackupSetParams {
  std::string name;
  std::optional<std::vector<int64_t>> policy_ids;  // nullopt: every policy not gone
  std::optional<int64_t> user_id;
  // A scheduled backup (schedule.backup) syncs the inventory first, then
  // captures every policy; it names the schedule and slot that started it.
  bool sync_first = false;
  std::optional<int64_t> schedule_id, slot_at;
  // Then compares the new set with the tenant's baseline (drift findings).
  bool detect_drift = false;
  std::string ToJson() const;
  static Result<BackupSetParams> Parse(std::string_view payload);
};

// drift.detect: sync, capture every policy, compare with the baseline.
struct DriftParams {
  std::optional<int64_t> user_id;
  std::optional<int64_t> schedule_id, slot_at;  // when a schedule started it
  std::string ToJson() const;
  static Result<DriftParams> Parse(std::string_view payload);
};

struct RestoreParams {
  int64_t source_tenant_id = 0;
  int64_t backup_set_id = 0;
  std::optional<std::vector<int64_t>> item_ids;  // nullopt: every item of the set
  std::map<std::string, std::string> group_mapping;
  int64_t user_id = 0;
  // "report_only" (a conditional access policy is created in report-only
  // state) or "as_backed_up".
  std::string conditional_access_state = "report_only";
  std::string ToJson() const;
  static Result<RestoreParams> Parse(std::string_view payload);
};

bool ValidConditionalAccessState(std::string_view v);

}  // namespace ta::runs
