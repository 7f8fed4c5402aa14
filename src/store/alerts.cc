#include "store/alerts.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "store/row_reader.h"

namespace ta::store {

using nlohmann::json;

namespace {

constexpr const char* kChannelCols =
    "id, tenant_id, name, kind, target, secret_enc, events, enabled, disabled_reason, "
    "consecutive_failures, created_by, created_at, updated_at";

AlertChannel ReadChannel(const Row& row) {
  RowReader r(row);
  AlertChannel c;
  c.id = r.Int();
  c.tenant_id = r.OptInt();
  c.name = r.Text();
  c.kind = r.Text();
  c.target = r.Text();
  c.secret_enc = r.OptText();
  c.events = json::parse(r.Text()).get<std::vector<std::string>>();
  c.enabled = r.Int() != 0;
  c.disabled_reason = r.OptText();
  c.consecutive_failures = r.Int();
  c.created_by = r.OptInt();
  c.created_at = r.Int();
  c.updated_at = r.Int();
  return c;
}

constexpr const char* kDeliveryCols =
    "id, channel_id, tenant_id, event, payload, status, attempts, last_error, created_at, "
    "finished_at";

AlertDelivery ReadDelivery(const Row& row) {
  RowReader r(row);
  AlertDelivery d;
  d.id = r.Int();
  d.channel_id = r.Int();
  d.tenant_id = r.OptInt();
  d.event = r.Text();
  d.payload = r.Text();
  d.status = r.Text();
  d.attempts = r.Int();
  d.last_error = r.OptText();
  d.created_at = r.Int();
  d.finished_at = r.OptInt();
  return d;
}

}  // namespace

Result<int64_t> Alerts::CreateChannel(Tx& tx, const AlertChannel& c) {
  auto rows = tx.Query(
      "INSERT INTO alert_channels (tenant_id, name, kind, target, secret_enc, events, enabled, "
      "created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
      "RETURNING id",
      {OptParam(c.tenant_id), c.name, c.kind, c.target, OptParam(c.secret_enc),
       json(c.events).dump(), int64_t{c.enabled ? 1 : 0}, OptParam(c.created_by), c.created_at,
       c.updated_at});
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Status Alerts::UpdateChannel(Tx& tx, const AlertChannel& c) {
  auto n = tx.Exec(
      "UPDATE alert_channels SET name = $1, target = $2, events = $3, enabled = $4, "
      "disabled_reason = CASE WHEN CAST($4 AS BIGINT) = 1 THEN NULL ELSE disabled_reason END, "
      "consecutive_failures = CASE WHEN CAST($4 AS BIGINT) = 1 THEN 0 ELSE consecutive_failures "
      "END, "
      "updated_at = $5 WHERE id = $6",
      {c.name, c.target, json(c.events).dump(), int64_t{c.enabled ? 1 : 0}, c.updated_at, c.id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok() : Status::NotFound("alert channel: does not exist");
}

Status Alerts::DeleteChannel(Tx& tx, int64_t id) {
  if (auto d = tx.Exec("DELETE FROM alert_deliveries WHERE channel_id = $1", {id}); !d)
    return d.error();
  auto n = tx.Exec("DELETE FROM alert_channels WHERE id = $1", {id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok() : Status::NotFound("alert channel: does not exist");
}

Result<AlertChannel> Alerts::Channel(Tx& tx, int64_t id) {
  auto rows =
      QueryAll(tx, std::string("SELECT ") + kChannelCols + " FROM alert_channels WHERE id = $1",
               {id}, ReadChannel);
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return Unexpected(Status::NotFound("alert channel: does not exist"));
  return rows->front();
}

Result<std::vector<AlertChannel>> Alerts::Channels(Tx& tx, const std::vector<int64_t>& tenants,
                                                   bool global, bool all) {
  std::string sql = std::string("SELECT ") + kChannelCols + " FROM alert_channels WHERE " +
                    (all      ? "1 = 1"
                     : global ? "tenant_id IS NULL"
                              : "1 = 0");
  Params params;
  if (!tenants.empty()) {
    sql += " OR " + InIdArray(tx.backend(), "tenant_id", 1);
    params.push_back(IdArray(tx.backend(), tenants));
  }
  sql += " ORDER BY name, id";
  return QueryAll(tx, sql, params, ReadChannel);
}

Result<std::vector<AlertChannel>> Alerts::Subscribed(Tx& tx, int64_t tenant,
                                                     const std::string& event) {
  auto all = QueryAll(tx,
                      std::string("SELECT ") + kChannelCols +
                          " FROM alert_channels WHERE enabled = 1 AND (tenant_id IS NULL OR "
                          "tenant_id = $1) ORDER BY id",
                      {tenant}, ReadChannel);
  if (!all) return Unexpected(all.error());
  std::vector<AlertChannel> out;
  for (auto& c : *all)
    if (std::find(c.events.begin(), c.events.end(), event) != c.events.end())
      out.push_back(std::move(c));
  return out;
}

Result<int64_t> Alerts::AddDelivery(Tx& tx, const AlertDelivery& d) {
  auto rows = tx.Query(
      "INSERT INTO alert_deliveries (channel_id, tenant_id, event, payload, status, created_at) "
      "VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
      {d.channel_id, OptParam(d.tenant_id), d.event, d.payload, d.created_at});
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Result<std::optional<AlertDelivery>> Alerts::Delivery(Tx& tx, int64_t id) {
  auto rows =
      QueryAll(tx, std::string("SELECT ") + kDeliveryCols + " FROM alert_deliveries WHERE id = $1",
               {id}, ReadDelivery);
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<AlertDelivery>();
  return std::optional<AlertDelivery>(rows->front());
}

Result<std::vector<AlertDelivery>> Alerts::Deliveries(Tx& tx, int64_t channel_id, int64_t limit) {
  return QueryAll(tx,
                  std::string("SELECT ") + kDeliveryCols +
                      " FROM alert_deliveries WHERE channel_id = $1 ORDER BY id DESC LIMIT $2",
                  {channel_id, limit}, ReadDelivery);
}

Status Alerts::RecordAttempt(Tx& tx, int64_t delivery_id, const std::string& status,
                             const std::optional<std::string>& error, int64_t now_ms,
                             int64_t disable_after) {
  const bool final = status != "pending";
  Params params;
  params.emplace_back(status);
  params.push_back(OptParam(error));
  if (final)
    params.emplace_back(now_ms);
  else
    params.emplace_back(nullptr);
  params.emplace_back(delivery_id);
  auto n = tx.Exec(
      "UPDATE alert_deliveries SET status = $1, attempts = attempts + 1, last_error = $2, "
      "finished_at = $3 WHERE id = $4",
      params);
  if (!n) return n.error();
  if (!final) return Status::Ok();
  auto d = Delivery(tx, delivery_id);
  if (!d) return d.error();
  if (!*d) return Status::Ok();
  if (status == "delivered") {
    auto r = tx.Exec("UPDATE alert_channels SET consecutive_failures = 0 WHERE id = $1",
                     {(*d)->channel_id});
    return r ? Status::Ok() : r.error();
  }
  const std::string reason =
      "switched off after " + std::to_string(disable_after) +
      " failed deliveries in a row; the last: " + error.value_or("unknown error");
  auto r = tx.Exec(
      "UPDATE alert_channels SET consecutive_failures = consecutive_failures + 1, "
      "enabled = CASE WHEN consecutive_failures + 1 >= $2 THEN 0 ELSE enabled END, "
      "disabled_reason = CASE WHEN consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_reason END "
      "WHERE id = $1",
      {(*d)->channel_id, disable_after, reason});
  return r ? Status::Ok() : r.error();
}

}  // namespace ta::store
