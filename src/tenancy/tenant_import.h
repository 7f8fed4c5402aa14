#pragma once

// Onboarding many tenants at once: a CSV file (name, entra_tenant_id, cloud,
// tags), one tenant per row. Each row is created in its own transaction, so a
// bad row never blocks the good ones; each row's result says what happened,
// and for a bad row which field is wrong and how to fix it. Importing the
// same file again creates nothing twice (a row whose name exists is
// reported as existing, not changed).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/database.h"
#include "tenancy/tenancy.h"

namespace ta::tenancy {

struct ImportRowResult {
  int line = 0;            // the row's line in the file (the header is line 1)
  std::string name;
  std::string status;      // created | exists | failed
  std::optional<int64_t> tenant_id = std::nullopt;
  std::string field = {};  // failed: the column at fault
  std::string error = {};  // failed: what is wrong and the fix
};

// InvalidArgument for a file that cannot be imported at all (no header, an
// unknown or missing column, an unterminated quote, more than `max_rows`
// rows); nothing is created then. With `owner`, that user owns each new tenant.
Result<std::vector<ImportRowResult>> ImportTenants(store::Database& db, const Actor& actor,
                                                   std::string_view csv,
                                                   std::optional<int64_t> owner,
                                                   size_t max_rows = 2000);

// Tags as stored: trimmed, 1 to 40 characters each, at most 20, duplicates
// dropped; a JSON array. The error names `field` ("tags[2]").
Result<std::string> NormalizeTags(const std::vector<std::string>& tags, const std::string& field);

}  // namespace ta::tenancy
