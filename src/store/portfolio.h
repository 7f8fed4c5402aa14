#pragma once

// The MSP's morning view, one row per tenant: the newest successful backup,
// failed runs in the last day, the state of the credentials and of the last
// connection check. One query for any number of tenants.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct PortfolioRow {
  int64_t tenant_id = 0;
  std::string name;
  std::string tags = "[]";  // JSON array
  bool has_credentials = false;
  std::optional<int64_t> credential_expires_at;  // the client secret's end, when known
  bool certificate = false;                        // the credential is a certificate
  std::optional<int64_t> last_backup_at, last_backup_set_id;  // newest set whose run succeeded
  int64_t failed_runs_24h = 0;  // failed or partially succeeded, started in the last 24 h
  std::optional<std::string> last_check_status;  // the newest connection check's status
  std::optional<int64_t> last_check_at;
  int64_t open_drift = 0;  // open drift findings
};

class Portfolio {
 public:
  static Result<std::vector<PortfolioRow>> Rows(Tx& tx, const std::vector<int64_t>& tenant_ids,
                                                int64_t now_ms);
};

}  // namespace ta::store
