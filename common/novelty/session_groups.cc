#include "common/novelty/session_groups.h"

namespace fedlog::novelty {

void SessionGroups::Add(uint64_t group, int label) {
  verdicts_[group] |= label > 0 ? 2 : 1;
}

int SessionGroups::Label(uint64_t group) const {
  auto it = verdicts_.find(group);
  if (it == verdicts_.end() || it->second == 3) return -1;
  return it->second == 2 ? 1 : 0;
}

GroupDecision SessionGroups::Decide(uint64_t group, bool alert, bool broken,
                                    bool keep_broken) const {
  const int label = Label(group);
  if (label == 0 && alert && !(broken && keep_broken)) return GroupDecision::kSuppressed;
  if (label == 1 && !alert) return GroupDecision::kRaised;
  return GroupDecision::kNone;
}

}  // namespace fedlog::novelty
