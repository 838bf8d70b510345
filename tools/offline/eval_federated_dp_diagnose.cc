// `fedlog eval federated --dp-subspace-diagnose` (eval_federated.h, DiagnoseReleaseSubspace): how much of the
// pooled class means lies in the top-r principal directions of public lines' embeddings under the private
// federation's final model (common/privacy/release_subspace.h), and what a site without anomalous labels would
// rank with the release noised in that subspace instead of in all out_dim coordinates. Offline arithmetic on the
// eval's own embeddings; it releases nothing and changes no row of the run.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/model/encoder_types.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/release_subspace.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/pretrain.h"

namespace fedlog::offline {
namespace {

constexpr int kRanks[] = {4, 8, 16, 32};
constexpr int kMaxRank = 32;
constexpr int kDraws = 40;  // noise draws per rank

double Norm(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return std::sqrt(s);
}

// |U_r x| / |x| for the first r rows of `basis` (kMaxRank x dim).
double Share(const std::vector<float>& basis, int64_t dim, int r, const std::vector<double>& x) {
  double in = 0;
  for (int k = 0; k < r; ++k) {
    double dot = 0;
    for (int64_t j = 0; j < dim; ++j) dot += basis[k * dim + j] * x[j];
    in += dot * dot;
  }
  const double n = Norm(x);
  return n > 0 ? std::sqrt(in) / n : 0;
}

// Per class (0 normal, 1 anomalous), the sum of the rows of `z` whose label is that class.
void AddClassSums(const DenseMatrix& z, const std::vector<int>& labels, std::vector<double> sums[2],
                  int64_t counts[2]) {
  for (int64_t i = 0; i < z.rows; ++i) {
    if (labels[i] < 0) continue;
    const int c = labels[i] > 0 ? 1 : 0;
    for (int64_t j = 0; j < z.cols; ++j) sums[c][j] += z.data[i * z.cols + j];
    ++counts[c];
  }
}

// Per test line, its squared distance to the nearest row of `normals`.
std::vector<double> NormalDistances(const DenseMatrix& test, const DenseMatrix& normals) {
  const int64_t dim = test.cols;
  std::vector<double> out(static_cast<size_t>(test.rows), 1e300);
  for (int64_t i = 0; i < test.rows; ++i) {
    const float* z = test.data.data() + i * dim;
    for (int64_t k = 0; k < normals.rows; ++k) {
      double d = 0;
      for (int64_t j = 0; j < dim; ++j) {
        const double e = z[j] - normals.data[k * dim + j];
        d += e * e;
      }
      out[i] = std::min(out[i], d);
    }
  }
  return out;
}

// The site's detector score of each test unit with anomalous prototype `pa` (unit vector): scale-free
// d_normal - d_anomalous, d_normal (`dn`) the squared distance to the nearest normal support line (lines) or to
// their mean (sessions), as SiteAdapt builds the detector; a session scores its most anomalous line.
double Auroc(const FederatedSite& site, const DenseMatrix& test, const std::vector<double>& dn,
             const std::vector<double>& pa) {
  const int64_t dim = test.cols;
  std::vector<double> line(static_cast<size_t>(test.rows));
  for (int64_t i = 0; i < test.rows; ++i) {
    const float* z = test.data.data() + i * dim;
    double da = 0;
    for (int64_t j = 0; j < dim; ++j) da += (z[j] - pa[j]) * (z[j] - pa[j]);
    line[i] = dn[i] - da;
  }
  std::vector<int> labels;
  std::vector<double> scores;
  if (site.test.units.empty()) {
    for (int64_t i = 0; i < test.rows; ++i) {
      labels.push_back(site.test.lines.labels[i] > 0 ? 1 : 0);
      scores.push_back(line[i]);
    }
  } else {
    for (size_t u = 0; u < site.test.units.size(); ++u) {
      double best = -1e300;
      for (int64_t r : site.test.units[u]) best = std::max(best, line[static_cast<size_t>(r)]);
      labels.push_back(site.test.unit_labels[u]);
      scores.push_back(best);
    }
  }
  absl::StatusOr<eval::BinaryMetrics> m = eval::EvaluateScores(labels, scores, 0.0);
  return m.ok() ? m->auroc : 0.5;
}

std::vector<double> Unit(std::vector<double> x) {
  const double n = Norm(x);
  if (n > 0) {
    for (double& v : x) v /= n;
  }
  return x;
}

// The noised anomalous direction: in the subspace of the first r rows of `basis` (r > 0) or in all coordinates.
std::vector<double> NoisedDirection(const std::vector<double>& sum, const std::vector<float>& basis, int r,
                                    double stddev, privacy::GaussianSampler& sampler) {
  const int64_t dim = static_cast<int64_t>(sum.size());
  std::vector<double> out(sum.size(), 0.0);
  if (r == 0) {
    for (int64_t j = 0; j < dim; ++j) out[j] = sum[j] + (stddev > 0 ? stddev * sampler.Next() : 0);
    return Unit(out);
  }
  for (int k = 0; k < r; ++k) {
    double c = 0;
    for (int64_t j = 0; j < dim; ++j) c += basis[k * dim + j] * sum[j];
    if (stddev > 0) c += stddev * sampler.Next();
    for (int64_t j = 0; j < dim; ++j) out[j] += basis[k * dim + j] * c;
  }
  return Unit(out);
}

// Where DiagnoseReleaseSubspace's lines go: stderr and the run's notes.
using Note = std::function<void(const std::string&)>;

// Generality: for each public source with both classes, the share of its own class-mean difference in the top-r
// directions of the other sources' embeddings (`z`, rows as `pub.lines`).
absl::Status HeldOutSourceShares(const PublicLines& pub, const DenseMatrix& z, const Note& note) {
  const int64_t dim = z.cols;
  for (const std::string& held : pub.sources) {
    std::vector<float> rest;
    std::vector<double> sums[2] = {std::vector<double>(dim), std::vector<double>(dim)};
    int64_t counts[2] = {0, 0};
    int64_t lines = 0;
    // LoadPublicLines gives source k's template ids the block k << 32.
    for (int64_t i = 0; i < z.rows; ++i) {
      const int64_t block = pub.lines.template_ids.empty() || pub.lines.template_ids[i] < 0
                                ? -1
                                : (pub.lines.template_ids[i] >> 32);
      if (block < 0 || pub.sources[static_cast<size_t>(block)] != held) {
        rest.insert(rest.end(), z.data.begin() + i * dim, z.data.begin() + (i + 1) * dim);
        continue;
      }
      ++lines;
      const int y = pub.lines.labels[i];
      if (y < 0) continue;
      for (int64_t j = 0; j < dim; ++j) sums[y > 0 ? 1 : 0][j] += z.data[i * dim + j];
      ++counts[y > 0 ? 1 : 0];
    }
    if (counts[0] == 0 || counts[1] == 0 || rest.empty()) continue;
    FEDLOG_ASSIGN_OR_RETURN(std::vector<float> u, privacy::PrincipalBasis(rest, dim, kMaxRank));
    std::vector<double> d(dim);
    for (int64_t j = 0; j < dim; ++j) d[j] = sums[1][j] / counts[1] - sums[0][j] / counts[0];
    std::string row = absl::StrFormat("public %s held out (%d lines, %d anomalous): share of its class-mean "
                                      "difference in the others' top r (shared encoder):",
                                      held, lines, counts[1]);
    for (int r : kRanks) absl::StrAppend(&row, absl::StrFormat(" r%d %.3f", r, Share(u, dim, r, d)));
    absl::StrAppend(&row, absl::StrFormat("; random r16 expectation %.3f", std::sqrt(16.0 / dim)));
    note(row);
  }
  return absl::OkStatus();
}

// The labelled sites' pooled class sums under the final model (what the release pools, without noise).
struct PooledSums {
  explicit PooledSums(int64_t dim) : sums{std::vector<double>(dim), std::vector<double>(dim)} {}
  std::vector<double> sums[2];
  int64_t counts[2] = {0, 0};
};

// Every site's labelled training lines embedded under `global` and summed per class into `out`; the sites
// without an anomalous training label in `blind`.
absl::Status PoolLabelledSums(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                              const fl::TensorBundle& global, const FederatedOptions& o, PooledSums* out,
                              std::vector<size_t>* blind) {
  for (size_t i = 0; i < sites.size(); ++i) {
    const FederatedSite& s = sites[i];
    if (std::none_of(s.train.labels.begin(), s.train.labels.end(), [](int y) { return y > 0; })) {
      blind->push_back(i);
    }
    std::vector<int64_t> rows;
    for (int64_t r = 0; r < s.train.size(); ++r) {
      if (s.train.labels[r] >= 0) rows.push_back(r);
    }
    const model::LineSet labelled = model::SelectLines(s.train, rows);
    FEDLOG_ASSIGN_OR_RETURN(DenseMatrix z, EmbedUnder(base, s.sources, global, labelled, o));
    AddClassSums(z, labelled.labels, out->sums, out->counts);
  }
  return absl::OkStatus();
}

// Per basis and rank: the share of the pooled anomalous mean and of the class-mean difference, and the pooled
// noise's norm against the anomalous sum's part in the subspace.
void NoteShares(const PooledSums& p, const std::vector<std::pair<std::string, std::vector<float>>>& bases,
                double pooled, double s, int participants, int shares, const Note& note) {
  const int64_t dim = static_cast<int64_t>(p.sums[0].size());
  std::vector<double> mean_a(dim), diff(dim);
  for (int64_t j = 0; j < dim; ++j) {
    mean_a[j] = p.sums[1][j] / p.counts[1];
    diff[j] = mean_a[j] - p.sums[0][j] / p.counts[0];
  }
  const double sum_norm = Norm(p.sums[1]);
  note(absl::StrFormat("pooled labelled lines: %d normal, %d anomalous; |anomalous mean| %.3f, |difference| %.3f; "
                       "pooled noise stddev %.4g per coordinate (s %.4g, %d sites, t %d), its norm on the "
                       "anomalous sum %.3f of the sum's",
                       p.counts[0], p.counts[1], Norm(mean_a), Norm(diff), pooled, s, participants, shares,
                       pooled * std::sqrt(static_cast<double>(dim)) / sum_norm));
  for (const auto& [name, basis] : bases) {
    std::string row = absl::StrFormat("%s basis: share of anomalous mean / of difference / noise-to-signal on "
                                      "the anomalous direction:", name);
    for (int r : kRanks) {
      absl::StrAppend(&row, absl::StrFormat(" r%d %.3f / %.3f / %.3f", r, Share(basis, dim, r, mean_a),
                                            Share(basis, dim, r, diff),
                                            pooled * std::sqrt(static_cast<double>(r)) /
                                                (Share(basis, dim, r, p.sums[1]) * sum_norm)));
    }
    absl::StrAppend(&row, absl::StrFormat("; full r%d noise-to-signal %.3f", dim,
                                          pooled * std::sqrt(static_cast<double>(dim)) / sum_norm));
    note(row);
  }
}

// A site without anomalous labels: its detector's AUROC with the anomalous direction of the pooled sum `sum_a`,
// noiseless and averaged over kDraws draws of the pooled noise, in all coordinates ("full") and per rank.
absl::Status NoteBlindSite(const FederatedSite& s, const model::EncoderSpec& base, const fl::TensorBundle& global,
                           const FederatedOptions& o,
                           const std::vector<std::pair<std::string, std::vector<float>>>& bases,
                           const std::vector<double>& sum_a, double pooled, privacy::GaussianSampler& sampler,
                           const Note& note) {
  const int64_t dim = base.out_dim;
  FEDLOG_ASSIGN_OR_RETURN(DenseMatrix test, EmbedUnder(base, s.sources, global, s.test.lines, o));
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < s.support.size(); ++r) {
    if (s.support.labels[r] == 0) rows.push_back(r);
  }
  FEDLOG_ASSIGN_OR_RETURN(DenseMatrix normals,
                          EmbedUnder(base, s.sources, global, model::SelectLines(s.support, rows), o));
  if (normals.rows == 0) return absl::OkStatus();
  if (!s.test.units.empty()) {  // sessions: one class mean (SiteAdapt)
    DenseMatrix mean(1, dim);
    for (int64_t r = 0; r < normals.rows; ++r) {
      for (int64_t j = 0; j < dim; ++j) mean.data[j] += normals.data[r * dim + j] / normals.rows;
    }
    normals = std::move(mean);
  }
  const std::vector<double> dn = NormalDistances(test, normals);
  for (const auto& [name, basis] : bases) {
    std::string row = absl::StrFormat("%s, %s basis: AUROC noiseless / mean over %d draws:", s.name, name, kDraws);
    for (int r : {0, 4, 8, 16, 32}) {
      if (r == 0 && name != "shared") continue;
      const double clean = Auroc(s, test, dn, NoisedDirection(sum_a, basis, r, 0, sampler));
      double mean = 0;
      for (int k = 0; k < kDraws; ++k) {
        mean += Auroc(s, test, dn, NoisedDirection(sum_a, basis, r, pooled, sampler)) / kDraws;
      }
      absl::StrAppend(&row, absl::StrFormat(" %s %.3f / %.3f", r == 0 ? std::string("full") : absl::StrCat("r", r),
                                            clean, mean));
    }
    note(row);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DiagnoseReleaseSubspace(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                     const fl::TensorBundle& global, const FederatedOptions& o, int participants,
                                     int shares, std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(std::string system, PublicExclusion(o));
  FEDLOG_ASSIGN_OR_RETURN(PublicLines pub, LoadPublicLines(o.data_dir, {system}));
  const int64_t dim = base.out_dim;
  const Note note = [&](const std::string& s) {
    std::cerr << "[subspace] " << s << "\n";
    notes->push_back("subspace: " + s);
  };
  note(absl::StrFormat("%d public lines from %d sources (%s excluded)", pub.lines.size(), pub.sources.size(),
                       system));
  // "shared": public lines through the shared encoder only; "adapter": through the federation's adapter of the
  // sites' first source (every site of hdfs and bgl runs one source).
  const std::string source = sites[0].sources.empty() ? "" : sites[0].sources[0];
  std::vector<std::pair<std::string, std::vector<float>>> bases;
  for (const bool adapter : {false, true}) {
    model::LineSet lines = pub.lines;
    std::vector<std::string> srcs;
    if (adapter) {
      if (source.empty()) continue;
      for (std::string& s : lines.sources) s = source;
      srcs = {source};
    }
    FEDLOG_ASSIGN_OR_RETURN(DenseMatrix z, EmbedUnder(base, srcs, global, lines, o));
    FEDLOG_ASSIGN_OR_RETURN(std::vector<float> u, privacy::PrincipalBasis(z.data, dim, kMaxRank));
    bases.emplace_back(adapter ? "adapter" : "shared", std::move(u));
    if (!adapter) FEDLOG_RETURN_IF_ERROR(HeldOutSourceShares(pub, z, note));
  }
  PooledSums pooled_sums(dim);
  std::vector<size_t> blind;
  FEDLOG_RETURN_IF_ERROR(PoolLabelledSums(sites, base, global, o, &pooled_sums, &blind));
  if (pooled_sums.counts[0] == 0 || pooled_sums.counts[1] == 0) return absl::OkStatus();
  // The pooled release's noise: every participant adds s^2 / t per coordinate.
  const double pooled = o.dp_prototype_noise * std::sqrt(static_cast<double>(participants) / shares);
  NoteShares(pooled_sums, bases, pooled, o.dp_prototype_noise, participants, shares, note);
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  for (size_t i : blind) {
    FEDLOG_RETURN_IF_ERROR(
        NoteBlindSite(sites[i], base, global, o, bases, pooled_sums.sums[1], pooled, sampler, note));
  }
  return absl::OkStatus();
}


}  // namespace fedlog::offline
