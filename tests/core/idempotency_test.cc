#include "core/idempotency.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ta {
namespace {

using nlohmann::ordered_json;

std::string KeyOf(const char* json) {
  auto r = KeyFromJsonInput(ordered_json::parse(json));
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  return r ? r->canonical_json : "";
}

Status ErrorOf(const char* json) {
  auto r = KeyFromJsonInput(ordered_json::parse(json));
  EXPECT_FALSE(r.has_value());
  return r ? Status::Ok() : r.error();
}

TEST(PhpTrim, StripsPhpDefaultCharacterSetOnly) {
  EXPECT_EQ(PhpTrim(std::string_view(" \t\n\r\0\x0Bop\x0B\0 ", 12)), "op");
  EXPECT_EQ(PhpTrim("\f op"), "\f op");  // form feed is not in PHP's set
  EXPECT_EQ(PhpTrim(" \n "), "");
}

TEST(BuildKey, TypedApiMatchesJsonInput) {
  auto typed = BuildKey(1, "policy.capture_snapshot", "42");
  ASSERT_TRUE(typed.has_value());
  EXPECT_EQ(typed->key, "a513a7da2fbeef549042463d69956ddc3cca3b799ebf2875379cf0e26233472e");
}

TEST(BuildKey, DifferentTenantsGetDifferentKeys) {
  EXPECT_NE(BuildKey(1, "inventory.sync", std::nullopt)->key,
            BuildKey(2, "inventory.sync", std::nullopt)->key);
}

TEST(BuildKey, RejectsInvalidUtf8InOperationType) {
  auto r = BuildKey(1, "op\xC3", std::nullopt);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("UTF-8"), std::string::npos);
}

TEST(BuildKey, RejectsInvalidUtf8InContextKey) {
  php::Array ctx;
  ctx.push_back({std::string("k\xFF"), php::Value(1)});
  auto r = BuildKey(1, "op", std::nullopt, php::Value(std::move(ctx)));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("UTF-8"), std::string::npos);
}

TEST(RestoreExecuteKey, NullSelectionDiffersFromEmptySelection) {
  auto all = RestoreExecuteKey(5, 9, std::nullopt);
  auto none = RestoreExecuteKey(5, 9, std::vector<int64_t>{});
  EXPECT_EQ(all->canonical_json,
            R"({"tenant_id":5,"operation_type":"restore.execute","target_id":"9",)"
            R"("context":{"group_mapping":[],"scope":null}})");
  EXPECT_NE(all->key, none->key);
}

TEST(RestoreExecuteKey, SelectionOrderAndDuplicatesDoNotMatter) {
  EXPECT_EQ(RestoreExecuteKey(5, 9, std::vector<int64_t>{3, 1, 3, 2})->key,
            RestoreExecuteKey(5, 9, std::vector<int64_t>{1, 2, 3})->key);
}

TEST(KeyFromJsonInput, NumericStringKeysBecomeIntegersAndListsLikePhp) {
  // PHP turns "0","1" keys into integers; after ksort they are 0..n-1, so
  // json_encode writes a list.
  EXPECT_EQ(KeyOf(R"({"tenant_id":1,"operation_type":"op","context":{"1":"b","0":"a"}})"),
            R"({"tenant_id":1,"operation_type":"op","target_id":null,"context":["a","b"]})");
}

TEST(KeyFromJsonInput, KeysSortAsPhpKsortDoes) {
  EXPECT_EQ(KeyOf(R"({"tenant_id":1,"operation_type":"op","context":{"b":1,"10":2,"9":3,"A":4}})"),
            R"({"tenant_id":1,"operation_type":"op","target_id":null,)"
            R"("context":{"9":3,"10":2,"A":4,"b":1}})");
}

TEST(KeyFromJsonInput, MissingFieldIsNamed) {
  EXPECT_EQ(ErrorOf(R"({"tenant_id":1})").message(), "operation_type: is required");
}

TEST(KeyFromJsonInput, UnknownFieldIsNamed) {
  Status s = ErrorOf(R"({"tenant_id":1,"operation_type":"op","contxt":{}})");
  EXPECT_EQ(s.message().rfind("contxt: unknown field", 0), 0u) << s.message();
}

TEST(KeyFromJsonInput, WrongTypesAreNamed) {
  EXPECT_EQ(
      ErrorOf(R"({"tenant_id":"abc","operation_type":"op"})").message().rfind("tenant_id:", 0), 0u);
  EXPECT_EQ(ErrorOf(R"({"tenant_id":1,"operation_type":7})").message().rfind("operation_type:", 0),
            0u);
  EXPECT_EQ(ErrorOf(R"({"tenant_id":1,"operation_type":"op","target_id":1.5})")
                .message()
                .rfind("target_id:", 0),
            0u);
  EXPECT_EQ(ErrorOf(R"({"tenant_id":1,"operation_type":"op","context":"x"})")
                .message()
                .rfind("context:", 0),
            0u);
  EXPECT_EQ(ErrorOf(R"({"fn":"restore_execute","tenant_id":1,"backup_set_id":2,)"
                    R"("selected_item_ids":[1,"x"]})")
                .message()
                .rfind("selected_item_ids[1]:", 0),
            0u);
  EXPECT_EQ(ErrorOf(R"({"fn":"nope","tenant_id":1})").message().rfind("fn:", 0), 0u);
}

TEST(KeyFromJsonInput, TenantIdAsDigitStringIsCoercedLikePhp) {
  EXPECT_EQ(KeyOf(R"({"tenant_id":"7","operation_type":"op"})"),
            KeyOf(R"({"tenant_id":7,"operation_type":"op"})"));
}

TEST(KeyFromJsonInput, RejectsNonObject) {
  EXPECT_EQ(ErrorOf("[1,2]").code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace ta
