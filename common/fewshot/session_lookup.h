// fedlog::fewshot::SessionLookup: the label lookup of the session detector with labels
// (docs/DETECTION.md "Sessions with labels"), live. A session unit (every line with the same session
// key: an HDFS block, a Hadoop container) is the set of its lines' tokens (AddTokens: the template and
// the digit-free words), gathered as its lines arrive. When a session of a key closes, a labelled unit
// that shares at least `match` of the key's tokens so far decides it (FewShotDetector::Decide with
// match = normal_match = `match`: an anomalous label alerts, a normal one silences; a tie between the
// classes decides nothing); otherwise the session detector's decision stands. `fedlog eval newsite`
// measures the same rule on whole units (tools/offline/eval_newsite_session_lookup.cc).
// Labels are given again as a whole (ClearLabels, Label for each, Fit). A labelled key keeps the
// tokens it had when last labelled, so it still decides after its own tokens are forgotten.
// Memory: the tokens of the last `max_keys` keys seen, and of the labelled keys.
// Torch-free and gRPC-free. Thread-compatible: Decide is const.
#ifndef FEDLOG_COMMON_FEWSHOT_SESSION_LOOKUP_H_
#define FEDLOG_COMMON_FEWSHOT_SESSION_LOOKUP_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/fewshot/fewshot.h"

namespace fedlog::fewshot {

class SessionLookup {
 public:
  static constexpr size_t kDefaultMaxKeys = 65536;
  // The default bar (detect.session_lookup_match, eval newsite's --session-lookup-match): 0, off.
  // 0.9 won on the session systems' tuning parts (HDFS labels from the first 15% or 5%, measured on
  // 15-30% or 5-30%; Hadoop 15% / 15-30%; 1, 0.95, 0.9, 0.8 tried) but on the test parts it silenced
  // anomalous HDFS blocks and Hadoop applications the session detector alone alerts on, so labels
  // made the site worse than k = 0 (docs/EVALUATION.md "Session 12"). Off until a rule passes both.
  static constexpr double kDefaultMatch = 0.0;
  // InvalidArgument unless match is in (0, 1] and max_keys >= 1.
  static absl::StatusOr<SessionLookup> Create(double match, size_t max_keys = kDefaultMaxKeys);

  // A line of session `key` (its Drain template and message): its tokens join the key's unit.
  void AddLine(uint64_t key, int32_t template_id, std::string_view content);
  // Forgets every label (the tokens of labelled keys are kept for the next Label of the same key).
  void ClearLabels();
  // Labels the unit of `key` (1 anomalous, 0 normal; the highest label given to a key wins) with its
  // tokens now (or, once forgotten, those of its last Label). A key with no tokens known is ignored.
  // Takes effect at Fit.
  void Label(uint64_t key, int label);
  // Builds the lookup from the labels given since ClearLabels.
  void Fit();
  // What the labels say about the unit of `key` now: nullopt when no labelled unit decides it.
  std::optional<FewShotDetector::Decision> Decide(uint64_t key) const;
  size_t labels() const { return labels_.size(); }
  size_t keys() const { return tokens_.size(); }

 private:
  SessionLookup() = default;
  FewShotOptions options_;
  size_t max_keys_ = kDefaultMaxKeys;
  absl::flat_hash_map<uint64_t, Unit> tokens_;  // per recent key: its unit (tokens sorted, unique)
  std::deque<uint64_t> order_;                   // keys of tokens_, oldest first
  absl::flat_hash_map<uint64_t, Unit> labelled_tokens_;  // per labelled key: its unit when labelled
  absl::flat_hash_map<uint64_t, int> labels_;
  std::optional<FewShotDetector> detector_;
};

}  // namespace fedlog::fewshot

#endif  // FEDLOG_COMMON_FEWSHOT_SESSION_LOOKUP_H_
