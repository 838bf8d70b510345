// The "product choice" rows of `fedlog eval federated` (tools/offline/eval_federated_choice.cc):
// SplitSite indexes a site's stream, the label-free side scores the site's test units with eval
// newsite's k = 0 detector, and the choice follows fewshot::ChooseDetector's leave-one-out
// comparison.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels/hdfs_labels.h"
#include "common/logparse/synth/synth.h"
#include "gtest/gtest.h"
#include "tools/offline/eval_federated.h"
#include "tests/tools/federated_test_sites.h"

namespace fedlog::offline {
namespace {

FederatedOptions Options() {
  FederatedOptions o = testing::TinyFederatedOptions();
  o.run_centralized = o.run_local = false;
  return o;
}

using testing::SynthLines;

// A line site of `format` with its stream (the raw lines, as the loaders keep them).
RawSite LineSite(const std::string& format, int lines, uint64_t seed) {
  return testing::SynthSite(format, lines, seed, /*keep_stream=*/true);
}

// An HDFS site whose units are its lines' first block ids (as LoadHdfsSites builds them), anomalous
// when a line of the block is.
RawSite SessionSite(int lines, uint64_t seed) {
  const std::vector<logparse::synth::SynthLine> synth = SynthLines("HDFS", lines, seed);
  RawSite raw;
  raw.name = "site-hdfs";
  raw.sources = {"HDFS"};
  std::map<std::string, size_t> unit_of;
  std::vector<std::string> text;
  for (const auto& l : synth) {
    const std::vector<absl::string_view> ids = labels::ExtractBlockIds(l.text);
    if (ids.empty()) continue;
    auto [it, added] = unit_of.emplace(std::string(ids[0]), raw.units.size());
    if (added) {
      raw.units.emplace_back();
      raw.unit_labels.push_back(0);
    }
    raw.units[it->second].push_back(static_cast<int64_t>(text.size()));
    raw.unit_labels[it->second] |= l.anomalous ? 1 : 0;
    text.push_back(l.text);
  }
  const std::vector<std::string_view> views(text.begin(), text.end());
  auto set =
      FeaturizeSiteLines("HDFS", "HDFS", views, std::vector<int>(text.size(), 0), &raw.templates);
  EXPECT_TRUE(set.ok()) << set.status();
  raw.lines = *std::move(set);
  raw.stream.format = "HDFS";
  raw.stream.session_pattern = labels::kBlockIdSessionPattern;
  raw.stream.lines = std::move(text);
  return raw;
}

TEST(EvalFederatedChoiceTest, SplitIndexesTheStreamAndTheLabelFreeSideScoresTheTestUnits) {
  FederatedOptions o = Options();
  o.max_train_lines = 150;  // the subsample keeps the rows' mapping
  for (const RawSite& raw : {LineSite("OpenSSH", 600, 21), SessionSite(900, 22)}) {
    auto site = SplitSite(raw, o, false, 0, 9);
    ASSERT_TRUE(site.ok()) << site.status();
    const SiteStream& st = site->stream;
    ASSERT_EQ(st.lines.size(), static_cast<size_t>(raw.lines.size())) << raw.name;
    ASSERT_EQ(st.train_rows.size(), static_cast<size_t>(site->train.size())) << raw.name;
    EXPECT_EQ(site->train.size(), 150) << raw.name;
    for (size_t i = 0; i < st.train_rows.size(); ++i) {
      const size_t r = static_cast<size_t>(st.train_rows[i]);
      ASSERT_LT(r, st.lines.size());
      EXPECT_EQ(site->train.tokens[i], raw.lines.tokens[r]) << raw.name << " training line " << i;
    }
    const bool sessions = !raw.units.empty();
    const size_t test_units =
        sessions ? site->test.units.size() : static_cast<size_t>(site->test.lines.size());
    ASSERT_EQ(st.test_units.size(), test_units) << raw.name;
    for (size_t t = 0; t < st.test_units.size(); ++t) {
      if (sessions) {
        EXPECT_EQ(raw.unit_labels[st.test_units[t]], site->test.unit_labels[t]);
        EXPECT_EQ(raw.units[st.test_units[t]].size(), site->test.units[t].size());
      } else {
        EXPECT_EQ(raw.lines.tokens[st.test_units[t]], site->test.lines.tokens[t]);
      }
    }

    auto lf = LabelFreeSide(*site);
    ASSERT_TRUE(lf.ok()) << lf.status();
    EXPECT_EQ(lf->evaluation.model, "label_free");
    EXPECT_EQ(lf->with_labels, !sessions)
        << raw.name;  // a line site's labels go to the few-shot rule
    EXPECT_EQ(lf->evaluation.units, static_cast<int64_t>(test_units));
    EXPECT_EQ(lf->evaluation.metrics.confusion.Total(), lf->evaluation.units);
    EXPECT_GT(lf->evaluation.anomalous_units, 0) << raw.name;
    EXPECT_EQ(lf->labelled.size(),
              static_cast<size_t>(site->train.size()));  // every training line labelled
    EXPECT_EQ(lf->labels.size(), lf->labelled.size());
    EXPECT_EQ(lf->reference.size(), std::min<size_t>(4096, st.lines.size()));
    EXPECT_TRUE(std::is_sorted(lf->reference.begin(), lf->reference.end()));
    for (const fewshot::Unit& u : lf->labelled) EXPECT_FALSE(u.tokens.empty());
  }
  FederatedSite bare;
  bare.name = "bare";
  EXPECT_EQ(LabelFreeSide(bare).status().code(), absl::StatusCode::kFailedPrecondition);
}

// Labelled units with disjoint token sets (no label decides another), the label-free detector
// alerting on none, and embeddings that put each class together: leave-one-out the model is right
// on every unit and the label-free rule on none, so the model is chosen once each class has 3
// units, not before.
SiteLabelFree Separable(int anomalous, int normal, std::vector<float>* embeddings) {
  SiteLabelFree lf;
  lf.evaluation.model = "label_free";
  lf.evaluation.metrics.f1 = 0.25;
  lf.reference = {0.1, 0.2, 0.3, 0.9};
  lf.operating_point = 0.9;
  uint64_t token = 1;
  for (int i = 0; i < anomalous + normal; ++i) {
    const int y = i < anomalous ? 1 : 0;
    fewshot::Unit u;
    u.tokens = {token++, token++};
    u.free_score = 0.2;
    lf.labelled.push_back(u);
    lf.labels.push_back(y);
    lf.train_lines.push_back(i);
    embeddings->insert(embeddings->end(), {y == 1 ? 1.0f : 0.0f, y == 1 ? 0.0f : 1.0f, 0.01f * i});
  }
  return lf;
}

TEST(EvalFederatedChoiceTest, ChoiceFollowsTheLeaveOneOutComparison) {
  SiteEvaluation model;
  model.model = "personalised_dp";
  model.metrics.f1 = 0.75;
  std::string reason;
  std::vector<float> z;
  // 5 anomalous labels the label-free side misses: enough units of evidence for the sign test (1/32).
  const SiteLabelFree enough = Separable(5, 4, &z);
  auto c = ChooseSiteDetector(enough, z, 3, &model, "choice_dp", {}, &reason);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model, "choice_dp");
  EXPECT_DOUBLE_EQ(c->metrics.f1, 0.75) << reason;
  EXPECT_NE(reason.find("model (auto"), std::string::npos) << reason;

  z.clear();
  const SiteLabelFree few = Separable(2, 4, &z);  // 2 anomalous labels: no comparison, label-free
  c = ChooseSiteDetector(few, z, 3, &model, "choice_dp", {}, &reason);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model, "choice_dp");
  EXPECT_DOUBLE_EQ(c->metrics.f1, 0.25) << reason;

  c = ChooseSiteDetector(enough, {}, 0, nullptr, "choice", {}, &reason);  // no model detector
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->metrics.f1, 0.25) << reason;

  fewshot::ChoiceOptions forced;
  forced.mode = fewshot::ChoiceMode::kLabelFree;
  z.clear();
  const SiteLabelFree again = Separable(3, 4, &z);
  c = ChooseSiteDetector(again, z, 3, &model, "choice", forced, &reason);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->metrics.f1, 0.25) << reason;
  EXPECT_EQ(ChooseSiteDetector(again, z, 2, &model, "choice", {}, &reason).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EvalFederatedChoiceTest, SimulationAddsTheChoiceRowsBesideTheModelRows) {
  FederatedOptions o = Options();
  std::vector<FederatedSite> sites;
  const std::vector<RawSite> raws = {LineSite("OpenSSH", 300, 31), LineSite("Apache", 300, 32)};
  for (size_t i = 0; i < raws.size(); ++i) {
    auto site = SplitSite(raws[i], o, false, 0, 5 + i);
    ASSERT_TRUE(site.ok()) << site.status();
    sites.push_back(*std::move(site));
  }
  auto off = RunFederatedSimulation(sites, o);  // choice_rows off: the rows before session 15 only
  ASSERT_TRUE(off.ok()) << off.status();
  for (const SiteEvaluation& e : off->evaluations) EXPECT_EQ(e.model, "federated");

  o.choice_rows = true;
  auto on = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(on.ok()) << on.status();
  std::map<std::pair<std::string, std::string>, const SiteEvaluation*> rows;
  for (const SiteEvaluation& e : on->evaluations) rows[{e.model, e.site}] = &e;
  ASSERT_EQ(rows.size(), 6u);  // label_free, federated and choice at each site
  for (const FederatedSite& s : sites) {
    const SiteEvaluation* choice = rows[{"choice", s.name}];
    const SiteEvaluation* fed = rows[{"federated", s.name}];
    const SiteEvaluation* free = rows[{"label_free", s.name}];
    ASSERT_TRUE(choice != nullptr && fed != nullptr && free != nullptr) << s.name;
    for (const SiteEvaluation& e : off->evaluations) {
      if (e.site == s.name) {
        EXPECT_EQ(e.metrics.confusion, fed->metrics.confusion) << s.name;
      }
    }
    EXPECT_TRUE(choice->metrics.confusion == fed->metrics.confusion ||
                choice->metrics.confusion == free->metrics.confusion)
        << s.name;
  }
  size_t reasons = 0;
  for (const std::string& n : on->notes) reasons += n.rfind("choice: ", 0) == 0 ? 1 : 0;
  EXPECT_EQ(reasons, sites.size());
}

// --withhold-anomalous-labels: the site keeps no anomalous label in training or support (so its
// detector needs the federation's knowledge of that class), its normal labels and test part stay;
// others are untouched.
TEST(EvalFederatedChoiceTest, WithholdingAnomalousLabelsLeavesOnlyNormalOnes) {
  const FederatedOptions o = Options();
  std::vector<FederatedSite> sites;
  for (const RawSite& raw : {LineSite("OpenSSH", 300, 41), LineSite("Apache", 300, 42)}) {
    auto site = SplitSite(raw, o, false, 0, 7);
    ASSERT_TRUE(site.ok()) << site.status();
    sites.push_back(*std::move(site));
  }
  const std::vector<FederatedSite> before = sites;
  ASSERT_GT(std::count_if(before[1].train.labels.begin(), before[1].train.labels.end(),
                          [](int y) { return y > 0; }),
            0);
  ASSERT_TRUE(WithholdAnomalousLabels(1, &sites).ok());
  const FederatedSite& s = sites[1];
  for (size_t i = 0; i < s.train.labels.size(); ++i) {
    EXPECT_EQ(s.train.labels[i], before[1].train.labels[i] > 0 ? -1 : before[1].train.labels[i]);
  }
  EXPECT_GT(s.support.size(), 0);
  for (int y : s.support.labels) EXPECT_EQ(y, 0);
  EXPECT_EQ(s.test.lines.labels, before[1].test.lines.labels);
  EXPECT_EQ(sites[0].train.labels, before[0].train.labels);
  EXPECT_EQ(sites[0].support.labels, before[0].support.labels);
  EXPECT_EQ(WithholdAnomalousLabels(2, &sites).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WithholdAnomalousLabels(-1, &sites).code(), absl::StatusCode::kInvalidArgument);
}

// --max-anomalous-labels N: a site keeps N of its anomalous training labels (the others unlabelled,
// -1), its anomalous support lines come from the kept ones, and nothing else of the split moves
// (same rows, same test).
TEST(EvalFederatedChoiceTest, MaxAnomalousLabelsKeepsThatManyAndDrawsSupportFromThem) {
  FederatedOptions o = Options();
  const RawSite raw = LineSite("OpenSSH", 300, 43);
  auto all = SplitSite(raw, o, false, 0, 7);
  ASSERT_TRUE(all.ok()) << all.status();
  const auto anomalous = [](const std::vector<int>& y) {
    return std::count_if(y.begin(), y.end(), [](int v) { return v > 0; });
  };
  ASSERT_GT(anomalous(all->train.labels), 3);
  o.max_anomalous_labels = 3;
  auto thin = SplitSite(raw, o, false, 0, 7);
  ASSERT_TRUE(thin.ok()) << thin.status();
  ASSERT_EQ(thin->train.labels.size(), all->train.labels.size());
  EXPECT_EQ(thin->train.tokens, all->train.tokens);
  EXPECT_EQ(anomalous(thin->train.labels), 3);
  for (size_t i = 0; i < thin->train.labels.size(); ++i) {
    const int before = all->train.labels[i], after = thin->train.labels[i];
    EXPECT_TRUE(before == 0 ? after == 0 : (after == -1 || after == before))
        << "training line " << i;
  }
  EXPECT_EQ(anomalous(thin->support.labels), 3);
  for (size_t i = 0; i < thin->support.labels.size(); ++i) {
    ASSERT_GE(thin->support.labels[i], 0);
    if (thin->support.labels[i] == 0) continue;
    bool kept = false;  // an anomalous support line is one of the kept labelled lines
    for (size_t j = 0; j < thin->train.labels.size(); ++j) {
      kept |= thin->train.labels[j] > 0 && thin->train.tokens[j] == thin->support.tokens[i];
    }
    EXPECT_TRUE(kept) << "support line " << i;
  }
  EXPECT_EQ(thin->test.lines.labels, all->test.lines.labels);
  EXPECT_EQ(thin->validation.lines.labels, all->validation.lines.labels);
}

}  // namespace
}  // namespace fedlog::offline
