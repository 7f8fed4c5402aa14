#pragma once

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "graph/catalog.h"
#include "graph/graph_client.h"

namespace ta::ops {

struct Captured {
  nlohmann::json payload;      // the object with its $expand and sub-resources merged in
  nlohmann::json assignments;  // [] for types that cannot be assigned
  std::string content_hash;    // of everything but read-only and volatile fields
};

// A complete capture of one policy: GET with the catalog's $expand, every
// sub-resource read to the last page, and the assignments.
graph::GraphResult<Captured> CapturePolicy(graph::GraphReader& reader,
                                           const graph::PolicyType& type,
                                           const std::string& graph_id);

// The fields a comparison must ignore: read-only and volatile ones.
std::set<std::string> IgnoredFields(const graph::PolicyType& type);

// sha256 over the payload (minus ignored fields, nested ids) and assignments.
std::string ContentHash(const graph::PolicyType& type, const nlohmann::json& payload,
                        const nlohmann::json& assignments);

}  // namespace ta::ops
