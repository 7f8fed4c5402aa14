#include "tenancy/key_rotation.h"

#include <nlohmann/json.hpp>

namespace ta::tenancy {

using nlohmann::json;

namespace {

// Re-seals every {"secretValue": {"sealed": ...}} inside `doc`; false when one
// cannot be opened.
bool ResealJson(json& doc, const SecretBox& box, bool* changed) {
  if (doc.is_object()) {
    auto it = doc.find("secretValue");
    if (it != doc.end() && it->is_object() && it->contains("sealed") &&
        (*it)["sealed"].is_string()) {
      const std::string sealed = (*it)["sealed"];
      if (!box.SealedByFirstKey(sealed)) {
        auto plain = box.Open(sealed);
        if (!plain) return false;
        (*it)["sealed"] = box.Seal(*plain);
        *changed = true;
      }
    }
    for (auto& [_, v] : doc.items())
      if (!ResealJson(v, box, changed)) return false;
  } else if (doc.is_array()) {
    for (auto& v : doc)
      if (!ResealJson(v, box, changed)) return false;
  }
  return true;
}

// The value re-sealed under the box's first key; nullopt when it already is.
Result<std::optional<std::string>> Reseal(const store::SealedPlace& place, const std::string& value,
                                          const SecretBox& box) {
  if (!place.json) {
    if (box.SealedByFirstKey(value)) return std::optional<std::string>();
    auto plain = box.Open(value);
    if (!plain) return Unexpected(plain.error());
    return std::optional<std::string>(box.Seal(*plain));
  }
  json doc = json::parse(value, nullptr, false);
  if (doc.is_discarded()) return std::optional<std::string>();  // not JSON: nothing sealed
  bool changed = false;
  if (!ResealJson(doc, box, &changed))
    return Unexpected(Status::PermissionDenied("an encrypted value in it cannot be opened"));
  if (!changed) return std::optional<std::string>();
  return std::optional<std::string>(doc.dump());
}

RotationStatus StatusOf(const store::KeyRotation& r, const std::vector<int64_t>& totals) {
  RotationStatus s;
  s.any = true;
  s.to_key = r.to_key;
  s.started_at = r.started_at;
  s.finished_at = r.finished_at;
  const json progress = json::parse(r.progress, nullptr, false);
  const auto& places = store::SealedPlaces();
  for (size_t i = 0; i < places.size(); ++i) {
    PlaceProgress p;
    p.place = places[i].Name();
    if (progress.is_object() && progress.contains(p.place)) {
      p.done = progress[p.place].value("done", int64_t{0});
      p.resealed = progress[p.place].value("resealed", int64_t{0});
    }
    p.total = i < totals.size() ? totals[i] : 0;
    s.places.push_back(p);
  }
  return s;
}

Result<std::vector<int64_t>> Totals(store::Tx& tx) {
  std::vector<int64_t> totals;
  for (const auto& p : store::SealedPlaces()) {
    auto n = store::KeyRotations::Count(tx, p);
    if (!n) return Unexpected(n.error());
    totals.push_back(*n);
  }
  return totals;
}

}  // namespace

Result<RotationStatus> KeyRotationStatus(store::Database& db) {
  return store::ReadResult<RotationStatus>(db, [&](store::Tx& tx) -> Result<RotationStatus> {
    auto latest = store::KeyRotations::Latest(tx);
    if (!latest) return Unexpected(latest.error());
    if (!*latest) return RotationStatus{};
    auto totals = Totals(tx);
    if (!totals) return Unexpected(totals.error());
    return StatusOf(**latest, *totals);
  });
}

Result<RotationStatus> RotateMasterKey(store::Database& db, const SecretBox& current,
                                       const SecretBox& new_key, Clock& clock, int batch,
                                       const std::function<void(const RotationStatus&)>& on_batch) {
  const SecretBox box = current.WithFirstKey(new_key);  // seals new, opens both
  auto rotation = store::WriteResult<store::KeyRotation>(db, [&](store::Tx& tx) {
    return store::KeyRotations::Start(tx, new_key.KeyId(), ToUnixMillis(clock.Now()));
  });
  if (!rotation) return Unexpected(rotation.error());
  auto totals = store::ReadResult<std::vector<int64_t>>(db, Totals);
  if (!totals) return Unexpected(totals.error());
  json progress = json::parse(rotation->progress, nullptr, false);
  if (!progress.is_object()) progress = json::object();
  // Passes until one finds nothing left under an old key: a value a node
  // still running with only the old key sealed behind the cursor is caught by
  // the next pass (the first pass resumes where a killed run stopped).
  for (int pass = 0;; ++pass) {
    int64_t resealed_in_pass = 0;
    for (const auto& place : store::SealedPlaces()) {
      const std::string name = place.Name();
      if (!progress.contains(name) || pass > 0)
        progress[name] = {{"after", 0}, {"done", 0}, {"resealed", 0}};
      while (true) {
        json next;
        int64_t read = 0;
        Status s = db.Write([&](store::Tx& tx) -> Status {
          next = progress;
          auto rows =
              store::KeyRotations::Batch(tx, place, next[name]["after"].get<int64_t>(), batch);
          if (!rows) return rows.error();
          for (const auto& [id, value] : *rows) {
            auto resealed = Reseal(place, value, box);
            if (!resealed)
              return Status::FailedPrecondition(
                  name + " of row " + std::to_string(id) +
                  " cannot be opened with the current master key(s); give every key in use in "
                  "TA_MASTER_KEY (\"NEW,OLD\") and run again");
            if (*resealed) {
              auto replaced = store::KeyRotations::Replace(tx, place, id, value, **resealed);
              if (!replaced) return replaced.error();
              if (*replaced) next[name]["resealed"] = next[name]["resealed"].get<int64_t>() + 1;
            }
            next[name]["after"] = id;
            next[name]["done"] = next[name]["done"].get<int64_t>() + 1;
          }
          read = static_cast<int64_t>(rows->size());
          if (read == 0) return Status::Ok();
          return store::KeyRotations::SaveProgress(tx, rotation->id, next.dump());
        });
        if (!s.ok()) return Unexpected(s);
        if (read == 0) break;
        resealed_in_pass +=
            next[name]["resealed"].get<int64_t>() - progress[name]["resealed"].get<int64_t>();
        progress = std::move(next);  // committed
        if (on_batch) {
          rotation->progress = progress.dump();
          on_batch(StatusOf(*rotation, *totals));
        }
      }
    }
    if (pass > 0 && resealed_in_pass == 0) break;
  }
  const int64_t now = ToUnixMillis(clock.Now());
  if (Status s = db.Write([&](store::Tx& tx) {
        return store::KeyRotations::Finish(tx, rotation->id, now);
      });
      !s.ok())
    return Unexpected(s);
  rotation->finished_at = now;
  rotation->progress = progress.dump();
  return StatusOf(*rotation, *totals);
}

}  // namespace ta::tenancy
