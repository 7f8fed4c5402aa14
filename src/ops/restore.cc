// restore.preview and restore.execute. One walk over the selected backup
// items decides, per item, what a restore would do; preview records that
// (with a field diff) and stops; execute does it, step by step (create,
// each sub-resource, assign), then reads the object back and reports it
// restored only when it equals the backup. Preview holds only a GraphReader.
#include <functional>
#include <set>

#include "ops/capture.h"
#include "ops/handlers.h"
#include "ops/json_diff.h"
#include "ops/ops_common.h"
#include "runs/run_params.h"
#include "store/backup_sets.h"
#include "store/inventory.h"

namespace ta::ops {

using nlohmann::json;

namespace {

// A preview's stand-in for the id of an object the restore would create.
constexpr const char* kCreatedByThisRun = "(created by this restore)";

struct BackupItem {
  int64_t id;
  std::string type, graph_id, name;
  json payload, assignments;
};

std::set<std::string> GroupsOf(const json& assignments) {
  std::set<std::string> out;
  for (const auto& a : assignments) {
    if (a.contains("target") && a["target"].contains("groupId") &&
        a["target"]["groupId"].is_string())
      out.insert(a["target"]["groupId"].get<std::string>());
  }
  return out;
}

std::string Names(const std::vector<catalog::RefSite>& refs) {
  std::string out;
  std::set<std::string> seen;
  for (const auto& r : refs) {
    if (!seen.insert(std::string(catalog::RefKindName(r.kind)) + r.id).second) continue;
    out += (out.empty() ? "" : ", ") + std::string(catalog::RefKindName(r.kind)) + " '" + r.id +
           "' (at " + r.where + ")";
  }
  return out;
}

std::string Join(const std::vector<FieldChange>& changes) {
  std::string out;
  for (const auto& c : changes) out += (out.empty() ? "" : ", ") + c.path;
  return out;
}

// The live policies of one type in the target, by display name (lazily listed once).
class TargetIndex {
 public:
  explicit TargetIndex(graph::GraphReader& reader) : reader_(reader) {}
  graph::GraphResult<std::vector<std::string>> IdsNamed(const catalog::PolicyType& type,
                                                        const std::string& name) {
    auto& by_name = index_[std::string(type.name)];
    if (!listed_.count(std::string(type.name))) {
      auto all = graph::ListAll(reader_, std::string(type.collection));
      if (!all) return graph::GraphFailure(all.error());
      for (const auto& p : *all)
        by_name[p.value(std::string(type.display_name_field), "")].push_back(p.value("id", ""));
      listed_.insert(std::string(type.name));
    }
    auto it = by_name.find(name);
    return it == by_name.end() ? std::vector<std::string>{} : it->second;
  }
  void Add(const catalog::PolicyType& type, const std::string& name, const std::string& id) {
    index_[std::string(type.name)][name].push_back(id);
  }

 private:
  graph::GraphReader& reader_;
  std::set<std::string> listed_;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> index_;
};

// The intent a crashed attempt stored before its last write: {"intent":
// "create" | "update" | "sub:<property>" | "assign", "graph_id", "created"},
// read from the pending item's details (an empty object when there is none).
json PendingIntent(const ItemMap& done, const std::string& ref) {
  auto it = done.find(ref);
  if (it == done.end() || it->second.status != "pending" || !it->second.details)
    return json::object();
  json d = json::parse(*it->second.details, nullptr, false);
  return d.is_object() ? d : json::object();
}

// A POST whose effect can be looked up. After an ambiguous failure (it may
// have been carried out: a timeout, a reset, a 5xx) `probe` is asked first:
// a value means the write took effect and is the answer; nullopt means it did
// not, and the POST is sent again. At most kSends sends in all.
constexpr int kSends = 3;
using Probe = std::function<graph::GraphResult<std::optional<json>>()>;
graph::GraphResult<json> PostChecked(graph::GraphWriter& writer, const std::string& path,
                                     const json& body, const Probe& probe) {
  for (int send = 1;; ++send) {
    auto r = writer.Post(path, body);
    // Not ambiguous, or cut off by a cancel/shutdown (no lookup can run then:
    // the caller records that the write may have happened).
    if (r || !r.error().ambiguous || r.error().cancelled()) return r;
    auto found = probe();
    if (!found) return graph::GraphFailure(found.error());
    if (*found) return **found;
    if (send == kSends) {
      graph::GraphError e = r.error();
      e.message += " (not carried out after " + std::to_string(kSends) + " sends)";
      return graph::GraphFailure(e);
    }
  }
}

struct Plan {
  std::string outcome;  // would_create | would_update | unchanged | conflict
  std::string target_id;
  std::vector<FieldChange> changes;  // over the canonical forms (see ContentDiff)
  bool fields_change = false;        // anything but the assignments
  bool object_change = false;        // the object's own fields (what a PATCH or PUT writes)
  bool assignments_change = false;
  std::set<std::string> live_groups;
  json live_payload;  // the target as captured (empty for a create)
  std::string conflict;
};

// What comes after one step of an item: carry on with the item, leave it
// (its outcome is recorded), or end the attempt with `result`.
struct Flow {
  enum class Kind { kOn, kItemDone, kJobEnds };
  Kind kind = Kind::kOn;
  std::optional<jobs::JobResult> result;
  static Flow On() { return {}; }
  static Flow ItemDone() { return {Kind::kItemDone, std::nullopt}; }
  // From Record/GraphFailed: nullopt (stored, next item) or the attempt's end.
  static Flow After(Next next) { return next ? Flow{Kind::kJobEnds, std::move(next)} : ItemDone(); }
  bool on() const { return kind == Kind::kOn; }
};

// One item's restore: the backup mapped into the target, and where the
// object is.
struct Target {
  const BackupItem& item;
  const catalog::PolicyType& type;
  const std::string& ref;
  catalog::Mapped mapped;  // payload and assignments with target ids
  json body;               // mapped.payload with its secrets opened: what is written
  std::string graph_id;
  bool created = false;  // this run created the object (now or in a crashed attempt)
  std::string leak;      // a source-tenant id no declared reference maps (see SourceIdIn)
};

// One restore attempt: reads the selected backup items, plans each against
// the target tenant (find, map references, diff), and records the plan
// (preview) or carries it out (execute). Each write step is preceded by an
// intent row naming it, and every step after the create is computed from the
// live object, so a resumed attempt finishes a half-restored object and
// never creates it twice.
class RestoreRun {
 public:
  RestoreRun(jobs::JobContext& ctx, OpsContext& ops, bool execute, runs::RestoreParams params)
      : ctx_(ctx),
        ops_(ops),
        execute_(execute),
        params_(std::move(params)),
        target_tenant_(ctx.job().tenant_id),
        run_(*ctx.job().run_id) {}

  jobs::JobResult Run() {
    if (Status s = Load(); !s.ok()) return JobFailure(s);
    for (size_t i = 0; i < items_.size(); ++i) {
      if (Done(done_, refs_[i])) continue;
      if (ctx_.CancelRequested()) return CancelRemaining(ctx_, refs_);
      if (ctx_.ShuttingDown()) return jobs::JobResult::Release();
      Flow f = RestoreItem(items_[i], refs_[i]);
      if (f.kind == Flow::Kind::kJobEnds) return *f.result;
    }
    return Finish(ctx_, refs_);
  }

 private:
  bool same_tenant() const { return params_.source_tenant_id == target_tenant_; }

  Status Load() {
    auto records =
        store::ReadResult<std::vector<store::BackupItemRecord>>(ctx_.db(), [&](store::Tx& tx) {
          return store::BackupSets::Items(tx, params_.source_tenant_id, params_.backup_set_id,
                                          params_.item_ids);
        });
    if (!records) return records.error();
    // What others refer to (scope tags, filters, notification templates,
    // named locations, apps) goes first, so the objects that refer to it can
    // be mapped to it in the same run (see Remember); policy sets go last.
    std::stable_sort(records->begin(), records->end(), [](const auto& a, const auto& b) {
      return Rank(a.type) < Rank(b.type);
    });
    for (const auto& r : *records) {
      items_.push_back({r.id, r.type, r.graph_id, r.display_name, json::parse(r.payload),
                        json::parse(r.assignments)});
      refs_.push_back("item:" + std::to_string(r.id));
    }
    TA_RETURN_IF_ERROR(SetTotal(ctx_, static_cast<int64_t>(items_.size())));
    auto reader = ops_.graph.Reader(target_tenant_, AbortFor(ctx_));
    if (!reader) return reader.error();
    reader_ = std::move(*reader);
    if (execute_) {
      auto w = ops_.graph.Writer(target_tenant_, AbortFor(ctx_));
      if (!w) return w.error();
      writer_ = std::move(*w);
    }
    index_ = std::make_unique<TargetIndex>(*reader_);
    auto existing = ExistingItems(ctx_);
    if (!existing) return existing.error();
    done_ = std::move(*existing);
    // A resumed attempt knows what its earlier attempts restored.
    for (size_t i = 0; i < items_.size(); ++i) {
      auto it = done_.find(refs_[i]);
      if (it != done_.end() && Done(done_, refs_[i]))
        Remember(items_[i], it->second.status, it->second.graph_id.value_or(""));
    }
    if (!same_tenant()) {
      // The source's GUIDs that the target does not also have (a built-in
      // role's template id, a Microsoft app's id are the same everywhere).
      std::vector<std::string> ids, target_ids;
      Status s = ctx_.db().Read([&](store::Tx& tx) -> Status {
        auto src = store::Inventory::KnownGraphIds(tx, params_.source_tenant_id);
        if (!src) return src.error();
        auto dst = store::Inventory::KnownGraphIds(tx, target_tenant_);
        if (!dst) return dst.error();
        ids = std::move(*src);
        target_ids = std::move(*dst);
        return Status::Ok();
      });
      TA_RETURN_IF_ERROR(s);
      const std::set<std::string> in_target(target_ids.begin(), target_ids.end());
      for (auto& id : ids)  // GUIDs; shorter ids (scope tags) only where declared
        if (id.size() >= 32 && id != "00000000-0000-0000-0000-000000000000" &&
            !in_target.count(id))
          source_ids_.insert(std::move(id));
    }
    return Status::Ok();
  }

  static int Rank(const std::string& type) {
    const catalog::PolicyType* t = catalog::FindPolicyType(type);
    return t ? catalog::RestoreRank(*t) : 0;
  }

  // An object has been restored (or, in a preview, would be) as `target_id`:
  // later items of this run that refer to it (a scope tag, a filter, a
  // policy set's item) map the reference there, unless the user mapped it
  // themselves. A preview's "would_create" has no id yet.
  void Remember(const BackupItem& item, const std::string& status, const std::string& target_id) {
    if (params_.group_mapping.count(item.graph_id)) return;
    if (!target_id.empty() && (status == "created" || status == "updated" ||
                               status == "unchanged" || status == "would_update"))
      run_mapping_[item.graph_id] = target_id;
    else if (status == "would_create")
      run_mapping_[item.graph_id] = kCreatedByThisRun;
  }

  // The mapping an item is written with: the user's, then what this run restored.
  std::map<std::string, std::string> Mapping() const {
    std::map<std::string, std::string> m = run_mapping_;
    for (const auto& [k, v] : params_.group_mapping) m[k] = v;
    return m;
  }

  // A source-tenant id left in what would be written, where no declared
  // reference is (a group id inside a setting's value, say): it cannot be
  // mapped, so the item is not written. "" when there is none.
  std::string SourceIdIn(const json& v, const std::string& where) const {
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      if (s.size() < 32) return "";
      for (const auto& id : source_ids_)
        if (s.find(id) != std::string::npos) return "'" + id + "' at " + where;
      return "";
    }
    if (v.is_array())
      for (size_t i = 0; i < v.size(); ++i)
        if (auto f = SourceIdIn(v[i], where + "[" + std::to_string(i) + "]"); !f.empty()) return f;
    if (v.is_object())
      for (const auto& [k, x] : v.items())
        if (auto f = SourceIdIn(x, where.empty() ? k : where + "." + k); !f.empty()) return f;
    return "";
  }

  Flow Failed(const std::string& ref, const std::string& action, const graph::GraphError& e) {
    return Flow::After(GraphFailed(ctx_, refs_, ref, action, e));
  }

  Flow RestoreItem(const BackupItem& item, const std::string& ref) {
    const catalog::PolicyType* type = catalog::FindPolicyType(item.type);
    // Nothing is written for a type we cannot restore, or for a built-in
    // object (a built-in role, the Default scope tag): it exists in every
    // tenant and Graph refuses changes to it.
    const bool built_in =
        item.payload.is_object() && (item.payload.value("isBuiltIn", false) ||
                                     item.payload.value("isBuiltInRoleDefinition", false));
    if (!type || built_in) {
      store::RunItem r;
      r.item_ref = ref;
      r.status = execute_ ? "skipped" : "unsupported";
      r.error_code = type ? "built_in" : "unsupported_type";
      r.error_message = type ? "'" + item.name +
                                   "' is built in: it exists in every tenant and cannot be "
                                   "changed, so it is not restored"
                             : "policy type '" + item.type + "' cannot be restored";
      return Flow::After(Record(ctx_, r));
    }
    Target t{
        item,
        *type,
        ref,
        catalog::MapReferences(*type, item.payload, item.assignments, Mapping(), same_tenant()),
        json(),
        "",
        false,
        ""};
    // What is content (not the object's own id or server fields) is what is written.
    t.leak = SourceIdIn(catalog::Canonical(*type, t.mapped.payload), "");
    if (t.leak.empty())
      t.leak = SourceIdIn(catalog::CanonicalAssignments(t.mapped.assignments), "assignments");
    const json pending = PendingIntent(done_, ref);
    t.created = pending.value("created", false) || pending.value("intent", "") == "create";
    Plan plan;
    if (Flow f = PlanItem(t, pending, plan); !f.on()) return f;
    if (!execute_) return RecordPreview(t, plan);
    return Execute(t, plan);
  }

  // Finds the target (the object a crashed attempt wrote to; by graph id in
  // the same tenant; else by type + name) and what restoring would change.
  Flow PlanItem(Target& t, const json& pending, Plan& plan) {
    std::vector<std::string> candidates;
    auto exists = [&](const std::string& id) -> graph::GraphResult<bool> {
      auto live = reader_->Get(catalog::ItemPath(t.type, id));
      if (live) return true;
      if (live.error().http_status == 404) return false;
      return graph::GraphFailure(live.error());
    };
    for (const std::string& id :
         {pending.value("graph_id", ""), same_tenant() ? t.item.graph_id : std::string()}) {
      if (id.empty() || !candidates.empty()) continue;
      auto found = exists(id);
      if (!found) return Failed(t.ref, "lookup", found.error());
      if (*found) candidates.push_back(id);
    }
    if (candidates.empty()) {
      auto named = index_->IdsNamed(t.type, t.item.name);
      if (!named) return Failed(t.ref, "lookup", named.error());
      candidates = *named;
    }
    if (candidates.size() > 1) {
      plan.outcome = "conflict";
      plan.conflict = std::to_string(candidates.size()) + " live " + std::string(t.type.name) +
                      " policies are named '" + t.item.name +
                      "'; rename or remove the duplicates, then restore again";
    } else if (candidates.empty()) {
      ConditionalAccessState(t, nullptr);
      plan.outcome = "would_create";
      plan.assignments_change = t.type.assign_body_key && !t.mapped.assignments.empty();
      plan.fields_change = plan.object_change = true;
      plan.live_payload = json::object();
    } else {
      plan.target_id = t.graph_id = candidates[0];
      auto live = CapturePolicy(*reader_, t.type, plan.target_id, ops_.box);
      if (!live) return Failed(t.ref, "lookup", live.error());
      ConditionalAccessState(t, &live->payload);
      plan.changes = ContentDiff(t.type, live->payload, live->assignments, t.mapped.payload,
                                 t.mapped.assignments);
      plan.live_groups = GroupsOf(live->assignments);
      for (const auto& c : plan.changes) {
        (c.path == "assignments" ? plan.assignments_change : plan.fields_change) = true;
        if (c.path != "assignments" && InObjectBody(t.type, c.path)) plan.object_change = true;
      }
      plan.live_payload = std::move(live->payload);
      plan.outcome = plan.changes.empty() ? "unchanged" : "would_update";
    }
    return Flow::On();
  }

  // A conditional access policy is not enforced by a restore unless the user
  // chose "as backed up": a new one is created in report-only state (when it
  // was enabled), an existing one keeps its live state.
  void ConditionalAccessState(Target& t, const json* live) const {
    if (!t.type.conditional_access || params_.conditional_access_state == "as_backed_up" ||
        !t.mapped.payload.is_object())
      return;
    json& state = t.mapped.payload["state"];
    if (live && live->contains("state"))
      state = (*live)["state"];
    else if (state == "enabled")
      state = "enabledForReportingButNotEnforced";
  }

  // What the user should know before this item is written.
  static json Warnings(const Target& t) {
    json out = json::array();
    const json& p = t.mapped.payload;
    if (t.type.conditional_access && p.is_object()) {
      if (p.value("state", "") == "enabledForReportingButNotEnforced" &&
          t.item.payload.value("state", "") == "enabled")
        out.push_back(
            "restored in report-only state (enabled in the backup): enable it after checking "
            "its sign-in impact, or restore \"as backed up\"");
      const json users = p.value("conditions", json::object()).value("users", json::object());
      auto none = [&](const char* k) {
        return !users.contains(k) || !users[k].is_array() || users[k].empty();
      };
      if (p.value("state", "") != "disabled" && none("excludeUsers") && none("excludeGroups"))
        out.push_back(
            "this policy excludes no user or group, so no break-glass (emergency access) "
            "account is excluded: add one to conditions.users.excludeUsers before enabling it");
    }
    if (catalog::NeedsContentUpload(t.type, t.item.payload))
      out.push_back(
          "only the app's metadata and assignments are restored: upload its content (the "
          "package) again in the target before it can install");
    return out;
  }

  // Whether a change at `path` is written by the object's PATCH (or PUT):
  // anything but a sub-resource that has its own way in.
  static bool InObjectBody(const catalog::PolicyType& type, const std::string& path) {
    for (const auto& sub : type.sub_resources) {
      const std::string p(sub.property);
      if (path.compare(0, p.size(), p) != 0 || (path.size() > p.size() && path[p.size()] != '.'))
        continue;
      return sub.write == catalog::SubWrite::kInBody &&
             type.update_method == catalog::UpdateMethod::kPut;
    }
    return true;
  }

  json Details(const Target& t, const Plan& plan) const {
    std::vector<std::string> add, remove;
    const std::set<std::string> groups = GroupsOf(t.mapped.assignments);
    for (const auto& g : groups)
      if (!plan.live_groups.count(g)) add.push_back(g);
    for (const auto& g : plan.live_groups)
      if (!groups.count(g)) remove.push_back(g);
    std::vector<std::string> unmapped;
    for (const auto& r : t.mapped.unmapped) unmapped.push_back(r.id);
    // Each reference with the id it is written as in the target.
    json refs = json::array();
    const auto source = catalog::FindReferences(t.type, t.item.payload, t.item.assignments);
    const auto target = catalog::FindReferences(t.type, t.mapped.payload, t.mapped.assignments);
    for (size_t i = 0; i < source.size() && i < target.size(); ++i) {
      const bool is_unmapped =
          std::any_of(t.mapped.unmapped.begin(), t.mapped.unmapped.end(),
                      [&](const auto& u) { return u.where == source[i].where; });
      refs.push_back({{"kind", catalog::RefKindName(source[i].kind)},
                      {"where", source[i].where},
                      {"source_id", source[i].id},
                      {"target_id", is_unmapped ? json() : json(target[i].id)}});
    }
    return json{{"type", t.type.name},
                {"name", t.item.name},
                {"diff", ToJson(plan.changes)},
                {"warnings", Warnings(t)},
                {"references", refs},
                {"assignments", {{"unmapped", unmapped}, {"add", add}, {"remove", remove}}}};
  }

  std::string UnmappedMessage(const Target& t) const {
    return "no target is mapped for " + Names(t.mapped.unmapped) +
           "; add each to the restore's mapping (a target object of the same kind, suggested "
           "by name), then restore again (nothing was written for this item)";
  }

  static std::string LeakMessage(const Target& t) {
    return "the source tenant's id " + t.leak +
           " is not a reference TenantAtlas knows how to map, so it would reach the target "
           "tenant; edit that value in the source tenant, capture it again, then restore "
           "(nothing was written for this item)";
  }

  Flow RecordPreview(const Target& t, const Plan& plan) {
    store::RunItem r;
    r.item_ref = t.ref;
    r.status = plan.outcome;
    r.action = plan.outcome == "would_create"   ? "create"
               : plan.outcome == "would_update" ? "update"
                                                : "none";
    r.graph_id = plan.target_id.empty() ? std::nullopt : std::optional<std::string>(plan.target_id);
    if (!plan.conflict.empty()) r.error_message = plan.conflict;
    if (!t.mapped.unmapped.empty()) {
      r.error_code = "unmapped_reference";
      r.error_message = UnmappedMessage(t);
    } else if (!t.leak.empty()) {
      r.error_code = "source_id_in_payload";
      r.error_message = LeakMessage(t);
    }
    r.details = Details(t, plan).dump();
    Remember(t.item, r.status, plan.target_id);
    return Flow::After(Record(ctx_, r));
  }

  store::AuditEntry Audit(const Target& t, const std::string& what) const {
    return store::AuditEntry{target_tenant_,
                             std::nullopt,
                             "restore.write",
                             std::string(t.type.name),
                             t.graph_id,
                             run_,
                             json{{"write", what},
                                  {"item", t.item.id},
                                  {"name", t.item.name},
                                  {"source_tenant", params_.source_tenant_id}}
                                 .dump()};
  }

  // Records which step of the item comes next (before a write: the step
  // about to be sent; after one: with its audit entry). A resumed attempt
  // starts from the object it names and redoes only what still differs.
  Flow Step(const Target& t, const std::string& next,
            std::optional<store::AuditEntry> audit = std::nullopt) {
    json d = {{"intent", next}, {"name", t.item.name}, {"created", t.created}};
    if (!t.graph_id.empty()) d["graph_id"] = t.graph_id;
    store::RunItem r;
    r.item_ref = t.ref;
    r.status = "pending";
    r.action = t.created ? "create" : "update";
    if (!t.graph_id.empty()) r.graph_id = t.graph_id;
    r.details = d.dump();
    return Stored(Record(ctx_, r, audit));
  }

  // Execute. Nothing is written for an item that cannot be restored safely.
  Flow Execute(Target& t, const Plan& plan) {
    if (plan.outcome == "conflict")
      return Flow::After(Record(ctx_, FailedItem(t.ref, "match", "conflict", plan.conflict)));
    if (!t.mapped.unmapped.empty()) {
      return Flow::After(
          Record(ctx_, FailedItem(t.ref, "map", "unmapped_reference", UnmappedMessage(t))));
    }
    if (!t.leak.empty())
      return Flow::After(
          Record(ctx_, FailedItem(t.ref, "map", "source_id_in_payload", LeakMessage(t))));
    auto body = UnsealSecrets(t.type, t.mapped.payload, ops_.box);
    if (!body) {
      return Flow::After(
          Record(ctx_, FailedItem(t.ref, "prepare", "secret_unreadable", body.error().message())));
    }
    t.body = std::move(*body);
    json live = plan.live_payload;
    if (plan.outcome == "would_create") {
      if (Flow f = Create(t, t.body, live); !f.on()) return f;
    } else if (plan.object_change) {  // a sub-resource alone needs no PATCH
      if (Flow f = Update(t, t.body, live); !f.on()) return f;
    }
    if (plan.fields_change)
      for (const auto& sub : t.type.sub_resources)
        if (Flow f = SyncSubResource(t, sub, live); !f.on()) return f;
    if (t.type.assign_body_key && plan.assignments_change)
      if (Flow f = Assign(t); !f.on()) return f;
    return Verify(t, plan);
  }

  // Reads the object back and compares it with the backup: restored only
  // when nothing but server-assigned fields differs.
  Flow Verify(const Target& t, const Plan& plan) {
    const bool wrote = t.created || plan.outcome == "would_update";
    store::RunItem r;
    r.item_ref = t.ref;
    r.graph_id = t.graph_id;
    r.status = !wrote ? "unchanged" : t.created ? "created" : "updated";
    r.action = !wrote ? "none" : t.created ? "create" : "update";
    if (wrote) {
      auto back = CapturePolicy(*reader_, t.type, t.graph_id, ops_.box);
      if (!back) return Failed(t.ref, "verify", back.error());
      const auto still = ContentDiff(t.type, back->payload, back->assignments, t.mapped.payload,
                                     t.mapped.assignments);
      if (!still.empty()) {
        r.status = "failed";
        r.error_code = "restore_mismatch";
        r.error_message =
            "read back after writing, the live object still differs from the "
            "backup in: " +
            Join(still) + " (Graph accepted the writes but did not apply these)";
        json d = Details(t, plan);
        d["mismatch"] = ToJson(still);
        r.details = d.dump();
        return Flow::After(Record(ctx_, r, Audit(t, "verify_failed")));
      }
    }
    r.details = Details(t, plan).dump();
    Remember(t.item, r.status, t.graph_id);
    return Flow::After(Record(ctx_, r));
  }

  // Creates the object with what its create body carries. `live` becomes
  // what the new object holds, so the sub-resource steps write the rest.
  Flow Create(Target& t, const json& body_src, json& live) {
    t.created = true;
    if (Flow f = Step(t, "create"); !f.on()) return f;  // a resumed job looks it up first
    const json body = catalog::StripForWrite(t.type, body_src, false);
    const std::string collection(t.type.collection);
    const std::string create_path = catalog::CreatePath(t.type, body_src);
    if (create_path.empty())
      return Flow::After(Record(
          ctx_, FailedItem(t.ref, "create", "invalid_backup",
                           "the backup lacks what the create path needs (" +
                               std::string(t.type.create_via) +
                               "); capture the object again, then restore")));
    // An ambiguous create is looked up by name before it is sent again.
    auto created = PostChecked(*writer_, create_path, body,
                               [&] { return FindCreated(t.type, collection, t.item.name); });
    if (!created) return Failed(t.ref, "create", created.error());
    t.graph_id = created->value("id", "");
    if (ops_.fault_hook) ops_.fault_hook("after_create");
    index_->Add(t.type, t.item.name, t.graph_id);
    live = json::object();
    CarriedInBody(t.type, body, live);
    return Step(t, "sub-resources", Audit(t, "create"));
  }

  // The policy named `name` that an unanswered create may have made.
  graph::GraphResult<std::optional<json>> FindCreated(const catalog::PolicyType& type,
                                                      const std::string& collection,
                                                      const std::string& name) {
    auto all = graph::ListAll(*reader_, collection);
    if (!all) return graph::GraphFailure(all.error());
    std::vector<json> named;
    for (auto& p : *all)
      if (p.value(std::string(type.display_name_field), "") == name) named.push_back(std::move(p));
    if (named.size() > 1) {
      graph::GraphError e;
      e.kind = Status::Code::kConflict;
      e.code = "conflict";
      e.message = std::to_string(named.size()) + " live policies are named '" + name +
                  "' after an unanswered create; remove the duplicates";
      return graph::GraphFailure(e);
    }
    if (named.empty()) return std::optional<json>();
    return std::optional<json>(named.front());
  }

  // PATCH (or PUT, for a type replaced whole) of the object's own fields.
  Flow Update(Target& t, const json& body_src, json& live) {
    if (Flow f = Step(t, "update"); !f.on()) return f;
    const bool put = t.type.update_method == catalog::UpdateMethod::kPut;
    const json body = catalog::StripForWrite(t.type, body_src, true);
    const std::string path = catalog::ItemPath(t.type, t.graph_id);
    auto updated = put ? writer_->Put(path, body) : writer_->Patch(path, body);
    if (!updated) return Failed(t.ref, put ? "replace" : "update", updated.error());
    CarriedInBody(t.type, body, live);  // a PUT replaced these too
    return Step(t, "sub-resources", Audit(t, put ? "replace" : "update"));
  }

  // The sub-resources a create or PUT body carried are live as sent.
  static void CarriedInBody(const catalog::PolicyType& type, const json& body, json& live) {
    for (const auto& sub : type.sub_resources) {
      const std::string in_body = catalog::CreateBodyKey(sub);
      if (body.contains(in_body)) live[std::string(sub.property)] = body[in_body];
    }
  }

  // The sub-resource as it is live now.
  graph::GraphResult<json> ReadSub(const Target& t, const catalog::SubResource& sub) {
    const std::string path = catalog::ItemPath(t.type, t.graph_id);
    if (sub.path.empty()) {
      auto item = reader_->Get(path + "?$expand=" + std::string(t.type.get_expand));
      if (!item) return graph::GraphFailure(item.error());
      return item->value(std::string(sub.property), json::array());
    }
    std::string sub_path = path + "/" + std::string(sub.path);
    if (!sub.query.empty()) sub_path += "?" + std::string(sub.query);
    auto all = graph::ListAll(*reader_, sub_path);
    if (!all) return graph::GraphFailure(all.error());
    return json(*all);
  }

  bool SubEqual(const Target& t, const catalog::SubResource& sub, const json& a, const json& b) {
    const std::string p(sub.property);
    return catalog::Canonical(t.type, json{{p, a}}) == catalog::Canonical(t.type, json{{p, b}});
  }

  // The write(s) that turn `live` into `desired` for one sub-resource.
  graph::GraphResult<json> SendSub(const Target& t, const catalog::SubResource& sub,
                                   const json& live, const json& desired) {
    const std::string path = catalog::ItemPath(t.type, t.graph_id);
    switch (sub.write) {
      case catalog::SubWrite::kInBody: {  // only a PUT of the whole object carries it
        json body = catalog::StripForWrite(t.type, t.body, true);
        body[std::string(sub.property)] = desired;
        return writer_->Put(path, catalog::StripForWrite(t.type, body, true));
      }
      case catalog::SubWrite::kScheduleActions:
        return writer_->Post(path + "/scheduleActionsForRules",
                             catalog::ScheduleActionsBody(desired));
      case catalog::SubWrite::kDefinitionValues:
        return writer_->Post(path + "/updateDefinitionValues",
                             catalog::DefinitionValuesBody(live, desired, writer_->ResourceBase()));
      case catalog::SubWrite::kTargetApps:
        return writer_->Post(
            path + "/targetApps",
            catalog::TargetAppsBody(desired, t.body.value("appGroupType", json())));
      case catalog::SubWrite::kUpdateSettings:
        return writer_->Post(path + "/updateSettings", catalog::UpdateSettingsBody(desired));
      case catalog::SubWrite::kPolicySetItems:
        return writer_->Post(path + "/update", catalog::PolicySetUpdateBody(live, desired));
      case catalog::SubWrite::kEntries:
        for (const auto& w : catalog::EntryWrites(sub, live, desired)) {
          const std::string base = path + "/" + std::string(sub.path);
          auto r = w.method == "POST"    ? writer_->Post(base, w.body)
                   : w.method == "PATCH" ? writer_->Patch(base + "/" + w.id, w.body)
                                         : writer_->Delete(base + "/" + w.id);
          if (!r && !(w.method == "DELETE" && r.error().http_status == 404))
            return graph::GraphFailure(r.error());
        }
        return json::object();
    }
    return json::object();
  }

  // Brings one sub-resource to the backup's state. Each send is computed
  // from the live state, so it is safe to repeat: after an ambiguous failure
  // the sub-resource is read again and only what still differs is sent.
  Flow SyncSubResource(Target& t, const catalog::SubResource& sub, json& live_payload) {
    const std::string prop(sub.property);
    const json desired = t.mapped.payload.value(prop, json::array());
    json live = live_payload.value(prop, json::array());
    for (int send = 1;; ++send) {
      if (SubEqual(t, sub, live, desired)) return Flow::On();
      if (send == 1)
        if (Flow f = Step(t, "sub:" + prop); !f.on()) return f;
      auto r = SendSub(t, sub, live, desired);
      if (r) {
        if (ops_.fault_hook) ops_.fault_hook("after_sub_write");
        live_payload[prop] = desired;
        return Step(t, "sub-resources", Audit(t, "write " + prop));
      }
      if (!r.error().ambiguous || r.error().cancelled() || send == kSends)
        return Failed(t.ref, "write " + prop, r.error());
      auto fresh = ReadSub(t, sub);
      if (!fresh) return Failed(t.ref, "write " + prop, fresh.error());
      live = std::move(*fresh);
    }
  }

  // /assign replaces the whole set: after an ambiguous failure, the live
  // assignments tell whether it took effect.
  Flow Assign(Target& t) {
    if (Flow f = Step(t, "assign"); !f.on()) return f;
    const std::string item_path = catalog::ItemPath(t.type, t.graph_id);
    const json want = catalog::CanonicalAssignments(t.mapped.assignments);
    if (t.type.assign_body_key == catalog::kAssignEachEntry) return AssignEachEntry(t, want);
    auto r = PostChecked(*writer_, item_path + "/" + std::string(t.type.assign_action),
                         catalog::AssignBody(t.type, want),  // without the ids Graph assigned
                         [&]() -> graph::GraphResult<std::optional<json>> {
                           auto live = graph::ListAll(*reader_, item_path + "/assignments");
                           if (!live) return graph::GraphFailure(live.error());
                           if (catalog::CanonicalAssignments(json(*live)) == want)
                             return std::optional<json>(json::object());
                           return std::optional<json>();
                         });
    if (!r) return Failed(t.ref, "assign", r.error());
    return Step(t, "verify", Audit(t, "assign"));
  }

  // For a type without /assign: delete the live assignments the backup does
  // not have and post the ones it lacks, computed from the live list each
  // time, so an ambiguous failure is followed by a read, not a blind resend.
  Flow AssignEachEntry(Target& t, const json& want) {
    const std::string path = catalog::ItemPath(t.type, t.graph_id) + "/assignments";
    for (int send = 1;; ++send) {
      auto live = graph::ListAll(*reader_, path);
      if (!live) return Failed(t.ref, "assign", live.error());
      std::vector<std::string> deletes;  // live assignments the backup lacks (by id)
      std::vector<json> posts(want.begin(), want.end());  // what is still missing
      for (const auto& a : *live) {
        const json c = catalog::CanonicalAssignments(json::array({a}))[0];
        auto it = std::find(posts.begin(), posts.end(), c);
        if (it != posts.end())
          posts.erase(it);
        else if (a.is_object() && a.contains("id") && a["id"].is_string())
          deletes.push_back(a["id"].get<std::string>());  // (no id: the read-back says so)
      }
      if (deletes.empty() && posts.empty()) return Step(t, "verify", Audit(t, "assign"));
      graph::GraphResult<json> r = json::object();
      for (size_t i = 0; r && i < deletes.size() + posts.size(); ++i)
        r = i < deletes.size() ? writer_->Delete(path + "/" + deletes[i])
                               : writer_->Post(path, posts[i - deletes.size()]);
      if (r) return Step(t, "verify", Audit(t, "assign"));
      if (!r.error().ambiguous || r.error().cancelled() || send == kSends)
        return Failed(t.ref, "assign", r.error());
    }
  }

  // A progress row stored mid-item: carry on, or end the attempt.
  static Flow Stored(Next next) {
    return next ? Flow{Flow::Kind::kJobEnds, std::move(next)} : Flow::On();
  }

  jobs::JobContext& ctx_;
  OpsContext& ops_;
  const bool execute_;
  const runs::RestoreParams params_;
  const int64_t target_tenant_, run_;
  std::vector<BackupItem> items_;
  std::vector<std::string> refs_;
  std::unique_ptr<graph::GraphReader> reader_;
  std::unique_ptr<graph::GraphWriter> writer_;
  std::unique_ptr<TargetIndex> index_;
  ItemMap done_;
  std::set<std::string> source_ids_;  // cross-tenant: the source's known GUIDs
  // Source id -> target id of the referenced objects this run restored.
  std::map<std::string, std::string> run_mapping_;
};

}  // namespace

jobs::JobResult RunRestore(jobs::JobContext& ctx, OpsContext& ops, bool execute) {
  auto params = runs::RestoreParams::Parse(ctx.job().payload);
  if (!params) return jobs::JobResult::Fail(params.error());
  return RestoreRun(ctx, ops, execute, std::move(*params)).Run();
}

}  // namespace ta::ops
