#pragma once

// Runs in words: the tenant and object a run is about, and the sentence a
// person reads in a notification ("Restore of 26 items from “Baseline” into
// Fabrikam partially succeeded: 2 failed"). Names are looked up in the
// caller's transaction; a name that cannot be found falls back to the id.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/database.h"
#include "store/runs_repository.h"

namespace ta::runs {

struct RunWords {
  std::string tenant;          // the run's tenant (a restore's target)
  std::string subject;         // what it is about: "“Baseline” from Contoso", "“Win10 kiosk”"
  std::string source_tenant;   // restores: the backup set's tenant
  std::string backup_set;      // restores and backup sets: the set's name
};

// Words for each run, by run id (names looked up once per tenant/policy/set).
Result<std::map<int64_t, RunWords>> DescribeRuns(store::Tx& tx,
                                                 const std::vector<store::RunRecord>& runs);
Result<RunWords> DescribeRun(store::Tx& tx, const store::RunRecord& run);

// "Restore of 26 items from “Baseline” into Fabrikam partially succeeded: 2 failed".
std::string RunSentence(const store::RunRecord& run, const RunWords& words);

// Whether a run in `status` notifies a user whose preference is `preference`
// (store::IsNotifyPreference). A run started by a schedule (no person waiting
// for it) notifies only when it fails or partially succeeds.
bool ShouldNotify(std::string_view preference, store::RunStatus status, bool scheduled);

}  // namespace ta::runs
