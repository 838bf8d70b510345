// `fedlog eval federated --dp-shrink-diagnose` (eval_federated.h, DiagnoseReleaseShrink): what the release's
// shrinkage weight (common/privacy/release_shrink.h) gives a site without anomalous labels. Under the private
// federation's final model it pools the labelled sites' class sums as the release does (without noise), draws the
// pooled noise kDraws times (every participant adds s^2 / t per coordinate), and per draw scores the site's test
// units with the anomalous prototype its detector would get: the unit direction (today), the shrunk one, none
// (w = 0: its normal-only score), and the noiseless direction. Threshold at max F1 on its validation units, as
// EvaluateSite picks it. Offline arithmetic on the eval's own embeddings; releases nothing, changes no row.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/threshold.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/release_shrink.h"
#include "tools/offline/eval_federated.h"

namespace fedlog::offline {
namespace {

constexpr int kDraws = 40;

// A site part's embeddings and, per line, the squared distance to its nearest normal prototype.
struct Embedded {
  DenseMatrix z;
  std::vector<double> dn;
};

// Squared distances of each row of `z` to the nearest row of `normals`.
std::vector<double> NearestNormal(const DenseMatrix& z, const DenseMatrix& normals) {
  std::vector<double> out(static_cast<size_t>(z.rows), 1e300);
  for (int64_t i = 0; i < z.rows; ++i) {
    for (int64_t k = 0; k < normals.rows; ++k) {
      double d = 0;
      for (int64_t j = 0; j < z.cols; ++j) {
        const double e = z.data[i * z.cols + j] - normals.data[k * z.cols + j];
        d += e * e;
      }
      out[static_cast<size_t>(i)] = std::min(out[static_cast<size_t>(i)], d);
    }
  }
  return out;
}

// Unit labels and scores of `part` from per-line scores d_normal - |z - pa|^2 (sessions: a unit's maximum).
void UnitScores(const SitePart& part, const Embedded& e, const std::vector<double>& pa, std::vector<int>* labels,
                std::vector<double>* scores) {
  const int64_t dim = e.z.cols;
  std::vector<double> line(static_cast<size_t>(e.z.rows));
  for (int64_t i = 0; i < e.z.rows; ++i) {
    double da = 0;
    for (int64_t j = 0; j < dim; ++j) {
      const double d = e.z.data[i * dim + j] - pa[j];
      da += d * d;
    }
    line[static_cast<size_t>(i)] = e.dn[static_cast<size_t>(i)] - da;
  }
  labels->clear();
  scores->clear();
  if (part.units.empty()) {
    for (size_t i = 0; i < line.size(); ++i) {
      labels->push_back(part.lines.labels[i] > 0 ? 1 : 0);
      scores->push_back(line[i]);
    }
    return;
  }
  for (size_t u = 0; u < part.units.size(); ++u) {
    double best = -1e300;
    for (int64_t r : part.units[u]) best = std::max(best, line[static_cast<size_t>(r)]);
    labels->push_back(part.unit_labels[u]);
    scores->push_back(best);
  }
}

// Test AUROC and F1 at the validation units' max-F1 threshold, with anomalous prototype `pa`.
void Score(const FederatedSite& s, const Embedded& val, const Embedded& test, const std::vector<double>& pa,
           double* auroc, double* f1) {
  std::vector<int> labels;
  std::vector<double> scores;
  double threshold = 0;
  UnitScores(s.validation, val, pa, &labels, &scores);
  absl::StatusOr<eval::ThresholdChoice> t = eval::SelectThresholdMaxF1(labels, scores);
  if (t.ok()) threshold = t->threshold;
  UnitScores(s.test, test, pa, &labels, &scores);
  absl::StatusOr<eval::BinaryMetrics> m = eval::EvaluateScores(labels, scores, threshold);
  *auroc = m.ok() ? m->auroc : 0.5;
  *f1 = m.ok() ? m->f1 : 0;
}

absl::StatusOr<Embedded> EmbedPart(const FederatedSite& s, const model::EncoderSpec& base,
                                   const fl::TensorBundle& global, const model::LineSet& lines,
                                   const DenseMatrix& normals, const FederatedOptions& o) {
  Embedded e;
  FEDLOG_ASSIGN_OR_RETURN(e.z, EmbedUnder(base, s.sources, global, lines, o));
  e.dn = NearestNormal(e.z, normals);
  return e;
}

// The site's normal prototypes as SiteAdapt builds them: every normal support line (lines) or their mean
// (sessions). No rows when the site has no normal support line.
absl::StatusOr<DenseMatrix> NormalPrototypes(const FederatedSite& s, const model::EncoderSpec& base,
                                             const fl::TensorBundle& global, const FederatedOptions& o) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < s.support.size(); ++r) {
    if (s.support.labels[r] == 0) rows.push_back(r);
  }
  FEDLOG_ASSIGN_OR_RETURN(DenseMatrix normals,
                          EmbedUnder(base, s.sources, global, model::SelectLines(s.support, rows), o));
  if (normals.rows == 0 || s.test.units.empty()) return normals;
  DenseMatrix mean(1, normals.cols);
  for (int64_t r = 0; r < normals.rows; ++r) {
    for (int64_t j = 0; j < normals.cols; ++j) mean.data[j] += normals.data[r * normals.cols + j] / normals.rows;
  }
  return mean;
}

// The labelled sites' pooled anomalous sum (what the release pools before noise) and the sites without an
// anomalous training label.
absl::StatusOr<std::vector<double>> PooledAnomalousSum(const std::vector<FederatedSite>& sites,
                                                       const model::EncoderSpec& base,
                                                       const fl::TensorBundle& global, const FederatedOptions& o,
                                                       int64_t* count, std::vector<size_t>* blind) {
  std::vector<double> sum(static_cast<size_t>(base.out_dim), 0.0);
  for (size_t i = 0; i < sites.size(); ++i) {
    std::vector<int64_t> rows;
    for (int64_t r = 0; r < sites[i].train.size(); ++r) {
      if (sites[i].train.labels[r] > 0) rows.push_back(r);
    }
    if (rows.empty()) {
      blind->push_back(i);
      continue;
    }
    FEDLOG_ASSIGN_OR_RETURN(DenseMatrix z,
                            EmbedUnder(base, sites[i].sources, global, model::SelectLines(sites[i].train, rows), o));
    for (int64_t r = 0; r < z.rows; ++r) {
      double n2 = 0;
      for (int64_t j = 0; j < z.cols; ++j) n2 += double{z.data[r * z.cols + j]} * z.data[r * z.cols + j];
      const double clip = n2 > 1 ? 1 / std::sqrt(n2) : 1.0;  // the release's clip to norm 1
      for (int64_t j = 0; j < z.cols; ++j) sum[static_cast<size_t>(j)] += clip * z.data[r * z.cols + j];
    }
    *count += z.rows;
  }
  return sum;
}

// Mean over kDraws of each arm's AUROC / F1 at blind site `s`, and the mean shrink weight.
absl::Status NoteSite(const FederatedSite& s, const model::EncoderSpec& base, const fl::TensorBundle& global,
                      const FederatedOptions& o, const std::vector<double>& sum, double pooled,
                      privacy::GaussianSampler& sampler, std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(DenseMatrix normals, NormalPrototypes(s, base, global, o));
  if (normals.rows == 0 || s.validation.lines.size() == 0) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(Embedded val, EmbedPart(s, base, global, s.validation.lines, normals, o));
  FEDLOG_ASSIGN_OR_RETURN(Embedded test, EmbedPart(s, base, global, s.test.lines, normals, o));
  const size_t dim = sum.size();
  const double energy = pooled * pooled * static_cast<double>(dim);
  auto unit = [](std::vector<double> x, double scale) {
    double n2 = 0;
    for (double v : x) n2 += v * v;
    for (double& v : x) v *= n2 > 0 ? scale / std::sqrt(n2) : 0.0;
    return x;
  };
  double clean_auc = 0, clean_f1 = 0, none_auc = 0, none_f1 = 0;
  Score(s, val, test, unit(sum, 1.0), &clean_auc, &clean_f1);
  Score(s, val, test, std::vector<double>(dim, 0.0), &none_auc, &none_f1);
  double full_auc = 0, full_f1 = 0, shrunk_auc = 0, shrunk_f1 = 0, mean_w = 0;
  for (int k = 0; k < kDraws; ++k) {
    std::vector<float> noised(dim);
    for (size_t j = 0; j < dim; ++j) noised[j] = static_cast<float>(sum[j] + pooled * sampler.Next());
    const double w = privacy::ReleaseShrinkWeight(noised, energy);
    const std::vector<double> r(noised.begin(), noised.end());
    double a = 0, f = 0;
    Score(s, val, test, unit(r, 1.0), &a, &f);
    full_auc += a / kDraws;
    full_f1 += f / kDraws;
    Score(s, val, test, unit(r, w), &a, &f);
    shrunk_auc += a / kDraws;
    shrunk_f1 += f / kDraws;
    mean_w += w / kDraws;
  }
  double sum2 = 0;
  for (double v : sum) sum2 += v * v;
  const std::string row = absl::StrFormat(
      "%s: E|noise|^2 / |pooled anomalous sum|^2 %.3f, mean w %.3f over %d draws; AUROC / F1 noiseless %.3f / "
      "%.3f, full release %.3f / %.3f, shrunk %.3f / %.3f, normal-only (w = 0) %.3f / %.3f",
      s.name, energy / std::max(sum2, 1e-300), mean_w, kDraws, clean_auc, clean_f1, full_auc, full_f1, shrunk_auc,
      shrunk_f1, none_auc, none_f1);
  std::cerr << "[shrink] " << row << "\n";
  notes->push_back("shrink: " + row);
  return absl::OkStatus();
}

}  // namespace

absl::Status DiagnoseReleaseShrink(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                   const fl::TensorBundle& global, const FederatedOptions& o, int participants,
                                   int shares, std::vector<std::string>* notes) {
  int64_t count = 0;
  std::vector<size_t> blind;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> sum, PooledAnomalousSum(sites, base, global, o, &count, &blind));
  // The pooled release's noise per coordinate, in the sums' units: every participant adds s^2 / t.
  const double pooled = o.dp_prototype_noise * std::sqrt(static_cast<double>(participants) / shares);
  double sum2 = 0;
  for (double v : sum) sum2 += v * v;
  const std::string head = absl::StrFormat(
      "%d pooled anomalous lines, |sum| %.3f; pooled noise stddev %.4g per coordinate (s %.4g, %d sites, t %d), "
      "E|noise| %.3f",
      count, std::sqrt(sum2), pooled, o.dp_prototype_noise, participants, shares,
      pooled * std::sqrt(static_cast<double>(sum.size())));
  std::cerr << "[shrink] " << head << "\n";
  notes->push_back("shrink: " + head);
  if (count == 0) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  for (size_t i : blind) FEDLOG_RETURN_IF_ERROR(NoteSite(sites[i], base, global, o, sum, pooled, sampler, notes));
  return absl::OkStatus();
}

}  // namespace fedlog::offline
