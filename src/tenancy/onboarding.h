#pragma once

// Onboarding a customer through the MSP's own multi-tenant app: a platform
// admin configures the app once (client id and a secret or a certificate
// TenantAtlas makes); each new customer gets an admin-consent link whose
// `state` is signed (a keyed hash under the master key), expires after an
// hour and is good once; the consent's callback creates the tenant, signed in
// with the MSP's app in the customer's directory.

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/secret_box.h"
#include "store/database.h"
#include "tenancy/tenancy.h"

namespace ta::tenancy {

struct PlatformAppInfo {
  std::string client_id;
  std::string kind;  // secret | certificate
  std::optional<IssuedCertificate> certificate;  // made now (certificate kind)
};

// Stores the MSP's app: with `client_secret`, that secret; without, a new key
// pair and certificate valid `valid_days` (upload it to the app in Entra).
Result<PlatformAppInfo> SetPlatformApp(store::Tx& tx, const Actor& actor,
                                       const std::string& client_id,
                                       const std::optional<std::string>& client_secret,
                                       int valid_days, const SecretBox& box);

struct ConsentLink {
  std::string url;    // the admin-consent URL to give the customer's admin
  std::string state;  // what the callback must bring back
  int64_t expires_at = 0;
};

// A consent link for a new tenant (named `name`, or after its directory when
// nullopt) in `cloud`. `authority`: the token authority to send the admin to
// ("" for the cloud's own); `redirect_uri`: this server's callback.
Result<ConsentLink> StartOnboarding(store::Tx& tx, const Actor& actor,
                                    const std::optional<std::string>& name,
                                    const std::string& cloud, const std::string& authority,
                                    const std::string& redirect_uri, const SecretBox& box);

// The consent callback: checks `state` (signed by us, not expired, not used)
// and creates the tenant for directory `entra_tenant_id`, owned by whoever
// asked for the link. InvalidArgument (field "state" or "tenant") says why a
// callback is refused; nothing is created then.
struct Onboarded {
  int64_t tenant_id = 0;
  std::optional<int64_t> owner;  // who asked for the link
};
Result<Onboarded> CompleteOnboarding(store::Tx& tx, const Actor& actor, const std::string& state,
                                   const std::string& entra_tenant_id, const SecretBox& box);

}  // namespace ta::tenancy
