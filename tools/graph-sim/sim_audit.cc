// Intune's audit log: every change to an object, by an app through Graph or
// by an admin in the portal (GraphSim::AdminChange), as
// deviceManagement/auditEvents lists it.
#include <ctime>
#include <functional>
#include <optional>

#include "core/log.h"
#include "sim_impl.h"

namespace ta::sim {

namespace {

// "2026-11-30T08:00:00Z" or with a fraction ("...00.1234567Z") -> ms.
std::optional<int64_t> ParseTime(std::string v) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  if (v.size() < 20 || v.back() != 'Z') return std::nullopt;
  if (std::sscanf(v.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
      used != 19)
    return std::nullopt;
  int64_t ms = 0;
  if (v[19] == '.') {
    std::string frac = v.substr(20, v.size() - 21);
    if (frac.empty() || frac.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    frac.resize(3, '0');
    ms = std::stoi(frac.substr(0, 3));
  } else if (v.size() != 20) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string Trim(std::string s) {
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The clauses Graph accepts on auditEvents that TenantAtlas sends, joined by
// " and ": "activityDateTime ge|gt|le|lt <time>" and
// "resources/any(r:r/resourceId eq '<id>')". Anything else: nullopt (400).
std::optional<std::function<bool(const json&)>> ParseFilter(const std::string& filter) {
  std::vector<std::function<bool(const json&)>> tests;
  size_t at = 0;
  while (at <= filter.size()) {
    size_t next = filter.find(" and ", at);
    const std::string clause = Trim(filter.substr(at, next == std::string::npos ? std::string::npos
                                                                                 : next - at));
    at = next == std::string::npos ? filter.size() + 1 : next + 5;
    if (clause.rfind("activityDateTime ", 0) == 0) {
      const std::string op = clause.substr(17, 2);
      auto t = ParseTime(Trim(clause.substr(19)));
      if (!t || (op != "ge" && op != "gt" && op != "le" && op != "lt")) return std::nullopt;
      const int64_t bound = *t;
      tests.push_back([op, bound](const json& e) {
        const int64_t v = e.value("_ms", int64_t{0});
        return op == "ge" ? v >= bound : op == "gt" ? v > bound : op == "le" ? v <= bound : v < bound;
      });
      continue;
    }
    // resources/any(x:x/resourceId eq 'id')
    const std::string head = "resources/any(";
    const size_t colon = clause.find(':');
    if (clause.rfind(head, 0) == 0 && colon != std::string::npos && clause.back() == ')') {
      const std::string var = clause.substr(head.size(), colon - head.size());
      const std::string rest = clause.substr(colon + 1, clause.size() - colon - 2);
      const std::string expect = var + "/resourceId eq '";
      if (!var.empty() && rest.rfind(expect, 0) == 0 && rest.size() > expect.size() &&
          rest.back() == '\'') {
        const std::string id = rest.substr(expect.size(), rest.size() - expect.size() - 1);
        tests.push_back([id](const json& e) {
          for (const auto& r : e.value("resources", json::array()))
            if (r.value("resourceId", "") == id) return true;
          return false;
        });
        continue;
      }
    }
    return std::nullopt;
  }
  return [tests](const json& e) {
    for (const auto& t : tests)
      if (!t(e)) return false;
    return true;
  };
}

}  // namespace

void GraphSim::Impl::RecordAudit(Tenant& t, const std::string& collection, const std::string& id,
                                 const std::string& operation, const AuditActor& actor,
                                 const std::string& request_id) {
  const int64_t now = ToUnixMillis(clock.Now());
  std::string name;
  if (auto c = t.collections.find(collection); c != t.collections.end()) {
    if (auto p = c->second.items.find(id); p != c->second.items.end())
      name = p->second.body.value(NameField(collection), "");
  }
  const bool app_only = actor.user_principal_name.empty();
  json event = {
      {"@odata.type", "#microsoft.graph.auditEvent"},
      {"id", NewGuid(rng)},
      {"displayName", operation + " " + collection},
      {"componentName", collection},
      {"activity", operation + " " + collection},
      {"activityDateTime", FormatIso8601(now)},
      {"activityType", operation + " " + collection},
      {"activityOperationType", operation},
      {"activityResult", "Success"},
      {"correlationId", request_id},
      {"category", collection},
      {"actor",
       {{"@odata.type", "microsoft.graph.auditActor"},
        {"type", app_only ? "Application" : "ItPro"},
        {"auditActorType", app_only ? "Application" : "ItPro"},
        {"userPermissions", json::array()},
        {"applicationId", actor.application_id},
        {"applicationDisplayName", actor.application_name},
        {"userPrincipalName", app_only ? json() : json(actor.user_principal_name)},
        {"servicePrincipalName", app_only ? json(actor.application_name) : json()},
        {"ipAddress", "127.0.0.1"},
        {"userId", app_only ? json() : json(NewGuid(rng))}}},
      {"resources",
       json::array({{{"@odata.type", "microsoft.graph.auditResource"},
                     {"displayName", name},
                     {"type", collection},
                     {"auditResourceType", collection},
                     {"resourceId", id},
                     {"modifiedProperties", json::array()}}})},
      {"_ms", now}};
  t.audit.push_back(std::move(event));
}

void GraphSim::Impl::RecordWrite(Tenant& t, const httplib::Request& req,
                                 const httplib::Response& res, const std::string& client_id,
                                 const std::string& request_id) {
  // /v1.0/{home...}/{collection}[/{id}[/{action or sub-resource}...]]
  std::vector<std::string> seg;
  for (size_t at = 1; at <= req.path.size();) {
    size_t next = req.path.find('/', at);
    if (next == std::string::npos) next = req.path.size();
    seg.push_back(req.path.substr(at, next - at));
    at = next + 1;
  }
  for (size_t i = 1; i < seg.size(); ++i) {
    if (!IsCollection(seg[i])) continue;
    std::string id = i + 1 < seg.size() ? seg[i + 1] : "";
    std::string op;
    if (id.empty()) {
      json created = json::parse(res.body, nullptr, false);
      if (!created.is_object() || !created.contains("id")) return;
      id = created.value("id", "");
      op = "Create";
    } else if (i + 2 < seg.size()) {
      op = "Action";
    } else {
      op = req.method == "DELETE" ? "Delete" : "Patch";
    }
    RecordAudit(t, seg[i], id, op, {"", client_id, "app " + client_id}, request_id);
    return;
  }
}

void GraphSim::Impl::AuditRoutes() {
  using httplib::Request;
  using httplib::Response;
  server.Get(R"(/(?:beta|v1\.0)/deviceManagement/auditEvents)", [this](const Request& req,
                                                                        Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      std::function<bool(const json&)> keep = [](const json&) { return true; };
      if (req.has_param("$filter")) {
        auto f = ParseFilter(req.get_param_value("$filter"));
        if (!f)
          return Error(res, 400, "BadRequest",
                       "Invalid filter clause: " + req.get_param_value("$filter"), rid);
        keep = *f;
      }
      std::vector<json> all;
      for (const auto& e : t.audit) {
        if (!keep(e)) continue;
        json out = e;
        out.erase("_ms");
        all.push_back(std::move(out));
      }
      res.set_content(Page(req, all).dump(), "application/json");
    });
  });
}

bool GraphSim::AdminChange(const std::string& tenant_id, const std::string& collection,
                           const std::string& id, const json& patch,
                           const std::string& user_principal_name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Tenant& t = impl_->tenants[tenant_id];
  auto c = t.collections.find(collection);
  if (c == t.collections.end()) return false;
  auto p = c->second.items.find(id);
  if (p == c->second.items.end()) return false;
  for (const auto& [k, v] : patch.items()) p->second.body[k] = v;
  p->second.body["lastModifiedDateTime"] = Iso8601(impl_->clock.Now());
  impl_->RecordAudit(t, collection, id, "Patch",
                     {user_principal_name, "0000000a-0000-0000-c000-000000000000",
                      "Microsoft Intune portal"},
                     NewGuid(impl_->rng));
  return true;
}

}  // namespace ta::sim
