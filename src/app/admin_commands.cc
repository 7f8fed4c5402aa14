#include "app/admin_commands.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <functional>
#include <iostream>
#include <istream>
#include <memory>
#include <ostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/db_commands.h"
#include "app/worker_command.h"
#include "core/clock.h"
#include "core/credentials.h"
#include "core/log.h"
#include "core/secret_box.h"
#include "store/accounts.h"
#include "tenancy/key_rotation.h"
#include "tenancy/tenancy.h"
#include "tenancy/tenant_import.h"

namespace ta::app {
namespace {

using store::Accounts;

int64_t Now() { return ToUnixMillis(SystemClock::Instance().Now()); }

int Fail(std::ostream& err, const Status& s, int code = 1) {
  err << "error: " << s.message() << "\n";
  return code;
}

// One secret: the file's contents, or one line from stdin; trailing newline dropped.
Result<std::string> ReadSecret(const std::string& file, std::istream& in, std::string_view what) {
  std::string s;
  if (!file.empty() && file != "-") {
    std::ifstream f(file);
    if (!f) return Unexpected(Status::InvalidArgument("--secret-file: cannot read " + file));
    std::stringstream ss;
    ss << f.rdbuf();
    s = ss.str();
  } else {
    std::getline(in, s);
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty())
    return Unexpected(Status::InvalidArgument(std::string(what) +
                                              ": empty; pipe it on stdin or use --secret-file"));
  return s;
}

// The command line acts as nobody in particular; its audit entries say "via cli".
tenancy::Actor Cli() { return {std::nullopt, "cli", Now()}; }

Result<std::unique_ptr<store::Database>> Open(const std::string& url) {
  return store::OpenDatabase(url);
}

Result<int64_t> UserId(store::Tx& tx, const std::string& email) {
  auto u = Accounts::UserByEmail(tx, email);
  if (!u) return Unexpected(u.error());
  if (!*u)
    return Unexpected(Status::NotFound("--email: no user " + email + " (tenantatlas user add)"));
  return (*u)->first.id;
}

Result<int64_t> TenantId(store::Tx& tx, const std::string& tenant) {
  auto id = Accounts::FindTenant(tx, tenant);
  if (!id) return Unexpected(id.error());
  if (!*id) return Unexpected(Status::NotFound("--tenant: no tenant " + tenant));
  return **id;
}

// The tenant (--tenant, id or name) and the user (--email) a membership command names.
Result<std::pair<int64_t, int64_t>> TenantAndUser(store::Tx& tx, const AdminArgs& a) {
  auto tenant = TenantId(tx, a.tenant);
  if (!tenant) return Unexpected(tenant.error());
  auto user = UserId(tx, a.email);
  if (!user) return Unexpected(user.error());
  return std::make_pair(*tenant, *user);
}

// Opens the database and runs `change` for the tenant and user named by
// --tenant and --email, in one write transaction.
int ChangeMembership(const AdminArgs& a, std::ostream& err,
                     const std::function<Status(store::Tx&, int64_t, int64_t)>& change) {
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  Status s = (*db)->Write([&](store::Tx& tx) -> Status {
    auto ids = TenantAndUser(tx, a);
    if (!ids) return ids.error();
    return change(tx, ids->first, ids->second);
  });
  return s.ok() ? 0 : Fail(err, s);
}

}  // namespace

int UserAdd(const AdminArgs& a, std::istream& in, std::ostream& out, std::ostream& err) {
  auto password = ReadSecret(a.secret_file, in, "password");
  if (!password) return Fail(err, password.error(), 2);
  auto hash = HashPassword(*password);
  if (!hash) return Fail(err, hash.error(), 2);
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  auto user = store::WriteResult<store::User>(**db, [&](store::Tx& tx) -> Result<store::User> {
    auto id = tenancy::CreateUser(tx, Cli(), a.email, a.name, *hash, a.platform_admin);
    if (!id) return Unexpected(id.error());
    auto u = Accounts::UserById(tx, *id);
    if (!u) return Unexpected(u.error());
    return **u;
  });
  if (!user) return Fail(err, user.error());
  out << "user " << user->id << " " << user->email << (a.platform_admin ? " (platform admin)" : "")
      << "\n";
  return 0;
}

int TokenCreate(const AdminArgs& a, std::ostream& out, std::ostream& err) {
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  const std::string secret = NewSecret("tat_");
  const int64_t now = Now();
  std::optional<int64_t> expires;
  if (a.expires_days) {
    if (*a.expires_days < 1 || *a.expires_days > 3650)
      return Fail(err, Status::InvalidArgument("--expires-days: 1 to 3650"), 2);
    expires = now + int64_t{*a.expires_days} * 86'400'000;
  }
  auto id = store::WriteResult<int64_t>(**db, [&](store::Tx& tx) -> Result<int64_t> {
    auto user = UserId(tx, a.email);
    if (!user) return Unexpected(user.error());
    return tenancy::CreateToken(tx, Cli(), *user, a.name.empty() ? "cli" : a.name,
                                SecretHash(secret), expires);
  });
  if (!id) return Fail(err, id.error());
  err << "token " << *id << " for " << a.email << " (shown once; store it now)\n";
  out << secret << "\n";
  return 0;
}

int TokenRevoke(const AdminArgs& a, std::ostream& out, std::ostream& err) {
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  Status s = (*db)->Write(
      [&](store::Tx& tx) { return tenancy::RevokeToken(tx, Cli(), a.id, std::nullopt); });
  if (!s.ok()) return Fail(err, s);
  out << "token " << a.id << " revoked\n";
  return 0;
}

int TenantAdd(const AdminArgs& a, std::istream& in, std::ostream& out, std::ostream& err) {
  const bool with_creds = !a.entra_tenant_id.empty() || !a.client_id.empty();
  if (with_creds && (a.entra_tenant_id.empty() || a.client_id.empty()))
    return Fail(err,
                Status::InvalidArgument(
                    "--entra-tenant-id and --client-id: give both (the client secret comes "
                    "on stdin or --secret-file)"),
                2);
  std::optional<SecretBox> box;
  tenancy::AppCredentials creds{a.entra_tenant_id, a.client_id, "", std::nullopt, a.cloud};
  if (with_creds) {
    auto key = SecretBox::FromBase64Key(a.master_key_b64);
    if (!key) return Fail(err, key.error(), 2);
    box = std::move(*key);
    auto secret = ReadSecret(a.secret_file, in, "client secret");
    if (!secret) return Fail(err, secret.error(), 2);
    creds.client_secret = *secret;
    if (!a.secret_expires.empty()) {
      creds.secret_expires_at = ParseIso8601(a.secret_expires);
      if (!creds.secret_expires_at)
        return Fail(err,
                    Status::InvalidArgument("--secret-expires: not a date; give the secret's "
                                            "\"Expires\" date from Entra, such as 2027-06-30"),
                    2);
    }
    if (Status s = tenancy::ValidateCredentials(creds); !s.ok()) return Fail(err, s, 2);
  }
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  auto id = store::WriteResult<int64_t>(**db, [&](store::Tx& tx) -> Result<int64_t> {
    auto id = tenancy::CreateTenant(tx, Cli(), a.name, std::nullopt);
    if (!id) return Unexpected(id.error());
    if (box) TA_RETURN_IF_ERROR(tenancy::SetCredentials(tx, Cli(), *id, creds, *box));
    return *id;
  });
  if (!id) return Fail(err, id.error());
  out << "tenant " << *id << " " << a.name << (with_creds ? " (credentials sealed)" : "") << "\n";
  return 0;
}

int TenantImport(const AdminArgs& a, std::istream& in, std::ostream& out, std::ostream& err) {
  std::string csv;
  if (a.file.empty() || a.file == "-") {
    csv.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    std::ifstream f(a.file, std::ios::binary);
    if (!f) return Fail(err, Status::NotFound("--file: cannot read " + a.file), 2);
    csv.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  auto rows = tenancy::ImportTenants(**db, Cli(), csv, std::nullopt);
  if (!rows) return Fail(err, rows.error(), 2);
  int created = 0, existing = 0, failed = 0;
  for (const auto& r : *rows) {
    out << "line " << r.line << ": ";
    if (r.status == "failed") {
      ++failed;
      out << "failed (" << r.field << "): " << r.error << "\n";
    } else {
      ++(r.status == "created" ? created : existing);
      out << r.status << " tenant " << *r.tenant_id << " " << r.name << "\n";
    }
  }
  out << created << " created, " << existing << " already there, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

namespace {

void PrintRotation(const tenancy::RotationStatus& st, std::ostream& out) {
  for (const auto& p : st.places)
    out << "  " << p.place << ": " << p.done << " of " << p.total << " checked, " << p.resealed
        << " re-sealed\n";
}

}  // namespace

int KeysRotate(const AdminArgs& a, std::ostream& out, std::ostream& err) {
  auto current = SecretBox::FromBase64Key(a.master_key_b64);
  if (!current) return Fail(err, current.error(), 2);
  std::string new_b64;
  if (LoadMasterKey(a.new_key_file, new_b64, err) != 0) return 2;
  auto next = SecretBox::FromBase64Key(new_b64);
  if (!next || new_b64.find(',') != std::string::npos)
    return Fail(err,
                Status::InvalidArgument("--new-key-file: one key, 32 random bytes in base64 "
                                        "(`head -c32 /dev/urandom | base64`)"),
                2);
  if (a.batch < 1 || a.batch > 10'000)
    return Fail(err, Status::InvalidArgument("--batch: 1 to 10000"), 2);
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  out << "re-sealing every secret under key " << next->KeyId() << std::endl;
  auto last = std::chrono::steady_clock::now();
  auto done = tenancy::RotateMasterKey(
      **db, *current, *next, SystemClock::Instance(), a.batch,
      [&](const tenancy::RotationStatus& st) {
        if (std::chrono::steady_clock::now() - last < std::chrono::seconds(2)) return;
        last = std::chrono::steady_clock::now();
        PrintRotation(st, out);
        out.flush();
      });
  if (!done) return Fail(err, done.error());
  PrintRotation(*done, out);
  out << "rotation to key " << next->KeyId()
      << " complete: every sealed value opens with the new key alone. Set TA_MASTER_KEY to the "
         "new key on every node and restart them; then destroy the old key.\n";
  return 0;
}

int KeysStatus(const AdminArgs& a, std::ostream& out, std::ostream& err) {
  auto db = Open(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  auto st = tenancy::KeyRotationStatus(**db);
  if (!st) return Fail(err, st.error());
  if (!st->any) {
    out << "no key rotation has been run\n";
    return 0;
  }
  out << "rotation to key " << st->to_key << ", started " << FormatIso8601(st->started_at) << ": "
      << (st->finished_at ? "complete at " + FormatIso8601(*st->finished_at)
                          : std::string("in progress or stopped; run `tenantatlas keys rotate "
                                        "--new-key-file` with the same key to finish it"))
      << "\n";
  PrintRotation(*st, out);
  return st->finished_at ? 0 : 3;
}

int MemberAdd(const AdminArgs& a, std::ostream& out, std::ostream& err) {
  if (!store::IsRole(a.role))
    return Fail(err, Status::InvalidArgument("--role: owner, operator or readonly"), 2);
  const int rc = ChangeMembership(a, err, [&](store::Tx& tx, int64_t tenant, int64_t user) {
    return tenancy::SetMember(tx, Cli(), tenant, user, a.role);
  });
  if (rc == 0) out << a.email << " is " << a.role << " of tenant " << a.tenant << "\n";
  return rc;
}

int MemberRemove(const AdminArgs& a, std::ostream& out, std::ostream& err) {
  const int rc =
      ChangeMembership(a, err, [&](store::Tx& tx, int64_t tenant, int64_t user) -> Status {
        Status s = tenancy::RemoveMember(tx, Cli(), tenant, user);
        if (s.code() == Status::Code::kNotFound)
          return Status::NotFound(a.email + " is not a member of tenant " + a.tenant);
        return s;
      });
  if (rc == 0) out << a.email << " removed from tenant " << a.tenant << "\n";
  return rc;
}

void AddAdminCommands(CLI::App& app, Commands& out) {
  // One AdminArgs per subcommand: only the chosen one is parsed.
  auto add = [&](CLI::App* parent, const char* name, const char* help) {
    auto a = std::make_shared<AdminArgs>();
    a->db_url = kDefaultDatabase;
    auto* cmd = parent->add_subcommand(name, help);
    AddDbOption(cmd, a->db_url);
    return std::make_pair(cmd, a);
  };
  auto* user = app.add_subcommand("user", "Users");
  user->require_subcommand(1);
  {
    auto [cmd, a] = add(user, "add",
                        "Create a user; the password (12+ characters) is read from stdin or "
                        "--secret-file");
    cmd->add_option("--email", a->email, "Email address (the sign-in name)")->required();
    cmd->add_option("--name", a->name, "Display name");
    cmd->add_flag("--platform-admin", a->platform_admin, "May create tenants");
    cmd->add_option("--secret-file", a->secret_file, "File holding the password");
    out.push_back({cmd, [a] { return UserAdd(*a, std::cin, std::cout, std::cerr); }});
  }

  auto* token = app.add_subcommand("token", "API tokens");
  token->require_subcommand(1);
  {
    auto [cmd, a] =
        add(token, "create", "Create an API token for a user and print it once on stdout");
    cmd->add_option("--email", a->email, "The token's user")->required();
    cmd->add_option("--name", a->name, "What the token is for");
    cmd->add_option("--expires-days", a->expires_days, "Expire after this many days");
    out.push_back({cmd, [a] { return TokenCreate(*a, std::cout, std::cerr); }});
  }
  {
    auto [cmd, a] = add(token, "revoke", "Revoke an API token");
    cmd->add_option("--id", a->id, "Token id")->required();
    out.push_back({cmd, [a] { return TokenRevoke(*a, std::cout, std::cerr); }});
  }

  auto* tenant = app.add_subcommand("tenant", "Customer tenants");
  tenant->require_subcommand(1);
  {
    auto [cmd, a] = add(tenant, "import",
                        "Add tenants from a CSV file (columns name, entra_tenant_id, cloud, tags; "
                        "tags separated by ';'); prints each row's result; a row whose name "
                        "exists is left as it is");
    cmd->add_option("--file", a->file, "The CSV file (\"-\": stdin)")->required();
    out.push_back({cmd, [a] { return TenantImport(*a, std::cin, std::cout, std::cerr); }});
  }
  {
    auto [cmd, a] =
        add(tenant, "add",
            "Add a tenant; with --entra-tenant-id and --client-id the app's client secret is read "
            "from stdin or --secret-file and sealed under the master key");
    auto key_file = std::make_shared<std::string>();
    cmd->add_option("--name", a->name, "Tenant name (unique)")->required();
    cmd->add_option("--entra-tenant-id", a->entra_tenant_id, "Directory (tenant) id or domain");
    cmd->add_option("--client-id", a->client_id, "App registration's client id");
    cmd->add_option("--secret-file", a->secret_file, "File holding the client secret");
    cmd->add_option("--secret-expires", a->secret_expires,
                    "When the client secret expires (2027-06-30), for expiry alerts");
    cmd->add_option("--cloud", a->cloud,
                    "Where the tenant lives: global (default; commercial and GCC), usgov (GCC "
                    "High), usgovdod or china");
    AddMasterKeyOption(cmd, *key_file);
    out.push_back({cmd, [a, key_file] {
                     if (!a->entra_tenant_id.empty() &&
                         LoadMasterKey(*key_file, a->master_key_b64, std::cerr) != 0)
                       return 2;
                     return TenantAdd(*a, std::cin, std::cout, std::cerr);
                   }});
  }

  auto* keys = app.add_subcommand("keys", "The master key that seals secrets");
  keys->require_subcommand(1);
  {
    auto [cmd, a] = add(keys, "rotate",
                        "Re-seal every secret and private key under a new master key, resumably. "
                        "Give every node TA_MASTER_KEY=NEW,OLD first; the current key(s) come "
                        "from TA_MASTER_KEY or --master-key-file");
    auto key_file = std::make_shared<std::string>();
    cmd->add_option("--new-key-file", a->new_key_file, "File holding the new key (base64)")
        ->required();
    cmd->add_option("--batch", a->batch, "Values re-sealed per transaction")->capture_default_str();
    AddMasterKeyOption(cmd, *key_file);
    out.push_back({cmd, [a, key_file] {
                     if (LoadMasterKey(*key_file, a->master_key_b64, std::cerr) != 0) return 2;
                     return KeysRotate(*a, std::cout, std::cerr);
                   }});
  }
  {
    auto [cmd, a] = add(keys, "status",
                        "How far the last key rotation got (exit 0 complete, 3 unfinished)");
    out.push_back({cmd, [a] { return KeysStatus(*a, std::cout, std::cerr); }});
  }

  auto* member = app.add_subcommand("member", "Tenant memberships");
  member->require_subcommand(1);
  {
    auto [cmd, a] = add(member, "add", "Give a user a role in a tenant");
    cmd->add_option("--tenant", a->tenant, "Tenant id or name")->required();
    cmd->add_option("--email", a->email, "The user")->required();
    cmd->add_option("--role", a->role, "owner, operator or readonly")->required();
    out.push_back({cmd, [a] { return MemberAdd(*a, std::cout, std::cerr); }});
  }
  {
    auto [cmd, a] = add(member, "remove", "Remove a user from a tenant");
    cmd->add_option("--tenant", a->tenant, "Tenant id or name")->required();
    cmd->add_option("--email", a->email, "The user")->required();
    out.push_back({cmd, [a] { return MemberRemove(*a, std::cout, std::cerr); }});
  }
}

}  // namespace ta::app
