#include "ops/json_diff.h"

namespace ta::ops {
namespace {

using nlohmann::json;

bool Annotation(const std::string& key) {
  return key.find("@odata.") != std::string::npos && key != "@odata.type";
}

void Walk(const json& a, const json& b, const std::string& path, std::vector<FieldChange>& out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, _] : a.items()) keys.insert(k);
    for (const auto& [k, _] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      if (Annotation(k)) continue;
      const std::string p = path.empty() ? k : path + "." + k;
      Walk(a.contains(k) ? a[k] : json(), b.contains(k) ? b[k] : json(), p, out);
    }
    return;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i)
      Walk(a[i], b[i], path + "[" + std::to_string(i) + "]", out);
    return;
  }
  if (a != b) out.push_back({path, a, b});
}

}  // namespace

std::vector<FieldChange> Diff(const json& live, const json& desired,
                              const std::set<std::string>& ignore) {
  json a = live, b = desired;
  // Only an object has fields to ignore (a body that is not one, say a bare
  // number from a misbehaving endpoint, is compared as it is; found by fuzzing).
  for (const auto& k : ignore) {
    if (a.is_object()) a.erase(k);
    if (b.is_object()) b.erase(k);
  }
  std::vector<FieldChange> out;
  Walk(a, b, "", out);
  return out;
}

json ToJson(const std::vector<FieldChange>& changes) {
  json out = json::array();
  for (const auto& c : changes)
    out.push_back({{"path", c.path}, {"before", c.before}, {"after", c.after}});
  return out;
}

}  // namespace ta::ops
