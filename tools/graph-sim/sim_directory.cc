// graph-sim: Entra directory lists (users, service principals, directory
// role definitions) and the two Intune types written through actions:
// endpoint security intents (created from a template with createInstance,
// settings changed with updateSettings) and policy sets (items and
// assignments changed with update).
#include <algorithm>

#include "sim_impl.h"

namespace ta::sim {

namespace {
// A readable name for a setting id: "device_vendor_msft_policy_config_defender_scan"
// -> "Defender scan".
std::string Humanize(std::string id) {
  for (const char* prefix : {"device_vendor_msft_policy_config_", "device_vendor_msft_",
                             "user_vendor_msft_", "vendor_msft_"})
    if (id.rfind(prefix, 0) == 0) id = id.substr(std::string(prefix).size());
  for (auto& c : id)
    if (c == '_') c = ' ';
  if (!id.empty()) id[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(id[0])));
  return id;
}
}  // namespace

void GraphSim::Impl::DirectoryRoutes() {
  using httplib::Request;
  using httplib::Response;
  // path -> the collection it lists
  const std::vector<std::pair<std::string, std::string>> lists = {
      {R"(/(?:beta|v1\.0)/users)", "users"},
      {R"(/(?:beta|v1\.0)/servicePrincipals)", "servicePrincipals"},
      {R"(/(?:beta|v1\.0)/roleManagement/directory/roleDefinitions)", "directoryRoleDefinitions"}};
  // A setting definition: its name and its options ("<id>_0" disabled, "<id>_1" enabled).
  server.Get(R"(/(?:beta|v1\.0)/deviceManagement/configurationSettings/([^/]+))",
             [this](const Request& req, Response& res) {
               Graph(req, res, false, [&](Tenant&, const std::string&) {
                 const std::string id = req.matches[1];
                 const json d = {
                     {"@odata.type",
                      "#microsoft.graph.deviceManagementConfigurationChoiceSettingDefinition"},
                     {"id", id},
                     {"displayName", Humanize(id)},
                     {"description", "Simulated definition of " + id},
                     {"options",
                      {{{"itemId", id + "_0"},
                        {"displayName", "Disabled"},
                        {"optionValue", {{"value", 0}}}},
                       {{"itemId", id + "_1"},
                        {"displayName", "Enabled"},
                        {"optionValue", {{"value", 1}}}}}}};
                 res.set_content(d.dump(), "application/json");
               });
             });
  // The app registration, with its client secrets as Entra lists them: a
  // hint (the secret's first three characters) and the end date, never the
  // secret itself.
  server.Get(R"(/(?:beta|v1\.0)/applications\(appId='([^']+)'\))",
             [this](const Request& req, Response& res) {
               Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
                 const std::string app_id = req.matches[1];
                 auto app = t.apps.find(app_id);
                 if (app == t.apps.end())
                   return Error(res, 404, "Request_ResourceNotFound",
                                "Resource '" + app_id + "' does not exist or one of its queried "
                                "reference-property objects are not present.",
                                rid);
                 const json out = {
                     {"id", "a0" + app_id},
                     {"appId", app_id},
                     {"displayName", "TenantAtlas backup (" + app_id + ")"},
                     {"passwordCredentials",
                      {{{"keyId", "5ec4e7c0-0000-4000-8000-" + std::string(12, '0')},
                        {"displayName", "TenantAtlas"},
                        {"hint", app->second.substr(0, 3)},
                        {"endDateTime", t.secret_ends[app_id]},
                        {"secretText", nullptr}}}}};
                 res.set_content(out.dump(), "application/json");
               });
             });
  // The directory's organization (its display name names a consented tenant).
  server.Get(R"(/(?:beta|v1\.0)/organization)", [this](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string&) {
      const json out = {{"value", {{{"id", t.id}, {"displayName", t.org_name}}}}};
      res.set_content(out.dump(), "application/json");
    });
  });
  for (const auto& [path, coll] : lists) {
    server.Get(path, [this, coll = coll](const Request& req, Response& res) {
      Graph(req, res, false, [&](Tenant& t, const std::string&) {
        std::vector<json> all;
        const Collection& c = t.collections[coll];
        for (const auto& id : c.order) all.push_back(c.items.at(id).body);
        res.set_content(Page(req, all).dump(), "application/json");
      });
    });
  }
}

void GraphSim::Impl::IntentAndPolicySetRoutes() {
  using httplib::Request;
  using httplib::Response;
  // POST /deviceManagement/templates/{templateId}/createInstance: a new
  // intent from a (Microsoft-defined, the same in every tenant) template.
  server.Post(R"(/(?:beta|v1\.0)/deviceManagement/templates/([^/]+)/createInstance)",
              [this](const Request& req, Response& res) {
                Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
                  json body;
                  if (!ReadBody(req, res, rid, body) || !CheckWritable(body, res, rid) ||
                      !CheckReferences(t, body, res, rid))
                    return;
                  if (!body.contains("displayName") || !body["displayName"].is_string())
                    return Error(res, 400, "ModelValidationFailure",
                                 "Property 'displayName' is required.", rid);
                  if (body.contains("templateId"))
                    return Error(res, 400, "ModelValidationFailure",
                                 "templateId comes from the path of createInstance.", rid);
                  json intent = body;
                  intent.erase("settingsDelta");
                  intent["templateId"] = std::string(req.matches[1]);
                  intent["settings"] = body.value("settingsDelta", json::array());
                  Policy stored;
                  Store(t, "intents", NewPolicy("intents", intent), &stored);
                  res.status = 201;
                  res.set_content(Render("intents", stored, "", true).dump(), "application/json");
                });
              });
  // An intent is created from its template, never posted to the collection.
  server.Post(
      R"(/(?:beta|v1\.0)/deviceManagement/intents)", [this](const Request& req, Response& res) {
        Graph(req, res, true, [&](Tenant&, const std::string& rid) {
          Error(res, 400, "BadRequest",
                "Create an intent with POST deviceManagement/templates/{id}/createInstance.", rid);
        });
      });
  // Settings of an intent: each given value replaces the one with its definitionId.
  server.Post(
      R"(/(?:beta|v1\.0)/deviceManagement/intents/([^/]+)/updateSettings)",
      [this](const Request& req, Response& res) {
        Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
          Policy* p = Find(t, "intents", req.matches[1], res, rid);
          if (!p) return;
          json body;
          if (!ReadBody(req, res, rid, body, "settings")) return;
          for (const auto& s : body["settings"]) {
            if (!s.is_object() || !s.contains("definitionId"))
              return Error(res, 400, "BadRequest", "Each setting needs a definitionId.", rid);
            auto it = std::find_if(p->settings.begin(), p->settings.end(), [&](const json& e) {
              return e.value("definitionId", "") == s.value("definitionId", "");
            });
            json v = s;
            v["id"] = it != p->settings.end() ? (*it)["id"] : json(NewGuid(rng));
            if (it != p->settings.end())
              *it = v;
            else
              p->settings.push_back(v);
          }
          p->body["lastModifiedDateTime"] = Iso8601(clock.Now());
          res.status = 204;
        });
      });
  // A policy set's items and assignments: added, deleted and replaced in one call.
  server.Post(R"(/(?:beta|v1\.0)/deviceAppManagement/policySets/([^/]+)/update)",
              [this](const Request& req, Response& res) {
                Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
                  Policy* p = Find(t, "policySets", req.matches[1], res, rid);
                  if (!p) return;
                  json body;
                  if (!ReadBody(req, res, rid, body)) return;
                  const json added = body.value("addedPolicySetItems", json::array());
                  if (!CheckReferences(t, {{"items", added}}, res, rid)) return;
                  if (body.contains("assignments") &&
                      !CheckAssignmentReferences(t, body["assignments"], res, rid))
                    return;
                  json items = p->items;
                  for (const auto& d : body.value("deletedPolicySetItems", json::array()))
                    for (size_t i = 0; i < items.size(); ++i)
                      if (items[i].value("id", "") == d) items.erase(i--);
                  for (const auto& a : added) {
                    json e = a;
                    e["id"] = NewGuid(rng);
                    items.push_back(e);
                  }
                  p->items = items;
                  if (body.contains("assignments")) {
                    json out = json::array();
                    for (auto a : body["assignments"]) {
                      a["id"] = NewGuid(rng);
                      out.push_back(a);
                    }
                    p->assignments = out;
                  }
                  p->body["lastModifiedDateTime"] = Iso8601(clock.Now());
                  res.status = 204;
                });
              });
}

}  // namespace ta::sim
