// The field diff restore previews show.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "ops/capture.h"
#include "ops/json_diff.h"

namespace ta::ops {
namespace {

using nlohmann::json;

TEST(JsonDiff, NamesEachChangedFieldAndSkipsIgnoredOnes) {
  const json live = {{"displayName", "A"}, {"version", 3}, {"x", {{"y", 1}}}};
  const json desired = {{"displayName", "B"}, {"version", 9}, {"x", {{"y", 2}}}};
  const auto changes = Diff(live, desired, {"version"});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(ToJson(changes)[0]["path"], "displayName");
  EXPECT_EQ(ToJson(changes)[1]["path"], "x.y");
}

// Found by fuzz/graph_json_fuzz (fuzz/corpus/graph_json/crash-diff-of-a-number):
// a body that is not an object made Diff throw (erase on a number).
TEST(JsonDiff, ABodyThatIsNotAnObjectIsComparedNotThrownOn) {
  EXPECT_NO_THROW({
    const auto changes = Diff(json(2), json::object(), {"version"});
    EXPECT_EQ(changes.size(), 1u);
  });
  EXPECT_NO_THROW((void)Diff(json::array({1}), json("s"), {"id"}));
}

// The same input, in the content hash of a captured body.
TEST(ContentHash, ABodyThatIsNotAnObjectIsHashedNotThrownOn) {
  for (const auto& type : catalog::Catalog())
    EXPECT_NO_THROW(EXPECT_EQ(ContentHash(type, json(2), json()).size(), 64u));
}

}  // namespace
}  // namespace ta::ops
