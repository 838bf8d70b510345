#include "common/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::eval {
namespace {

double SafeDiv(double num, double den) { return den == 0 ? 0.0 : num / den; }

double HarmonicMean(double a, double b) { return SafeDiv(2 * a * b, a + b); }

absl::Status CheckLabels(absl::Span<const int> labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("label at index ", i, " is ", labels[i], "; expected 0 or 1"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckScored(absl::Span<const int> labels, absl::Span<const double> scores) {
  if (labels.size() != scores.size()) {
    return absl::InvalidArgumentError(absl::StrCat("labels (", labels.size(), ") and scores (",
                                                   scores.size(), ") differ in length"));
  }
  FEDLOG_RETURN_IF_ERROR(CheckLabels(labels));
  for (size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(scores[i])) {
      return absl::InvalidArgumentError(absl::StrCat("score at index ", i, " is NaN"));
    }
  }
  return absl::OkStatus();
}

// Indices of `scores` ordered by descending score; stable so equal scores keep input order.
std::vector<size_t> OrderByScoreDescending(absl::Span<const double> scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

}  // namespace

absl::StatusOr<ConfusionMatrix> ComputeConfusion(absl::Span<const int> labels,
                                                 absl::Span<const int> predictions) {
  if (labels.size() != predictions.size()) {
    return absl::InvalidArgumentError(absl::StrCat("labels (", labels.size(), ") and predictions (",
                                                   predictions.size(), ") differ in length"));
  }
  FEDLOG_RETURN_IF_ERROR(CheckLabels(labels));
  FEDLOG_RETURN_IF_ERROR(Annotate(CheckLabels(predictions), "predictions"));
  ConfusionMatrix cm;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == 1) {
      (predictions[i] == 1 ? cm.tp : cm.fn) += 1;
    } else {
      (predictions[i] == 1 ? cm.fp : cm.tn) += 1;
    }
  }
  return cm;
}

double Precision(const ConfusionMatrix& cm) { return SafeDiv(cm.tp, cm.tp + cm.fp); }
double Recall(const ConfusionMatrix& cm) { return SafeDiv(cm.tp, cm.tp + cm.fn); }
double F1(const ConfusionMatrix& cm) { return HarmonicMean(Precision(cm), Recall(cm)); }

double F1Normal(const ConfusionMatrix& cm) {
  ConfusionMatrix flipped{.tp = cm.tn, .fp = cm.fn, .tn = cm.tp, .fn = cm.fp};
  return F1(flipped);
}

double F1Macro(const ConfusionMatrix& cm) { return (F1(cm) + F1Normal(cm)) / 2; }

double BalancedAccuracy(const ConfusionMatrix& cm) {
  const bool has_pos = cm.tp + cm.fn > 0;
  const bool has_neg = cm.tn + cm.fp > 0;
  const double tpr = Recall(cm);
  const double tnr = SafeDiv(cm.tn, cm.tn + cm.fp);
  if (has_pos && has_neg) return (tpr + tnr) / 2;
  if (has_pos) return tpr;
  if (has_neg) return tnr;
  return 0.0;
}

double Mcc(const ConfusionMatrix& cm) {
  const double tp = cm.tp, fp = cm.fp, tn = cm.tn, fn = cm.fn;
  const double den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn);
  if (den == 0) return 0.0;
  return (tp * tn - fp * fn) / std::sqrt(den);
}

absl::StatusOr<double> Auroc(absl::Span<const int> labels, absl::Span<const double> scores) {
  FEDLOG_RETURN_IF_ERROR(CheckScored(labels, scores));
  const int64_t n_pos = std::count(labels.begin(), labels.end(), 1);
  const int64_t n_neg = static_cast<int64_t>(labels.size()) - n_pos;
  if (n_pos == 0 || n_neg == 0) return 0.5;
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Ranks are 1-based; a run of equal scores at positions [i, j) shares rank (i + 1 + j) / 2.
  double positive_rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t r = i; r < j; ++r) {
      if (labels[order[r]] == 1) positive_rank_sum += rank;
    }
    i = j;
  }
  const double u = positive_rank_sum - static_cast<double>(n_pos) * (n_pos + 1) / 2;
  return u / (static_cast<double>(n_pos) * static_cast<double>(n_neg));
}

absl::StatusOr<double> AveragePrecision(absl::Span<const int> labels,
                                        absl::Span<const double> scores) {
  FEDLOG_RETURN_IF_ERROR(CheckScored(labels, scores));
  const int64_t n_pos = std::count(labels.begin(), labels.end(), 1);
  if (n_pos == 0) return 0.0;
  const std::vector<size_t> order = OrderByScoreDescending(scores);
  double ap = 0, previous_recall = 0;
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j) {
      (labels[order[j]] == 1 ? tp : fp) += 1;
    }
    const double recall = static_cast<double>(tp) / static_cast<double>(n_pos);
    const double precision = static_cast<double>(tp) / static_cast<double>(tp + fp);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
    i = j;
  }
  return ap;
}

BinaryMetrics MetricsFromConfusion(const ConfusionMatrix& cm) {
  BinaryMetrics m;
  m.confusion = cm;
  m.precision = Precision(cm);
  m.recall = Recall(cm);
  m.f1 = F1(cm);
  m.f1_macro = F1Macro(cm);
  m.balanced_accuracy = BalancedAccuracy(cm);
  m.mcc = Mcc(cm);
  return m;
}

absl::StatusOr<BinaryMetrics> EvaluateScores(absl::Span<const int> labels,
                                             absl::Span<const double> scores, double threshold) {
  FEDLOG_RETURN_IF_ERROR(CheckScored(labels, scores));
  std::vector<int> predictions(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) predictions[i] = scores[i] >= threshold ? 1 : 0;
  FEDLOG_ASSIGN_OR_RETURN(ConfusionMatrix cm, ComputeConfusion(labels, predictions));
  BinaryMetrics m = MetricsFromConfusion(cm);
  FEDLOG_ASSIGN_OR_RETURN(m.auroc, Auroc(labels, scores));
  FEDLOG_ASSIGN_OR_RETURN(m.pr_auc, AveragePrecision(labels, scores));
  m.ranking_defined = cm.tp + cm.fn > 0 && cm.tn + cm.fp > 0;
  return m;
}

absl::StatusOr<BinaryMetrics> EvaluatePredictions(absl::Span<const int> labels,
                                                  absl::Span<const int> predictions) {
  FEDLOG_ASSIGN_OR_RETURN(ConfusionMatrix cm, ComputeConfusion(labels, predictions));
  const std::vector<double> scores(predictions.begin(), predictions.end());
  BinaryMetrics m = MetricsFromConfusion(cm);
  FEDLOG_ASSIGN_OR_RETURN(m.auroc, Auroc(labels, scores));
  FEDLOG_ASSIGN_OR_RETURN(m.pr_auc, AveragePrecision(labels, scores));
  m.ranking_defined = cm.tp + cm.fn > 0 && cm.tn + cm.fp > 0;
  return m;
}

}  // namespace fedlog::eval
