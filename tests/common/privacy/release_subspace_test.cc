// The class-sum release in a public subspace (common/privacy/release_subspace.h): the principal basis is the
// top eigenvectors of the rows' second moment, orthonormal and deterministic; the projected release moves by at
// most 1 when one line is added (as the full directions release), lies in the basis' span, keeps a signal that
// lies there, and its noise has norm s * sqrt(r) instead of s * sqrt(dim).
#include "common/privacy/release_subspace.h"

#include <array>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::privacy {
namespace {

GaussianSampler TestSampler(uint8_t k = 31) {
  std::array<uint8_t, 32> key{};
  key[0] = k;
  return *GaussianSampler::CreateWithKeyForTesting(key);
}

// Rows of dim 6 spread mostly along e0 + e1 (variance 9), then e2 (variance 4), then little elsewhere.
std::vector<float> SpreadRows(int n) {
  GaussianSampler g = TestSampler(5);
  std::vector<float> rows;
  for (int i = 0; i < n; ++i) {
    const double a = 3 * g.Next(), b = 2 * g.Next();
    std::vector<double> x = {a / std::sqrt(2.0), a / std::sqrt(2.0), b, 0, 0, 0};
    for (double& v : x) v += 0.1 * g.Next();
    rows.insert(rows.end(), x.begin(), x.end());
  }
  return rows;
}

double Dot(const float* a, const float* b, int n) {
  double d = 0;
  for (int i = 0; i < n; ++i) d += double{a[i]} * b[i];
  return d;
}

TEST(ReleaseSubspaceTest, PrincipalBasisFindsTheLargestDirectionsInOrder) {
  const std::vector<float> rows = SpreadRows(2000);
  absl::StatusOr<std::vector<float>> u = PrincipalBasis(rows, 6, 2);
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_EQ(u->size(), 12u);
  EXPECT_TRUE(CheckOrthonormalBasis(*u, 6, 2).ok());
  const float first[6] = {static_cast<float>(1 / std::sqrt(2.0)), static_cast<float>(1 / std::sqrt(2.0)), 0, 0, 0, 0};
  const float second[6] = {0, 0, 1, 0, 0, 0};
  EXPECT_GT(Dot(u->data(), first, 6), 0.99);       // sign: largest coordinate positive
  EXPECT_GT(Dot(u->data() + 6, second, 6), 0.99);
  absl::StatusOr<std::vector<float>> again = PrincipalBasis(rows, 6, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*u, *again);  // deterministic
  EXPECT_FALSE(PrincipalBasis(rows, 6, 0).ok());
  EXPECT_FALSE(PrincipalBasis(rows, 6, 7).ok());
  EXPECT_FALSE(PrincipalBasis(std::vector<float>(7, 1.0f), 6, 2).ok());
  EXPECT_FALSE(PrincipalBasis(std::vector<float>{1, 2, NAN, 4, 5, 6}, 6, 2).ok());
}

TEST(ReleaseSubspaceTest, RefusesABasisWhoseRowsAreNotOrthonormal) {
  EXPECT_TRUE(CheckOrthonormalBasis(std::vector<float>{1, 0, 0, 0, 1, 0}, 3, 2).ok());
  EXPECT_FALSE(CheckOrthonormalBasis(std::vector<float>{1, 0, 0, 0.1f, 1, 0}, 3, 2).ok());
  EXPECT_FALSE(CheckOrthonormalBasis(std::vector<float>{2, 0, 0}, 3, 1).ok());
  EXPECT_FALSE(CheckOrthonormalBasis(std::vector<float>{1, 0, 0}, 3, 2).ok());  // wrong size
  GaussianSampler g = TestSampler();
  EXPECT_FALSE(ProjectedClassSums(std::vector<float>{1, 0, 0}, 3, std::vector<int>{1},
                                  std::vector<float>{1, 0, 0, 0.5f, 1, 0}, 2, 1.0, g, 1,
                                  ClassSumForm::kDirections)
                   .ok());
}

// Neighbouring datasets with the same keyed noise: the releases differ by the un-noised change only, which one
// line bounds by 1 (its clipped coefficients), whatever its embedding.
TEST(ReleaseSubspaceTest, OneLineMovesTheProjectedReleaseByAtMostOne) {
  const std::vector<float> basis = {0.6f, 0.8f, 0, 0, 0, 0, 1, 0};  // 2 x 4, orthonormal
  const std::vector<float> base = {0.1f, 0.2f, -0.3f, 0.9f, 0.5f, -0.5f, 0.5f, 0.5f};
  for (const std::vector<float>& extra : {std::vector<float>{100, 50, 7, 1}, std::vector<float>{0, 0, 0, 0},
                                          std::vector<float>{0.6f, 0.8f, 0, 0}}) {
    for (int label : {0, 1}) {
      std::vector<float> with = base;
      with.insert(with.end(), extra.begin(), extra.end());
      GaussianSampler ga = TestSampler(), gb = TestSampler();
      absl::StatusOr<std::vector<float>> a = ProjectedClassSums(base, 4, std::vector<int>{0, 1}, basis, 2, 0.5, ga,
                                                                1, ClassSumForm::kDirections);
      absl::StatusOr<std::vector<float>> b = ProjectedClassSums(with, 4, std::vector<int>{0, 1, label}, basis, 2,
                                                                0.5, gb, 1, ClassSumForm::kDirections);
      ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
      ASSERT_EQ(a->size(), 10u);
      double d = 0;
      for (size_t i = 0; i < a->size(); ++i) d += (double{(*a)[i]} - (*b)[i]) * (double{(*a)[i]} - (*b)[i]);
      EXPECT_LE(std::sqrt(d), 1.0 + 1e-5);
      EXPECT_EQ((*b)[4], 0.0f);  // directions: the count columns stay exactly 0
      EXPECT_EQ((*b)[9], 0.0f);
    }
  }
}

// The release lies in the basis' span; a class sum that lies there passes (plus small noise); the noise's squared
// norm averages s^2 * r, not s^2 * dim.
TEST(ReleaseSubspaceTest, NoiseAndSignalStayInTheSubspace) {
  const int64_t dim = 16;
  const int rank = 2;
  std::vector<float> basis(static_cast<size_t>(rank * dim), 0.0f);
  basis[0] = basis[1] = static_cast<float>(1 / std::sqrt(2.0));
  basis[dim + 5] = 1;
  // Two anomalous lines inside the span, one normal line half outside it.
  std::vector<float> z(3 * dim, 0.0f);
  z[0] = z[1] = static_cast<float>(1 / std::sqrt(2.0));
  z[dim + 5] = 1;
  z[2 * dim + 5] = static_cast<float>(std::sqrt(0.5));
  z[2 * dim + 9] = static_cast<float>(std::sqrt(0.5));
  GaussianSampler g = TestSampler();
  absl::StatusOr<std::vector<float>> r =
      ProjectedClassSums(z, dim, std::vector<int>{1, 1, 0}, basis, rank, 0.01, g, 1, ClassSumForm::kDirections);
  ASSERT_TRUE(r.ok()) << r.status();
  const float* normal = r->data();
  const float* anomalous = r->data() + dim + 1;
  EXPECT_NEAR(anomalous[0], z[0], 0.05);
  EXPECT_NEAR(anomalous[1], z[1], 0.05);
  EXPECT_NEAR(anomalous[5], 1, 0.05);
  EXPECT_NEAR(normal[5], std::sqrt(0.5), 0.05);  // the part inside the span
  EXPECT_NEAR(normal[9], 0, 1e-6);               // the part outside is gone, noise too
  for (int64_t j : {2, 3, 4, 6, 7, 15}) EXPECT_NEAR(anomalous[j], 0, 1e-6) << j;

  const double s = 2.0;
  double total = 0;
  const int draws = 400;
  for (int k = 0; k < draws; ++k) {
    absl::StatusOr<std::vector<float>> n = ProjectedClassSums(std::vector<float>{}, dim, std::vector<int>{}, basis,
                                                              rank, s, g, 1, ClassSumForm::kDirections);
    ASSERT_TRUE(n.ok());
    for (int64_t j = 0; j < dim; ++j) total += double{(*n)[j]} * (*n)[j];
  }
  EXPECT_NEAR(total / draws, s * s * rank, 0.15 * s * s * rank);  // the full release: s^2 * 16
  // Distributed noise: t shares of s^2 / t.
  total = 0;
  for (int k = 0; k < draws; ++k) {
    absl::StatusOr<std::vector<float>> n = ProjectedClassSums(std::vector<float>{}, dim, std::vector<int>{}, basis,
                                                              rank, s, g, 4, ClassSumForm::kDirections);
    ASSERT_TRUE(n.ok());
    for (int64_t j = 0; j < dim; ++j) total += double{(*n)[j]} * (*n)[j];
  }
  EXPECT_NEAR(total / draws, s * s * rank / 4, 0.15 * s * s * rank / 4);
}

TEST(ReleaseSubspaceTest, SumsAndCountsFormKeepsTheCounts) {
  const std::vector<float> basis = {1, 0, 0};
  GaussianSampler g = TestSampler();
  absl::StatusOr<std::vector<float>> r = ProjectedClassSums(std::vector<float>{0, 1, 0, 1, 0, 0}, 3,
                                                            std::vector<int>{0, 1}, basis, 1, 0.01, g, 1,
                                                            ClassSumForm::kSumsAndCounts);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 8u);
  EXPECT_NEAR((*r)[3], 1, 0.05);  // normal count
  EXPECT_NEAR((*r)[7], 1, 0.05);  // anomalous count
  EXPECT_NEAR((*r)[4], 1, 0.05);  // anomalous line (1, 0, 0) inside the span
  EXPECT_NEAR((*r)[1], 0, 1e-6);  // normal line (0, 1, 0) outside it
}

}  // namespace
}  // namespace fedlog::privacy
