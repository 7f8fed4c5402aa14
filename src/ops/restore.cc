// restore.preview and restore.execute. One walk over the selected backup
// items decides, per item, what a restore would do; preview records that
// (with a field diff) and stops; execute does it. Preview holds only a
// GraphReader.
#include <set>

#include "ops/capture.h"
#include "ops/handlers.h"
#include "ops/json_diff.h"
#include "ops/ops_common.h"

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
  const json params = json::parse(ctx.job().payload, nullptr, false);
  const int64_t target_tenant = ctx.job().tenant_id, run = *ctx.job().run_id;
  const int64_t source_tenant = params.value("source_tenant_id", target_tenant);
  const int64_t set_id = params.value("backup_set_id", int64_t{0});
  const bool same_tenant = source_tenant == target_tenant;
  std::map<std::string, std::string> mapping;
  if (params.contains("group_mapping") && params["group_mapping"].is_object()) {
    for (const auto& [k, v] : params["group_mapping"].items())
      if (v.is_string()) mapping[k] = v;
  }
  std::optional<std::vector<int64_t>> selected;
  if (params.contains("item_ids") && params["item_ids"].is_array())
    selected = params["item_ids"].get<std::vector<int64_t>>();

  auto items = store::ReadResult<
      std::vector<BackupItem>>(ctx.db(), [&](store::Tx& tx) -> Result<std::vector<BackupItem>> {
    std::string sql =
        "SELECT id, policy_type, graph_id, display_name, payload, assignments FROM backup_items "
        "WHERE backup_set_id = $1 AND tenant_id = $2";
    if (selected) sql += " AND " + store::InIdArray(tx.backend(), "id", 3);
    auto rows = selected ? tx.Query(sql + " ORDER BY id", {set_id, source_tenant,
                                                           store::IdArray(tx.backend(), *selected)})
                         : tx.Query(sql + " ORDER BY id", {set_id, source_tenant});
    if (!rows) return Unexpected(rows.error());
    std::vector<BackupItem> out;
    for (const auto& r : *rows)
      out.push_back({r.Int(0), r.Text(1), r.Text(2), r.Text(3), json::parse(r.Text(4)),
                     json::parse(r.Text(5))});
    return out;
  });
  if (!items) return JobFailure(items.error());
  ctx.db().Write([&](store::Tx& tx) {
    return store::RunsRepository::SetTotal(tx, target_tenant, run,
                                           static_cast<int64_t>(items->size()), NowMs(ctx));
  });
  auto reader = ops.graph.Reader(target_tenant);
  if (!reader) return JobFailure(reader.error());
  graph::GraphWriter* writer = nullptr;
  if (execute) {
    auto w = ops.graph.Writer(target_tenant);
    if (!w) return JobFailure(w.error());
    writer = *w;
  }
  TargetIndex index(**reader);
  auto done = ExistingItems(ctx);
  std::vector<std::string> refs;
  for (const auto& item : *items) refs.push_back("item:" + std::to_string(item.id));

  for (size_t i = 0; i < items->size(); ++i) {
    const BackupItem& item = (*items)[i];
    const std::string& ref = refs[i];
    if (Done(done, ref)) continue;
    if (ctx.CancelRequested()) {
      SkipRemaining(ctx, refs, ExistingItems(ctx));
      return jobs::JobResult::Cancelled();
    }
    const graph::PolicyType* type = graph::FindPolicyType(item.type);
    if (!type) {
      store::RunItem r;
      r.item_ref = ref;
      r.status = execute ? "skipped" : "unsupported";
      r.error_code = "unsupported_type";
      r.error_message = "policy type '" + item.type + "' cannot be restored";
      RecordItem(ctx, r);
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
        RecordItem(ctx, FailedItem(ref, "lookup", live.error()));
        continue;
      }
    }
    if (candidates.empty()) {
      auto named = index.IdsNamed(*type, item.name);
      if (!named) {
        RecordItem(ctx, FailedItem(ref, "lookup", named.error()));
        continue;
      }
      candidates = *named;
    }
    // A pending "create" intent from a crashed attempt: the policy may exist
    // already; the lookup above found it by name, so it is not created twice.
    const bool resumed_create =
        done.count(ref) && done.at(ref).status == "pending" && done.at(ref).details &&
        (done.at(ref).details->find("\"intent\":\"create\"") != std::string::npos ||
         done.at(ref).details->find("\"intent\":\"assign\"") != std::string::npos);
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
        RecordItem(ctx, FailedItem(ref, "lookup", live.error()));
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
      RecordItem(ctx, r);
      continue;
    }

    // Execute. Nothing is written for an item that cannot be restored safely.
    if (plan.outcome == "conflict") {
      RecordItem(ctx, FailedItem(ref, "match", "conflict", plan.conflict));
      continue;
    }
    if (!mapped.unmapped.empty()) {
      RecordItem(
          ctx,
          FailedItem(ref, "assign", "unmapped_group",
                     "no target group is mapped for source group(s) " + Join(mapped.unmapped) +
                         "; add them to the group mapping (nothing was written for this item)"));
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
      RecordItem(ctx,
                 intent);  // recorded before the write: a resumed job looks the policy up first
      json body = graph::StripForWrite(*type, item.payload, false);
      json sub_writes = json::object();
      for (const auto& sub : type->sub_resources) {
        if (sub.property == "settings") continue;  // settings travel in the create body
        sub_writes[std::string(sub.property)] =
            body.value(std::string(sub.property), json::array());
        body.erase(std::string(sub.property));
      }
      auto created = writer->Post(item_path_base, body);
      if (!created) {
        RecordItem(ctx, FailedItem(ref, "create", created.error()));
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
          auto r = writer->Post(graph::ItemPath(*type, graph_id) + "/" + prop, v);
          if (!r) {
            RecordItem(ctx, FailedItem(ref, "create", r.error()));
            goto next_item;
          }
        }
      }
      action = "created";
      RecordItem(ctx,
                 {ref, "pending", "create", graph_id, std::nullopt, std::nullopt,
                  json{{"intent", "assign"}, {"name", item.name}}.dump()},
                 audit("create", graph_id));
    } else if (!plan.changes.empty()) {
      const bool put = type->update_method == graph::UpdateMethod::kPut;
      json body = graph::StripForWrite(*type, item.payload, true);
      auto updated = put ? writer->Put(graph::ItemPath(*type, graph_id), body)
                         : writer->Patch(graph::ItemPath(*type, graph_id), body);
      if (!updated) {
        RecordItem(ctx, FailedItem(ref, put ? "replace" : "update", updated.error()));
        continue;
      }
      action = "updated";
      RecordItem(ctx,
                 {ref, "pending", "update", graph_id, std::nullopt, std::nullopt, std::nullopt},
                 audit(put ? "replace" : "update", graph_id));
    } else if (resumed_create) {
      action = "created";  // created before a crash; found again by name
    }
    if (type->assign_body_key && plan.assignments_change) {
      auto r = writer->Post(graph::ItemPath(*type, graph_id) + "/assign",
                            graph::AssignBody(*type, mapped.assignments));
      if (!r) {
        RecordItem(ctx, FailedItem(ref, "assign", r.error()));
        continue;
      }
      if (action == "none") action = "updated";
      store::AuditEntry a = audit("assign", graph_id);
      RecordItem(ctx,
                 {ref, "pending", "assign", graph_id, std::nullopt, std::nullopt, std::nullopt}, a);
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
      RecordItem(ctx, r);
    }
  next_item:;
  }
  return jobs::JobResult::Success();
}

}  // namespace ta::ops
