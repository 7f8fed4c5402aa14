#include "schedule/portfolio.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "schedule/cron.h"
#include "store/portfolio.h"
#include "store/schedules.h"
#include "tenancy/tenancy.h"

namespace ta::schedule {

using nlohmann::json;

namespace {

constexpr int64_t kStaleMs = 48 * 3'600'000;  // a backup older than this needs attention

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The worst that is true of the tenant's credentials: missing, expired, the
// last connection check failing, expiring within 30 days, never checked, ok.
std::string Credentials(const store::PortfolioRow& r, int64_t now_ms) {
  if (!r.has_credentials) return "missing";
  const std::string expiry = tenancy::CredentialExpiry(r.credential_expires_at, now_ms);
  if (expiry == "expired") return "expired";
  const bool failing = r.last_check_status && (*r.last_check_status == "failed" ||
                                               *r.last_check_status == "partially_succeeded");
  if (failing) return "failing";
  if (expiry == "expiring") return "expiring";
  if (!r.last_check_status || *r.last_check_status != "succeeded") return "unchecked";
  return "ok";
}

}  // namespace

Result<json> PortfolioJson(store::Database& db, Clock& clock, const store::User& user,
                           const PortfolioQuery& query) {
  const Clock::TimePoint now = clock.Now();
  const int64_t now_ms = ToUnixMillis(now);
  struct Loaded {
    std::vector<store::PortfolioRow> rows;
    std::map<int64_t, std::pair<int64_t, std::string>> next;  // tenant -> (at, schedule)
  };
  auto loaded = store::ReadResult<Loaded>(db, [&](store::Tx& tx) -> Result<Loaded> {
    auto ms = store::Accounts::MembershipsOf(tx, user.id);
    if (!ms) return Unexpected(ms.error());
    std::vector<int64_t> ids;
    for (const auto& m : *ms) ids.push_back(m.tenant_id);
    Loaded out;
    auto rows = store::Portfolio::Rows(tx, ids, now_ms);
    if (!rows) return Unexpected(rows.error());
    out.rows = std::move(*rows);
    auto schedules = store::Schedules::List(tx, true);
    if (!schedules) return Unexpected(schedules.error());
    for (const auto& s : *schedules) {
      auto cron = ZonedCron::Make(s.cron, s.time_zone);
      if (!cron) continue;
      auto next = cron->Next(now);
      if (!next) continue;
      auto targets = store::Schedules::TargetTenants(tx, s.tenant_ids, s.tag);
      if (!targets) return Unexpected(targets.error());
      const int64_t at = ToUnixMillis(*next);
      for (int64_t t : *targets) {
        auto it = out.next.find(t);
        if (it == out.next.end() || at < it->second.first) out.next[t] = {at, s.name};
      }
    }
    return out;
  });
  if (!loaded) return Unexpected(loaded.error());

  struct Item {
    json j;
    const store::PortfolioRow* row;
    std::optional<int64_t> next_at;
  };
  std::vector<Item> items;
  const std::string q = Lower(query.q);
  for (const auto& r : loaded->rows) {
    const json tags = json::parse(r.tags, nullptr, false);
    if (!q.empty()) {
      bool match = Lower(r.name).find(q) != std::string::npos;
      if (tags.is_array())
        for (const auto& t : tags)
          match =
              match || (t.is_string() && Lower(t.get<std::string>()).find(q) != std::string::npos);
      if (!match) continue;
    }
    json attention = json::array();
    if (!r.last_backup_at)
      attention.push_back("no successful backup yet");
    else if (now_ms - *r.last_backup_at > kStaleMs)
      attention.push_back("last successful backup is over 48 hours old");
    if (r.failed_runs_24h > 0)
      attention.push_back(std::to_string(r.failed_runs_24h) + " failed runs in the last 24 hours");
    const std::string creds = Credentials(r, now_ms);
    if (creds == "missing") attention.push_back("no credentials");
    if (creds == "failing") attention.push_back("the last connection check failed");
    if (r.has_credentials && r.credential_expires_at &&
        tenancy::CredentialExpiry(r.credential_expires_at, now_ms) != "valid")
      attention.push_back(tenancy::ExpiryPhrase(*r.credential_expires_at, now_ms, r.certificate));
    auto next = loaded->next.find(r.tenant_id);
    if (next == loaded->next.end()) attention.push_back("no schedule backs it up");
    if (r.open_drift > 0)
      attention.push_back(std::to_string(r.open_drift) +
                          (r.open_drift == 1 ? " open drift finding" : " open drift findings"));
    if (query.attention_only && attention.empty()) continue;
    json j = {{"tenant_id", r.tenant_id},
              {"name", r.name},
              {"tags", tags.is_array() ? tags : json::array()},
              {"failed_runs_24h", r.failed_runs_24h},
              {"open_drift_findings", r.open_drift},
              {"credentials", creds},
              {"credential_expires_at",
               r.has_credentials ? TimeJson(r.credential_expires_at) : json()},
              {"last_check_at", r.last_check_at ? json(FormatIso8601(*r.last_check_at)) : json()},
              {"attention", attention}};
    j["last_backup"] =
        r.last_backup_at
            ? json{{"at", FormatIso8601(*r.last_backup_at)},
                   {"age_seconds", (now_ms - *r.last_backup_at) / 1000},
                   {"backup_set_id", r.last_backup_set_id ? json(*r.last_backup_set_id) : json()}}
            : json();
    j["next_backup"] = next != loaded->next.end() ? json{{"at", FormatIso8601(next->second.first)},
                                                         {"schedule", next->second.second}}
                                                  : json();
    items.push_back(
        {std::move(j), &r,
         next != loaded->next.end() ? std::optional<int64_t>(next->second.first) : std::nullopt});
  }
  // Missing values sort last in either order.
  auto key = [&](const Item& i) -> std::pair<bool, int64_t> {
    if (query.sort == "last_backup")
      return {!i.row->last_backup_at, i.row->last_backup_at.value_or(0)};
    if (query.sort == "failed_runs") return {false, i.row->failed_runs_24h};
    if (query.sort == "drift") return {false, i.row->open_drift};
    if (query.sort == "next_backup") return {!i.next_at, i.next_at.value_or(0)};
    if (query.sort == "credentials") {
      const std::string c = i.j["credentials"];
      int rank = 0;
      for (const char* worst : {"missing", "expired", "failing", "expiring", "unchecked", "ok"}) {
        if (c == worst) break;
        ++rank;
      }
      return {false, rank};
    }
    return {false, 0};
  };
  std::stable_sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
    if (query.sort == "name") {
      const std::string x = Lower(a.row->name), y = Lower(b.row->name);
      return query.descending ? y < x : x < y;
    }
    const auto ka = key(a), kb = key(b);
    if (ka.first != kb.first) return !ka.first;  // present before missing
    return query.descending ? kb.second < ka.second : ka.second < kb.second;
  });
  json page = json::array();
  const int64_t total = static_cast<int64_t>(items.size());
  for (int64_t i = query.offset; i < std::min(total, query.offset + query.limit); ++i)
    page.push_back(std::move(items[static_cast<size_t>(i)].j));
  const int64_t next_offset = query.offset + query.limit;
  return json{{"items", page},
              {"total", total},
              {"next_cursor", next_offset < total ? json(std::to_string(next_offset)) : json()}};
}

}  // namespace ta::schedule
