#include "common/fewshot/session_kinds.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/mix64.h"

namespace fedlog::fewshot {
std::string_view KindRuleName(KindRule rule) {
  switch (rule) {
    case KindRule::kOff:
      return "off";
    case KindRule::kSilence:
      return "silence";
    case KindRule::kSilenceAndRaise:
      return "raise";
    case KindRule::kExact:
      return "exact";
  }
  return "off";
}

absl::StatusOr<KindRule> ParseKindRule(std::string_view name) {
  for (KindRule r : {KindRule::kOff, KindRule::kSilence, KindRule::kSilenceAndRaise, KindRule::kExact}) {
    if (name == KindRuleName(r)) return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("session kind rule must be off, silence, raise or exact, not '", std::string(name), "'"));
}

SessionKinds::SessionKinds(size_t max_keys) : max_keys_(std::max<size_t>(max_keys, 1)) {}

void SessionKinds::AddLine(uint64_t key, int32_t template_id) {
  auto [it, added] = counts_.try_emplace(key);
  if (added) {
    order_.push_back(key);
    if (order_.size() > max_keys_) {
      counts_.erase(order_.front());
      order_.pop_front();
      it = counts_.find(key);
    }
  }
  ++it->second[template_id];
}

uint64_t SessionKinds::KindOfCounts(const absl::flat_hash_map<int32_t, int64_t>& counts) {
  if (counts.empty()) return 0;
  std::vector<std::pair<int32_t, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  uint64_t h = SplitMix64(sorted.size());
  for (const auto& [t, c] : sorted) {
    h = SplitMix64(h ^ SplitMix64(static_cast<uint64_t>(static_cast<uint32_t>(t))));
    h = SplitMix64(h ^ static_cast<uint64_t>(c));
  }
  return h == 0 ? 1 : h;
}

uint64_t SessionKinds::KindOf(uint64_t key) const {
  const auto it = counts_.find(key);
  return it == counts_.end() ? 0 : KindOfCounts(it->second);
}

void SessionKinds::ClearLabels() { labelled_.clear(); }

void SessionKinds::Label(uint64_t kind, int label) {
  if (kind == 0) return;
  labelled_[kind] |= label > 0 ? 2 : 1;
}

std::optional<int> SessionKinds::Decide(uint64_t kind) const {
  const auto it = labelled_.find(kind);
  if (it == labelled_.end() || it->second == 3) return std::nullopt;
  return it->second == 2 ? 1 : 0;
}

bool SessionKinds::Apply(KindRule rule, uint64_t kind, bool alert) const {
  if (rule == KindRule::kOff || kind == 0) return alert;
  const std::optional<int> d = Decide(kind);
  if (!d.has_value()) return alert;
  if (*d == 0) return false;
  return rule == KindRule::kSilenceAndRaise ? true : alert;
}

}  // namespace fedlog::fewshot
