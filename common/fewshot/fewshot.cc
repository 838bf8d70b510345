#include "common/fewshot/fewshot.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/token_jaccard.h"
#include "common/fewshot/encoder_rank.h"
#include "common/logparse/drain.h"
#include "common/novelty/site_threshold.h"

namespace fedlog::fewshot {
namespace {

constexpr int kSimilarityFeatures = 5;

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
}

// Similarity summary of `unit` against each class of the support, without index `skip`.
void Similarities(const Unit& unit, const std::vector<Unit>& support, const std::vector<int>& labels,
                  int skip, double out[kSimilarityFeatures]) {
  double best[2] = {0, 0}, sum[2] = {0, 0};
  int n[2] = {0, 0};
  for (size_t i = 0; i < support.size(); ++i) {
    if (static_cast<int>(i) == skip) continue;
    const int c = labels[i] > 0 ? 1 : 0;
    const double s = Jaccard(unit.tokens, support[i].tokens);
    best[c] = std::max(best[c], s);
    sum[c] += s;
    ++n[c];
  }
  out[0] = best[1];
  out[1] = best[0];
  out[2] = best[1] - best[0];
  out[3] = n[1] > 0 ? sum[1] / n[1] : 0;
  out[4] = n[0] > 0 ? sum[0] / n[0] : 0;
}

}  // namespace

void AddTokens(int32_t template_id, std::string_view content, Unit* unit) {
  unit->tokens.push_back(logparse::TokenHash(absl::StrCat("T", template_id)));
  size_t i = 0;
  while (i < content.size()) {
    while (i < content.size() && !IsWordChar(content[i])) ++i;
    const size_t start = i;
    bool digit = false;
    while (i < content.size() && IsWordChar(content[i])) {
      digit = digit || std::isdigit(static_cast<unsigned char>(content[i])) != 0;
      ++i;
    }
    if (i > start && !digit) unit->tokens.push_back(logparse::TokenHash(content.substr(start, i - start)));
  }
}

void Finish(Unit* unit) {
  std::sort(unit->tokens.begin(), unit->tokens.end());
  unit->tokens.erase(std::unique(unit->tokens.begin(), unit->tokens.end()), unit->tokens.end());
}

double QuantileOf(const std::vector<double>& sorted, double x) {
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), x);
  const auto hi = std::upper_bound(lo, sorted.end(), x);
  const double below = static_cast<double>(lo - sorted.begin());
  const double at_most = static_cast<double>(hi - sorted.begin());
  return (below + at_most) / (2.0 * static_cast<double>(sorted.size()));
}

double ScoreAtQuantile(const std::vector<double>& sorted, double q) {
  const double n = static_cast<double>(sorted.size());
  const double pos = std::clamp(q, 0.0, 1.0) * n - 0.5;
  if (pos <= 0) return sorted.front();
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (pos - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

double OperatingPoint(const std::vector<double>& sorted, double alert_rate) {
  return ScoreAtQuantile(sorted, 1.0 - std::clamp(alert_rate, 0.0, 1.0));
}

FreeReference ReferenceOf(const std::vector<Unit>& units, const std::vector<size_t>& which) {
  FreeReference r;
  if (which.empty()) return r;
  r.sorted.reserve(which.size());
  double alerted = 0;
  for (size_t u : which) {
    r.sorted.push_back(std::clamp(units[u].free_score, 0.0, 1.0));
    alerted += units[u].free_alert ? 1 : 0;
  }
  std::sort(r.sorted.begin(), r.sorted.end());
  r.operating_point = OperatingPoint(r.sorted, alerted / static_cast<double>(which.size()));
  return r;
}

double Jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  return SortedTokenJaccard(a, b);
}

double Jaccard1nnScore(const Unit& unit, const std::vector<Unit>& support,
                       const std::vector<int>& labels, int skip) {
  double s[kSimilarityFeatures];
  Similarities(unit, support, labels, skip, s);
  return s[2];
}

absl::Status FewShotOptions::Validate() const {
  if (!(match > 0 && match <= 1)) return absl::InvalidArgumentError("fewshot: match must be in (0, 1]");
  if (!(label_prior > 0)) return absl::InvalidArgumentError("fewshot: label_prior must be > 0");
  if (!(both_near_margin >= 0 && both_near_margin <= 1)) {
    return absl::InvalidArgumentError("fewshot: both_near_margin must be in [0, 1]");
  }
  if (!(normal_match >= 0 && normal_match <= 1)) {
    return absl::InvalidArgumentError("fewshot: normal_match must be in [0, 1]");
  }
  if (!(lower_prior >= 0) || !std::isfinite(lower_prior)) {
    return absl::InvalidArgumentError("fewshot: lower_prior must be >= 0");
  }
  if (!(encoder_weight >= 0 && encoder_weight <= 1)) {
    return absl::InvalidArgumentError("fewshot: encoder_weight must be in [0, 1]");
  }
  if (!(keep_alert_match >= 0 && keep_alert_match <= 1)) {
    return absl::InvalidArgumentError("fewshot: keep_alert_match must be in [0, 1]");
  }
  return absl::OkStatus();
}

absl::StatusOr<FewShotDetector> FewShotDetector::Fit(const std::vector<Unit>& support,
                                                     const std::vector<int>& labels,
                                                     const FewShotOptions& options,
                                                     double free_threshold,
                                                     std::vector<double> reference,
                                                     const std::vector<const Unit*>& encoder_reference) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  if (support.size() != labels.size() || support.empty()) {
    return absl::InvalidArgumentError("fewshot: support and labels must match, at least 1 unit");
  }
  FewShotDetector d;
  d.options_ = options;
  d.support_ = support;
  for (int y : labels) d.labels_.push_back(y > 0 ? 1 : 0);
  if (options.encoder_weight > 0) {
    d.encoder_ = internal::EncoderRank::Fit(d.support_, d.labels_, encoder_reference, options.encoder_weight);
  }
  std::vector<double> support_scores;
  for (const Unit& u : d.support_) support_scores.push_back(d.encoder_ ? d.encoder_->Fused(u) : u.free_score);
  if (d.encoder_) {
    // The fused scale's operating point: the reference's fused score at its label-free alert rate.
    const std::vector<double>& fused = d.encoder_->reference_fused();
    free_threshold = OperatingPoint(fused, d.encoder_->alert_rate());
    reference = fused;
  }
  d.SetThreshold(free_threshold, std::move(reference), support_scores);
  return d;
}

namespace {

// The support's scores (`given`, one per unit), one point per distinct (token set, label): the
// highest of them.
void DistinctPoints(const std::vector<Unit>& support, const std::vector<int>& labels,
                    const std::vector<double>& given, std::vector<double>* scores, std::vector<int>* y) {
  std::vector<size_t> order(support.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (labels[a] != labels[b]) return labels[a] < labels[b];
    return support[a].tokens < support[b].tokens;
  });
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const size_t prev = k > 0 ? order[k - 1] : i;
    if (k > 0 && labels[prev] == labels[i] && support[prev].tokens == support[i].tokens) {
      scores->back() = std::max(scores->back(), std::clamp(given[i], 0.0, 1.0));
      continue;
    }
    scores->push_back(std::clamp(given[i], 0.0, 1.0));
    y->push_back(labels[i]);
  }
}

}  // namespace

void FewShotDetector::SetThreshold(double free_threshold, std::vector<double> reference,
                                   const std::vector<double>& support_scores) {
  // The threshold decides unmatched units only, whose score is the label-free one: its cut comes
  // from the labelled units' label-free scores, not from their (mostly matched) few-shot scores.
  std::vector<double> scores;
  std::vector<int> y;
  DistinctPoints(support_, labels_, support_scores, &scores, &y);
  threshold_ = free_threshold;
  lowered_ = false;
  reference.erase(std::remove_if(reference.begin(), reference.end(),
                                 [](double v) { return std::isnan(v); }),
                  reference.end());
  const double n = static_cast<double>(scores.size());
  // The share of the way from the operating point to the labels' cut: upwards by label_prior,
  // downwards by lower_prior (0: never down).
  auto share = [&](bool down) {
    if (!down) return n / (n + options_.label_prior);
    return options_.lower_prior > 0 ? n / (n + options_.lower_prior) : 0.0;
  };
  double labelled = 0;
  if (reference.size() < 2) {
    if (!novelty::MaxF1Threshold(scores, y, &labelled)) return;
    const double w = share(labelled < free_threshold);
    threshold_ = free_threshold + w * (labelled - free_threshold);
    lowered_ = threshold_ < free_threshold;
    return;
  }
  // In quantiles of the stream's scores (the cut, too): the same decisions whatever the scale.
  for (double& v : reference) v = std::clamp(v, 0.0, 1.0);
  std::sort(reference.begin(), reference.end());
  for (double& v : scores) v = QuantileOf(reference, v);
  if (!novelty::MaxF1Threshold(scores, y, &labelled)) return;
  const double from = QuantileOf(reference, std::clamp(free_threshold, 0.0, 1.0));
  const double move = share(labelled < from) * (labelled - from);
  // A threshold the labels do not move stays where it is (not at a reference score).
  if (move == 0) return;
  const double moved = ScoreAtQuantile(reference, from + move);
  threshold_ = move > 0 ? std::max(free_threshold, moved) : std::min(free_threshold, moved);
  lowered_ = threshold_ < free_threshold;
}

FewShotDetector::Decision FewShotDetector::Decide(const Unit& unit) const {
  double s[kSimilarityFeatures];
  Similarities(unit, support_, labels_, -1, s);
  Decision d;
  const bool both_near = std::min(s[0], s[1]) >= options_.match;
  d.near = std::max(s[0], s[1]) >= options_.match && s[0] != s[1] &&
           !(both_near && std::abs(s[0] - s[1]) < options_.both_near_margin);
  if (d.near) {
    d.label = s[0] >= s[1] ? 1 : 0;
    d.similarity = std::max(s[0], s[1]);
    if (d.label == 0 && d.similarity < options_.normal_match) d = Decision{};
  }
  return d;
}

double FewShotDetector::UndecidedScore(const Unit& unit) const {
  return encoder_ ? encoder_->Fused(unit) : std::clamp(unit.free_score, 0.0, 1.0);
}

bool FewShotDetector::UndecidedAlert(const Unit& unit) const {
  const bool reaches = UndecidedScore(unit) >= threshold_;
  // On the fused scale the threshold starts at the label-free alert rate's cut: reaching it is the
  // decision (raised by the labels: fewer alerts; lowered: more).
  if (encoder_) return reaches;
  if (lowered_) return unit.free_alert || reaches;
  if (!unit.free_alert) return false;
  return reaches || (options_.keep_alert_match > 0 && !NormalLabelNear(unit));
}

bool FewShotDetector::NormalLabelNear(const Unit& unit) const {
  if (!(options_.keep_alert_match > 0)) return false;
  double s[kSimilarityFeatures];
  Similarities(unit, support_, labels_, -1, s);
  return s[1] >= options_.keep_alert_match && s[1] > s[0];
}

double FewShotDetector::Score(const Unit& unit) const {
  const Decision d = Decide(unit);
  if (!d.near) return UndecidedScore(unit);
  return d.label == 1 ? 2.0 + d.similarity : -1.0 - d.similarity;
}

bool FewShotDetector::Alert(const Unit& unit) const {
  const Decision d = Decide(unit);
  if (d.near) return d.label == 1;
  return UndecidedAlert(unit);
}

double FewShotDetector::DecisionScore(const Unit& unit) const {
  const double score = Score(unit);
  // An alerted unit the lowered threshold leaves below it (the label-free alert stands) sits at it.
  if (Alert(unit)) return std::max(score, threshold_);
  if (score < threshold_) return score;
  return std::nextafter(threshold_, -std::numeric_limits<double>::infinity());
}

}  // namespace fedlog::fewshot
