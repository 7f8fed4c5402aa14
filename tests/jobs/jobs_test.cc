// The job engine and run lifecycle, identical on SQLite and PostgreSQL.
// Time is a FakeClock; the engine is stepped with RunOnce(); nothing sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "jobs/backoff.h"
#include "jobs/job_queue.h"
#include "jobs/worker_pool.h"
#include "runs/run_service.h"
#include "store/audit_log.h"
#include "store/notifications.h"
#include "support/test_database.h"

namespace ta::jobs {
namespace {

using namespace std::chrono_literals;
using runs::RunService;
using runs::StartRequest;
using store::RunStatus;
using store::Tx;
using ::ta::testing::MakeTenant;
using ::ta::testing::MakeUser;
using ::ta::testing::MustExec;
using ::ta::testing::QueryInt;
using ::ta::testing::TestBackend;

// Wires a database, a fake clock, the run service (as hooks) and a queue.
struct Engine {
  explicit Engine(store::Database& db, QueueOptions options = {})
      : runs(db, clock, redactor), queue(db, clock, options, &runs, &redactor, 42) {}
  FakeClock clock;
  Redactor redactor;
  RunService runs;
  JobQueue queue;

  int64_t Start(int64_t tenant, const std::string& target,
                std::optional<int64_t> user = std::nullopt, int max_attempts = 5) {
    StartRequest req;
    req.tenant_id = tenant;
    req.type = "test.work";
    req.target_id = target;
    req.initiator_user_id = user;
    req.max_attempts = max_attempts;
    auto r = runs.Start(req);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
    return r ? r->run.id : -1;
  }
  store::RunRecord Get(int64_t tenant, int64_t run) {
    auto r = store::ReadResult<store::RunRecord>(
        queue.db(), [&](Tx& tx) { return store::RunsRepository::Get(tx, tenant, run); });
    EXPECT_TRUE(r.has_value());
    return r.value_or(store::RunRecord{});
  }
};

WorkerOptions Opts(const std::string& id, int batch = 32) {
  WorkerOptions o;
  o.worker_id = id;
  o.batch = batch;
  return o;
}

class JobsTest : public ::testing::TestWithParam<TestBackend> {};

TEST_P(JobsTest, StartWritesRunJobNotificationAndAuditTogether) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t tenant = MakeTenant(t->db(), "a"), user = MakeUser(t->db(), "u@x");
  const int64_t run = e.Start(tenant, "42", user);
  EXPECT_EQ(
      QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE run_id = $1 AND state = 'queued'", {run}),
      1);
  auto notes = store::ReadResult<std::vector<store::Notification>>(
      t->db(), [&](Tx& tx) { return store::NotificationsRepository::ForUser(tx, user); });
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ(*(*notes)[0].action,
            "{\"label\":\"View run\",\"url\":\"/runs/" + std::to_string(run) + "\"}");
  EXPECT_EQ(
      QueryInt(t->db(),
               "SELECT COUNT(*) FROM audit_log WHERE action = 'run.queued' AND run_id = $1", {run}),
      1);

  // A double click reuses the run and writes nothing.
  StartRequest again;
  again.tenant_id = tenant;
  again.type = "test.work";
  again.target_id = "42";
  again.initiator_user_id = user;
  auto second = e.runs.Start(again);
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(second->run.id, run);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs"), 1);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM notifications"), 1);
}

// RunService::StartMany of the requests, each with its BuildKey key.
std::vector<Result<runs::StartResult>> StartMany(RunService& runs,
                                                 const std::vector<StartRequest>& reqs) {
  std::vector<IdempotencyKey> keys;
  for (const auto& r : reqs)
    keys.push_back(*BuildKey(r.tenant_id, r.type, r.target_id, r.key_context));
  std::vector<RunService::KeyedStart> starts;
  for (size_t i = 0; i < reqs.size(); ++i) starts.push_back({reqs[i], keys[i]});
  return runs.StartMany(starts);
}

// StartMany: the set-based path gives each request the answer Start would,
// and writes each new run's job, notification and audit entry once.
TEST_P(JobsTest, StartManyGivesEachRequestStartsAnswerInOneTransaction) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t a = MakeTenant(t->db(), "a"), b = MakeTenant(t->db(), "b");
  const int64_t user = MakeUser(t->db(), "u@x");
  auto policy = [&](int64_t tenant, const std::string& name) {
    return ::ta::testing::InsertReturningId(
        t->db(),
        "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, synced_at) "
        "VALUES ($1, 'deviceConfiguration', $2, $2, 0) RETURNING id",
        {tenant, name});
  };
  const int64_t pa = policy(a, "Policy of A"), pb = policy(b, "Policy of B");
  const int64_t earlier = e.Start(a, "2", user);  // already queued: reused

  auto req = [&](int64_t tenant, const std::string& target, std::optional<int64_t> pol) {
    StartRequest r;
    r.tenant_id = tenant;
    r.type = pol ? "policy.capture_snapshot" : "test.work";
    r.target_id = target;
    r.initiator_user_id = user;
    r.policy_id = pol;
    r.params = pol ? "{\"policy_id\":" + std::to_string(*pol) + "}" : "{}";
    return r;
  };
  std::vector<StartRequest> reqs = {
      req(a, std::to_string(pa), pa),  // 0: new capture
      req(a, std::to_string(pa), pa),  // 1: the same key in the batch: reuses 0
      req(b, std::to_string(pb), pb),  // 2: new, in another tenant
      req(a, "2", std::nullopt),       // 3: reuses `earlier`
      req(a, std::to_string(pb), pb),  // 4: B's policy asked in A: refused, names policy_id
      req(a, "9", std::nullopt),       // 5: invalid: no type
      req(a, "7", std::nullopt),       // 6: has in_same_tx: started on its own
  };
  reqs[5].type.clear();
  bool hook_ran = false;
  reqs[6].in_same_tx = [&](Tx&, const store::RunRecord&, bool reused) {
    hook_ran = !reused;
    return Status::Ok();
  };
  const int64_t batches = e.runs.start_batches();
  auto out = StartMany(e.runs, reqs);
  ASSERT_EQ(out.size(), reqs.size());
  EXPECT_EQ(e.runs.start_batches(), batches + 1);

  for (size_t i : {0, 1, 2, 3, 6})
    ASSERT_TRUE(out[i].has_value()) << i << ": " << out[i].error().ToString();
  EXPECT_FALSE(out[0]->reused);
  EXPECT_TRUE(out[1]->reused);
  EXPECT_EQ(out[1]->run.id, out[0]->run.id);
  EXPECT_FALSE(out[2]->reused);
  EXPECT_EQ(out[2]->run.tenant_id, b);
  EXPECT_TRUE(out[3]->reused);
  EXPECT_EQ(out[3]->run.id, earlier);
  ASSERT_FALSE(out[4].has_value());
  EXPECT_EQ(out[4].error().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(out[4].error().message().find("policy_id"), std::string::npos)
      << out[4].error().ToString();
  ASSERT_FALSE(out[5].has_value());
  EXPECT_EQ(out[5].error().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(out[6]->reused);
  EXPECT_TRUE(hook_ran);

  // Four runs in all (earlier, 0, 2, 6), each with one job, one notification
  // and one audit entry; nothing for the refused or reused starts.
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 4);
  for (int64_t run : {earlier, out[0]->run.id, out[2]->run.id, out[6]->run.id}) {
    EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE run_id = $1 AND state = 'queued'",
                       {run}),
              1)
        << run;
    EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM notifications WHERE run_id = $1", {run}), 1)
        << run;
    EXPECT_EQ(QueryInt(t->db(),
                       "SELECT COUNT(*) FROM audit_log WHERE action = 'run.queued' AND run_id = $1",
                       {run}),
              1)
        << run;
  }
  // The titles name each run's own policy and tenant (read for the batch at once).
  EXPECT_EQ(::ta::testing::QueryText(t->db(), "SELECT title FROM notifications WHERE run_id = $1",
                                     {out[0]->run.id}),
            "Snapshot of \u201cPolicy of A\u201d in a is queued.");
  EXPECT_EQ(::ta::testing::QueryText(t->db(), "SELECT title FROM notifications WHERE run_id = $1",
                                     {out[2]->run.id}),
            "Snapshot of \u201cPolicy of B\u201d in b is queued.");
}

// A batch whose transaction fails (here: one start's tenant does not exist,
// so the insert of every new run fails) is retried start by start: only the
// bad start fails, and the others commit once.
TEST_P(JobsTest, StartManyRetriesAFailedBatchStartByStart) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t a = MakeTenant(t->db(), "a");
  std::vector<StartRequest> reqs(4);
  for (size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].tenant_id = i == 2 ? 999999 : a;
    reqs[i].type = "test.work";
    reqs[i].target_id = std::to_string(i);
  }
  const int64_t batches = e.runs.start_batches();
  auto out = StartMany(e.runs, reqs);
  EXPECT_EQ(e.runs.start_batches(), batches);  // the batch did not commit
  for (size_t i : {0, 1, 3}) {
    ASSERT_TRUE(out[i].has_value()) << i << ": " << out[i].error().ToString();
    EXPECT_FALSE(out[i]->reused);
  }
  EXPECT_FALSE(out[2].has_value());
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 3);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs"), 3);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log WHERE action = 'run.queued'"), 3);
}

// A batch that throws (here: a target id that is not UTF-8, which the audit
// entry's JSON refuses; BuildKey refuses it first, so the key is given)
// answers its callers with an error and leaves the group open: the next start
// is not stuck behind it.
TEST_P(JobsTest, GroupedStartThatThrowsFailsWithoutBlockingTheNext) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  e.runs.GroupStarts(16);
  const int64_t a = MakeTenant(t->db(), "a");
  StartRequest bad;
  bad.tenant_id = a;
  bad.type = "test.work";
  bad.target_id = std::string("\xff\xfe", 2);
  auto r = e.runs.StartWithKey(bad, IdempotencyKey{"{}", std::string(64, 'a')});
  ASSERT_FALSE(r.has_value());
  // SQLite stores the bytes, so the audit entry's JSON throws (Internal);
  // PostgreSQL refuses them in the insert first (InvalidArgument).
  EXPECT_EQ(r.error().code(), GetParam() == TestBackend::kSqlite ? Status::Code::kInternal
                                                                 : Status::Code::kInvalidArgument)
      << r.error().ToString();
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 0);  // rolled back
  EXPECT_GT(e.Start(a, "fine"), 0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 1);
}

// Grouped starts under real concurrency: 16 threads start 400 requests over
// 10 keys at once. Every key gets exactly one run, every answer names it, and
// each run has one job, one notification and one audit entry.
TEST_P(JobsTest, GroupedConcurrentStartsMakeOneRunPerKey) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  e.runs.GroupStarts(16);
  const int64_t a = MakeTenant(t->db(), "a"), user = MakeUser(t->db(), "u@x");
  constexpr int kThreads = 16, kEach = 25, kKeys = 10;
  std::vector<std::vector<std::pair<int, int64_t>>> seen(kThreads);  // (key, run id)
  std::atomic<int> failures{0}, made{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th)
    threads.emplace_back([&, th] {
      for (int i = 0; i < kEach; ++i) {
        const int key = (th * 7 + i) % kKeys;
        StartRequest r;
        r.tenant_id = a;
        r.type = "test.work";
        r.target_id = std::to_string(key);
        r.initiator_user_id = user;
        auto s = e.runs.Start(r);
        if (!s) {
          ++failures;
          continue;
        }
        if (!s->reused) ++made;
        seen[th].emplace_back(key, s->run.id);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(made.load(), kKeys);  // one "new" answer per key
  std::map<int, std::set<int64_t>> runs_of;
  for (const auto& v : seen)
    for (const auto& [key, run] : v) runs_of[key].insert(run);
  ASSERT_EQ(runs_of.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, ids] : runs_of) EXPECT_EQ(ids.size(), 1u) << "key " << key;
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), kKeys);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs"), kKeys);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM notifications"), kKeys);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log WHERE action = 'run.queued'"), kKeys);
  // How many transactions the 400 starts took (informational: it depends on
  // how the threads overlapped).
  std::cout << "400 grouped starts in " << e.runs.start_batches() << " transactions\n";
}

TEST_P(JobsTest, EnqueueRollsBackWithTheCallersTransaction) {
  TA_OPEN_DB(t);
  const int64_t tenant = MakeTenant(t->db(), "a");
  Status s = t->db().Write([&](Tx& tx) -> Status {
    store::NewRun run{tenant, "test.work", "k", std::nullopt, std::nullopt, "{}", 0};
    auto r = store::RunsRepository::CreateOrReuse(tx, run, 1);
    if (!r) return r.error();
    JobSpec spec;
    spec.tenant_id = tenant;
    spec.kind = "test.work";
    spec.run_id = r->run.id;
    auto j = JobQueue::Enqueue(t->db(), tx, spec, 1);
    if (!j) return j.error();
    return Status::Internal("caller failed after enqueue");
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs"), 0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 0);
}

TEST_P(JobsTest, JobDedupeKeyKeepsOneActiveJob) {
  TA_OPEN_DB(t);
  const int64_t tenant = MakeTenant(t->db(), "a");
  auto enqueue = [&] {
    return store::WriteResult<EnqueueResult>(t->db(), [&](Tx& tx) {
      JobSpec spec;
      spec.tenant_id = tenant;
      spec.kind = "sync";
      spec.dedupe_key = "inventory";
      return JobQueue::Enqueue(t->db(), tx, spec, 1);
    });
  };
  auto a = enqueue(), b = enqueue();
  EXPECT_FALSE(a->deduped);
  EXPECT_TRUE(b->deduped);
  EXPECT_EQ(a->job_id, b->job_id);
}

TEST_P(JobsTest, RunOnceExecutesAndFinishesTheRunWithItsOutcome) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t tenant = MakeTenant(t->db(), "a"), user = MakeUser(t->db(), "u@x");
  const int64_t run = e.Start(tenant, "1", user);
  WorkerPool pool(e.queue, Opts("w1"));
  pool.Register("test.work", [&](JobContext& ctx) {
    EXPECT_EQ(
        QueryInt(ctx.db(), "SELECT COUNT(*) FROM runs WHERE id = $1 AND status = 'running'", {run}),
        1);
    Status s = ctx.db().Write([&](Tx& tx) -> Status {
      store::RunItem ok{"p1", "created", "create", "g1", std::nullopt, std::nullopt, std::nullopt};
      store::RunItem bad{"p2",         "failed",          "update",    std::nullopt,
                         "BadRequest", "read-only field", std::nullopt};
      if (Status st = store::RunsRepository::UpsertItem(tx, tenant, run, ok, 1); !st.ok())
        return st;
      return store::RunsRepository::UpsertItem(tx, tenant, run, bad, 1);
    });
    return s.ok() ? JobResult::Success() : JobResult::Retry(s);
  });
  EXPECT_EQ(*pool.RunOnce(), 1);
  const auto r = e.Get(tenant, run);
  EXPECT_EQ(r.status, RunStatus::kPartiallySucceeded);
  EXPECT_EQ(r.succeeded, 1);
  EXPECT_EQ(r.failed, 1);
  EXPECT_TRUE(r.finished_at.has_value());
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'completed'"), 1);
  EXPECT_EQ(QueryInt(t->db(),
                     "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND level = 'warning'",
                     {user}),
            1);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log WHERE action = 'run.finished'"), 1);
  EXPECT_TRUE(store::AuditLog::Verify(t->db())->empty());
  EXPECT_EQ(*pool.RunOnce(), 0);
}

TEST_P(JobsTest, RescuesJobWhoseLeaseExpired) {
  TA_OPEN_DB(t);
  QueueOptions o;
  o.lease = 30s;
  Engine e(t->db(), o);
  const int64_t tenant = MakeTenant(t->db(), "a");
  const int64_t run = e.Start(tenant, "1");
  auto claimed = e.queue.Claim("crashed-worker", 10);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(*e.queue.RescueExpired(), 0);  // lease still valid
  e.clock.Advance(31s);
  EXPECT_EQ(*e.queue.RescueExpired(), 1);
  EXPECT_EQ(e.Get(tenant, run).status, RunStatus::kRunning);  // still active while re-queued

  WorkerPool pool(e.queue, Opts("w2"));
  pool.Register("test.work", [](JobContext& ctx) {
    EXPECT_EQ(ctx.job().attempts, 2);
    return JobResult::Success();
  });
  EXPECT_EQ(*pool.RunOnce(), 1);
  // The crashed worker coming back cannot complete what it lost.
  EXPECT_TRUE(e.queue.Complete("crashed-worker", *claimed).ok());
  EXPECT_EQ(
      QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE worker_id = 'w2' AND state = 'completed'"),
      1);
  EXPECT_EQ(e.Get(tenant, run).status, RunStatus::kSucceeded);
}

TEST_P(JobsTest, LeaseExpiryOnTheLastAttemptFailsJobAndRun) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t tenant = MakeTenant(t->db(), "a");
  const int64_t run = e.Start(tenant, "1", std::nullopt, /*max_attempts=*/1);
  ASSERT_EQ(e.queue.Claim("w", 1)->size(), 1u);
  e.clock.Advance(e.queue.options().lease + 1ms);
  EXPECT_EQ(*e.queue.RescueExpired(), 1);
  const auto r = e.Get(tenant, run);
  EXPECT_EQ(r.status, RunStatus::kFailed);
  EXPECT_NE(r.error_message->find("lease expired"), std::string::npos);
}

TEST(Backoff, FullJitterStaysUnderTheDoublingCappedCeiling) {
  RetryPolicy p{1000ms, 60'000ms};
  EXPECT_EQ(BackoffCeiling(p, 1), 1000ms);
  EXPECT_EQ(BackoffCeiling(p, 2), 2000ms);
  EXPECT_EQ(BackoffCeiling(p, 4), 8000ms);
  EXPECT_EQ(BackoffCeiling(p, 10), 60'000ms);
  EXPECT_EQ(BackoffCeiling(p, 500), 60'000ms);
  std::mt19937_64 rng(7);
  std::chrono::milliseconds lo = 1h, hi = 0ms;
  for (int i = 0; i < 2000; ++i) {
    auto d = FullJitterBackoff(p, 4, rng);
    ASSERT_GE(d, 0ms);
    ASSERT_LE(d, 8000ms);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, 500ms);   // full jitter reaches down to zero ...
  EXPECT_GT(hi, 7500ms);  // ... and up to the ceiling
}

TEST_P(JobsTest, RetryWaitsForBackoffThenFailsForGoodWithARedactedError) {
  TA_OPEN_DB(t);
  QueueOptions o;
  o.retry = RetryPolicy{1000ms, 60'000ms};
  Engine e(t->db(), o);
  const int64_t tenant = MakeTenant(t->db(), "a");
  const int64_t run = e.Start(tenant, "1", std::nullopt, /*max_attempts=*/3);
  WorkerPool pool(e.queue, Opts("w"));
  int calls = 0;
  pool.Register("test.work", [&](JobContext&) {
    ++calls;
    return JobResult::Retry(
        Status::Unavailable("graph 503; request had client_secret=TopSecret123&x=1"));
  });
  for (int attempt = 1; attempt <= 3; ++attempt) {
    EXPECT_EQ(*pool.RunOnce(), 1) << attempt;
    if (attempt == 3) break;
    const int64_t wait = QueryInt(t->db(), "SELECT run_at FROM jobs") - ToUnixMillis(e.clock.Now());
    EXPECT_GE(wait, 0);
    EXPECT_LE(wait, BackoffCeiling(o.retry, attempt).count());
    EXPECT_EQ(e.Get(tenant, run).status, RunStatus::kRunning);  // waiting for a retry is active
    if (wait > 0) {
      e.clock.Advance(std::chrono::milliseconds(wait - 1));
      EXPECT_EQ(*pool.RunOnce(), 0) << "claimed before its backoff elapsed";
    }
    e.clock.Advance(1ms);
  }
  EXPECT_EQ(calls, 3);
  const auto r = e.Get(tenant, run);
  EXPECT_EQ(r.status, RunStatus::kFailed);
  EXPECT_EQ(r.error_message->find("TopSecret123"), std::string::npos) << *r.error_message;
  EXPECT_NE(r.error_message->find("client_secret=[REDACTED]"), std::string::npos)
      << *r.error_message;
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE last_error LIKE '%TopSecret123%'"),
            0);
}

TEST_P(JobsTest, SnoozeDelaysWithoutConsumingAnAttempt) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t tenant = MakeTenant(t->db(), "a");
  const int64_t run = e.Start(tenant, "1", std::nullopt, /*max_attempts=*/1);
  WorkerPool pool(e.queue, Opts("w"));
  int calls = 0;
  pool.Register("test.work", [&](JobContext& ctx) {
    if (++calls <= 3)
      return JobResult::Snooze(ctx.clock().Now() + 20s);  // Graph said Retry-After: 20
    return JobResult::Success();
  });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(*pool.RunOnce(), 1);
    e.clock.Advance(19s);
    EXPECT_EQ(*pool.RunOnce(), 0);
    e.clock.Advance(1s);
  }
  EXPECT_EQ(*pool.RunOnce(), 1);  // max_attempts = 1, yet it ran 4 times: snoozes are free
  EXPECT_EQ(e.Get(tenant, run).status, RunStatus::kSucceeded);
}

TEST_P(JobsTest, FairnessSmallTenantStartsWithinTheFirstClaim) {
  TA_OPEN_DB(t);
  QueueOptions o;
  o.tenant_running_cap = 4;
  Engine e(t->db(), o);
  const int64_t a = MakeTenant(t->db(), "big"), b = MakeTenant(t->db(), "small");
  ASSERT_TRUE(t->db()
                  .Write([&](Tx& tx) -> Status {
                    for (int i = 0; i < 5000; ++i) {
                      JobSpec spec;
                      spec.tenant_id = a;
                      spec.kind = "noop";
                      if (auto r = JobQueue::Enqueue(t->db(), tx, spec, 0); !r) return r.error();
                    }
                    return Status::Ok();
                  })
                  .ok());
  // A is already busy when B's single job arrives.
  ASSERT_EQ(e.queue.Claim("w0", 3)->size(), 3u);
  ASSERT_TRUE(t->db()
                  .Write([&](Tx& tx) -> Status {
                    JobSpec spec;
                    spec.tenant_id = b;
                    spec.kind = "noop";
                    auto r = JobQueue::Enqueue(t->db(), tx, spec, 0);
                    return r ? Status::Ok() : r.error();
                  })
                  .ok());
  auto next = e.queue.Claim("w1", 4);
  ASSERT_FALSE(next->empty());
  std::set<int64_t> tenants;
  for (const auto& j : *next) tenants.insert(j.tenant_id);
  EXPECT_TRUE(tenants.count(b)) << "tenant B's job was not in the first claim after it arrived";
  EXPECT_EQ(next->size(), 2u);  // B's job + A's last slot under the cap of 4
}

TEST_P(JobsTest, PerTenantCapLimitsRunningJobs) {
  TA_OPEN_DB(t);
  QueueOptions o;
  o.tenant_running_cap = 2;
  Engine e(t->db(), o);
  const int64_t a = MakeTenant(t->db(), "a");
  for (int i = 0; i < 10; ++i) e.Start(a, std::to_string(i));
  auto first = e.queue.Claim("w", 10);
  EXPECT_EQ(first->size(), 2u);
  EXPECT_EQ(e.queue.Claim("w", 10)->size(), 0u);
  ASSERT_TRUE(e.queue.Complete("w", {(*first)[0]}).ok());
  EXPECT_EQ(e.queue.Claim("w", 10)->size(), 1u);
}

TEST_P(JobsTest, CancellingAQueuedRunIsImmediate) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t a = MakeTenant(t->db(), "a"), user = MakeUser(t->db(), "u@x");
  const int64_t run = e.Start(a, "1", user);
  ASSERT_TRUE(e.runs.Cancel(a, run, user).ok());
  EXPECT_EQ(e.Get(a, run).status, RunStatus::kCancelled);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'cancelled'"), 1);
  EXPECT_EQ(e.runs.Cancel(a, run, user).code(), Status::Code::kConflict);
  const int64_t other = MakeTenant(t->db(), "other");
  EXPECT_EQ(e.runs.Cancel(other, run, user).code(), Status::Code::kPermissionDenied);
}

TEST_P(JobsTest, CancellingARunningRunStopsBetweenItems) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t a = MakeTenant(t->db(), "a");
  const int64_t run = e.Start(a, "1");
  WorkerPool pool(e.queue, Opts("w"));
  int items = 0;
  pool.Register("test.work", [&](JobContext& ctx) {
    for (int i = 0; i < 100; ++i) {
      if (ctx.CancelRequested()) return JobResult::Cancelled();
      ++items;
      if (i == 2) {
        EXPECT_TRUE(e.runs.Cancel(a, run, std::nullopt).ok());  // the user clicks Cancel
      }
      e.clock.Advance(250ms);  // each item takes a while
    }
    return JobResult::Success();
  });
  EXPECT_EQ(*pool.RunOnce(), 1);
  EXPECT_EQ(items, 3);
  EXPECT_EQ(e.Get(a, run).status, RunStatus::kCancelled);
}

TEST_P(JobsTest, UnknownJobKindFailsTheRunClearly) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t a = MakeTenant(t->db(), "a");
  const int64_t run = e.Start(a, "1");
  WorkerPool pool(e.queue, Opts("w"));
  EXPECT_EQ(*pool.RunOnce(), 1);
  const auto r = e.Get(a, run);
  EXPECT_EQ(r.status, RunStatus::kFailed);
  EXPECT_NE(r.error_message->find("no handler registered for job kind 'test.work'"),
            std::string::npos);
}

// Threads for real: the pool drains, and a graceful stop loses nothing.
TEST_P(JobsTest, ThreadedPoolDrainsAndStopsWithoutLosingJobs) {
  TA_OPEN_DB(t);
  Engine e(t->db());
  const int64_t a = MakeTenant(t->db(), "a");
  WorkerOptions o = Opts("threaded", 8);
  o.concurrency = 4;
  o.poll_interval = 50ms;
  WorkerPool pool(e.queue, o);
  std::atomic<bool> block{false};
  std::atomic<int> ran{0};
  pool.Register("test.work", [&](JobContext& ctx) {
    ran++;
    while (block && !ctx.ShuttingDown()) std::this_thread::yield();
    return ctx.ShuttingDown() && block ? JobResult::Release() : JobResult::Success();
  });
  pool.Start();
  for (int i = 0; i < 200; ++i) e.Start(a, std::to_string(i));
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'completed'") < 200 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);  // polling a condition with a deadline, not waiting for luck
  }
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs WHERE status = 'succeeded'"), 200);

  // Now handlers block until shutdown: Stop() must hand their jobs back.
  block = true;
  for (int i = 200; i < 220; ++i) e.Start(a, std::to_string(i));
  while (ran < 204 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  pool.Stop();
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'running'"), 0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'queued'"), 20);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND attempts <> 0"),
            0);
}

INSTANTIATE_TEST_SUITE_P(Backends, JobsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::jobs
