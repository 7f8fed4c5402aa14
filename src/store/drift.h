#pragma once

// Drift findings and baselines. A finding is one object of a tenant whose
// live state differs from the tenant's baseline (added, removed or changed);
// at most one is open per object, and closed ones are its history. Every
// query is scoped by tenant; all functions run inside the caller's Tx.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct DriftFinding {
  int64_t id = 0, tenant_id = 0;
  std::string type, graph_id, display_name;
  std::string kind;    // added | removed | changed
  std::string status;  // open | accepted | reverted | resolved
  std::optional<int64_t> baseline_set_id, baseline_item_id, live_version_id;
  std::string diff = "[]";  // JSON [{path, before (baseline), after (live)}]
  std::string actor = "unknown", actor_detail;
  std::optional<int64_t> changed_at;
  int64_t first_run_id = 0, last_run_id = 0, first_seen_at = 0, last_seen_at = 0;
  std::optional<int64_t> closed_at, closed_by, revert_run_id, accepted_set_id;
  std::optional<std::string> close_note;
};

// An object's live state as a drift run captured it (its policy's newest version).
struct LiveObject {
  int64_t policy_id = 0, version_id = 0;
  std::string type, graph_id, display_name, content_hash;
};

class Drift {
 public:
  // The set drift compares the tenant with: the one pinned as baseline, else
  // the newest complete one (a successful backup or an accepted baseline)
  // made before `before_ms` and other than `exclude_set`. nullopt: none yet.
  static Result<std::optional<int64_t>> BaselineSet(Tx& tx, int64_t tenant_id,
                                                    std::optional<int64_t> before_ms,
                                                    std::optional<int64_t> exclude_set);
  // Pins (or unpins) the set as the tenant's baseline; pinning unpins any other.
  static Status SetBaseline(Tx& tx, int64_t tenant_id, int64_t set_id, bool baseline);
  // Every policy of the tenant that exists in Intune and was captured, with its newest version.
  static Result<std::vector<LiveObject>> LiveObjects(Tx& tx, int64_t tenant_id);
  // A version's payload and assignments (JSON text).
  static Result<std::pair<std::string, std::string>> VersionContent(Tx& tx, int64_t tenant_id,
                                                                    int64_t version_id);

  // Records a finding seen by a run: updates the object's open finding (its
  // first sighting kept), or opens one. Returns whether it was newly opened.
  static Result<bool> Record(Tx& tx, const DriftFinding& f);
  // Closes the tenant's open findings on objects not in `still_drifted`
  // (type + '\n' + graph_id): the object matches the baseline again. One
  // with a revert started closes as reverted, others as resolved. Returns how many.
  static Result<int64_t> ResolveOthers(Tx& tx, int64_t tenant_id,
                                       const std::vector<std::string>& still_drifted,
                                       int64_t run_id, int64_t now_ms);
  // Newest first; status "" = all; `before_id` is the cursor.
  static Result<std::vector<DriftFinding>> List(Tx& tx, int64_t tenant_id,
                                                const std::string& status,
                                                std::optional<int64_t> before_id, int64_t limit);
  // The object's findings, newest first (its history).
  static Result<std::vector<DriftFinding>> History(Tx& tx, int64_t tenant_id,
                                                   const std::string& type,
                                                   const std::string& graph_id);
  // PermissionDenied when it is another tenant's, NotFound when none.
  static Result<DriftFinding> Get(Tx& tx, int64_t tenant_id, int64_t finding_id);
  static Result<int64_t> CountOpen(Tx& tx, int64_t tenant_id);
  // Closes an open finding (FailedPrecondition when it is not open).
  static Status Close(Tx& tx, int64_t tenant_id, int64_t finding_id, const std::string& status,
                      std::optional<int64_t> user_id, int64_t now_ms, const std::string& note,
                      std::optional<int64_t> revert_run_id, std::optional<int64_t> accepted_set_id);
  // A revert started the restore preview `run_id` for the open finding.
  static Status SetRevertRun(Tx& tx, int64_t tenant_id, int64_t finding_id, int64_t run_id);
  // Accepting a finding: a new set copying `from_set`'s items, with the
  // object's item replaced by its live version (changed, added) or left out
  // (removed). It is the tenant's baseline from now on (pinned as baseline
  // when `from_set` was). Returns its id.
  static Result<int64_t> AcceptIntoBaseline(Tx& tx, const DriftFinding& f, int64_t from_set,
                                            std::optional<int64_t> user_id, int64_t now_ms);
};

}  // namespace ta::store
