// fedlog::fewshot::SessionWholeUnits: whole-unit decisions for the session detector with labels
// (docs/DETECTION.md "Sessions with labels", detect.session_whole_unit). A session key (an HDFS
// block, a Hadoop container) is often closed in several pieces: a write that paused past the quiet
// wait closes, and its replication or deletion closes later as another session of the same key.
// Each piece is decided as it closes; the unit-kind verdicts (SessionKinds) judge the key's exact
// template counts at that close. With whole-unit decisions the kind rule is applied to the key as a
// whole at every later close: the key's decision becomes
//   Apply(rule, the key's kind now (the union of its pieces), any of its pieces alerted before the
//   kind rule)
// so that
//   withdrawal  an earlier piece's alert is withdrawn ("resolved") when the union's kind is labelled
//               normal only: the whole unit matches a unit an operator called normal;
//   late alert  an alert is raised when none of the key's stands and the union's decision alerts: a
//               piece the detector alerted was silenced by its kind at its close, and the key has
//               since grown past that kind (the verdict covered counts the unit no longer has); or,
//               under KindRule::kSilenceAndRaise, the union's kind is labelled anomalous only.
// A withdrawn alert was still raised: the operator saw it. The first piece of a key is decided as
// before (its kind is the key's kind). Live detection (client/detect/label_free.cc) and
// `fedlog eval newsite` (tools/offline/eval_newsite_session_labels.cc) use this class.
// Memory: the state of the last `max_keys` keys closed. Torch-free, gRPC-free. Thread-compatible.
#ifndef FEDLOG_COMMON_FEWSHOT_SESSION_WHOLE_H_
#define FEDLOG_COMMON_FEWSHOT_SESSION_WHOLE_H_

#include <cstddef>
#include <cstdint>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "common/fewshot/session_kinds.h"

namespace fedlog::fewshot {

// What a piece's close did to its key's decision.
enum class WholeUnitChange {
  kNone,       // the piece's own decision (as without whole-unit decisions) stands
  kLateAlert,  // the key alerts now although the piece alone does not and no earlier alert stands
  kWithdrawn,  // the key's standing alert is withdrawn: the union matches a normal verdict
};

struct WholeUnitStep {
  bool alert = false;   // the key's decision after this close
  bool piece_alert = false;  // the piece's own decision (the kind rule on the key's kind now)
  int piece = 0;        // 1 for a key's first piece, 2 for its second, ...
  WholeUnitChange change = WholeUnitChange::kNone;
};

class SessionWholeUnits {
 public:
  static constexpr size_t kDefaultMaxKeys = 65536;
  // max_keys >= 1 (clamped).
  explicit SessionWholeUnits(size_t max_keys = kDefaultMaxKeys);

  // A piece of `key` closed. `detector_alert`: its decision before the kind rule (threshold, group
  // and lookup); `kind`: the key's kind now (SessionKinds::KindOf, the union of its pieces); `kinds`
  // and `rule` give the verdicts. Returns the key's decision and what changed.
  WholeUnitStep Close(uint64_t key, bool detector_alert, uint64_t kind, const SessionKinds& kinds,
                      KindRule rule);
  // Forgets every key.
  void Clear();
  size_t keys() const { return state_.size(); }

 private:
  struct State {
    int pieces = 0;
    bool detector_alert = false;  // some piece alerted before the kind rule
    bool alert = false;           // the key's decision now
  };
  size_t max_keys_;
  absl::flat_hash_map<uint64_t, State> state_;
  std::deque<uint64_t> order_;  // keys of state_, oldest first
};

}  // namespace fedlog::fewshot

#endif  // FEDLOG_COMMON_FEWSHOT_SESSION_WHOLE_H_
