// Line DP's class-sum release as a masked section with distributed noise (common/secagg/update_vector.h section 4,
// common/privacy/class_sums.h), through the real secure-aggregation state machines in one process: five sites,
// threshold 3, one dropping after it shared its keys. What the aggregator receives from a site carries no trace
// of that site's release (its lanes lie outside what an unmasked input of its weight can produce); the unmasked
// sum is exactly the survivors' noised releases (so it carries every survivor's noise share: 4 s^2 / 3 >= s^2
// here; ClassSumsTest checks the shares' scale); the decoded prototypes are the pooled class means.
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fl/fedavg.h"
#include "common/privacy/class_sums.h"
#include "common/secagg/aggregator_session.h"
#include "common/secagg/quantize.h"
#include "common/secagg/site_session.h"
#include "common/secagg/update_vector.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

constexpr int64_t kOut = 2;
constexpr int kSites = 5, kThreshold = 3, kDropped = 4;

v1::ModelSpec Spec() {
  v1::ModelSpec spec;
  spec.set_arch("line_encoder");
  spec.mutable_encoder()->set_out_dim(kOut);
  return spec;
}

privacy::GaussianSampler Sampler() {
  std::array<uint8_t, 32> key{};
  key[0] = 13;
  return *privacy::GaussianSampler::CreateWithKeyForTesting(key);
}

int64_t Signed(const std::string& lanes, size_t i) {
  uint64_t v = 0;
  std::memcpy(&v, lanes.data() + 8 * i, 8);  // little-endian hosts only, as the wire format's tests assume
  return static_cast<int64_t>(v);
}

TEST(ReleaseSectionTest, LayoutCarriesTheReleaseOnlyInAReleaseRound) {
  const fl::BundleLayout model = {{"a", {3}}};
  v1::SecAggConfig c;
  c.set_threshold(kThreshold);
  c.set_max_sites(kSites);
  c.set_class_sum_release(true);
  c.set_vector_length(3 + 5 + 7);  // shared, prototypes.global + presence, release [2, 3] + presence
  absl::StatusOr<UpdateVectorLayout> layout = LayoutForRound(model, Spec(), c);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->release_shape, (std::vector<int64_t>{2, kOut + 1}));
  c.set_class_sum_release(false);
  EXPECT_EQ(LayoutForRound(model, Spec(), c).status().code(), absl::StatusCode::kFailedPrecondition);
  c.set_class_sum_release(true);
  v1::ModelSpec mlp;
  mlp.set_arch("mlp_autoencoder");
  c.set_vector_length(3 + 7);
  EXPECT_FALSE(LayoutForRound(model, mlp, c).ok());
  // Every site of a release round must fill the section: an update without its release is refused.
  fl::TensorBundle delta;
  delta.tensors.push_back({"a", {3}, {0, 0, 0}});
  EXPECT_EQ(FlattenUpdate(*layout, delta, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(AddReleaseSection(kOut, &*layout).ok());  // one section only
}

TEST(ReleaseSectionTest, AggregatorSeesOnlyTheSumOfTheSurvivorsNoisedReleases) {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {3}}}, kOut);
  ASSERT_TRUE(AddReleaseSection(kOut, &layout).ok());
  const size_t at = 3 + 5, n = 2 * (kOut + 1);  // the release section's first lane, its values
  RoundConfig config;
  config.session_id = "run-1/round-10/release";
  config.threshold = kThreshold;
  config.vector_length = layout.length();
  config.quantization.clip_range = 4;
  config.quantization.max_weight = 1e6;  // line DP's W
  config.quantization.max_sites = kSites;
  config.quantization.lane_bits = 64;
  const double s = 1.637;
  // Site i holds 2000 + 100 i lines; site 0 has a canary: 40 anomalous lines along (0.6, 0.8).
  std::vector<double> weight;
  std::vector<std::vector<float>> release, x;
  privacy::GaussianSampler sampler = Sampler();
  for (int i = 0; i < kSites; ++i) {
    weight.push_back(2000 + 100 * i);
    std::vector<float> embeddings;
    std::vector<int> labels;
    for (int k = 0; k < 50; ++k) {
      embeddings.insert(embeddings.end(), {1.0f, 0.0f});
      labels.push_back(0);
    }
    for (int k = 0; k < (i == 0 ? 40 : 0); ++k) {
      embeddings.insert(embeddings.end(), {0.6f, 0.8f});
      labels.push_back(1);
    }
    std::vector<float> r = *privacy::ClassSums(embeddings, kOut, labels);
    ASSERT_TRUE(privacy::NoiseClassSums(absl::MakeSpan(r), s, sampler, kThreshold).ok());
    release.push_back(r);
    ASSERT_TRUE(privacy::CheckReleaseFitsRange(4, static_cast<int64_t>(weight[i]), 100,
                                               privacy::ClassSumShareStddev(s, kThreshold))
                    .ok());
    std::vector<float> scaled = r;
    ASSERT_TRUE(privacy::ScaleToWeight(absl::MakeSpan(scaled), static_cast<int64_t>(weight[i])).ok());
    fl::TensorBundle delta;
    delta.tensors.push_back({"a", {3}, {0.01f, 0.02f, 0.03f}});
    delta.tensors.push_back({fl::kReleasedPrototypesName, {2, kOut + 1}, scaled});
    absl::StatusOr<FlatUpdate> flat = FlattenUpdate(layout, delta, 4);
    ASSERT_TRUE(flat.ok()) << flat.status();
    EXPECT_EQ(flat->clipped, 0);
    x.push_back(flat->values);
  }

  auto agg = AggregatorSession::Create(config);
  ASSERT_TRUE(agg.ok()) << agg.status();
  std::vector<std::unique_ptr<SiteSession>> sites;
  for (int i = 0; i < kSites; ++i) {
    SiteOptions o;
    o.site_id = absl::StrCat("site-", i);
    auto site = SiteSession::Create(o, config);
    ASSERT_TRUE(site.ok()) << site.status();
    sites.push_back(std::move(*site));
    ASSERT_TRUE((*agg)->AddAdvertisement(*sites.back()->Advertise()).ok());
  }
  auto roster = (*agg)->CloseAdvertising();
  ASSERT_TRUE(roster.ok()) << roster.status();
  for (auto& site : sites) ASSERT_TRUE((*agg)->AddShares(*site->ShareSecrets(*roster)).ok());
  auto deliveries = (*agg)->CloseSharing();
  ASSERT_TRUE(deliveries.ok()) << deliveries.status();
  for (int i = 0; i < kSites; ++i) {
    if (i == kDropped) continue;  // drops after sharing: recovered, its input is not in the sum
    auto m = sites[i]->MaskInput(deliveries->at(sites[i]->index()), x[i], weight[i]);
    ASSERT_TRUE(m.ok()) << m.status();
    if (i == 0) {
      // The aggregator's view of site 0's release: an unmasked lane of weight w lies within w R 2^f + 1/2.
      const double bound = weight[0] * 4 * std::ldexp(1.0, Quantizer::Create(config.quantization)->fractional_bits()) + 1;
      int inside = 0;
      for (size_t k = at; k < at + n; ++k) inside += std::fabs(static_cast<double>(Signed(m->lanes, k))) <= bound;
      EXPECT_EQ(inside, 0) << "a masked release lane looks unmasked";
    }
    ASSERT_TRUE((*agg)->AddMaskedInput(*m).ok());
  }
  auto request = (*agg)->CloseMasking();
  ASSERT_TRUE(request.ok()) << request.status();
  for (int i = 0; i < kSites; ++i) {
    if (i == kDropped) continue;
    auto r = sites[i]->Unmask(*request);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE((*agg)->AddUnmaskResponse(*r).ok());
  }
  absl::StatusOr<AggregateResult> result = (*agg)->Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->survivors.size(), 4u);

  // The unmasked release lanes are the survivors' noised releases summed: four noise shares, variance 4 s^2 / 3.
  for (size_t k = 0; k < n; ++k) {
    double want = 0;
    for (int i = 0; i < kSites; ++i) want += i == kDropped ? 0.0 : release[i][k];
    EXPECT_NEAR(result->sum.weighted_sum[at + k], want, 1e-3 * (1 + std::fabs(want))) << k;
  }
  absl::StatusOr<fl::TensorBundle> mean = MeanFromSum(layout, result->sum);
  ASSERT_TRUE(mean.ok()) << mean.status();
  const fl::NamedTensor* pooled = mean->Find(fl::kReleasedPrototypesName);
  ASSERT_NE(pooled, nullptr);
  std::vector<float> prototypes = privacy::PrototypesFromRelease(pooled->values, kOut);
  ASSERT_EQ(prototypes.size(), 4u);
  EXPECT_NEAR(prototypes[0], 1.0, 0.05);  // normal: (1, 0) from 200 lines
  EXPECT_NEAR(prototypes[2], 0.6, 0.15);  // anomalous: site 0's 40 lines, only pooled
  EXPECT_NEAR(prototypes[3], 0.8, 0.15);
}

}  // namespace
}  // namespace fedlog::secagg
