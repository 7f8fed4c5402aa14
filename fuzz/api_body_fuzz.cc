// Every API request-body validator: JsonBody::Parse and each typed accessor.
// Any body must come back as a value or a Status, never an exception.
#include <cstdint>
#include <string_view>

#include "api/input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = ta::api::JsonBody::Parse(
      body, {"name", "policy_ids", "item_ids", "backup_set_id", "source_tenant_id",
             "group_mapping", "email", "password", "role", "enabled", "expires_days"});
  if (!parsed) return 0;
  const ta::api::JsonBody& b = *parsed;
  (void)b.String("name", 200);
  (void)b.OptString("email", 254);
  (void)b.OptIdList("policy_ids", 10'000);
  (void)b.OptIdList("item_ids", 10'000);
  (void)b.Id("backup_set_id");
  (void)b.OptInt("source_tenant_id", 1, INT64_MAX);
  (void)b.OptInt("expires_days", 1, 3650);
  (void)b.StringMap("group_mapping", 10'000);
  (void)b.OptBool("enabled");
  return 0;
}
