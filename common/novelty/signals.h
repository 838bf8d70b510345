// The raw label-free signals of one site's stream. Each tracker sees lines in stream order and answers
// for a line from what came BEFORE it (Score), then learns it (Observe): exactly what live detection
// can do. Values are non-negative surprises in nats (0 = nothing unusual); scorer.h ranks each against
// its own history and fuses them.
//   TemplateCounts  template novelty and rarity: -log of the line's template frequency so far
//   RateTracker     bursts: the line's key (template, component, host) occurs more often in the current
//                   time bucket than its decayed average rate predicts (Poisson likelihood ratio)
//   ParamValues     an unusual value at one parameter position of a template (Good-Turing for unseen
//                   values, so a free-form field such as a number never surprises, a usually fixed one does)
//   AlarmRecurrence how often the line's template already came on alarm lines (the scorer counts lines
//                   of a severe level): an incident repeats one severe event, a dump prints many rare ones;
//                   also as a rate since the template's first alarm line
//   SequenceModel   per session (block id, host): the next template's surprise given the previous one,
//                   counted only when it is outside the top-g successors (DeepLog's rule)
//   LevelShare      how rarely a key (the line's component) logs at a severe level: a component that
//                   usually logs at INFO says something new with an ERROR, a program that logs
//                   everything at ERROR does not
// Memory is bounded by the options (keys and values beyond the caps are not remembered).
// Thread-compatible: each tracker is used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_SIGNALS_H_
#define FEDLOG_COMMON_NOVELTY_SIGNALS_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace fedlog::novelty {

class TemplateCounts {
 public:
  // -log((count(id) + 0.5) / (total + 1)); the first line ever scores 0.
  double Score(int32_t id) const;
  // Lines of template `id` seen so far.
  int64_t Count(int32_t id) const;
  void Observe(int32_t id);
  int64_t total() const { return total_; }

 private:
  absl::flat_hash_map<int32_t, int64_t> counts_;
  int64_t total_ = 0;
};

struct RateOptions {
  int64_t bucket_width = 60000;  // ticks per bucket: ms of log time, or lines when a line has no time
  double decay = 0.05;           // EWMA weight of each finished bucket (empty buckets included)
  double floor_rate = 0.1;       // expected count per bucket for a key never seen
  size_t max_keys = 200000;      // further new keys are not tracked (score 0)
};

class RateTracker {
 public:
  explicit RateTracker(const RateOptions& options = {});
  // Surprise of one more occurrence of `key` at `tick` beyond the key's expected count per bucket:
  // c*log(c/m) - (c - m) for c = occurrences in tick's bucket including this one and m the decayed
  // mean (at least floor_rate); 0 when c <= m. Ticks should not go backwards much: an older tick is
  // counted in the current bucket.
  double Score(uint64_t key, int64_t tick) const;
  void Observe(uint64_t key, int64_t tick);

 private:
  struct State {
    int64_t bucket = 0;
    double count = 0;  // occurrences in `bucket`
    double mean = 0;   // decayed mean count per bucket before `bucket`
  };
  // The state as of `bucket` (folding finished buckets into the mean), without storing it.
  State Advance(const State& s, int64_t bucket) const;

  RateOptions options_;
  absl::flat_hash_map<uint64_t, State> keys_;
};

struct ParamOptions {
  int64_t min_count = 20;       // a position scores only after this many values
  size_t max_distinct = 512;    // per position; beyond it new values are not remembered
  size_t max_positions = 100000;
};

class ParamValues {
 public:
  explicit ParamValues(const ParamOptions& options = {});
  // The largest surprise over the line's parameter positions: -log(p) with p = c / (n + 1) for a value
  // seen c times among n, and p = max(n1, 0.5) / (n + 1) for an unseen one (n1: values seen exactly
  // once, the Good-Turing estimate of the chance of something new). `which` (optional) gets the
  // position that scored highest (-1 when none).
  double Score(int32_t template_id, const std::vector<std::string_view>& params,
               int* which = nullptr) const;
  void Observe(int32_t template_id, const std::vector<std::string_view>& params);
  // The share of `value` among the values seen so far at the template's `position`: c / (n + 1) for
  // a value seen c times among n; 0 for an unseen value or an untracked position.
  double Share(int32_t template_id, size_t position, std::string_view value) const;

 private:
  struct Position {
    int64_t n = 0;
    int64_t singletons = 0;
    absl::flat_hash_map<uint64_t, int64_t> values;  // value hash -> count
  };
  static uint64_t Key(int32_t template_id, size_t position);

  ParamOptions options_;
  absl::flat_hash_map<uint64_t, Position> positions_;
};

class AlarmRecurrence {
 public:
  explicit AlarmRecurrence(size_t max_templates = 200000) : max_templates_(max_templates) {}
  // ln(1 + earlier alarm lines of `template_id`); 0 for a template never seen on an alarm line.
  double Score(int32_t template_id) const;
  // The same count as a rate since the template's first alarm line: ln(1 + n x scale / (scale + a)),
  // n its earlier alarm lines and a = `now` minus the line of the first of them (scale > 0, in the
  // unit of `now`). A template that recurs steadily keeps about ln(1 + its rate x scale) however old
  // it is; one that recurs quickly after it first came keeps its whole count. 0 when never seen.
  double RateScore(int32_t template_id, int64_t now, double scale) const;
  // Counts the line (at stream position `now`) when it is an alarm line; further templates beyond
  // the cap are not counted.
  void Observe(int32_t template_id, bool alarm, int64_t now = 0);

 private:
  struct Counts {
    int64_t count = 0;
    int64_t first = 0;  // stream position of the first alarm line
  };
  size_t max_templates_;
  absl::flat_hash_map<int32_t, Counts> counts_;
};

class LevelShare {
 public:
  explicit LevelShare(size_t max_keys = 100000) : max_keys_(max_keys) {}
  // -ln((severe + 0.5) / (lines + 1)) over the key's earlier lines, at most `cap` (>= 0): near 0 when all
  // of them were severe, ln 2 for a key never seen. Past max_keys new keys are not tracked (ln 2).
  double Surprise(uint64_t key, double cap) const;
  void Observe(uint64_t key, bool severe);

 private:
  struct Counts {
    int64_t lines = 0;
    int64_t severe = 0;
  };
  size_t max_keys_;
  absl::flat_hash_map<uint64_t, Counts> counts_;
};

struct SequenceOptions {
  int top_g = 3;                // DeepLog's g: the next template must be among the g likeliest
  int64_t min_support = 10;     // transitions out of the previous template before it may score
  size_t max_sessions = 200000;  // live sessions remembered; all are forgotten when exceeded
};

class SequenceModel {
 public:
  explicit SequenceModel(const SequenceOptions& options = {});
  // Surprise of `next` after the session's previous template (or the session start):
  // -log((c + 0.5) / (n + 1)) when `next` is not among the top_g successors and n >= min_support,
  // else 0. `top_g_miss` (optional) reports the top-g test alone.
  double Score(uint64_t session, int32_t next, bool* top_g_miss = nullptr) const;
  void Observe(uint64_t session, int32_t next);

 private:
  static constexpr int32_t kStart = -2;
  struct Successors {
    int64_t total = 0;
    absl::flat_hash_map<int32_t, int64_t> next;
  };
  int32_t Previous(uint64_t session) const;

  SequenceOptions options_;
  absl::flat_hash_map<int32_t, Successors> transitions_;
  absl::flat_hash_map<uint64_t, int32_t> last_;  // session -> last template
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_SIGNALS_H_
