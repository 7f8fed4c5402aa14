#pragma once

// Acting on drift findings (Graph-free, so the API can call it): accepting
// one makes the live state the baseline; reverting one starts the normal
// restore preview of the object from the baseline.

#include <cstdint>
#include <optional>

#include <nlohmann/json_fwd.hpp>

#include "runs/run_service.h"
#include "store/drift.h"

namespace ta::runs {

// The finding as the API shows it (diff parsed, times ISO 8601).
nlohmann::json DriftFindingJson(const store::DriftFinding& f);

// Accepts an open finding: a new baseline (the tenant's current one with the
// object's live state; see store::Drift::AcceptIntoBaseline), the finding
// closed as accepted, and an audit entry, in one transaction.
Result<store::DriftFinding> AcceptDrift(store::Database& db, int64_t tenant_id,
                                        int64_t finding_id, std::optional<int64_t> user_id,
                                        int64_t now_ms);

// Reverts an open finding: starts (or reuses) the restore preview of the
// object's item in the baseline it was compared with, and records that run on
// the finding, which stays open until a drift run sees the object match the
// baseline again (it then closes as reverted). An added object has nothing
// to restore (FailedPrecondition).
Result<StartResult> RevertDrift(RunService& runs, store::Database& db, int64_t tenant_id,
                                int64_t finding_id, int64_t user_id, int64_t now_ms);

}  // namespace ta::runs
