#include "ops/capture.h"

#include "core/sha256.h"

namespace ta::ops {

using nlohmann::json;

std::set<std::string> IgnoredFields(const graph::PolicyType& type) {
  std::set<std::string> out(type.read_only_fields.begin(), type.read_only_fields.end());
  out.insert({"@odata.context", "roleScopeTagIds"});
  return out;
}

namespace {

// Ids inside settings, definition values and scheduled actions are assigned
// per tenant; they are not content.
json WithoutIds(const json& v) {
  if (v.is_object()) {
    json out = json::object();
    for (const auto& [k, x] : v.items())
      if (k != "id") out[k] = WithoutIds(x);
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& x : v) out.push_back(WithoutIds(x));
    return out;
  }
  return v;
}

}  // namespace

std::string ContentHash(const graph::PolicyType& type, const json& payload,
                        const json& assignments) {
  json p = payload;
  if (p.is_object())  // anything else is hashed as it is (found by fuzzing)
    for (const auto& k : IgnoredFields(type)) p.erase(k);
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  return Sha256Hex(
      json{{"payload", WithoutIds(p)}, {"assignments", WithoutIds(assignments)}}.dump());
}

graph::GraphResult<Captured> CapturePolicy(graph::GraphReader& reader,
                                           const graph::PolicyType& type,
                                           const std::string& graph_id) {
  std::string path = graph::ItemPath(type, graph_id);
  auto item = reader.Get(
      type.get_expand.empty() ? path : path + "?$expand=" + std::string(type.get_expand));
  if (!item) return graph::GraphFailure(item.error());
  if (!item->is_object()) {
    graph::GraphError e;
    e.kind = Status::Code::kUnavailable;
    e.code = "graph_malformed_response";
    e.message = "Graph answered " + path + " with JSON that is not an object";
    return graph::GraphFailure(e);
  }
  Captured c;
  c.payload = std::move(*item);
  for (const auto& sub : type.sub_resources) {
    std::string sub_path = path + "/" + std::string(sub.path);
    if (!sub.query.empty()) sub_path += "?" + std::string(sub.query);
    auto items = graph::ListAll(reader, sub_path);
    if (!items) return graph::GraphFailure(items.error());
    c.payload[std::string(sub.property)] = json(*items);
  }
  c.assignments = json::array();
  if (type.assign_body_key) {
    auto a = graph::ListAll(reader, path + "/assignments");
    if (!a) return graph::GraphFailure(a.error());
    c.assignments = json(*a);
  }
  c.payload.erase("assignments");
  c.content_hash = ContentHash(type, c.payload, c.assignments);
  return c;
}

}  // namespace ta::ops
