// `fedlog eval federated` on tiny synthetic sites (common/logparse/synth): the simulation's shape
// (rounds, late joiner, one evaluation per model and site, adapters and prototypes in the global
// model), determinism under a seed, the optional-tensor aggregation, the report files and bad
// input.
#include "tools/offline/eval_federated.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/file_util.h"
#include "common/logparse/synth/synth.h"
#include "common/model/line_input.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/rdp_accountant.h"
#include "common/privacy/release_shrink.h"
#include "gtest/gtest.h"
#include "tests/tools/federated_test_sites.h"

namespace fedlog::offline {
namespace {

using testing::SynthSite;

FederatedOptions TinyOptions() { return testing::TinyFederatedOptions(); }

// Three sites: OpenSSH + Zookeeper (two sources, two adapters), Apache, and Linux, which joins in
// round 2 with labels on its support lines only.
std::vector<FederatedSite> TinySites(const FederatedOptions& o) {
  RawSite two = SynthSite("OpenSSH", 250, 11);
  const RawSite zookeeper = SynthSite("Zookeeper", 250, 12);
  model::AppendLineSet(zookeeper.lines, &two.lines);
  two.name = "site-OpenSSH";
  two.sources = {"OpenSSH", "Zookeeper"};
  std::vector<FederatedSite> sites;
  const std::vector<RawSite> raws = {two, SynthSite("Apache", 400, 13),
                                     SynthSite("Linux", 400, 14)};
  for (size_t i = 0; i < raws.size(); ++i) {
    const bool held_out = i + 1 == raws.size();
    auto site = SplitSite(raws[i], o, held_out, held_out ? 1 : 0, 5 + i);
    EXPECT_TRUE(site.ok()) << site.status();
    sites.push_back(*std::move(site));
  }
  return sites;
}

TEST(EvalFederatedTest, SplitKeepsLabelsOnlyOnTheHeldOutSupport) {
  const FederatedOptions o = TinyOptions();
  const std::vector<FederatedSite> sites = TinySites(o);
  for (const FederatedSite& s : sites) {
    EXPECT_EQ(s.train.labels.size(), static_cast<size_t>(s.train.size())) << s.name;
    EXPECT_GT(s.test.lines.size(), 0) << s.name;
    EXPECT_LE(s.support.size(), 2 * o.shots * static_cast<int64_t>(s.sources.size())) << s.name;
    for (const std::string& source : s.sources) {
      EXPECT_NE(std::find(s.support.sources.begin(), s.support.sources.end(), source),
                s.support.sources.end())
          << s.name << " has no support line of " << source;
    }
    int labeled = 0;
    for (int y : s.train.labels) labeled += y >= 0;
    if (s.labeled) {
      EXPECT_EQ(labeled, s.train.size()) << s.name;
    } else {
      EXPECT_EQ(labeled, s.support.size()) << s.name;
      EXPECT_EQ(s.validation.lines.size(), s.support.size());
    }
  }
}

TEST(EvalFederatedTest, SimulationHasOneEvaluationPerModelAndSiteAndIsDeterministic) {
  const FederatedOptions o = TinyOptions();
  const std::vector<FederatedSite> sites = TinySites(o);
  auto a = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->rounds.size(), 2u);
  EXPECT_EQ(a->rounds[0].participants, 2);  // the held-out site joins in round 2
  EXPECT_EQ(a->rounds[1].participants, 3);
  std::set<std::pair<std::string, std::string>> seen;
  for (const SiteEvaluation& e : a->evaluations) {
    EXPECT_TRUE(seen.insert({e.model, e.site}).second) << e.model << " " << e.site;
    EXPECT_GE(e.metrics.f1, 0.0);
    EXPECT_LE(e.metrics.f1, 1.0);
    EXPECT_GE(e.metrics.f1_macro, 0.0);
    EXPECT_LE(e.metrics.f1_macro, 1.0);
    EXPECT_EQ(e.metrics.confusion.Total(), e.units);
    EXPECT_EQ(e.held_out, e.site == "site-Linux");
  }
  EXPECT_EQ(seen.size(), 9u);  // 3 models x 3 sites
  for (const std::string src : {"OpenSSH", "Zookeeper", "Apache", "Linux"}) {
    EXPECT_NE(a->federated_model.Find("adapter." + src + ".down.weight"), nullptr) << src;
  }
  EXPECT_NE(a->federated_model.Find("prototypes.global"), nullptr);

  auto b = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->evaluations.size(), b->evaluations.size());
  for (size_t i = 0; i < a->evaluations.size(); ++i) {
    EXPECT_EQ(a->evaluations[i].metrics.confusion, b->evaluations[i].metrics.confusion);
    EXPECT_EQ(a->evaluations[i].threshold, b->evaluations[i].threshold);
  }
  ASSERT_EQ(a->federated_model.tensors.size(), b->federated_model.tensors.size());
  for (size_t t = 0; t < a->federated_model.tensors.size(); ++t) {
    EXPECT_EQ(a->federated_model.tensors[t].values, b->federated_model.tensors[t].values)
        << a->federated_model.tensors[t].name;
  }

  FederatedOptions other = o;
  other.seed = 4;
  other.run_centralized = other.run_local = false;
  auto c = RunFederatedSimulation(sites, other);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->evaluations.size(), 3u);
  EXPECT_NE(c->federated_model.Find("out.weight")->values,
            a->federated_model.Find("out.weight")->values);

  const std::string dir = ::testing::TempDir() + "/eval_federated_report";
  FederatedOptions out = o;
  out.out_dir = dir;
  auto md = WriteFederatedResults(out, sites, *a);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("| **mean** |"), std::string::npos);
  auto json = ReadFile(dir + "/results.json");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"evaluations\""), std::string::npos);
  EXPECT_NE(json->find("\"model\": \"centralized\", \"site\": \"site-Linux\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

fl::NamedTensor T(const std::string& name, std::vector<float> v) {
  return fl::NamedTensor{name, {static_cast<int64_t>(v.size())}, v};
}

// The per-update log of a round (docs/EVALUATION.md "Session 24: a source admitted in the middle of a run"):
// the contribution part by part, an adapter the global model lacks on its own with its full value, and the
// factor clipping scaled the update by.
TEST(EvalFederatedTest, AggregateRoundReportsEachUpdatesPartsAndScale) {
  fl::TensorBundle global{{T("out.weight", {1, 1}), T("adapter.X.up.bias", {10})}};
  fl::TensorBundle u1{{T("out.weight", {4, 5}), T("adapter.X.up.bias", {22}), T("adapter.Y.up.bias", {3, 4})}};
  fl::TensorBundle u2{{T("out.weight", {1, 2})}};
  const std::vector<SiteUpdate> updates = {{&u1, 1, 1, 1, {"X", "Y"}, "a"}, {&u2, 1, 1, 1, {}, "b"}};
  double norm = 0;
  fl::ClipDecision clip;
  std::vector<UpdatePartNorms> parts;
  ASSERT_TRUE(AggregateRound(global, updates, "fedavg", &norm, 0, &clip, &parts).ok());
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].site, "a");
  EXPECT_NEAR(parts[0].shared, 5, 1e-9);          // delta (3, 4)
  EXPECT_NEAR(parts[0].known_adapters, 12, 1e-9);  // X is in the global model: delta 12
  ASSERT_EQ(parts[0].new_adapters.size(), 1u);     // Y is not: its full value (3, 4)
  EXPECT_NEAR(parts[0].new_adapters.at("Y"), 5, 1e-9);
  EXPECT_NEAR(parts[0].norm, std::sqrt(194.0), 1e-9);
  EXPECT_EQ(parts[0].scale, 1.0);
  EXPECT_NEAR(parts[1].norm, 1, 1e-9);
  EXPECT_TRUE(parts[1].new_adapters.empty());
  // M = 1: r = the smaller norm (1), so update a is scaled to it.
  ASSERT_TRUE(AggregateRound(global, updates, "fedavg", &norm, 1, &clip, &parts).ok());
  EXPECT_NEAR(parts[0].scale, 1 / std::sqrt(194.0), 1e-9);
  EXPECT_EQ(parts[1].scale, 1.0);
}

TEST(EvalFederatedTest, OptionalTensorsAreAveragedOverTheirCarriersOnly) {
  fl::TensorBundle global{{T("out.weight", {1, 1}), T("adapter.X.up.bias", {10})}};
  fl::TensorBundle u1{
      {T("out.weight", {3, 3}), T("adapter.X.up.bias", {12}), T("adapter.X.prototypes", {2, 2})}};
  fl::TensorBundle u2{{T("out.weight", {5, 5}), T("prototypes.global", {4, 8})}};
  std::vector<SiteUpdate> updates = {{&u1, 1, 1, 1, {"X"}, "a"}, {&u2, 3, 1, 1, {"Y"}, "b"}};
  double norm = 0;
  fl::ClipDecision clip;  // adaptive clipping off (0): the plain averaging rule
  auto out = AggregateRound(global, updates, "fedavg", &norm, 0, &clip);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->Find("out.weight")->values, (std::vector<float>{4.5f, 4.5f}));  // 1 + (2 + 3*4)/4
  EXPECT_EQ(out->Find("adapter.X.up.bias")->values, (std::vector<float>{12}));
  EXPECT_EQ(out->Find("adapter.X.prototypes")->values, (std::vector<float>{2, 2}));
  EXPECT_EQ(out->Find("prototypes.global")->values, (std::vector<float>{4, 8}));
  EXPECT_NEAR(norm, 3.5 * std::sqrt(2.0), 1e-5);

  // With adaptive clipping at M = 1: r = the smaller norm, sqrt(20) (u1's delta 2, 2, 2, 2, 2), so u2's
  // (4, 4 and its full prototypes 4, 8: sqrt(112)) is scaled down to it.
  fl::ClipDecision clipped;
  ASSERT_TRUE(AggregateRound(global, updates, "fedavg", &norm, 1, &clipped).ok());
  EXPECT_EQ(clipped.clipped, 1);
  EXPECT_NEAR(clipped.reference, std::sqrt(20.0), 1e-5);

  fl::TensorBundle missing{{T("adapter.Y.up.bias", {1})}};
  updates.push_back({&missing, 1, 1, 1, {"Y"}, "c"});
  EXPECT_EQ(AggregateRound(global, updates, "fedavg", &norm, 0, &clip).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AggregateRound(global, {}, "fedavg", &norm, 0, &clip).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(AggregateRound(global, {updates[0]}, "nope", &norm, 0, &clip).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EvalFederatedTest, BadInputIsAClearError) {
  FederatedOptions o = TinyOptions();
  EXPECT_EQ(SplitSite(RawSite{}, o, false, 0, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<FederatedSite> sites = TinySites(o);
  o.rounds = 0;
  EXPECT_EQ(RunFederatedSimulation(sites, o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunFederatedSimulation({}, TinyOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = TinyOptions();
  o.data_dir = ::testing::TempDir() + "/no-such-data";
  EXPECT_EQ(LoadHdfsSites(o).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadBglSites(o).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadSourcesSites(o).status().code(), absl::StatusCode::kNotFound);
}

TEST(EvalFederatedTest, LineDpRunMeetsItsTargetEpsilonBesideTheNonPrivateOne) {
  FederatedOptions o = TinyOptions();
  o.run_centralized = o.run_local = false;
  const std::vector<FederatedSite> sites = TinySites(o);
  o.dp_mode = "line";
  o.target_epsilon = 4.0;
  o.personalise_rounds = 1;  // both federations get the same non-private local step
  ASSERT_TRUE(ResolveDpOptions(sites, &o).ok());
  EXPECT_GT(o.dp_noise_multiplier, 0.1);
  auto r = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, int> per_model;
  for (const SiteEvaluation& e : r->evaluations) ++per_model[e.model];
  EXPECT_EQ(per_model["federated"], 3);
  EXPECT_EQ(per_model["federated_dp"], 3);
  EXPECT_EQ(per_model["initial"], 3);  // the untrained start, scored for the diagnosis
  EXPECT_EQ(per_model["personalised"], 3);
  EXPECT_EQ(per_model["personalised_dp"], 3);
  EXPECT_EQ(per_model["tuned_dp"], 3);
  int movement_notes = 0;
  bool encoder_unmoved = false;
  for (const std::string& n : r->notes) {
    movement_notes += n.find("|w - w0|") != std::string::npos;
    // The default scope: only adapters and prototypes train under DP, so the private federation's
    // embedding and encoder are exactly the initial ones (every site's delta there is zero).
    encoder_unmoved = encoder_unmoved ||
                      (n.rfind("federated_dp: |w - w0|", 0) == 0 &&
                       n.find(" embed 0 (") != std::string::npos &&
                       n.find(", encoder 0 (") != std::string::npos);
  }
  EXPECT_EQ(movement_notes, 2);  // federated and federated_dp
  EXPECT_TRUE(encoder_unmoved);
  for (const std::string& name : {"out.weight", "embed.weight"}) {
    EXPECT_NE(r->federated_dp_model.Find(name)->values, r->federated_model.Find(name)->values);
  }
  // Every site's composed epsilon is within the target the sigma was picked for, and not far below.
  EXPECT_LE(r->dp_epsilon, 4.0 + 1e-9);
  EXPECT_GT(r->dp_epsilon, 2.0);
  EXPECT_EQ(r->dp_sigma, o.dp_noise_multiplier);
  // The planner charges what the options run: the contrastive phase on top of the per-line one needs a
  // larger sigma for the same target.
  FederatedOptions with_contrastive = TinyOptions();
  with_contrastive.dp_mode = "line";
  with_contrastive.target_epsilon = 4.0;
  with_contrastive.dp_contrastive = true;
  ASSERT_TRUE(ResolveDpOptions(sites, &with_contrastive).ok());
  EXPECT_GT(with_contrastive.dp_noise_multiplier, o.dp_noise_multiplier);

  // --dp-private-only: the private federation alone (and its local step), the same epsilon.
  FederatedOptions only = o;
  only.dp_private_only = true;
  auto p = RunFederatedSimulation(sites, only);
  ASSERT_TRUE(p.ok()) << p.status();
  std::map<std::string, int> only_models;
  for (const SiteEvaluation& e : p->evaluations) ++only_models[e.model];
  EXPECT_EQ(only_models.count("federated"), 0u);
  EXPECT_EQ(only_models.count("personalised"), 0u);
  EXPECT_EQ(only_models["federated_dp"], 3);
  EXPECT_EQ(only_models["personalised_dp"], 3);
  EXPECT_EQ(p->dp_epsilon, r->dp_epsilon);
  only.dp_mode.clear();
  EXPECT_EQ(RunFederatedSimulation(sites, only).status().code(),
            absl::StatusCode::kInvalidArgument);

  FederatedOptions bad = TinyOptions();
  bad.dp_mode = "line";  // neither sigma nor a target
  EXPECT_EQ(ResolveDpOptions(sites, &bad).code(), absl::StatusCode::kInvalidArgument);
  bad.dp_mode = "site";
  bad.target_epsilon = 1;
  EXPECT_EQ(ResolveDpOptions(sites, &bad).code(), absl::StatusCode::kInvalidArgument);
}

// The class-sum release under line DP: with a target, its noise spends the stated share of it on its own and
// sigma covers the rest, so every site's epsilon (the release included) stays within the target; the release
// happens once, in the final round, and the private model carries the pooled sums; with the same sigma and no
// release a site's epsilon is lower (the release is charged).
TEST(EvalFederatedTest, LineDpClassSumReleaseIsChargedWithinTheTarget) {
  FederatedOptions o = TinyOptions();
  o.run_centralized = o.run_local = false;
  o.dp_private_only = true;
  const std::vector<FederatedSite> sites = TinySites(o);
  o.dp_mode = "line";
  o.target_epsilon = 2.0;
  o.dp_prototype_share = 0.5;
  ASSERT_TRUE(ResolveDpOptions(sites, &o).ok());
  ASSERT_GT(o.dp_prototype_noise, 0);
  // The default form is directions (sensitivity 1, session 14); --dp-prototype-counts is sessions 12-13's.
  const privacy::MechanismStep step = privacy::ClassSumStep(o.dp_prototype_noise, privacy::ClassSumForm::kDirections);
  EXPECT_LE(privacy::SampledGaussianEpsilon(1.0, step.noise_multiplier, 1, o.dp_delta, privacy::DefaultOrders())
                ->epsilon,
            1.0 + 1e-9);
  FederatedOptions counts = o;
  counts.dp_prototype_noise = 0;
  counts.dp_prototype_counts = true;
  ASSERT_TRUE(ResolveDpOptions(sites, &counts).ok());
  EXPECT_NEAR(counts.dp_prototype_noise, o.dp_prototype_noise * std::sqrt(2.0), 2e-3 * counts.dp_prototype_noise);
  FederatedOptions no_share = TinyOptions();
  no_share.dp_mode = "line";
  no_share.target_epsilon = 2.0;
  no_share.dp_prototype_share = 0;  // no release: DP-SGD may use the whole target
  ASSERT_TRUE(ResolveDpOptions(sites, &no_share).ok());
  EXPECT_EQ(no_share.dp_prototype_noise, 0);
  EXPECT_GT(o.dp_noise_multiplier, no_share.dp_noise_multiplier);

  auto r = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(r->dp_epsilon, 2.0 + 1e-9);
  const fl::NamedTensor* release = r->federated_dp_model.Find("prototypes.release");
  ASSERT_NE(release, nullptr);
  EXPECT_EQ(release->shape[1], r->federated_dp_model.Find("prototypes.global")->shape[1] + 1);

  FederatedOptions same_sigma = o;  // the run's sigma without the release
  same_sigma.dp_prototype_noise = 0;
  same_sigma.dp_prototype_share = 0;
  same_sigma.target_epsilon = 0;
  auto r2 = RunFederatedSimulation(sites, same_sigma);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->federated_dp_model.Find("prototypes.release"), nullptr);
  EXPECT_LT(r2->dp_epsilon, r->dp_epsilon);

  FederatedOptions bad = o;
  bad.dp_prototype_noise = 0.001;
  EXPECT_EQ(ResolveDpOptions(sites, &bad).code(), absl::StatusCode::kInvalidArgument);
  bad = TinyOptions();
  bad.dp_mode = "site";
  bad.dp_noise_multiplier = 1;
  bad.dp_prototype_noise = 1;
  EXPECT_EQ(ResolveDpOptions(sites, &bad).code(), absl::StatusCode::kInvalidArgument);
}

// --secure-aggregation: the release's noise is shared over the round's threshold and the accountant still
// charges s, so every site's epsilon is the plain release's; a clip range that cannot hold the noise share makes
// every site refuse to mask, and the round fails; the flags are checked.
TEST(EvalFederatedTest, SecureAggregationSharesTheReleaseNoiseAndChargesTheWhole) {
  FederatedOptions o = TinyOptions();
  o.run_centralized = o.run_local = false;
  o.dp_private_only = true;
  const std::vector<FederatedSite> sites = TinySites(o);
  o.dp_mode = "line";
  o.dp_noise_multiplier = 4.0;
  o.dp_prototype_noise = 2.0;
  FederatedOptions plain = o;
  o.secure_aggregation = true;
  o.secagg_clip_range = 1e6;  // the tiny sites' weights are small: a wide range holds their shares
  ASSERT_TRUE(ResolveDpOptions(sites, &o).ok());
  ASSERT_TRUE(ResolveDpOptions(sites, &plain).ok());
  auto r = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(r.ok()) << r.status();
  auto p = RunFederatedSimulation(sites, plain);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(r->dp_epsilon, p->dp_epsilon);  // charged at s, not at the share
  ASSERT_NE(r->federated_dp_model.Find("prototypes.release"), nullptr);
  DpFederation dp(o, sites.size());
  EXPECT_EQ(dp.ReleaseShares(3), 2);
  EXPECT_EQ(dp.ReleaseShares(5), 3);
  EXPECT_EQ(DpFederation(plain, sites.size()).ReleaseShares(5), 1);

  FederatedOptions narrow = o;
  narrow.secagg_clip_range = 1.0;  // holds no noise share: every site refuses to mask
  EXPECT_EQ(RunFederatedSimulation(sites, narrow).status().code(), absl::StatusCode::kFailedPrecondition);

  FederatedOptions bad = o;
  bad.secagg_threshold = static_cast<int>(sites.size()) + 1;
  EXPECT_EQ(ResolveDpOptions(sites, &bad).code(), absl::StatusCode::kInvalidArgument);
  bad = o;
  bad.dp_prototype_noise = 0;  // nothing to share
  EXPECT_EQ(ResolveDpOptions(sites, &bad).code(), absl::StatusCode::kInvalidArgument);
  bad = TinyOptions();
  bad.secure_aggregation = true;  // without line DP
  EXPECT_EQ(ResolveDpOptions(sites, &bad).code(), absl::StatusCode::kInvalidArgument);
}

// --dp-release-shrink (session 21): the private model carries the pooled release's noise energy, the public
// arithmetic of privacy::PooledReleaseNoiseEnergy for the final round's 3 updates, t = 2 and some pooled weight
// no larger than the sites' lines plus their count noise; without the flag it carries none. --dp-shrink-diagnose
// adds its notes and changes no row.
TEST(EvalFederatedTest, ReleaseShrinkAttachesThePooledNoiseEnergy) {
  FederatedOptions o = TinyOptions();
  o.run_centralized = o.run_local = false;
  o.dp_private_only = true;
  const std::vector<FederatedSite> sites = TinySites(o);
  o.dp_mode = "line";
  o.dp_noise_multiplier = 4.0;
  o.dp_prototype_noise = 2.0;
  o.secure_aggregation = true;
  o.secagg_clip_range = 1e6;
  ASSERT_TRUE(ResolveDpOptions(sites, &o).ok());
  auto off = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->federated_dp_model.Find(privacy::kReleaseNoiseName), nullptr);
  o.dp_release_shrink = o.dp_shrink_diagnose = true;
  auto on = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(on.ok()) << on.status();
  const fl::NamedTensor* noise = on->federated_dp_model.Find(privacy::kReleaseNoiseName);
  ASSERT_NE(noise, nullptr);
  ASSERT_EQ(noise->values.size(), 1u);
  const double energy = noise->values[0];
  ASSERT_GT(energy, 0);
  int64_t lines = 0;
  for (const FederatedSite& s : sites) lines += s.train.size();
  const fl::NamedTensor* release = on->federated_dp_model.Find("prototypes.release");
  ASSERT_NE(release, nullptr);
  const int64_t dim = release->shape[1] - 1;
  const double weight = std::sqrt(3.0 * dim * (2.0 * 2.0 / 2) / energy);
  EXPECT_GE(weight, 1.0);
  EXPECT_LE(weight, static_cast<double>(lines) + 3 * 10 * o.dp_count_noise);
  auto energy_at = privacy::PooledReleaseNoiseEnergy(2.0, 2, 3, dim, weight);
  ASSERT_TRUE(energy_at.ok());
  EXPECT_NEAR(*energy_at, energy, 1e-6 * energy);
  EXPECT_TRUE(std::any_of(on->notes.begin(), on->notes.end(),
                          [](const std::string& n) { return n.rfind("shrink: ", 0) == 0; }));
  EXPECT_EQ(on->evaluations.size(), off->evaluations.size());
}

TEST(EvalFederatedTest, ParameterMovementIsTheL2DistancePerGroup) {
  fl::TensorBundle start{{T("embed.weight", {0, 0}), T("out.weight", {1, 1}),
                          T("adapter.S.up.weight", {0, 0}), T("head.0.weight", {2})}};
  fl::TensorBundle model{{T("embed.weight", {3, 4}), T("out.weight", {1, 1}),
                          T("adapter.S.up.weight", {0, 1}), T("head.0.weight", {2}),
                          T("adapter.S.prototypes", {9, 9})}};
  const std::string s = ParameterMovement("m", start, model);
  EXPECT_NE(s.find("embed 5 (0)"), std::string::npos) << s;
  EXPECT_NE(s.find("encoder 0 (1.414)"), std::string::npos) << s;
  EXPECT_NE(s.find("adapters 1 (0)"), std::string::npos) << s;
  EXPECT_NE(s.find("head 0 (2)"), std::string::npos) << s;
}

TEST(EvalFederatedTest, SiteDpClipsEachUpdateAndAveragesUnweighted) {
  FederatedOptions o = TinyOptions();
  o.dp_mode = "site";
  o.dp_noise_multiplier = 0.01;  // noise on the mean: stddev 0.005 per coordinate
  o.dp_clip = 1.0;
  DpFederation dp(o, 4);
  fl::TensorBundle global{{T("out.weight", {0, 0})}};
  fl::TensorBundle small{{T("out.weight", {0.3f, 0.4f})}};  // norm 0.5: kept
  fl::TensorBundle huge{{T("out.weight", {3000, 4000})}};   // norm 5000: clipped to 1
  std::vector<SiteUpdate> updates = {{&small, 1, 1, 1, {}, "small"}, {&huge, 1000000, 1, 1, {}, "huge"}};
  auto next = dp.AggregateSiteDp(global, updates, 4);
  ASSERT_TRUE(next.ok()) << next.status();
  const std::vector<float>& v = next->Find("out.weight")->values;
  EXPECT_NEAR(v[0], (0.3 + 0.6) / 2, 0.03);  // samples do not weigh; the huge one counts as norm 1
  EXPECT_NEAR(v[1], (0.4 + 0.8) / 2, 0.03);
  // One round: every participant takes part (no sampling of sites), so q = 1 at this sigma.
  o.dp_noise_multiplier = 1.0;
  DpFederation one(o, 4);
  ASSERT_TRUE(one.AggregateSiteDp(global, updates, 4).ok());
  const std::vector<model::LineDpPhase> phase = {{"site", 1.0, 1.0, 1}};
  EXPECT_NEAR(*one.Epsilon(), *model::LineDpEpsilon(phase, o.dp_delta), 1e-12);
}

}  // namespace
}  // namespace fedlog::offline
