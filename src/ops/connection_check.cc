// tenant.connection_check: can TenantAtlas get a token for the tenant, which
// application permissions does it carry (its roles: per type, back up and
// restore, and what to grant), and can it read each object type and directory
// list? One item per check; a refused read names the application permission
// to grant; when the client secret or certificate expires (stored on the
// tenant); and, for a tenant onboarded without a name, its directory's name.
// Writes nothing to Graph and nothing to the inventory but those two.
#include <map>

#include "catalog/catalog.h"
#include "core/certificate.h"
#include "core/log.h"
#include "ops/handlers.h"
#include "ops/ops_common.h"
#include "store/accounts.h"

namespace ta::ops {

using nlohmann::json;

namespace {

struct Check {
  std::string ref, path, title;
};

constexpr const char* kExpiryRef = "credential:expiry";
constexpr const char* kPermissionsRef = "permissions";

// What the token's `roles` claim grants: per object type whether it may be
// read (backed up) and written (restored), and each permission to grant with
// the types it would open. Skipped when the token's roles cannot be read.
store::RunItem PermissionsItem(const std::optional<std::vector<std::string>>& roles) {
  store::RunItem item;
  item.item_ref = kPermissionsRef;
  item.action = "roles";
  if (!roles) {
    item.status = "skipped";
    item.error_code = "roles_unknown";
    item.error_message = "the token's permissions (its roles claim) could not be read; the reads "
                         "below show what is refused";
    return item;
  }
  json types = json::array();
  std::map<std::string, json> grant;  // permission -> {for: read|write, types}
  auto need = [&](const std::string& permission, const char* use, std::string_view title) {
    json& g = grant[permission];
    if (g.is_null()) g = json{{"permission", permission}, {"for", use}, {"types", json::array()}};
    g["types"].push_back(title);
  };
  for (const auto& type : catalog::Catalog()) {
    const std::string read(catalog::ReadPermission(type.collection));
    const std::string write = catalog::WritePermission(type.collection);
    const bool can_read = catalog::PermissionGranted(*roles, read);
    const bool can_write = catalog::PermissionGranted(*roles, write);
    const std::string_view title = catalog::TypeTitle(type.name);
    types.push_back({{"type", type.name}, {"name", title}, {"read", can_read}, {"write", can_write}});
    if (!can_read) need(read, "read", title);
    if (!can_write) need(write, "write", title);
  }
  json missing = json::array();
  for (auto& [_, g] : grant) missing.push_back(std::move(g));
  item.status = "ok";
  item.details = json{{"roles", *roles}, {"types", types}, {"grant", missing}}.dump();
  return item;
}

// When the tenant's client secret ends, from its app registration: Graph
// lists each secret of the app with a hint (its first three characters) and
// endDateTime, never the secret. The secret whose hint matches ours is ours.
// Never fails the check: a tenant whose app may not read its registration
// (Application.Read.All) keeps the date entered with the secret, and the item
// says how to get it read.
Next CheckSecretExpiry(jobs::JobContext& ctx, OpsContext& ops, graph::GraphReader& reader,
                       const std::vector<std::string>& refs) {
  const int64_t tenant = ctx.job().tenant_id;
  store::RunItem item;
  item.item_ref = kExpiryRef;
  item.action = "read";
  auto skipped = [&](const std::string& code, const std::string& message) {
    item.status = "skipped";
    item.error_code = code;
    item.error_message = message;
    return Record(ctx, item);
  };
  auto creds = store::ReadResult<std::optional<store::Accounts::SealedCredentials>>(
      ctx.db(), [&](store::Tx& tx) { return store::Accounts::Credentials(tx, tenant); });
  if (!creds) return ItemNotRecorded(kExpiryRef, creds.error());
  if (!*creds) return skipped("no_credentials", "the tenant has no credentials");
  if ((*creds)->kind == "certificate") {
    // The certificate says when it ends (stored when it was made).
    auto cert = ReadCertificate((*creds)->certificate);
    if (!cert) return skipped("bad_certificate", cert.error().message());
    item.status = "ok";
    item.details = nlohmann::json{{"expires_at", FormatIso8601(cert->not_after_ms)},
                                  {"source", "certificate"},
                                  {"thumbprint", cert->thumbprint}}
                       .dump();
    return Record(ctx, item);
  }
  auto secret = ops.box.Open((*creds)->sealed_secret);
  if (!secret) return skipped("sealed", "the stored secret cannot be opened with this master key");
  const std::string hint = secret->substr(0, 3);
  const std::string path = "applications(appId='" + (*creds)->client_id + "')";
  auto app = reader.Get(path + "?$select=passwordCredentials");
  const std::string enter =
      " Until then, enter the secret's expiry date (Entra: App registrations > Certificates & "
      "secrets) when you set the secret.";
  if (!app) {
    if (app.error().http_status == 403)
      return skipped("missing_permission",
                     "Graph refused to read the app registration (403), so the client secret's "
                     "expiry date is not known. Grant the application permission "
                     "Application.Read.All to check it automatically." + enter);
    if (app.error().http_status == 404)
      return skipped("not_found", "the app registration " + (*creds)->client_id +
                                      " is not in this tenant (an app registered in another "
                                      "tenant), so its secret's expiry cannot be read." + enter);
    return GraphFailed(ctx, refs, kExpiryRef, "read", app.error());
  }
  std::optional<int64_t> ends;
  for (const auto& pc : app->value("passwordCredentials", nlohmann::json::array())) {
    if (!pc.is_object() || pc.value("hint", "") != hint || !pc["endDateTime"].is_string()) continue;
    auto end = ParseIso8601(pc["endDateTime"].get<std::string>());
    if (end && (!ends || *end < *ends)) ends = end;  // two alike: the sooner one, to warn early
  }
  if (!ends)
    return skipped("not_listed",
                   "none of the app's client secrets matches the stored one (it may have been "
                   "deleted in Entra; backups then fail)." + enter);
  item.status = "ok";
  item.details = nlohmann::json{{"expires_at", FormatIso8601(*ends)}, {"source", "graph"}}.dump();
  Status s = ctx.db().Write([&](store::Tx& tx) -> Status {
    // Only for the secret that was read: one set meanwhile keeps its own date.
    auto stored = store::Accounts::SetCredentialExpiry(tx, tenant, *ends, "graph",
                                                       (*creds)->sealed_secret);
    if (!stored) return stored.error();
    if (!*stored) {
      item.status = "skipped";
      item.error_code = "secret_changed";
      item.error_message = "the client secret was replaced during the check; check again";
      item.details.reset();
    }
    return store::RunsRepository::UpsertItem(tx, tenant, *ctx.job().run_id, item, NowMs(ctx));
  });
  if (!s.ok()) return ItemNotRecorded(kExpiryRef, s);
  return std::nullopt;
}

constexpr const char* kOrganizationRef = "organization";

// A tenant onboarded by admin consent without a name is named after its
// directory's organization (Graph /organization).
Next NameFromDirectory(jobs::JobContext& ctx, graph::GraphReader& reader,
                       const std::vector<std::string>& refs) {
  auto org = reader.Get("organization?$select=id,displayName");
  if (!org) return GraphFailed(ctx, refs, kOrganizationRef, "read", org.error());
  const json& list = org->value("value", json::array());
  const std::string name = !list.empty() && list[0].is_object()
                               ? list[0].value("displayName", std::string())
                               : std::string();
  if (name.empty())
    return Record(ctx, FailedItem(kOrganizationRef, "read", "no_organization",
                                  "Graph listed no organization with a display name"));
  const int64_t tenant = ctx.job().tenant_id;
  Status s = ctx.db().Write([&](store::Tx& tx) -> Status {
    auto named = store::Accounts::NameFromDirectory(tx, tenant, name);
    if (!named) return named.error();
    store::RunItem item;
    item.item_ref = kOrganizationRef;
    item.action = "read";
    item.status = "ok";
    item.details = json{{"display_name", name}, {"tenant_name", named->value_or(name)}}.dump();
    return store::RunsRepository::UpsertItem(tx, tenant, *ctx.job().run_id, item, NowMs(ctx));
  });
  if (!s.ok()) return ItemNotRecorded(kOrganizationRef, s);
  return std::nullopt;
}

}  // namespace

jobs::JobResult RunConnectionCheck(jobs::JobContext& ctx, OpsContext& ops) {
  const int64_t tenant = ctx.job().tenant_id;
  std::vector<Check> checks;
  for (const auto& type : catalog::Catalog())
    checks.push_back({"read:" + std::string(type.name), std::string(type.collection),
                      std::string(catalog::TypeTitle(type.name))});
  for (const auto& d : kDirectory) {
    std::string path = d.path;
    checks.push_back({"read:" + std::string(d.ref), path.substr(0, path.find('?')), d.ref});
  }
  // Drift detection reads who changed what from Intune's audit log.
  checks.push_back({"read:auditEvents", "deviceManagement/auditEvents",
                    "Intune audit log (who changed what, for drift)"});
  std::vector<std::string> refs{"token", kPermissionsRef};
  for (const auto& c : checks) refs.push_back(c.ref);
  refs.push_back(kExpiryRef);
  auto record = store::ReadResult<store::Accounts::Tenant>(
      ctx.db(), [&](store::Tx& tx) { return store::Accounts::TenantById(tx, tenant); });
  if (!record) return JobFailure(record.error());
  if (record->name_from_directory) refs.push_back(kOrganizationRef);
  if (Status s = SetTotal(ctx, static_cast<int64_t>(refs.size())); !s.ok()) return JobFailure(s);

  // Without a token no read can work: each is skipped, saying why.
  auto skip_reads = [&](const std::string& why) -> Next {
    for (const auto& ref : refs) {
      if (ref == "token") continue;
      store::RunItem skipped;
      skipped.item_ref = ref;
      skipped.status = "skipped";
      skipped.action = "read";
      skipped.error_code = "no_token";
      skipped.error_message = "not checked: " + why;
      if (auto stop = Record(ctx, skipped)) return stop;
    }
    return std::nullopt;
  };
  auto reader = ops.graph.Reader(tenant, AbortFor(ctx));
  if (!reader) {
    // No credentials (or none that open): the token check fails and says what
    // to do; the reads are skipped, since none can work without a token.
    store::RunItem token = FailedItem("token", "token", "no_credentials",
                                      reader.error().message() +
                                          " Set the tenant's app credentials on its Tenant page, "
                                          "then check the connection again.");
    if (auto stop = Record(ctx, token)) return *stop;
    if (auto stop = skip_reads("there is no token")) return *stop;
    return Finish(ctx, refs);
  }
  bool token_recorded = false;
  for (const auto& c : checks) {
    if (ctx.CancelRequested()) return CancelRemaining(ctx, refs);
    if (ctx.ShuttingDown()) return jobs::JobResult::Release();
    auto page = (*reader)->Get(c.path + "?$top=1");
    const std::string permission(catalog::ReadPermission(c.path));
    if (!token_recorded) {
      // The first call fetches the token: a refused token fails it, and every read.
      const bool refused = !page && (page.error().code == "token_refused" ||
                                     page.error().code == "token_endpoint_unavailable" ||
                                     page.error().http_status == 401);
      store::RunItem token;
      token.item_ref = "token";
      token.action = "token";
      if (refused) {
        token = FailedItem("token", "token", page.error());
        token.error_message = *token.error_message +
                              " Check the tenant's Entra tenant id, client id and secret (it may "
                              "have expired) on its Tenant page.";
      } else {
        token.status = "ok";
      }
      if (auto stop = Record(ctx, token)) return *stop;
      token_recorded = true;
      if (refused) {
        if (auto stop = skip_reads("the token was refused")) return *stop;
        return Finish(ctx, refs);
      }
      if (auto stop = Record(ctx, PermissionsItem(GrantedRoles(**reader)))) return *stop;
    }
    if (!page) {
      if (page.error().http_status == 403) {
        store::RunItem item = FailedItem(c.ref, "read", page.error());
        item.error_code = "missing_permission";
        item.error_message = "Graph refused to list " + c.title + " (403). Grant the application "
                             "permission " + permission + " to the app in Entra (and admin consent).";
        item.details = json{{"name", c.title}, {"permission", permission}}.dump();
        if (auto stop = Record(ctx, item)) return *stop;
        continue;
      }
      if (auto stop = GraphFailed(ctx, refs, c.ref, "read", page.error())) return *stop;
      continue;
    }
    store::RunItem item;
    item.item_ref = c.ref;
    item.status = "readable";
    item.action = "read";
    item.details = json{{"name", c.title}, {"permission", permission}}.dump();
    if (auto stop = Record(ctx, item)) return *stop;
  }
  if (auto stop = CheckSecretExpiry(ctx, ops, **reader, refs)) return *stop;
  if (record->name_from_directory)
    if (auto stop = NameFromDirectory(ctx, **reader, refs)) return *stop;
  return Finish(ctx, refs);
}

}  // namespace ta::ops
