// A public subspace for line DP's class-sum release (docs/PRIVACY.md, "The release in a public subspace").
// The release (class_sums.h) noises every one of the embedding's out_dim coordinates, so the pooled anomalous
// sum a site without anomalous labels detects with carries noise of norm s * sqrt(out_dim). If a subspace that
// holds most of the class means is known from public things only, a site can project its clipped sums onto an
// orthonormal basis U (r x out_dim) of it, noise the r coefficients, and release their image U^T c: the noise
// then has norm s * sqrt(r). The basis here is the top-r principal directions (uncentred second moment) of the
// embeddings of public lines (the public pre-training corpus) under the round's global model, which every site
// downloads: a function of public data and of DP outputs, so computing it spends no budget.
// Sensitivity: a line's embedding clipped to norm <= 1 has coefficients of norm <= 1 under any matrix with
// orthonormal rows; ProjectedClassSums also clips the coefficients to norm <= 1, so one line moves a class's
// coefficients by at most 1 whatever the basis (even one a malicious party sent). The Gaussian step on the
// coefficients is ClassSumStep's, so the accountant charges exactly what the full release costs.
// Torch-free; stateless functions; thread-safe given distinct samplers.
#ifndef FEDLOG_COMMON_PRIVACY_RELEASE_SUBSPACE_H_
#define FEDLOG_COMMON_PRIVACY_RELEASE_SUBSPACE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/gaussian_noise.h"

namespace fedlog::privacy {

// The bundle tensor that carries a release basis (rank x out_dim) to the release round's sites: a prototype-like
// tensor, never part of a site's update (model::RunSiteRound projects its release onto it when present).
inline constexpr char kReleaseBasisName[] = "prototypes.release_basis";

// The subspace ranks a plan may ask for: 0 = off (the full release), else 1..kMaxReleaseSubspace (and below the
// embedding width).
inline constexpr int kMaxReleaseSubspace = 64;

// The top-`rank` eigenvectors of the uncentred second moment (1/n) sum_i x_i x_i^T of the `dim`-wide rows of
// `rows` (n = rows.size() / dim), as `rank` orthonormal rows [rank * dim], by decreasing eigenvalue, each with
// its largest-magnitude coordinate positive (deterministic for the same input). Cyclic Jacobi in double precision.
// InvalidArgument unless 1 <= rank <= dim <= 1024, rows.size() is a positive multiple of dim and every value is
// finite.
absl::StatusOr<std::vector<float>> PrincipalBasis(absl::Span<const float> rows, int64_t dim, int rank);

// OK when `basis` is rank x dim with orthonormal rows (every Gram entry within 1e-3 of the identity's);
// InvalidArgument otherwise.
absl::Status CheckOrthonormalBasis(absl::Span<const float> basis, int64_t dim, int rank);

// The noised class-sum release of `embeddings` (rows x dim) with `labels`, as ClassSums + NoiseClassSums give it,
// but in the subspace of `basis` (rank x dim, CheckOrthonormalBasis): each row is clipped to norm <= 1, its
// coefficients U x clipped to norm <= 1 and summed per class; the coefficients get N(0, share^2) each (share =
// ClassSumShareStddev(stddev, shares)), and the release is their image U^T c in the usual [2, dim + 1] layout
// (the count column as ClassSums and NoiseClassSums treat it for `form`). Everything downstream (scaling,
// masking, pooling, PrototypesFromRelease) is unchanged. InvalidArgument for bad sizes or noise.
absl::StatusOr<std::vector<float>> ProjectedClassSums(absl::Span<const float> embeddings, int64_t dim,
                                                      absl::Span<const int> labels, absl::Span<const float> basis,
                                                      int rank, double stddev, GaussianSampler& sampler,
                                                      int shares, ClassSumForm form);

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_RELEASE_SUBSPACE_H_
