#include "core/php_json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/utf8.h"

namespace ta::php {
namespace {

// PHP's default json_encode/json_decode depth limit.
constexpr int kMaxDepth = 512;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsPhpWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// ZEND_HANDLE_NUMERIC_STR: "0", "-12", "345" (no leading zeros, no "-0", fits
// in int64) are integer keys.
std::optional<int64_t> CanonicalIntegerKey(const std::string& s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  size_t i = 0;
  if (s[0] == '-') i = 1;
  if (i >= s.size()) return std::nullopt;
  if (s[i] == '0' && (s.size() - i > 1 || i == 1)) return std::nullopt;  // "01", "-0"
  for (size_t k = i; k < s.size(); ++k)
    if (!IsDigit(s[k])) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// PHP 8 is_numeric_string() without allow_errors: optional surrounding
// whitespace, a sign, digits with optional fraction and exponent. Hex is not
// numeric. Integral forms that fit in int64 are longs, the rest doubles.
struct Numeric {
  bool is_long;
  int64_t lval;
  double dval;
};

std::optional<Numeric> ParseNumericString(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsPhpWhitespace(s[b])) ++b;
  while (e > b && IsPhpWhitespace(s[e - 1])) --e;
  if (b == e) return std::nullopt;
  size_t i = b;
  if (s[i] == '+' || s[i] == '-') ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < e && IsDigit(s[i])) ++i, ++int_digits;
  bool integral = true;
  if (i < e && s[i] == '.') {
    integral = false;
    ++i;
    while (i < e && IsDigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return std::nullopt;
  if (i < e && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < e && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < e && IsDigit(s[j])) {
      integral = false;
      while (j < e && IsDigit(s[j])) ++j;
      i = j;
    }
  }
  if (i != e) return std::nullopt;
  std::string text(s.substr(b, e - b));
  if (integral) {
    const char* first = text.data() + (text[0] == '+' ? 1 : 0);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(first, text.data() + text.size(), v);
    if (ec == std::errc() && ptr == text.data() + text.size()) return Numeric{true, v, 0.0};
  }
  return Numeric{false, 0, std::strtod(text.c_str(), nullptr)};
}

int Sign(double d) { return d < 0 ? -1 : d > 0 ? 1 : 0; }
template <typename T>
int ThreeWay(T a, T b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int CompareNumeric(const Numeric& a, const Numeric& b) {
  if (a.is_long && b.is_long) return ThreeWay(a.lval, b.lval);
  const double da = a.is_long ? static_cast<double>(a.lval) : a.dval;
  const double db = b.is_long ? static_cast<double>(b.lval) : b.dval;
  return Sign(da - db);
}

// zend_binary_strcmp: memcmp order, then the shorter first.
int CompareBytes(std::string_view a, std::string_view b) { return Sign(a.compare(b)); }

// Stable merge sort that tolerates a comparator that is not a strict weak
// order (PHP's mixed numeric/non-numeric key comparison is not transitive);
// std::stable_sort would have undefined behaviour there.
void MergeSort(std::vector<Entry>& v, std::vector<Entry>& tmp, size_t lo, size_t hi) {
  if (hi - lo < 2) return;
  const size_t mid = lo + (hi - lo) / 2;
  MergeSort(v, tmp, lo, mid);
  MergeSort(v, tmp, mid, hi);
  size_t i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    if (CompareKeys(v[j].key, v[i].key) < 0) {
      tmp[k++] = std::move(v[j++]);
    } else {
      tmp[k++] = std::move(v[i++]);
    }
  }
  while (i < mid) tmp[k++] = std::move(v[i++]);
  while (j < hi) tmp[k++] = std::move(v[j++]);
  for (size_t x = lo; x < hi; ++x) v[x] = std::move(tmp[x]);
}

bool IsList(const Array& a) {
  for (size_t i = 0; i < a.size(); ++i) {
    const auto* k = std::get_if<int64_t>(&a[i].key);
    if (k == nullptr || *k != static_cast<int64_t>(i)) return false;
  }
  return true;
}

constexpr char kHex[] = "0123456789abcdef";

void AppendU16(std::string& out, uint32_t unit) {
  out += "\\u";
  out += kHex[(unit >> 12) & 0xF];
  out += kHex[(unit >> 8) & 0xF];
  out += kHex[(unit >> 4) & 0xF];
  out += kHex[unit & 0xF];
}

Status EncodeString(std::string_view s, std::string& out) {
  if (auto bad = FindInvalidUtf8(s)) {
    return Status::InvalidArgument("malformed UTF-8 at byte " + std::to_string(*bad) +
                                   "; send text as valid UTF-8");
  }
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const char32_t cp = DecodeUtf8(s, i);
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        AppendU16(out, 0xD800 | (v >> 10));
        AppendU16(out, 0xDC00 | (v & 0x3FF));
      } else {
        AppendU16(out, cp);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '/':
        out += "\\/";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          AppendU16(out, static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return Status::Ok();
}

Status Encode(const Value& value, int depth, std::string& out) {
  return std::visit(
      [&](const auto& v) -> Status {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out += std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(v)) {
            return Status::InvalidArgument("Inf and NaN cannot be JSON encoded");
          }
          out += FormatDouble(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return EncodeString(v, out);
        } else {
          if (depth + 1 > kMaxDepth) {
            return Status::InvalidArgument("nesting deeper than 512 levels");
          }
          const bool list = IsList(v);
          out += list ? '[' : '{';
          for (size_t i = 0; i < v.size(); ++i) {
            if (i) out += ',';
            if (!list) {
              if (const auto* ik = std::get_if<int64_t>(&v[i].key)) {
                out += '"' + std::to_string(*ik) + '"';
              } else if (Status s = EncodeString(std::get<std::string>(v[i].key), out); !s.ok()) {
                return s.WithContext("key");
              }
              out += ':';
            }
            if (Status s = Encode(v[i].value, depth + 1, out); !s.ok()) return s;
          }
          out += list ? ']' : '}';
        }
        return Status::Ok();
      },
      value.data());
}

std::string ChildPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

Result<Value> FromJsonAt(const nlohmann::ordered_json& j, const std::string& path, int depth) {
  using nlohmann::ordered_json;
  switch (j.type()) {
    case ordered_json::value_t::null:
      return Value(nullptr);
    case ordered_json::value_t::boolean:
      return Value(j.get<bool>());
    case ordered_json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));  // PHP decodes big integers as floats
    }
    case ordered_json::value_t::number_float:
      return Value(j.get<double>());
    case ordered_json::value_t::string: {
      std::string s = j.get<std::string>();
      if (auto bad = FindInvalidUtf8(s)) {
        return Unexpected(Status::InvalidArgument((path.empty() ? std::string("value") : path) +
                                                  ": malformed UTF-8 at byte " +
                                                  std::to_string(*bad)));
      }
      return Value(std::move(s));
    }
    case ordered_json::value_t::array:
    case ordered_json::value_t::object: {
      if (depth + 1 > kMaxDepth) {
        return Unexpected(Status::InvalidArgument((path.empty() ? std::string("value") : path) +
                                                  ": nesting deeper than 512 levels"));
      }
      Array out;
      out.reserve(j.size());
      if (j.is_array()) {
        int64_t i = 0;
        for (const auto& el : j) {
          auto v = FromJsonAt(el, path + "[" + std::to_string(i) + "]", depth + 1);
          if (!v) return v;
          out.push_back(Entry{i++, std::move(*v)});
        }
      } else {
        for (const auto& [k, el] : j.items()) {
          if (auto bad = FindInvalidUtf8(k)) {
            return Unexpected(Status::InvalidArgument(ChildPath(path, "<key>") +
                                                      ": malformed UTF-8 in key at byte " +
                                                      std::to_string(*bad)));
          }
          auto v = FromJsonAt(el, ChildPath(path, k), depth + 1);
          if (!v) return v;
          Key key = NormalizeKey(k);
          // Duplicate keys: the last value wins, in the first one's place (as PHP).
          auto it =
              std::find_if(out.begin(), out.end(), [&](const Entry& e) { return e.key == key; });
          if (it != out.end()) {
            it->value = std::move(*v);
          } else {
            out.push_back(Entry{std::move(key), std::move(*v)});
          }
        }
      }
      return Value(std::move(out));
    }
    default:
      return Unexpected(Status::InvalidArgument((path.empty() ? std::string("value") : path) +
                                                ": unsupported JSON value"));
  }
}

}  // namespace

Key NormalizeKey(std::string key) {
  if (auto i = CanonicalIntegerKey(key)) return *i;
  return key;
}

Array MakeList(std::vector<Value> values) {
  Array out;
  out.reserve(values.size());
  int64_t i = 0;
  for (auto& v : values) out.push_back(Entry{i++, std::move(v)});
  return out;
}

int CompareKeys(const Key& a, const Key& b) {
  const auto* ai = std::get_if<int64_t>(&a);
  const auto* bi = std::get_if<int64_t>(&b);
  if (ai && bi) return ThreeWay(*ai, *bi);
  if (!ai && !bi) {
    const auto& as = std::get<std::string>(a);
    const auto& bs = std::get<std::string>(b);
    auto an = ParseNumericString(as);
    if (an) {
      if (auto bn = ParseNumericString(bs)) return CompareNumeric(*an, *bn);
    }
    return CompareBytes(as, bs);
  }
  // One integer key against one string key (PHP 8 compare_longs_to_string).
  const int64_t lval = ai ? *ai : *bi;
  const std::string& str = ai ? std::get<std::string>(b) : std::get<std::string>(a);
  int cmp;
  if (auto n = ParseNumericString(str)) {
    cmp = CompareNumeric(Numeric{true, lval, 0.0}, *n);
  } else {
    cmp = CompareBytes(std::to_string(lval), str);
  }
  return ai ? cmp : -cmp;
}

Value Canonicalize(const Value& value) {
  if (!value.is_array()) return value;
  Array out;
  out.reserve(value.array().size());
  for (const auto& e : value.array()) out.push_back(Entry{e.key, Canonicalize(e.value)});
  std::vector<Entry> tmp(out.size());
  MergeSort(out, tmp, 0, out.size());
  return Value(std::move(out));
}

Result<std::string> JsonEncode(const Value& value) {
  std::string out;
  if (Status s = Encode(value, 0, out); !s.ok()) return Unexpected(std::move(s));
  return out;
}

std::string FormatDouble(double d) {
  // Shortest round-trip digits (what zend_dtoa mode 0 produces), then PHP's
  // php_gcvt layout with precision 17.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  (void)ec;  // 64 bytes always suffice for a double
  std::string_view sci(buf, end - buf);
  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos))
    if (c != '.') digits += c;
  int exp10 = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exp10);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int decpt = exp10 + 1;  // value = 0.d1d2... * 10^decpt
  if (digits == "0") decpt = 1;
  constexpr int kPrecision = 17;

  if (decpt < 0 ? decpt < -3 : decpt > kPrecision) {
    int e = decpt - 1;  // exponential form d.ddd e±x; a lone digit gets ".0"
    out += digits[0];
    out += '.';
    out += digits.size() > 1 ? digits.substr(1) : "0";
    out += 'e';
    out += e < 0 ? '-' : '+';
    out += std::to_string(e < 0 ? -e : e);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else {
    for (int i = 0; i < decpt; ++i) out += i < static_cast<int>(digits.size()) ? digits[i] : '0';
    if (static_cast<int>(digits.size()) > decpt) {
      out += '.';
      out += digits.substr(decpt);
    }
  }
  return out;
}

Result<Value> FromJson(const nlohmann::ordered_json& json, const std::string& path) {
  return FromJsonAt(json, path, 0);
}

}  // namespace ta::php
