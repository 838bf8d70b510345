#include "common/fewshot/session_whole.h"

#include <algorithm>

namespace fedlog::fewshot {

SessionWholeUnits::SessionWholeUnits(size_t max_keys) : max_keys_(std::max<size_t>(max_keys, 1)) {}

WholeUnitStep SessionWholeUnits::Close(uint64_t key, bool detector_alert, uint64_t kind,
                                       const SessionKinds& kinds, KindRule rule,
                                       std::optional<bool> union_alert) {
  auto [it, added] = state_.try_emplace(key);
  if (added) {
    order_.push_back(key);
    if (order_.size() > max_keys_) {
      state_.erase(order_.front());
      order_.pop_front();
      it = state_.find(key);
    }
  }
  State& s = it->second;
  WholeUnitStep step;
  step.piece = ++s.pieces;
  step.piece_alert = kinds.Apply(rule, kind, detector_alert);
  // The earlier pieces' detector alert stands unless the key's union, judged now, does not alert.
  const bool kept = s.detector_alert && (step.piece == 1 || union_alert.value_or(true));
  const bool uncleared = s.detector_alert || detector_alert;  // as if the union had not been judged
  s.detector_alert = kept || detector_alert;
  step.detector_alert = s.detector_alert;
  const bool before = s.alert;
  // The first piece: its kind is the key's, so the union's decision is the piece's.
  s.alert = step.piece == 1 ? step.piece_alert : kinds.Apply(rule, kind, s.detector_alert);
  step.alert = s.alert;
  if (before && !s.alert) {
    // The kind's normal verdict withdraws it whatever the union says; else the union cleared it.
    step.change = kinds.Apply(rule, kind, uncleared) ? WholeUnitChange::kUnionWithdrawn
                                                     : WholeUnitChange::kWithdrawn;
  } else if (!before && s.alert && !step.piece_alert) {
    step.change = WholeUnitChange::kLateAlert;
  }
  return step;
}

void SessionWholeUnits::Clear() {
  state_.clear();
  order_.clear();
}

}  // namespace fedlog::fewshot
