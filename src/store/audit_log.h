#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct AuditEntry {
  int64_t tenant_id = 0;  // 0 for platform-level events
  std::optional<int64_t> actor_user_id;
  std::string action;  // e.g. "run.started", "restore.write"
  std::optional<std::string> target_type, target_id;
  std::optional<int64_t> run_id;
  std::string details = "{}";  // JSON; callers never put secrets here
};

struct AuditProblem {
  int64_t tenant_id;
  int64_t seq;  // the sequence number where the chain breaks
  std::string problem;
};

// The append-only, hash-chained audit log. Each tenant has its own chain:
// row.hash = sha256(prev_hash ‖ canonical(row)), and audit_heads holds the
// last seq and hash, so an edited, deleted or truncated row is detectable.
// Per-tenant chains keep one tenant's writes from serialising another's.
class AuditLog {
 public:
  // Appends inside the caller's transaction (so the entry commits or rolls
  // back with the change it records). Returns the new row's seq.
  static Result<int64_t> Append(Tx& tx, const AuditEntry& entry, int64_t now_ms);

  // Appends without taking the chain head's lock, for hot paths (run starts):
  // on PostgreSQL the entry commits unsealed (no seq or hashes) and an
  // AuditSealer seals it after the commit, in order; on SQLite (one writer)
  // it is sealed at once, as Append does. Either way the entry commits or
  // rolls back with the caller's transaction.
  static Status AppendUnsealed(Tx& tx, const AuditEntry& entry, int64_t now_ms);
  // The same for several entries, in one statement on PostgreSQL.
  static Status AppendUnsealed(Tx& tx, const std::vector<AuditEntry>& entries, int64_t now_ms);

  // Seals unsealed entries, oldest first, per tenant: each tenant's batch (at
  // most `limit`) in one transaction under its chain head's lock. Returns how
  // many it sealed. Safe to run in several processes at once.
  static Result<int64_t> SealPending(Database& db, int64_t limit = 1000);

  // Entries not sealed yet (PostgreSQL; always 0 on SQLite).
  static Result<int64_t> Unsealed(Tx& tx);

  // Append for the common case: `actor` did `action` to `target_type` `target_id`.
  static Status Record(Tx& tx, int64_t tenant_id, std::optional<int64_t> actor, std::string action,
                       std::string target_type, std::string target_id, std::string details_json,
                       int64_t now_ms);

  // A stored entry, as the API lists it.
  struct Row {
    int64_t id = 0, seq = 0;
    AuditEntry entry;
    int64_t created_at = 0;
    std::string hash;
  };
  struct Filter {
    std::optional<std::string> action;
    std::optional<int64_t> run_id;
    std::optional<int64_t> before_seq;  // cursor
    int64_t limit = 50;
  };
  // The tenant's entries, newest first.
  static Result<std::vector<Row>> List(Tx& tx, int64_t tenant_id, const Filter& filter);

  // How many chains (tenants) and entries the log holds.
  struct Size {
    int64_t chains = 0, entries = 0;
  };
  static Result<Size> Count(Tx& tx);

  // Walks every chain (its sealed entries) and reports each break. Empty
  // means intact.
  static Result<std::vector<AuditProblem>> Verify(Database& db);

  // The canonical bytes hashed for a row (exposed for tests).
  static std::string Canonical(int64_t tenant_id, int64_t seq, int64_t created_at,
                               const AuditEntry& e);
};

// The thread that seals a process's unsealed audit entries (and any another
// process left, for example one that died before its sealer ran): woken after
// each commit that appended one, and every `poll` otherwise. After a wake-up
// it waits `gather` so that one sealing transaction covers the entries of
// many starts (sealing each alone would cost the database more statements
// than the lock it takes off the start path). Run one in every process that
// starts runs on PostgreSQL; on SQLite it finds nothing to do.
class AuditSealer {
 public:
  explicit AuditSealer(Database& db,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(500),
                       std::chrono::milliseconds gather = std::chrono::milliseconds(50));
  ~AuditSealer();  // a last pass, then stops
  AuditSealer(const AuditSealer&) = delete;
  AuditSealer& operator=(const AuditSealer&) = delete;

  // Called after a transaction with an unsealed append commits (process-wide).
  static void Wake();
  int64_t sealed() const { return sealed_.load(); }

 private:
  void Loop();
  Database& db_;
  const std::chrono::milliseconds poll_, gather_;
  std::atomic<int64_t> sealed_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ta::store
