#include "common/model/few_shot_fused.h"

#include <algorithm>
#include <cmath>

#include "common/base/status_macros.h"
#include "common/model/embedding_dot.h"
#include "common/novelty/site_threshold.h"

namespace fedlog::model {

absl::Status FusedFewShotOptions::Validate() const {
  if (!(match > -1 && match <= 1))
    return absl::InvalidArgumentError("fused few-shot: match must be in (-1, 1]");
  if (!(label_prior > 0))
    return absl::InvalidArgumentError("fused few-shot: label_prior must be > 0");
  return absl::OkStatus();
}

std::vector<float> PoolEmbeddings(const std::vector<float>& embeddings, size_t dim,
                                  const std::vector<int64_t>& rows) {
  std::vector<double> sum(dim, 0.0);
  for (int64_t r : rows) {
    const float* e = embeddings.data() + static_cast<size_t>(r) * dim;
    for (size_t j = 0; j < dim; ++j) sum[j] += e[j];
  }
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  std::vector<float> out(dim, 0.0f);
  if (norm == 0) return out;
  for (size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(sum[j] / norm);
  return out;
}

void CentreEmbeddings(std::vector<float>* embeddings, size_t dim,
                      const std::vector<size_t>& reference) {
  if (reference.empty() || dim == 0) return;
  std::vector<double> mean(dim, 0.0);
  for (size_t r : reference) {
    for (size_t j = 0; j < dim; ++j) mean[j] += (*embeddings)[r * dim + j];
  }
  for (double& m : mean) m /= static_cast<double>(reference.size());
  const size_t n = embeddings->size() / dim;
  std::vector<double> row(dim);
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (size_t j = 0; j < dim; ++j) {
      row[j] = (*embeddings)[i * dim + j] - mean[j];
      norm += row[j] * row[j];
    }
    norm = std::sqrt(norm);
    for (size_t j = 0; j < dim; ++j) {
      (*embeddings)[i * dim + j] = norm > 1e-12 ? static_cast<float>(row[j] / norm) : 0.0f;
    }
  }
}

absl::StatusOr<double> MatchFromReference(const std::vector<float>& sample, size_t dim,
                                          double quantile) {
  if (!(quantile >= 0 && quantile <= 1)) {
    return absl::InvalidArgumentError("fused few-shot: the match quantile must be in [0, 1]");
  }
  if (dim == 0 || sample.size() % dim != 0 || sample.size() / dim < 2) {
    return absl::InvalidArgumentError(
        "fused few-shot: the reference needs >= 2 rows of dim floats");
  }
  const size_t n = sample.size() / dim;
  std::vector<double> nearest(n, -1.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double s = EmbeddingDot(sample.data() + i * dim, sample.data() + j * dim, dim);
      nearest[i] = std::max(nearest[i], s);
      nearest[j] = std::max(nearest[j], s);
    }
  }
  std::sort(nearest.begin(), nearest.end());
  const size_t at =
      std::min(n - 1, static_cast<size_t>(std::floor(quantile * static_cast<double>(n - 1) + 0.5)));
  return std::min(1.0, nearest[at]);
}

absl::StatusOr<FusedFewShotDetector> FusedFewShotDetector::Fit(
    const std::vector<float>& support, size_t dim, const std::vector<double>& support_free,
    const std::vector<int>& labels, const FusedFewShotOptions& options, double free_threshold) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  if (dim == 0 || labels.empty() || support.size() != labels.size() * dim ||
      support_free.size() != labels.size()) {
    return absl::InvalidArgumentError(
        "fused few-shot: support, scores and labels must agree, at least 1 unit");
  }
  FusedFewShotDetector d;
  d.options_ = options;
  d.dim_ = dim;
  d.support_ = support;
  for (int y : labels) d.labels_.push_back(y > 0 ? 1 : 0);
  std::vector<double> loo;
  for (size_t i = 0; i < labels.size(); ++i) {
    loo.push_back(
        d.ScoreWithout(support.data() + i * dim, support_free[i], static_cast<int64_t>(i)));
  }
  d.threshold_ = free_threshold;
  double labelled = 0;
  if (novelty::MaxF1Threshold(loo, d.labels_, &labelled)) {
    const double n = static_cast<double>(labels.size());
    d.threshold_ = free_threshold + n / (n + options.label_prior) * (labelled - free_threshold);
  }
  return d;
}

void FusedFewShotDetector::Nearest(const float* e, int64_t skip, double* anomalous,
                                   double* normal) const {
  *anomalous = -2;
  *normal = -2;
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (static_cast<int64_t>(i) == skip) continue;
    const double s = EmbeddingDot(e, support_.data() + i * dim_, dim_);
    double* best = labels_[i] ? anomalous : normal;
    *best = std::max(*best, s);
  }
}

double FusedFewShotDetector::ScoreWithout(const float* e, double free_score, int64_t skip) const {
  double a = 0, n = 0;
  Nearest(e, skip, &a, &n);
  if (std::max(a, n) < options_.match) return free_score;
  return a >= n ? 2.0 + a : -1.0 - n;
}

double FusedFewShotDetector::Score(const float* e, double free_score) const {
  return ScoreWithout(e, free_score, -1);
}

bool FusedFewShotDetector::Matched(const float* e) const {
  double a = 0, n = 0;
  Nearest(e, -1, &a, &n);
  return std::max(a, n) >= options_.match;
}

}  // namespace fedlog::model
