#include "common/active/neighbourhood.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace fedlog::active::internal {

Neighbourhoods::Neighbourhoods(const SelectionInput& input, double threshold, double match,
                               double keep_match)
    : match_(match), keep_match_(keep_match) {
  std::map<std::vector<uint64_t>, size_t> index;  // token set -> sets_ position
  std::vector<const std::vector<uint64_t>*> labelled[2];
  for (const LineInfo& l : input.lines) {
    if (l.tokens.empty() || std::isnan(l.score)) continue;
    if (l.label >= 0) labelled[l.label].push_back(&l.tokens);
    auto [it, added] = index.try_emplace(l.tokens, sets_.size());
    if (added) sets_.push_back(TokenSet{l.tokens});
    TokenSet& s = sets_[it->second];
    const bool alerts = l.alert >= 0 ? l.alert == 1 : l.score >= threshold;
    if (!alerts) {
      ++s.quiet;
      continue;
    }
    ++s.alerting;
    if (l.score < threshold) ++s.alerting_low;
  }
  for (TokenSet& s : sets_) {
    for (const auto* t : labelled[0])
      s.nearest_normal = std::max(s.nearest_normal, TokenJaccard(s.tokens, *t));
    for (const auto* t : labelled[1])
      s.nearest_anomalous = std::max(s.nearest_anomalous, TokenJaccard(s.tokens, *t));
  }
}

VerdictReach Neighbourhoods::Reach(const std::vector<uint64_t>& tokens) const {
  VerdictReach r;
  if (tokens.empty()) return r;
  const double least = keep_match_ > 0 ? std::min(match_, keep_match_) : match_;
  for (const TokenSet& s : sets_) {
    const double j = TokenJaccard(tokens, s.tokens);
    if (j < least) continue;
    // An anomalous label decides the set when it is near and nearer than every normal label.
    if (j >= match_ && j > s.nearest_normal) r.if_anomalous += static_cast<double>(s.quiet);
    // A normal one silences it when nearer than every anomalous label: all its alerts when it
    // decides the set, else (the keep rule) the alerts below the threshold.
    if (j > s.nearest_anomalous) {
      if (j >= match_) {
        r.if_normal += static_cast<double>(s.alerting);
      } else if (keep_match_ > 0 && j >= keep_match_) {
        r.if_normal += static_cast<double>(s.alerting_low);
      }
    }
  }
  return r;
}

}  // namespace fedlog::active::internal
