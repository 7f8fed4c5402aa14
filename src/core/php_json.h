#pragma once

// A model of PHP values as json_decode($json, true) produces them, and of
// json_encode($value) with default flags. It exists so that our idempotency keys
// are byte-identical to the PHP system's (seed/idempotency-vectors.json).
//
// Semantics reproduced from PHP 8:
//  - Array keys that are canonical decimal integers ("7", "-3", not "07" or "-0")
//    become integer keys, as in any PHP array.
//  - ksort uses PHP 8's default (SORT_REGULAR) key comparison: integer keys
//    numerically, two numeric strings numerically, everything else byte-wise.
//  - json_encode writes an array as a JSON list when its keys are exactly
//    0..n-1 in order (so an empty map encodes as []), otherwise as an object;
//    escapes "/" as "\/", every non-ASCII character as \uXXXX (surrogate pairs
//    above U+FFFF), control characters as \b \f \n \r \t or \u00XX; and prints
//    floats with serialize_precision=-1 (shortest round-trip, 1.0 as "1",
//    1e25 as "1.0e+25").

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace ta::php {

using Key = std::variant<int64_t, std::string>;

struct Entry;
using Array = std::vector<Entry>;  // an ordered PHP array

class Value {
 public:
  using Data = std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array>;

  // Defined below Entry: the variant's Array needs Entry complete (g++
  // tolerates it here, clang with libstdc++ does not).
  Value();
  Value(std::nullptr_t);  // NOLINT(runtime/explicit)
  Value(bool b);          // NOLINT(runtime/explicit)
  Value(int64_t i);       // NOLINT(runtime/explicit)
  Value(int i);           // NOLINT(runtime/explicit)
  Value(double d);        // NOLINT(runtime/explicit)
  Value(std::string s);   // NOLINT(runtime/explicit)
  Value(const char* s);   // NOLINT(runtime/explicit)
  Value(Array a);         // NOLINT(runtime/explicit)

  const Data& data() const { return data_; }
  bool is_null() const { return std::holds_alternative<std::nullptr_t>(data_); }
  bool is_array() const { return std::holds_alternative<Array>(data_); }
  const Array& array() const { return std::get<Array>(data_); }

 private:
  Data data_;
};

struct Entry {
  Key key;
  Value value;
};

inline Value::Value() : data_(nullptr) {}
inline Value::Value(std::nullptr_t) : data_(nullptr) {}
inline Value::Value(bool b) : data_(b) {}
inline Value::Value(int64_t i) : data_(i) {}
inline Value::Value(int i) : data_(static_cast<int64_t>(i)) {}
inline Value::Value(double d) : data_(d) {}
inline Value::Value(std::string s) : data_(std::move(s)) {}
inline Value::Value(const char* s) : data_(std::string(s)) {}
inline Value::Value(Array a) : data_(std::move(a)) {}

// Builds a PHP key from a string the way PHP does ("12" -> 12, "012" stays a string).
Key NormalizeKey(std::string key);

// Builds a list (keys 0..n-1) from values.
Array MakeList(std::vector<Value> values);

// json_decode($json, true): objects become arrays with normalized keys, integers
// beyond int64 become floats. Fails on invalid UTF-8 (naming the JSON path) and
// on nesting deeper than PHP's default depth of 512.
Result<Value> FromJson(const nlohmann::ordered_json& json, const std::string& path = "");

// The canonicalize() of the seed's RunIdempotency: every nested array is ksorted.
Value Canonicalize(const Value& value);

// PHP 8 ksort (SORT_REGULAR) key comparison: <0, 0, >0.
int CompareKeys(const Key& a, const Key& b);

// json_encode($value) with default flags. Fails, as PHP's JSON_THROW_ON_ERROR
// would, on invalid UTF-8, INF/NAN, or nesting deeper than 512.
Result<std::string> JsonEncode(const Value& value);

// PHP's float-to-string with serialize_precision=-1, as json_encode prints it.
std::string FormatDouble(double d);

}  // namespace ta::php
