#pragma once

// JSON shapes of the API's records (docs/openapi.yaml's schemas). Times are
// RFC 3339 UTC strings; absent times are null.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/http.h"
#include "runs/run_service.h"
#include "runs/run_words.h"
#include "store/notifications.h"
#include "store/runs_repository.h"

namespace ta::store {
struct BackupSetRecord;
}

namespace ta::api {

nlohmann::json Time(std::optional<int64_t> unix_ms);
// With `words`: also "tenant_name" and "subject" (what the run is about), and
// for restores "source_tenant_name" and "backup_set_name".
nlohmann::json RunJson(const store::RunRecord& run, const runs::RunWords* words = nullptr);
// Each run with its words, looked up in `tx`.
Result<nlohmann::json> RunsJson(store::Tx& tx, const std::vector<store::RunRecord>& runs);
nlohmann::json NotificationJson(const store::Notification& n);
// "baseline": drift is compared with it; "derived_from": made by accepting
// drift (a copy of that baseline with the accepted live state).
nlohmann::json BackupSetJson(const store::BackupSetRecord& s);
nlohmann::json UserJson(const store::User& u);
// A parsed JSON column; a value that does not parse is returned as a string.
nlohmann::json JsonColumn(const std::string& text);
// A captured payload as the API shows it: each encrypted value
// ({"secretValue": {"sealed", "digest"}}) replaced by a note with a short
// fingerprint (the first 8 hex digits of the keyed digest, so two versions
// show whether the secret changed); neither the sealed box nor the digest
// leaves the server.
nlohmann::json WithoutSecrets(nlohmann::json payload);

// {"items": [...], "next_cursor": "<id>"|null}: a full page has a next cursor.
nlohmann::json PageJson(nlohmann::json items, int64_t limit, std::optional<int64_t> last_id);
// The same, with the cursor taken from column `cursor_column` of the last row.
nlohmann::json PageJson(nlohmann::json items, int64_t limit, const store::Rows& rows,
                        size_t cursor_column);

// 202 + Location for a new run, 200 with reused: true for an active duplicate.
Response StartResponse(const runs::StartResult& started);
std::string RunPath(int64_t tenant_id, int64_t run_id);

}  // namespace ta::api
