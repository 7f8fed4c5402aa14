#include "core/status.h"

#include <gtest/gtest.h>

#include "core/result.h"

namespace ta {
namespace {

TEST(Status, DefaultIsOk) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().ToString(), "OK");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::NotFound("run 7");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: run 7");
}

TEST(Status, WithContextPrefixesAndKeepsCode) {
  Status s = Status::InvalidArgument("must be positive").WithContext("limit");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "limit: must be positive");
}

TEST(Result, HoldsValueOrError) {
  Result<int> good = 3;
  Result<int> bad = Unexpected(Status::Conflict("terminal"));
  EXPECT_EQ(*good, 3);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Status::Code::kConflict);
}

}  // namespace
}  // namespace ta
