#pragma once

// The portfolio: every tenant the user belongs to with its last successful
// backup and its age, the next scheduled backup, failed runs in the last
// 24 h and credential health; searchable, sortable and paged.

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.h"
#include "core/result.h"
#include "store/accounts.h"
#include "store/database.h"

namespace ta::schedule {

struct PortfolioQuery {
  std::string q;                // any part of the name or a tag
  bool attention_only = false;  // no backup in 48 h, failures, or credentials not ok
  std::string sort = "name";  // name | last_backup | failed_runs | drift | next_backup | credentials
  bool descending = false;
  int64_t offset = 0, limit = 50;
};

// {"items": [...], "total", "next_cursor"}; each item {tenant_id, name, tags,
// last_backup: {at, age_seconds, backup_set_id} | null, next_backup: {at,
// schedule} | null, failed_runs_24h, open_drift_findings, credentials: missing | expired |
// failing | expiring | unchecked | ok (the worst that is true), credential_expires_at,
// attention: [reasons]}.
Result<nlohmann::json> PortfolioJson(store::Database& db, Clock& clock, const store::User& user,
                                     const PortfolioQuery& query);

}  // namespace ta::schedule
