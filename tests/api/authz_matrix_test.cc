// The authorization matrix, generated from the route table: every route x
// {anonymous, readonly, operator, owner, platform admin} x {own tenant, other
// tenant, own tenant with another tenant's record}. A route without a sample
// request below fails the test, so no route can skip the matrix.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "api/routes.h"
#include "api_env.h"
#include "notify/alerts.h"
#include "schedule/service.h"
#include "store/notifications.h"

namespace ta::api {
namespace {

using nlohmann::json;
using ::ta::testing::InsertReturningId;
using ::ta::testing::TestBackend;

enum class Scope { kOwn, kOtherTenant, kForeignRecord };

struct Sample {
  std::string path;
  std::string body;
  std::set<int> ok;  // statuses that mean "allowed"
};

// One tenant's records, referenced by the samples.
struct Records {
  int64_t tenant = 0, policy = 0, set = 0, item = 0, run = 0, member = 0;
};

class AuthzMatrix : public ::testing::TestWithParam<TestBackend> {};

TEST_P(AuthzMatrix, EveryRouteForEveryRoleAndTenant) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  store::Database& db = env.db();
  auto records = [&](const std::string& name, const Who& owner) {
    Records r;
    r.tenant = ::ta::testing::MakeTenant(db, name);
    env.Member(owner, r.tenant, "owner");
    r.policy = InsertReturningId(
        db,
        "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, synced_at) VALUES "
        "($1, 'deviceConfiguration', 'g-1', 'Policy', 0) RETURNING id",
        {r.tenant});
    const int64_t version = InsertReturningId(
        db,
        "INSERT INTO policy_versions (tenant_id, policy_id, version, payload, assignments, "
        "content_hash, created_at) VALUES ($1, $2, 1, '{}', '[]', 'h', 0) RETURNING id",
        {r.tenant, r.policy});
    r.set = InsertReturningId(
        db,
        "INSERT INTO backup_sets (tenant_id, name, created_at) VALUES ($1, 'set', 0) RETURNING id",
        {r.tenant});
    // A set made by accepting drift: complete, so it can be the baseline.
    ::ta::testing::MustExec(db, "UPDATE backup_sets SET derived_from = id WHERE id = $1", {r.set});
    r.item = InsertReturningId(db,
                      "INSERT INTO backup_items (tenant_id, backup_set_id, policy_id, "
                      "policy_version_id, policy_type, graph_id, display_name, payload, "
                      "assignments, content_hash, created_at) VALUES ($1, $2, $3, $4, "
                      "'deviceConfiguration', 'g-1', 'Policy', '{}', '[]', 'h', 0) RETURNING id",
                      {r.tenant, r.set, r.policy, version});
    runs::StartRequest req;
    req.tenant_id = r.tenant;
    req.type = "inventory.sync";
    req.target_id = "matrix";
    r.run = env.runs().Start(req)->run.id;
    r.member = env.AddUser("member-of-" + name + "@example.com").id;
    return r;
  };

  const Who b_owner = env.AddUser("b-owner@example.com");
  const Records a = records("A", env.AddUser("a-owner@example.com"));
  const Records b = records("B", b_owner);
  const Who readonly = env.AddUser("readonly@example.com");
  const Who op = env.AddUser("operator@example.com");
  const Who owner = env.AddUser("owner@example.com");
  const Who admin = env.AddUser("admin@example.com", true);
  env.Member(readonly, a.tenant, "readonly");
  env.Member(op, a.tenant, "operator");
  env.Member(owner, a.tenant, "owner");
  env.AddUser("login@example.com", false, "correct horse battery staple");
  env.AddUser("extra@example.com");
  auto notification_of = [&](const Who& w) {
    store::Notification n;
    n.user_id = w.id;
    n.tenant_id = a.tenant;
    n.level = "info";
    n.title = "t";
    n.body = "b";
    return *store::WriteResult<int64_t>(
        db, [&](store::Tx& tx) { return store::NotificationsRepository::Insert(tx, n); });
  };
  const int64_t b_note = notification_of(b_owner);
  int fresh = 0;

  // A schedule over tenant A, made by the platform admin (seen by A's members).
  auto schedule_over_a = [&] {
    store::User u;
    u.id = admin.id;
    u.is_platform_admin = true;
    schedule::ScheduleService service(db, SystemClock::Instance());
    schedule::ScheduleInput in;
    in.name = "matrix " + std::to_string(++fresh);
    in.cron = "0 2 * * *";
    in.time_zone = "UTC";
    in.tenant_ids = std::vector<int64_t>{a.tenant};
    return std::to_string(service.Create(u, in)->id);
  };
  auto schedule_body = [&] {
    return R"({"name":"renamed )" + std::to_string(++fresh) +
           R"(","cron":"0 3 * * *","time_zone":"UTC","tenant_ids":[)" + std::to_string(a.tenant) +
           "]}";
  };
  // Managing a schedule over A: operators and owners of A, and platform
  // admins; readonly members get 403 from the service, not the router.
  auto manage = [&](const Who& w, std::set<int> ok) {
    return w.id == readonly.id ? std::set<int>{403} : ok;
  };

  // An alert channel of tenant A (chat: no master key needed), made by the admin.
  auto channel_of_a = [&] {
    store::User u;
    u.id = admin.id;
    u.is_platform_admin = true;
    notify::ChannelService service(db, SystemClock::Instance(), nullptr);
    notify::ChannelInput in;
    in.tenant_id = a.tenant;
    in.name = "matrix " + std::to_string(++fresh);
    in.kind = "chat";
    in.target = "https://chat.example.com/hook";
    in.events = {"run.failed"};
    return std::to_string(service.Create(u, in)->channel.id);
  };
  // A's channels are its owners' (and platform admins').
  auto own = [&](const Who& w, std::set<int> ok) {
    return w.id == owner.id || w.id == admin.id ? ok : std::set<int>{403};
  };

  // A fresh open drift finding on a new object of the records' tenant.
  auto finding_of = [&](const Records& r, const std::string& kind) {
    return std::to_string(InsertReturningId(
        db,
        "INSERT INTO drift_findings (tenant_id, policy_type, graph_id, display_name, kind, status, "
        "baseline_set_id, baseline_item_id, diff, actor, actor_detail, first_run_id, last_run_id, "
        "first_seen_at, last_seen_at) VALUES ($1, 'deviceConfiguration', $2, 'Policy', $3, "
        "'open', $4, $5, '[]', 'unknown', '', 0, 0, 0, 0) RETURNING id",
        {r.tenant, "drifted-" + std::to_string(++fresh), kind, r.set, r.item}));
  };

  const std::set<int> kStart = {200, 202};
  using SampleFn = std::function<Sample(const Who&, Scope)>;
  auto T = [](int64_t id) { return "/api/v1/tenants/" + std::to_string(id); };
  // Path pieces for a scope: the tenant in the path and whose records are used.
  auto tp = [&](Scope s) { return T(s == Scope::kOtherTenant ? b.tenant : a.tenant); };
  auto rec = [&](Scope s) { return s == Scope::kOwn ? a : b; };
  // The MSP's app, which onboarding needs (configured once, whichever sample runs first).
  auto platform_app = [&] {
    ::ta::testing::MustExec(db,
                            "INSERT INTO platform_app (id, client_id, credential_kind, sealed, "
                            "updated_at) VALUES (1, 'msp', 'secret', 'x', 0) ON CONFLICT (id) DO "
                            "NOTHING");
  };
  const std::map<std::string, SampleFn> samples = {
      {"GET /healthz",
       [](const Who&, Scope) {
         return Sample{"/healthz", "", {200}};
       }},
      {"GET /readyz",
       [](const Who&, Scope) {
         return Sample{"/readyz", "", {200}};
       }},
      {"GET /metrics",
       [](const Who&, Scope) {
         return Sample{"/metrics", "", {200}};
       }},
      {"POST /api/v1/auth/login",
       [](const Who&, Scope) {
         return Sample{"/api/v1/auth/login",
                       R"({"email":"login@example.com","password":"correct horse battery staple"})",
                       {200}};
       }},
      {"POST /api/v1/auth/logout",
       [](const Who&, Scope) {
         return Sample{"/api/v1/auth/logout", "", {204}};
       }},
      {"GET /api/v1/me",
       [](const Who&, Scope) {
         return Sample{"/api/v1/me", "", {200}};
       }},
      {"GET /api/v1/tokens",
       [](const Who&, Scope) {
         return Sample{"/api/v1/tokens", "", {200}};
       }},
      {"POST /api/v1/tokens",
       [](const Who&, Scope) {
         return Sample{"/api/v1/tokens", R"({"name":"ci"})", {201}};
       }},
      {"DELETE /api/v1/tokens/{token}",
       [&](const Who& w, Scope s) {
         // Own: a fresh token of the caller. Foreign: another user's token.
         const Who& holder = s == Scope::kOwn && w.id ? w : b_owner;
         const std::string secret = env.NewToken(holder);
         const int64_t id = ::ta::testing::QueryInt(
             db, "SELECT id FROM api_tokens WHERE token_hash = $1", {SecretHash(secret)});
         return Sample{"/api/v1/tokens/" + std::to_string(id), "", {204}};
       }},
      {"PUT /api/v1/tenants/{tenant}/backup-sets/{backup_set}/pin",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/backup-sets/" + std::to_string(rec(s).set) + "/pin",
                       R"({"pinned":true})", {200}};
       }},
      {"PUT /api/v1/tenants/{tenant}/retention",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/retention", R"({"retention":{"keep_last":30}})", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/retention/apply",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/retention/apply", "", kStart};
       }},
      {"PUT /api/v1/tenants/{tenant}/backup-sets/{backup_set}/baseline",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/backup-sets/" + std::to_string(rec(s).set) + "/baseline",
                       R"({"baseline":true})", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/drift/detect",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/drift/detect", "", kStart};
       }},
      {"GET /api/v1/tenants/{tenant}/drift-findings",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/drift-findings?status=all", "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/drift-findings/{finding}",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/drift-findings/" + finding_of(rec(s), "changed"), "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/drift-findings/{finding}/accept",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/drift-findings/" + finding_of(rec(s), "removed") + "/accept", "",
                       {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/drift-findings/{finding}/revert",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/drift-findings/" + finding_of(rec(s), "changed") + "/revert", "",
                       kStart};
       }},
      {"GET /api/v1/alert-channels",
       [](const Who&, Scope) {
         return Sample{"/api/v1/alert-channels", "", {200}};
       }},
      {"POST /api/v1/alert-channels",
       [&](const Who& w, Scope) {
         return Sample{"/api/v1/alert-channels",
                       R"({"tenant_id":)" + std::to_string(a.tenant) + R"(,"name":"ops )" +
                           std::to_string(++fresh) +
                           R"(","kind":"chat","target":"https://chat.example.com/x","events":["run.failed"]})",
                       own(w, {201})};
       }},
      {"PUT /api/v1/alert-channels/{channel}",
       [&](const Who& w, Scope) {
         return Sample{"/api/v1/alert-channels/" + channel_of_a(),
                       R"({"name":"renamed","target":"https://chat.example.com/y","events":["run.failed"]})",
                       own(w, {200})};
       }},
      {"DELETE /api/v1/alert-channels/{channel}",
       [&](const Who& w, Scope) {
         return Sample{"/api/v1/alert-channels/" + channel_of_a(), "", own(w, {204})};
       }},
      {"POST /api/v1/alert-channels/{channel}/test",
       [&](const Who& w, Scope) {
         return Sample{"/api/v1/alert-channels/" + channel_of_a() + "/test", "", own(w, {202})};
       }},
      {"GET /api/v1/alert-channels/{channel}/deliveries",
       [&](const Who& w, Scope) {
         return Sample{"/api/v1/alert-channels/" + channel_of_a() + "/deliveries", "",
                       own(w, {200})};
       }},
      {"GET /api/v1/portfolio",
       [](const Who&, Scope) {
         return Sample{"/api/v1/portfolio?sort=last_backup&order=desc", "", {200}};
       }},
      {"GET /api/v1/schedules",
       [](const Who&, Scope) {
         return Sample{"/api/v1/schedules", "", {200}};
       }},
      {"POST /api/v1/schedules",
       [&](const Who& w, Scope) {
         const std::string name = "created " + std::to_string(++fresh);
         // Admins schedule the whole fleet; others the tenant they are in.
         const std::string body =
             w.id == admin.id
                 ? R"({"name":")" + name + R"(","cron":"@daily","time_zone":"UTC"})"
                 : R"({"name":")" + name + R"(","cron":"@daily","time_zone":"UTC","tenant_ids":[)" +
                       std::to_string(a.tenant) + "]}";
         return Sample{"/api/v1/schedules", body, manage(w, {201})};
       }},
      {"GET /api/v1/schedules/{schedule}",
       [&](const Who&, Scope) {
         return Sample{"/api/v1/schedules/" + schedule_over_a(), "", {200}};
       }},
      {"PUT /api/v1/schedules/{schedule}",
       [&](const Who& w, Scope) {
         return Sample{"/api/v1/schedules/" + schedule_over_a(), schedule_body(), manage(w, {200})};
       }},
      {"DELETE /api/v1/schedules/{schedule}",
       [&](const Who& w, Scope) {
         return Sample{"/api/v1/schedules/" + schedule_over_a(), "", manage(w, {204})};
       }},
      {"GET /api/v1/schedules/{schedule}/slots",
       [&](const Who&, Scope) {
         return Sample{"/api/v1/schedules/" + schedule_over_a() + "/slots", "", {200}};
       }},
      {"GET /api/v1/schedule-preview",
       [](const Who&, Scope) {
         return Sample{"/api/v1/schedule-preview?cron=30%202%20*%20*%20*&time_zone=Europe/Berlin",
                       "", {200}};
       }},
      {"GET /api/v1/runs/active/stream",
       [](const Who&, Scope) {
         return Sample{"/api/v1/runs/active/stream", "", {200}};
       }},
      {"GET /api/v1/runs",
       [](const Who&, Scope) {
         return Sample{"/api/v1/runs?status=succeeded", "", {200}};
       }},
      {"PUT /api/v1/me/preferences",
       [](const Who&, Scope) {
         return Sample{"/api/v1/me/preferences", R"({"notify":"failures"})", {200}};
       }},
      {"GET /api/v1/runs/active",
       [](const Who&, Scope) {
         return Sample{"/api/v1/runs/active", "", {200}};
       }},
      {"GET /api/v1/catalog",
       [](const Who&, Scope) {
         return Sample{"/api/v1/catalog", "", {200}};
       }},
      {"GET /api/v1/notifications",
       [](const Who&, Scope) {
         return Sample{"/api/v1/notifications", "", {200}};
       }},
      {"POST /api/v1/notifications/read-all",
       [](const Who&, Scope) {
         return Sample{"/api/v1/notifications/read-all", "", {200}};
       }},
      {"POST /api/v1/notifications/{notification}/read",
       [&](const Who& w, Scope s) {
         const int64_t id = s == Scope::kOwn && w.id ? notification_of(w) : b_note;
         return Sample{"/api/v1/notifications/" + std::to_string(id) + "/read", "", {204}};
       }},
      {"GET /api/v1/notifications/stream",
       [](const Who&, Scope) {
         return Sample{"/api/v1/notifications/stream", "", {200}};
       }},
      {"GET /api/v1/tenants",
       [](const Who&, Scope) {
         return Sample{"/api/v1/tenants", "", {200}};
       }},
      {"POST /api/v1/tenants",
       [&](const Who&, Scope) {
         return Sample{
             "/api/v1/tenants", json{{"name", "New " + std::to_string(++fresh)}}.dump(), {201}};
       }},
      {"GET /api/v1/tenants/{tenant}",
       [&](const Who&, Scope s) {
         return Sample{tp(s), "", {200}};
       }},
      {"GET /api/v1/platform/app",
       [&](const Who&, Scope) {
         platform_app();
         return Sample{"/api/v1/platform/app", "", {200}};
       }},
      {"PUT /api/v1/platform/app",
       [&](const Who&, Scope) {
         return Sample{"/api/v1/platform/app",
                       R"({"client_id":"msp","client_secret":"s3cr3t-value-Qx8~"})", {200}};
       }},
      {"POST /api/v1/onboarding",
       [&](const Who&, Scope) {
         platform_app();
         return Sample{"/api/v1/onboarding", "{}", {201}};
       }},
      {"GET /api/v1/onboarding/callback",
       [&](const Who&, Scope) {
         return Sample{"/api/v1/onboarding/callback?tenant=x&state=forged.sig", "", {400}};
       }},
      {"POST /api/v1/tenants/import",
       [&](const Who&, Scope) {
         return Sample{"/api/v1/tenants/import",
                       json{{"csv", "name\nImported " + std::to_string(++fresh) + "\n"}}.dump(),
                       {200}};
       }},
      {"PUT /api/v1/tenants/{tenant}/credentials",
       [&](const Who&, Scope s) {
         return Sample{
             tp(s) + "/credentials",
             R"({"entra_tenant_id":"contoso.example","client_id":"app","client_secret":"s3cr3t-value-Qx8~"})",
             {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/credentials/certificate",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/credentials/certificate",
                       R"({"entra_tenant_id":"contoso.example","client_id":"app","valid_days":30})",
                       {201}};
       }},
      {"GET /api/v1/tenants/{tenant}/credentials/certificate",
       [&](const Who&, Scope s) {
         // A certificate to download (the route answers 404 for a secret).
         ::ta::testing::MustExec(db,
                                 "UPDATE tenants SET credential_kind = 'certificate', "
                                 "client_certificate = '-----BEGIN CERTIFICATE-----' WHERE id = $1",
                                 {s == Scope::kOtherTenant ? b.tenant : a.tenant});
         return Sample{tp(s) + "/credentials/certificate", "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/connection-check",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/connection-check", "", {202, 200}};
       }},
      {"PUT /api/v1/tenants/{tenant}/tags",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/tags", R"({"tags":["dental","eu"]})", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/members",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/members", "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/members",
       [&](const Who&, Scope s) {
         return Sample{
             tp(s) + "/members", R"({"email":"extra@example.com","role":"readonly"})", {200}};
       }},
      {"DELETE /api/v1/tenants/{tenant}/members/{user}",
       [&](const Who&, Scope s) {
         const Who m = env.AddUser("fresh-" + std::to_string(++fresh) + "@example.com");
         env.Member(m, s == Scope::kOtherTenant ? b.tenant : a.tenant, "readonly");
         return Sample{tp(s) + "/members/" + std::to_string(m.id), "", {204}};
       }},
      {"GET /api/v1/tenants/{tenant}/policies",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/policies", "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/policies/sync",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/policies/sync", "", kStart};
       }},
      {"GET /api/v1/tenants/{tenant}/policies/{policy}",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/policies/" + std::to_string(rec(s).policy), "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/policies/{policy}/capture",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/policies/" + std::to_string(rec(s).policy) + "/capture", "",
                       kStart};
       }},
      {"GET /api/v1/tenants/{tenant}/policies/{policy}/versions",
       [&](const Who&, Scope s) {
         return Sample{
             tp(s) + "/policies/" + std::to_string(rec(s).policy) + "/versions", "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/policies/{policy}/versions/{version}",
       [&](const Who&, Scope s) {
         return Sample{
             tp(s) + "/policies/" + std::to_string(rec(s).policy) + "/versions/1", "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/groups",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/groups", "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/backup-sets",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/backup-sets", "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/backup-sets",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/backup-sets", R"({"name":"nightly"})", kStart};
       }},
      {"GET /api/v1/tenants/{tenant}/backup-sets/{backup_set}",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/backup-sets/" + std::to_string(rec(s).set), "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/backup-sets/{backup_set}/document",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/backup-sets/" + std::to_string(rec(s).set) + "/document", "",
                       {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/backup-sets/{backup_set}/items",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/backup-sets/" + std::to_string(rec(s).set) + "/items", "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/restores/group-mapping",
       [&](const Who&, Scope s) {
         return Sample{
             tp(s) + "/restores/group-mapping?backup_set=" + std::to_string(rec(s).set), "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/restores/preview",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/restores/preview", json{{"backup_set_id", rec(s).set}}.dump(),
                       kStart};
       }},
      {"POST /api/v1/tenants/{tenant}/restores/execute",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/restores/execute", json{{"backup_set_id", rec(s).set}}.dump(),
                       kStart};
       }},
      {"GET /api/v1/tenants/{tenant}/runs",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/runs", "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/runs/{run}",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/runs/" + std::to_string(rec(s).run), "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/runs/{run}/items",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/runs/" + std::to_string(rec(s).run) + "/items", "", {200}};
       }},
      {"POST /api/v1/tenants/{tenant}/runs/{run}/cancel",
       [&](const Who&, Scope s) {
         runs::StartRequest req;  // a fresh active run to cancel
         req.tenant_id = s == Scope::kOwn ? a.tenant : b.tenant;
         req.type = "inventory.sync";
         req.target_id = "cancel-" + std::to_string(++fresh);
         const int64_t run = env.runs().Start(req)->run.id;
         return Sample{tp(s) + "/runs/" + std::to_string(run) + "/cancel", "", {202}};
       }},
      {"GET /api/v1/tenants/{tenant}/runs/{run}/events",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/runs/" + std::to_string(rec(s).run) + "/events", "", {200}};
       }},
      {"GET /api/v1/tenants/{tenant}/audit",
       [&](const Who&, Scope s) {
         return Sample{tp(s) + "/audit", "", {200}};
       }},
  };

  const std::vector<std::pair<std::string, Who>> principals = {{"anonymous", Who{}},
                                                               {"readonly", readonly},
                                                               {"operator", op},
                                                               {"owner", owner},
                                                               {"platform_admin", admin}};
  // Who may call what, written down from docs/openapi.yaml (x-required-role),
  // not computed from the server's own route table: a route whose access the
  // code changes without the spec (or the reverse) fails here.
  const std::map<std::string, std::string> expected_role = {
      {"GET /healthz", "public"},
      {"GET /readyz", "public"},
      {"GET /metrics", "platform_admin"},
      {"POST /api/v1/auth/login", "public"},
      {"POST /api/v1/auth/logout", "user"},
      {"GET /api/v1/me", "user"},
      {"GET /api/v1/tokens", "user"},
      {"POST /api/v1/tokens", "user"},
      {"DELETE /api/v1/tokens/{token}", "user"},
      {"GET /api/v1/runs", "user"},
      {"PUT /api/v1/me/preferences", "user"},
      {"GET /api/v1/runs/active", "user"},
      {"GET /api/v1/schedules", "user"},
      {"GET /api/v1/portfolio", "user"},
      {"GET /api/v1/alert-channels", "user"},
      {"POST /api/v1/alert-channels", "user"},
      {"PUT /api/v1/alert-channels/{channel}", "user"},
      {"DELETE /api/v1/alert-channels/{channel}", "user"},
      {"POST /api/v1/alert-channels/{channel}/test", "user"},
      {"GET /api/v1/alert-channels/{channel}/deliveries", "user"},
      {"PUT /api/v1/tenants/{tenant}/backup-sets/{backup_set}/pin", "owner"},
      {"PUT /api/v1/tenants/{tenant}/backup-sets/{backup_set}/baseline", "operator"},
      {"PUT /api/v1/tenants/{tenant}/retention", "owner"},
      {"POST /api/v1/tenants/{tenant}/retention/apply", "operator"},
      {"POST /api/v1/tenants/{tenant}/drift/detect", "operator"},
      {"GET /api/v1/tenants/{tenant}/drift-findings", "readonly"},
      {"GET /api/v1/tenants/{tenant}/drift-findings/{finding}", "readonly"},
      {"POST /api/v1/tenants/{tenant}/drift-findings/{finding}/accept", "operator"},
      {"POST /api/v1/tenants/{tenant}/drift-findings/{finding}/revert", "operator"},
      {"POST /api/v1/schedules", "user"},
      {"GET /api/v1/schedules/{schedule}", "user"},
      {"PUT /api/v1/schedules/{schedule}", "user"},
      {"DELETE /api/v1/schedules/{schedule}", "user"},
      {"GET /api/v1/schedules/{schedule}/slots", "user"},
      {"GET /api/v1/schedule-preview", "user"},
      {"GET /api/v1/catalog", "user"},
      {"GET /api/v1/runs/active/stream", "user"},
      {"GET /api/v1/notifications", "user"},
      {"POST /api/v1/notifications/read-all", "user"},
      {"POST /api/v1/notifications/{notification}/read", "user"},
      {"GET /api/v1/notifications/stream", "user"},
      {"GET /api/v1/tenants", "user"},
      {"POST /api/v1/tenants", "platform_admin"},
      {"POST /api/v1/tenants/import", "platform_admin"},
      {"GET /api/v1/platform/app", "platform_admin"},
      {"PUT /api/v1/platform/app", "platform_admin"},
      {"POST /api/v1/onboarding", "platform_admin"},
      {"GET /api/v1/onboarding/callback", "public"},
      {"GET /api/v1/tenants/{tenant}", "readonly"},
      {"PUT /api/v1/tenants/{tenant}/credentials", "owner"},
      {"POST /api/v1/tenants/{tenant}/credentials/certificate", "owner"},
      {"GET /api/v1/tenants/{tenant}/credentials/certificate", "readonly"},
      {"PUT /api/v1/tenants/{tenant}/tags", "owner"},
      {"POST /api/v1/tenants/{tenant}/connection-check", "operator"},
      {"GET /api/v1/tenants/{tenant}/members", "readonly"},
      {"POST /api/v1/tenants/{tenant}/members", "owner"},
      {"DELETE /api/v1/tenants/{tenant}/members/{user}", "owner"},
      {"GET /api/v1/tenants/{tenant}/policies", "readonly"},
      {"POST /api/v1/tenants/{tenant}/policies/sync", "operator"},
      {"GET /api/v1/tenants/{tenant}/policies/{policy}", "readonly"},
      {"POST /api/v1/tenants/{tenant}/policies/{policy}/capture", "operator"},
      {"GET /api/v1/tenants/{tenant}/policies/{policy}/versions", "readonly"},
      {"GET /api/v1/tenants/{tenant}/policies/{policy}/versions/{version}", "readonly"},
      {"GET /api/v1/tenants/{tenant}/groups", "readonly"},
      {"GET /api/v1/tenants/{tenant}/backup-sets", "readonly"},
      {"POST /api/v1/tenants/{tenant}/backup-sets", "operator"},
      {"GET /api/v1/tenants/{tenant}/backup-sets/{backup_set}", "readonly"},
      {"GET /api/v1/tenants/{tenant}/backup-sets/{backup_set}/items", "readonly"},
      {"GET /api/v1/tenants/{tenant}/backup-sets/{backup_set}/document", "readonly"},
      {"GET /api/v1/tenants/{tenant}/restores/group-mapping", "operator"},
      {"POST /api/v1/tenants/{tenant}/restores/preview", "operator"},
      {"POST /api/v1/tenants/{tenant}/restores/execute", "operator"},
      {"GET /api/v1/tenants/{tenant}/runs", "readonly"},
      {"GET /api/v1/tenants/{tenant}/runs/{run}", "readonly"},
      {"GET /api/v1/tenants/{tenant}/runs/{run}/items", "readonly"},
      {"POST /api/v1/tenants/{tenant}/runs/{run}/cancel", "operator"},
      {"GET /api/v1/tenants/{tenant}/runs/{run}/events", "readonly"},
      {"GET /api/v1/tenants/{tenant}/audit", "readonly"},
  };
  EXPECT_EQ(expected_role.size(), RouteTable().size())
      << "a route was added or removed: add it to docs/openapi.yaml and to this table";
  int checked = 0;
  for (const Route& route : RouteTable()) {
    const std::string key = std::string(route.method) + " " + std::string(route.pattern);
    auto sample = samples.find(key);
    ASSERT_NE(sample, samples.end()) << "no authorization sample for " << key;
    auto need_it = expected_role.find(key);
    ASSERT_NE(need_it, expected_role.end()) << "no expected role for " << key;
    const std::string& need = need_it->second;
    const std::string pattern(route.pattern);
    const bool tenant_route = pattern.find("{tenant}") != std::string::npos;
    // Records another tenant could own: a foreign id in an own-tenant path.
    const bool has_record = pattern.find("{policy}") != std::string::npos ||
                            pattern.find("{backup_set}") != std::string::npos ||
                            pattern.find("{run}") != std::string::npos ||
                            pattern.find("{token}") != std::string::npos ||
                            pattern.find("{notification}") != std::string::npos ||
                            key.find("restores/") != std::string::npos;
    std::vector<Scope> scopes = {Scope::kOwn};
    if (tenant_route) scopes.push_back(Scope::kOtherTenant);
    if (has_record) scopes.push_back(Scope::kForeignRecord);
    for (const auto& [role, who] : principals) {
      for (Scope scope : scopes) {
        const Sample s = sample->second(who, scope);
        int expected = 0;  // 0: one of s.ok
        if (need == "public") {
          expected = 0;
        } else if (who.token.empty()) {
          expected = 401;
        } else if (need == "user") {
          expected = scope == Scope::kOwn ? 0 : 403;
        } else if (need == "platform_admin") {
          expected = who.id == admin.id ? 0 : 403;
        } else {
          // Tenant roles: readonly < operator < owner; a platform admin who is
          // not a member has none.
          static const std::map<std::string, int> kRank = {
              {"readonly", 1}, {"operator", 2}, {"owner", 3}};
          const int have = kRank.count(role) ? kRank.at(role) : 0;
          const bool allowed = have >= kRank.at(need);
          expected = scope == Scope::kOwn && allowed ? 0 : 403;
        }
        const Reply r = env.Call(std::string(route.method), s.path, who.token, s.body);
        const std::string what = key + " as " + role + " (" +
                                 (scope == Scope::kOwn           ? "own tenant"
                                  : scope == Scope::kOtherTenant ? "other tenant"
                                                                 : "other tenant's record") +
                                 "): " + r.body;
        if (expected == 0) {
          EXPECT_TRUE(s.ok.count(r.status)) << what << " -> " << r.status;
        } else {
          EXPECT_EQ(r.status, expected) << what;
          EXPECT_EQ(r.Header("Content-Type"), "application/problem+json") << what;
        }
        ++checked;
      }
    }
  }
  std::printf("authorization matrix: %d requests over %zu routes\n", checked, RouteTable().size());
  // Denied requests changed nothing in tenant B: no run other than its own
  // sync, nothing cancelled, no credentials stored.
  EXPECT_EQ(::ta::testing::QueryInt(db,
                                    "SELECT COUNT(*) FROM runs WHERE tenant_id = $1 AND (type <> "
                                    "'inventory.sync' OR cancel_requested <> 0)",
                                    {b.tenant}),
            0);
  EXPECT_EQ(
      ::ta::testing::QueryInt(
          db, "SELECT COUNT(*) FROM tenants WHERE id = $1 AND client_id IS NOT NULL", {b.tenant}),
      0);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthzMatrix,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::api
