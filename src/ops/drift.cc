// drift.detect, and the drift comparison a scheduled backup can end with:
// the tenant's live state against its baseline, as findings (added, removed,
// changed, with a field diff), each naming who changed the object and when
// from Intune's audit log (deviceManagement/auditEvents), or "unknown".
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "core/log.h"
#include "notify/alerts.h"
#include "ops/capture.h"
#include "ops/handlers.h"
#include "runs/run_params.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/drift.h"

namespace ta::ops {

using nlohmann::json;

namespace {

std::string Key(const std::string& type, const std::string& graph_id) {
  return type + "\n" + graph_id;
}

constexpr const char* kNoBaseline =
    "the tenant has no complete backup to compare with: take a backup (or pin one as the "
    "baseline) and detect drift again";

struct Actor {
  std::string who = "unknown", detail;
  std::optional<int64_t> at;
};

// The newest change to the object in Intune's audit log since `since_ms`.
graph::GraphResult<Actor> LookUpActor(graph::GraphReader& reader, const std::string& graph_id,
                                      int64_t since_ms) {
  std::string quoted;  // an OData string literal doubles its quotes
  for (char c : graph_id) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  const std::string filter = "activityDateTime ge " + FormatIso8601(since_ms) +
                             " and resources/any(r:r/resourceId eq '" + quoted + "')";
  // The client encodes query values.
  auto events = graph::ListAll(reader, "deviceManagement/auditEvents?$filter=" + filter);
  if (!events) return graph::GraphFailure(events.error());
  Actor a;
  std::string newest;
  for (const auto& e : *events) {
    const std::string when = e.value("activityDateTime", "");
    if (when < newest || e.value("activityResult", "Success") != "Success") continue;
    newest = when;
    const json actor = e.value("actor", json::object());
    auto text = [&](const char* k) {
      return actor.contains(k) && actor[k].is_string() ? actor[k].get<std::string>() : "";
    };
    if (!text("userPrincipalName").empty()) {
      a.who = text("userPrincipalName");
    } else if (!text("applicationDisplayName").empty()) {
      a.who = text("applicationDisplayName") + " (application)";
    } else if (!text("servicePrincipalName").empty()) {
      a.who = text("servicePrincipalName") + " (application)";
    } else {
      a.who = "unknown";
    }
    a.detail = e.value("activityType", e.value("activity", std::string("change"))) + " at " + when;
    a.at = ParseIso8601(when);
  }
  if (newest.empty())
    a.detail = "Intune's audit log has no change to this object since " + FormatIso8601(since_ms);
  return a;
}

}  // namespace

Next DetectDrift(jobs::JobContext& ctx, graph::GraphReader& reader,
                 std::optional<int64_t> live_set, const std::vector<std::string>& refs) {
  const int64_t tenant = ctx.job().tenant_id, run = *ctx.job().run_id;
  auto done = ExistingItems(ctx);
  if (!done) return JobFailure(done.error());
  // What this run could not read: its objects keep their findings as they are.
  std::set<std::string> failed_types;
  std::set<int64_t> failed_policies;
  for (const auto& [ref, item] : *done) {
    if (item.status != "failed") continue;
    if (ref.rfind("type:", 0) == 0) failed_types.insert(ref.substr(5));
    if (ref.rfind("policy:", 0) == 0) failed_policies.insert(std::stoll(ref.substr(7)));
  }
  struct Loaded {
    std::optional<int64_t> baseline_id;
    int64_t baseline_at = 0;
    std::vector<store::BackupItemRecord> baseline;
    std::vector<store::LiveObject> live;
  };
  auto loaded = store::ReadResult<Loaded>(ctx.db(), [&](store::Tx& tx) -> Result<Loaded> {
    Loaded l;
    auto id = store::Drift::BaselineSet(tx, tenant, std::nullopt, live_set);
    if (!id) return Unexpected(id.error());
    l.baseline_id = *id;
    if (!*id) return l;
    auto set = store::BackupSets::Get(tx, tenant, **id);
    if (!set) return Unexpected(set.error());
    l.baseline_at = set->created_at;
    auto items = store::BackupSets::Items(tx, tenant, **id, std::nullopt);
    if (!items) return Unexpected(items.error());
    l.baseline = std::move(*items);
    if (live_set) {
      auto now = store::BackupSets::Items(tx, tenant, *live_set, std::nullopt);
      if (!now) return Unexpected(now.error());
      for (const auto& i : *now)
        l.live.push_back({i.policy_id, i.policy_version_id, i.type, i.graph_id, i.display_name,
                          i.content_hash});
    } else {
      auto live = store::Drift::LiveObjects(tx, tenant);
      if (!live) return Unexpected(live.error());
      l.live = std::move(*live);
    }
    return l;
  });
  if (!loaded) return JobFailure(loaded.error());
  if (!loaded->baseline_id) {
    return Record(ctx, FailedItem(kDriftFindingsRef, "compare", "no_baseline", kNoBaseline));
  }
  auto skipped = [&](const std::string& type, int64_t policy_id) {
    return failed_types.count(type) || failed_policies.count(policy_id);
  };
  std::map<std::string, const store::BackupItemRecord*> base;
  for (const auto& i : loaded->baseline) base[Key(i.type, i.graph_id)] = &i;
  std::vector<store::DriftFinding> findings;
  std::vector<std::string> keep;  // objects whose open findings stay open
  const int64_t now = NowMs(ctx);
  auto finding = [&](const std::string& kind, const std::string& type, const std::string& graph_id,
                     const std::string& name) -> store::DriftFinding& {
    store::DriftFinding f;
    f.tenant_id = tenant;
    f.type = type;
    f.graph_id = graph_id;
    f.display_name = name;
    f.kind = kind;
    f.baseline_set_id = *loaded->baseline_id;
    f.first_run_id = f.last_run_id = run;
    f.first_seen_at = f.last_seen_at = now;
    findings.push_back(std::move(f));
    keep.push_back(Key(type, graph_id));
    return findings.back();
  };
  std::set<std::string> live_keys;
  for (const auto& o : loaded->live) live_keys.insert(Key(o.type, o.graph_id));
  // A baseline object that Intune now has under a new id (a revert of a
  // removal creates it again) is the same object when its type and name
  // match exactly one missing baseline object and one new live object.
  std::map<std::string, std::string> recreated;  // live key -> baseline key
  std::set<std::string> found_again;             // those baseline keys
  {
    std::map<std::string, std::vector<std::string>> lost, fresh;  // type+name -> keys
    for (const auto& i : loaded->baseline)
      if (!live_keys.count(Key(i.type, i.graph_id)))
        lost[Key(i.type, i.display_name)].push_back(Key(i.type, i.graph_id));
    for (const auto& o : loaded->live)
      if (!base.count(Key(o.type, o.graph_id)))
        fresh[Key(o.type, o.display_name)].push_back(Key(o.type, o.graph_id));
    for (const auto& [name, keys] : lost) {
      auto f = fresh.find(name);
      if (keys.size() != 1 || f == fresh.end() || f->second.size() != 1) continue;
      recreated[f->second.front()] = keys.front();
      found_again.insert(keys.front());
    }
  }
  for (const auto& o : loaded->live) {
    const std::string key = Key(o.type, o.graph_id);
    if (skipped(o.type, o.policy_id)) {
      keep.push_back(key);
      continue;
    }
    auto b = base.find(key);
    if (auto r = recreated.find(key); r != recreated.end()) b = base.find(r->second);
    if (b == base.end()) {
      auto& f = finding("added", o.type, o.graph_id, o.display_name);
      f.live_version_id = o.version_id;
      f.diff = "[]";
      continue;
    }
    if (b->second->content_hash == o.content_hash) continue;
    const catalog::PolicyType* type = catalog::FindPolicyType(o.type);
    auto content = store::ReadResult<std::pair<std::string, std::string>>(
        ctx.db(), [&](store::Tx& tx) {
          return store::Drift::VersionContent(tx, tenant, o.version_id);
        });
    if (!content) return JobFailure(content.error());
    const json live_payload = json::parse(content->first, nullptr, false);
    const json live_assign = json::parse(content->second, nullptr, false);
    const json base_payload = json::parse(b->second->payload, nullptr, false);
    const json base_assign = json::parse(b->second->assignments, nullptr, false);
    std::vector<FieldChange> changes;
    if (type) changes = ContentDiff(*type, base_payload, base_assign, live_payload, live_assign);
    if (type && changes.empty()) continue;  // the same content, hashed before a catalog change
    auto& f = finding("changed", o.type, o.graph_id, o.display_name);
    f.baseline_item_id = b->second->id;
    f.live_version_id = o.version_id;
    f.diff = ToJson(changes).dump();
  }
  for (const auto& i : loaded->baseline) {
    const std::string key = Key(i.type, i.graph_id);
    if (live_keys.count(key) || found_again.count(key)) continue;
    if (failed_types.count(i.type)) {
      keep.push_back(key);
      continue;
    }
    auto& f = finding("removed", i.type, i.graph_id, i.display_name);
    f.baseline_item_id = i.id;
    // Which fields the baseline had: the restore a revert starts writes them all.
    f.diff = "[]";
  }
  // Who changed each object, from Intune's audit log since the baseline.
  const int64_t since = loaded->baseline_at - 60'000;
  for (auto& f : findings) {
    auto actor = LookUpActor(reader, f.graph_id, since);
    if (!actor) {
      const graph::GraphError& e = actor.error();
      if (e.retry_after || e.cancelled()) return GraphFailed(ctx, refs, kDriftFindingsRef, "compare", e);
      f.actor = "unknown";
      f.actor_detail = e.http_status == 403
                           ? "Intune's audit log could not be read: grant the app "
                             "DeviceManagementApps.Read.All to see who made changes"
                           : "Intune's audit log could not be read (" + e.ErrorCode() + ")";
      continue;
    }
    f.actor = actor->who;
    f.actor_detail = actor->detail;
    f.changed_at = actor->at;
  }
  int64_t added = 0, removed = 0, changed = 0;
  for (const auto& f : findings) (f.kind == "added" ? added : f.kind == "removed" ? removed : changed)++;
  Status s = ctx.db().Write([&](store::Tx& tx) -> Status {
    int64_t opened = 0;
    for (const auto& f : findings) {
      auto is_new = store::Drift::Record(tx, f);
      if (!is_new) return is_new.error();
      opened += *is_new ? 1 : 0;
    }
    auto resolved = store::Drift::ResolveOthers(tx, tenant, keep, run, now);
    if (!resolved) return resolved.error();
    store::RunItem item;
    item.item_ref = kDriftFindingsRef;
    item.status = findings.empty() ? "in_sync" : "drifted";
    item.action = "compare";
    item.details = json{{"baseline_set_id", *loaded->baseline_id},
                        {"added", added},
                        {"removed", removed},
                        {"changed", changed},
                        {"newly_opened", opened},
                        {"closed", *resolved}}
                       .dump();
    TA_RETURN_IF_ERROR(store::RunsRepository::UpsertItem(tx, tenant, run, item, now));
    if (opened == 0) return Status::Ok();
    auto t = store::Accounts::TenantById(tx, tenant);
    if (!t) return t.error();
    const std::string tenant_name = t->name;
    json data = {{"tenant_id", tenant},
                 {"tenant_name", tenant_name},
                 {"run_id", run},
                 {"findings", {{"added", added}, {"removed", removed}, {"changed", changed}}},
                 {"summary", "Drift in " + tenant_name + ": " + std::to_string(opened) +
                                 (opened == 1 ? " new finding" : " new findings") + " (" +
                                 std::to_string(changed) + " changed, " + std::to_string(added) +
                                 " added, " + std::to_string(removed) + " removed)."},
                 {"url", "/drift?tenant=" + std::to_string(tenant)}};
    return notify::Raise(ctx.db(), tx, tenant, notify::kDriftDetected, data, now);
  });
  if (!s.ok()) return ItemNotRecorded(kDriftFindingsRef, s);
  return std::nullopt;
}

jobs::JobResult RunDriftDetect(jobs::JobContext& ctx, OpsContext& ops) {
  auto params = runs::DriftParams::Parse(ctx.job().payload);
  if (!params) return jobs::JobResult::Fail(params.error());
  const int64_t tenant = ctx.job().tenant_id;
  // Without a baseline there is nothing to compare with: fail before any work.
  auto base = store::ReadResult<std::optional<int64_t>>(ctx.db(), [&](store::Tx& tx) {
    return store::Drift::BaselineSet(tx, tenant, std::nullopt, std::nullopt);
  });
  if (!base) return JobFailure(base.error());
  if (!*base) return jobs::JobResult::Fail(Status::FailedPrecondition(kNoBaseline));
  auto reader = ops.graph.Reader(tenant, AbortFor(ctx));
  if (!reader) return JobFailure(reader.error());
  // Sync (new and deleted objects), capture every policy (its live state as
  // a version, stored once per distinct content), compare.
  std::vector<std::string> refs;
  if (auto stop = SyncOnce(ctx, **reader, refs)) return *stop;
  auto policies = LoadPolicies(ctx.db(), tenant, std::nullopt);
  if (!policies) return JobFailure(policies.error());
  if (Status s = SetTotal(ctx, static_cast<int64_t>(refs.size() + policies->size() + 1)); !s.ok())
    return JobFailure(s);
  auto done = ExistingItems(ctx);
  if (!done) return JobFailure(done.error());
  const size_t first_policy = refs.size();
  for (const auto& p : *policies) refs.push_back("policy:" + std::to_string(p.id));
  refs.push_back(kDriftFindingsRef);
  if (auto stop =
          CaptureAll(ctx, **reader, ops.box, *policies, std::nullopt, refs, first_policy, *done))
    return *stop;
  if (!Done(*done, kDriftFindingsRef)) {
    if (auto stop = DetectDrift(ctx, **reader, std::nullopt, refs)) return *stop;
  }
  return Finish(ctx, refs);
}

}  // namespace ta::ops
