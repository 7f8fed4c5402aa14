#include "jobs/job_queue.h"

#include <algorithm>
#include <map>

#include "store/sql_text.h"

namespace ta::jobs {

using store::Backend;
using store::IdArray;
using store::InIdArray;
using store::OptParam;
using store::Param;
using store::Row;
using store::Tx;

namespace {

constexpr const char* kJobColumns =
    "id, tenant_id, kind, run_id, payload, attempts, max_attempts, cancel_requested";

Job JobFromRow(const Row& r) {
  return Job{r.Int(0),
             r.Int(1),
             r.Text(2),
             r.OptInt(3),
             r.Text(4),
             static_cast<int>(r.Int(5)),
             static_cast<int>(r.Int(6)),
             r.Int(7) != 0};
}

std::vector<int64_t> IdsOf(const std::vector<Job>& jobs) {
  std::vector<int64_t> ids;
  ids.reserve(jobs.size());
  for (const auto& j : jobs) ids.push_back(j.id);
  return ids;
}

}  // namespace

std::string_view ToString(JobState s) {
  switch (s) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kCompleted:
      return "completed";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

JobQueue::JobQueue(store::Database& db, Clock& clock, QueueOptions options, JobHooks* hooks,
                   const Redactor* redactor, uint64_t seed)
    : db_(db), clock_(clock), options_(options), hooks_(hooks), redactor_(redactor), rng_(seed) {}

std::string JobQueue::Sanitize(const Status& s) const {
  std::string text = redactor_ ? redactor_->Redact(s.ToString()) : s.ToString();
  if (text.size() > 2000) text.resize(2000);
  return text;
}

namespace {

Status CheckSpec(const JobSpec& spec) {
  if (spec.kind.empty()) return Status::InvalidArgument("kind: is required");
  if (spec.max_attempts < 1) return Status::InvalidArgument("max_attempts: must be at least 1");
  return Status::Ok();
}

constexpr const char* kInsertJobs =
    "INSERT INTO jobs (tenant_id, kind, run_id, payload, state, priority, max_attempts, run_at, "
    "dedupe_key, created_at) VALUES ";
constexpr const char* kJobRow = "($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9)";
constexpr size_t kJobParams = 9;

void AppendInsertParams(store::Params& p, const JobSpec& spec, int64_t now_ms) {
  p.insert(p.end(), {spec.tenant_id, spec.kind, OptParam(spec.run_id), spec.payload,
                     int64_t{spec.priority}, int64_t{spec.max_attempts},
                     spec.run_at_ms.value_or(now_ms), OptParam(spec.dedupe_key), now_ms});
}

}  // namespace

Result<EnqueueResult> JobQueue::Enqueue(store::Database& db, Tx& tx, const JobSpec& spec,
                                        int64_t now_ms) {
  if (Status s = CheckSpec(spec); !s.ok()) return Unexpected(s);
  store::Params params;
  AppendInsertParams(params, spec, now_ms);
  auto rows = tx.Query(std::string(kInsertJobs) + kJobRow +
                           " ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND "
                           "state IN ('queued', 'running') DO NOTHING RETURNING id",
                       params);
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) {
    auto existing = tx.Query(
        "SELECT id FROM jobs WHERE tenant_id = $1 AND dedupe_key = $2 AND state IN ('queued', "
        "'running')",
        {spec.tenant_id, OptParam(spec.dedupe_key)});
    if (!existing) return Unexpected(existing.error());
    if (existing->empty())
      return Unexpected(Status::Unavailable("dedupe key changed state; retry"));
    return EnqueueResult{existing->front().Int(0), true};
  }
  if (Status s = db.Notify(tx, kJobsChannel); !s.ok()) return Unexpected(s);
  return EnqueueResult{rows->front().Int(0), false};
}

Status JobQueue::EnqueueRunJobs(store::Database& db, Tx& tx, const std::vector<JobSpec>& specs,
                                int64_t now_ms) {
  if (specs.empty()) return Status::Ok();
  store::Params params;
  params.reserve(specs.size() * kJobParams);
  for (const auto& spec : specs) {
    TA_RETURN_IF_ERROR(CheckSpec(spec));
    if (!spec.run_id || spec.dedupe_key)
      return Status::InvalidArgument("a run's job has a run_id and no dedupe_key");
    AppendInsertParams(params, spec, now_ms);
  }
  TA_RETURN_IF_ERROR(tx.Defer(
      std::string(kInsertJobs) + store::ValuesRows(specs.size(), kJobRow, kJobParams), params));
  return db.Notify(tx, kJobsChannel);
}

Result<std::vector<Job>> JobQueue::Claim(const std::string& worker_id, int max) {
  uint64_t round;
  {
    std::lock_guard<std::mutex> lock(claim_mu_);
    round = claim_round_++;
  }
  std::vector<Job> claimed;
  Status s = db_.Write([&](Tx& tx) -> Status {
    claimed.clear();
    const int64_t now = NowMs();
    const bool pg = tx.backend() == Backend::kPostgres;
    const int cap = options_.tenant_running_cap;

    auto tenants_rows = tx.Query(
        "WITH RECURSIVE t(tenant_id) AS ("
        " SELECT (SELECT tenant_id FROM jobs WHERE state = 'queued' ORDER BY tenant_id LIMIT 1)"
        " UNION ALL"
        " SELECT (SELECT j.tenant_id FROM jobs j WHERE j.state = 'queued' AND j.tenant_id > "
        "t.tenant_id"
        "         ORDER BY j.tenant_id LIMIT 1) FROM t WHERE t.tenant_id IS NOT NULL)"
        " SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL");
    if (!tenants_rows) return tenants_rows.error();
    if (tenants_rows->empty()) return Status::Ok();

    std::map<int64_t, int64_t> running;
    if (cap > 0) {
      auto rows = tx.Query(
          "SELECT tenant_id, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY tenant_id");
      if (!rows) return rows.error();
      for (const auto& r : *rows) running[r.Int(0)] = r.Int(1);
    }
    struct Candidate {
      int64_t tenant;
      int64_t running;
      size_t rotation;
      bool locked = false;
      bool exhausted = false;
    };
    std::vector<Candidate> order;
    const size_t n = tenants_rows->size();
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = (*tenants_rows)[i].Int(0);
      order.push_back({t, running[t], (i + n - round % n) % n});
    }
    // Fewest running first; ties rotate between claims so no tenant always wins.
    std::sort(order.begin(), order.end(), [](const Candidate& a, const Candidate& b) {
      return a.running != b.running ? a.running < b.running : a.rotation < b.rotation;
    });

    const std::string claim_sql =
        std::string(
            pg ? "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $4, "
                 "worker_id = $5 "
                 "WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE state = 'queued' AND tenant_id = "
                 "$1 AND "
                 "run_at <= $2 ORDER BY priority, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)) "
                 "RETURNING "
               : "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $4, "
                 "worker_id = $5 "
                 "WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND tenant_id = $1 AND "
                 "run_at <= $2 ORDER BY priority, run_at, id LIMIT $3) RETURNING ") +
        kJobColumns;
    const int64_t lease_until = now + options_.lease.count();

    int remaining = max;
    auto take_from = [&](Candidate& c, int want) -> Status {
      if (cap > 0) {
        if (pg && !c.locked) {
          // Serialises claims for this tenant across processes so the cap holds.
          auto l = tx.Exec("SELECT pg_advisory_xact_lock(7301, CAST($1 AS integer))", {c.tenant});
          if (!l) return l.error();
          auto cnt = tx.Query(
              "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND tenant_id = $1", {c.tenant});
          if (!cnt) return cnt.error();
          c.running = cnt->front().Int(0);
          c.locked = true;
        }
        want = static_cast<int>(std::min<int64_t>(want, cap - c.running));
      }
      if (want <= 0) {
        c.exhausted = true;
        return Status::Ok();
      }
      auto rows = tx.Query(claim_sql, {c.tenant, now, int64_t{want}, lease_until, worker_id});
      if (!rows) return rows.error();
      for (const auto& r : *rows) claimed.push_back(JobFromRow(r));
      const int got = static_cast<int>(rows->size());
      c.running += got;
      remaining -= got;
      if (got < want) c.exhausted = true;
      return Status::Ok();
    };
    const int share = std::max(1, max / static_cast<int>(order.size()));
    for (int pass = 0; pass < 2 && remaining > 0; ++pass) {
      for (auto& c : order) {
        if (remaining <= 0) break;
        if (c.exhausted) continue;
        if (Status st = take_from(c, pass == 0 ? std::min(share, remaining) : remaining); !st.ok())
          return st;
      }
    }
    if (hooks_ && !claimed.empty()) return hooks_->OnClaimed(tx, claimed, now);
    return Status::Ok();
  });
  if (!s.ok()) return Unexpected(s);
  return claimed;
}

Status JobQueue::Finish(Tx& tx, const Job& job, JobState state, const std::string& error,
                        int64_t now) {
  if (hooks_) return hooks_->OnFinished(tx, job, state, error, now);
  return Status::Ok();
}

Status JobQueue::Complete(const std::string& worker_id, const std::vector<Job>& jobs) {
  if (jobs.empty()) return Status::Ok();
  return db_.Write([&](Tx& tx) -> Status {
    const int64_t now = NowMs();
    auto rows = tx.Query(
        "UPDATE jobs SET state = 'completed', finished_at = $1, lease_until = NULL WHERE " +
            InIdArray(tx.backend(), "id", 2) +
            " AND worker_id = $3 AND state = 'running' RETURNING id",
        {now, IdArray(tx.backend(), IdsOf(jobs)), worker_id});
    if (!rows) return rows.error();
    if (!hooks_) return Status::Ok();
    std::vector<int64_t> done;
    for (const auto& r : *rows) done.push_back(r.Int(0));
    std::sort(done.begin(), done.end());
    for (const auto& j : jobs) {
      if (!std::binary_search(done.begin(), done.end(), j.id)) continue;
      if (Status s = Finish(tx, j, JobState::kCompleted, "", now); !s.ok()) return s;
    }
    return Status::Ok();
  });
}

Status JobQueue::Fail(const std::string& worker_id, const Job& job, const Status& error,
                      bool retryable) {
  const std::string text = Sanitize(error);
  int64_t delay = 0;
  {
    std::lock_guard<std::mutex> lock(rng_mu_);
    delay = FullJitterBackoff(options_.retry, job.attempts, rng_).count();
  }
  return db_.Write([&](Tx& tx) -> Status {
    const int64_t now = NowMs();
    if (retryable && job.attempts < job.max_attempts) {
      auto n = tx.Exec(
          "UPDATE jobs SET state = 'queued', run_at = $1, lease_until = NULL, worker_id = NULL, "
          "last_error = $2 "
          "WHERE id = $3 AND worker_id = $4 AND state = 'running'",
          {now + delay, text, job.id, worker_id});
      return n ? Status::Ok() : n.error();
    }
    auto n = tx.Exec(
        "UPDATE jobs SET state = 'failed', finished_at = $1, lease_until = NULL, last_error = $2 "
        "WHERE id = $3 AND worker_id = $4 AND state = 'running'",
        {now, text, job.id, worker_id});
    if (!n) return n.error();
    if (*n == 1) return Finish(tx, job, JobState::kFailed, text, now);
    return Status::Ok();
  });
}

Status JobQueue::Snooze(const std::string& worker_id, const Job& job, Clock::TimePoint until) {
  return db_.Write([&](Tx& tx) -> Status {
    auto n = tx.Exec(
        "UPDATE jobs SET state = 'queued', run_at = $1, attempts = attempts - 1, lease_until = "
        "NULL, "
        "worker_id = NULL WHERE id = $2 AND worker_id = $3 AND state = 'running'",
        {ToUnixMillis(until), job.id, worker_id});
    return n ? Status::Ok() : n.error();
  });
}

Status JobQueue::MarkCancelled(const std::string& worker_id, const Job& job) {
  return db_.Write([&](Tx& tx) -> Status {
    const int64_t now = NowMs();
    auto n = tx.Exec(
        "UPDATE jobs SET state = 'cancelled', finished_at = $1, lease_until = NULL "
        "WHERE id = $2 AND worker_id = $3 AND state = 'running'",
        {now, job.id, worker_id});
    if (!n) return n.error();
    if (*n == 1) return Finish(tx, job, JobState::kCancelled, "cancelled by request", now);
    return Status::Ok();
  });
}

Status JobQueue::Release(const std::string& worker_id, const std::vector<Job>& jobs) {
  if (jobs.empty()) return Status::Ok();
  return db_.Write([&](Tx& tx) -> Status {
    auto n = tx.Exec(
        "UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = $1, "
        "lease_until = NULL, worker_id = NULL WHERE " +
            InIdArray(tx.backend(), "id", 2) + " AND worker_id = $3 AND state = 'running'",
        {NowMs(), IdArray(tx.backend(), IdsOf(jobs)), worker_id});
    if (!n) return n.error();
    return db_.Notify(tx, kJobsChannel);
  });
}

Result<std::vector<int64_t>> JobQueue::Heartbeat(const std::string& worker_id,
                                                 const std::vector<int64_t>& ids) {
  if (ids.empty()) return std::vector<int64_t>{};
  return store::WriteResult<std::vector<int64_t>>(db_, [&](Tx& tx) -> Result<std::vector<int64_t>> {
    auto rows =
        tx.Query("UPDATE jobs SET lease_until = $1 WHERE " + InIdArray(tx.backend(), "id", 2) +
                     " AND worker_id = $3 AND state = 'running' RETURNING id, cancel_requested",
                 {NowMs() + options_.lease.count(), IdArray(tx.backend(), ids), worker_id});
    if (!rows) return Unexpected(rows.error());
    std::vector<int64_t> cancelled;
    for (const auto& r : *rows)
      if (r.Int(1) != 0) cancelled.push_back(r.Int(0));
    return cancelled;
  });
}

Result<int> JobQueue::RescueExpired() {
  return store::WriteResult<int>(db_, [&](Tx& tx) -> Result<int> {
    const int64_t now = NowMs();
    auto requeued = tx.Exec(
        "UPDATE jobs SET state = 'queued', lease_until = NULL, worker_id = NULL, run_at = $1, "
        "last_error = 'lease expired: the worker stopped heartbeating (crashed or hung); "
        "re-queued' "
        "WHERE state = 'running' AND lease_until < $1 AND attempts < max_attempts",
        {now});
    if (!requeued) return Unexpected(requeued.error());
    auto dead = tx.Query(
        std::string("UPDATE jobs SET state = 'failed', finished_at = $1, lease_until = NULL, "
                    "last_error = 'lease expired on the last attempt' "
                    "WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts "
                    "RETURNING ") +
            kJobColumns,
        {now});
    if (!dead) return Unexpected(dead.error());
    for (const auto& r : *dead) {
      if (Status s = Finish(tx, JobFromRow(r), JobState::kFailed,
                            "the worker was lost on the last attempt (lease expired)", now);
          !s.ok()) {
        return Unexpected(s);
      }
    }
    if (*requeued > 0) {
      if (Status s = db_.Notify(tx, kJobsChannel); !s.ok()) return Unexpected(s);
    }
    return static_cast<int>(*requeued + static_cast<int64_t>(dead->size()));
  });
}

Status JobQueue::CancelInTx(Tx& tx, JobHooks* hooks, int64_t tenant_id, int64_t job_id,
                            int64_t now) {
  auto rows =
      tx.Query(std::string("UPDATE jobs SET state = 'cancelled', finished_at = $1 "
                           "WHERE id = $2 AND tenant_id = $3 AND state = 'queued' RETURNING ") +
                   kJobColumns,
               {now, job_id, tenant_id});
  if (!rows) return rows.error();
  if (!rows->empty()) {
    return hooks ? hooks->OnFinished(tx, JobFromRow(rows->front()), JobState::kCancelled,
                                     "cancelled before it started", now)
                 : Status::Ok();
  }
  auto n = tx.Exec(
      "UPDATE jobs SET cancel_requested = 1 WHERE id = $1 AND tenant_id = $2 AND state = 'running'",
      {job_id, tenant_id});
  if (!n) return n.error();
  if (*n == 0)
    return Status::Conflict("job " + std::to_string(job_id) + " is not queued or running");
  return Status::Ok();
}

Status JobQueue::Cancel(int64_t tenant_id, int64_t job_id) {
  return db_.Write([&](Tx& tx) { return CancelInTx(tx, hooks_, tenant_id, job_id, NowMs()); });
}

Result<std::optional<int64_t>> JobQueue::ActiveJobOfRun(Tx& tx, int64_t tenant_id, int64_t run_id) {
  auto rows = tx.Query(
      "SELECT id FROM jobs WHERE run_id = $1 AND tenant_id = $2 AND state IN ('queued', 'running')",
      {run_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().Int(0));
}

Result<JobQueue::Depth> JobQueue::CurrentDepth(Tx& tx) {
  auto rows = tx.Query(
      "SELECT state, COUNT(*) FROM jobs WHERE state IN ('queued', 'running') GROUP BY state");
  if (!rows) return Unexpected(rows.error());
  Depth d;
  for (const auto& r : *rows) (r.Text(0) == "queued" ? d.queued : d.running) = r.Int(1);
  return d;
}

bool JobQueue::CancelRequested(int64_t job_id) {
  auto r = store::ReadResult<bool>(db_, [&](Tx& tx) -> Result<bool> {
    auto rows = tx.Query("SELECT cancel_requested FROM jobs WHERE id = $1", {job_id});
    if (!rows) return Unexpected(rows.error());
    return !rows->empty() && rows->front().Int(0) != 0;
  });
  return r.value_or(false);
}

}  // namespace ta::jobs
