#include "store/audit_log.h"

#include "store/row_reader.h"
#include "store/sql_text.h"

#include <nlohmann/json.hpp>

#include "core/php_json.h"
#include "core/sha256.h"

namespace ta::store {
namespace {

php::Value OptValue(const std::optional<std::string>& v) {
  return v ? php::Value(*v) : php::Value(nullptr);
}
php::Value OptValue(const std::optional<int64_t>& v) {
  return v ? php::Value(*v) : php::Value(nullptr);
}

// Locks the tenant's chain head (creating it) and returns its seq and hash.
Result<std::pair<int64_t, std::string>> LockHead(Tx& tx, int64_t tenant_id) {
  const char* lock = "UPDATE audit_heads SET seq = seq WHERE tenant_id = $1 RETURNING seq, hash";
  auto head = tx.Query(lock, {tenant_id});
  if (!head) return Unexpected(head.error());
  if (head->empty()) {
    auto ins = tx.Exec(
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, '') ON CONFLICT (tenant_id) "
        "DO NOTHING",
        {tenant_id});
    if (!ins) return Unexpected(ins.error());
    head = tx.Query(lock, {tenant_id});
    if (!head) return Unexpected(head.error());
  }
  return std::make_pair(head->front().Int(0), head->front().Text(1));
}

// Moves the tenant's chain head (locked by LockHead) to seq and hash.
Status SetHead(Tx& tx, int64_t tenant_id, int64_t seq, const std::string& hash) {
  return tx.Defer("UPDATE audit_heads SET seq = $1, hash = $2 WHERE tenant_id = $3",
                  {seq, hash, tenant_id});
}

}  // namespace

std::string AuditLog::Canonical(int64_t tenant_id, int64_t seq, int64_t created_at,
                                const AuditEntry& e) {
  auto json = php::JsonEncode(php::Value(
      php::MakeList({php::Value(tenant_id), php::Value(seq), php::Value(created_at),
                     OptValue(e.actor_user_id), php::Value(e.action), OptValue(e.target_type),
                     OptValue(e.target_id), OptValue(e.run_id), php::Value(e.details)})));
  // Only invalid UTF-8 can fail; hash the raw bytes then, so the row still chains.
  return json ? *json : e.action + e.details;
}

Result<int64_t> AuditLog::Append(Tx& tx, const AuditEntry& e, int64_t now_ms) {
  // The head's lock is held until commit: appends to one chain serialise.
  auto head = LockHead(tx, e.tenant_id);
  if (!head) return Unexpected(head.error());
  const int64_t seq = head->first + 1;
  const std::string& prev = head->second;
  const std::string hash = Sha256Hex(prev + Canonical(e.tenant_id, seq, now_ms, e));
  TA_RETURN_IF_ERROR(tx.Defer(
      "INSERT INTO audit_log (tenant_id, seq, actor_user_id, action, target_type, target_id, "
      "run_id, details, created_at, prev_hash, hash) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      {e.tenant_id, seq, OptParam(e.actor_user_id), e.action, OptParam(e.target_type),
       OptParam(e.target_id), OptParam(e.run_id), e.details, now_ms, prev, hash}));
  TA_RETURN_IF_ERROR(SetHead(tx, e.tenant_id, seq, hash));
  return seq;
}

namespace {

// Process-wide wake-up of AuditSealer threads.
std::mutex g_seal_mu;
std::condition_variable g_seal_cv;
uint64_t g_seal_generation = 0;  // GUARDED_BY(g_seal_mu)

}  // namespace

Status AuditLog::AppendUnsealed(Tx& tx, const AuditEntry& e, int64_t now_ms) {
  return AppendUnsealed(tx, std::vector<AuditEntry>{e}, now_ms);
}

Status AuditLog::AppendUnsealed(Tx& tx, const std::vector<AuditEntry>& entries, int64_t now_ms) {
  if (entries.empty()) return Status::Ok();
  if (tx.backend() == Backend::kSqlite) {
    for (const auto& e : entries)
      if (auto seq = Append(tx, e, now_ms); !seq) return seq.error();
    return Status::Ok();
  }
  constexpr size_t kCols = 8;
  Params params;
  params.reserve(entries.size() * kCols);
  for (const auto& e : entries)
    params.insert(params.end(),
                  {e.tenant_id, OptParam(e.actor_user_id), e.action, OptParam(e.target_type),
                   OptParam(e.target_id), OptParam(e.run_id), e.details, now_ms});
  TA_RETURN_IF_ERROR(tx.Defer(
      "INSERT INTO audit_log (tenant_id, actor_user_id, action, target_type, target_id, run_id, "
      "details, created_at) VALUES " +
          ValuesRows(entries.size(), "($1, $2, $3, $4, $5, $6, $7, $8)", kCols),
      params));
  tx.AfterCommit([] { AuditSealer::Wake(); });
  return Status::Ok();
}

Result<int64_t> AuditLog::Unsealed(Tx& tx) {
  auto r = tx.Query("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL");
  if (!r) return Unexpected(r.error());
  return r->front().Int(0);
}

Result<int64_t> AuditLog::SealPending(Database& db, int64_t limit) {
  auto tenants = ReadResult<Rows>(db, [](Tx& tx) {
    return tx.Query("SELECT DISTINCT tenant_id FROM audit_log WHERE seq IS NULL");
  });
  if (!tenants) return Unexpected(tenants.error());
  int64_t sealed = 0;
  for (const auto& t : *tenants) {
    const int64_t tenant = t.Int(0);
    auto n = WriteResult<int64_t>(db, [&](Tx& tx) -> Result<int64_t> {
      // The head's lock first: a second sealer of this tenant waits here, then
      // sees (READ COMMITTED, a new statement) only what is still unsealed.
      auto head = LockHead(tx, tenant);
      if (!head) return Unexpected(head.error());
      auto rows = tx.Query(
          "SELECT id, actor_user_id, action, target_type, target_id, run_id, details, created_at "
          "FROM audit_log WHERE tenant_id = $1 AND seq IS NULL ORDER BY id LIMIT $2",
          {tenant, limit});
      if (!rows) return Unexpected(rows.error());
      if (rows->empty()) return int64_t{0};
      int64_t seq = head->first;
      std::string prev = head->second;
      std::string ids = "{", seqs = "{", prevs, hashes;
      nlohmann::json prev_list = nlohmann::json::array(), hash_list = nlohmann::json::array();
      for (const auto& r : *rows) {
        AuditEntry e{tenant,       r.OptInt(1), r.Text(2), r.OptText(3),
                     r.OptText(4), r.OptInt(5), r.Text(6)};
        ++seq;
        const std::string hash = Sha256Hex(prev + Canonical(tenant, seq, r.Int(7), e));
        if (ids.size() > 1) {
          ids += ',';
          seqs += ',';
        }
        ids += std::to_string(r.Int(0));
        seqs += std::to_string(seq);
        prev_list.push_back(prev);
        hash_list.push_back(hash);
        prev = hash;
      }
      ids += '}';
      seqs += '}';
      auto upd = tx.Exec(
          "UPDATE audit_log a SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash FROM "
          "(SELECT unnest($1::bigint[]) AS id, unnest($2::bigint[]) AS seq, "
          "jsonb_array_elements_text($3::jsonb) AS prev_hash, "
          "jsonb_array_elements_text($4::jsonb) AS hash) v "
          "WHERE a.id = v.id AND a.seq IS NULL",
          {ids, seqs, prev_list.dump(), hash_list.dump()});
      if (!upd) return Unexpected(upd.error());
      if (*upd != static_cast<int64_t>(rows->size())) {
        return Unexpected(Status::Internal("audit sealing: rows changed under the head's lock"));
      }
      TA_RETURN_IF_ERROR(SetHead(tx, tenant, seq, prev));
      return static_cast<int64_t>(rows->size());
    });
    if (!n) return Unexpected(n.error());
    sealed += *n;
  }
  return sealed;
}

AuditSealer::AuditSealer(Database& db, std::chrono::milliseconds poll,
                         std::chrono::milliseconds gather)
    : db_(db), poll_(poll), gather_(gather), thread_([this] { Loop(); }) {}

AuditSealer::~AuditSealer() {
  stop_ = true;
  Wake();
  thread_.join();
}

void AuditSealer::Wake() {
  {
    std::lock_guard<std::mutex> lock(g_seal_mu);
    ++g_seal_generation;
  }
  g_seal_cv.notify_all();
}

void AuditSealer::Loop() {
  uint64_t seen = 0;
  while (true) {
    const bool stopping = stop_.load();
    // Seals until a pass finds nothing (a pass seals at most 1,000 per tenant).
    while (true) {
      auto n = AuditLog::SealPending(db_);
      if (!n || *n == 0) break;  // an error: the next wake-up or poll tries again
      sealed_ += *n;
    }
    if (stopping) return;
    bool woken;
    {
      std::unique_lock<std::mutex> lock(g_seal_mu);
      woken = g_seal_cv.wait_for(lock, poll_,
                                 [&] { return g_seal_generation != seen || stop_.load(); });
      seen = g_seal_generation;
    }
    if (woken && !stop_.load()) std::this_thread::sleep_for(gather_);  // let a batch gather
  }
}

Result<std::vector<AuditLog::Row>> AuditLog::List(Tx& tx, int64_t tenant_id, const Filter& f) {
  return QueryAll(
      tx,
      "SELECT id, seq, actor_user_id, action, target_type, target_id, run_id, details, "
      "created_at, hash FROM audit_log WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR "
      "action = $2) AND (CAST($3 AS BIGINT) IS NULL OR run_id = $3) AND (CAST($4 AS BIGINT) IS "
      "NULL OR seq < $4) ORDER BY seq DESC LIMIT $5",
      {tenant_id, f.action ? Param(*f.action) : Param(nullptr),
       f.run_id ? Param(*f.run_id) : Param(nullptr),
       f.before_seq ? Param(*f.before_seq) : Param(nullptr), f.limit},
      [&](const store::Row& row) {
        RowReader r(row);
        Row e;
        e.id = r.Int();
        e.seq = r.Int();
        e.entry.tenant_id = tenant_id;
        e.entry.actor_user_id = r.OptInt();
        e.entry.action = r.Text();
        e.entry.target_type = r.OptText();
        e.entry.target_id = r.OptText();
        e.entry.run_id = r.OptInt();
        e.entry.details = r.Text();
        e.created_at = r.Int();
        e.hash = r.Text();
        return e;
      });
}

Result<AuditLog::Size> AuditLog::Count(Tx& tx) {
  auto rows = tx.Query("SELECT COUNT(DISTINCT tenant_id), COUNT(*) FROM audit_log");
  if (!rows) return Unexpected(rows.error());
  RowReader r(rows->front());
  Size s;
  s.chains = r.Int();
  s.entries = r.Int();
  return s;
}

Status AuditLog::Record(Tx& tx, int64_t tenant_id, std::optional<int64_t> actor, std::string action,
                        std::string target_type, std::string target_id, std::string details_json,
                        int64_t now_ms) {
  AuditEntry e;
  e.tenant_id = tenant_id;
  e.actor_user_id = actor;
  e.action = std::move(action);
  e.target_type = std::move(target_type);
  e.target_id = std::move(target_id);
  e.details = std::move(details_json);
  auto seq = Append(tx, e, now_ms);
  return seq ? Status::Ok() : seq.error();
}

Result<std::vector<AuditProblem>> AuditLog::Verify(Database& db) {
  return ReadResult<std::vector<AuditProblem>>(db, [](Tx& tx) -> Result<std::vector<AuditProblem>> {
    std::vector<AuditProblem> problems;
    auto heads = tx.Query(
        "SELECT tenant_id, seq, hash FROM audit_heads UNION "
        "SELECT DISTINCT tenant_id, -1, '' FROM audit_log WHERE seq IS NOT NULL AND tenant_id NOT "
        "IN "
        "(SELECT tenant_id FROM audit_heads) ORDER BY 1");
    if (!heads) return Unexpected(heads.error());
    constexpr int64_t kPage = 1000;
    for (const auto& h : *heads) {
      const int64_t tenant = h.Int(0);
      if (h.Int(1) < 0) {
        problems.push_back({tenant, 0, "audit rows exist but the chain head is missing"});
        continue;
      }
      int64_t expect_seq = 1;
      std::string prev;
      while (true) {
        auto rows = tx.Query(
            "SELECT seq, actor_user_id, action, target_type, target_id, run_id, details, "
            "created_at, "
            "prev_hash, hash FROM audit_log WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq LIMIT "
            "$3",
            {tenant, expect_seq, kPage});
        if (!rows) return Unexpected(rows.error());
        for (const auto& r : *rows) {
          const int64_t seq = r.Int(0);
          if (seq != expect_seq) {
            problems.push_back({tenant, expect_seq,
                                "rows " + std::to_string(expect_seq) + ".." +
                                    std::to_string(seq - 1) + " are missing (deleted)"});
          }
          AuditEntry e{tenant,       r.OptInt(1), r.Text(2), r.OptText(3),
                       r.OptText(4), r.OptInt(5), r.Text(6)};
          if (r.Text(8) != prev) {
            problems.push_back({tenant, seq, "prev_hash does not match the previous row's hash"});
          }
          if (Sha256Hex(r.Text(8) + Canonical(tenant, seq, r.Int(7), e)) != r.Text(9)) {
            problems.push_back({tenant, seq, "row content does not match its hash (edited)"});
          }
          prev = r.Text(9);
          expect_seq = seq + 1;
        }
        if (static_cast<int64_t>(rows->size()) < kPage) break;
      }
      if (expect_seq - 1 != h.Int(1) || prev != h.Text(2)) {
        problems.push_back({tenant, expect_seq,
                            "chain ends at seq " + std::to_string(expect_seq - 1) +
                                " but the head says " + std::to_string(h.Int(1)) +
                                " (rows deleted from the end or head edited)"});
      }
    }
    return problems;
  });
}

}  // namespace ta::store
