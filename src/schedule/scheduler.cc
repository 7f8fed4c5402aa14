#include "schedule/scheduler.h"

#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/log.h"
#include "core/sha256.h"
#include "notify/alerts.h"
#include "runs/operations.h"
#include "schedule/cron.h"
#include "schedule/retention.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/schedules.h"
#include "tenancy/tenancy.h"

namespace ta::schedule {

namespace {

constexpr size_t kMissedListed = 20;  // missed slots listed by time; all are counted

Clock::TimePoint At(int64_t ms) { return FromUnixMillis(ms); }

}  // namespace

int64_t JitterMs(int64_t schedule_id, int64_t slot_ms, int64_t tenant_id, int64_t jitter_seconds) {
  if (jitter_seconds <= 0) return 0;
  const std::string h = Sha256Hex(std::to_string(schedule_id) + ":" + std::to_string(slot_ms) +
                                  ":" + std::to_string(tenant_id));
  const uint64_t v = std::stoull(h.substr(0, 12), nullptr, 16);
  return static_cast<int64_t>(v % static_cast<uint64_t>(jitter_seconds * 1000 + 1));
}

std::string NodeName() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "node") + ":" + std::to_string(getpid());
}

Scheduler::Scheduler(store::Database& db, runs::RunService& runs, Clock& clock, Logger& log,
                     std::string node)
    : db_(db), runs_(runs), clock_(clock), log_(log), node_(std::move(node)) {}

Result<TickResult> Scheduler::Tick() {
  TickResult out;
  TA_RETURN_IF_ERROR(Decide(out));
  TA_RETURN_IF_ERROR(Fire(out));
  TA_RETURN_IF_ERROR(WarnCredentials(out));
  return out;
}

// A client secret within 30 days of its end, within 7, and past it: one
// credentials.expiring alert at each stage of each expiry date. The stage is
// marked in the alert's transaction, so whichever node gets there first raises
// it and the others find nothing to do.
Status Scheduler::WarnCredentials(TickResult& out) {
  const int64_t now = ToUnixMillis(clock_.Now());
  // Expiry is a matter of days: once a minute per process is plenty, and
  // keeps a write transaction out of every tick.
  if (last_credential_check_ && now - *last_credential_check_ < 60'000) return Status::Ok();
  auto raised = store::WriteResult<int>(db_, [&](store::Tx& tx) -> Result<int> {
    auto due = store::Accounts::TakeExpiryWarnings(tx, now);
    if (!due) return Unexpected(due.error());
    for (const auto& w : *due) {
      const bool expired = w.stage == 3;
      nlohmann::json data = {
          {"tenant_id", w.tenant_id},
          {"tenant", w.name},
          {"state", expired ? "expired" : "expiring"},
          {"expires_at", FormatIso8601(w.expires_at)},
          {"summary", w.name + ": " + tenancy::ExpiryPhrase(w.expires_at, now, w.certificate) +
                          (w.certificate
                               ? (expired ? ". Backups of this tenant fail until a new certificate "
                                            "is made on its Tenant page and uploaded to Entra."
                                          : ". Make a new certificate on the tenant's Tenant page "
                                            "and upload it to the app in Entra.")
                               : (expired ? ". Backups of this tenant fail until a new secret is "
                                            "set on its Tenant page."
                                          : ". Create a new secret in Entra and set it on the "
                                            "tenant's Tenant page."))},
          {"url", "/tenant?tenant=" + std::to_string(w.tenant_id)}};
      TA_RETURN_IF_ERROR(
          notify::Raise(db_, tx, w.tenant_id, notify::kCredentialsExpiring, data, now));
    }
    return static_cast<int>(due->size());
  });
  if (!raised) return raised.error();
  last_credential_check_ = now;
  out.credential_warnings += *raised;
  return Status::Ok();
}

Status Scheduler::Decide(TickResult& out) {
  auto schedules = store::ReadResult<std::vector<store::ScheduleRecord>>(
      db_, [](store::Tx& tx) { return store::Schedules::List(tx, true); });
  if (!schedules) return schedules.error();
  const Clock::TimePoint now = clock_.Now();
  for (const auto& s : *schedules) {
    auto cron = ZonedCron::Make(s.cron, s.time_zone);
    if (!cron) {
      log_.Warn("schedule " + std::to_string(s.id) + " is not valid: " + cron.error().message());
      continue;
    }
    // The due slots: the newest fires, the older ones were missed.
    std::vector<int64_t> missed;
    int64_t missed_count = 0;
    std::optional<Clock::TimePoint> fire;
    for (Clock::TimePoint t = At(s.slots_after);;) {
      auto next = cron->Next(t);
      if (!next || *next > now) break;
      if (fire) {
        ++missed_count;
        if (missed.size() < kMissedListed) missed.push_back(ToUnixMillis(*fire));
      }
      fire = t = *next;
    }
    if (!fire) continue;
    const int64_t slot = ToUnixMillis(*fire), now_ms = ToUnixMillis(now);
    auto decided = store::WriteResult<bool>(db_, [&](store::Tx& tx) -> Result<bool> {
      auto won = store::Schedules::AdvanceSlots(tx, s.id, s.slots_after, slot);
      if (!won || !*won) return won;
      auto tenants = store::Schedules::TargetTenants(tx, s.tenant_ids, s.tag);
      if (!tenants) return Unexpected(tenants.error());
      store::SlotRecord rec;
      rec.schedule_id = s.id;
      rec.slot_at = slot;
      rec.decided_at = now_ms;
      rec.decided_by = node_;
      rec.missed_count = missed_count;
      rec.missed = missed;
      for (int64_t t : *tenants)
        rec.targets.push_back({t, slot + JitterMs(s.id, slot, t, s.jitter_seconds)});
      TA_RETURN_IF_ERROR(store::Schedules::InsertSlot(tx, rec));
      if (missed_count > 0) {  // no scheduler ran for a while: say so
        for (int64_t t : *tenants) {
          nlohmann::json data = {
              {"tenant_id", t},
              {"schedule_id", s.id},
              {"schedule", s.name},
              {"missed_slots", missed_count},
              {"first_missed", FormatIso8601(missed.front())},
              {"summary", "Schedule “" + s.name + "” missed " + std::to_string(missed_count) +
                              (missed_count == 1 ? " backup" : " backups") +
                              " while no scheduler ran; one catch-up backup starts now."}};
          TA_RETURN_IF_ERROR(notify::Raise(db_, tx, t, notify::kBackupMissed, data, now_ms));
        }
      }
      // Overdue: the previous slot started a backup of the tenant, and nothing
      // has succeeded since (raised once, with the slot's decision).
      if (s.operation != "drift") {
        auto fired = store::Schedules::Fires(tx, s.id, s.slots_after);
        if (!fired) return Unexpected(fired.error());
        for (const auto& f : *fired) {
          auto newest = store::BackupSets::NewestSucceeded(tx, f.tenant_id);
          if (!newest) return Unexpected(newest.error());
          std::optional<int64_t> last_at;
          if (*newest) {
            auto set = store::BackupSets::Get(tx, f.tenant_id, **newest);
            if (!set) return Unexpected(set.error());
            last_at = set->created_at;
          }
          if (last_at && *last_at >= f.slot_at) continue;
          nlohmann::json data = {
              {"tenant_id", f.tenant_id},
              {"schedule_id", s.id},
              {"schedule", s.name},
              {"run_id", f.run_id},
              {"last_successful_backup", last_at ? nlohmann::json(FormatIso8601(*last_at))
                                                 : nlohmann::json()},
              {"summary", "Schedule “" + s.name + "”: the backup of " +
                              FormatIso8601(f.slot_at) + " did not succeed, and " +
                              (last_at ? "the last successful backup is of " +
                                             FormatIso8601(*last_at)
                                       : std::string("there is no successful backup yet")) +
                              ". The next backup starts now."},
              {"url", runs::RunUrl(f.run_id) + "?tenant=" + std::to_string(f.tenant_id)}};
          TA_RETURN_IF_ERROR(
              notify::Raise(db_, tx, f.tenant_id, notify::kBackupOverdue, data, now_ms));
        }
      }
      return true;
    });
    if (!decided) return decided.error();
    if (!*decided) continue;  // another node decided it
    ++out.decided;
    out.missed += static_cast<int>(missed_count);
    log_.Info(
        "schedule " + std::to_string(s.id) + " \"" + s.name + "\": slot " + cron->Local(*fire) +
        " decided" +
        (missed_count ? " (catching up " + std::to_string(missed_count) + " missed slots)" : ""));
  }
  return Status::Ok();
}

Status Scheduler::Fire(TickResult& out) {
  auto slots = store::ReadResult<std::vector<store::SlotRecord>>(
      db_, [](store::Tx& tx) { return store::Schedules::FiringSlots(tx); });
  if (!slots) return slots.error();
  for (const auto& slot : *slots) {
    auto state = store::ReadResult<std::pair<store::ScheduleRecord, std::set<int64_t>>>(
        db_, [&](store::Tx& tx) -> Result<std::pair<store::ScheduleRecord, std::set<int64_t>>> {
          auto s = store::Schedules::Get(tx, slot.schedule_id);
          if (!s) return Unexpected(s.error());
          auto fires = store::Schedules::Fires(tx, slot.schedule_id, slot.slot_at);
          if (!fires) return Unexpected(fires.error());
          std::set<int64_t> fired;
          for (const auto& f : *fires) fired.insert(f.tenant_id);
          return std::make_pair(std::move(*s), std::move(fired));
        });
    if (!state) {
      if (state.error().code() == Status::Code::kNotFound) continue;  // deleted meanwhile
      return state.error();
    }
    const store::ScheduleRecord& schedule = state->first;
    const std::set<int64_t>& fired = state->second;
    const int64_t now = ToUnixMillis(clock_.Now());
    size_t pending = 0;
    if (schedule.enabled) {
      auto cron = ZonedCron::Make(schedule.cron, schedule.time_zone);
      const std::string label = cron ? cron->Local(At(slot.slot_at)) : FormatIso8601(slot.slot_at);
      for (const auto& target : slot.targets) {
        if (fired.count(target.tenant_id)) continue;
        if (target.due_at > now) {
          ++pending;
          continue;
        }
        runs::ScheduledBackup req;
        req.tenant_id = target.tenant_id;
        req.schedule_id = schedule.id;
        req.slot_at = slot.slot_at;
        req.set_name = schedule.name + " " + label;
        req.user_id = schedule.created_by;
        req.in_same_tx = [&](store::Tx& tx, const store::RunRecord& run, bool reused) -> Status {
          store::FireRecord f{schedule.id, slot.slot_at, target.tenant_id, run.id, reused, now};
          auto inserted = store::Schedules::InsertFire(tx, f);
          if (!inserted) return inserted.error();
          // Another node started it first: roll this start back.
          if (!*inserted) return Status::AlreadyExists("slot already fired for this tenant");
          return Status::Ok();
        };
        req.detect_drift = schedule.operation == "backup_and_drift";
        auto started = schedule.operation == "drift"
                           ? runs::StartDriftDetection(runs_, target.tenant_id, schedule.created_by,
                                                       &req)
                           : runs::StartScheduledBackup(runs_, req);
        if (!started) {
          if (started.error().code() == Status::Code::kAlreadyExists) continue;
          log_.Warn("schedule " + std::to_string(schedule.id) + ", tenant " +
                    std::to_string(target.tenant_id) +
                    ": the run did not start: " + started.error().message());
          ++pending;  // tried again on the next tick
          continue;
        }
        ++(started->reused ? out.reused : out.started);
        // Retention follows each backup (a set still being filled is kept):
        // the tenant's own rule when it has one (that run weighs the
        // schedule's rule too), else the schedule's.
        if (schedule.operation != "drift") {
          auto own = store::ReadResult<std::optional<std::string>>(db_, [&](store::Tx& tx) {
            return store::Accounts::TenantRetention(tx, target.tenant_id);
          });
          const bool schedule_rule = ScheduleRule(schedule).Any();
          Status failed = Status::Ok();
          if (!own) {
            failed = own.error();
          } else if (*own) {
            auto k = runs::StartTenantRetention(runs_, target.tenant_id, schedule.created_by);
            if (!k) failed = k.error();
          } else if (schedule_rule) {
            auto k =
                runs::StartRetention(runs_, target.tenant_id, schedule.id, schedule.created_by);
            if (!k) failed = k.error();
          }
          if (!failed.ok())
            log_.Warn("schedule " + std::to_string(schedule.id) + ", tenant " +
                      std::to_string(target.tenant_id) +
                      ": retention did not start (the next slot tries again): " +
                      failed.message());
        }
      }
    }
    // Every tenant started (or the schedule was switched off): the slot is done.
    if (pending == 0) {
      TA_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
        return store::Schedules::MarkFired(tx, slot.schedule_id, slot.slot_at, now);
      }));
    }
  }
  return Status::Ok();
}

SchedulerLoop::SchedulerLoop(Scheduler& scheduler, std::chrono::milliseconds interval)
    : scheduler_(scheduler), interval_(interval), thread_([this] { Loop(); }) {}

SchedulerLoop::~SchedulerLoop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SchedulerLoop::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto r = scheduler_.Tick();
    if (!r) scheduler_.log().Warn("scheduler: tick failed (retrying): " + r.error().message());
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace ta::schedule
