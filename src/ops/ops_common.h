#pragma once

// What the operation handlers share beyond a run's item progress (which
// lives in runs/item_progress.h, imported here): Graph failures as item
// outcomes, and the abort check a job's Graph calls run under.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/graph_client.h"
#include "graph/graph_error.h"
#include "runs/item_progress.h"

namespace ta::ops {

using runs::CancelRemaining;
using runs::Done;
using runs::ExistingItems;
using runs::FailedItem;
using runs::Finish;
using runs::ItemMap;
using runs::ItemNotRecorded;
using runs::JobFailure;
using runs::Next;
using runs::NowMs;
using runs::Record;
using runs::RecordItem;
using runs::SetTotal;

// The directory lists an inventory sync reads (policies refer to these
// objects): the item ref, the Graph path, the field references use as the id,
// and the kind stored.
struct DirectoryList {
  const char* ref;
  const char* path;
  const char* id_field;
  const char* kind;
};
inline constexpr DirectoryList kDirectory[] = {
    {"groups", "groups?$select=id,displayName", "id", "group"},
    {"users", "users?$select=id,displayName", "id", "user"},
    // Conditional access names an application by its appId.
    {"applications", "servicePrincipals?$select=appId,displayName", "appId", "application"},
    // ... and a directory role by its template id.
    {"directoryRoles", "roleManagement/directory/roleDefinitions?$select=templateId,displayName",
     "templateId", "directoryRole"},
};

// A failed item from a Graph error: code, redacted message.
store::RunItem FailedItem(const std::string& ref, const std::string& action,
                          const graph::GraphError& e);

// An item's Graph call failed with `e`. A long throttle (e.retry_after)
// snoozes the job for that long, recording nothing. A call aborted by a cancel is recorded
// as skipped (a write already sent: failed, `cancelled_mid_write`, since Graph may
// have carried it out) and ends the run as cancelled (the rest skipped too); one aborted
// by shutdown records nothing (the resumed job redoes the item) and releases
// the job. Any other failure is the item's outcome: recorded as failed.
Next GraphFailed(jobs::JobContext& ctx, const std::vector<std::string>& refs,
                 const std::string& ref, const std::string& action, const graph::GraphError& e);

// Reading `collection` with a token granting `roles`: nullopt when it may
// (or when the roles are not known), else the permission it lacks.
std::optional<std::string> MissingReadPermission(
    const std::optional<std::vector<std::string>>& roles, std::string_view collection);
// The outcome of an item the tenant's app has no permission for: skipped,
// `missing_permission`, naming the permission to grant (not a failure: the
// run goes on with what it may read).
store::RunItem MissingPermissionItem(const std::string& ref, const std::string& action,
                                     const std::string& what, const std::string& permission);
// The token's roles for a job (nullopt when unknown: then each call's 403 tells).
std::optional<std::vector<std::string>> GrantedRoles(graph::GraphReader& reader);

// Runs one(0) .. one(count - 1), `concurrency` at a time (Graph latency, not
// one loop, then bounds a run; the tenant's limiter keeps the total within
// Intune's limits). The first call that ends the attempt (a store fault, a
// cancel, shutdown) stops the others; a cancel or shutdown seen between calls
// ends it too (the rest of `refs` skipped, or the job handed back). nullopt:
// every call went on.
Next ForEachConcurrently(jobs::JobContext& ctx, const std::vector<std::string>& refs,
                         size_t count, size_t concurrency, const std::function<Next(size_t)>& one);

// The AbortCheck a job's Graph calls run under (JobContext::AbortRequested).
graph::AbortCheck AbortFor(jobs::JobContext& ctx);

}  // namespace ta::ops
