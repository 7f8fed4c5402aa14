#include "core/php_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace ta::php {
namespace {

std::string Enc(const Value& v) {
  auto r = JsonEncode(v);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  return r.value_or("");
}

std::string EncJson(const char* json) {
  auto v = FromJson(nlohmann::ordered_json::parse(json));
  EXPECT_TRUE(v.has_value());
  return Enc(Canonicalize(*v));
}

TEST(PhpFormatDouble, MatchesSerializePrecisionMinusOne) {
  EXPECT_EQ(FormatDouble(0.5), "0.5");
  EXPECT_EQ(FormatDouble(1.5), "1.5");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1.0), "1");  // no JSON_PRESERVE_ZERO_FRACTION
  EXPECT_EQ(FormatDouble(-3.0), "-3");
  EXPECT_EQ(FormatDouble(0.0), "0");
  EXPECT_EQ(FormatDouble(-0.0), "-0");
  EXPECT_EQ(FormatDouble(100.0), "100");
  EXPECT_EQ(FormatDouble(0.001), "0.001");
  EXPECT_EQ(FormatDouble(0.0001), "0.0001");
  EXPECT_EQ(FormatDouble(0.00001), "1.0e-5");
  EXPECT_EQ(FormatDouble(1.25e-7), "1.25e-7");
  EXPECT_EQ(FormatDouble(1e15), "1000000000000000");
  EXPECT_EQ(FormatDouble(1e17), "1.0e+17");
  EXPECT_EQ(FormatDouble(123456789012345680.0), "1.2345678901234568e+17");
  EXPECT_EQ(FormatDouble(12345678901234567.0), "12345678901234568");
  EXPECT_EQ(FormatDouble(1e25), "1.0e+25");
  EXPECT_EQ(FormatDouble(0.30000000000000004), "0.30000000000000004");
  EXPECT_EQ(FormatDouble(-2.5e-300), "-2.5e-300");
}

TEST(PhpJsonEncode, EscapesLikePhpDefaultFlags) {
  EXPECT_EQ(Enc(Value("a/b")), R"("a\/b")");
  EXPECT_EQ(Enc(Value("\b\f\n\r\t\x01\x1f")), R"("\b\f\n\r\t\u0001\u001f")");
  EXPECT_EQ(Enc(Value("\x7f")), "\"\x7f\"");  // DEL is not escaped
  EXPECT_EQ(Enc(Value("<>&'")), R"("<>&'")");
  EXPECT_EQ(Enc(Value("\xE2\x82\xAC")), R"("\u20ac")");
  EXPECT_EQ(Enc(Value("\xF0\x9F\x98\x80")), R"("\ud83d\ude00")");
}

TEST(PhpJsonEncode, RejectsMalformedUtf8) {
  for (const char* bad : {"\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\xFFz"}) {
    auto r = JsonEncode(Value(bad));
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message().find("UTF-8"), std::string::npos);
  }
}

TEST(PhpJsonEncode, RejectsNonFiniteFloats) {
  EXPECT_FALSE(JsonEncode(Value(std::nan(""))).has_value());
  EXPECT_FALSE(JsonEncode(Value(HUGE_VAL)).has_value());
}

TEST(PhpJsonEncode, EmptyMapAndListAreBothEmptyList) {
  EXPECT_EQ(EncJson(R"({"a":{},"b":[]})"), R"({"a":[],"b":[]})");
}

TEST(PhpJsonEncode, NonSequentialIntegerKeysMakeAnObject) {
  EXPECT_EQ(EncJson(R"({"2":"x","5":"y"})"), R"({"2":"x","5":"y"})");
  EXPECT_EQ(EncJson(R"({"01":"x","-0":"y"})"), R"({"-0":"y","01":"x"})");
}

TEST(PhpJsonEncode, ListsKeepTheirOrder) { EXPECT_EQ(EncJson("[3,1,2]"), "[3,1,2]"); }

TEST(PhpJsonEncode, DepthLimitIs512) {
  Value v(1);
  for (int i = 0; i < 512; ++i) v = Value(MakeList({v}));
  EXPECT_TRUE(JsonEncode(v).has_value());
  v = Value(MakeList({v}));
  EXPECT_FALSE(JsonEncode(v).has_value());
}

TEST(PhpFromJson, HugeIntegersBecomeFloats) {
  EXPECT_EQ(EncJson("[18446744073709551615, 9223372036854775807]"),
            "[1.8446744073709552e+19,9223372036854775807]");
}

TEST(PhpKeyCompare, FollowsPhp8SortRegular) {
  EXPECT_LT(CompareKeys(Key(int64_t{9}), Key(int64_t{10})), 0);
  EXPECT_LT(CompareKeys(Key(std::string("1.5")), Key(std::string("10"))), 0);  // numeric strings
  EXPECT_GT(CompareKeys(Key(std::string("b")), Key(std::string("B"))), 0);     // bytes
  EXPECT_LT(CompareKeys(Key(std::string("ab")), Key(std::string("abc"))), 0);  // prefix first
  EXPECT_LT(CompareKeys(Key(int64_t{10}), Key(std::string("9a"))), 0);         // "10" < "9a"
  EXPECT_LT(CompareKeys(Key(int64_t{2}), Key(std::string("2.5"))), 0);         // numeric
  EXPECT_EQ(CompareKeys(Key(std::string("1e1")), Key(int64_t{10})), 0);
}

TEST(PhpNormalizeKey, OnlyCanonicalDecimalIntegersBecomeIntegers) {
  EXPECT_EQ(NormalizeKey("42"), Key(int64_t{42}));
  EXPECT_EQ(NormalizeKey("-7"), Key(int64_t{-7}));
  EXPECT_EQ(NormalizeKey("0"), Key(int64_t{0}));
  EXPECT_EQ(NormalizeKey("007"), Key(std::string("007")));
  EXPECT_EQ(NormalizeKey("-0"), Key(std::string("-0")));
  EXPECT_EQ(NormalizeKey("1.0"), Key(std::string("1.0")));
  EXPECT_EQ(NormalizeKey("9223372036854775808"), Key(std::string("9223372036854775808")));
}

}  // namespace
}  // namespace ta::php
