// docs/openapi.yaml and the route table must agree: the same operations, the
// same required roles, bodies, path and query parameters, the error responses
// every protected route can give, and no dangling $ref.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <set>

#include "api/routes.h"

namespace ta::api {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::set<std::string> Split(std::string_view list) {
  std::set<std::string> out;
  size_t i = 0;
  while (i < list.size()) {
    const size_t j = std::min(list.find(',', i), list.size());
    out.emplace(list.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

class OpenApi : public ::testing::Test {
 protected:
  void SetUp() override { spec_ = YAML::LoadFile(TA_OPENAPI); }
  // Follows a local "$ref" ("#/components/parameters/tenant").
  YAML::Node Resolve(const YAML::Node& node) {
    if (!node["$ref"]) return node;
    const std::string ref = node["$ref"].as<std::string>();
    EXPECT_EQ(ref.rfind("#/", 0), 0u) << ref;
    YAML::Node at = YAML::Clone(spec_);
    size_t i = 2;
    while (i <= ref.size()) {
      const size_t j = std::min(ref.find('/', i), ref.size());
      at = YAML::Node(at[ref.substr(i, j - i)]);
      if (!at) {
        ADD_FAILURE() << "dangling $ref " << ref;
        return at;
      }
      i = j + 1;
    }
    return at;
  }
  YAML::Node spec_;
};

TEST_F(OpenApi, DescribesExactlyTheRoutesTheServerHas) {
  ASSERT_EQ(spec_["openapi"].as<std::string>(), "3.1.0");
  std::set<std::string> in_table, in_spec;
  for (const Route& r : RouteTable())
    in_table.insert(Lower(r.method) + " " + std::string(r.pattern));
  for (const auto& path : spec_["paths"])
    for (const auto& op : path.second)
      in_spec.insert(op.first.as<std::string>() + " " + path.first.as<std::string>());
  for (const auto& k : in_table) EXPECT_TRUE(in_spec.count(k)) << "not in docs/openapi.yaml: " << k;
  for (const auto& k : in_spec) EXPECT_TRUE(in_table.count(k)) << "not served: " << k;
}

TEST_F(OpenApi, EveryOperationStatesRoleBodyParametersAndErrors) {
  for (const Route& r : RouteTable()) {
    const std::string what = std::string(r.method) + " " + std::string(r.pattern);
    YAML::Node op = spec_["paths"][std::string(r.pattern)][Lower(r.method)];
    if (!op) continue;  // reported by the test above
    EXPECT_EQ(op["x-required-role"].as<std::string>(""), AccessName(r.access)) << what;
    EXPECT_EQ(static_cast<bool>(op["requestBody"]), r.body == BodyKind::kJson) << what;
    std::set<std::string> path_params, query_params, spec_path, spec_query, spec_header;
    const std::string pattern(r.pattern);
    for (size_t i = pattern.find('{'); i != std::string::npos; i = pattern.find('{', i + 1))
      path_params.insert(pattern.substr(i + 1, pattern.find('}', i) - i - 1));
    if (!r.query.empty()) query_params = Split(r.query);
    for (const auto& p : op["parameters"]) {
      YAML::Node param = Resolve(p);
      const std::string in = param["in"].as<std::string>();
      (in == "path"    ? spec_path
       : in == "query" ? spec_query
                       : spec_header)
          .insert(param["name"].as<std::string>());
    }
    EXPECT_EQ(spec_path, path_params) << what;
    EXPECT_EQ(spec_query, query_params) << what;
    // Unsafe methods document the Idempotency-Key header the router honours.
    const bool unsafe = r.method != "GET" && r.access != Access::kPublic;
    EXPECT_EQ(spec_header.count("Idempotency-Key") == 1, unsafe) << what;
    const YAML::Node responses = op["responses"];
    ASSERT_TRUE(responses) << what;
    bool success = false;
    for (const auto& resp : responses) {
      const char first = resp.first.as<std::string>()[0];
      success = success || first == '2' || first == '3';  // a redirect is an answer too
      Resolve(resp.second);
    }
    EXPECT_TRUE(success) << what << " documents no 2xx response";
    if (r.access == Access::kPublic) {
      EXPECT_TRUE(op["security"] && op["security"].size() == 0)
          << what << " should say security: []";
    } else {
      EXPECT_TRUE(responses["401"]) << what;
      EXPECT_TRUE(responses["403"]) << what;
    }
    if (!path_params.empty()) {
      EXPECT_TRUE(responses["400"]) << what;
      EXPECT_TRUE(responses["404"]) << what;
    }
    if (r.body == BodyKind::kJson) {
      EXPECT_TRUE(responses["400"] && responses["413"] && responses["415"]) << what;
    }
  }
}

TEST_F(OpenApi, EverySchemaReferenceResolves) {
  std::function<void(const YAML::Node&)> walk = [&](const YAML::Node& n) {
    if (n.IsMap()) {
      if (n["$ref"]) Resolve(n);
      for (const auto& kv : n) walk(kv.second);
    } else if (n.IsSequence()) {
      for (const auto& e : n) walk(e);
    }
  };
  walk(spec_);
}

}  // namespace
}  // namespace ta::api
