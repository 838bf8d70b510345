// NgramModel: a next-event model over the last h templates of a session, with backoff (DeepLog's
// top-g rule on a windowed n-gram instead of an LSTM). For each context length L = h .. 0 it counts
// which template followed the last L templates of a session; a next event is judged by the longest
// context that has at least `min_support` observations (shorter ones are the backoff), and it is a
// "miss" when it is not among that context's `top_g` most frequent successors (ties with the g-th
// count are in). Used online (score, then learn) or trained on one set of sessions and frozen
// (`fedlog eval newsite`'s DeepLog-style baseline).
// Memory: at most `max_contexts` contexts (later new ones are not remembered: they back off) and
// `max_sessions` open session histories (all are forgotten when exceeded).
// Thread-compatible: one instance is used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_NGRAM_H_
#define FEDLOG_COMMON_NOVELTY_NGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace fedlog::novelty {

struct NgramOptions {
  int history = 10;            // h: templates of context (DeepLog's window); 1 = first-order
  int top_g = 9;               // g: the next template must be among the g likeliest (DeepLog's g)
  int64_t min_support = 10;    // observations a context needs to judge; else it backs off
  size_t max_contexts = 500000;
  size_t max_sessions = 200000;
  // InvalidArgument naming the field when out of range.
  absl::Status Validate() const;
};

struct NextEvent {
  bool judged = false;   // some context had min_support observations
  bool miss = false;     // not among the top_g successors of the context used
  double surprise = 0;   // -log((c + 0.5) / (n + 1)) in that context when a miss, else 0
  int context = -1;      // length of the context used (-1: none)
};

class NgramModel {
 public:
  // Options must Validate(); the caller checks.
  explicit NgramModel(const NgramOptions& options = {});

  // `next` as the session's next event, from what was learnt so far (learns nothing).
  NextEvent Score(uint64_t session, int32_t next) const;
  // Learns the transition into `next` (every context length) and appends it to the session.
  void Observe(uint64_t session, int32_t next);
  // Appends `next` to the session's history without learning the transition (scoring a test
  // session against a frozen model).
  void Advance(uint64_t session, int32_t next);
  // Forgets a session's history (it ended).
  void EndSession(uint64_t session) { history_.erase(session); }
  size_t contexts() const { return contexts_.size(); }

 private:
  struct Successors {
    int64_t total = 0;
    absl::flat_hash_map<int32_t, int64_t> next;
  };
  // Hash of the last `length` templates of `h` (with the length mixed in; 0 = the empty context).
  static uint64_t ContextKey(const std::vector<int32_t>& h, int length);
  const std::vector<int32_t>* History(uint64_t session) const;
  void Append(uint64_t session, int32_t next);

  NgramOptions options_;
  absl::flat_hash_map<uint64_t, Successors> contexts_;
  absl::flat_hash_map<uint64_t, std::vector<int32_t>> history_;  // last `history` templates
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_NGRAM_H_
