#include "common/active/selector.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/active/neighbourhood.h"
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
  double spread = 0;  // of `best`: its signals' disagreement
  double gap = 0;     // of `best`: its second opinion's disagreement with the margin's logistic
  uint64_t tie = 0;
  double uncertainty_sum = 0;   // of the lines' uncertainty
  double probability_sum = 0;  // of the lines' AnomalyProbability
  int64_t alerts = 0;          // lines whose decision in force alerts
};

// Twice the standard deviation of the line's signals (two or more), at most 1; else 0.
double SignalSpread(const LineInfo& line) {
  if (line.signals.size() < 2) return 0;
  double sum = 0, sum2 = 0;
  for (float s : line.signals) {
    const double c = std::clamp(static_cast<double>(s), 0.0, 1.0);
    sum += c;
    sum2 += c * c;
  }
  const double n = static_cast<double>(line.signals.size());
  const double var = std::max(0.0, sum2 / n - (sum / n) * (sum / n));
  return std::min(1.0, 2.0 * std::sqrt(var));
}

// |model_probability - logistic(margin)| when the line has a second opinion; else 0.
double OpinionGap(const LineInfo& line, double margin) {
  if (!(line.model_probability >= 0) || !std::isfinite(margin)) return 0;
  const double detector = 1.0 / (1.0 + std::exp(-margin));
  return std::abs(std::min(1.0, static_cast<double>(line.model_probability)) - detector);
}

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
    g.uncertainty_sum += uncertainty;
    g.probability_sum += AnomalyProbability(l, margin, options.margin_probability_share);
    g.alerts += (l.alert >= 0 ? l.alert == 1 : margin >= 0) ? 1 : 0;
    if (g.value < 0 || Better(value, l.score, tie, g, input)) {
      g.value = value;
      g.spread = SignalSpread(l);
      g.gap = OpinionGap(l, margin);
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
bool RanksBefore(bool above_first, const std::pair<uint64_t, Pick>& a, const std::pair<uint64_t, Pick>& b) {
  const bool above_a = above_first && a.second.margin >= 0;
  const bool above_b = above_first && b.second.margin >= 0;
  if (above_a != above_b) return above_a;
  if (a.second.priority != b.second.priority) return a.second.priority > b.second.priority;
  if (a.second.group_size != b.second.group_size) return a.second.group_size > b.second.group_size;
  return a.first < b.first;
}

void SortRanked(bool above_first, std::vector<std::pair<uint64_t, Pick>>::iterator begin,
                std::vector<std::pair<uint64_t, Pick>>::iterator end) {
  std::sort(begin, end, [above_first](const auto& a, const auto& b) { return RanksBefore(above_first, a, b); });
}

// The parts of a group's priority that do not move with the labels in hand.
struct Parts {
  double uncertainty = 0, spread = 0, gap = 0, coverage = 0, size_factor = 1;
};

// The priority with opinion share r in [0, 1] (SelectorOptions::opinion_ramp).
double PriorityAt(const Parts& p, const SelectorOptions& o, double r) {
  const double w = o.coverage_weight * r;
  const double value = p.uncertainty + o.disagreement_weight * std::max(p.spread, r * p.gap);
  return ((1 - w) * value + w * p.coverage) * p.size_factor;
}

// Picks whose rank is decided one at a time (each with the labels in hand before it) when the
// opinion ramps; the rest follow in the order of the last of them (a terminal session asks far fewer).
constexpr size_t kSequentialPicks = 256;

// Ranks `ranked` (parts[i] belongs to ranked[i]) best first: with opinion_ramp 0 one sort by
// priority; otherwise position j is the best remaining group at r = (L + j) / (L + j + ramp), L the
// labels in hand.
void RankGroups(const SelectorOptions& o, size_t in_hand, size_t max_picks, std::vector<Parts> parts,
                std::vector<std::pair<uint64_t, Pick>>* ranked) {
  auto share = [&](size_t j) {
    const double l = static_cast<double>(in_hand + j);
    return o.opinion_ramp > 0 ? l / (l + o.opinion_ramp) : 1.0;
  };
  const size_t n = ranked->size();
  const size_t sequential = o.opinion_ramp > 0 ? std::min(n, max_picks > 0 ? max_picks : kSequentialPicks) : 0;
  for (size_t j = 0; j < sequential; ++j) {
    const double r = share(j);
    size_t best = j;
    for (size_t i = j; i < n; ++i) {
      (*ranked)[i].second.priority = PriorityAt(parts[i], o, r);
      if (i > j && RanksBefore(o.above_first, (*ranked)[i], (*ranked)[best])) best = i;
    }
    std::swap((*ranked)[j], (*ranked)[best]);
    std::swap(parts[j], parts[best]);
  }
  if (sequential == n) return;
  const double r = share(sequential);
  for (size_t i = sequential; i < n; ++i) (*ranked)[i].second.priority = PriorityAt(parts[i], o, r);
  SortRanked(o.above_first, ranked->begin() + static_cast<std::ptrdiff_t>(sequential), ranked->end());
}

// SelectorOptions::diversity_match: walking the ranking best first (up to the picks asked for), a
// group whose representative shares at least `least` of its tokens with one already kept goes after
// the kept ones, in its order.
void SpreadPicks(const SelectionInput& input, double least, size_t max_picks,
                 std::vector<std::pair<uint64_t, Pick>>* ranked) {
  std::vector<std::pair<uint64_t, Pick>> kept, later;
  const size_t want = max_picks > 0 ? max_picks : ranked->size();
  for (auto& entry : *ranked) {
    const std::vector<uint64_t>& tokens = input.lines[entry.second.line].tokens;
    bool clash = false;
    for (size_t i = 0; i < kept.size() && !clash && kept.size() < want; ++i) {
      clash = internal::TokenJaccard(tokens, input.lines[kept[i].second.line].tokens) >= least;
    }
    (clash ? later : kept).push_back(std::move(entry));
  }
  for (auto& entry : later) kept.push_back(std::move(entry));
  *ranked = std::move(kept);
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
  if (!(opinion_ramp >= 0 && opinion_ramp <= 1000)) return bad("opinion_ramp", opinion_ramp);
  if (!(mean_uncertainty_share >= 0 && mean_uncertainty_share <= 1))
    return bad("mean_uncertainty_share", mean_uncertainty_share);
  if (!(neighbour_match >= 0 && neighbour_match <= 1))
    return bad("neighbour_match", neighbour_match);
  if (!(neighbour_keep_match >= 0 && neighbour_keep_match <= 1))
    return bad("neighbour_keep_match", neighbour_keep_match);
  if (!(diversity_match >= 0 && diversity_match <= 1))
    return bad("diversity_match", diversity_match);
  if (!(fallback_alert_rate > 0 && fallback_alert_rate <= 0.5))
    return bad("fallback_alert_rate", fallback_alert_rate);
  return absl::OkStatus();
}

double Disagreement(const LineInfo& line, double margin) {
  return std::max(SignalSpread(line), OpinionGap(line, margin));
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
  std::optional<internal::Neighbourhoods> near;
  if (options.neighbour_match > 0) {
    near.emplace(input, threshold, options.neighbour_match, options.neighbour_keep_match);
  }
  double most_corrections = 0;
  for (auto& [id, g] : groups) {
    const double n = static_cast<double>(g.best.group_size);
    const double p = g.probability_sum / n, alerts = static_cast<double>(g.alerts);
    g.best.anomaly_probability = p;
    const std::vector<uint64_t>& tokens = input.lines[g.best.line].tokens;
    if (near && !tokens.empty()) {
      const internal::VerdictReach reach = near->Reach(tokens);
      g.best.corrections = p * reach.if_anomalous + (1 - p) * reach.if_normal;
    } else {
      g.best.corrections = p * (n - alerts) + (1 - p) * alerts;
    }
    most_corrections = std::max(most_corrections, g.best.corrections);
  }
  std::vector<std::pair<uint64_t, Pick>> ranked;
  std::vector<Parts> parts;
  ranked.reserve(groups.size());
  parts.reserve(groups.size());
  for (auto& [id, g] : groups) {
    Parts p;
    const double mean_uncertainty = g.uncertainty_sum / static_cast<double>(g.best.group_size);
    p.uncertainty = (1 - options.mean_uncertainty_share) * g.best.uncertainty +
                    options.mean_uncertainty_share * mean_uncertainty;
    p.spread = g.spread;
    p.gap = g.gap;
    p.coverage = most_corrections > 0 ? g.best.corrections / most_corrections : 0.0;
    const double size = std::log1p(static_cast<double>(g.best.group_size)) / log_lines;
    p.size_factor = 1.0 + options.size_weight * size;
    parts.push_back(p);
    ranked.emplace_back(TieBreak(options.seed ^ 0x5e1ec7ULL, static_cast<uint32_t>(id)), g.best);
  }
  RankGroups(options, CoveredTemplates(input).size(), max_picks, std::move(parts), &ranked);
  if (options.diversity_match > 0) SpreadPicks(input, options.diversity_match, max_picks, &ranked);
  return ranking::TakeRanked(std::move(ranked), max_picks);
}

}  // namespace fedlog::active
