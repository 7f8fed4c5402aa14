#include "tenancy/onboarding.h"

#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include "core/certificate.h"
#include "core/cloud.h"
#include "core/credentials.h"
#include "core/log.h"
#include "store/accounts.h"
#include "store/audit_log.h"
#include "store/onboarding.h"

namespace ta::tenancy {

namespace {

constexpr int64_t kStateLifetimeMs = 3'600'000;

// The state's signature: a keyed hash of the nonce under the master key.
std::string Signature(const std::string& nonce, const SecretBox& box) {
  return box.Digest("tenantatlas onboarding state:" + nonce).substr(0, 32);
}

std::string UrlEncode(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out(e ? e : "");
  curl_free(e);
  return out;
}

Status Refused(const std::string& why) { return Status::InvalidArgument("state: " + why); }

}  // namespace

Result<PlatformAppInfo> SetPlatformApp(store::Tx& tx, const Actor& actor,
                                       const std::string& client_id,
                                       const std::optional<std::string>& client_secret,
                                       int valid_days, const SecretBox& box) {
  if (client_id.empty())
    return Unexpected(Status::InvalidArgument(
        "client_id: is required (the multi-tenant app registration's application id)"));
  store::PlatformApp app;
  app.client_id = client_id;
  app.updated_at = actor.now_ms;
  PlatformAppInfo info{client_id, "secret", std::nullopt};
  if (client_secret) {
    if (client_secret->empty())
      return Unexpected(Status::InvalidArgument("client_secret: is empty"));
    app.sealed = box.Seal(*client_secret);
  } else {
    if (valid_days < 1 || valid_days > 730)
      return Unexpected(Status::InvalidArgument("valid_days: 1 to 730"));
    auto made = GenerateCertificate("TenantAtlas MSP app", valid_days, actor.now_ms);
    if (!made) return Unexpected(made.error());
    auto cert = ReadCertificate(made->certificate_pem);
    if (!cert) return Unexpected(cert.error());
    app.kind = info.kind = "certificate";
    app.sealed = box.Seal(made->private_key_pem);
    app.certificate = made->certificate_pem;
    info.certificate = IssuedCertificate{made->certificate_pem, *cert};
  }
  TA_RETURN_IF_ERROR(store::Onboarding::SetApp(tx, app));
  nlohmann::json details = {{"client_id", client_id}, {"kind", app.kind}, {"via", actor.via}};
  if (info.certificate) details["thumbprint"] = info.certificate->info.thumbprint;
  TA_RETURN_IF_ERROR(store::AuditLog::Record(tx, 0, actor.user_id, "platform.app_set",
                                             "platform_app", "1", details.dump(), actor.now_ms));
  return info;
}

Result<ConsentLink> StartOnboarding(store::Tx& tx, const Actor& actor,
                                    const std::optional<std::string>& name,
                                    const std::string& cloud, const std::string& authority,
                                    const std::string& redirect_uri, const SecretBox& box) {
  const CloudEndpoints* c = FindCloud(cloud);
  if (!c) return Unexpected(Status::InvalidArgument("cloud: must be " + CloudNames()));
  if (name && (name->empty() || name->size() > 200))
    return Unexpected(Status::InvalidArgument("name: 1 to 200 characters"));
  auto app = store::Onboarding::App(tx);
  if (!app) return Unexpected(app.error());
  if (!*app)
    return Unexpected(Status::FailedPrecondition(
        "the MSP's multi-tenant app is not configured: a platform admin sets its client id and "
        "a secret or certificate first (PUT /api/v1/platform/app)"));
  store::OnboardingState s;
  s.nonce = NewSecret("");
  s.created_by = actor.user_id;
  s.name = name;
  s.cloud = cloud;
  s.expires_at = actor.now_ms + kStateLifetimeMs;
  TA_RETURN_IF_ERROR(store::Onboarding::AddState(tx, s, actor.now_ms));
  ConsentLink link;
  link.state = s.nonce + "." + Signature(s.nonce, box);
  link.expires_at = s.expires_at;
  link.url = (authority.empty() ? std::string(c->authority) : authority) +
             "/organizations/v2.0/adminconsent?client_id=" + UrlEncode((*app)->client_id) +
             "&scope=" + UrlEncode(std::string(c->graph) + "/.default") +
             "&redirect_uri=" + UrlEncode(redirect_uri) + "&state=" + UrlEncode(link.state);
  return link;
}

Result<Onboarded> CompleteOnboarding(store::Tx& tx, const Actor& actor, const std::string& state,
                                   const std::string& entra_tenant_id, const SecretBox& box) {
  const size_t dot = state.find('.');
  const std::string nonce = state.substr(0, dot);
  if (dot == std::string::npos || nonce.empty() ||
      !SecretEquals(state.substr(dot + 1), Signature(nonce, box)))
    return Unexpected(Refused("not a consent link TenantAtlas issued (the signature does not "
                              "match); start the onboarding again"));
  auto found = store::Onboarding::FindState(tx, nonce);
  if (!found) return Unexpected(found.error());
  if (!*found) return Unexpected(Refused("unknown consent link; start the onboarding again"));
  const store::OnboardingState& s = **found;
  if (s.used_at)
    return Unexpected(Refused("this consent link was used already (at " +
                              FormatIso8601(*s.used_at) +
                              "); each link adds one tenant: start the onboarding again"));
  if (s.expires_at <= actor.now_ms)
    return Unexpected(Refused("this consent link expired at " + FormatIso8601(s.expires_at) +
                              "; start the onboarding again"));
  if (Status v = ValidateDirectory(entra_tenant_id, s.cloud); !v.ok())
    return Unexpected(Status::InvalidArgument("tenant: the consent callback named no valid "
                                              "directory (" + v.message() + ")"));
  const bool named = s.name.has_value();
  auto id = CreateTenant(tx, actor, named ? *s.name : "Tenant " + entra_tenant_id, s.created_by);
  if (!id) return Unexpected(id.error());
  TA_RETURN_IF_ERROR(
      store::Accounts::SetPlatformCredentials(tx, *id, entra_tenant_id, s.cloud, !named));
  auto used = store::Onboarding::UseState(tx, nonce, *id, actor.now_ms);
  if (!used) return Unexpected(used.error());
  if (!*used) return Unexpected(Refused("this consent link was used already; start again"));
  TA_RETURN_IF_ERROR(store::AuditLog::Record(
      tx, *id, actor.user_id, "tenant.onboarded", "tenant", std::to_string(*id),
      nlohmann::json{{"entra_tenant_id", entra_tenant_id}, {"cloud", s.cloud}, {"via", "consent"}}
          .dump(),
      actor.now_ms));
  return Onboarded{*id, s.created_by};
}

}  // namespace ta::tenancy
