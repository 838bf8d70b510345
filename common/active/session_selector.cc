#include "common/active/session_selector.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/active/ranking.h"

namespace fedlog::active {
namespace {

using ranking::Median;
using ranking::Mix;

// The median absolute deviation of the scores (the configured scale when > 0; 1 when it is 0).
double Scale(const std::vector<SessionInfo>& sessions, double configured) {
  if (configured > 0) return configured;
  std::vector<double> scores;
  for (const SessionInfo& s : sessions) {
    if (std::isfinite(s.score)) scores.push_back(s.score);
  }
  const double med = Median(scores);
  for (double& s : scores) s = std::abs(s - med);
  const double mad = Median(scores);
  return mad > 0 ? mad : 1.0;
}

// Sessions without a finite threshold (warm-up) are measured against the others' median one.
double FallbackThreshold(const std::vector<SessionInfo>& sessions) {
  std::vector<double> t;
  for (const SessionInfo& s : sessions) {
    if (std::isfinite(s.threshold)) t.push_back(s.threshold);
  }
  return Median(t);
}

struct Group {
  SessionPick best;
  uint64_t tie = 0;
  bool any = false;
};

bool Better(const SessionPick& c, double score, uint64_t tie, const Group& g,
            const std::vector<SessionInfo>& sessions) {
  if (c.uncertainty != g.best.uncertainty) return c.uncertainty > g.best.uncertainty;
  const double best_score = sessions[g.best.session].score;
  if (score != best_score) return score > best_score;
  return tie < g.tie;
}

}  // namespace

absl::Status SessionSelectorOptions::Validate() const {
  auto bad = [](const char* field, double v) {
    return absl::InvalidArgumentError(
        absl::StrCat("session selector option ", field, " = ", v, " is out of range"));
  };
  if (!(margin_scale >= 0) || !std::isfinite(margin_scale)) return bad("margin_scale", margin_scale);
  if (!(alert_weight >= 0) || !std::isfinite(alert_weight)) return bad("alert_weight", alert_weight);
  if (!(size_weight >= 0) || !std::isfinite(size_weight)) return bad("size_weight", size_weight);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SessionPick>> SelectSessions(const std::vector<SessionInfo>& sessions,
                                                        const SessionSelectorOptions& options,
                                                        size_t max_picks) {
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  absl::flat_hash_set<uint64_t> covered;
  for (size_t i = 0; i < sessions.size(); ++i) {
    const int label = sessions[i].label;
    if (label < -1 || label > 1)
      return absl::InvalidArgumentError(
          absl::StrCat("session ", i, " has label ", label, " (want -1, 0 or 1)"));
    if (label >= 0) covered.insert(sessions[i].group);
  }
  const double scale = Scale(sessions, options.margin_scale);
  const double fallback = FallbackThreshold(sessions);
  absl::flat_hash_map<uint64_t, Group> groups;
  for (size_t i = 0; i < sessions.size(); ++i) {
    const SessionInfo& s = sessions[i];
    if (!std::isfinite(s.score) || covered.contains(s.group)) continue;
    const double threshold = std::isfinite(s.threshold) ? s.threshold : fallback;
    SessionPick c;
    c.session = i;
    c.group = s.group;
    c.margin = (s.score - threshold) / scale;
    c.uncertainty = 1.0 / (1.0 + std::abs(c.margin));
    const uint64_t tie = Mix(Mix(options.seed) ^ i);
    Group& g = groups[s.group];
    const int64_t size = g.best.group_size + 1, alerts = g.best.group_alerts + (s.alert ? 1 : 0);
    if (!g.any || Better(c, s.score, tie, g, sessions)) {
      g.best = c;
      g.tie = tie;
      g.any = true;
    }
    g.best.group_size = size;
    g.best.group_alerts = alerts;
  }
  const double log_n = std::log1p(static_cast<double>(sessions.size()));
  std::vector<std::pair<uint64_t, SessionPick>> ranked;
  ranked.reserve(groups.size());
  for (auto& [key, g] : groups) {
    SessionPick& p = g.best;
    const double n = static_cast<double>(p.group_size);
    const double alarm = static_cast<double>(p.group_alerts) / n;
    p.priority = (p.uncertainty + options.alert_weight * alarm) *
                 (1.0 + options.size_weight * std::log1p(n) / log_n);
    ranked.emplace_back(Mix(Mix(options.seed ^ 0x5e55ULL) ^ key), p);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    if (a.second.priority != b.second.priority) return a.second.priority > b.second.priority;
    return a.first < b.first;
  });
  return ranking::TakeRanked(std::move(ranked), max_picks);
}

}  // namespace fedlog::active
