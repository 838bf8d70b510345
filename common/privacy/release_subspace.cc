#include "common/privacy/release_subspace.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::privacy {
namespace {

// Cyclic Jacobi on the symmetric n x n matrix `a` (row-major, destroyed): eigenvalues on its diagonal, the
// eigenvectors in the columns of `v`.
void JacobiEigen(std::vector<double>& a, int64_t n, std::vector<double>* v) {
  v->assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) (*v)[i * n + i] = 1.0;
  double total = 0;
  for (double x : a) total += x * x;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    }
    if (off <= 1e-24 * total || off == 0) return;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {
          const double vkp = (*v)[k * n + p], vkq = (*v)[k * n + q];
          (*v)[k * n + p] = c * vkp - s * vkq;
          (*v)[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
}

// Scales `x` (length n) to norm <= 1.
void ClipToUnitBall(double* x, int64_t n) {
  double norm2 = 0;
  for (int64_t j = 0; j < n; ++j) norm2 += x[j] * x[j];
  if (norm2 > 1.0) {
    const double scale = 1.0 / std::sqrt(norm2);
    for (int64_t j = 0; j < n; ++j) x[j] *= scale;
  }
}

}  // namespace

absl::StatusOr<std::vector<float>> PrincipalBasis(absl::Span<const float> rows, int64_t dim, int rank) {
  if (dim < 1 || dim > 1024 || rank < 1 || rank > dim || rows.empty() ||
      rows.size() % static_cast<size_t>(dim) != 0) {
    return absl::InvalidArgumentError("principal basis: need 1 <= rank <= dim <= 1024 and whole rows of dim");
  }
  const int64_t n = static_cast<int64_t>(rows.size()) / dim;
  std::vector<double> m(static_cast<size_t>(dim * dim), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const float* x = rows.data() + i * dim;
    for (int64_t a = 0; a < dim; ++a) {
      if (!std::isfinite(x[a])) return absl::InvalidArgumentError("principal basis: a value is not finite");
      for (int64_t b = a; b < dim; ++b) m[a * dim + b] += static_cast<double>(x[a]) * x[b];
    }
  }
  for (int64_t a = 0; a < dim; ++a) {
    for (int64_t b = a; b < dim; ++b) m[b * dim + a] = m[a * dim + b] /= static_cast<double>(n);
  }
  std::vector<double> v;
  JacobiEigen(m, dim, &v);
  std::vector<int64_t> order(static_cast<size_t>(dim));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return m[x * dim + x] > m[y * dim + y]; });
  std::vector<float> basis(static_cast<size_t>(rank * dim));
  for (int k = 0; k < rank; ++k) {
    const int64_t col = order[static_cast<size_t>(k)];
    int64_t big = 0;
    for (int64_t j = 1; j < dim; ++j) {
      if (std::fabs(v[j * dim + col]) > std::fabs(v[big * dim + col])) big = j;
    }
    const double sign = v[big * dim + col] < 0 ? -1.0 : 1.0;
    for (int64_t j = 0; j < dim; ++j) basis[k * dim + j] = static_cast<float>(sign * v[j * dim + col]);
  }
  return basis;
}

absl::Status CheckOrthonormalBasis(absl::Span<const float> basis, int64_t dim, int rank) {
  if (dim < 1 || rank < 1 || rank > dim || static_cast<int64_t>(basis.size()) != rank * dim) {
    return absl::InvalidArgumentError(absl::StrCat("release basis: expected ", rank, " x ", dim, " values"));
  }
  for (int a = 0; a < rank; ++a) {
    for (int b = a; b < rank; ++b) {
      double dot = 0;
      for (int64_t j = 0; j < dim; ++j) dot += static_cast<double>(basis[a * dim + j]) * basis[b * dim + j];
      if (!std::isfinite(dot) || std::fabs(dot - (a == b ? 1.0 : 0.0)) > 1e-3) {
        return absl::InvalidArgumentError("release basis: its rows are not orthonormal");
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> ProjectedClassSums(absl::Span<const float> embeddings, int64_t dim,
                                                      absl::Span<const int> labels, absl::Span<const float> basis,
                                                      int rank, double stddev, GaussianSampler& sampler,
                                                      int shares, ClassSumForm form) {
  if (dim < 1 || static_cast<int64_t>(embeddings.size()) != dim * static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError("class sums: embeddings must be one row of dim values per label");
  }
  FEDLOG_RETURN_IF_ERROR(CheckOrthonormalBasis(basis, dim, rank));
  const int64_t width = rank + 1;
  std::vector<double> acc(static_cast<size_t>(2 * width), 0.0);
  std::vector<double> x(static_cast<size_t>(dim)), c(static_cast<size_t>(rank));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    const float* row = embeddings.data() + static_cast<int64_t>(i) * dim;
    for (int64_t j = 0; j < dim; ++j) {
      if (!std::isfinite(row[j])) return absl::InvalidArgumentError("class sums: an embedding is not finite");
      x[j] = row[j];
    }
    ClipToUnitBall(x.data(), dim);
    for (int k = 0; k < rank; ++k) {
      double dot = 0;
      for (int64_t j = 0; j < dim; ++j) dot += static_cast<double>(basis[k * dim + j]) * x[j];
      c[k] = dot;
    }
    ClipToUnitBall(c.data(), rank);  // <= 1 already for an orthonormal basis; exact whatever the rounding
    double* out = acc.data() + (labels[i] > 0 ? width : 0);
    for (int k = 0; k < rank; ++k) out[k] += c[k];
    if (form == ClassSumForm::kSumsAndCounts) out[rank] += 1.0;
  }
  std::vector<float> coefficients(acc.begin(), acc.end());
  FEDLOG_RETURN_IF_ERROR(NoiseClassSums(absl::MakeSpan(coefficients), stddev, sampler, shares, form, rank));
  std::vector<float> release(static_cast<size_t>(2 * (dim + 1)), 0.0f);
  for (int cls = 0; cls < 2; ++cls) {
    const float* in = coefficients.data() + cls * width;
    float* out = release.data() + cls * (dim + 1);
    for (int64_t j = 0; j < dim; ++j) {
      double v = 0;
      for (int k = 0; k < rank; ++k) v += static_cast<double>(basis[k * dim + j]) * in[k];
      out[j] = static_cast<float>(v);
    }
    out[dim] = in[rank];
  }
  return release;
}

}  // namespace fedlog::privacy
