#include "core/idempotency.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "core/utf8.h"

namespace ta {
namespace {

using nlohmann::ordered_json;

Status FieldError(std::string_view field, std::string_view what) {
  std::string msg(field);
  msg += ": ";
  msg += what;
  return Status::InvalidArgument(std::move(msg));
}

// An integer field as PHP's int parameter accepts it: a JSON integer, or a
// string holding a plain decimal integer ("12").
Result<int64_t> IntegerField(const ordered_json& v, std::string_view field) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX) {
      return Unexpected(FieldError(field, "integer out of range"));
    }
    return v.get<int64_t>();
  }
  if (v.is_string()) {
    std::string_view s = PhpTrim(v.get_ref<const std::string&>());
    int64_t out = 0;
    const char* first = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), out);
    if (!s.empty() && ec == std::errc() && ptr == s.data() + s.size()) return out;
  }
  return Unexpected(
      FieldError(field, "must be an integer (for example 42), got " + std::string(v.type_name())));
}

Result<php::Value> ArrayField(const ordered_json& v, std::string_view field) {
  if (v.is_null()) return php::Value(php::Array{});
  if (!v.is_object() && !v.is_array()) {
    return Unexpected(
        FieldError(field, "must be a JSON object or array, got " + std::string(v.type_name())));
  }
  return php::FromJson(v, std::string(field));
}

Status CheckFields(const ordered_json& input, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, _] : input.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return FieldError(k, "unknown field; allowed fields are " + list);
    }
  }
  return Status::Ok();
}

const ordered_json& Required(const ordered_json& input, const char* field, Status& missing) {
  static const ordered_json kNull;
  auto it = input.find(field);
  if (it == input.end()) {
    missing = FieldError(field, "is required");
    return kNull;
  }
  return *it;
}

}  // namespace

std::string_view PhpTrim(std::string_view s) {
  constexpr std::string_view kChars(" \t\n\r\0\x0B", 6);
  const size_t b = s.find_first_not_of(kChars);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(kChars);
  return s.substr(b, e - b + 1);
}

Result<IdempotencyKey> BuildKey(int64_t tenant_id, std::string_view operation_type,
                                std::optional<std::string> target_id, const php::Value& context) {
  if (!context.is_array() && !context.is_null()) {
    return Unexpected(FieldError("context", "must be an array or map"));
  }
  php::Array payload;
  payload.push_back({std::string("tenant_id"), php::Value(tenant_id)});
  payload.push_back(
      {std::string("operation_type"), php::Value(std::string(PhpTrim(operation_type)))});
  payload.push_back({std::string("target_id"),
                     target_id ? php::Value(std::move(*target_id)) : php::Value(nullptr)});
  payload.push_back({std::string("context"),
                     context.is_null() ? php::Value(php::Array{}) : php::Canonicalize(context)});
  auto json = php::JsonEncode(php::Value(std::move(payload)));
  if (!json) return Unexpected(json.error().WithContext("idempotency payload"));
  IdempotencyKey out;
  out.key = Sha256Hex(*json);
  out.canonical_json = std::move(*json);
  return out;
}

Result<IdempotencyKey> RestoreExecuteKey(int64_t tenant_id, int64_t backup_set_id,
                                         std::optional<std::vector<int64_t>> selected_item_ids,
                                         const php::Value& group_mapping, php::Array options) {
  php::Value scope(nullptr);
  if (selected_item_ids) {
    std::vector<int64_t> ids = std::move(*selected_item_ids);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<php::Value> values(ids.begin(), ids.end());
    scope = php::Value(php::MakeList(std::move(values)));
  }
  php::Array context;
  context.push_back({std::string("scope"), std::move(scope)});
  context.push_back({std::string("group_mapping"),
                     group_mapping.is_null() ? php::Value(php::Array{}) : group_mapping});
  for (auto& o : options) context.push_back(std::move(o));
  return BuildKey(tenant_id, "restore.execute", std::to_string(backup_set_id),
                  php::Value(std::move(context)));
}

Result<IdempotencyKey> KeyFromJsonInput(const ordered_json& input) {
  if (!input.is_object()) {
    return Unexpected(
        Status::InvalidArgument("input must be a JSON object such as "
                                "{\"tenant_id\":1,\"operation_type\":\"inventory.sync\"}"));
  }
  Status missing;
  const auto fn_it = input.find("fn");
  std::string fn = "build_key";
  if (fn_it != input.end()) {
    if (!fn_it->is_string()) return Unexpected(FieldError("fn", "must be a string"));
    fn = fn_it->get<std::string>();
  }

  if (fn == "restore_execute") {
    if (Status s = CheckFields(
            input, {"fn", "tenant_id", "backup_set_id", "selected_item_ids", "group_mapping"});
        !s.ok()) {
      return Unexpected(s);
    }
    const auto& tenant = Required(input, "tenant_id", missing);
    const auto& set = Required(input, "backup_set_id", missing);
    if (!missing.ok()) return Unexpected(missing);
    auto tenant_id = IntegerField(tenant, "tenant_id");
    if (!tenant_id) return Unexpected(tenant_id.error());
    auto set_id = IntegerField(set, "backup_set_id");
    if (!set_id) return Unexpected(set_id.error());

    std::optional<std::vector<int64_t>> ids;
    if (auto it = input.find("selected_item_ids"); it != input.end() && !it->is_null()) {
      if (!it->is_array()) {
        return Unexpected(
            FieldError("selected_item_ids", "must be null (all items) or a list of ids"));
      }
      ids.emplace();
      for (size_t i = 0; i < it->size(); ++i) {
        auto id = IntegerField((*it)[i], "selected_item_ids[" + std::to_string(i) + "]");
        if (!id) return Unexpected(id.error());
        ids->push_back(*id);
      }
    }
    php::Value mapping(php::Array{});
    if (auto it = input.find("group_mapping"); it != input.end()) {
      auto m = ArrayField(*it, "group_mapping");
      if (!m) return Unexpected(m.error());
      mapping = std::move(*m);
    }
    return RestoreExecuteKey(*tenant_id, *set_id, std::move(ids), mapping);
  }

  if (fn != "build_key") {
    return Unexpected(
        FieldError("fn", "must be \"build_key\" or \"restore_execute\", got \"" + fn + "\""));
  }
  if (Status s = CheckFields(input, {"fn", "tenant_id", "operation_type", "target_id", "context"});
      !s.ok()) {
    return Unexpected(s);
  }
  const auto& tenant = Required(input, "tenant_id", missing);
  const auto& op = Required(input, "operation_type", missing);
  if (!missing.ok()) return Unexpected(missing);
  auto tenant_id = IntegerField(tenant, "tenant_id");
  if (!tenant_id) return Unexpected(tenant_id.error());
  if (!op.is_string()) {
    return Unexpected(FieldError("operation_type", "must be a string such as \"inventory.sync\""));
  }
  std::optional<std::string> target;
  if (auto it = input.find("target_id"); it != input.end() && !it->is_null()) {
    if (it->is_string()) {
      target = it->get<std::string>();
    } else if (it->is_number_integer()) {
      target = it->dump();
    } else {
      return Unexpected(FieldError("target_id", "must be a string, an integer or null"));
    }
  }
  php::Value context(php::Array{});
  if (auto it = input.find("context"); it != input.end()) {
    auto c = ArrayField(*it, "context");
    if (!c) return Unexpected(c.error());
    context = std::move(*c);
  }
  return BuildKey(*tenant_id, op.get<std::string>(), std::move(target), context);
}

}  // namespace ta
