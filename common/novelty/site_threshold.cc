#include "common/novelty/site_threshold.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace fedlog::novelty {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

std::string_view RuleName(ThresholdRule rule) {
  return rule == ThresholdRule::kValley ? "valley" : "compact";
}

bool ParseRule(std::string_view name, ThresholdRule* rule) {
  if (name.empty() || name == "compact") {
    *rule = ThresholdRule::kCompact;
    return true;
  }
  if (name == "valley") {
    *rule = ThresholdRule::kValley;
    return true;
  }
  return false;
}

absl::Status ThresholdOptions::Validate() const {
  if (!(cluster_width > 0 && cluster_width <= 1)) {
    return absl::InvalidArgumentError("threshold: cluster_width must be in (0, 1]");
  }
  if (!(rest_budget >= 0 && rest_budget <= 1)) {
    return absl::InvalidArgumentError("threshold: rest_budget must be in [0, 1]");
  }
  if (!(budget > 0 && budget <= 0.5)) {
    return absl::InvalidArgumentError("threshold: budget (expected_alert_rate) must be in (0, 0.5]");
  }
  if (!(max_alert_rate >= 0 && max_alert_rate <= 0.5)) {
    return absl::InvalidArgumentError("threshold: max_alert_rate must be in [0, 0.5]");
  }
  if (!(max_cluster_share >= 0 && max_cluster_share <= 1)) {
    return absl::InvalidArgumentError("threshold: max_cluster_share must be in [0, 1]");
  }
  if (!(valley_ratio > 0 && valley_ratio < 1)) {
    return absl::InvalidArgumentError("threshold: valley_ratio must be in (0, 1)");
  }
  if (smooth_bins < 0 || smooth_bins > 16) {
    return absl::InvalidArgumentError("threshold: smooth_bins must be in [0, 16]");
  }
  if (adapt_min_lines < 1 || refresh_lines < 1 || warmup_lines < 0) {
    return absl::InvalidArgumentError(
        "threshold: adapt_min_lines and refresh_lines must be >= 1, warmup_lines >= 0");
  }
  if (!(label_prior > 0 && label_prior <= 1e6)) {
    return absl::InvalidArgumentError("threshold: label_prior must be in (0, 1e6]");
  }
  return absl::OkStatus();
}

std::string_view StageName(ThresholdStage stage) {
  switch (stage) {
    case ThresholdStage::kWarmup: return "warmup";
    case ThresholdStage::kBudget: return "budget";
    case ThresholdStage::kAdapted: return "adapted";
    case ThresholdStage::kLabelled: return "labelled";
  }
  return "";
}

bool MaxF1Threshold(const std::vector<double>& scores, const std::vector<int>& labels,
                    double* threshold, double* f1) {
  const size_t n = std::min(scores.size(), labels.size());
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  int64_t positives = 0;
  for (size_t i = 0; i < n; ++i) positives += labels[i] > 0 ? 1 : 0;
  if (positives == 0) return false;
  int64_t tp = 0, fp = 0;
  double best_f1 = -1;
  size_t best_end = 0;  // the cut alerts order[0, best_end)
  for (size_t i = 0; i < n; ++i) {
    (labels[order[i]] > 0 ? tp : fp) += 1;
    // Only cut between distinct scores: every equal score falls on the same side.
    if (i + 1 < n && scores[order[i + 1]] == scores[order[i]]) continue;
    const double f = 2.0 * static_cast<double>(tp) / static_cast<double>(tp + fp + positives);
    if (f > best_f1) {
      best_f1 = f;
      best_end = i + 1;
    }
  }
  const double low = scores[order[best_end - 1]];
  *threshold = best_end < n ? 0.5 * (low + scores[order[best_end]]) : low;
  if (f1 != nullptr) *f1 = best_f1;
  return true;
}

SiteThreshold::SiteThreshold(const ThresholdOptions& options) : options_(options) {}

int SiteThreshold::FindValley(double cap) const {
  const std::vector<int64_t>& c = scores_.counts();
  const int nb = static_cast<int>(c.size());
  const int w = options_.smooth_bins;
  std::vector<int64_t> prefix(c.size() + 1, 0);
  for (int b = 0; b < nb; ++b) prefix[b + 1] = prefix[b] + c[static_cast<size_t>(b)];
  auto smooth = [&](int b) {
    const int lo = std::max(0, b - w), hi = std::min(nb, b + w + 1);
    return static_cast<double>(prefix[hi] - prefix[lo]) / static_cast<double>(2 * w + 1);
  };
  const double n = static_cast<double>(scores_.count());
  double peak_above = 0;  // max smoothed density over bins >= b
  double best_ratio = options_.valley_ratio;
  int best = -1;
  for (int b = nb - 1; b >= 1; --b) {
    peak_above = std::max(peak_above, smooth(b));
    const double share = static_cast<double>(prefix[nb] - prefix[b]) / n;
    if (share <= options_.budget) continue;
    if (share > cap) break;  // shares only grow as b falls
    const double ratio = (smooth(b - 1) + 1.0) / (peak_above + 1.0);
    // Strictly better only: walking down, a tie keeps the higher cut (fewer alerts).
    if (ratio < best_ratio || (best < 0 && ratio <= best_ratio)) {
      best_ratio = ratio;
      best = b;
    }
  }
  return best;
}

double SiteThreshold::ShareFrom(int bin) const {
  const std::vector<int64_t>& c = scores_.counts();
  int64_t above = 0;
  for (size_t b = static_cast<size_t>(std::max(bin, 0)); b < c.size(); ++b) above += c[b];
  return static_cast<double>(above) / static_cast<double>(std::max<int64_t>(scores_.count(), 1));
}

int SiteThreshold::OtsuCut(int from) const {
  const std::vector<int64_t>& c = scores_.counts();
  const int nb = static_cast<int>(c.size());
  // A bin stands for the midpoint of its edges (the last bin for its lower edge).
  auto value = [&](int b) {
    return b + 1 < nb ? 0.5 * (scores_.LowerEdge(b) + scores_.LowerEdge(b + 1)) : scores_.LowerEdge(b);
  };
  double n = 0, sum = 0;
  for (int b = from; b < nb; ++b) {
    n += static_cast<double>(c[static_cast<size_t>(b)]);
    sum += static_cast<double>(c[static_cast<size_t>(b)]) * value(b);
  }
  double n_low = 0, sum_low = 0, best = 0;
  int cut = -1;
  for (int b = from; b + 1 < nb; ++b) {  // the cut alerts bins > b
    const double k = static_cast<double>(c[static_cast<size_t>(b)]);
    n_low += k;
    sum_low += k * value(b);
    const double n_high = n - n_low;
    if (k == 0 || n_low <= 0 || n_high <= 0) continue;
    const double d = sum_low / n_low - (sum - sum_low) / n_high;
    const double between = n_low * n_high * d * d;
    if (between > best) {
      best = between;
      cut = b + 1;
    }
  }
  return cut;
}

int SiteThreshold::CompactCut(double cap) const {
  const std::vector<int64_t>& c = scores_.counts();
  const int nb = static_cast<int>(c.size());
  const double n = static_cast<double>(scores_.count());
  const double width = options_.cluster_width * scores_.bins_per_unit();  // in bins
  const double min_lines = 0.5 * options_.budget * n;
  int b = nb - 1;
  while (b > 0 && c[static_cast<size_t>(b)] == 0) --b;
  int cut = -1;
  double above = 0;  // scores in the clusters walked so far (all bins above b)
  while (b > 0) {
    // One cluster: walk down until the bin below is a valley against the cluster's peak.
    double peak = 0, m0 = 0, m1 = 0, m2 = 0;
    for (; b > 0; --b) {
      const double k = static_cast<double>(c[static_cast<size_t>(b)]);
      peak = std::max(peak, k);
      m0 += k;
      m1 += k * b;
      m2 += k * b * b;
      const double below = static_cast<double>(c[static_cast<size_t>(b - 1)]);
      if ((below + 1.0) / (peak + 1.0) <= options_.valley_ratio) break;
    }
    if (b == 0) return cut;  // no valley under it: the rest is one mass
    above += m0;
    if (above / n > cap) return cut;
    if (m0 >= min_lines) {
      const double mean = m1 / m0;
      if (std::sqrt(std::max(0.0, m2 / m0 - mean * mean)) > width) return cut;
      cut = b;
    }
    // Past the valley's empty bins: the next cluster starts at the next bin holding a score.
    --b;
    while (b > 0 && c[static_cast<size_t>(b)] == 0) --b;
  }
  return cut;
}

int SiteThreshold::RestCut(int cut, double* partial) const {
  const std::vector<int64_t>& c = scores_.counts();
  int64_t below = 0;
  for (int b = 0; b < cut; ++b) below += c[static_cast<size_t>(b)];
  // As the budget stage's quantile: the share at or above the cut is at most the budget's, so a
  // bin is taken whole or not at all (ties stay on one side). The cut lands on a bin that holds a
  // score: none fitting leaves it at the clusters' valley (rest_budget -> 0 is the plain rule).
  const double allowed = options_.rest_budget * options_.budget * static_cast<double>(below);
  if (partial != nullptr) *partial = 0;
  int64_t taken = 0;
  int rest = cut;
  for (int b = cut - 1; b > 0; --b) {
    const int64_t k = c[static_cast<size_t>(b)];
    if (static_cast<double>(taken + k) > allowed) {
      // The bin that does not fit whole: the part of it the share has left (rest_interpolate).
      // Empty bins between it and `rest` are crossed: the cut then lies inside this bin.
      if (partial != nullptr && k > 0 && allowed > static_cast<double>(taken)) {
        *partial = (allowed - static_cast<double>(taken)) / static_cast<double>(k);
        rest = b + 1;
      }
      break;
    }
    taken += k;
    if (k > 0) rest = b;
  }
  return rest;
}

double SiteThreshold::RestThreshold(int cut, double* rate) const {
  double partial = 0;
  const int rest = RestCut(cut, options_.rest_interpolate ? &partial : nullptr);
  const int64_t n = std::max<int64_t>(scores_.count(), 1);
  if (partial <= 0) {
    *rate = ShareFrom(rest);
    return scores_.LowerEdge(rest);
  }
  // `partial` of bin rest - 1's lines lie above the cut, its lines spread evenly in ln(1 + score).
  const int bin = rest - 1;
  const double k = static_cast<double>(scores_.counts()[static_cast<size_t>(bin)]);
  *rate = ShareFrom(rest) + partial * k / static_cast<double>(n);
  return std::expm1((static_cast<double>(bin) + 1.0 - partial) / scores_.bins_per_unit());
}

int SiteThreshold::ValleyRuleCut(double alarm_share) const {
  const double cap = std::min(options_.max_alert_rate, alarm_share);
  if (cap <= options_.budget) return -1;
  int cut = FindValley(cap);
  if (cut < 0 && options_.max_cluster_share > cap) {
    // A cluster larger than the alarm lines allow holds incidents and normal severe lines: split it.
    const int cluster = FindValley(options_.max_cluster_share);
    if (cluster >= 0) cut = OtsuCut(cluster);
    if (cut >= 0 && !(ShareFrom(cut) > options_.budget && ShareFrom(cut) <= cap)) cut = -1;
  }
  if (cut >= 0 && options_.split_valley_cluster) {
    const int inner = OtsuCut(cut);
    if (inner > cut && ShareFrom(inner) > options_.budget) cut = inner;
  }
  return cut;
}

void SiteThreshold::Refresh() {
  adapted_ = 0;
  adapted_rate_ = 0;
  valley_ = 0;
  const int64_t n = scores_.count();
  if (options_.max_alert_rate <= options_.budget || n < options_.adapt_min_lines) return;
  const double alarm_share = static_cast<double>(alarm_lines_) / static_cast<double>(n);
  int cut = -1;
  if (options_.rule == ThresholdRule::kValley) {
    cut = ValleyRuleCut(alarm_share);
  } else {
    const double cap = std::min(options_.max_cluster_share, alarm_share);
    if (cap > options_.budget) cut = CompactCut(cap);
    if (cut >= 0 && ShareFrom(cut) <= options_.budget) cut = -1;
    if (cut >= 0) valley_ = scores_.LowerEdge(cut);
    if (cut >= 0 && options_.rest_budget > 0) {
      adapted_ = RestThreshold(cut, &adapted_rate_);
      return;
    }
  }
  if (cut < 0) return;
  if (valley_ <= 0) valley_ = scores_.LowerEdge(cut);
  adapted_ = scores_.LowerEdge(cut);
  adapted_rate_ = ShareFrom(cut);
}

double SiteThreshold::LabelFreeThreshold() const {
  if (adapted_ > 0 && scores_.count() >= options_.warmup_lines) return adapted_;
  return BudgetThreshold();
}

double SiteThreshold::ClusterValley() const {
  return stage() == ThresholdStage::kAdapted ? valley_ : 0.0;
}

double SiteThreshold::BudgetThreshold() const {
  if (scores_.count() < options_.warmup_lines) return kInf;
  return scores_.UpperQuantile(options_.budget);
}

double SiteThreshold::Threshold() const {
  const double free = LabelFreeThreshold();
  if (!labelled_ || scores_.count() < options_.warmup_lines) return free;
  if (std::isinf(free)) return label_threshold_;
  const double n = static_cast<double>(label_scores_.size());
  const double w = n / (n + options_.label_prior);
  return free + w * (label_threshold_ - free);
}

ThresholdStage SiteThreshold::stage() const {
  if (scores_.count() < options_.warmup_lines) return ThresholdStage::kWarmup;
  if (labelled_) return ThresholdStage::kLabelled;
  return adapted_ > 0 ? ThresholdStage::kAdapted : ThresholdStage::kBudget;
}

bool SiteThreshold::RoseInBudgetStage() const {
  // +infinity after a finite quantile is a rise too (a mass in the top bin holding more than the
  // budget's share); the warm-up's +infinity is not one (last_budget_ starts at +infinity).
  return !labelled_ && adapted_ <= 0 && scores_.count() >= options_.adapt_min_lines &&
         BudgetThreshold() > last_budget_;
}

bool SiteThreshold::Decide(double score, bool alarm_word, double* threshold) {
  const double t = Threshold();
  if (threshold != nullptr) *threshold = t;
  scores_.Add(score);
  alarm_lines_ += alarm_word ? 1 : 0;
  if (++since_refresh_ >= options_.refresh_lines) {
    since_refresh_ = 0;
    Refresh();
  } else if (options_.refresh_on_rise && RoseInBudgetStage()) {
    Refresh();  // an extra refresh: the schedule above stays as it was
  }
  if (options_.refresh_on_rise) last_budget_ = BudgetThreshold();
  return score > 0 && score >= t;
}

void SiteThreshold::AddLabel(double score, int label) {
  label_scores_.push_back(score);
  label_values_.push_back(label > 0 ? 1 : 0);
  labelled_ = MaxF1Threshold(label_scores_, label_values_, &label_threshold_);
}

void SiteThreshold::ClearLabels() {
  label_scores_.clear();
  label_values_.clear();
  labelled_ = false;
  label_threshold_ = 0;
}

}  // namespace fedlog::novelty
