#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "core/secret_box.h"
#include "graph/graph_client.h"
#include "ops/json_diff.h"

namespace ta::ops {

struct Captured {
  nlohmann::json payload;      // the object with its $expand and sub-resources merged in
  nlohmann::json assignments;  // [] for types that cannot be assigned
  std::string content_hash;    // of the canonical form (see catalog::Canonical)
};

// A complete capture of one object: GET with the catalog's $expand, every
// sub-resource read to the last page, the assignments, and each encrypted
// value's plaintext (read with the type's function) sealed under `box` with
// its keyed digest: {"secretValue": {"sealed", "digest"}} replaces "value".
graph::GraphResult<Captured> CapturePolicy(graph::GraphReader& reader,
                                           const catalog::PolicyType& type,
                                           const std::string& graph_id, const SecretBox& box);

// sha256 over the canonical payload and assignments: scope tags, sub-resources
// (keyed, without server ids) and secret digests are content; read-only
// fields are not.
std::string ContentHash(const catalog::PolicyType& type, const nlohmann::json& payload,
                        const nlohmann::json& assignments);

// What differs between two captures of an object, field by field over the
// canonical forms, with the assignments as one field ("assignments") for an
// assignable type. A secret's change reads "secret value changed", never a
// value or digest.
std::vector<FieldChange> ContentDiff(const catalog::PolicyType& type, const nlohmann::json& live,
                                     const nlohmann::json& live_assignments,
                                     const nlohmann::json& desired,
                                     const nlohmann::json& desired_assignments);

// A payload about to be written: each sealed secret opened into "value"
// (sent as plaintext, which Graph encrypts again). Fails, naming the
// setting and never the value, when a secret cannot be opened.
Result<nlohmann::json> UnsealSecrets(const catalog::PolicyType& type, nlohmann::json payload,
                                     const SecretBox& box);

}  // namespace ta::ops
