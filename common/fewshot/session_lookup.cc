#include "common/fewshot/session_lookup.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace fedlog::fewshot {

absl::StatusOr<SessionLookup> SessionLookup::Create(double match, size_t max_keys) {
  if (!(match > 0 && match <= 1)) {
    return absl::InvalidArgumentError("session lookup: match must be in (0, 1]");
  }
  if (max_keys < 1) return absl::InvalidArgumentError("session lookup: max_keys must be >= 1");
  SessionLookup l;
  l.options_.match = match;
  l.options_.normal_match = match;
  l.max_keys_ = max_keys;
  return l;
}

void SessionLookup::AddLine(uint64_t key, int32_t template_id, std::string_view content) {
  auto [it, added] = tokens_.try_emplace(key);
  if (added) {
    order_.push_back(key);
    if (order_.size() > max_keys_) {
      tokens_.erase(order_.front());
      order_.pop_front();
      it = tokens_.find(key);
    }
  }
  Unit line;
  AddTokens(template_id, content, &line);
  Finish(&line);
  std::vector<uint64_t> merged;
  merged.reserve(it->second.tokens.size() + line.tokens.size());
  std::set_union(it->second.tokens.begin(), it->second.tokens.end(), line.tokens.begin(),
                 line.tokens.end(), std::back_inserter(merged));
  it->second.tokens = std::move(merged);
}

void SessionLookup::ClearLabels() {
  labels_.clear();
  detector_.reset();
}

void SessionLookup::Label(uint64_t key, int label) {
  const auto known = tokens_.find(key);
  if (known != tokens_.end() && !known->second.tokens.empty()) {
    labelled_tokens_.insert_or_assign(key, known->second);  // the unit as it is now
  } else if (!labelled_tokens_.contains(key)) {
    return;
  }
  auto [it, added] = labels_.try_emplace(key, label > 0 ? 1 : 0);
  if (!added) it->second = std::max(it->second, label > 0 ? 1 : 0);
}

void SessionLookup::Fit() {
  detector_.reset();
  // Keys labelled before but not now are forgotten with their tokens.
  for (auto it = labelled_tokens_.begin(); it != labelled_tokens_.end();) {
    if (labels_.contains(it->first)) {
      ++it;
    } else {
      labelled_tokens_.erase(it++);
    }
  }
  if (labels_.empty()) return;
  std::vector<Unit> support;
  std::vector<int> y;
  for (const auto& [key, label] : labels_) {
    support.push_back(labelled_tokens_.at(key));
    y.push_back(label);
  }
  absl::StatusOr<FewShotDetector> d = FewShotDetector::Fit(support, y, options_);
  if (d.ok()) detector_.emplace(*std::move(d));
}

std::optional<FewShotDetector::Decision> SessionLookup::Decide(uint64_t key) const {
  if (!detector_.has_value()) return std::nullopt;
  const auto it = tokens_.find(key);
  if (it == tokens_.end()) return std::nullopt;
  const FewShotDetector::Decision d = detector_->Decide(it->second);
  if (!d.near) return std::nullopt;
  return d;
}

}  // namespace fedlog::fewshot
