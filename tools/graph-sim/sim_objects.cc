// graph-sim: the Intune collections under /deviceManagement (list, get,
// create, update, replace, assign) with their sub-resources (settings,
// definition values, scheduled actions, assignments), and /groups.
#include <algorithm>

#include "sim_impl.h"

namespace ta::sim {

namespace {
// /beta|v1.0/{home}/{collection}, and one item of it (see HomeOf).
const std::string kCollection =
    R"(/(?:beta|v1\.0)/(?:deviceManagement/virtualEndpoint|identity/conditionalAccess|deviceManagement|deviceAppManagement)/(\w+))";
const std::string kItem = kCollection + R"(/([^/]+))";

// Graph assigns an id to each entry of a sub-resource (and to each action
// configuration of a compliance rule).
json WithIds(json entries, std::mt19937_64& rng) {
  if (!entries.is_array()) return json::array();
  for (json& e : entries) {
    if (!e.is_object()) continue;
    if (!e.contains("id")) e["id"] = NewGuid(rng);
    for (const char* nested : {"scheduledActionConfigurations", "presentationValues"})
      if (e.contains(nested) && e[nested].is_array())
        for (json& n : e[nested])
          if (n.is_object() && !n.contains("id")) n["id"] = NewGuid(rng);
  }
  return entries;
}

// App protection and app configuration policies target apps.
bool HasTargetApps(const std::string& collection) {
  return collection == "iosManagedAppProtections" || collection == "androidManagedAppProtections" ||
         collection == "windowsManagedAppProtections" ||
         collection == "targetedManagedAppConfigurations";
}

// Entra's conditional access keywords, valid in every tenant.
bool Keyword(const std::string& id) {
  return id == "All" || id == "None" || id == "GuestsOrExternalUsers" || id == "AllTrusted" ||
         id == "Office365" || id == "MicrosoftAdminPortals";
}

// Line-of-business apps: their content is uploaded separately, so a new one
// is not published until it is.
bool LobApp(const json& body) {
  const std::string t = body.value("@odata.type", "");
  return t.find("LobApp") != std::string::npos || t.find("MSI") != std::string::npos ||
         t.find("DmgApp") != std::string::npos || t.find("AppX") != std::string::npos;
}

bool ZeroOrEmpty(const json& id) {
  return !id.is_string() || id.get<std::string>().empty() ||
         id.get<std::string>() == "00000000-0000-0000-0000-000000000000";
}

// The id in an "@odata.bind" URL's last "('...')".
std::string BoundId(const std::string& bind) {
  const size_t open = bind.rfind("('"), close = bind.rfind("')");
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return bind.substr(open + 2, close - open - 2);
}
}  // namespace

std::string HomeOf(const std::string& c) {
  if (c == "namedLocations" || c == "policies") return "identity/conditionalAccess";
  if (c == "provisioningPolicies" || c == "userSettings") return "deviceManagement/virtualEndpoint";
  if (c == "iosManagedAppProtections" || c == "androidManagedAppProtections" ||
      c == "windowsManagedAppProtections" || c == "targetedManagedAppConfigurations" ||
      c == "mobileApps" || c == "mobileAppConfigurations" || c == "policySets")
    return "deviceAppManagement";
  return "deviceManagement";
}

std::string WrongHome(const std::string& path) {
  for (const char* version : {"/beta/", "/v1.0/"}) {
    if (path.rfind(version, 0) != 0) continue;
    const std::string rest = path.substr(std::string(version).size());
    for (const char* home : {"deviceManagement/virtualEndpoint/", "identity/conditionalAccess/",
                             "deviceManagement/", "deviceAppManagement/"}) {
      if (rest.rfind(home, 0) != 0) continue;
      const std::string tail = rest.substr(std::string(home).size());
      const std::string coll = tail.substr(0, tail.find('/'));
      const auto& all = SimCollections();
      if (std::find(all.begin(), all.end(), coll) == all.end()) return "";
      if (HomeOf(coll) + "/" != home) return coll;
      return "";
    }
  }
  return "";
}

bool IsDirectory(const std::string& c) {
  return c == "groups" || c == "users" || c == "servicePrincipals" ||
         c == "directoryRoleDefinitions";
}

bool GraphSim::Impl::AnyObject(Tenant& t, const std::string& id) {
  for (auto& [name, c] : t.collections)
    if (!IsDirectory(name) && c.items.count(id)) return true;
  return false;
}

void GraphSim::Impl::ObjectRoutes() {
  // Before the generic routes, which would take their paths.
  AuditRoutes();
  IntentAndPolicySetRoutes();
  DirectoryRoutes();
  CollectionRoutes();
  SubResourceRoutes();
  ActionRoutes();
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
      json body;
      if (!ReadBody(req, res, rid, body) || !CheckWritable(body, res, rid, coll) ||
          !CheckReferences(t, body, res, rid))
        return;
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
      if (!CheckScripts(coll, body, true, res, rid)) return;
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
        json body;
        if (!ReadBody(req, res, rid, body) || !CheckWritable(body, res, rid, coll) ||
            !CheckReferences(t, body, res, rid) || !CheckScripts(coll, body, false, res, rid))
          return;
        if (coll == "configurationPolicies" && !put && body.contains("settings")) {
          return Error(res, 400, "BadRequest",
                       "Settings of a settings catalog policy cannot be changed with PATCH; "
                       "replace the policy "
                       "with PUT.",
                       rid);
        }
        if (p->body.value("isBuiltIn", false)) {
          return Error(res, 400, "BadRequest", "Built-in objects cannot be modified.", rid);
        }
        if (coll == "namedLocations" && !body.contains("@odata.type")) {
          return Error(res, 400, "BadRequest",
                       "The @odata.type property is required to update a named location.", rid);
        }
        if (put && coll != "configurationPolicies") {
          return Error(res, 405, "MethodNotAllowed",
                       "PUT is not supported on " + coll + "; use PATCH.", rid);
        }
        json merged = put ? json::object() : p->body;
        if (put) {
          for (const char* k : {"id", "createdDateTime", "@odata.type"}) merged[k] = p->body[k];
        }
        // Sub-resources are not properties: a PATCH (or PUT) ignores them,
        // as Graph does; each has its own way in (settings aside, which a
        // PUT replaces below).
        for (const auto& [k, v] : body.items()) {
          const bool sub =
              (k == "settings" && (coll == "configurationPolicies" || coll == "intents")) ||
              (k == "items" && coll == "policySets");
          if (!sub && k != "scheduledActionsForRule" && k != "definitionValues" &&
              k != "localizedNotificationMessages" && k != "assignments" && k != "apps")
            merged[k] = v;
        }
        if (coll == "deviceConfigurations") EncryptOmaSettings(t, merged);
        merged[HomeOf(coll) == "identity/conditionalAccess" ? "modifiedDateTime"
                                                            : "lastModifiedDateTime"] =
            Iso8601(clock.Now());
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
  server.Delete(item, [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      const std::string coll = req.matches[1], id = req.matches[2];
      Policy* p = Find(t, coll, id, res, rid);
      if (!p) return;
      if (p->body.value("isBuiltIn", false))
        return Error(res, 400, "BadRequest", "Built-in objects cannot be deleted.", rid);
      Collection& c = t.collections[coll];
      c.items.erase(id);
      c.order.erase(std::remove(c.order.begin(), c.order.end(), id), c.order.end());
      res.status = 204;
    });
  });
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
  // Terms and conditions have no /assign: assignments are added and removed one by one.
  server.Post(item + "/assignments", [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      const std::string coll = req.matches[1];
      if (coll != "termsAndConditions" && coll != "appleUserInitiatedEnrollmentProfiles")
        return Error(res, 405, "MethodNotAllowed", "Use the assign action on " + coll + ".", rid);
      Policy* p = Find(t, coll, req.matches[2], res, rid);
      if (!p) return;
      json body;
      if (!ReadBody(req, res, rid, body) || !CheckWritable(body, res, rid) ||
          !CheckAssignmentReferences(t, json::array({body}), res, rid))
        return;
      body["id"] = NewGuid(rng);
      p->assignments.push_back(body);
      res.status = 201;
      res.set_content(body.dump(), "application/json");
    });
  });
  server.Delete(item + "/assignments/([^/]+)", [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      Policy* p = Find(t, req.matches[1], req.matches[2], res, rid);
      if (!p) return;
      for (size_t i = 0; i < p->assignments.size(); ++i) {
        if (p->assignments[i].value("id", "") != std::string(req.matches[3])) continue;
        p->assignments.erase(i);
        res.status = 204;
        return;
      }
      Error(res, 404, "ResourceNotFound", "No assignment '" + std::string(req.matches[3]) + "'.",
            rid);
    });
  });
  server.Post(item + "/assign", [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      const std::string coll = req.matches[1];
      if (coll == "termsAndConditions" || coll == "appleUserInitiatedEnrollmentProfiles" ||
          coll == "policySets")
        return Error(res, 400, "BadRequest",
                     coll + " has no assign action; " +
                         (coll == "policySets" ? "use update." : "POST to its assignments."),
                     rid);
      Policy* p = Find(t, coll, req.matches[2], res, rid);
      if (!p) return;
      json body;
      const std::string key = AssignKey(coll);
      if (!ReadBody(req, res, rid, body, key)) return;
      if (!CheckAssignmentReferences(t, body[key], res, rid)) return;
      json out = json::array();
      for (auto a : body[key]) {
        const json target = a.value("target", json::object());
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
      const bool presentation = expand.find("($expand=presentation") != std::string::npos;
      for (json v : p->definition_values) {
        if (expand.find("definition") == std::string::npos) v.erase("definition");
        if (expand.find("presentationValues") == std::string::npos) v.erase("presentationValues");
        if (!presentation && v.contains("presentationValues"))
          for (json& pv : v["presentationValues"]) pv.erase("presentation");
        all.push_back(v);
      }
      res.set_content(Page(req, all).dump(), "application/json");
    });
  });
  server.Post(dv, [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      Policy* p = Find(t, "groupPolicyConfigurations", req.matches[1], res, rid);
      if (!p) return;
      json body;
      if (!ReadBody(req, res, rid, body) || !CheckWritable(body, res, rid)) return;
      body["id"] = NewGuid(rng);
      p->definition_values.push_back(body);
      res.status = 201;
      res.set_content(body.dump(), "application/json");
    });
  });
}

// Entries of a sub-resource, one at a time: compliance rules, definition
// values, localized notification messages. Each is stored once, so a write
// here is what every read (the list, the item's $expand) returns.
void GraphSim::Impl::ActionRoutes() {
  using httplib::Request;
  using httplib::Response;
  const std::string& item = kItem;
  const std::string entry = item +
                            "/(scheduledActionsForRule|definitionValues|"
                            "localizedNotificationMessages|apps|settings|items)";
  // The sub-resource the path names (matches 1-3), or nullptr with res set.
  auto sub_of = [this](Tenant& t, const Request& req, Response& res,
                       const std::string& rid) -> json* {
    Policy* p = Find(t, req.matches[1], req.matches[2], res, rid);
    if (!p) return nullptr;
    json* sub = SubOf(*p, req.matches[1], req.matches[3]);
    if (!sub) Error(res, 404, "ResourceNotFound", "No such sub-resource.", rid);
    return sub;
  };
  // The request's body as a writable object, or false with res set.
  auto writable = [this](const Request& req, Response& res, const std::string& rid, json& body) {
    return ReadBody(req, res, rid, body) && CheckWritable(body, res, rid);
  };
  server.Get(entry, [this, sub_of](const Request& req, Response& res) {
    Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
      json* sub = sub_of(t, req, res, rid);
      if (!sub) return;
      std::vector<json> all(sub->begin(), sub->end());
      res.set_content(Page(req, all).dump(), "application/json");
    });
  });
  server.Post(entry, [this, sub_of, writable](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      json* sub = sub_of(t, req, res, rid);
      json body;
      if (!sub || !writable(req, res, rid, body)) return;
      body = WithIds(json::array({body}), rng)[0];
      sub->push_back(body);
      res.status = 201;
      res.set_content(body.dump(), "application/json");
    });
  });
  auto one = entry + "/([^/]+)";
  server.Patch(one, [this, sub_of, writable](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      json* sub = sub_of(t, req, res, rid);
      json body;
      if (!sub || !writable(req, res, rid, body)) return;
      if (std::string(req.matches[1]) == "deviceCompliancePolicies" &&
          !CheckReferences(t, {{"scheduledActionsForRule", json::array({body})}}, res, rid))
        return;
      for (json& e : *sub) {
        if (e.value("id", "") != std::string(req.matches[4])) continue;
        for (const auto& [k, v] : body.items()) e[k] = v;
        e["lastModifiedDateTime"] = Iso8601(clock.Now());
        res.status = 204;
        return;
      }
      Error(res, 404, "ResourceNotFound", "No entry '" + std::string(req.matches[4]) + "'.", rid);
    });
  });
  server.Delete(one, [this, sub_of](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      json* sub = sub_of(t, req, res, rid);
      if (!sub) return;
      for (size_t i = 0; i < sub->size(); ++i) {
        if ((*sub)[i].value("id", "") != std::string(req.matches[4])) continue;
        sub->erase(i);
        res.status = 204;
        return;
      }
      Error(res, 404, "ResourceNotFound", "No entry '" + std::string(req.matches[4]) + "'.", rid);
    });
  });
  // The apps an app protection or app configuration policy targets: replaced whole.
  server.Post(item + "/targetApps", [this](const Request& req, Response& res) {
    Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
      Policy* p = Find(t, req.matches[1], req.matches[2], res, rid);
      if (!p) return;
      json* apps = SubOf(*p, req.matches[1], "apps");
      if (!apps) return Error(res, 400, "BadRequest", "This policy has no target apps.", rid);
      json body;
      if (!ReadBody(req, res, rid, body, "apps")) return;
      for (const auto& a : body["apps"])
        if (!a.is_object() || !a.contains("mobileAppIdentifier"))
          return Error(res, 400, "BadRequest", "Each app needs a mobileAppIdentifier.", rid);
      *apps = WithIds(body["apps"], rng);
      if (body.contains("appGroupType")) p->body["appGroupType"] = body["appGroupType"];
      p->body["lastModifiedDateTime"] = Iso8601(clock.Now());
      res.status = 204;
    });
  });
  // Compliance actions: a PATCH of the policy ignores them; this replaces them.
  server.Post(
      R"(/(?:beta|v1\.0)/deviceManagement/deviceCompliancePolicies/([^/]+)/scheduleActionsForRules)",
      [this](const Request& req, Response& res) {
        Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
          Policy* p = Find(t, "deviceCompliancePolicies", req.matches[1], res, rid);
          if (!p) return;
          const char* key = "deviceComplianceScheduledActionForRules";
          json body;
          if (!ReadBody(req, res, rid, body, key)) return;
          if (!CheckReferences(t, {{"scheduledActionsForRule", body[key]}}, res, rid)) return;
          p->scheduled_actions = WithIds(body[key], rng);
          p->body["lastModifiedDateTime"] = Iso8601(clock.Now());
          res.set_content(json{{"value", p->scheduled_actions}}.dump(), "application/json");
        });
      });
  // Administrative template values: added, updated and deleted in one call.
  server.Post(
      R"(/(?:beta|v1\.0)/deviceManagement/groupPolicyConfigurations/([^/]+)/updateDefinitionValues)",
      [this](const Request& req, Response& res) {
        Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
          Policy* p = Find(t, "groupPolicyConfigurations", req.matches[1], res, rid);
          if (!p) return;
          json body;
          if (!ReadBody(req, res, rid, body)) return;
          json values = p->definition_values;
          // Binds become the navigation objects a read expands.
          // A bind names this Graph (its host), as Graph resolves it.
          const std::string self = SelfBase(req);
          auto bound = [&](json v, std::string* error) {
            const std::string durl = v.value("definition@odata.bind", "");
            if (!durl.empty() && durl.rfind(self, 0) != 0)
              *error = "definition@odata.bind '" + durl + "' does not point at this service (" +
                       self + ")";
            const std::string def = BoundId(durl);
            if (!def.empty()) v["definition"] = {{"id", def}};
            v.erase("definition@odata.bind");
            if (v.contains("presentationValues")) {
              for (json& pv : v["presentationValues"]) {
                const std::string purl = pv.value("presentation@odata.bind", "");
                if (!purl.empty() && purl.rfind(self, 0) != 0)
                  *error = "presentation@odata.bind '" + purl +
                           "' does not point at this service (" + self + ")";
                const std::string pid = BoundId(purl);
                if (pv.contains("presentation@odata.bind") && pid.empty())
                  *error = "presentation@odata.bind is not a presentation URL";
                if (!pid.empty()) pv["presentation"] = {{"id", pid}};
                pv.erase("presentation@odata.bind");
              }
            }
            return v;
          };
          std::string error;
          for (const auto& a : body.value("added", json::array())) {
            if (BoundId(a.value("definition@odata.bind", "")).empty())
              return Error(res, 400, "BadRequest", "Each added value needs definition@odata.bind.",
                           rid);
            values.push_back(WithIds(json::array({bound(a, &error)}), rng)[0]);
          }
          for (const auto& u : body.value("updated", json::array())) {
            auto it = std::find_if(values.begin(), values.end(), [&](const json& v) {
              return v.value("id", "") == u.value("id", "");
            });
            if (it == values.end())
              return Error(res, 404, "ResourceNotFound",
                           "No definition value '" + u.value("id", "") + "'.", rid);
            json b = bound(u, &error);
            for (const auto& [k, v] : b.items())
              if (k != "presentationValues") (*it)[k] = v;
            if (b.contains("presentationValues"))
              (*it)["presentationValues"] = WithIds(b["presentationValues"], rng);
          }
          for (const auto& d : body.value("deletedIds", json::array())) {
            for (size_t i = 0; i < values.size(); ++i)
              if (values[i].value("id", "") == d) values.erase(i--);
          }
          if (!error.empty()) return Error(res, 400, "BadRequest", error, rid);
          p->definition_values = values;
          res.status = 204;
        });
      });
  // The plaintext of an encrypted OMA-URI value.
  server.Get(
      R"(/(?:beta|v1\.0)/deviceManagement/deviceConfigurations/([^/]+)/getOmaSettingPlainTextValue\(secretReferenceValueId='([^']*)'\))",
      [this](const Request& req, Response& res) {
        Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
          if (!Find(t, "deviceConfigurations", req.matches[1], res, rid)) return;
          auto it = t.secrets.find(req.matches[2]);
          if (it == t.secrets.end())
            return Error(res, 404, "ResourceNotFound",
                         "No secret '" + std::string(req.matches[2]) + "'.", rid);
          res.set_content(json{{"value", it->second}}.dump(), "application/json");
        });
      });
}

bool GraphSim::Impl::ReadBody(const httplib::Request& req, httplib::Response& res,
                              const std::string& rid, json& body, const std::string& array_key) {
  body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    Error(res, 400, "BadRequest", "The request body must be a JSON object.", rid);
    return false;
  }
  if (!array_key.empty() && (!body.contains(array_key) || !body[array_key].is_array())) {
    Error(res, 400, "BadRequest", "The body must contain '" + array_key + "' (an array).", rid);
    return false;
  }
  return true;
}

bool GraphSim::Impl::CheckScripts(const std::string& collection, const json& body, bool create,
                                  httplib::Response& res, const std::string& rid) {
  // collection -> its script fields (the first is required on create)
  static const std::map<std::string, std::vector<std::string>> kScripts = {
      {"deviceManagementScripts", {"scriptContent"}},
      {"deviceShellScripts", {"scriptContent"}},
      {"deviceCustomAttributeShellScripts", {"scriptContent"}},
      {"deviceHealthScripts", {"detectionScriptContent", "remediationScriptContent"}},
      {"deviceComplianceScripts", {"detectionScriptContent"}}};
  auto it = kScripts.find(collection);
  if (it == kScripts.end()) return true;
  for (size_t i = 0; i < it->second.size(); ++i) {
    const std::string& field = it->second[i];
    if (!body.contains(field) && !(create && i == 0)) continue;
    if (!body.contains(field) || !body[field].is_string() || !ValidBase64(body[field])) {
      Error(res, 400, "ModelValidationFailure", field + " must be base64-encoded.", rid);
      return false;
    }
  }
  return true;
}

json* GraphSim::Impl::SubOf(Policy& p, const std::string& collection, const std::string& prop) {
  if (collection == "deviceCompliancePolicies" && prop == "scheduledActionsForRule")
    return &p.scheduled_actions;
  if (collection == "groupPolicyConfigurations" && prop == "definitionValues")
    return &p.definition_values;
  if (collection == "notificationMessageTemplates" && prop == "localizedNotificationMessages")
    return &p.localized_messages;
  if (collection == "configurationPolicies" && prop == "settings") return &p.settings;
  if (HasTargetApps(collection) && prop == "apps") return &p.apps;
  if (collection == "intents" && prop == "settings") return &p.settings;
  if (collection == "policySets" && prop == "items") return &p.items;
  return nullptr;
}

bool GraphSim::Impl::CheckReferences(Tenant& t, const json& body, httplib::Response& res,
                                     const std::string& rid) {
  auto invalid = [&](const std::string& what, const std::string& id) {
    Error(res, 400, "BadRequest",
          "Invalid Reference id: " + what + " '" + id + "' does not exist in this tenant.", rid);
    return false;
  };
  if (!body.is_object()) return true;
  // Conditional access: every user, group, role, application and location
  // it names (keywords aside) exists here.
  const json conditions = body.value("conditions", json::object());
  if (conditions.is_object()) {
    struct Check {
      const char* section;
      const char* field;
      const char* what;
      std::function<bool(const std::string&)> exists;
    };
    auto in = [&t](const char* coll, const char* key) {
      return [&t, coll, key](const std::string& id) {
        for (const auto& [oid, o] : t.collections[coll].items)
          if (o.body.value(key, oid) == id) return true;
        return false;
      };
    };
    const std::vector<Check> checks = {
        {"users", "includeUsers", "user", in("users", "id")},
        {"users", "excludeUsers", "user", in("users", "id")},
        {"users", "includeGroups", "group",
         [&t](const std::string& id) { return t.groups.items.count(id) > 0; }},
        {"users", "excludeGroups", "group",
         [&t](const std::string& id) { return t.groups.items.count(id) > 0; }},
        {"users", "includeRoles", "directory role", in("directoryRoleDefinitions", "templateId")},
        {"users", "excludeRoles", "directory role", in("directoryRoleDefinitions", "templateId")},
        {"applications", "includeApplications", "application", in("servicePrincipals", "appId")},
        {"applications", "excludeApplications", "application", in("servicePrincipals", "appId")},
        {"locations", "includeLocations", "named location", in("namedLocations", "id")},
        {"locations", "excludeLocations", "named location", in("namedLocations", "id")}};
    for (const auto& c : checks) {
      const json section = conditions.value(c.section, json::object());
      if (!section.is_object()) continue;
      for (const auto& id : section.value(c.field, json::array()))
        if (!id.is_string() || (!Keyword(id) && !c.exists(id)))
          return invalid(c.what, id.is_string() ? id.get<std::string>() : id.dump());
    }
  }
  for (const auto& app : body.value("targetedMobileApps", json::array()))
    if (!app.is_string() || !t.collections["mobileApps"].items.count(app))
      return invalid("mobile app", app.is_string() ? app.get<std::string>() : app.dump());
  for (const auto& item : body.value("items", json::array()))
    if (item.is_object() && !AnyObject(t, item.value("payloadId", "")))
      return invalid("policy set item payload", item.value("payloadId", ""));
  for (const auto& tag : body.value("roleScopeTagIds", json::array())) {
    const std::string id = tag.is_string() ? tag.get<std::string>() : tag.dump();
    if (id != "0" && !t.collections["roleScopeTags"].items.count(id))
      return invalid("scope tag", id);
  }
  for (const auto& rule : body.value("scheduledActionsForRule", json::array())) {
    if (!rule.is_object()) continue;
    for (const auto& a : rule.value("scheduledActionConfigurations", json::array())) {
      if (!a.is_object()) continue;
      const json tmpl = a.value("notificationTemplateId", json());
      if (!ZeroOrEmpty(tmpl) &&
          !t.collections["notificationMessageTemplates"].items.count(tmpl.get<std::string>()))
        return invalid("notification message template", tmpl.get<std::string>());
      for (const auto& g : a.value("notificationMessageCCList", json::array()))
        if (!g.is_string() || !t.groups.items.count(g.get<std::string>()))
          return invalid("group", g.is_string() ? g.get<std::string>() : g.dump());
    }
  }
  return true;
}

bool GraphSim::Impl::CheckAssignmentReferences(Tenant& t, const json& assignments,
                                               httplib::Response& res, const std::string& rid) {
  for (const auto& a : assignments) {
    const json target = a.value("target", json::object());
    if (target.contains("groupId")) {
      const std::string gid = target["groupId"].is_string() ? target["groupId"].get<std::string>()
                                                            : target["groupId"].dump();
      if (!t.groups.items.count(gid)) {
        Error(res, 400, "BadRequest", "Group '" + gid + "' does not exist in this tenant.", rid);
        return false;
      }
    } else if (target.value("@odata.type", "").find("allDevices") == std::string::npos &&
               target.value("@odata.type", "").find("allLicensedUsers") == std::string::npos) {
      Error(res, 400, "BadRequest", "Each assignment needs a target with a groupId.", rid);
      return false;
    }
    const json filter = target.value("deviceAndAppManagementAssignmentFilterId", json());
    if (!ZeroOrEmpty(filter) &&
        !t.collections["assignmentFilters"].items.count(filter.get<std::string>())) {
      Error(res, 400, "BadRequest",
            "Invalid Reference id: assignment filter '" + filter.get<std::string>() +
                "' does not exist in this tenant.",
            rid);
      return false;
    }
  }
  return true;
}

void GraphSim::Impl::EncryptOmaSettings(Tenant& t, json& body) {
  if (!body.contains("omaSettings") || !body["omaSettings"].is_array()) return;
  for (json& e : body["omaSettings"]) {
    if (!e.is_object() || e.value("@odata.type", "").find("omaSettingString") == std::string::npos)
      continue;
    const std::string ref = e.value("secretReferenceValueId", "");
    if (e.value("isEncrypted", false) && t.secrets.count(ref)) continue;  // kept as it is
    const std::string fresh = NewGuid(rng);
    t.secrets[fresh] = e.value("value", "");
    e["value"] = "****";
    e["isEncrypted"] = true;
    e["secretReferenceValueId"] = fresh;
  }
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
    std::string next = SelfBase(req) + req.path.substr(1) +
                       "?$top=" + std::to_string(top) + "&$skiptoken=" + std::to_string(skip + top);
    for (const char* kept : {"$expand", "$filter"}) {
      if (req.has_param(kept))
        next += std::string("&") + kept + "=" +
                httplib::detail::encode_query_param(req.get_param_value(kept));
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
  if (expand.find("localizedNotificationMessages") != std::string::npos &&
      collection == "notificationMessageTemplates") {
    out["localizedNotificationMessages"] = p.localized_messages;
  }
  if (expand.find("apps") != std::string::npos && HasTargetApps(collection)) out["apps"] = p.apps;
  if (expand.find("items") != std::string::npos && collection == "policySets")
    out["items"] = p.items;
  if (expand.find("assignments") != std::string::npos) out["assignments"] = p.assignments;
  return out;
}

// Rejects read-only properties the way Graph does. Returns false (res set).
bool GraphSim::Impl::CheckWritable(const json& body, httplib::Response& res,
                                   const std::string& rid, const std::string& collection) {
  // Per collection: what Graph computes for that kind of object.
  static const std::map<std::string, std::set<std::string>> kComputed = {
      {"mobileApps",
       {"publishingState", "uploadState", "committedContentVersion", "size",
        "dependentAppCount", "supersedingAppCount", "supersededAppCount"}},
      {"policies", {"templateId"}},
      {"intents", {"isMigratingToConfigurationPolicy"}},
      {"policySets", {"status", "errorCode"}},
      {"deviceHealthScripts", {"isGlobalScript", "highestAvailableVersion"}},
      {"androidDeviceOwnerEnrollmentProfiles",
       {"tokenValue", "tokenCreationDateTime", "tokenExpirationDateTime", "enrolledDeviceCount",
        "qrCodeContent", "qrCodeImage"}},
      {"appleUserInitiatedEnrollmentProfiles", {"priority"}},
      {"windowsFeatureUpdateProfiles", {"deployableContentDisplayName", "endOfSupportDate"}},
      {"reusablePolicySettings",
       {"referencingConfigurationPolicyCount", "referencingConfigurationPolicies"}}};
  if (auto it = kComputed.find(collection); it != kComputed.end() && body.is_object()) {
    for (const auto& k : it->second)
      if (body.contains(k)) {
        Error(res, 400, "ModelValidationFailure",
              "Property '" + k + "' is computed by the service and cannot be set on " +
                  collection + ".",
              rid);
        return false;
      }
  }
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
  const bool entra = HomeOf(collection) == "identity/conditionalAccess";
  body[entra ? "modifiedDateTime" : "lastModifiedDateTime"] = now;
  if (collection != "configurationPolicies" && collection != "assignmentFilters" && !entra &&
      !body.contains("version"))
    body["version"] = 1;
  if (collection == "mobileApps" && !body.contains("publishingState"))
    body["publishingState"] = LobApp(body) ? "notPublished" : "published";
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
        {"assignmentFilters", "#microsoft.graph.deviceAndAppManagementAssignmentFilter"},
        {"roleScopeTags", "#microsoft.graph.roleScopeTag"},
        {"notificationMessageTemplates", "#microsoft.graph.notificationMessageTemplate"},
        {"deviceHealthScripts", "#microsoft.graph.deviceHealthScript"},
        {"deviceComplianceScripts", "#microsoft.graph.deviceComplianceScript"},
        {"deviceShellScripts", "#microsoft.graph.deviceShellScript"},
        {"deviceCustomAttributeShellScripts", "#microsoft.graph.deviceCustomAttributeShellScript"},
        {"windowsFeatureUpdateProfiles", "#microsoft.graph.windowsFeatureUpdateProfile"},
        {"windowsQualityUpdateProfiles", "#microsoft.graph.windowsQualityUpdateProfile"},
        {"windowsDriverUpdateProfiles", "#microsoft.graph.windowsDriverUpdateProfile"},
        {"deviceCategories", "#microsoft.graph.deviceCategory"},
        {"iosManagedAppProtections", "#microsoft.graph.iosManagedAppProtection"},
        {"androidManagedAppProtections", "#microsoft.graph.androidManagedAppProtection"},
        {"targetedManagedAppConfigurations", "#microsoft.graph.targetedManagedAppConfiguration"},
        {"windowsManagedAppProtections", "#microsoft.graph.windowsManagedAppProtection"},
        {"reusablePolicySettings", "#microsoft.graph.deviceManagementReusablePolicySetting"},
        {"androidDeviceOwnerEnrollmentProfiles",
         "#microsoft.graph.androidDeviceOwnerEnrollmentProfile"},
        {"roleDefinitions", "#microsoft.graph.deviceAndAppManagementRoleDefinition"},
        {"termsAndConditions", "#microsoft.graph.termsAndConditions"},
        {"namedLocations", "#microsoft.graph.ipNamedLocation"},
        {"policies", "#microsoft.graph.conditionalAccessPolicy"},
        {"mobileApps", "#microsoft.graph.webApp"},
        {"mobileAppConfigurations", "#microsoft.graph.iosMobileAppConfiguration"},
        {"intents", "#microsoft.graph.deviceManagementIntent"},
        {"policySets", "#microsoft.graph.policySet"},
        {"provisioningPolicies", "#microsoft.graph.cloudPcProvisioningPolicy"},
        {"userSettings", "#microsoft.graph.cloudPcUserSetting"},
        {"appleUserInitiatedEnrollmentProfiles",
         "#microsoft.graph.appleUserInitiatedEnrollmentProfile"}};
    auto it = kTypes.find(collection);
    if (it != kTypes.end()) body["@odata.type"] = it->second;
  }
  return body;
}

void GraphSim::Impl::Store(Tenant& t, const std::string& collection, json body,
                           Policy* out_policy) {
  Policy p;
  if (collection == "deviceConfigurations") EncryptOmaSettings(t, body);
  if (body.contains("scheduledActionsForRule")) {
    p.scheduled_actions = WithIds(body["scheduledActionsForRule"], rng);
    body.erase("scheduledActionsForRule");
  }
  if (body.contains("apps")) {
    p.apps = WithIds(body["apps"], rng);
    body.erase("apps");
  }
  if (collection == "policySets" && body.contains("items")) {
    p.items = WithIds(body["items"], rng);
    body.erase("items");
  }
  if (body.contains("localizedNotificationMessages")) {
    p.localized_messages = WithIds(body["localizedNotificationMessages"], rng);
    body.erase("localizedNotificationMessages");
  }
  if (body.contains("settings") &&
      (collection == "configurationPolicies" || collection == "intents")) {
    p.settings = collection == "intents" ? WithIds(body["settings"], rng) : body["settings"];
    body.erase("settings");
  }
  if (body.contains("definitionValues")) {
    p.definition_values = WithIds(body["definitionValues"], rng);
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
