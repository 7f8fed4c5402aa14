#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ta::ops {

struct FieldChange {
  std::string path;       // "passwordMinimumLength", "settings[3].settingInstance.value"
  nlohmann::json before;  // live value (null when absent)
  nlohmann::json after;   // value the restore would write (null when absent)
};

// Field-level differences from `live` to `desired`, recursing into objects and
// arrays, skipping the top-level keys in `ignore` and every "@odata.*"
// annotation except "@odata.type". Stable order (keys sorted).
std::vector<FieldChange> Diff(const nlohmann::json& live, const nlohmann::json& desired,
                              const std::set<std::string>& ignore);

nlohmann::json ToJson(const std::vector<FieldChange>& changes);

}  // namespace ta::ops
