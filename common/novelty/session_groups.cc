#include "common/novelty/session_groups.h"

namespace fedlog::novelty {

namespace {
constexpr uint8_t kNormal = 1, kAnomalous = 2, kNormalBroken = 4;
}  // namespace

void SessionGroups::Add(uint64_t group, int label, bool broken) {
  verdicts_[group] |= label > 0 ? kAnomalous : broken ? kNormal | kNormalBroken : kNormal;
}

int SessionGroups::Label(uint64_t group) const {
  auto it = verdicts_.find(group);
  if (it == verdicts_.end()) return -1;
  const bool normal = it->second & kNormal, anomalous = it->second & kAnomalous;
  if (normal == anomalous) return -1;
  return anomalous ? 1 : 0;
}

GroupDecision SessionGroups::Decide(uint64_t group, bool alert, bool broken,
                                    bool keep_broken) const {
  const int label = Label(group);
  if (label == 0 && alert) {
    auto it = verdicts_.find(group);
    const bool covers_broken = (it->second & kNormalBroken) && !keep_broken;
    return broken && !covers_broken ? GroupDecision::kNone : GroupDecision::kSuppressed;
  }
  if (label == 1 && !alert) return GroupDecision::kRaised;
  return GroupDecision::kNone;
}

}  // namespace fedlog::novelty
