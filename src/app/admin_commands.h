#pragma once

// Admin commands: users, API tokens, tenants and memberships. Secrets (user
// passwords, tenant client secrets) are read from stdin or a file, never from
// argv, where `ps` and shell history would show them. Every change is audited
// (actor: none, i.e. the command line).

#include <iosfwd>
#include <optional>
#include <string>

namespace ta::app {

struct AdminArgs {
  std::string db_url;
  std::string email, name, role, tenant;  // tenant: id or name
  bool platform_admin = false;
  std::string secret_file;  // "-" or empty: stdin
  std::string file;         // tenant import: the CSV ("-": stdin)
  std::string entra_tenant_id, client_id;
  std::string secret_expires;  // the client secret's expiry date, as Entra shows it
  std::string cloud = "global";  // global | usgov | usgovdod | china
  std::optional<int> expires_days;
  int64_t id = 0;
  std::string master_key_b64;
  std::string new_key_file;  // keys rotate
  int batch = 200;           // keys rotate: values per transaction
};

int UserAdd(const AdminArgs& a, std::istream& in, std::ostream& out, std::ostream& err);
int TokenCreate(const AdminArgs& a, std::ostream& out, std::ostream& err);
int TokenRevoke(const AdminArgs& a, std::ostream& out, std::ostream& err);
int TenantAdd(const AdminArgs& a, std::istream& in, std::ostream& out, std::ostream& err);
// `file` names the CSV (name, entra_tenant_id, cloud, tags); "-": stdin.
int TenantImport(const AdminArgs& a, std::istream& in, std::ostream& out, std::ostream& err);
int MemberAdd(const AdminArgs& a, std::ostream& out, std::ostream& err);
int KeysRotate(const AdminArgs& a, std::ostream& out, std::ostream& err);
int KeysStatus(const AdminArgs& a, std::ostream& out, std::ostream& err);
int MemberRemove(const AdminArgs& a, std::ostream& out, std::ostream& err);

}  // namespace ta::app
