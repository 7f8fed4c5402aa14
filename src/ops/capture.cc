#include "ops/capture.h"

#include "core/sha256.h"

namespace ta::ops {

using nlohmann::json;

std::string ContentHash(const catalog::PolicyType& type, const json& payload,
                        const json& assignments) {
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  return Sha256Hex(json{{"payload", catalog::Canonical(type, payload)},
                        {"assignments", catalog::CanonicalAssignments(assignments)}}
                       .dump());
}

std::vector<FieldChange> ContentDiff(const catalog::PolicyType& type, const json& live,
                                     const json& live_assignments, const json& desired,
                                     const json& desired_assignments) {
  std::vector<FieldChange> out =
      Diff(catalog::Canonical(type, live), catalog::Canonical(type, desired), {});
  for (auto& c : out) {
    if (c.path.find("secretValue") == std::string::npos) continue;
    const bool added = c.before.is_null(), removed = c.after.is_null();
    c.before = added ? json() : json("(secret)");
    c.after = removed ? json() : json(added ? "(secret)" : "secret value changed");
  }
  if (type.assign_body_key) {
    json a = catalog::CanonicalAssignments(live_assignments);
    json b = catalog::CanonicalAssignments(desired_assignments);
    if (a != b) out.push_back({"assignments", std::move(a), std::move(b)});
  }
  return out;
}

namespace {

// Reads the plaintext of each encrypted value and seals it.
graph::GraphResult<bool> SealSecrets(graph::GraphReader& reader, const catalog::PolicyType& type,
                                     const std::string& path, json& payload, const SecretBox& box) {
  if (!type.encrypted || !payload.contains(std::string(type.encrypted->array))) return true;
  json& entries = payload[std::string(type.encrypted->array)];
  if (!entries.is_array()) return true;
  for (json& e : entries) {
    if (!e.is_object() || !e.value("isEncrypted", false)) continue;
    const std::string ref = e.value("secretReferenceValueId", "");
    if (ref.empty()) continue;
    auto plain = reader.Get(path + "/" + std::string(type.encrypted->function) +
                            "(secretReferenceValueId='" + ref + "')");
    if (!plain) return graph::GraphFailure(plain.error());
    if (!plain->is_object() || !(*plain)["value"].is_string()) {
      graph::GraphError err;
      err.kind = Status::Code::kUnavailable;
      err.code = "graph_malformed_response";
      err.message = "Graph answered " + std::string(type.encrypted->function) + " for '" +
                    e.value("omaUri", e.value("displayName", "")) + "' without a string value";
      return graph::GraphFailure(err);
    }
    const std::string value = (*plain)["value"].get<std::string>();
    e["secretValue"] = {{"sealed", box.Seal(value)}, {"digest", box.Digest(value)}};
    e.erase("value");
    e.erase("secretReferenceValueId");
  }
  return true;
}

}  // namespace

Result<json> UnsealSecrets(const catalog::PolicyType& type, json payload, const SecretBox& box) {
  if (!type.encrypted || !payload.is_object()) return payload;
  auto it = payload.find(std::string(type.encrypted->array));
  if (it == payload.end() || !it->is_array()) return payload;
  for (json& e : *it) {
    if (!e.is_object() || !e.contains("secretValue") || !e["secretValue"].is_object()) continue;
    auto plain = box.Open(e["secretValue"].value("sealed", ""));
    if (!plain) {
      return Unexpected(Status::FailedPrecondition(
          "the encrypted value of '" + e.value("omaUri", e.value("displayName", "")) +
          "' cannot be opened with this installation's master key (it was backed up under "
          "another key); capture the policy again"));
    }
    e["value"] = std::move(*plain);
    e["isEncrypted"] = false;  // sent as plaintext; Graph encrypts it again
    e.erase("secretValue");
  }
  return payload;
}

graph::GraphResult<Captured> CapturePolicy(graph::GraphReader& reader,
                                           const catalog::PolicyType& type,
                                           const std::string& graph_id, const SecretBox& box) {
  std::string path = catalog::ItemPath(type, graph_id);
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
    if (sub.path.empty()) continue;  // came with the GET's $expand
    std::string sub_path = path + "/" + std::string(sub.path);
    if (!sub.query.empty()) sub_path += "?" + std::string(sub.query);
    auto items = graph::ListAll(reader, sub_path);
    if (!items) return graph::GraphFailure(items.error());
    c.payload[std::string(sub.property)] = json(*items);
  }
  if (auto sealed = SealSecrets(reader, type, path, c.payload, box); !sealed)
    return graph::GraphFailure(sealed.error());
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
