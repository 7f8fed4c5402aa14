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
    if (r || !r.error().ambiguous) return r;
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

}  // namespace

jobs::JobResult RunRestore(jobs::JobContext& ctx, OpsContext& ops, bool execute) {
  auto params = runs::RestoreParams::Parse(ctx.job().payload);
  if (!params) return jobs::JobResult::Fail(params.error());
  const int64_t target_tenant = ctx.job().tenant_id, run = *ctx.job().run_id;
  const int64_t source_tenant = params->source_tenant_id;
  const int64_t set_id = params->backup_set_id;
  const bool same_tenant = source_tenant == target_tenant;
  const std::map<std::string, std::string>& mapping = params->group_mapping;
  const std::optional<std::vector<int64_t>>& selected = params->item_ids;

  auto records = store::ReadResult<std::vector<store::BackupItemRecord>>(
      ctx.db(),
      [&](store::Tx& tx) { return store::BackupSets::Items(tx, source_tenant, set_id, selected); });
  if (!records) return JobFailure(records.error());
  std::vector<BackupItem> items;
  for (const auto& r : *records)
    items.push_back({r.id, r.type, r.graph_id, r.display_name, json::parse(r.payload),
                     json::parse(r.assignments)});
  if (Status s = SetTotal(ctx, static_cast<int64_t>(items.size())); !s.ok()) return JobFailure(s);
  auto reader = ops.graph.Reader(target_tenant, AbortFor(ctx));
  if (!reader) return JobFailure(reader.error());
  std::unique_ptr<graph::GraphWriter> writer;
  if (execute) {
    auto w = ops.graph.Writer(target_tenant, AbortFor(ctx));
    if (!w) return JobFailure(w.error());
    writer = std::move(*w);
  }
  TargetIndex index(**reader);
  auto existing = ExistingItems(ctx);
  if (!existing) return JobFailure(existing.error());
  const ItemMap& done = *existing;
  std::vector<std::string> refs;
  for (const auto& item : items) refs.push_back("item:" + std::to_string(item.id));

  for (size_t i = 0; i < items.size(); ++i) {
    const BackupItem& item = items[i];
    const std::string& ref = refs[i];
    if (Done(done, ref)) continue;
    if (ctx.CancelRequested()) return CancelRemaining(ctx, refs);
    if (ctx.ShuttingDown()) return jobs::JobResult::Release();
    const graph::PolicyType* type = graph::FindPolicyType(item.type);
    if (!type) {
      store::RunItem r;
      r.item_ref = ref;
      r.status = execute ? "skipped" : "unsupported";
      r.error_code = "unsupported_type";
      r.error_message = "policy type '" + item.type + "' cannot be restored";
      if (auto stop = Record(ctx, r)) return *stop;
      continue;
    }
    const MappedAssignments mapped = MapAssignments(item.assignments, mapping, same_tenant);

    // Find the target: by graph id in the same tenant, else by type + name.
    Plan plan;
    std::vector<std::string> candidates;
    if (same_tenant) {
      auto live = (*reader)->Get(graph::ItemPath(*type, item.graph_id));
      if (live)
        candidates.push_back(item.graph_id);
      else if (live.error().http_status != 404) {
        if (auto stop = GraphFailed(ctx, refs, ref, "lookup", live.error())) return *stop;
        continue;
      }
    }
    if (candidates.empty()) {
      auto named = index.IdsNamed(*type, item.name);
      if (!named) {
        if (auto stop = GraphFailed(ctx, refs, ref, "lookup", named.error())) return *stop;
        continue;
      }
      candidates = *named;
    }
    // A pending "create" intent from a crashed attempt: the policy may exist
    // already; the lookup above found it by name, so it is not created twice,
    // and it is reported as created (this run made it).
    const std::string intent = PendingIntent(done, ref);
    const bool resumed_create = intent == "create" || intent == "assign";
    if (candidates.size() > 1) {
      plan.outcome = "conflict";
      plan.conflict = std::to_string(candidates.size()) + " live " + std::string(type->name) +
                      " policies are named '" + item.name +
                      "'; rename or remove the duplicates, then restore again";
    } else if (candidates.empty()) {
      plan.outcome = "would_create";
      plan.assignments_change = !mapped.assignments.empty();
    } else {
      plan.target_id = candidates[0];
      auto live = CapturePolicy(**reader, *type, plan.target_id);
      if (!live) {
        if (auto stop = GraphFailed(ctx, refs, ref, "lookup", live.error())) return *stop;
        continue;
      }
      plan.changes = Diff(live->payload, item.payload, IgnoredFields(*type));
      plan.live_groups = GroupsOf(live->assignments);
      plan.assignments_change = type->assign_body_key && plan.live_groups != mapped.groups;
      plan.outcome =
          plan.changes.empty() && !plan.assignments_change ? "unchanged" : "would_update";
    }
    json assign_info = {{"unmapped", mapped.unmapped}};
    std::vector<std::string> add, remove;
    for (const auto& g : mapped.groups)
      if (!plan.live_groups.count(g)) add.push_back(g);
    for (const auto& g : plan.live_groups)
      if (!mapped.groups.count(g)) remove.push_back(g);
    assign_info["add"] = add;
    assign_info["remove"] = remove;

    if (!execute) {
      store::RunItem r;
      r.item_ref = ref;
      r.status = plan.outcome;
      r.action = plan.outcome == "would_create"   ? "create"
                 : plan.outcome == "would_update" ? "update"
                                                  : "none";
      r.graph_id =
          plan.target_id.empty() ? std::nullopt : std::optional<std::string>(plan.target_id);
      json details = {{"type", type->name},
                      {"name", item.name},
                      {"diff", ToJson(plan.changes)},
                      {"assignments", assign_info}};
      if (!plan.conflict.empty()) r.error_message = plan.conflict;
      if (!mapped.unmapped.empty()) {
        r.error_code = "unmapped_group";
        r.error_message = "no target group is mapped for source group(s) " + Join(mapped.unmapped);
      }
      r.details = details.dump();
      if (auto stop = Record(ctx, r)) return *stop;
      continue;
    }

    // Execute. Nothing is written for an item that cannot be restored safely.
    if (plan.outcome == "conflict") {
      if (auto stop = Record(ctx, FailedItem(ref, "match", "conflict", plan.conflict)))
        return *stop;
      continue;
    }
    if (!mapped.unmapped.empty()) {
      if (auto stop =
              Record(ctx, FailedItem(ref, "assign", "unmapped_group",
                                     "no target group is mapped for source group(s) " +
                                         Join(mapped.unmapped) +
                                         "; add them to the group mapping (nothing was written for "
                                         "this item)")))
        return *stop;
      continue;
    }
    std::string action = "none", graph_id = plan.target_id;
    const std::string item_path_base = std::string(type->collection);
    auto audit = [&](const std::string& what, const std::string& id) {
      return store::AuditEntry{target_tenant,
                               std::nullopt,
                               "restore.write",
                               std::string(type->name),
                               id,
                               run,
                               json{{"write", what},
                                    {"item", item.id},
                                    {"name", item.name},
                                    {"source_tenant", source_tenant}}
                                   .dump()};
    };
    if (plan.outcome == "would_create") {
      store::RunItem intent;
      intent.item_ref = ref;
      intent.status = "pending";
      intent.action = "create";
      intent.details = json{{"intent", "create"}, {"name", item.name}}.dump();
      // Recorded before the write: a resumed job looks the policy up first.
      if (auto stop = Record(ctx, intent)) return *stop;
      json body = graph::StripForWrite(*type, item.payload, false);
      json sub_writes = json::object();
      for (const auto& sub : type->sub_resources) {
        if (sub.property == "settings") continue;  // settings travel in the create body
        sub_writes[std::string(sub.property)] =
            body.value(std::string(sub.property), json::array());
        body.erase(std::string(sub.property));
      }
      // An ambiguous create is looked up by name before it is sent again.
      auto created = PostChecked(
          *writer, item_path_base, body, [&]() -> graph::GraphResult<std::optional<json>> {
            auto all = graph::ListAll(**reader, item_path_base);
            if (!all) return graph::GraphFailure(all.error());
            std::vector<json> named;
            for (auto& p : *all)
              if (p.value(std::string(type->display_name_field), "") == item.name)
                named.push_back(std::move(p));
            if (named.size() > 1) {
              graph::GraphError e;
              e.kind = Status::Code::kConflict;
              e.code = "conflict";
              e.message = std::to_string(named.size()) + " live policies are named '" + item.name +
                          "' after an unanswered create; remove the duplicates";
              return graph::GraphFailure(e);
            }
            if (named.empty()) return std::optional<json>();
            return std::optional<json>(named.front());
          });
      if (!created) {
        if (auto stop = GraphFailed(ctx, refs, ref, "create", created.error())) return *stop;
        continue;
      }
      graph_id = created->value("id", "");
      if (ops.fault_hook) ops.fault_hook("after_create");
      index.Add(*type, item.name, graph_id);
      for (const auto& [prop, values] : sub_writes.items()) {
        for (json v : values) {  // e.g. group policy definitionValues
          v.erase("id");
          if (v.contains("definition") && v["definition"].contains("id")) {
            v["definition@odata.bind"] =
                "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('" +
                v["definition"]["id"].get<std::string>() + "')";
            v.erase("definition");
          }
          const std::string sub_path = graph::ItemPath(*type, graph_id) + "/" + prop;
          // An ambiguous sub-resource write is looked up by its definition.
          auto r =
              PostChecked(*writer, sub_path, v, [&]() -> graph::GraphResult<std::optional<json>> {
                auto all = graph::ListAll(**reader, sub_path + "?$expand=definition");
                if (!all) return graph::GraphFailure(all.error());
                const std::string bind = v.value("definition@odata.bind", "");
                for (auto& e : *all) {
                  const std::string id =
                      e.contains("definition") ? e["definition"].value("id", "") : "";
                  if (!id.empty() && bind.find("('" + id + "')") != std::string::npos)
                    return std::optional<json>(e);
                }
                return std::optional<json>();
              });
          if (!r) {
            if (auto stop = GraphFailed(ctx, refs, ref, "create", r.error())) return *stop;
            goto next_item;
          }
        }
      }
      action = "created";
      if (auto stop = Record(ctx,
                             {ref, "pending", "create", graph_id, std::nullopt, std::nullopt,
                              json{{"intent", "assign"}, {"name", item.name}}.dump()},
                             audit("create", graph_id)))
        return *stop;
    } else if (!plan.changes.empty()) {
      const bool put = type->update_method == graph::UpdateMethod::kPut;
      json body = graph::StripForWrite(*type, item.payload, true);
      auto updated = put ? writer->Put(graph::ItemPath(*type, graph_id), body)
                         : writer->Patch(graph::ItemPath(*type, graph_id), body);
      if (!updated) {
        if (auto stop = GraphFailed(ctx, refs, ref, put ? "replace" : "update", updated.error()))
          return *stop;
        continue;
      }
      action = "updated";
      if (auto stop = Record(
              ctx, {ref, "pending", "update", graph_id, std::nullopt, std::nullopt, std::nullopt},
              audit(put ? "replace" : "update", graph_id)))
        return *stop;
    }
    if (resumed_create) action = "created";  // created before a crash; found again by name
    if (type->assign_body_key && plan.assignments_change) {
      // /assign replaces the whole set: after an ambiguous failure, the live
      // assignments tell whether it took effect.
      const std::string item_path = graph::ItemPath(*type, graph_id);
      auto r =
          PostChecked(*writer, item_path + "/assign", graph::AssignBody(*type, mapped.assignments),
                      [&]() -> graph::GraphResult<std::optional<json>> {
                        auto live = graph::ListAll(**reader, item_path + "/assignments");
                        if (!live) return graph::GraphFailure(live.error());
                        if (GroupsOf(json(*live)) == mapped.groups)
                          return std::optional<json>(json::object());
                        return std::optional<json>();
                      });
      if (!r) {
        if (auto stop = GraphFailed(ctx, refs, ref, "assign", r.error())) return *stop;
        continue;
      }
      if (action == "none") action = "updated";
      if (auto stop = Record(
              ctx, {ref, "pending", "assign", graph_id, std::nullopt, std::nullopt, std::nullopt},
              audit("assign", graph_id)))
        return *stop;
    }
    {
      store::RunItem r;
      r.item_ref = ref;
      r.status = action == "none" ? "unchanged" : action;
      r.action = action == "none" ? "none" : action == "created" ? "create" : "update";
      r.graph_id = graph_id;
      r.details = json{{"type", type->name},
                       {"name", item.name},
                       {"diff", ToJson(plan.changes)},
                       {"assignments", assign_info}}
                      .dump();
      if (auto stop = Record(ctx, r)) return *stop;
    }
  next_item:;
  }
  return Finish(ctx, refs);
}

}  // namespace ta::ops
