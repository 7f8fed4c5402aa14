// restore.preview and restore.execute. One walk over the selected backup
// items decides, per item, what a restore would do; preview records that
// (with a field diff) and stops; execute does it. Preview holds only a
// GraphReader.
#include <functional>
#include <set>

#include "ops/capture.h"
#include "ops/handlers.h"
#include "ops/json_diff.h"
#include "ops/ops_common.h"
#include "runs/run_params.h"
#include "store/backup_sets.h"

namespace ta::ops {

using nlohmann::json;

namespace {

struct BackupItem {
  int64_t id;
  std::string type, graph_id, name;
  json payload, assignments;
};

struct MappedAssignments {
  json assignments = json::array();   // with target group ids
  std::vector<std::string> unmapped;  // source group ids with no mapping
  std::set<std::string> groups;       // target group ids
};

MappedAssignments MapAssignments(const json& source,
                                 const std::map<std::string, std::string>& mapping,
                                 bool same_tenant) {
  MappedAssignments out;
  for (json a : source) {
    a.erase("id");
    a.erase("@odata.type");
    json& target = a["target"];
    if (target.contains("groupId") && target["groupId"].is_string()) {
      const std::string src = target["groupId"];
      auto it = mapping.find(src);
      if (it != mapping.end()) {
        target["groupId"] = it->second;
      } else if (!same_tenant) {
        out.unmapped.push_back(src);
        continue;
      }
      out.groups.insert(target["groupId"].get<std::string>());
    }
    out.assignments.push_back(a);
  }
  return out;
}

std::set<std::string> GroupsOf(const json& assignments) {
  std::set<std::string> out;
  for (const auto& a : assignments) {
    if (a.contains("target") && a["target"].contains("groupId") &&
        a["target"]["groupId"].is_string())
      out.insert(a["target"]["groupId"].get<std::string>());
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The live policies of one type in the target, by display name (lazily listed once).
class TargetIndex {
 public:
  explicit TargetIndex(graph::GraphReader& reader) : reader_(reader) {}
  graph::GraphResult<std::vector<std::string>> IdsNamed(const graph::PolicyType& type,
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
  void Add(const graph::PolicyType& type, const std::string& name, const std::string& id) {
    index_[std::string(type.name)][name].push_back(id);
  }

 private:
  graph::GraphReader& reader_;
  std::set<std::string> listed_;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> index_;
};

// The intent a crashed attempt stored before its write ("create" or
// "assign"), read from the pending item's details.
std::string PendingIntent(const ItemMap& done, const std::string& ref) {
  auto it = done.find(ref);
  if (it == done.end() || it->second.status != "pending" || !it->second.details) return "";
  const json d = json::parse(*it->second.details, nullptr, false);
  return d.is_object() ? d.value("intent", "") : "";
}

// A POST whose effect can be looked up. After an ambiguous failure (it may
// have been carried out: a timeout, a reset, a 5xx) `probe` is asked first:
// a value means the write took effect and is the answer; nullopt means it did
// not, and the POST is sent again. At most kSends sends in all.
using Probe = std::function<graph::GraphResult<std::optional<json>>()>;
graph::GraphResult<json> PostChecked(graph::GraphWriter& writer, const std::string& path,
                                     const json& body, const Probe& probe) {
  constexpr int kSends = 3;
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
  std::string outcome;  // would_create | would_update | unchanged | conflict | unsupported
  std::string target_id;
  std::vector<FieldChange> changes;
  bool assignments_change = false;
  std::set<std::string> live_groups;
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

// One restore attempt: reads the selected backup items, plans each against
// the target tenant (find, diff, assignments), and records the plan
// (preview) or carries it out (execute): create with its sub-resources, or
// update, then assign. Each write is preceded by an intent row, so a resumed
// attempt never repeats it blindly.
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
    return Status::Ok();
  }

  Flow Failed(const std::string& ref, const std::string& action, const graph::GraphError& e) {
    return Flow::After(GraphFailed(ctx_, refs_, ref, action, e));
  }

  Flow RestoreItem(const BackupItem& item, const std::string& ref) {
    const graph::PolicyType* type = graph::FindPolicyType(item.type);
    if (!type) {
      store::RunItem r;
      r.item_ref = ref;
      r.status = execute_ ? "skipped" : "unsupported";
      r.error_code = "unsupported_type";
      r.error_message = "policy type '" + item.type + "' cannot be restored";
      return Flow::After(Record(ctx_, r));
    }
    const MappedAssignments mapped =
        MapAssignments(item.assignments, params_.group_mapping, same_tenant());
    Plan plan;
    if (Flow f = PlanItem(item, *type, mapped, ref, plan); !f.on()) return f;
    const json assign_info = AssignInfo(mapped, plan);
    if (!execute_) return RecordPreview(item, *type, mapped, plan, assign_info, ref);
    return Execute(item, *type, mapped, plan, assign_info, ref);
  }

  // Finds the target (by graph id in the same tenant, else by type + name)
  // and what restoring would change.
  Flow PlanItem(const BackupItem& item, const graph::PolicyType& type,
                const MappedAssignments& mapped, const std::string& ref, Plan& plan) {
    std::vector<std::string> candidates;
    if (same_tenant()) {
      auto live = reader_->Get(graph::ItemPath(type, item.graph_id));
      if (live)
        candidates.push_back(item.graph_id);
      else if (live.error().http_status != 404)
        return Failed(ref, "lookup", live.error());
    }
    if (candidates.empty()) {
      auto named = index_->IdsNamed(type, item.name);
      if (!named) return Failed(ref, "lookup", named.error());
      candidates = *named;
    }
    if (candidates.size() > 1) {
      plan.outcome = "conflict";
      plan.conflict = std::to_string(candidates.size()) + " live " + std::string(type.name) +
                      " policies are named '" + item.name +
                      "'; rename or remove the duplicates, then restore again";
    } else if (candidates.empty()) {
      plan.outcome = "would_create";
      plan.assignments_change = !mapped.assignments.empty();
    } else {
      plan.target_id = candidates[0];
      auto live = CapturePolicy(*reader_, type, plan.target_id);
      if (!live) return Failed(ref, "lookup", live.error());
      plan.changes = Diff(live->payload, item.payload, IgnoredFields(type));
      plan.live_groups = GroupsOf(live->assignments);
      plan.assignments_change = type.assign_body_key && plan.live_groups != mapped.groups;
      plan.outcome =
          plan.changes.empty() && !plan.assignments_change ? "unchanged" : "would_update";
    }
    return Flow::On();
  }

  static json AssignInfo(const MappedAssignments& mapped, const Plan& plan) {
    std::vector<std::string> add, remove;
    for (const auto& g : mapped.groups)
      if (!plan.live_groups.count(g)) add.push_back(g);
    for (const auto& g : plan.live_groups)
      if (!mapped.groups.count(g)) remove.push_back(g);
    return {{"unmapped", mapped.unmapped}, {"add", add}, {"remove", remove}};
  }

  static std::string Details(const BackupItem& item, const graph::PolicyType& type,
                             const Plan& plan, const json& assign_info) {
    return json{{"type", type.name},
                {"name", item.name},
                {"diff", ToJson(plan.changes)},
                {"assignments", assign_info}}
        .dump();
  }

  Flow RecordPreview(const BackupItem& item, const graph::PolicyType& type,
                     const MappedAssignments& mapped, const Plan& plan, const json& assign_info,
                     const std::string& ref) {
    store::RunItem r;
    r.item_ref = ref;
    r.status = plan.outcome;
    r.action = plan.outcome == "would_create"   ? "create"
               : plan.outcome == "would_update" ? "update"
                                                : "none";
    r.graph_id = plan.target_id.empty() ? std::nullopt : std::optional<std::string>(plan.target_id);
    if (!plan.conflict.empty()) r.error_message = plan.conflict;
    if (!mapped.unmapped.empty()) {
      r.error_code = "unmapped_group";
      r.error_message = "no target group is mapped for source group(s) " + Join(mapped.unmapped);
    }
    r.details = Details(item, type, plan, assign_info);
    return Flow::After(Record(ctx_, r));
  }

  store::AuditEntry Audit(const BackupItem& item, const graph::PolicyType& type,
                          const std::string& what, const std::string& id) const {
    return store::AuditEntry{target_tenant_,
                             std::nullopt,
                             "restore.write",
                             std::string(type.name),
                             id,
                             run_,
                             json{{"write", what},
                                  {"item", item.id},
                                  {"name", item.name},
                                  {"source_tenant", params_.source_tenant_id}}
                                 .dump()};
  }

  // Execute. Nothing is written for an item that cannot be restored safely.
  Flow Execute(const BackupItem& item, const graph::PolicyType& type,
               const MappedAssignments& mapped, const Plan& plan, const json& assign_info,
               const std::string& ref) {
    if (plan.outcome == "conflict")
      return Flow::After(Record(ctx_, FailedItem(ref, "match", "conflict", plan.conflict)));
    if (!mapped.unmapped.empty()) {
      return Flow::After(Record(
          ctx_,
          FailedItem(ref, "assign", "unmapped_group",
                     "no target group is mapped for source group(s) " + Join(mapped.unmapped) +
                         "; add them to the group mapping (nothing was written for "
                         "this item)")));
    }
    // A pending "create" intent from a crashed attempt: the policy may exist
    // already; PlanItem found it by name, so it is not created twice, and it
    // is reported as created (this run made it).
    const std::string intent = PendingIntent(done_, ref);
    std::string action = intent == "create" || intent == "assign" ? "created" : "none";
    std::string graph_id = plan.target_id;
    if (plan.outcome == "would_create") {
      if (Flow f = Create(item, type, ref, graph_id); !f.on()) return f;
      action = "created";
    } else if (!plan.changes.empty()) {
      if (Flow f = Update(item, type, ref, graph_id); !f.on()) return f;
      if (action == "none") action = "updated";
    }
    if (type.assign_body_key && plan.assignments_change) {
      if (Flow f = Assign(item, type, mapped, ref, graph_id); !f.on()) return f;
      if (action == "none") action = "updated";
    }
    store::RunItem r;
    r.item_ref = ref;
    r.status = action == "none" ? "unchanged" : action;
    r.action = action == "none" ? "none" : action == "created" ? "create" : "update";
    r.graph_id = graph_id;
    r.details = Details(item, type, plan, assign_info);
    return Flow::After(Record(ctx_, r));
  }

  // Creates the policy, then its sub-resources that Graph takes only after
  // the create (e.g. group policy definitionValues). Sets `graph_id`.
  Flow Create(const BackupItem& item, const graph::PolicyType& type, const std::string& ref,
              std::string& graph_id) {
    store::RunItem intent;
    intent.item_ref = ref;
    intent.status = "pending";
    intent.action = "create";
    intent.details = json{{"intent", "create"}, {"name", item.name}}.dump();
    // Recorded before the write: a resumed job looks the policy up first.
    if (Flow f = Stored(Record(ctx_, intent)); !f.on()) return f;
    json body = graph::StripForWrite(type, item.payload, false);
    json sub_writes = json::object();
    for (const auto& sub : type.sub_resources) {
      if (sub.property == "settings") continue;  // settings travel in the create body
      sub_writes[std::string(sub.property)] = body.value(std::string(sub.property), json::array());
      body.erase(std::string(sub.property));
    }
    const std::string collection(type.collection);
    // An ambiguous create is looked up by name before it is sent again.
    auto created = PostChecked(*writer_, collection, body,
                               [&] { return FindCreated(type, collection, item.name); });
    if (!created) return Failed(ref, "create", created.error());
    graph_id = created->value("id", "");
    if (ops_.fault_hook) ops_.fault_hook("after_create");
    index_->Add(type, item.name, graph_id);
    for (const auto& [prop, values] : sub_writes.items()) {
      for (const json& v : values) {
        if (Flow f = CreateSubResource(type, graph_id, prop, v, ref); !f.on()) return f;
      }
    }
    return Stored(Record(ctx_,
                         {ref, "pending", "create", graph_id, std::nullopt, std::nullopt,
                          json{{"intent", "assign"}, {"name", item.name}}.dump()},
                         Audit(item, type, "create", graph_id)));
  }

  // The policy named `name` that an unanswered create may have made.
  graph::GraphResult<std::optional<json>> FindCreated(const graph::PolicyType& type,
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

  Flow CreateSubResource(const graph::PolicyType& type, const std::string& graph_id,
                         const std::string& prop, json v, const std::string& ref) {
    v.erase("id");
    if (v.contains("definition") && v["definition"].contains("id")) {
      v["definition@odata.bind"] =
          "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('" +
          v["definition"]["id"].get<std::string>() + "')";
      v.erase("definition");
    }
    const std::string sub_path = graph::ItemPath(type, graph_id) + "/" + prop;
    // An ambiguous sub-resource write is looked up by its definition.
    auto r = PostChecked(*writer_, sub_path, v, [&]() -> graph::GraphResult<std::optional<json>> {
      auto all = graph::ListAll(*reader_, sub_path + "?$expand=definition");
      if (!all) return graph::GraphFailure(all.error());
      const std::string bind = v.value("definition@odata.bind", "");
      for (auto& e : *all) {
        const std::string id = e.contains("definition") ? e["definition"].value("id", "") : "";
        if (!id.empty() && bind.find("('" + id + "')") != std::string::npos)
          return std::optional<json>(e);
      }
      return std::optional<json>();
    });
    if (!r) return Failed(ref, "create", r.error());
    return Flow::On();
  }

  Flow Update(const BackupItem& item, const graph::PolicyType& type, const std::string& ref,
              const std::string& graph_id) {
    const bool put = type.update_method == graph::UpdateMethod::kPut;
    json body = graph::StripForWrite(type, item.payload, true);
    auto updated = put ? writer_->Put(graph::ItemPath(type, graph_id), body)
                       : writer_->Patch(graph::ItemPath(type, graph_id), body);
    if (!updated) return Failed(ref, put ? "replace" : "update", updated.error());
    return Stored(
        Record(ctx_, {ref, "pending", "update", graph_id, std::nullopt, std::nullopt, std::nullopt},
               Audit(item, type, put ? "replace" : "update", graph_id)));
  }

  // /assign replaces the whole set: after an ambiguous failure, the live
  // assignments tell whether it took effect.
  Flow Assign(const BackupItem& item, const graph::PolicyType& type,
              const MappedAssignments& mapped, const std::string& ref,
              const std::string& graph_id) {
    const std::string item_path = graph::ItemPath(type, graph_id);
    auto r =
        PostChecked(*writer_, item_path + "/assign", graph::AssignBody(type, mapped.assignments),
                    [&]() -> graph::GraphResult<std::optional<json>> {
                      auto live = graph::ListAll(*reader_, item_path + "/assignments");
                      if (!live) return graph::GraphFailure(live.error());
                      if (GroupsOf(json(*live)) == mapped.groups)
                        return std::optional<json>(json::object());
                      return std::optional<json>();
                    });
    if (!r) return Failed(ref, "assign", r.error());
    return Stored(
        Record(ctx_, {ref, "pending", "assign", graph_id, std::nullopt, std::nullopt, std::nullopt},
               Audit(item, type, "assign", graph_id)));
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
};

}  // namespace

jobs::JobResult RunRestore(jobs::JobContext& ctx, OpsContext& ops, bool execute) {
  auto params = runs::RestoreParams::Parse(ctx.job().payload);
  if (!params) return jobs::JobResult::Fail(params.error());
  return RestoreRun(ctx, ops, execute, std::move(*params)).Run();
}

}  // namespace ta::ops
