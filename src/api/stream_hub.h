#pragma once

// Feeds every open event stream from one thread. Streams that follow the same
// thing share a topic (a run; a user's active runs; a user's notifications),
// and each topic is read from the database once per poll, however many
// streams follow it; the result fans out to each stream's sink, which writes
// without blocking (a slow reader is dropped by the connection layer, never
// waited for). A stream costs memory, not a thread and not a query.
//
// Run topics are read every `stream_poll` (20 ms by default): one primary-key
// read per followed run. User topics are read only when something of theirs
// changed: every `user_poll` one indexed query finds the tenants whose runs
// moved and one finds the users with new notifications, and only those topics
// are read (Touch marks a user whose notifications were read here). Each user
// topic is also read every 30 s regardless, for changes made where this
// process cannot see them (another node marking notifications read). Every
// stream gets a comment every `stream_keepalive` when it has had nothing
// else, so proxies keep idle streams open.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "api/context.h"
#include "api/http.h"
#include "http/limits.h"
#include "store/runs_repository.h"

namespace ta::api {

// Queued and running runs across every tenant `user` belongs to, newest first,
// with their words, as a JSON array (GET /runs/active and its stream).
Result<nlohmann::json> ActiveRunsOf(store::Database& db, int64_t user);

class StreamHub {
 public:
  explicit StreamHub(ApiContext& ctx);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  // Takes one of `user`'s streams (at most options.max_streams_per_user);
  // false when all are in use. Subscribe uses it; Release gives back an unused one.
  bool Reserve(int64_t user);
  void Release(int64_t user);
  // Starts feeding `sink` with `feed`; its first events go out at once.
  void Subscribe(const StreamFeed& feed, std::shared_ptr<http::StreamSink> sink);
  // `user`'s notifications changed in a way new ids do not show (read).
  void Touch(int64_t user);
  // Ends every stream and stops feeding.
  void Stop();

 private:
  struct Sub;
  struct Topic;
  void Loop();
  void Adopt();
  void PollRun(Topic& t);
  void PollActive(Topic& t);
  void PollNotifications(Topic& t);
  bool Failed(Topic& t, const Status& s);  // false: the topic's streams were ended
  void PollUserTopics();
  void Heartbeats();
  void Sweep();

  ApiContext& ctx_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::vector<std::pair<StreamFeed, std::shared_ptr<http::StreamSink>>>
      pending_;                      // GUARDED_BY(mu_)
  std::map<int64_t, int> per_user_;  // GUARDED_BY(mu_)
  std::set<int64_t> touched_;        // GUARDED_BY(mu_)
  // Hub thread only.
  int64_t runs_mark_ = -1;   // runs changed at or after this (ms) are looked at next
  int64_t notes_mark_ = -1;  // notifications above this id are looked at next
  std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<Topic>> topics_;
  std::thread thread_;
};

}  // namespace ta::api
