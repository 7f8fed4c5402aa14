#include "api/stream_hub.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "api/views.h"
#include "store/accounts.h"
#include "store/notifications.h"
#include "store/runs_repository.h"

namespace ta::api {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

std::string Event(std::string_view name, const json& data, std::optional<int64_t> id = {}) {
  std::string out;
  if (id) out += "id: " + std::to_string(*id) + "\n";
  out += "event: " + std::string(name) +
         "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
  return out;
}

}  // namespace

Result<nlohmann::json> ActiveRunsOf(store::Database& db, int64_t user) {
  return store::ReadResult<json>(db, [&](store::Tx& tx) -> Result<json> {
    auto m = store::Accounts::MembershipsOf(tx, user);
    if (!m) return Unexpected(m.error());
    std::vector<int64_t> tenants;
    for (const auto& x : *m) tenants.push_back(x.tenant_id);
    if (tenants.empty()) return json::array();
    store::RunFilter f;
    f.active_only = true;
    f.limit = 200;
    auto list = store::RunsRepository::List(tx, tenants, f);
    if (!list) return Unexpected(list.error());
    return RunsJson(tx, *list);
  });
}

// One stream: what it has been sent so far.
struct StreamHub::Sub {
  std::shared_ptr<http::StreamSink> sink;
  int64_t user = 0;
  int64_t seen = -1;    // run: updated_at; active: topic version; notifications: last id
  int64_t unread = -1;  // notifications: the unread count last sent
  bool first = true;    // the first chunk also says "reconnect after 3 s"
  bool gone = false;
  SteadyClock::time_point last_push;

  bool Send(std::string_view chunk) {
    if (gone) return false;
    last_push = SteadyClock::now();
    const bool ok = first ? sink->Push("retry: 3000\n" + std::string(chunk)) : sink->Push(chunk);
    first = false;
    if (!ok) gone = true;
    return ok;
  }
  void End() {
    if (!gone) sink->End();
    gone = true;
  }
};

struct StreamHub::Topic {
  StreamFeed::Kind kind;
  int64_t a = 0, b = 0;  // run: tenant, run; user topics: user
  std::vector<Sub> subs;
  bool faulted = false;               // the last poll failed transiently (said so once)
  std::string last_text;              // active: the list last sent
  int64_t version = 0;                // active: bumped when the list changes
  std::set<int64_t> tenants;          // active: the user's tenants when last read
  bool dirty = true;                  // user topics: something changed; read at the next user tick
  SteadyClock::time_point next_poll;  // run topics: next read; user topics: next read regardless
};

StreamHub::StreamHub(ApiContext& ctx) : ctx_(ctx), thread_([this] { Loop(); }) {}

StreamHub::~StreamHub() { Stop(); }

bool StreamHub::Reserve(int64_t user) {
  std::lock_guard lock(mu_);
  int& n = per_user_[user];
  if (stop_ || n >= ctx_.options.max_streams_per_user) return false;
  ++n;
  return true;
}

void StreamHub::Release(int64_t user) {
  std::lock_guard lock(mu_);
  if (--per_user_[user] <= 0) per_user_.erase(user);
}

void StreamHub::Subscribe(const StreamFeed& feed, std::shared_ptr<http::StreamSink> sink) {
  {
    std::lock_guard lock(mu_);
    pending_.emplace_back(feed, std::move(sink));
  }
  cv_.notify_one();
}

void StreamHub::Touch(int64_t user) {
  std::lock_guard lock(mu_);
  touched_.insert(user);
}

void StreamHub::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void StreamHub::Adopt() {
  std::vector<std::pair<StreamFeed, std::shared_ptr<http::StreamSink>>> adopt;
  {
    std::lock_guard lock(mu_);
    adopt.swap(pending_);
  }
  for (auto& [feed, sink] : adopt) {
    const bool run = feed.kind == StreamFeed::Kind::kRun;
    const auto key = std::make_tuple(static_cast<int>(feed.kind),
                                     run ? feed.tenant_id : feed.user_id, run ? feed.run_id : 0);
    auto& topic = topics_[key];
    if (!topic) {
      topic = std::make_unique<Topic>();
      topic->kind = feed.kind;
      topic->a = std::get<1>(key);
      topic->b = std::get<2>(key);
    }
    Sub s;
    s.sink = std::move(sink);
    s.user = feed.user_id;
    if (feed.kind == StreamFeed::Kind::kNotifications) s.seen = feed.after_id;
    s.last_push = SteadyClock::now();
    topic->subs.push_back(std::move(s));
    topic->next_poll = SteadyClock::time_point{};  // read it now
    topic->dirty = true;
  }
}

bool StreamHub::Failed(Topic& t, const Status& s) {
  if (s.transient()) {
    if (!t.faulted)
      for (auto& sub : t.subs) sub.Send(": the database is unavailable; retrying\n\n");
    t.faulted = true;
    return true;
  }
  for (auto& sub : t.subs) {
    sub.Send(Event("error", {{"detail", s.message()}}));
    sub.End();
  }
  return false;
}

void StreamHub::PollRun(Topic& t) {
  auto run = store::ReadResult<store::RunRecord>(
      ctx_.db, [&](store::Tx& tx) { return store::RunsRepository::Get(tx, t.a, t.b); });
  if (!run) {
    Failed(t, run.error());
    return;
  }
  t.faulted = false;
  const bool ended = store::IsTerminal(run->status);
  const std::string end =
      ended ? Event("end", {{"status", store::ToString(run->status)}}) : std::string();
  std::string text;  // the run's event (and the end, in the same chunk)
  for (auto& sub : t.subs) {
    if (sub.gone) continue;
    // An ended run's last state goes to every stream, even one that saw this
    // updated_at: a run can end in the millisecond of its last item, and an
    // equal timestamp must not hide that it ended.
    if (sub.seen != run->updated_at || ended) {
      if (text.empty()) {
        // Words only when a stream needs the run again (not every tick).
        auto words = store::ReadResult<runs::RunWords>(
            ctx_.db, [&](store::Tx& tx) { return runs::DescribeRun(tx, *run); });
        text = Event("run", RunJson(*run, words ? &*words : nullptr), run->updated_at) + end;
      }
      sub.seen = run->updated_at;
      if (!sub.Send(text)) continue;
    }
  }
  // Ended only once every stream has its last event: closing 2,000
  // connections must not delay the event for the streams after the first.
  if (ended)
    for (auto& sub : t.subs) sub.End();
}

void StreamHub::PollActive(Topic& t) {
  auto tenants = store::ReadResult<std::vector<store::Membership>>(
      ctx_.db, [&](store::Tx& tx) { return store::Accounts::MembershipsOf(tx, t.a); });
  if (!tenants) {
    Failed(t, tenants.error());
    return;
  }
  t.tenants.clear();
  for (const auto& m : *tenants) t.tenants.insert(m.tenant_id);
  auto list = ActiveRunsOf(ctx_.db, t.a);
  if (!list) {
    Failed(t, list.error());
    return;
  }
  t.faulted = false;
  const json now = {{"items", std::move(*list)}};
  std::string text = now.dump();
  if (text != t.last_text) {
    t.last_text = std::move(text);
    ++t.version;
  }
  std::string event;
  for (auto& sub : t.subs) {
    if (sub.gone || sub.seen == t.version) continue;
    if (event.empty()) event = Event("active", now);
    sub.seen = t.version;
    sub.Send(event);
  }
}

void StreamHub::PollNotifications(Topic& t) {
  int64_t from = INT64_MAX;
  for (const auto& sub : t.subs)
    if (!sub.gone) from = std::min(from, sub.seen);
  if (from == INT64_MAX) return;
  std::vector<store::Notification> fresh;
  int64_t count = 0;
  Status s = ctx_.db.Read([&](store::Tx& tx) -> Status {
    store::NotificationsRepository::Filter f;
    f.after_id = from;
    f.limit = 100;
    auto list = store::NotificationsRepository::List(tx, t.a, f);
    if (!list) return list.error();
    fresh = std::move(*list);
    auto n = store::NotificationsRepository::UnreadCount(tx, t.a);
    if (!n) return n.error();
    count = *n;
    return Status::Ok();
  });
  if (!s.ok()) {
    Failed(t, s);
    return;
  }
  t.faulted = false;
  std::vector<std::string> events;
  events.reserve(fresh.size());
  for (const auto& n : fresh) events.push_back(Event("notification", NotificationJson(n), n.id));
  for (auto& sub : t.subs) {
    for (size_t i = 0; i < fresh.size() && !sub.gone; ++i) {
      if (fresh[i].id <= sub.seen) continue;
      sub.seen = fresh[i].id;
      sub.Send(events[i]);
    }
    if (!sub.gone && sub.unread != count) {
      sub.unread = count;
      sub.Send(Event("unread", {{"unread_count", count}}));
    }
  }
  // A stream far behind (more than one page) catches up on the next reads.
  if (fresh.size() == 100) t.dirty = true;
}

void StreamHub::Heartbeats() {
  const auto due = SteadyClock::now() - ctx_.options.stream_keepalive;
  for (auto& [key, t] : topics_)
    for (auto& sub : t->subs)
      if (!sub.gone && sub.last_push <= due) sub.Send(": keep-alive\n\n");
}

// Drops streams that ended or whose client went away, and empty topics.
void StreamHub::Sweep() {
  std::map<int64_t, int> released;
  for (auto it = topics_.begin(); it != topics_.end();) {
    auto& subs = it->second->subs;
    for (auto& sub : subs)
      if (!sub.gone && !sub.sink->open()) sub.gone = true;
    for (const auto& sub : subs)
      if (sub.gone) ++released[sub.user];
    subs.erase(std::remove_if(subs.begin(), subs.end(), [](const Sub& s) { return s.gone; }),
               subs.end());
    it = subs.empty() ? topics_.erase(it) : std::next(it);
  }
  if (released.empty()) return;
  std::lock_guard lock(mu_);
  for (const auto& [user, n] : released) {
    if ((per_user_[user] -= n) <= 0) per_user_.erase(user);
  }
}

// Finds the user topics something changed for, and reads those (plus any due
// for their periodic read).
void StreamHub::PollUserTopics() {
  bool any_active = false, any_notes = false;
  for (const auto& [key, t] : topics_) {
    any_active |= t->kind == StreamFeed::Kind::kActiveRuns;
    any_notes |= t->kind == StreamFeed::Kind::kNotifications;
  }
  std::set<int64_t> tenants_changed, users_noted;
  bool all_runs = false, all_notes = false;  // the change query failed or overflowed
  if (any_active) {
    if (runs_mark_ < 0) runs_mark_ = ToUnixMillis(SystemClock::Instance().Now()) - 1000;
    constexpr int64_t kMaxChanges = 5000;
    auto changes =
        store::ReadResult<std::vector<store::RunsRepository::Change>>(ctx_.db, [&](store::Tx& tx) {
          return store::RunsRepository::ChangedSince(tx, runs_mark_, kMaxChanges);
        });
    if (!changes || static_cast<int64_t>(changes->size()) >= kMaxChanges) all_runs = true;
    if (changes)
      for (const auto& c : *changes) {
        tenants_changed.insert(c.tenant_id);
        runs_mark_ = std::max(runs_mark_, c.updated_at);
      }
  }
  if (any_notes) {
    auto newest = store::ReadResult<std::vector<std::pair<int64_t, int64_t>>>(
        ctx_.db, [&](store::Tx& tx) -> Result<std::vector<std::pair<int64_t, int64_t>>> {
          if (notes_mark_ < 0) {
            auto max = store::NotificationsRepository::MaxIdOfAll(tx);
            if (!max) return Unexpected(max.error());
            notes_mark_ = *max;
          }
          return store::NotificationsRepository::NewestPerUserAfter(tx, notes_mark_);
        });
    if (!newest) all_notes = true;
    if (newest)
      for (const auto& [user, id] : *newest) {
        users_noted.insert(user);
        notes_mark_ = std::max(notes_mark_, id);
      }
  }
  {
    std::lock_guard lock(mu_);
    users_noted.insert(touched_.begin(), touched_.end());
    touched_.clear();
  }
  const auto now = SteadyClock::now();
  for (auto& [key, t] : topics_) {
    if (t->kind == StreamFeed::Kind::kRun) continue;
    const bool active = t->kind == StreamFeed::Kind::kActiveRuns;
    if (active && (all_runs || std::any_of(t->tenants.begin(), t->tenants.end(),
                                           [&](int64_t x) { return tenants_changed.count(x); })))
      t->dirty = true;
    if (!active && (all_notes || users_noted.count(t->a))) t->dirty = true;
    if (!t->dirty && now < t->next_poll) continue;
    t->dirty = false;
    t->next_poll = now + std::chrono::seconds(30);
    if (active)
      PollActive(*t);
    else
      PollNotifications(*t);
  }
}

void StreamHub::Loop() {
  auto next_beat = SteadyClock::now() + std::chrono::seconds(1);
  auto next_user_tick = SteadyClock::now();
  while (true) {
    {
      std::unique_lock lock(mu_);
      // With no stream open there is nothing to read; Subscribe wakes it.
      const auto wait =
          topics_.empty() ? std::chrono::milliseconds(1000) : ctx_.options.stream_poll;
      cv_.wait_for(lock, wait, [&] { return stop_ || !pending_.empty(); });
      if (stop_) break;
    }
    Adopt();
    auto now = SteadyClock::now();
    for (auto& [key, t] : topics_) {
      if (t->kind != StreamFeed::Kind::kRun || now < t->next_poll) continue;
      t->next_poll = now + ctx_.options.stream_poll;
      PollRun(*t);
    }
    // New user topics are read at once; the rest at the user tick.
    bool fresh = false;
    for (const auto& [key, t] : topics_)
      fresh |= t->kind != StreamFeed::Kind::kRun && t->next_poll == SteadyClock::time_point{};
    if (fresh || now >= next_user_tick) {
      PollUserTopics();
      next_user_tick = SteadyClock::now() + ctx_.options.user_poll;
    }
    now = SteadyClock::now();
    if (now >= next_beat) {
      Heartbeats();
      next_beat = now + std::chrono::seconds(1);
    }
    Sweep();
  }
  Adopt();
  for (auto& [key, t] : topics_)
    for (auto& sub : t->subs) sub.End();
  topics_.clear();
}

}  // namespace ta::api
