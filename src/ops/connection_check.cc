// tenant.connection_check: can TenantAtlas get a token for the tenant, and
// read each object type and directory list? One item per check; a refused
// read names the application permission to grant. Writes nothing to Graph
// and nothing to the inventory.
#include "catalog/catalog.h"
#include "ops/handlers.h"
#include "ops/ops_common.h"

namespace ta::ops {

using nlohmann::json;

namespace {

struct Check {
  std::string ref, path, title;
};

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
  std::vector<std::string> refs{"token"};
  for (const auto& c : checks) refs.push_back(c.ref);
  if (Status s = SetTotal(ctx, static_cast<int64_t>(refs.size())); !s.ok()) return JobFailure(s);

  // Without a token no read can work: each is skipped, saying why.
  auto skip_reads = [&](const std::string& why) -> Next {
    for (const auto& c : checks) {
      store::RunItem skipped;
      skipped.item_ref = c.ref;
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
  return Finish(ctx, refs);
}

}  // namespace ta::ops
