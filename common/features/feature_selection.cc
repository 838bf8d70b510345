#include "common/features/feature_selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fedlog::features {
namespace {

absl::Status CheckLabels(const DenseMatrix& x, absl::Span<const int> labels) {
  if (x.rows == 0 || x.cols == 0)
    return absl::InvalidArgumentError("feature selection: empty matrix");
  if (labels.size() != static_cast<size_t>(x.rows)) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature selection: ", labels.size(), " labels for ", x.rows, " rows"));
  }
  for (int y : labels) {
    if (y != 0 && y != 1)
      return absl::InvalidArgumentError("feature selection: labels must be 0 or 1");
  }
  return absl::OkStatus();
}

// Equal-frequency bin of every row of column `c`; a run of equal values gets the bin of its first
// element.
std::vector<int> BinColumn(const DenseMatrix& x, int64_t c, int bins,
                           std::vector<std::pair<float, int>>* buf) {
  const size_t n = static_cast<size_t>(x.rows);
  buf->resize(n);
  for (size_t r = 0; r < n; ++r)
    (*buf)[r] = {x.Row(static_cast<int64_t>(r))[c], static_cast<int>(r)};
  std::sort(buf->begin(), buf->end());
  std::vector<int> bin(n);
  int current = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i == 0 || (*buf)[i].first != (*buf)[i - 1].first) {
      current = static_cast<int>(i * static_cast<size_t>(bins) / n);
    }
    bin[static_cast<size_t>((*buf)[i].second)] = current;
  }
  return bin;
}

void NormaliseToSumOne(std::vector<double>* v) {
  const double s = std::accumulate(v->begin(), v->end(), 0.0);
  if (s > 0) {
    for (double& x : *v) x /= s;
  }
}

}  // namespace

absl::StatusOr<std::vector<double>> MutualInformation(const DenseMatrix& x,
                                                      absl::Span<const int> labels, int bins) {
  if (absl::Status s = CheckLabels(x, labels); !s.ok()) return s;
  if (bins < 2) return absl::InvalidArgumentError("MutualInformation: bins < 2");
  const double n = static_cast<double>(x.rows);
  const double n1 = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  const double py[2] = {(n - n1) / n, n1 / n};
  std::vector<double> mi(static_cast<size_t>(x.cols), 0.0);
  std::vector<std::pair<float, int>> buf;
  std::vector<double> joint(static_cast<size_t>(bins) * 2);
  for (int64_t c = 0; c < x.cols; ++c) {
    const std::vector<int> bin = BinColumn(x, c, bins, &buf);
    std::fill(joint.begin(), joint.end(), 0.0);
    for (size_t r = 0; r < bin.size(); ++r)
      joint[static_cast<size_t>(bin[r]) * 2 + labels[r]] += 1.0;
    double total = 0;
    for (int b = 0; b < bins; ++b) {
      const double pb = (joint[b * 2] + joint[b * 2 + 1]) / n;
      for (int y = 0; y < 2; ++y) {
        const double pj = joint[b * 2 + y] / n;
        if (pj > 0) total += pj * std::log(pj / (pb * py[y]));
      }
    }
    mi[static_cast<size_t>(c)] = std::max(0.0, total);
  }
  return mi;
}

absl::StatusOr<FeatureRanking> RankFeatures(const DenseMatrix& x, absl::Span<const int> labels,
                                            absl::Span<const double> tree_importance,
                                            const SelectionOptions& options) {
  if (options.k < 1) return absl::InvalidArgumentError("RankFeatures: k < 1");
  if (options.mi_weight < 0 || options.tree_weight < 0) {
    return absl::InvalidArgumentError("RankFeatures: negative weight");
  }
  if (!tree_importance.empty() && tree_importance.size() != static_cast<size_t>(x.cols)) {
    return absl::InvalidArgumentError(absl::StrCat("RankFeatures: ", tree_importance.size(),
                                                   " importances for ", x.cols, " columns"));
  }
  for (double t : tree_importance) {
    if (!(t >= 0)) return absl::InvalidArgumentError("RankFeatures: tree importance must be >= 0");
  }
  FeatureRanking out;
  absl::StatusOr<std::vector<double>> mi = MutualInformation(x, labels, options.bins);
  if (!mi.ok()) return mi.status();
  out.mi = *std::move(mi);
  out.tree.assign(tree_importance.begin(), tree_importance.end());
  std::vector<double> mi_n = out.mi, tree_n = out.tree;
  NormaliseToSumOne(&mi_n);
  NormaliseToSumOne(&tree_n);
  out.score.resize(static_cast<size_t>(x.cols));
  for (size_t c = 0; c < out.score.size(); ++c) {
    out.score[c] =
        options.mi_weight * mi_n[c] + (tree_n.empty() ? 0.0 : options.tree_weight * tree_n[c]);
  }
  std::vector<int> order(static_cast<size_t>(x.cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return out.score[a] > out.score[b]; });
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(options.k)));
  out.selected = std::move(order);
  return out;
}

DenseMatrix SelectColumns(const DenseMatrix& x, absl::Span<const int> columns) {
  DenseMatrix out(x.rows, static_cast<int64_t>(columns.size()));
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* in = x.Row(r);
    float* o = out.Row(r);
    for (size_t j = 0; j < columns.size(); ++j) o[j] = in[columns[j]];
  }
  return out;
}

}  // namespace fedlog::features
