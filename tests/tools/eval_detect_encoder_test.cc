// The learned encoder of `fedlog eval detect` on small synthetic datasets: the line path
// (contrastive + meta-training, then k = 0 / k > 0 adaptation at an unseen source), the session
// path (template-id sequences of blocks) and clear errors when a dataset lacks the encoder's input.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "common/eval/metrics.h"
#include "gtest/gtest.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

// Lines of three sources; each source has 6 templates (token sets + a dense pattern), templates 4
// and 5 are anomalous and carry the shared token 999 (the transferable signal).
DetectDataset LineDataset() {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int64_t> param(2000, 3000);
  DetectDataset d;
  d.unit = "line";
  const std::vector<std::string> sources = {"A", "B", "C"};
  for (size_t s = 0; s < sources.size(); ++s) {
    for (int i = 0; i < 240; ++i) {
      const int t = i % 6;
      const int64_t tid = static_cast<int64_t>(s) * 100 + t;
      std::vector<int64_t> tokens = {tid * 7 + 11, tid * 13 + 5, param(rng)};
      if (t >= 4) tokens.push_back(999);
      d.lines.tokens.push_back(tokens);
      d.lines.sources.push_back(sources[s]);
      d.lines.template_ids.push_back(tid);
      d.lines.labels.push_back(t >= 4 ? 1 : 0);
      d.y.push_back(t >= 4 ? 1 : 0);
      d.group.push_back(sources[s]);
    }
  }
  d.lines.dense = DenseMatrix(static_cast<int64_t>(d.y.size()), 3);
  for (int64_t r = 0; r < d.lines.dense.rows; ++r)
    d.lines.dense.Row(r)[d.lines.template_ids[static_cast<size_t>(r)] % 3] = 1.0f;
  return d;
}

DetectOptions SmallOptions() {
  DetectOptions o;
  o.seed = 7;
  o.encoder.contrastive_steps = 20;
  o.encoder.contrastive_batch = 64;
  o.encoder.meta_iterations = 40;
  o.encoder.meta_batch = 2;
  o.encoder.adapt_steps = 2;
  o.encoder.session_epochs = 3;
  return o;
}

double Auroc(const DetectDataset& d, const std::vector<size_t>& rows, const ModelRun& run) {
  std::vector<int> y;
  for (size_t r : rows) y.push_back(d.y[r]);
  auto m = eval::EvaluateScores(y, run.scores, run.threshold);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? m->auroc : 0;
}

TEST(EvalDetectEncoderTest, LineEncoderTransfersToAnUnseenSource) {
  const DetectDataset d = LineDataset();
  std::vector<size_t> train, target;
  for (size_t r = 0; r < d.y.size(); ++r) (d.group[r] == "C" ? target : train).push_back(r);
  const DetectOptions o = SmallOptions();
  auto fit = FitLineEncoder(d, train, o, o.seed);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->spec.sources, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_NEAR(static_cast<double>(fit->validation.size()), 0.2 * train.size(), 2.0);
  for (size_t r : fit->validation) EXPECT_NE(d.group[r], "C");  // never trains on the target
  auto zero_shot = ScoreLineEncoder(d, *fit, {}, target, false, o);
  ASSERT_TRUE(zero_shot.ok()) << zero_shot.status();
  EXPECT_EQ(zero_shot->model, "encoder");
  ASSERT_EQ(zero_shot->scores.size(), target.size());
  EXPECT_GT(Auroc(d, target, *zero_shot), 0.9);
  std::vector<size_t> support = {target[0], target[1], target[4], target[5]};
  std::vector<size_t> rest(target.begin() + 6, target.end());
  auto few_shot = ScoreLineEncoder(d, *fit, support, rest, true, o);
  ASSERT_TRUE(few_shot.ok()) << few_shot.status();
  EXPECT_GT(Auroc(d, rest, *few_shot), 0.9);
  // The fused detector: the support lines decide the lines near them; every test line of this
  // source shares a template with a support line, so it ranks as the template lookup does.
  auto fused = ScoreLineEncoderFused(d, *fit, support, rest, o);
  ASSERT_TRUE(fused.ok()) << fused.status();
  EXPECT_EQ(fused->model, "encoder-fused");
  ASSERT_EQ(fused->scores.size(), rest.size());
  EXPECT_GT(Auroc(d, rest, *fused), 0.9);
  const ModelRun jaccard = ScoreJaccard1nn(d, support, rest);
  EXPECT_EQ(jaccard.model, "jaccard-1nn");
  ASSERT_EQ(jaccard.scores.size(), rest.size());
  // The anomalous templates share their tokens and 999 with the support; a random parameter token
  // may rarely collide, so allow a couple of misses.
  int wrong = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    wrong += (jaccard.scores[i] > jaccard.threshold) != (d.y[rest[i]] == 1);
  }
  EXPECT_LE(wrong, 2);
  // The encoder + Jaccard hybrid: the same 1-NN decision, on the mixed similarity; the training
  // sources' tally for the dev weight and the dev cut.
  auto tally = DevHybridTally(d, *fit, 2, o);
  ASSERT_TRUE(tally.ok()) << tally.status();
  const double dev_weight = DevHybridWeight(*tally);
  EXPECT_GE(dev_weight, 0.0);
  EXPECT_LE(dev_weight, 1.0);
  HybridRows rows;
  rows.loo = rows.rate = true;
  rows.dev_weight = dev_weight;
  rows.tally = &*tally;
  auto hybrids = ScoreLineEncoderJaccard(d, *fit, support, rest, o, rows);
  ASSERT_TRUE(hybrids.ok()) << hybrids.status();
  ASSERT_EQ(hybrids->size(), 4u);
  const ModelRun& hybrid_dev = (*hybrids)[0];
  const ModelRun& rate = (*hybrids)[1];
  const ModelRun& devcut = (*hybrids)[2];
  const ModelRun& hybrid = (*hybrids)[3];
  EXPECT_EQ(hybrid.model, "encoder-jaccard");
  ASSERT_EQ(hybrid.scores.size(), rest.size());
  EXPECT_GE(hybrid.validation_f1, 0.0);  // the chosen encoder weight
  EXPECT_LE(hybrid.validation_f1, 1.0);
  // Two support lines per class cannot tell the weights apart by leave-one-out, so the even mix
  // is kept; the untrained templates 2 and 3 then sit at the cut, but the ranking holds.
  EXPECT_GT(Auroc(d, rest, hybrid), 0.9);
  // The weight chosen on the training sources' held-out lines, then fixed for the target.
  EXPECT_EQ(hybrid_dev.model, "encoder-jaccard-dev");
  EXPECT_DOUBLE_EQ(hybrid_dev.validation_f1, dev_weight);
  EXPECT_GT(Auroc(d, rest, hybrid_dev), 0.9);
  // The rate and devcut rows keep the support's hybrid scores and move only the cut: the rate row
  // alerts exactly as many lines as the Jaccard 1-NN does (its scores have no tie at the cut
  // here), the devcut row's cut is one of the offsets, the one the tally prefers for that weight.
  EXPECT_EQ(rate.model, "encoder-jaccard-rate");
  EXPECT_EQ(rate.scores, hybrid.scores);
  const auto alerts = [](const ModelRun& r) {
    return std::count_if(r.scores.begin(), r.scores.end(),
                         [&](double s) { return s >= r.threshold; });
  };
  EXPECT_LE(alerts(rate), alerts(jaccard));
  EXPECT_GE(alerts(rate) + 2, alerts(jaccard));
  EXPECT_EQ(devcut.model, "encoder-jaccard-devcut");
  EXPECT_EQ(devcut.scores, hybrid.scores);
  auto offset = tally->BestOffset(hybrid.validation_f1);
  ASSERT_TRUE(offset.ok()) << offset.status();
  EXPECT_NEAR(devcut.threshold, *offset, 1e-6);
  auto dev = DevFewShotF1Macro(d, *fit, 5, o);
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_GT(*dev, 0.8);
  // Same seed, same scores.
  auto again = FitLineEncoder(d, train, o, o.seed);
  ASSERT_TRUE(again.ok());
  auto zero_again = ScoreLineEncoder(d, *again, {}, target, false, o);
  ASSERT_TRUE(zero_again.ok());
  EXPECT_EQ(zero_again->scores, zero_shot->scores);
}

TEST(EvalDetectEncoderTest, ChoosingTheJaccardWeightKeepsTheHeldOutBest) {
  const DetectDataset d = LineDataset();
  std::vector<size_t> train;  // one source, short training: the choice, not the encoder, is tested
  for (size_t r = 0; r < d.y.size(); ++r) {
    if (d.group[r] == "A") train.push_back(r);
  }
  DetectOptions o = SmallOptions();
  o.encoder.contrastive_steps = 4;
  o.encoder.meta_iterations = 6;
  o.encoder.adapt_steps = 0;
  o.shots = {0, 5};  // k = 0 does not count in the choice: only k = 5 does
  std::vector<double> dev;
  for (float w : {0.0f, 4.0f}) {
    DetectOptions one = o;
    one.encoder.jaccard_weights = {w};
    auto fit = FitLineEncoder(d, train, one, o.seed);
    ASSERT_TRUE(fit.ok()) << fit.status();
    EXPECT_EQ(fit->jaccard_weight, w);
    auto f1 = DevFewShotF1Macro(d, *fit, 5, one);
    ASSERT_TRUE(f1.ok()) << f1.status();
    dev.push_back(*f1);
  }
  o.encoder.jaccard_weights = {0.0f, 4.0f};
  auto chosen = FitLineEncoderChoosingWeight(d, train, o, o.seed);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->jaccard_weight, dev[1] > dev[0] ? 4.0f : 0.0f) << dev[0] << " " << dev[1];
  EXPECT_NE(chosen->log.find("w=0 "), std::string::npos) << chosen->log;
  EXPECT_NE(chosen->log.find("w=4 "), std::string::npos) << chosen->log;
  // Listed the other way round, the same held-out figures decide (ties to the first listed).
  o.encoder.jaccard_weights = {4.0f, 0.0f};
  auto reversed = FitLineEncoderChoosingWeight(d, train, o, o.seed);
  ASSERT_TRUE(reversed.ok());
  EXPECT_EQ(reversed->jaccard_weight, dev[0] > dev[1] ? 0.0f : 4.0f);
}

TEST(EvalDetectEncoderTest, SessionModelSeparatesBlocksWithAnErrorTemplate) {
  DetectDataset d;
  d.unit = "block";
  std::mt19937_64 rng(5);
  for (int b = 0; b < 200; ++b) {
    const bool anomalous = b % 5 == 0;
    std::vector<size_t> lines;
    for (int e = 0; e < 8; ++e) {
      lines.push_back(static_cast<size_t>(d.lines.template_ids.size()));
      d.lines.template_ids.push_back(anomalous && e == 4 ? 9 : static_cast<int64_t>(e % 4));
    }
    d.sessions.push_back(lines);
    d.y.push_back(anomalous ? 1 : 0);
  }
  TrainSetup setup;
  setup.seed = 7;
  for (size_t r = 0; r < d.y.size(); ++r) (r < 140 ? setup.train : setup.test).push_back(r);
  std::string log;
  auto run = RunSessionEncoder(d, setup, SmallOptions(), &log);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->scores.size(), setup.test.size());
  EXPECT_GT(Auroc(d, setup.test, *run), 0.95);
  EXPECT_NE(log.find("session model"), std::string::npos);
}

TEST(EvalDetectEncoderTest, ClearErrorsWithoutEncoderInput) {
  DetectDataset d;
  d.unit = "line";
  d.y = {0, 1, 0, 1};
  const DetectOptions o = SmallOptions();
  EXPECT_EQ(FitLineEncoder(d, {0, 1, 2, 3}, o, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  TrainSetup setup;
  setup.train = {0, 1};
  setup.test = {2, 3};
  std::string log;
  EXPECT_EQ(RunSessionEncoder(d, setup, o, &log).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(WantsModel(o, "encoder"));
  DetectOptions classical = o;
  classical.models = {"xgboost"};
  EXPECT_FALSE(WantsModel(classical, "encoder"));
}

}  // namespace
}  // namespace fedlog::offline
