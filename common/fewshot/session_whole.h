// fedlog::fewshot::SessionWholeUnits: whole-unit decisions for the session detector with labels
// (docs/DETECTION.md "Sessions with labels", detect.session_whole_unit). A session key (an HDFS
// block, a Hadoop container) is often closed in several pieces: a write that paused past the quiet
// wait closes, and its replication or deletion closes later as another session of the same key.
// Each piece is decided as it closes; the unit-kind verdicts (SessionKinds) judge the key's exact
// template counts at that close. With whole-unit decisions the kind rule is applied to the key as a
// whole at every later close: the key's decision becomes
//   Apply(rule, the key's kind now (the union of its pieces), the key's detector alert)
// where the key's detector alert (before the kind rule) is whether one of its pieces alerted and
// still stands: with union scoring (novelty::ShapeOptions::union_score, docs/DETECTION.md
// "Sessions"), a later piece whose key's union was judged keeps the earlier pieces' detector alert
// only while the union alerts too. So
//   withdrawal  an earlier piece's alert is withdrawn ("resolved") when the union's kind is
//               labelled normal only (kWithdrawn: the whole unit matches a unit an operator called
//               normal), or when the key's union of pieces no longer alerts (kUnionWithdrawn);
//   late alert  an alert is raised when none of the key's stands and the union's decision alerts:
//               a piece the detector alerted was silenced by its kind at its close, and the key
//               has since grown past that kind (the verdict covered counts the unit no longer
//               has) while its union, when judged, still alerts; or, under
//               KindRule::kSilenceAndRaise, the union's kind is labelled anomalous only.
// One decision per key, which both mechanisms update: a union withdrawal holds at the key's later
// pieces, and nothing is withdrawn twice. A withdrawn alert was still raised: the operator saw it.
// The first piece of a key is decided as before (its kind is the key's kind). Live detection
// (client/detect/label_free.cc) and `fedlog eval newsite`
// (tools/offline/eval_newsite_session_decide.cc) use this class.
// Memory: the state of the last `max_keys` keys closed. Torch-free, gRPC-free. Thread-compatible.
#ifndef FEDLOG_COMMON_FEWSHOT_SESSION_WHOLE_H_
#define FEDLOG_COMMON_FEWSHOT_SESSION_WHOLE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "common/fewshot/session_kinds.h"

namespace fedlog::fewshot {

// What a piece's close did to its key's decision.
enum class WholeUnitChange {
  kNone,       // the piece's own decision (as without whole-unit decisions) stands
  kLateAlert,  // the key alerts now although the piece alone does not and no earlier alert stands
  kWithdrawn,  // the key's standing alert is withdrawn: the union matches a normal verdict
  kUnionWithdrawn,  // the key's standing alert is withdrawn: its union of pieces does not alert
};

struct WholeUnitStep {
  bool alert = false;   // the key's decision after this close
  bool piece_alert = false;  // the piece's own decision (the kind rule on the key's kind now)
  bool detector_alert = false;  // the key's detector alert after this close (before the kind rule)
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
  // and `rule` give the verdicts. `union_alert`: set when the key's union of pieces was judged at
  // this close (novelty::SessionScore::whole), to whether it alerts (SessionScore::union_alert);
  // nullopt without union scoring (the earlier pieces' detector alert then stands). Ignored at a
  // key's first piece. Returns the key's decision and what changed.
  WholeUnitStep Close(uint64_t key, bool detector_alert, uint64_t kind, const SessionKinds& kinds,
                      KindRule rule, std::optional<bool> union_alert = std::nullopt);
  // Forgets every key.
  void Clear();
  size_t keys() const { return state_.size(); }

 private:
  struct State {
    int pieces = 0;
    // Some piece alerted before the kind rule, and no later union cleared it.
    bool detector_alert = false;
    bool alert = false;           // the key's decision now
  };
  size_t max_keys_;
  absl::flat_hash_map<uint64_t, State> state_;
  std::deque<uint64_t> order_;  // keys of state_, oldest first
};

}  // namespace fedlog::fewshot

#endif  // FEDLOG_COMMON_FEWSHOT_SESSION_WHOLE_H_
