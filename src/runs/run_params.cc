#include "runs/run_params.h"

#include <nlohmann/json.hpp>

namespace ta::runs {

using nlohmann::json;

namespace {

Status Bad(std::string_view field, std::string_view what) {
  return Status::InvalidArgument("payload." + std::string(field) + ": " + std::string(what));
}

Result<json> Object(std::string_view payload) {
  json j = json::parse(payload, nullptr, false);
  if (!j.is_object()) return Unexpected(Status::InvalidArgument("payload: not a JSON object"));
  return j;
}

Result<int64_t> Int(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_number_integer())
    return Unexpected(Bad(field, "missing or not an integer"));
  return it->get<int64_t>();
}

Result<std::optional<int64_t>> OptInt(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return Unexpected(Bad(field, "not an integer"));
  return std::optional<int64_t>(it->get<int64_t>());
}

Result<std::optional<std::vector<int64_t>>> OptIds(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::optional<std::vector<int64_t>>();
  if (!it->is_array()) return Unexpected(Bad(field, "not a list of ids"));
  std::vector<int64_t> out;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return Unexpected(Bad(field, "not a list of ids"));
    out.push_back(v.get<int64_t>());
  }
  return std::optional<std::vector<int64_t>>(std::move(out));
}

json Ids(const std::optional<std::vector<int64_t>>& ids) { return ids ? json(*ids) : json(); }

}  // namespace

std::string CaptureParams::ToJson() const { return json{{"policy_id", policy_id}}.dump(); }

Result<CaptureParams> CaptureParams::Parse(std::string_view payload) {
  auto j = Object(payload);
  if (!j) return Unexpected(j.error());
  auto id = Int(*j, "policy_id");
  if (!id) return Unexpected(id.error());
  return CaptureParams{*id};
}

std::string BackupSetParams::ToJson() const {
  json j = {{"name", name}, {"policy_ids", Ids(policy_ids)}};
  if (user_id) j["user_id"] = *user_id;
  if (sync_first) j["sync_first"] = true;
  if (schedule_id) j["schedule_id"] = *schedule_id;
  if (slot_at) j["slot_at"] = *slot_at;
  if (detect_drift) j["detect_drift"] = true;
  return j.dump();
}

Result<BackupSetParams> BackupSetParams::Parse(std::string_view payload) {
  auto j = Object(payload);
  if (!j) return Unexpected(j.error());
  BackupSetParams p;
  auto name = j->find("name");
  if (name == j->end() || !name->is_string())
    return Unexpected(Bad("name", "missing or not a string"));
  p.name = name->get<std::string>();
  auto ids = OptIds(*j, "policy_ids");
  if (!ids) return Unexpected(ids.error());
  p.policy_ids = std::move(*ids);
  auto user = OptInt(*j, "user_id");
  if (!user) return Unexpected(user.error());
  p.user_id = *user;
  for (auto [key, flag] : {std::pair{"sync_first", &p.sync_first},
                            std::pair{"detect_drift", &p.detect_drift}}) {
    if (auto v = j->find(key); v != j->end()) {
      if (!v->is_boolean()) return Unexpected(Bad(key, "not a boolean"));
      *flag = v->get<bool>();
    }
  }
  auto schedule = OptInt(*j, "schedule_id");
  if (!schedule) return Unexpected(schedule.error());
  p.schedule_id = *schedule;
  auto slot = OptInt(*j, "slot_at");
  if (!slot) return Unexpected(slot.error());
  p.slot_at = *slot;
  return p;
}

std::string DriftParams::ToJson() const {
  json j = json::object();
  if (user_id) j["user_id"] = *user_id;
  if (schedule_id) j["schedule_id"] = *schedule_id;
  if (slot_at) j["slot_at"] = *slot_at;
  return j.dump();
}

Result<DriftParams> DriftParams::Parse(std::string_view payload) {
  auto j = Object(payload);
  if (!j) return Unexpected(j.error());
  DriftParams p;
  for (auto [key, field] : {std::pair{"user_id", &p.user_id},
                            std::pair{"schedule_id", &p.schedule_id},
                            std::pair{"slot_at", &p.slot_at}}) {
    auto v = OptInt(*j, key);
    if (!v) return Unexpected(v.error());
    *field = *v;
  }
  return p;
}

std::string RestoreParams::ToJson() const {
  return json{{"source_tenant_id", source_tenant_id},
              {"backup_set_id", backup_set_id},
              {"item_ids", Ids(item_ids)},
              {"group_mapping", group_mapping},
              {"user_id", user_id},
              {"conditional_access_state", conditional_access_state}}
      .dump();
}

Result<RestoreParams> RestoreParams::Parse(std::string_view payload) {
  auto j = Object(payload);
  if (!j) return Unexpected(j.error());
  RestoreParams p;
  auto source = Int(*j, "source_tenant_id");
  if (!source) return Unexpected(source.error());
  p.source_tenant_id = *source;
  auto set = Int(*j, "backup_set_id");
  if (!set) return Unexpected(set.error());
  p.backup_set_id = *set;
  auto items = OptIds(*j, "item_ids");
  if (!items) return Unexpected(items.error());
  p.item_ids = std::move(*items);
  auto mapping = j->find("group_mapping");
  if (mapping != j->end() && !mapping->is_null()) {
    if (!mapping->is_object()) return Unexpected(Bad("group_mapping", "not an object"));
    for (const auto& [k, v] : mapping->items()) {
      if (!v.is_string()) return Unexpected(Bad("group_mapping." + k, "not a group id"));
      p.group_mapping[k] = v.get<std::string>();
    }
  }
  auto user = Int(*j, "user_id");
  if (!user) return Unexpected(user.error());
  p.user_id = *user;
  if (auto ca = j->find("conditional_access_state"); ca != j->end()) {  // absent before it existed
    if (!ca->is_string() || !ValidConditionalAccessState(ca->get<std::string>()))
      return Unexpected(Bad("conditional_access_state", "not report_only or as_backed_up"));
    p.conditional_access_state = ca->get<std::string>();
  }
  return p;
}

bool ValidConditionalAccessState(std::string_view v) {
  return v == "report_only" || v == "as_backed_up";
}

}  // namespace ta::runs
