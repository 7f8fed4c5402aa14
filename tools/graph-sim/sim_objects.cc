// graph-sim: the Intune collections under /deviceManagement (list, get,
// create, update, replace, assign) with their sub-resources (settings,
// definition values, scheduled actions, assignments), and /groups.
#include <algorithm>

#include "sim_impl.h"

namespace ta::sim {

namespace {
// /beta|v1.0/deviceManagement/{collection}, and one item of it.
const std::string kCollection = R"(/(?:beta|v1\.0)/deviceManagement/(\w+))";
const std::string kItem = kCollection + R"(/([^/]+))";
}  // namespace

void GraphSim::Impl::ObjectRoutes() {
  CollectionRoutes();
  SubResourceRoutes();
  GroupRoutes();
}

// List, create, get, update (PATCH) and replace (PUT).
void GraphSim::Impl::CollectionRoutes() {
  using httplib::Request;
  using httplib::Response;
  const std::string& dm = kCollection;
  server.Get(dm, [this](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      const std::string coll = req.matches[1];
      if (!IsCollection(coll))
        return Error(res, 404, "ResourceNotFound", "Unknown segment '" + coll + "'.", rid);
      std::vector<json> all;
      const Collection& c = t.collections[coll];
      const std::string expand = req.get_param_value("$expand");
      for (const auto& id : c.order) all.push_back(Render(coll, c.items.at(id), expand, false));
      res.set_content(Page(req, all).dump(), "application/json");
    });
  });
  server.Post(dm, [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      const std::string coll = req.matches[1];
      if (!IsCollection(coll))
        return Error(res, 404, "ResourceNotFound", "Unknown segment '" + coll + "'.", rid);
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded()) return Error(res, 400, "BadRequest", "Malformed JSON body.", rid);
      if (!CheckWritable(body, res, rid)) return;
      if (const std::string nf = NameField(coll); !body.contains(nf) || !body[nf].is_string()) {
        return Error(res, 400, "ModelValidationFailure", "Property '" + nf + "' is required.", rid);
      }
      if (coll == "deviceCompliancePolicies" && !body.contains("scheduledActionsForRule")) {
        return Error(res, 400, "ModelValidationFailure",
                     "scheduledActionsForRule is required when creating a compliance policy (it "
                     "needs at least a "
                     "'block' action).",
                     rid);
      }
      if (coll == "deviceManagementScripts" &&
          (!body.contains("scriptContent") || !body["scriptContent"].is_string() ||
           !ValidBase64(body["scriptContent"]))) {
        return Error(res, 400, "ModelValidationFailure", "scriptContent must be base64-encoded.",
                     rid);
      }
      Policy stored;
      Store(t, coll, NewPolicy(coll, body), &stored);
      res.status = 201;
      res.set_content(Render(coll, stored, "", true).dump(), "application/json");
    });
  });
  const std::string& item = kItem;
  server.Get(item, [this](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      Policy* p = Find(t, req.matches[1], req.matches[2], res, rid);
      if (!p) return;
      res.set_content(Render(req.matches[1], *p, req.get_param_value("$expand"), true).dump(),
                      "application/json");
    });
  });
  auto update = [this](bool put) {
    return [this, put](const Request& req, Response& res) {
      Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
        const std::string coll = req.matches[1];
        Policy* p = Find(t, coll, req.matches[2], res, rid);
        if (!p) return;
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) return Error(res, 400, "BadRequest", "Malformed JSON body.", rid);
        if (!CheckWritable(body, res, rid)) return;
        if (coll == "configurationPolicies" && !put && body.contains("settings")) {
          return Error(res, 400, "BadRequest",
                       "Settings of a settings catalog policy cannot be changed with PATCH; "
                       "replace the policy "
                       "with PUT.",
                       rid);
        }
        if (put && coll != "configurationPolicies") {
          return Error(res, 405, "MethodNotAllowed",
                       "PUT is not supported on " + coll + "; use PATCH.", rid);
        }
        json merged = put ? json::object() : p->body;
        if (put) {
          for (const char* k : {"id", "createdDateTime", "@odata.type"}) merged[k] = p->body[k];
        }
        for (const auto& [k, v] : body.items()) {
          if (k != "settings") merged[k] = v;
        }
        merged["lastModifiedDateTime"] = Iso8601(clock.Now());
        if (merged.contains("version") && merged["version"].is_number())
          merged["version"] = merged["version"].get<int>() + 1;
        p->body = merged;
        if (put) {
          p->settings = body.value("settings", json::array());
          p->body["settingCount"] = p->settings.size();
        }
        res.status = 204;
      });
    };
  };
  server.Patch(item, update(false));
  server.Put(item, update(true));
}

// Assignments (/assignments, /assign), settings catalog settings, group
// policy definition values.
void GraphSim::Impl::SubResourceRoutes() {
  using httplib::Request;
  using httplib::Response;
  const std::string& item = kItem;
  server.Get(item + "/assignments", [this](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      Policy* p = Find(t, req.matches[1], req.matches[2], res, rid);
      if (p) res.set_content(json{{"value", p->assignments}}.dump(), "application/json");
    });
  });
  server.Post(item + "/assign", [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      const std::string coll = req.matches[1];
      Policy* p = Find(t, coll, req.matches[2], res, rid);
      if (!p) return;
      json body = json::parse(req.body, nullptr, false);
      const std::string key = AssignKey(coll);
      if (body.is_discarded() || !body.contains(key) || !body[key].is_array()) {
        return Error(res, 400, "BadRequest", "The body must contain '" + key + "' (an array).",
                     rid);
      }
      json out = json::array();
      for (auto a : body[key]) {
        const json target = a.value("target", json::object());
        if (target.contains("groupId")) {
          const std::string gid = target["groupId"];
          if (!t.groups.items.count(gid)) {
            return Error(res, 400, "BadRequest",
                         "Group '" + gid + "' does not exist in this tenant.", rid);
          }
        } else if (target.value("@odata.type", "").find("allDevices") == std::string::npos &&
                   target.value("@odata.type", "").find("allLicensedUsers") == std::string::npos) {
          return Error(res, 400, "BadRequest", "Each assignment needs a target with a groupId.",
                       rid);
        }
        a["id"] = std::string(req.matches[2]) + "_" + target.value("groupId", "all");
        out.push_back(a);
      }
      p->assignments = out;
      res.set_content(json{{"value", out}}.dump(), "application/json");
    });
  });
  server.Get(R"(/(?:beta|v1\.0)/deviceManagement/configurationPolicies/([^/]+)/settings)",
             [this](const Request& req, Response& res) {
               Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
                 Policy* p = Find(t, "configurationPolicies", req.matches[1], res, rid);
                 if (!p) return;
                 std::vector<json> all(p->settings.begin(), p->settings.end());
                 res.set_content(Page(req, all).dump(), "application/json");
               });
             });
  const std::string dv =
      R"(/(?:beta|v1\.0)/deviceManagement/groupPolicyConfigurations/([^/]+)/definitionValues)";
  server.Get(dv, [this](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      Policy* p = Find(t, "groupPolicyConfigurations", req.matches[1], res, rid);
      if (!p) return;
      const std::string expand = req.get_param_value("$expand");
      std::vector<json> all;
      for (json v : p->definition_values) {
        if (expand.find("definition") == std::string::npos) v.erase("definition");
        if (expand.find("presentationValues") == std::string::npos) v.erase("presentationValues");
        all.push_back(v);
      }
      res.set_content(Page(req, all).dump(), "application/json");
    });
  });
  server.Post(dv, [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      Policy* p = Find(t, "groupPolicyConfigurations", req.matches[1], res, rid);
      if (!p) return;
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object())
        return Error(res, 400, "BadRequest", "Malformed body.", rid);
      if (!CheckWritable(body, res, rid)) return;
      body["id"] = NewGuid(rng);
      p->definition_values.push_back(body);
      res.status = 201;
      res.set_content(body.dump(), "application/json");
    });
  });
}

// Groups, filtered by display name.
void GraphSim::Impl::GroupRoutes() {
  using httplib::Request;
  using httplib::Response;
  server.Get(R"(/(?:beta|v1\.0)/groups)", [this](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      std::string want;
      if (req.has_param("$filter")) {
        const std::string f = req.get_param_value("$filter");
        const std::string prefix = "displayName eq '";
        if (f.rfind(prefix, 0) != 0 || f.back() != '\'') {
          return Error(res, 400, "Request_UnsupportedQuery",
                       "Only $filter=displayName eq '...' is supported.", rid);
        }
        want = f.substr(prefix.size(), f.size() - prefix.size() - 1);
      }
      std::vector<json> all;
      for (const auto& id : t.groups.order) {
        const json& g = t.groups.items.at(id).body;
        if (want.empty() || g.value("displayName", "") == want) all.push_back(g);
      }
      res.set_content(Page(req, all).dump(), "application/json");
    });
  });
  server.Get(R"(/(?:beta|v1\.0)/groups/([^/]+))", [this](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      auto it = t.groups.items.find(req.matches[1]);
      if (it == t.groups.items.end()) {
        return Error(res, 404, "Request_ResourceNotFound",
                     "Resource '" + std::string(req.matches[1]) + "' does not exist.", rid);
      }
      res.set_content(it->second.body.dump(), "application/json");
    });
  });
}

json GraphSim::Impl::Page(const httplib::Request& req, const std::vector<json>& all) {
  int top = cfg.page_size;
  if (req.has_param("$top"))
    top = std::clamp(std::atoi(req.get_param_value("$top").c_str()), 1, 999);
  const size_t skip =
      req.has_param("$skiptoken") ? std::stoul(req.get_param_value("$skiptoken")) : 0;
  json page = {{"value", json::array()}};
  for (size_t i = skip; i < all.size() && i < skip + top; ++i) page["value"].push_back(all[i]);
  if (skip + top < all.size()) {
    std::string next = "http://" + req.get_header_value("Host") + req.path +
                       "?$top=" + std::to_string(top) + "&$skiptoken=" + std::to_string(skip + top);
    if (req.has_param("$expand")) {
      next += "&$expand=" + httplib::detail::encode_query_param(req.get_param_value("$expand"));
    }
    page["@odata.nextLink"] = next;
  }
  return page;
}

json GraphSim::Impl::Render(const std::string& collection, const Policy& p,
                            const std::string& expand, bool single) {
  json out = p.body;
  if (collection == "deviceManagementScripts" && !single) out.erase("scriptContent");
  if (expand.find("scheduledActionsForRule") != std::string::npos &&
      collection == "deviceCompliancePolicies") {
    out["scheduledActionsForRule"] = p.scheduled_actions;
  }
  if (expand.find("settings") != std::string::npos && collection == "configurationPolicies") {
    out["settings"] = p.settings;
  }
  if (expand.find("assignments") != std::string::npos) out["assignments"] = p.assignments;
  return out;
}

// Rejects read-only properties the way Graph does. Returns false (res set).
bool GraphSim::Impl::CheckWritable(const json& body, httplib::Response& res,
                                   const std::string& rid) {
  if (!body.is_object()) {
    Error(res, 400, "BadRequest", "The request body must be a JSON object.", rid);
    return false;
  }
  for (const auto& [k, v] : body.items()) {
    if (kReadOnly.count(k)) {
      Error(res, 400, "ModelValidationFailure",
            "Property '" + k + "' is read-only and cannot be set on create or update.", rid);
      return false;
    }
  }
  return true;
}

json GraphSim::Impl::NewPolicy(const std::string& collection, json body) {
  const auto now = Iso8601(clock.Now());
  if (!body.contains("id")) body["id"] = NewGuid(rng);
  if (!body.contains("createdDateTime")) body["createdDateTime"] = now;
  body["lastModifiedDateTime"] = now;
  if (collection != "configurationPolicies" && collection != "assignmentFilters" &&
      !body.contains("version"))
    body["version"] = 1;
  if (!body.contains("@odata.type")) {
    static const std::map<std::string, std::string> kTypes = {
        {"deviceConfigurations", "#microsoft.graph.windows10GeneralConfiguration"},
        {"deviceCompliancePolicies", "#microsoft.graph.windows10CompliancePolicy"},
        {"configurationPolicies", "#microsoft.graph.deviceManagementConfigurationPolicy"},
        {"groupPolicyConfigurations", "#microsoft.graph.groupPolicyConfiguration"},
        {"deviceManagementScripts", "#microsoft.graph.deviceManagementScript"},
        {"windowsAutopilotDeploymentProfiles",
         "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"},
        {"deviceEnrollmentConfigurations", "#microsoft.graph.deviceEnrollmentLimitConfiguration"},
        {"assignmentFilters", "#microsoft.graph.deviceAndAppManagementAssignmentFilter"}};
    auto it = kTypes.find(collection);
    if (it != kTypes.end()) body["@odata.type"] = it->second;
  }
  return body;
}

void GraphSim::Impl::Store(Tenant& t, const std::string& collection, json body,
                           Policy* out_policy) {
  Policy p;
  if (body.contains("scheduledActionsForRule")) {
    p.scheduled_actions = body["scheduledActionsForRule"];
    body.erase("scheduledActionsForRule");
  }
  if (body.contains("settings")) {
    p.settings = body["settings"];
    body.erase("settings");
  }
  if (body.contains("definitionValues")) {
    p.definition_values = body["definitionValues"];
    body.erase("definitionValues");
  }
  if (body.contains("assignments")) {
    p.assignments = body["assignments"];
    body.erase("assignments");
  }
  if (collection == "configurationPolicies") body["settingCount"] = p.settings.size();
  const std::string id = body["id"];
  p.body = std::move(body);
  Collection& c = collection == "groups" ? t.groups : t.collections[collection];
  if (!c.items.count(id)) c.order.push_back(id);
  c.items[id] = p;
  if (out_policy) *out_policy = c.items[id];
}

bool GraphSim::Impl::IsCollection(const std::string& c) {
  const auto& all = SimCollections();
  return std::find(all.begin(), all.end(), c) != all.end();
}

Policy* GraphSim::Impl::Find(Tenant& t, const std::string& coll, const std::string& id,
                             httplib::Response& res, const std::string& rid) {
  if (!IsCollection(coll)) {
    Error(res, 404, "ResourceNotFound", "Unknown segment '" + coll + "'.", rid);
    return nullptr;
  }
  auto& items = t.collections[coll].items;
  auto it = items.find(id);
  if (it == items.end()) {
    Error(res, 404, "ResourceNotFound", "No " + coll + " object with id '" + id + "'.", rid);
    return nullptr;
  }
  return &it->second;
}

}  // namespace ta::sim
