#include "runs/run_words.h"

#include <nlohmann/json.hpp>

#include "runs/operations.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/inventory.h"

namespace ta::runs {

using store::RunRecord;
using store::RunStatus;

namespace {

std::string Quoted(const std::string& s) { return "\u201c" + s + "\u201d"; }

int64_t IntField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// The policy a capture run is about (its params, or its target id).
int64_t CapturedPolicy(const RunRecord& run, const nlohmann::json& params) {
  int64_t policy = params.is_object() ? IntField(params, "policy_id") : 0;
  if (!policy && run.target_id) policy = std::atoll(run.target_id->c_str());
  return policy;
}

// Memoised lookups for one batch of runs.
class Names {
 public:
  explicit Names(store::Tx& tx) : tx_(tx) {}

  // Reads the tenants' and captured policies' names of `runs` in one
  // statement each, so that describing many runs costs two statements, not
  // two per run. Backup sets are rarer and are still read one by one.
  Status Prefetch(const std::vector<RunRecord>& runs) {
    if (runs.size() < 2) return Status::Ok();  // one run: the plain lookups cost the same
    std::vector<int64_t> tenants, policies;
    for (const auto& r : runs) {
      if (!tenants_.count(r.tenant_id)) tenants.push_back(r.tenant_id);
      if (r.type != kCaptureSnapshot) continue;
      const int64_t policy = CapturedPolicy(r, nlohmann::json::parse(r.params, nullptr, false));
      if (!policies_.count({r.tenant_id, policy})) policies.push_back(policy);
    }
    auto tenant_names = store::Accounts::TenantNames(tx_, tenants);
    if (!tenant_names) return tenant_names.error();
    for (int64_t id : tenants) {
      auto it = tenant_names->find(id);
      tenants_[id] = it != tenant_names->end() ? it->second : "tenant " + std::to_string(id);
    }
    auto policy_names = store::Inventory::PolicyNames(tx_, policies);
    if (!policy_names) return policy_names.error();
    for (const auto& r : runs) {
      if (r.type != kCaptureSnapshot) continue;
      const int64_t policy = CapturedPolicy(r, nlohmann::json::parse(r.params, nullptr, false));
      auto it = policy_names->find(policy);
      // Gone, or another tenant's: named by id, as Policy() names it.
      policies_[{r.tenant_id, policy}] =
          it != policy_names->end() && it->second.first == r.tenant_id
              ? Quoted(it->second.second)
              : "policy " + std::to_string(policy);
    }
    return Status::Ok();
  }

  Result<std::string> Tenant(int64_t id) {
    if (auto it = tenants_.find(id); it != tenants_.end()) return it->second;
    auto t = store::Accounts::TenantById(tx_, id);
    std::string name;
    if (t)
      name = t->name;
    else if (t.error().code() == Status::Code::kNotFound)
      name = "tenant " + std::to_string(id);
    else
      return Unexpected(t.error());
    return tenants_[id] = name;
  }
  Result<std::string> Policy(int64_t tenant, int64_t id) {
    return Named(policies_, tenant, id, "policy", [&] {
      return store::Inventory::Policy(tx_, tenant, id).transform([](const auto& p) {
        return p.display_name;
      });
    });
  }
  Result<std::string> Set(int64_t tenant, int64_t id) {
    return Named(sets_, tenant, id, "backup set", [&] {
      return store::BackupSets::Get(tx_, tenant, id).transform([](const auto& s) {
        return s.name;
      });
    });
  }

 private:
  store::Tx& tx_;
  std::map<int64_t, std::string> tenants_;
  using Memo = std::map<std::pair<int64_t, int64_t>, std::string>;
  Memo policies_, sets_;

  // A record's name, quoted, looked up once; "<what> <id>" when it is gone
  // (or another tenant's).
  template <typename Lookup>
  Result<std::string> Named(Memo& memo, int64_t tenant, int64_t id, const char* what,
                            Lookup lookup) {
    const auto key = std::make_pair(tenant, id);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    Result<std::string> found = lookup();
    std::string name;
    if (found)
      name = Quoted(*found);
    else if (found.error().code() == Status::Code::kNotFound ||
             found.error().code() == Status::Code::kPermissionDenied)
      name = std::string(what) + " " + std::to_string(id);
    else
      return Unexpected(found.error());
    return memo[key] = name;
  }
};

Result<RunWords> Describe(Names& names, const RunRecord& run) {
  RunWords w;
  auto tenant = names.Tenant(run.tenant_id);
  if (!tenant) return Unexpected(tenant.error());
  w.tenant = *tenant;
  const auto params = nlohmann::json::parse(run.params, nullptr, false);
  const bool object = params.is_object();
  if (run.type == kCaptureSnapshot) {
    auto name = names.Policy(run.tenant_id, CapturedPolicy(run, params));
    if (!name) return Unexpected(name.error());
    w.subject = *name;
  } else if (run.type == kBackupSetCreate || run.type == kScheduledBackup) {
    if (object && params.contains("name") && params["name"].is_string())
      w.backup_set = Quoted(params["name"].get<std::string>());
    w.subject = w.backup_set;
  } else if (run.type == kRestorePreview || run.type == kRestoreExecute) {
    const int64_t source = object ? IntField(params, "source_tenant_id") : 0;
    const int64_t set = object ? IntField(params, "backup_set_id") : 0;
    if (source && set) {
      auto src = names.Tenant(source);
      if (!src) return Unexpected(src.error());
      auto set_name = names.Set(source, set);
      if (!set_name) return Unexpected(set_name.error());
      w.source_tenant = *src;
      w.backup_set = *set_name;
      w.subject = *set_name + " from " + *src;
    }
  } else if (run.type == kInventorySync) {
    w.subject = "inventory of " + w.tenant;
  } else if (run.type == kConnectionCheck) {
    w.subject = "connection to " + w.tenant;
  }
  return w;
}

std::string Items(int64_t n) { return std::to_string(n) + (n == 1 ? " item" : " items"); }

}  // namespace

Result<std::map<int64_t, RunWords>> DescribeRuns(store::Tx& tx,
                                                 const std::vector<RunRecord>& runs) {
  Names names(tx);
  TA_RETURN_IF_ERROR(names.Prefetch(runs));
  std::map<int64_t, RunWords> out;
  for (const auto& r : runs) {
    auto w = Describe(names, r);
    if (!w) return Unexpected(w.error());
    out.emplace(r.id, std::move(*w));
  }
  return out;
}

Result<RunWords> DescribeRun(store::Tx& tx, const RunRecord& run) {
  Names names(tx);
  return Describe(names, run);
}

std::string RunSentence(const RunRecord& run, const RunWords& w) {
  const std::string of_items = run.total > 0 ? " of " + Items(run.total) : "";
  std::string what;
  if (run.type == kInventorySync) {
    what = "Inventory sync of " + w.tenant;
  } else if (run.type == kConnectionCheck) {
    what = "Connection check of " + w.tenant;
  } else if (run.type == kDriftDetect) {
    what = "Drift detection in " + w.tenant;
  } else if (run.type == kScheduleRetention || run.type == kTenantRetention) {
    what = "Retention" + of_items + " in " + w.tenant;
  } else if (run.type == kCaptureSnapshot) {
    what = "Snapshot of " + (w.subject.empty() ? "a policy" : w.subject) + " in " + w.tenant;
  } else if (run.type == kBackupSetCreate) {
    what = "Backup set" + (w.backup_set.empty() ? "" : " " + w.backup_set) + of_items + " in " +
           w.tenant;
  } else if (run.type == kScheduledBackup) {
    what = "Scheduled backup" + (w.backup_set.empty() ? "" : " " + w.backup_set) + of_items +
           " of " + w.tenant;
  } else if (run.type == kRestorePreview || run.type == kRestoreExecute) {
    what = std::string(run.type == kRestoreExecute ? "Restore" : "Restore preview") + of_items;
    if (!w.backup_set.empty()) what += " from " + w.backup_set;
    if (!w.source_tenant.empty() && w.source_tenant != w.tenant) what += " of " + w.source_tenant;
    what += " into " + w.tenant;
  } else {
    what = run.type + " in " + w.tenant;
  }
  auto counts = [&] {
    std::string s = std::to_string(run.failed) + " failed";
    if (run.skipped > 0) s += ", " + std::to_string(run.skipped) + " skipped";
    return s;
  };
  switch (run.status) {
    case RunStatus::kQueued:
      return what + " is queued";
    case RunStatus::kRunning:
      return what + " is running";
    case RunStatus::kSucceeded:
      return what + " succeeded" +
             (run.skipped > 0 ? ": " + std::to_string(run.skipped) + " skipped" : "");
    case RunStatus::kPartiallySucceeded:
      return what + " partially succeeded: " + counts();
    case RunStatus::kFailed:
      return what + " failed" + (run.failed > 0 ? ": " + counts() : "");
    case RunStatus::kCancelled:
      return what + " was cancelled";
  }
  return what;
}

bool ShouldNotify(std::string_view preference, RunStatus status, bool scheduled) {
  const bool bad = status == RunStatus::kFailed || status == RunStatus::kPartiallySucceeded;
  if (scheduled || preference == "failures") return bad;
  if (preference == "finished") return store::IsTerminal(status);
  return true;
}

}  // namespace ta::runs
