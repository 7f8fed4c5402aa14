#pragma once

// Onboarding through admin consent: the MSP's multi-tenant app (one row) and
// the single-use states of the consent links handed out.

#include <cstdint>
#include <optional>
#include <string>

#include "store/database.h"

namespace ta::store {

struct PlatformApp {
  std::string client_id;
  std::string kind = "secret";  // secret | certificate
  std::string sealed;           // the sealed client secret or private key
  std::optional<std::string> certificate;
  int64_t updated_at = 0;
};

struct OnboardingState {
  std::string nonce;
  std::optional<int64_t> created_by;
  std::optional<std::string> name;
  std::string cloud = "global";
  int64_t expires_at = 0;
  std::optional<int64_t> used_at;
};

class Onboarding {
 public:
  static Result<std::optional<PlatformApp>> App(Tx& tx);
  static Status SetApp(Tx& tx, const PlatformApp& app);
  static Status AddState(Tx& tx, const OnboardingState& state, int64_t now_ms);
  static Result<std::optional<OnboardingState>> FindState(Tx& tx, const std::string& nonce);
  // Marks the state used by `tenant_id`; false when it was used already (or
  // meanwhile, by a concurrent callback).
  static Result<bool> UseState(Tx& tx, const std::string& nonce, int64_t tenant_id,
                               int64_t now_ms);
};

}  // namespace ta::store
