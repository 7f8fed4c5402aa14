#pragma once

// Master key rotation: every sealed value (client secrets, private keys,
// webhook secrets, encrypted values in captured payloads) re-sealed under a
// new key in one resumable run. The run's progress commits with each batch; a
// run killed midway leaves every value sealed under the old or the new key
// (each opens with the ring "NEW,OLD") and the next run goes on from there.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/secret_box.h"
#include "store/database.h"
#include "store/key_rotations.h"

namespace ta::tenancy {

struct PlaceProgress {
  std::string place;  // "tenants.client_secret_enc"
  int64_t done = 0, total = 0, resealed = 0;
};

struct RotationStatus {
  bool any = false;  // a rotation was ever started
  std::string to_key;
  int64_t started_at = 0;
  std::optional<int64_t> finished_at;
  std::vector<PlaceProgress> places;
};

// Re-seals everything under `new_key`; `current` opens what is stored now
// (one key, or the ring during a rotation). `on_batch` is called after each
// committed batch. Ends with the rotation marked finished.
Result<RotationStatus> RotateMasterKey(store::Database& db, const SecretBox& current,
                                       const SecretBox& new_key, Clock& clock, int batch = 200,
                                       const std::function<void(const RotationStatus&)>& on_batch =
                                           {});

// The newest rotation and how far it got (totals counted now).
Result<RotationStatus> KeyRotationStatus(store::Database& db);

}  // namespace ta::tenancy
