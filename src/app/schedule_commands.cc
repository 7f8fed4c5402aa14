// `tenantatlas schedule add|list|next|slots|remove`: schedules from the
// command line (as a platform admin), through schedule::ScheduleService like
// the API.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/db_commands.h"
#include "core/clock.h"
#include "schedule/service.h"
#include "store/accounts.h"

namespace ta::app {
namespace {

using nlohmann::json;

struct ScheduleArgs {
  std::string db_url = kDefaultDatabase;
  std::string name, cron, time_zone = "UTC", tag, operation = "backup";
  std::vector<std::string> tenants;
  int64_t jitter_seconds = 0, id = 0;
  size_t count = 5;
  bool disabled = false;
};

int Fail(std::ostream& err, const Status& s, int code = 1) {
  err << "error: " << s.message() << "\n";
  return code;
}

// Tenant ids, from ids or names.
Result<std::vector<int64_t>> ResolveTenants(store::Database& db,
                                            const std::vector<std::string>& given) {
  return store::ReadResult<std::vector<int64_t>>(
      db, [&](store::Tx& tx) -> Result<std::vector<int64_t>> {
        std::vector<int64_t> out;
        for (const auto& t : given) {
          auto id = store::Accounts::TenantIdByName(tx, t);
          if (!id) return Unexpected(id.error());
          if (*id) {
            out.push_back(**id);
            continue;
          }
          char* end = nullptr;
          const long long n = std::strtoll(t.c_str(), &end, 10);
          if (end && *end == '\0' && n > 0) {
            out.push_back(n);
            continue;
          }
          return Unexpected(Status::InvalidArgument("--tenant: no tenant named \"" + t + "\""));
        }
        return out;
      });
}

void PrintNext(const json& next, std::ostream& out) {
  for (const auto& n : next)
    out << "  " << n["label"].get<std::string>() << "  (" << n["at"].get<std::string>() << ")\n";
}

int Add(const ScheduleArgs& a, std::ostream& out, std::ostream& err) {
  auto db = store::OpenDatabase(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  schedule::ScheduleInput in;
  in.name = a.name;
  in.cron = a.cron;
  in.time_zone = a.time_zone;
  if (!a.tenants.empty()) {
    auto ids = ResolveTenants(**db, a.tenants);
    if (!ids) return Fail(err, ids.error(), 2);
    in.tenant_ids = *ids;
  }
  if (!a.tag.empty()) in.tag = a.tag;
  in.jitter_seconds = a.jitter_seconds;
  in.operation = a.operation;
  in.enabled = !a.disabled;
  schedule::ScheduleService service(**db, SystemClock::Instance());
  auto s = service.Create(schedule::CommandLineActor(), in);
  if (!s) return Fail(err, s.error(), 2);
  auto j = service.Json(*s, 5);
  if (!j) return Fail(err, j.error());
  out << "schedule " << s->id << " " << s->name << ": " << (*j)["targets"].get<int64_t>()
      << ((*j)["targets"].get<int64_t>() == 1 ? " tenant" : " tenants")
      << " now; next fire times:\n";
  PrintNext((*j)["next"], out);
  return 0;
}

int List(const ScheduleArgs& a, std::ostream& out, std::ostream& err) {
  auto db = store::OpenDatabase(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  schedule::ScheduleService service(**db, SystemClock::Instance());
  auto list = service.List(schedule::CommandLineActor());
  if (!list) return Fail(err, list.error());
  if (list->empty()) out << "no schedules\n";
  for (const auto& s : *list) {
    auto j = service.Json(s, 1);
    if (!j) return Fail(err, j.error());
    out << s.id << "  " << s.name << "  \"" << s.cron << "\" " << s.time_zone << "  "
        << (*j)["targets"].get<int64_t>()
        << ((*j)["targets"].get<int64_t>() == 1 ? " tenant" : " tenants")
        << (s.tag ? " tagged " + *s.tag : std::string()) << "  "
        << (s.enabled
                ? ((*j)["next"].empty() ? ""
                                        : "next " + (*j)["next"][0]["label"].get<std::string>())
                : "off")
        << "\n";
  }
  return 0;
}

int Next(const ScheduleArgs& a, std::ostream& out, std::ostream& err) {
  auto next = schedule::PreviewJson(a.cron, a.time_zone, SystemClock::Instance().Now(), a.count);
  if (!next) return Fail(err, next.error(), 2);
  PrintNext(*next, out);
  return 0;
}

int Slots(const ScheduleArgs& a, std::ostream& out, std::ostream& err) {
  auto db = store::OpenDatabase(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  schedule::ScheduleService service(**db, SystemClock::Instance());
  auto slots = service.SlotsJson(schedule::CommandLineActor(), a.id, static_cast<int64_t>(a.count));
  if (!slots) return Fail(err, slots.error());
  if (slots->empty()) out << "no slot has fired yet\n";
  for (const auto& s : *slots) {
    out << s["slot_at"].get<std::string>() << "  " << s["state"].get<std::string>() << "  "
        << s["fires"].size() << "/" << s["tenants"].get<int64_t>() << " tenants started  by "
        << s["decided_by"].get<std::string>();
    if (s["missed_count"].get<int64_t>() > 0)
      out << "  (catch-up for " << s["missed_count"].get<int64_t>() << " missed slots)";
    out << "\n";
  }
  return 0;
}

int Remove(const ScheduleArgs& a, std::ostream& out, std::ostream& err) {
  auto db = store::OpenDatabase(a.db_url);
  if (!db) return Fail(err, db.error(), 2);
  schedule::ScheduleService service(**db, SystemClock::Instance());
  if (Status s = service.Delete(schedule::CommandLineActor(), a.id); !s.ok()) return Fail(err, s);
  out << "schedule " << a.id << " removed\n";
  return 0;
}

}  // namespace

void AddScheduleCommands(CLI::App& app, Commands& out) {
  auto* schedule = app.add_subcommand("schedule", "Scheduled backups");
  schedule->require_subcommand(1);
  auto add = [&](const char* name, const char* help) {
    auto a = std::make_shared<ScheduleArgs>();
    auto* cmd = schedule->add_subcommand(name, help);
    return std::make_pair(cmd, a);
  };
  {
    auto made = add("add", "Create a schedule (a sync and a backup set per tenant at each slot)");
    auto* cmd = made.first;
    auto a = made.second;
    AddDbOption(cmd, a->db_url);
    cmd->add_option("--name", a->name, "Schedule name (unique)")->required();
    cmd->add_option("--cron", a->cron, "Five fields, such as \"30 2 * * *\", or @daily")
        ->required();
    cmd->add_option("--time-zone", a->time_zone, "IANA time zone, such as Europe/Berlin")
        ->capture_default_str();
    cmd->add_option("--tenant", a->tenants, "Tenant id or name (repeat; none: every tenant)");
    cmd->add_option("--tag", a->tag, "Only tenants with this tag");
    cmd->add_option("--operation", a->operation,
                    "backup, drift (drift detection) or backup_and_drift")
        ->capture_default_str();
    cmd->add_option("--jitter", a->jitter_seconds,
                    "Spread the tenants' starts over this many seconds after each slot");
    cmd->add_flag("--disabled", a->disabled, "Create it switched off");
    out.push_back({cmd, [a] { return Add(*a, std::cout, std::cerr); }});
  }
  {
    auto made = add("list", "List schedules with their next fire time");
    auto* cmd = made.first;
    auto a = made.second;
    AddDbOption(cmd, a->db_url);
    out.push_back({cmd, [a] { return List(*a, std::cout, std::cerr); }});
  }
  {
    auto made = add("next", "Print the next fire times of a cron expression in a time zone");
    auto* cmd = made.first;
    auto a = made.second;
    cmd->add_option("--cron", a->cron, "Five fields, such as \"30 2 * * *\"")->required();
    cmd->add_option("--time-zone", a->time_zone, "IANA time zone")->capture_default_str();
    cmd->add_option("--count", a->count, "How many")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    out.push_back({cmd, [a] { return Next(*a, std::cout, std::cerr); }});
  }
  {
    auto made = add("slots", "The slots a schedule fired, newest first");
    auto* cmd = made.first;
    auto a = made.second;
    AddDbOption(cmd, a->db_url);
    cmd->add_option("--id", a->id, "Schedule id")->required();
    cmd->add_option("--count", a->count, "How many")
        ->capture_default_str()
        ->check(CLI::Range(1, 200));
    out.push_back({cmd, [a] { return Slots(*a, std::cout, std::cerr); }});
  }
  {
    auto made = add("remove", "Delete a schedule (runs it started stay)");
    auto* cmd = made.first;
    auto a = made.second;
    AddDbOption(cmd, a->db_url);
    cmd->add_option("--id", a->id, "Schedule id")->required();
    out.push_back({cmd, [a] { return Remove(*a, std::cout, std::cerr); }});
  }
}

}  // namespace ta::app
