// tenantatlas: the product's single binary. main() only parses flags and
// dispatches to commands that live in their own files. Configuration comes
// from flags, then environment variables, then defaults.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "app/admin_commands.h"
#include "app/db_commands.h"
#include "app/idempotency_command.h"
#include "app/serve_command.h"
#include "app/worker_command.h"
#include "demo/demo_command.h"

int main(int argc, char** argv) {
  CLI::App app{"TenantAtlas: backup and restore of Microsoft Intune configuration for MSPs"};
  app.set_version_flag("--version", "tenantatlas 0.1.0");
  app.require_subcommand(0, 1);

  std::string db_url = ta::app::kDefaultDatabase;
  auto add_db = [&](CLI::App* cmd) {
    cmd->add_option("--db", db_url,
                    "Database: a SQLite path, sqlite:PATH, or postgresql://user@host:port/db")
        ->envname("TA_DATABASE_URL")
        ->capture_default_str();
  };

  bool explain = false;
  auto* key_cmd = app.add_subcommand(
      "idempotency-key",
      "Read a run's key input as JSON on stdin and print its idempotency key (PHP-compatible).\n"
      "  {\"tenant_id\":1,\"operation_type\":\"policy.capture_snapshot\",\"target_id\":42,"
      "\"context\":{}}\n"
      "  {\"fn\":\"restore_execute\",\"tenant_id\":5,\"backup_set_id\":9,"
      "\"selected_item_ids\":[1,2],\"group_mapping\":{}}");
  key_cmd->add_flag("--explain", explain, "Also print the canonical JSON that was hashed");

  auto* migrate_cmd = app.add_subcommand("migrate", "Apply pending database migrations");
  add_db(migrate_cmd);

  auto* audit_cmd = app.add_subcommand("audit", "Audit log tools");
  audit_cmd->require_subcommand(1);
  auto* verify_cmd = audit_cmd->add_subcommand(
      "verify",
      "Check every tenant's hash chain; exit 1 and list each edited, deleted or truncated row");
  add_db(verify_cmd);

  std::string demo_db = "./data/demo.db";
  int demo_policies = 24;
  auto* demo_cmd =
      app.add_subcommand("demo",
                         "Run the product end to end on the built-in Graph simulator (no Microsoft "
                         "credentials needed): sync, "
                         "backup, restore preview and a cross-tenant restore, as jobs");
  demo_cmd->add_option("--db", demo_db, "SQLite file for the demo (recreated)")
      ->capture_default_str();
  demo_cmd->add_option("--policies", demo_policies, "Synthetic policies to generate")
      ->capture_default_str();

  ta::app::WorkerConfig worker;
  std::string master_key_file;
  auto add_worker_options = [&](CLI::App* cmd) {
    add_db(cmd);
    cmd->add_option(
        "--master-key-file", master_key_file,
        "File with the base64 master key that seals tenant secrets (else TA_MASTER_KEY)");
    cmd->add_option("--concurrency", worker.concurrency, "Job handler threads")
        ->envname("TA_CONCURRENCY")
        ->capture_default_str();
    cmd->add_option("--tenant-cap", worker.tenant_cap,
                    "Running jobs per tenant across all workers (0: none)")
        ->envname("TA_TENANT_CAP")
        ->capture_default_str();
    cmd->add_option("--graph-authority", worker.graph_authority,
                    "Entra authority base (default public cloud; a national cloud, or graph-sim)")
        ->envname("TA_GRAPH_AUTHORITY");
    cmd->add_option("--graph-base", worker.graph_base,
                    "Microsoft Graph base URL (default public cloud)")
        ->envname("TA_GRAPH_BASE");
    cmd->add_option("--graph-timeout-ms", worker.graph_timeout_ms,
                    "Longest one Graph request may take (a POST that times out is looked up, "
                    "never resent blindly)")
        ->envname("TA_GRAPH_TIMEOUT_MS")
        ->capture_default_str();
    cmd->add_option("--graph-connect-timeout-ms", worker.graph_connect_timeout_ms,
                    "Longest connecting to Graph may take")
        ->envname("TA_GRAPH_CONNECT_TIMEOUT_MS")
        ->capture_default_str();
    cmd->add_option("--shutdown-grace", worker.shutdown_grace_s,
                    "Seconds running jobs get to finish after SIGTERM; then their Graph calls "
                    "are aborted and the jobs handed back to other workers")
        ->envname("TA_SHUTDOWN_GRACE")
        ->capture_default_str();
  };
  auto* worker_cmd =
      app.add_subcommand("worker", "Run job workers only (no API) until SIGTERM; stops gracefully");
  add_worker_options(worker_cmd);

  ta::app::ServeConfig serve;
  auto* serve_cmd = app.add_subcommand(
      "serve", "Run the HTTP API (and, by default, job workers) until SIGTERM; stops gracefully");
  add_worker_options(serve_cmd);
  serve_cmd->add_option("--host", serve.host, "Address to listen on")
      ->envname("TA_HOST")
      ->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "Port to listen on (0: any free port)")
      ->envname("TA_PORT")
      ->capture_default_str();
  serve_cmd->add_option("--workers", serve.workers, "In-process worker pools: 1, or 0 for API only")
      ->envname("TA_WORKERS")
      ->capture_default_str();
  serve_cmd
      ->add_option("--http-threads", serve.http_threads,
                   "Connections served at once (keep-alive and event streams hold one each)")
      ->envname("TA_HTTP_THREADS")
      ->capture_default_str();
  serve_cmd
      ->add_flag("--secure-cookies", serve.secure_cookies,
                 "Mark session cookies Secure (when clients reach the server over HTTPS)")
      ->envname("TA_SECURE_COOKIES");
  serve_cmd->add_option("--web-root", serve.web_root, "Directory of the built web UI to serve")
      ->envname("TA_WEB_ROOT");
  serve_cmd->add_option("--log-level", serve.log_level, "debug, info, warn or error")
      ->envname("TA_LOG_LEVEL")
      ->capture_default_str();
  serve_cmd
      ->add_flag("--demo", serve.demo,
                 "Start the built-in Graph simulator with demo tenants, a demo user and a "
                 "token (printed once)")
      ->envname("TA_DEMO");

  ta::app::AdminArgs admin;
  auto* user_cmd = app.add_subcommand("user", "Users");
  user_cmd->require_subcommand(1);
  auto* user_add = user_cmd->add_subcommand(
      "add", "Create a user; the password (12+ characters) is read from stdin or --secret-file");
  add_db(user_add);
  user_add->add_option("--email", admin.email, "Email address (the sign-in name)")->required();
  user_add->add_option("--name", admin.name, "Display name");
  user_add->add_flag("--platform-admin", admin.platform_admin, "May create tenants");
  user_add->add_option("--secret-file", admin.secret_file, "File holding the password");

  auto* token_cmd = app.add_subcommand("token", "API tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand(
      "create", "Create an API token for a user and print it once on stdout");
  add_db(token_create);
  token_create->add_option("--email", admin.email, "The token's user")->required();
  token_create->add_option("--name", admin.name, "What the token is for");
  token_create->add_option("--expires-days", admin.expires_days, "Expire after this many days");
  auto* token_revoke = token_cmd->add_subcommand("revoke", "Revoke an API token");
  add_db(token_revoke);
  token_revoke->add_option("--id", admin.id, "Token id")->required();

  auto* tenant_cmd = app.add_subcommand("tenant", "Customer tenants");
  tenant_cmd->require_subcommand(1);
  auto* tenant_add = tenant_cmd->add_subcommand(
      "add",
      "Add a tenant; with --entra-tenant-id and --client-id the app's client secret is read from "
      "stdin or --secret-file and sealed under the master key");
  add_db(tenant_add);
  tenant_add->add_option("--name", admin.name, "Tenant name (unique)")->required();
  tenant_add->add_option("--entra-tenant-id", admin.entra_tenant_id,
                         "Directory (tenant) id or domain");
  tenant_add->add_option("--client-id", admin.client_id, "App registration's client id");
  tenant_add->add_option("--secret-file", admin.secret_file, "File holding the client secret");
  tenant_add->add_option("--master-key-file", master_key_file,
                         "File with the base64 master key (else TA_MASTER_KEY)");

  auto* member_cmd = app.add_subcommand("member", "Tenant memberships");
  member_cmd->require_subcommand(1);
  auto* member_add = member_cmd->add_subcommand("add", "Give a user a role in a tenant");
  auto* member_remove = member_cmd->add_subcommand("remove", "Remove a user from a tenant");
  for (auto* cmd : {member_add, member_remove}) {
    add_db(cmd);
    cmd->add_option("--tenant", admin.tenant, "Tenant id or name")->required();
    cmd->add_option("--email", admin.email, "The user")->required();
  }
  member_add->add_option("--role", admin.role, "owner, operator or readonly")->required();

  CLI11_PARSE(app, argc, argv);

  if (*key_cmd) return ta::app::RunIdempotencyKeyCommand(std::cin, std::cout, std::cerr, explain);
  if (*migrate_cmd) return ta::app::RunMigrateCommand(db_url, std::cout, std::cerr);
  if (*verify_cmd) return ta::app::RunAuditVerifyCommand(db_url, std::cout, std::cerr);
  if (*worker_cmd) {
    worker.db_url = db_url;
    if (int rc = ta::app::LoadMasterKey(master_key_file, worker.master_key_b64, std::cerr); rc != 0)
      return rc;
    return ta::app::RunWorkerCommand(worker, std::cout, std::cerr);
  }
  if (*serve_cmd) {
    worker.db_url = db_url;
    serve.worker = worker;
    const bool have_key = !master_key_file.empty() || std::getenv("TA_MASTER_KEY");
    if ((have_key || !serve.demo) &&
        ta::app::LoadMasterKey(master_key_file, serve.worker.master_key_b64, std::cerr) != 0)
      return 2;
    const auto slash = db_url.find_last_of('/');
    serve.demo_key_file =
        (slash == std::string::npos ? std::string(".") : db_url.substr(0, slash)) +
        "/demo-master.key";
    return ta::app::RunServeCommand(serve, std::cout, std::cerr);
  }
  admin.db_url = db_url;
  if (*user_add) return ta::app::UserAdd(admin, std::cin, std::cout, std::cerr);
  if (*token_create) return ta::app::TokenCreate(admin, std::cout, std::cerr);
  if (*token_revoke) return ta::app::TokenRevoke(admin, std::cout, std::cerr);
  if (*tenant_add) {
    if (!admin.entra_tenant_id.empty() &&
        ta::app::LoadMasterKey(master_key_file, admin.master_key_b64, std::cerr) != 0)
      return 2;
    return ta::app::TenantAdd(admin, std::cin, std::cout, std::cerr);
  }
  if (*member_add) return ta::app::MemberAdd(admin, std::cout, std::cerr);
  if (*member_remove) return ta::app::MemberRemove(admin, std::cout, std::cerr);
  if (*demo_cmd) return ta::demo::RunDemoCommand(demo_db, demo_policies, std::cout, std::cerr);
  std::cout << app.help();
  return 0;
}
