#include "api/views.h"

#include "store/backup_sets.h"

#include "core/log.h"

namespace ta::api {

using nlohmann::json;

json Time(std::optional<int64_t> ms) { return TimeJson(ms); }

json JsonColumn(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

json WithoutSecrets(json v) {
  if (v.is_array()) {
    for (auto& x : v) x = WithoutSecrets(std::move(x));
  } else if (v.is_object()) {
    for (auto& [k, x] : v.items()) {
      if (k == "secretValue" && x.is_object())  // a keyed digest's first 8 hex: tells a change
        x = "(encrypted value, never shown; fingerprint " + x.value("digest", "").substr(0, 8) +
            ")";
      else
        x = WithoutSecrets(std::move(x));
    }
  }
  return v;
}

std::string RunPath(int64_t tenant_id, int64_t run_id) {
  return "/api/v1/tenants/" + std::to_string(tenant_id) + "/runs/" + std::to_string(run_id);
}

json RunJson(const store::RunRecord& r, const runs::RunWords* words) {
  const int64_t done = r.processed;
  json error = r.error_code || r.error_message
                   ? json{{"code", r.error_code ? json(*r.error_code) : json()},
                          {"message", r.error_message ? json(*r.error_message) : json()}}
                   : json();
  const std::string self = RunPath(r.tenant_id, r.id);
  json out = {
      {"id", r.id},
      {"tenant_id", r.tenant_id},
      {"type", r.type},
      {"status", store::ToString(r.status)},
      {"active", r.status == store::RunStatus::kQueued || r.status == store::RunStatus::kRunning},
      {"target_id", r.target_id ? json(*r.target_id) : json()},
      {"initiator_user_id", r.initiator_user_id ? json(*r.initiator_user_id) : json()},
      {"idempotency_key", r.idempotency_key},
      {"params", JsonColumn(r.params)},
      {"counts",
       {{"total", r.total},
        {"processed", r.processed},
        {"succeeded", r.succeeded},
        {"failed", r.failed},
        {"skipped", r.skipped}}},
      {"progress", r.total > 0 ? json(std::min(1.0, static_cast<double>(done) / r.total)) : json()},
      {"cancel_requested", r.cancel_requested},
      {"error", error},
      {"created_at", Time(r.created_at)},
      {"started_at", Time(r.started_at)},
      {"finished_at", Time(r.finished_at)},
      {"updated_at", Time(r.updated_at)},
      {"links",
       {{"self", self},
        {"items", self + "/items"},
        {"events", self + "/events"},
        {"view", runs::RunUrl(r.id)}}}};
  if (words) {
    out["tenant_name"] = words->tenant;
    out["subject"] = words->subject;
    if (!words->source_tenant.empty()) out["source_tenant_name"] = words->source_tenant;
    if (!words->backup_set.empty()) out["backup_set_name"] = words->backup_set;
  }
  return out;
}

Result<json> RunsJson(store::Tx& tx, const std::vector<store::RunRecord>& runs) {
  auto words = runs::DescribeRuns(tx, runs);
  if (!words) return Unexpected(words.error());
  json items = json::array();
  for (const auto& r : runs) items.push_back(RunJson(r, &words->at(r.id)));
  return items;
}

json BackupSetJson(const store::BackupSetRecord& s) {
  auto opt = [](const std::optional<int64_t>& x) { return x ? json(*x) : json(); };
  return {{"id", s.id},
          {"name", s.name},
          {"description", s.description},
          {"run_id", opt(s.run_id)},
          {"created_by", opt(s.created_by)},
          {"created_at", Time(s.created_at)},
          {"item_count", s.item_count},
          {"expected_count", s.expected_count},
          {"status", s.Status()},
          {"pinned", s.pinned},
          {"baseline", s.baseline},
          {"derived_from", opt(s.derived_from)}};
}

json NotificationJson(const store::Notification& n) {
  return {{"id", n.id},
          {"tenant_id", n.tenant_id},
          {"run_id", n.run_id ? json(*n.run_id) : json()},
          {"level", n.level},
          {"title", n.title},
          {"body", n.body},
          {"action", n.action ? JsonColumn(*n.action) : json()},
          {"read", n.read_at.has_value()},
          {"read_at", Time(n.read_at)},
          {"created_at", Time(n.created_at)}};
}

json UserJson(const store::User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"display_name", u.display_name},
          {"is_platform_admin", u.is_platform_admin},
          {"created_at", Time(u.created_at)}};
}

json PageJson(json items, int64_t limit, std::optional<int64_t> last_id) {
  const bool full = static_cast<int64_t>(items.size()) >= limit && last_id;
  return {{"items", std::move(items)},
          {"next_cursor", full ? json(std::to_string(*last_id)) : json()}};
}

json PageJson(json items, int64_t limit, const store::Rows& rows, size_t cursor_column) {
  return PageJson(std::move(items), limit,
                  rows.empty() ? std::nullopt : std::optional(rows.back().Int(cursor_column)));
}

Response StartResponse(const runs::StartResult& s) {
  Response r =
      Response::Json(s.reused ? 200 : 202, {{"run", RunJson(s.run)}, {"reused", s.reused}});
  r.headers.emplace_back("Location", RunPath(s.run.tenant_id, s.run.id));
  return r;
}

}  // namespace ta::api
