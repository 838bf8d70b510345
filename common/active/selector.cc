#include "common/active/selector.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/active/ranking.h"

namespace fedlog::active {
namespace {

using ranking::Median;
using ranking::TieBreak;

// The lines' scores, NaN left out.
std::vector<double> FiniteScores(const SelectionInput& input) {
  std::vector<double> scores;
  scores.reserve(input.lines.size());
  for (const LineInfo& l : input.lines) {
    if (!std::isnan(l.score)) scores.push_back(l.score);
  }
  return scores;
}

double EffectiveThreshold(const SelectionInput& input, const std::vector<double>& scores,
                          double alert_rate) {
  if (std::isfinite(input.threshold) || scores.empty()) return input.threshold;
  std::vector<double> v = scores;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(
                                              std::floor((1.0 - alert_rate) * v.size())));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

// The distance to the threshold that counts as one unit of margin.
double Scale(const std::vector<double>& scores, double configured) {
  if (configured > 0) return configured;
  const double med = Median(scores);
  std::vector<double> dev;
  dev.reserve(scores.size());
  double sum = 0;
  for (double s : scores) {
    if (!std::isfinite(s)) continue;
    dev.push_back(std::abs(s - med));
    sum += dev.back();
  }
  const double mad = Median(dev);
  if (mad > 0) return mad;
  // More than half the lines share one score: fall back to the mean deviation, then to 1.
  const double mean = dev.empty() ? 0 : sum / static_cast<double>(dev.size());
  return mean > 0 ? mean : 1.0;
}

absl::flat_hash_set<int32_t> CoveredTemplates(const SelectionInput& input) {
  absl::flat_hash_set<int32_t> covered(input.normal_templates.begin(),
                                       input.normal_templates.end());
  for (const LineInfo& l : input.lines) {
    if (l.label >= 0) covered.insert(l.template_id);
  }
  return covered;
}

struct Group {
  Pick best;
  double value = -1;  // uncertainty + weighted disagreement of `best`
  uint64_t tie = 0;
  double probability_sum = 0;  // of the lines' AnomalyProbability
  int64_t alerts = 0;          // lines whose decision in force alerts
};

// True when line candidate (value, score, tie) should replace the group's current best.
bool Better(double value, double score, uint64_t tie, const Group& g,
            const SelectionInput& input) {
  if (value != g.value) return value > g.value;
  const double best_score = input.lines[g.best.line].score;
  if (score != best_score) return score > best_score;
  return tie < g.tie;
}

// The uncovered groups, each with its most uncertain line as representative, its size, the sum of
// its lines' anomaly probabilities and its alerting lines.
absl::flat_hash_map<int32_t, Group> BuildGroups(const SelectionInput& input, const SelectorOptions& options,
                                                double threshold, double scale) {
  const absl::flat_hash_set<int32_t> covered = CoveredTemplates(input);
  absl::flat_hash_map<int32_t, Group> groups;
  for (size_t i = 0; i < input.lines.size(); ++i) {
    const LineInfo& l = input.lines[i];
    if (l.template_id < 0 || std::isnan(l.score) || covered.contains(l.template_id)) continue;
    const double margin = std::isfinite(threshold) ? (l.score - threshold) / scale : 0.0;
    const double uncertainty = 1.0 / (1.0 + std::abs(margin));
    const double disagreement = Disagreement(l, margin);
    const double value = uncertainty + options.disagreement_weight * disagreement;
    const uint64_t tie = TieBreak(options.seed, i);
    Group& g = groups[l.template_id];
    ++g.best.group_size;
    g.probability_sum += AnomalyProbability(l, margin, options.margin_probability_share);
    g.alerts += (l.alert >= 0 ? l.alert == 1 : margin >= 0) ? 1 : 0;
    if (g.value < 0 || Better(value, l.score, tie, g, input)) {
      g.value = value;
      g.tie = tie;
      g.best.line = i;
      g.best.template_id = l.template_id;
      g.best.margin = margin;
      g.best.uncertainty = uncertainty;
      g.best.disagreement = disagreement;
    }
  }
  return groups;
}

// Best first: (with above_first) the groups at or above the threshold, then priority, then the
// larger group, then the seeded tie-break.
void SortRanked(bool above_first, std::vector<std::pair<uint64_t, Pick>>* ranked) {
  std::sort(ranked->begin(), ranked->end(), [above_first](const auto& a, const auto& b) {
    const bool above_a = above_first && a.second.margin >= 0;
    const bool above_b = above_first && b.second.margin >= 0;
    if (above_a != above_b) return above_a;
    if (a.second.priority != b.second.priority) return a.second.priority > b.second.priority;
    if (a.second.group_size != b.second.group_size) return a.second.group_size > b.second.group_size;
    return a.first < b.first;
  });
}

}  // namespace

absl::Status SelectorOptions::Validate() const {
  auto bad = [](const char* field, double v) {
    return absl::InvalidArgumentError(absl::StrCat("selector option ", field, " = ", v,
                                                   " is out of range"));
  };
  if (!(margin_scale >= 0) || !std::isfinite(margin_scale)) return bad("margin_scale", margin_scale);
  if (!(disagreement_weight >= 0) || !std::isfinite(disagreement_weight))
    return bad("disagreement_weight", disagreement_weight);
  if (!(size_weight >= 0) || !std::isfinite(size_weight)) return bad("size_weight", size_weight);
  if (!(coverage_weight >= 0 && coverage_weight <= 1)) return bad("coverage_weight", coverage_weight);
  if (!(margin_probability_share >= 0 && margin_probability_share <= 1))
    return bad("margin_probability_share", margin_probability_share);
  if (!(fallback_alert_rate > 0 && fallback_alert_rate <= 0.5))
    return bad("fallback_alert_rate", fallback_alert_rate);
  return absl::OkStatus();
}

double Disagreement(const LineInfo& line, double margin) {
  double d = 0;
  if (line.signals.size() >= 2) {
    double sum = 0, sum2 = 0;
    for (float s : line.signals) {
      const double c = std::clamp(static_cast<double>(s), 0.0, 1.0);
      sum += c;
      sum2 += c * c;
    }
    const double n = static_cast<double>(line.signals.size());
    const double var = std::max(0.0, sum2 / n - (sum / n) * (sum / n));
    d = std::min(1.0, 2.0 * std::sqrt(var));
  }
  if (line.model_probability >= 0 && std::isfinite(margin)) {
    const double detector = 1.0 / (1.0 + std::exp(-margin));
    d = std::max(d, std::abs(std::min(1.0, static_cast<double>(line.model_probability)) - detector));
  }
  return d;
}

double AnomalyProbability(const LineInfo& line, double margin, double margin_share) {
  const double detector = std::isfinite(margin) ? 1.0 / (1.0 + std::exp(-margin)) : (margin > 0 ? 1.0 : 0.0);
  if (!(line.model_probability >= 0)) return detector;
  const double second = std::min(1.0, static_cast<double>(line.model_probability));
  return margin_share * detector + (1 - margin_share) * second;
}

absl::StatusOr<std::vector<Pick>> SelectLines(const SelectionInput& input,
                                              const SelectorOptions& options, size_t max_picks) {
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  for (size_t i = 0; i < input.lines.size(); ++i) {
    const int label = input.lines[i].label, alert = input.lines[i].alert;
    if (label < -1 || label > 1 || alert < -1 || alert > 1)
      return absl::InvalidArgumentError(absl::StrCat("line ", i, " has label ", label, " and alert ",
                                                     alert, " (want -1, 0 or 1)"));
  }
  const std::vector<double> scores = FiniteScores(input);
  if (scores.empty()) return std::vector<Pick>{};
  const double threshold = EffectiveThreshold(input, scores, options.fallback_alert_rate);
  const double scale = Scale(scores, options.margin_scale);
  absl::flat_hash_map<int32_t, Group> groups = BuildGroups(input, options, threshold, scale);

  const double log_lines = std::log1p(static_cast<double>(scores.size()));
  double most_corrections = 0;
  for (auto& [id, g] : groups) {
    const double n = static_cast<double>(g.best.group_size);
    const double p = g.probability_sum / n, alerts = static_cast<double>(g.alerts);
    g.best.anomaly_probability = p;
    g.best.corrections = p * (n - alerts) + (1 - p) * alerts;
    most_corrections = std::max(most_corrections, g.best.corrections);
  }
  const double w = options.coverage_weight;
  std::vector<std::pair<uint64_t, Pick>> ranked;
  ranked.reserve(groups.size());
  for (auto& [id, g] : groups) {
    const double size = std::log1p(static_cast<double>(g.best.group_size)) / log_lines;
    const double coverage = most_corrections > 0 ? g.best.corrections / most_corrections : 0.0;
    g.best.priority = ((1 - w) * g.value + w * coverage) * (1.0 + options.size_weight * size);
    ranked.emplace_back(TieBreak(options.seed ^ 0x5e1ec7ULL, static_cast<uint32_t>(id)), g.best);
  }
  SortRanked(options.above_first, &ranked);
  return ranking::TakeRanked(std::move(ranked), max_picks);
}

}  // namespace fedlog::active
