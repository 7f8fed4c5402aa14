#include "core/utf8.h"

#include <gtest/gtest.h>

namespace ta {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_FALSE(FindInvalidUtf8("plain ascii").has_value());
  EXPECT_FALSE(
      FindInvalidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF").has_value());
}

TEST(Utf8, ReportsOffsetOfFirstBadSequence) {
  EXPECT_EQ(FindInvalidUtf8("ab\xC3"), 2u);            // truncated
  EXPECT_EQ(FindInvalidUtf8("a\xC0\xAF"), 1u);         // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0u);      // overlong 3-byte
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1u);     // UTF-16 surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("ok\x80"), 2u);            // lone continuation
  EXPECT_EQ(FindInvalidUtf8("\xC3\xA9\xF0\x9F\x98"), 2u);
}

TEST(Utf8, DecodesCodePoints) {
  const std::string s = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  size_t i = 0;
  EXPECT_EQ(DecodeUtf8(s, i), U'\u00E9');
  EXPECT_EQ(DecodeUtf8(s, i), U'\u20AC');
  EXPECT_EQ(DecodeUtf8(s, i), U'\U0001F600');
  EXPECT_EQ(i, s.size());
}

}  // namespace
}  // namespace ta
