// The site's privacy policy check, its ledger (restart, corrupt file, atomic replace) and the upload's privacy
// step (client/privacy_policy.h, client/site_ledger.h, client/privacy_step.h).
#include <stdlib.h>

#include <array>
#include <cmath>
#include <string>

#include "client/privacy_policy.h"
#include "client/privacy_step.h"
#include "client/site_ledger.h"
#include "common/base/file_util.h"
#include "common/privacy/line_count.h"
#include "common/privacy/rdp_accountant.h"
#include "gtest/gtest.h"

namespace fedlog::client {
namespace {

std::string TempLedgerPath() {
  std::string tmpl = ::testing::TempDir() + "/site_ledger_XXXXXX";
  return JoinPath(mkdtemp(tmpl.data()), "privacy_ledger.txt");
}

v1::RoundTask SiteTask(double sigma, double q = 1.0) {
  v1::RoundTask t;
  t.set_run_id(7);
  t.set_round(1);
  t.set_dp_mode("site");
  t.set_dp_noise_multiplier(sigma);
  t.set_dp_clip(1.0);
  t.set_dp_min_sites(2);
  t.set_dp_delta(1e-5);
  t.set_dp_sampling_rate(q);
  return t;
}

v1::SitePrivacyPolicy Policy(double max_epsilon = 0, double min_sigma = 0) {
  v1::SitePrivacyPolicy p;
  p.set_max_epsilon(max_epsilon);
  p.set_min_noise_multiplier(min_sigma);
  EXPECT_TRUE(FinalizeSitePrivacyPolicy(&p).ok());
  return p;
}

TEST(SitePrivacyPolicy, FinalizeFillsDefaultsAndRejectsBadValues) {
  v1::SitePrivacyPolicy p;
  ASSERT_TRUE(FinalizeSitePrivacyPolicy(&p).ok());
  EXPECT_DOUBLE_EQ(p.delta(), kDefaultSiteDelta);
  EXPECT_TRUE(p.upload_prototypes());
  for (auto bad : {+[](v1::SitePrivacyPolicy* q) { q->set_max_epsilon(-1); },
                   +[](v1::SitePrivacyPolicy* q) { q->set_max_epsilon(std::nan("")); },
                   +[](v1::SitePrivacyPolicy* q) { q->set_min_noise_multiplier(INFINITY); },
                   +[](v1::SitePrivacyPolicy* q) { q->set_delta(1.5); }}) {
    v1::SitePrivacyPolicy q;
    bad(&q);
    absl::Status st = FinalizeSitePrivacyPolicy(&q);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("privacy."), std::string::npos) << st;
  }
}

TEST(SitePrivacyPolicy, DeclinesWeakerRounds) {
  auto ledger = SiteLedger::Open(TempLedgerPath(), 1e-5);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  // No policy: any round, DP or not.
  EXPECT_TRUE(CheckRoundAgainstPolicy(Policy(), v1::RoundTask(), *ledger).ok());
  // Secure aggregation required.
  v1::SitePrivacyPolicy secagg = Policy();
  secagg.set_require_secure_aggregation(true);
  EXPECT_EQ(CheckRoundAgainstPolicy(secagg, SiteTask(1.0), *ledger).code(), absl::StatusCode::kFailedPrecondition);
  v1::RoundTask masked = SiteTask(1.0);
  masked.set_secure_aggregation(true);
  EXPECT_TRUE(CheckRoundAgainstPolicy(secagg, masked, *ledger).ok());
  // A noise floor implies DP: a round without DP and a round with less noise are declined.
  EXPECT_EQ(CheckRoundAgainstPolicy(Policy(0, 1.0), v1::RoundTask(), *ledger).code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status low = CheckRoundAgainstPolicy(Policy(0, 1.0), SiteTask(0.5), *ledger);
  EXPECT_EQ(low.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(low.message().find("min_noise_multiplier"), std::string::npos) << low;
  EXPECT_TRUE(CheckRoundAgainstPolicy(Policy(0, 1.0), SiteTask(1.0), *ledger).ok());
}

TEST(SitePrivacyPolicy, MaxEpsilonBoundsTheLedgerAcrossRounds) {
  auto ledger = SiteLedger::Open(TempLedgerPath(), 1e-5);
  ASSERT_TRUE(ledger.ok());
  const v1::SitePrivacyPolicy p = Policy(/*max_epsilon=*/0, 0);
  // The epsilon of k rounds at sigma 2, q 1 (the site's default view), from the accountant directly.
  auto eps = [](int k) {
    return privacy::SampledGaussianEpsilon(1.0, 2.0, k, 1e-5, privacy::DefaultOrders())->epsilon;
  };
  v1::SitePrivacyPolicy capped = Policy(/*max_epsilon=*/(eps(2) + eps(3)) / 2, 0);
  v1::RoundTask task = SiteTask(2.0, /*q=*/0.1);  // q is ignored unless trust_sampling
  for (int round = 1; round <= 2; ++round) {
    ASSERT_TRUE(CheckRoundAgainstPolicy(capped, task, *ledger).ok()) << round;
    ASSERT_TRUE(ledger->Charge(7, round, SiteCharge(capped, task)).ok());
  }
  EXPECT_NEAR(ledger->epsilon(), eps(2), 1e-9);
  absl::Status third = CheckRoundAgainstPolicy(capped, task, *ledger);
  EXPECT_EQ(third.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(third.message().find("max_epsilon"), std::string::npos) << third;
  // Trusting the aggregator's sampling rate charges less, so the third round fits.
  v1::SitePrivacyPolicy trusting = capped;
  trusting.set_trust_sampling(true);
  EXPECT_TRUE(CheckRoundAgainstPolicy(trusting, task, *ledger).ok());
  EXPECT_DOUBLE_EQ(SiteCharge(trusting, task).sampling_rate, 0.1);
  EXPECT_TRUE(CheckRoundAgainstPolicy(p, task, *ledger).ok());
}

TEST(SitePrivacyPolicy, InvalidTaskNumbersAreRefused) {
  auto ledger = SiteLedger::Open(TempLedgerPath(), 1e-5);
  ASSERT_TRUE(ledger.ok());
  for (auto bad : {+[](v1::RoundTask* t) { t->set_dp_mode("bogus"); },
                   +[](v1::RoundTask* t) { t->set_dp_noise_multiplier(std::nan("")); },
                   +[](v1::RoundTask* t) { t->set_dp_clip(0); },
                   +[](v1::RoundTask* t) { t->set_dp_min_sites(0); },
                   +[](v1::RoundTask* t) { t->set_dp_delta(1); },
                   +[](v1::RoundTask* t) { t->set_dp_sampling_rate(1.5); },
                   +[](v1::RoundTask* t) { t->mutable_plan()->set_line_dp_objective("bogus"); },
                   +[](v1::RoundTask* t) { t->mutable_plan()->set_line_dp_scope("encoder"); },
                   +[](v1::RoundTask* t) { t->mutable_plan()->set_line_dp_anomalous_rate(1.5); },
                   +[](v1::RoundTask* t) { t->mutable_plan()->set_line_dp_anomalous_rate(std::nan("")); },
                   +[](v1::RoundTask* t) { t->mutable_plan()->set_line_dp_normal_lines(-1); }}) {
    v1::RoundTask t = SiteTask(1.0);
    bad(&t);
    EXPECT_EQ(CheckRoundAgainstPolicy(Policy(), t, *ledger).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(SitePrivacyPolicy, ClassSumReleaseNumbersAreChecked) {
  auto ledger = SiteLedger::Open(TempLedgerPath(), 1e-5);
  ASSERT_TRUE(ledger.ok());
  v1::RoundTask t = SiteTask(1.0);
  t.mutable_plan()->set_line_dp_prototype_noise(2);
  t.mutable_plan()->set_line_dp_prototype_round(10);
  EXPECT_TRUE(CheckRoundAgainstPolicy(Policy(), t, *ledger).ok());
  t.mutable_plan()->set_line_dp_prototype_noise(0.001);  // nearly exact sums
  EXPECT_EQ(CheckRoundAgainstPolicy(Policy(), t, *ledger).code(), absl::StatusCode::kInvalidArgument);
  t.mutable_plan()->set_line_dp_prototype_noise(2);
  t.mutable_plan()->set_line_dp_prototype_round(-1);
  EXPECT_EQ(CheckRoundAgainstPolicy(Policy(), t, *ledger).code(), absl::StatusCode::kInvalidArgument);
}

// The class-sum release leaves divided by the update's released count: the delta against the global model's
// release becomes (release / weight) - global, and an update without a release is unchanged.
TEST(PrivacyStep, ClassSumReleaseLeavesDividedByTheReleasedCount) {
  fl::TensorBundle global;
  global.tensors.push_back({"prototypes.release", {2, 2}, {1, 1, 1, 1}});
  fl::TensorBundle delta;
  delta.tensors.push_back({"prototypes.release", {2, 2}, {9, 19, 29, 39}});  // full values 10, 20, 30, 40
  delta.tensors.push_back({"out.bias", {2}, {0.5f, 0.5f}});
  ASSERT_TRUE(ScaleClassSumRelease(global, 10, &delta).ok());
  EXPECT_EQ(delta.Find("prototypes.release")->values, (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(delta.Find("out.bias")->values, (std::vector<float>{0.5f, 0.5f}));
  fl::TensorBundle fresh;  // a global model without a release: the delta is the full value
  fresh.tensors.push_back({"prototypes.release", {2, 2}, {10, 20, 30, 40}});
  ASSERT_TRUE(ScaleClassSumRelease({}, 20, &fresh).ok());
  EXPECT_EQ(fresh.Find("prototypes.release")->values, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  EXPECT_FALSE(ScaleClassSumRelease({}, 0, &fresh).ok());
  global.tensors[0].values.push_back(1);
  global.tensors[0].shape = {1, 5};
  EXPECT_FALSE(ScaleClassSumRelease(global, 10, &delta).ok());
}

// A secure-aggregation release round: the task's noise shares must be the round's threshold (and 0 elsewhere).
TEST(SitePrivacyPolicy, ClassSumNoiseSharesMustBeTheReleaseRoundsThreshold) {
  auto ledger = SiteLedger::Open(TempLedgerPath(), 1e-5);
  ASSERT_TRUE(ledger.ok());
  v1::RoundTask t = SiteTask(1.0);
  t.set_dp_mode("line");
  t.mutable_plan()->set_line_dp_prototype_noise(2);
  t.mutable_plan()->set_line_dp_prototype_round(10);
  t.set_secure_aggregation(true);
  t.mutable_secagg()->set_threshold(3);
  t.mutable_secagg()->set_class_sum_release(true);
  t.mutable_plan()->set_line_dp_prototype_noise_shares(3);
  EXPECT_TRUE(CheckRoundAgainstPolicy(Policy(), t, *ledger).ok());
  for (int wrong : {0, 1, 2, 4, 100}) {  // a larger t would leave the sum of t survivors with less noise
    t.mutable_plan()->set_line_dp_prototype_noise_shares(wrong);
    EXPECT_EQ(CheckRoundAgainstPolicy(Policy(), t, *ledger).code(), absl::StatusCode::kInvalidArgument) << wrong;
  }
  t.mutable_secagg()->set_class_sum_release(false);  // shares outside a release round
  t.mutable_plan()->set_line_dp_prototype_noise_shares(3);
  EXPECT_EQ(CheckRoundAgainstPolicy(Policy(), t, *ledger).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SiteLedger, SurvivesRestartAndSeparatesRuns) {
  const std::string path = TempLedgerPath();
  privacy::MechanismStep step{0.5, 1.5, 1};
  {
    auto ledger = SiteLedger::Open(path, 1e-5);
    ASSERT_TRUE(ledger.ok());
    ASSERT_TRUE(ledger->Charge(1, 1, step).ok());
    ASSERT_TRUE(ledger->Charge(1, 2, step).ok());
    ASSERT_TRUE(ledger->Charge(2, 1, step).ok());
  }
  auto reopened = SiteLedger::Open(path, 1e-5);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_EQ(reopened->entries().size(), 3u);
  EXPECT_EQ(reopened->entries()[2].run_id, 2);
  const double three = privacy::SampledGaussianEpsilon(0.5, 1.5, 3, 1e-5, privacy::DefaultOrders())->epsilon;
  const double two = privacy::SampledGaussianEpsilon(0.5, 1.5, 2, 1e-5, privacy::DefaultOrders())->epsilon;
  EXPECT_NEAR(reopened->epsilon(), three, 1e-9);
  EXPECT_NEAR(*reopened->RunEpsilon(1), two, 1e-9);
  EXPECT_LT(*reopened->RunEpsilon(2), two);
  EXPECT_DOUBLE_EQ(*reopened->RunEpsilon(3), 0.0);
}

TEST(SiteLedger, CorruptFileIsAClearErrorAndIsKept) {
  const std::string path = TempLedgerPath();
  {
    auto ledger = SiteLedger::Open(path, 1e-5);
    ASSERT_TRUE(ledger.ok());
    ASSERT_TRUE(ledger->Charge(3, 1, {1.0, 2.0, 1}).ok());
  }
  std::string text = *ReadFile(path);
  const std::string corrupt = text + "3 2 not-a-number 2 1\n";
  ASSERT_TRUE(WriteFileAtomic(path, corrupt).ok());
  auto bad = SiteLedger::Open(path, 1e-5);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find(path), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("line 3"), std::string::npos) << bad.status();
  EXPECT_EQ(*ReadFile(path), corrupt);  // nothing lost: the file is untouched
  ASSERT_TRUE(WriteFileAtomic(path, "garbage\n").ok());
  EXPECT_EQ(SiteLedger::Open(path, 1e-5).status().code(), absl::StatusCode::kDataLoss);
  // A negative sigma is not a mechanism either.
  ASSERT_TRUE(WriteFileAtomic(path, text + "3 2 1 -1 1\n").ok());
  EXPECT_EQ(SiteLedger::Open(path, 1e-5).status().code(), absl::StatusCode::kDataLoss);
}

fl::TensorBundle Update() {
  fl::TensorBundle b;
  fl::NamedTensor w{"mlp.0.weight", {200, 100}, std::vector<float>(20000, 0.05f)};
  fl::NamedTensor a{"adapter.HDFS.down.weight", {4, 4}, std::vector<float>(16, 1.0f)};
  fl::NamedTensor p{"prototypes.global", {2, 4}, std::vector<float>(8, 1.0f)};
  b.tensors = {w, a, p};
  return b;
}

privacy::GaussianSampler Sampler() {
  std::array<uint8_t, 32> key;
  key.fill(9);
  return *privacy::GaussianSampler::CreateWithKeyForTesting(key);
}

TEST(PrivacyStep, KeepsPrototypesLocalWhenThePolicySaysSo) {
  fl::TensorBundle b = Update();
  // A source's prototypes are per-class mean embeddings too (aggregated per group under secure aggregation).
  b.tensors.push_back(fl::NamedTensor{"adapter.HDFS.prototypes", {2, 4}, std::vector<float>(8, 1.0f)});
  v1::SitePrivacyPolicy p = Policy();
  p.set_upload_prototypes(false);
  privacy::GaussianSampler s = Sampler();
  auto r = ApplyPrivacyStep(v1::RoundTask(), p, s, &b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dropped_tensors, 2);
  EXPECT_FALSE(r->noised);
  ASSERT_EQ(b.tensors.size(), 2u);
  EXPECT_EQ(b.tensors[1].name, "adapter.HDFS.down.weight");
  EXPECT_FLOAT_EQ(b.tensors[0].values[0], 0.05f);  // untouched without DP
}

// What a site masks in a secure-aggregation release round: its release divided by the weight it masks with
// (capped at the round's W, so the weighted lanes carry the release whole, noise share included); a site whose
// policy withholds prototypes still adds a noise share, on zeros (no trace of its sums); a weight too small for
// the clip range to hold the share is refused; the header states t.
TEST(PrivacyStep, MaskedClassSumReleaseKeepsEverySitesNoiseShare) {
  v1::RoundTask task = SiteTask(1.0);
  task.set_dp_mode("line");
  task.set_secure_aggregation(true);
  task.mutable_secagg()->set_threshold(3);
  task.mutable_secagg()->set_class_sum_release(true);
  task.mutable_secagg()->set_clip_range(4);
  task.mutable_secagg()->set_max_weight(2000);
  task.mutable_plan()->set_line_dp_prototype_noise(2);
  task.mutable_plan()->set_line_dp_prototype_noise_shares(3);
  task.mutable_plan()->set_line_dp_count_noise(100);
  const std::vector<float> sums = {900, 100, 1000, 5, 3, 7};  // [2, 3]: sums | count per class
  auto delta_with = [&](const std::vector<float>& v) {
    fl::TensorBundle d;
    d.tensors.push_back({"prototypes.release", {2, 3}, v});
    return d;
  };
  privacy::GaussianSampler s = Sampler();
  fl::TensorBundle d = delta_with(sums);
  v1::UpdateHeader h;
  ASSERT_TRUE(PrepareMaskedClassSumRelease(task, {}, 4000, false, s, &d, &h).ok());
  EXPECT_EQ(h.class_sum_noise_shares(), 3);
  for (size_t i = 0; i < sums.size(); ++i) {  // divided by min(4000, W = 2000): 2000 * lane = the release
    EXPECT_FLOAT_EQ(d.Find("prototypes.release")->values[i] * 2000, sums[i]) << i;
  }

  // Withheld: noise alone, of the share's stddev 2 / sqrt(3), whatever the sums were.
  fl::TensorBundle w = delta_with(std::vector<float>(6, 1000.0f));
  ASSERT_TRUE(PrepareMaskedClassSumRelease(task, {}, 1000, true, s, &w, &h).ok());
  double sq = 0;
  for (float v : w.Find("prototypes.release")->values) {
    EXPECT_LT(std::fabs(v * 1000), 10 * 2 / std::sqrt(3.0));  // no trace of the 1000s
    EXPECT_NE(v, 0.0f);                                       // but a share of noise
    sq += (v * 1000.0) * (v * 1000.0);
  }
  EXPECT_GT(sq, 0);

  // The range rule: (R - 1) w >= 10 (100 + 2 / sqrt(3)) needs w >= 337.2.
  fl::TensorBundle small = delta_with(sums);
  EXPECT_EQ(PrepareMaskedClassSumRelease(task, {}, 337, false, s, &small, &h).code(),
            absl::StatusCode::kFailedPrecondition);
  small = delta_with(sums);
  EXPECT_TRUE(PrepareMaskedClassSumRelease(task, {}, 338, false, s, &small, &h).ok());
  // A global release of magnitude 1 takes 1 off the range: w >= 10 (100 + 1.155) / 2 = 505.8.
  fl::TensorBundle global;
  global.tensors.push_back({"prototypes.release", {2, 3}, std::vector<float>(6, -1.0f)});
  small = delta_with(sums);
  EXPECT_EQ(PrepareMaskedClassSumRelease(task, global, 505, false, s, &small, &h).code(),
            absl::StatusCode::kFailedPrecondition);
  small = delta_with(sums);
  EXPECT_TRUE(PrepareMaskedClassSumRelease(task, global, 506, false, s, &small, &h).ok());

  fl::TensorBundle none;  // a release round's update must carry its share
  EXPECT_EQ(PrepareMaskedClassSumRelease(task, {}, 1000, false, s, &none, &h).code(),
            absl::StatusCode::kInvalidArgument);
  // The policy's drop keeps the release in such a round (it is replaced by noise, not removed).
  fl::TensorBundle b = Update();
  b.tensors.push_back({"prototypes.release", {2, 3}, sums});
  v1::SitePrivacyPolicy p = Policy();
  p.set_upload_prototypes(false);
  ASSERT_TRUE(ApplyPrivacyStep(task, p, s, &b).ok());
  EXPECT_NE(b.Find("prototypes.release"), nullptr);
  EXPECT_EQ(b.Find("prototypes.global"), nullptr);
}

TEST(PrivacyStep, SiteLevelDpClipsTheWholeUpdateAndAddsTheNoiseShare) {
  fl::TensorBundle b = Update();
  privacy::GaussianSampler s = Sampler();
  v1::RoundTask task = SiteTask(/*sigma=*/0.8);
  task.set_dp_clip(2.0);
  task.set_dp_min_sites(4);
  auto r = ApplyPrivacyStep(task, Policy(), s, &b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->noised);
  // Only the shared parameters leave the site under site-level DP.
  EXPECT_EQ(r->dropped_tensors, 2);
  ASSERT_EQ(b.tensors.size(), 1u);
  const double norm = 0.05 * std::sqrt(20000.0);  // 7.07 > C: scaled to 2
  EXPECT_NEAR(r->norm_before, norm, 1e-4);
  EXPECT_NEAR(r->clip_scale, 2.0 / norm, 1e-6);
  const double want_sd = 0.8 * 2.0 / std::sqrt(4.0);
  EXPECT_DOUBLE_EQ(r->noise_stddev, want_sd);
  // What was uploaded = clipped value + noise: the residuals' std matches the share within 3%.
  const double clipped = 0.05 * r->clip_scale;
  double sum = 0, sq = 0;
  for (float v : b.tensors[0].values) {
    sum += v - clipped;
    sq += (v - clipped) * (v - clipped);
  }
  const double n = 20000;
  const double mean = sum / n;
  const double sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(sd, want_sd, 0.03 * want_sd);
  EXPECT_NEAR(mean, 0.0, 4 * want_sd / std::sqrt(n));
}

TEST(PrivacyStep, LineCountLeavesNoisedAndItsReleaseIsCharged) {
  // Line-level DP: the count that weighs the update is replaced by a noised one, and the ledger holds the
  // release (the Gaussian mechanism at q = 1, noise multiplier 100) before the count is changed.
  std::array<uint8_t, 32> key{};
  key[0] = 5;
  auto sampler = privacy::GaussianSampler::CreateWithKeyForTesting(key);
  ASSERT_TRUE(sampler.ok());
  auto ledger = SiteLedger::Open(TempLedgerPath(), 1e-5);
  ASSERT_TRUE(ledger.ok());
  int exact = 0;
  for (int round = 1; round <= 20; ++round) {
    v1::UpdateHeader h;
    h.set_num_samples(2100);
    absl::StatusOr<int64_t> c = ReleaseLineCount(3, round, privacy::kDefaultLineCountNoise, *sampler, &*ledger, &h);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(h.num_samples(), *c);
    EXPECT_LT(std::abs(*c - 2100), 600);  // 6 sigma
    exact += *c == 2100 ? 1 : 0;
  }
  EXPECT_LT(exact, 2);  // P(exact) ~ 0.4% per release
  ASSERT_EQ(ledger->entries().size(), 20u);
  EXPECT_DOUBLE_EQ(ledger->entries()[0].step.sampling_rate, 1.0);
  EXPECT_DOUBLE_EQ(ledger->entries()[0].step.noise_multiplier, privacy::kDefaultLineCountNoise);
  // Twenty releases of the Gaussian mechanism (sensitivity 1, sigma 100) compose to the accountant's epsilon.
  const double expected =
      privacy::SampledGaussianEpsilon(1.0, privacy::kDefaultLineCountNoise, 20, 1e-5, privacy::DefaultOrders())
          ->epsilon;
  EXPECT_NEAR(*ledger->RunEpsilon(3), expected, 1e-9);
  // A count that cannot be released is refused and charges nothing.
  v1::UpdateHeader bad;
  bad.set_num_samples(-1);
  EXPECT_FALSE(ReleaseLineCount(3, 21, privacy::kDefaultLineCountNoise, *sampler, &*ledger, &bad).ok());
  EXPECT_EQ(ledger->entries().size(), 20u);
}

}  // namespace
}  // namespace fedlog::client
