// fedlog::fewshot::SessionKinds: unit-kind verdicts for the session detector with labels
// (docs/DETECTION.md "Sessions with labels"). A session unit (every line with the same session key:
// an HDFS block, a Hadoop container) has a *kind* at each moment: its templates with their exact
// counts over its lines so far, as one 64-bit key (KindOf). A verdict on a session labels the kind
// its key had when that session closed. A later closing session whose key has, at its close, a kind
// labelled normal only is silenced (the rule kSilence); with kSilenceAndRaise a kind labelled
// anomalous only also alerts. A kind labelled both ways decides nothing. Exact kinds, not a
// similarity bar: with kExact a label never silences a session the session detector caught unless the
// operator called a unit with exactly its key's events normal (docs/EVALUATION.md "Session 13").
// Live detection (client/detect/label_free.h) and `fedlog eval newsite` use this class.
// Memory: the counts of the last `max_keys` keys seen, and the labelled kinds.
// Torch-free and gRPC-free. Thread-compatible: the const methods may run concurrently.
#ifndef FEDLOG_COMMON_FEWSHOT_SESSION_KINDS_H_
#define FEDLOG_COMMON_FEWSHOT_SESSION_KINDS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace fedlog::fewshot {

// kOff: no unit-kind verdicts. kSilence: a kind labelled normal only silences. kSilenceAndRaise: also a
// kind labelled anomalous only alerts. kExact: as kSilence, and a normal verdict's shape group (the
// sessions of the same shape in other units, novelty::SessionGroups) no longer silences: only the
// exact unit kind does (the caller applies that part; anomalous group verdicts still alert).
enum class KindRule { kOff, kSilence, kSilenceAndRaise, kExact };
// "off", "silence", "raise", "exact" (detect.session_kind_rule, eval newsite's --session-kind-rule).
std::string_view KindRuleName(KindRule rule);
// InvalidArgument for any other name.
absl::StatusOr<KindRule> ParseKindRule(std::string_view name);

class SessionKinds {
 public:
  static constexpr size_t kDefaultMaxKeys = 65536;
  // max_keys >= 1 (clamped).
  explicit SessionKinds(size_t max_keys = kDefaultMaxKeys);

  // A line of session `key` with Drain template `template_id`: the key's counts grow by one.
  void AddLine(uint64_t key, int32_t template_id);
  // The kind of `key` now (never 0 for a known key); 0 when the key is unknown or was forgotten.
  uint64_t KindOf(uint64_t key) const;
  // The kind of a count vector given as (template, count) pairs in any order (0 when empty).
  static uint64_t KindOfCounts(const absl::flat_hash_map<int32_t, int64_t>& counts);

  // Forgets every label (the counts stay).
  void ClearLabels();
  // Labels `kind` (1 anomalous, 0 normal; both may be given). Kind 0 is ignored.
  void Label(uint64_t kind, int label);
  // What the labels say about `kind`: 1 when labelled anomalous only, 0 normal only, else nullopt.
  std::optional<int> Decide(uint64_t kind) const;
  // A session's alert after the rule: `alert` is the verdicts' decision on a session whose key had
  // `kind` at its close.
  bool Apply(KindRule rule, uint64_t kind, bool alert) const;
  size_t labels() const { return labelled_.size(); }
  size_t keys() const { return counts_.size(); }

 private:
  size_t max_keys_;
  absl::flat_hash_map<uint64_t, absl::flat_hash_map<int32_t, int64_t>> counts_;
  std::deque<uint64_t> order_;  // keys of counts_, oldest first
  absl::flat_hash_map<uint64_t, uint8_t> labelled_;  // kind -> bit 0: normal, bit 1: anomalous
};

}  // namespace fedlog::fewshot

#endif  // FEDLOG_COMMON_FEWSHOT_SESSION_KINDS_H_
