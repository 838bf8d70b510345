#include "common/sampling/oversample.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "common/sampling/knn.h"
#include "gtest/gtest.h"

namespace fedlog::sampling {
namespace {

struct Data {
  FeatureMatrix x{2};
  std::vector<int> y;
  void Add(float a, float b, int label) {
    ASSERT_TRUE(x.AppendRow(std::vector<float>{a, b}).ok());
    y.push_back(label);
  }
};

// 60 normal rows around (0, 0) and 10 anomalous rows around (3, 3), Gaussian, seeded.
Data Blobs() {
  Data d;
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0, 1);
  for (int i = 0; i < 60; ++i) d.Add(noise(rng), noise(rng), 0);
  for (int i = 0; i < 10; ++i) d.Add(3 + noise(rng), 3 + noise(rng), 1);
  return d;
}

// Majority: a 10 x 5 unit grid (x 0..9, y 0..4). Minority (label 1), with m = 5:
//   rows 50..52  (10.5, 0.5|1.5|2.5) just right of the grid: 3 of their 5 nearest are majority ->
//   danger; row 53       (4.5, 2.5) inside the grid: all 5 nearest are majority -> noise;
//   rows 54..59  a tight cluster at (30, 30): no majority neighbour -> safe.
Data Layout() {
  Data d;
  for (int gx = 0; gx < 10; ++gx) {
    for (int gy = 0; gy < 5; ++gy) d.Add(gx, gy, 0);
  }
  for (float by : {0.5f, 1.5f, 2.5f}) d.Add(10.5f, by, 1);
  d.Add(4.5f, 2.5f, 1);
  for (auto [a, b] : std::vector<std::pair<float, float>>{
           {30, 30}, {30.5, 30}, {30, 30.5}, {30.5, 30.5}, {31, 30}, {31, 31}}) {
    d.Add(a, b, 1);
  }
  return d;
}

// The k nearest minority rows of `base`, computed independently of the library (full sort).
std::vector<size_t> MinorityNeighbours(const Data& d, size_t base, size_t k) {
  std::vector<std::pair<float, size_t>> all;
  for (size_t i = 0; i < d.y.size(); ++i) {
    if (i == base || d.y[i] != 1) continue;
    float dist = 0;
    for (size_t f = 0; f < 2; ++f) dist += std::pow(d.x.Row(i)[f] - d.x.Row(base)[f], 2.0f);
    all.emplace_back(dist, i);
  }
  std::sort(all.begin(), all.end());
  std::vector<size_t> out;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) out.push_back(all[i].second);
  return out;
}

float Dist(absl::Span<const float> a, absl::Span<const float> b) {
  return std::sqrt(SquaredDistance(a, b));
}

// Every synthetic row lies on the segment between its base and one of the base's k minority
// neighbours.
void ExpectOnMinoritySegments(const Data& d, const OversampleResult& r, size_t k) {
  ASSERT_EQ(r.features.rows(), r.num_original + r.origins.size());
  for (size_t j = 0; j < r.origins.size(); ++j) {
    const SyntheticOrigin& o = r.origins[j];
    const size_t row = r.num_original + j;
    EXPECT_EQ(r.labels[row], 1);
    EXPECT_EQ(d.y[o.base], 1);
    const std::vector<size_t> nn = MinorityNeighbours(d, o.base, k);
    EXPECT_NE(std::find(nn.begin(), nn.end(), o.neighbor), nn.end()) << "row " << row;
    EXPECT_GE(o.gap, 0.0f);
    EXPECT_LT(o.gap, 1.0f);
    absl::Span<const float> p = r.features.Row(row), a = d.x.Row(o.base), b = d.x.Row(o.neighbor);
    EXPECT_NEAR(Dist(a, p) + Dist(p, b), Dist(a, b), 1e-4)
        << "row " << row << " is off the segment";
  }
}

std::map<size_t, int> CountsPerBase(const OversampleResult& r) {
  std::map<size_t, int> counts;
  for (const SyntheticOrigin& o : r.origins) ++counts[o.base];
  return counts;
}

TEST(SmoteTest, BalancesByDefaultAndStaysOnSegments) {
  Data d = Blobs();
  OversampleOptions opt;
  opt.seed = 1;
  auto r = Smote(d.x, d.y, opt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->origins.size(), 50u);  // 10 minority -> 60
  EXPECT_EQ(std::count(r->labels.begin(), r->labels.end(), 1), 60);
  ExpectOnMinoritySegments(d, *r, 5);
}

TEST(SmoteTest, CountsFollowOptions) {
  Data d = Blobs();
  OversampleOptions opt;
  opt.target_ratio = 0.5;  // round(0.5 * 60) - 10 = 20
  EXPECT_EQ(Smote(d.x, d.y, opt)->origins.size(), 20u);
  opt.num_synthetic = 7;
  EXPECT_EQ(Smote(d.x, d.y, opt)->origins.size(), 7u);
  opt.num_synthetic = -1;
  opt.target_ratio = 0.1;  // already above target: nothing to add
  EXPECT_EQ(Smote(d.x, d.y, opt)->origins.size(), 0u);
}

TEST(SmoteTest, DeterministicPerSeed) {
  Data d = Blobs();
  OversampleOptions opt;
  opt.seed = 9;
  auto a = Smote(d.x, d.y, opt), b = Smote(d.x, d.y, opt);
  EXPECT_EQ(a->features.ToRows(), b->features.ToRows());
  opt.seed = 10;
  EXPECT_NE(Smote(d.x, d.y, opt)->features.ToRows(), a->features.ToRows());
}

TEST(SmoteTest, RejectsUnusableInput) {
  Data d;
  d.Add(0, 0, 0);
  d.Add(1, 1, 0);
  d.Add(2, 2, 1);
  EXPECT_EQ(Smote(d.x, d.y, {}).status().code(), absl::StatusCode::kFailedPrecondition);
  d.Add(3, 3, 2);
  EXPECT_EQ(Smote(d.x, d.y, {}).status().code(), absl::StatusCode::kInvalidArgument);
  Data nan = Blobs();
  nan.Add(std::nanf(""), 1, 1);
  EXPECT_EQ(Adasyn(nan.x, nan.y, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Smote(d.x, std::vector<int>{0, 1}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BorderlineSmoteTest, DrawsOnlyFromDangerRows) {
  Data d = Layout();
  OversampleOptions opt;
  opt.m_neighbors = 5;
  opt.k_neighbors = 3;
  opt.seed = 3;
  auto r = BorderlineSmote(d.x, d.y, opt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->origins.size(), 40u);  // 10 minority -> 50
  for (const auto& [base, n] : CountsPerBase(*r)) {
    EXPECT_TRUE(base >= 50 && base <= 52) << "base " << base << " is not a danger row";
  }
  EXPECT_EQ(CountsPerBase(*r).size(), 3u);
  ExpectOnMinoritySegments(d, *r, 3);
}

TEST(BorderlineSmoteTest, NoDangerRowsMeansNoSyntheticRows) {
  Data d;
  for (int i = 0; i < 10; ++i) d.Add(i, 0, 0);
  for (int i = 0; i < 3; ++i) d.Add(100 + i, 100, 1);
  OversampleOptions opt;
  opt.m_neighbors = 2;
  auto r = BorderlineSmote(d.x, d.y, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->origins.empty());
  EXPECT_EQ(r->features.rows(), 13u);
}

TEST(AdasynTest, GeneratesMoreAroundHardRows) {
  // Hardness with m = 5: noise row 53 -> 5/5, danger rows 50..52 -> 3/5 each, safe rows -> 0. G =
  // 40, so the shares are 40 * 1/2.8 = 14.29 and 40 * 0.6/2.8 = 8.57; largest remainders give 14,
  // 9, 9, 8.
  Data d = Layout();
  OversampleOptions opt;
  opt.m_neighbors = 5;
  opt.k_neighbors = 3;
  auto r = Adasyn(d.x, d.y, opt);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<size_t, int> per_base = CountsPerBase(*r);
  EXPECT_EQ(per_base, (std::map<size_t, int>{{50, 9}, {51, 9}, {52, 8}, {53, 14}}));
  ExpectOnMinoritySegments(d, *r, 3);
}

TEST(AdasynTest, UniformWhenNothingIsHard) {
  Data d;
  for (int i = 0; i < 10; ++i) d.Add(i, 0, 0);
  for (int i = 0; i < 4; ++i) d.Add(100 + i, 100, 1);
  OversampleOptions opt;
  opt.m_neighbors = 2;
  auto r = Adasyn(d.x, d.y, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(CountsPerBase(*r), (std::map<size_t, int>{{10, 2}, {11, 2}, {12, 1}, {13, 1}}));
  opt.seed = 4;
  EXPECT_EQ(Adasyn(d.x, d.y, opt)->features.ToRows(), Adasyn(d.x, d.y, opt)->features.ToRows());
}

}  // namespace
}  // namespace fedlog::sampling
