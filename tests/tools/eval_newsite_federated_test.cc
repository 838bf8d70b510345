// `fedlog eval newsite --federated` on tiny synthetic data (common/logparse/synth): a two-site
// federation of other source types, then an HDFS-format stream joins as the new site. Checks that the
// three encoders differ where they should (federated vs alone), that every arm is measured on the
// same labels, that only models with prototypes get a global-prototype row, the report's rows and
// verdict lines, and the flags.
#include "tools/offline/eval_newsite_federated.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tools/eval_newsite_federated_test_data.h"
#include "tools/cli/args.h"

namespace fedlog::offline {
namespace {

using newsite_test::TinyFederation;
using newsite_test::TinyOptions;
using newsite_test::TinySessionStream;
using newsite_test::TinyStream;

TEST(EvalNewsiteFederatedTest, ArmsShareLabelsAndDifferInWeights) {
  const NewsiteOptions o = TinyOptions();
  const std::vector<FederatedSite> sites = TinyFederation(o);
  const NewsiteStream stream = TinyStream();
  ASSERT_GT(std::count(stream.y.begin(), stream.y.end(), 1), 5);
  auto scored = ScoreNewsiteStream(stream, o);
  ASSERT_TRUE(scored.ok()) << scored.status();

  // The encoders: the federated one carries the federation's prototypes, the site alone has none,
  // and its embedding novelty differs from the federated encoder's.
  std::vector<std::string> notes;
  auto own = FeaturizeSiteLines("HDFS", "HDFS", std::vector<std::string_view>(stream.lines.begin(), stream.lines.end()),
                                {});
  ASSERT_TRUE(own.ok()) << own.status();
  own->labels.assign(static_cast<size_t>(own->size()), -1);
  auto enc = TrainNewsiteEncoders(sites, "HDFS", *own, o);
  ASSERT_TRUE(enc.ok()) << enc.status();
  EXPECT_NE(enc->federated.Find("prototypes.global"), nullptr);
  EXPECT_EQ(enc->alone.Find("prototypes.global"), nullptr);
  EXPECT_NE(enc->alone.Find("adapter.HDFS.down.weight"), nullptr);
  // Alone and federated start from different weights: their shared encoder differs.
  const fl::NamedTensor* fed_out = enc->federated.Find("out.weight");
  const fl::NamedTensor* alone_out = enc->alone.Find("out.weight");
  ASSERT_NE(fed_out, nullptr);
  ASSERT_NE(alone_out, nullptr);
  EXPECT_NE(fed_out->values, alone_out->values);

  auto arm = RunNewsiteFederatedArm(sites, stream, *scored, o, {"a note"});
  ASSERT_TRUE(arm.ok()) << arm.status();
  const std::string& md = arm->markdown;
  for (const char* want : {"- a note", "| federated: embedding novelty | - | 0",
                           "| alone: embedding novelty + label-free | - | 0",
                           "| federated: global prototypes + label-free | - | 0",
                           "| tuned: global prototypes | - | 0", "| federated: support detector | random | 2",
                           "| federated: global prototypes, model threshold | - | 0",
                           "| alone: support detector | random | 2", "| tuned: support detector | active | 2",
                           "| federated: fused support | random | 2", "| alone: fused support | active | 2",
                           "- k = 0, embedding novelty + label-free: ", "- k = 2 (random), support detector: ",
                           "- k = 2 (active), fused support: ", "alone: fused support match (cosine) ",
                           "| federated: hybrid support | random | 2", "| alone: hybrid support | active | 2",
                           "| tuned: embedding novelty + label-free, label-free count | - | 0",
                           "- k = 0, embedding novelty + label-free, label-free count: ",
                           "- k = 2 (random), hybrid support: ",
                           "| tuned: fused support, capped | random | 2", "- k = 2 (active), fused support, capped: ",
                           "| federated: prototype prior | - | 0", "| alone: prototype prior | - | 0",
                           "| alone: prototype prior | random | 2", "| federated: prototype prior | active | 2",
                           "- k = 0, prototype prior: ", "- k = 2 (random), prototype prior: ",
                           "federated: prototype prior at k = 0 from prototypes.global",
                           "alone: prototype prior at k = 0 none (no prototype)",
                           "| alone: fewshot + encoder | random | 2", "| federated: fewshot + encoder | active | 2",
                           "- k = 2 (random), fewshot + encoder: ",
                           "| label-free (product) | - | 0", "| label-free (product) | random | 2",
                           "| federated: choice | - | 0", "| alone: choice | active | 2", "- k = 2 (random), choice: ",
                           "federated: choice (margin 0.2) gave the model 0 of "}) {
    EXPECT_NE(md.find(want), std::string::npos) << want << "\n" << md;
  }
  EXPECT_EQ(md.find("alone: global prototypes"), std::string::npos) << md;

  // Every encoder at a given k and strategy used the same number of labels (the same draws).
  std::map<std::string, std::string> labels_by_cell;
  size_t pos = 0;
  int support_rows = 0;
  while ((pos = md.find(": support detector | ", pos)) != std::string::npos) {
    const size_t end = md.find('\n', pos);
    const std::string rest = md.substr(pos, end - pos);  // "| strategy | k | labels | ..."
    std::vector<std::string> cells;
    size_t a = rest.find('|');
    while (a != std::string::npos && cells.size() < 4) {
      const size_t b = rest.find('|', a + 1);
      cells.push_back(rest.substr(a + 1, b - a - 1));
      a = b;
    }
    ASSERT_GE(cells.size(), 3u);
    const std::string cell = cells[0] + cells[1];
    if (labels_by_cell.count(cell)) {
      EXPECT_EQ(labels_by_cell[cell], cells[2]) << cell;
    }
    labels_by_cell[cell] = cells[2];
    ++support_rows;
    pos = end;
  }
  EXPECT_EQ(support_rows, 6);  // 3 encoders x (random, active)
  EXPECT_NE(arm->json.find("\"method\": \"alone: support detector\""), std::string::npos);
}


TEST(EvalNewsiteFederatedTest, SessionsGetBlockRowsAndVerdicts) {
  const NewsiteOptions o = TinyOptions();
  const NewsiteStream stream = TinySessionStream();
  ASSERT_GT(std::count(stream.y.begin(), stream.y.end(), 1), 5);
  ASSERT_GT(std::count(stream.y.begin(), stream.y.end(), 0), 5);
  auto scored = ScoreNewsiteStream(stream, o);
  ASSERT_TRUE(scored.ok()) << scored.status();
  auto arm = RunNewsiteFederatedArm(TinyFederation(o), stream, *scored, o);
  ASSERT_TRUE(arm.ok()) << arm.status();
  for (const char* want : {"alert rate, normal blocks", "| federated: support detector | random | 2 | 4 |",
                           "| alone: support detector | random | 2 | 4 |", "| tuned: fused support | random | 2 | 4 |",
                           "- k = 2 (random), fused support: "}) {
    EXPECT_NE(arm->markdown.find(want), std::string::npos) << want << "\n" << arm->markdown;
  }
}

// The hybrid support detector's cut: as many of the pool's unlabelled units alert as the Jaccard
// 1-NN (the same support, tokens only) alerts there; labelled and test units do not count.
TEST(EvalNewsiteFederatedTest, HybridSupportCutsAtTheJaccardPoolCount) {
  FusedUnits units;
  units.dim = 2;
  // Units 0-1 labelled (normal {1,2} at 0 degrees, anomalous {7,8} at 90); 2-7 the unlabelled pool;
  // 8-9 test units, which never move the cut.
  const std::vector<std::pair<double, std::vector<int64_t>>> rows = {
      {0, {1, 2}},  {90, {7, 8}}, {10, {1, 2, 3}}, {80, {7, 8, 9}}, {85, {7, 3}},
      {45, {4, 5}}, {50, {6}},    {30, {1, 9}},    {88, {7, 8}},    {89, {7, 8, 9}}};
  for (const auto& [deg, tokens] : rows) {
    units.z.push_back(static_cast<float>(std::cos(deg * M_PI / 180)));
    units.z.push_back(static_cast<float>(std::sin(deg * M_PI / 180)));
    units.tokens.push_back(tokens);
  }
  NewsiteSplit sp;
  sp.pool = {0, 1, 2, 3, 4, 5, 6, 7};
  sp.test = {8, 9};
  sp.test_y = {1, 1};
  double threshold = 0, weight = -1;
  auto score = HybridSupportScores(units, sp, {0, 1}, {0, 1}, &threshold, &weight);
  ASSERT_TRUE(score.ok()) << score.status();
  ASSERT_EQ(score->size(), rows.size());
  EXPECT_GE(weight, 0.0);
  EXPECT_LE(weight, 1.0);
  // Jaccard 1-NN on the unlabelled pool: units 3 ({7,8,9}: 2/3 against 0) and 4 ({7,3}: 1/3
  // against 0) alert; 2 and 7 are nearer the normal line; 5 and 6 share no token (a tie at 0,
  // normal). The two test units would alert too: counted, they would make it four.
  int alerted = 0;
  for (size_t u = 2; u < 8; ++u) alerted += (*score)[u] >= threshold;
  EXPECT_EQ(alerted, 2);
  EXPECT_GE((*score)[3], threshold);  // the hybrid's two highest pool units
  EXPECT_GE((*score)[4], threshold);
  EXPECT_GE((*score)[8], threshold);
}

TEST(EvalNewsiteFederatedTest, UndecidedCapLeavesOutTheUnitsLabelsDecide) {
  // Pool 0-7: three repeats of a labelled anomaly (2 + similarity), one unit matched to a normal
  // label, four undecided units (label-free scores); the label-free detector alerted on 3 pool units.
  // Unit 8 is a test unit and never counts.
  ScoredStream sc;
  const std::vector<double> fused = {2.9, 2.95, 2.9, -1.9, 0.8, 0.6, 0.3, 0.1, 0.7};
  const std::vector<bool> free_alert = {true, false, false, false, true, true, false, false, true};
  for (size_t u = 0; u < fused.size(); ++u) {
    fewshot::Unit unit;
    unit.free_alert = free_alert[u];
    sc.units.push_back(unit);
  }
  NewsiteSplit sp;
  sp.pool = {0, 1, 2, 3, 4, 5, 6, 7};
  sp.test = {8};
  sp.test_y = {1};
  // Counting every pool unit, the three repeats take the whole count: the cut lies above 0.8.
  EXPECT_GT(LabelFreeCountCut(sp, sc, fused), 0.8);
  // Among the undecided units (4-7) the label-free detector alerted twice (4, 5): the cut alerts
  // exactly those two, so the test unit at 0.7 alerts too, and the repeats stay above the cut.
  const double cut = UndecidedCountCut(sp, sc, fused);
  EXPECT_LE(cut, 0.6);
  EXPECT_GT(cut, 0.3);
  // Every pool unit decided by a label: the cut is 2, under every matched anomaly.
  NewsiteSplit decided;
  decided.pool = {0, 1, 2, 3};
  EXPECT_EQ(UndecidedCountCut(decided, sc, fused), 2.0);
}

// The product's k = 0 detector under the prototype prior: session units take the session detector's
// score and alert, lines the label-free ones; stream order is by first line; the rate-matched alerts
// land on the units they belong to.
TEST(EvalNewsiteFederatedTest, PriorBaseIsTheProductDetectorInStreamOrder) {
  NewsiteStream s;
  s.unit = "block";
  ScoredStream sc;
  sc.units.resize(3);
  for (size_t u = 0; u < 3; ++u) {
    sc.units[u].free_score = 0.1 * static_cast<double>(u);
    sc.units[u].free_alert = u == 0;
  }
  sc.unit_first_line = {20, 10, -1};
  sc.unit_session_score = {0.9, 0.2, -1};
  sc.unit_session_alert = {1, 0, 0};
  PriorBase b = ProductK0Detector(s, sc);
  EXPECT_EQ(b.score, (std::vector<double>{0.9, 0.2, -1}));
  EXPECT_EQ(b.alert, (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_EQ(b.order, (std::vector<size_t>{1, 0, 2}));
  s.unit = "line";
  b = ProductK0Detector(s, sc);
  EXPECT_EQ(b.score, (std::vector<double>{0.0, 0.1, 0.2}));
  EXPECT_EQ(b.alert, (std::vector<uint8_t>{1, 0, 0}));
  // In stream order 1, 0, 2 the label-free detector alerted on unit 0 only: unit 2 (after it)
  // alerts when its fused score reaches the top one of those before it.
  auto a = StreamRateMatchedAlerts(b, {0.5, 0.4, 0.6});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, (std::vector<uint8_t>{0, 0, 1}));
  a = StreamRateMatchedAlerts(b, {0.5, 0.4, 0.45});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<uint8_t>{0, 0, 0}));
}

// PriorUnitScores: without prototypes.global (the site alone at k = 0) the fused score is the base
// detector's rank among the pool; with them (the federated arm) the prototypes reorder it; the
// site alone gets a prototype once its labels hold both classes.
TEST(EvalNewsiteFederatedTest, PriorScoresUseWhatEachArmHas) {
  model::EncoderSpec spec;
  spec.out_dim = 2;
  fl::TensorBundle alone, federated;
  federated.tensors.push_back({"prototypes.global", {2, 2}, {1, 0, 0, 1}});  // normal (1, 0), anomalous (0, 1)
  ArmModel m;
  // Four one-line units: unit 0 and 2 point at the anomalous prototype, 1 and 3 at the normal one.
  m.embeddings = {0, 1, 1, 0, 0, 1, 1, 0};
  NewsiteLines site;
  site.unit_lines = {{0}, {1}, {2}, {3}};
  site.templates = {0, 1, 2, 3};
  PriorBase base;
  base.score = {0.1, 0.4, 0.2, 0.3};
  base.alert = {0, 1, 0, 0};
  base.order = {0, 1, 2, 3};
  NewsiteSplit sp;
  sp.pool = {0, 1, 2, 3};
  NewsiteOptions o;
  o.federated.prior_weights = {0.75};
  m.weights = &alone;
  auto p = PriorUnitScores(m, spec, site, base, sp, {}, {}, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->has_prior);
  EXPECT_EQ(p->fused[0], (std::vector<double>{0.125, 0.875, 0.375, 0.625}));  // Q(base)
  m.weights = &federated;
  p = PriorUnitScores(m, spec, site, base, sp, {}, {}, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->has_prior);
  EXPECT_GT(p->fused[0][2], p->fused[0][1]);  // the prototypes lift unit 2 over unit 1
  m.weights = &alone;
  p = PriorUnitScores(m, spec, site, base, sp, {0, 1}, {1, 0}, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->has_prior);
  EXPECT_EQ(p->alert.size(), 1u);
  EXPECT_EQ(p->alert[0].size(), 4u);
}

// The units of the "fewshot + encoder" rows: lines take the label-free raw score squashed as live
// detection does and the label-free alert, and carry their own embedding (unit-norm); a session takes its lines' mean direction and the session
// detector's score as its rank among the pool units.
TEST(EvalNewsiteFederatedTest, EncoderUnitsCarryTheArmsEmbeddings) {
  NewsiteStream s;
  s.unit = "line";
  ScoredStream sc;
  sc.units.resize(4);
  for (size_t u = 0; u < 4; ++u) {
    sc.units[u].free_score = 0.1 * static_cast<double>(u + 1);
    sc.units[u].signals = {static_cast<double>(u + 1)};  // the raw fused score
    sc.units[u].free_alert = u == 3;
  }
  sc.unit_first_line = {0, 1, 2, 3};
  ArmModel m;
  m.embeddings = {0, 2, 3, 0, 0, 1, 1, 0};  // four lines, dim 2
  NewsiteLines site;
  site.unit_lines = {{0}, {1}, {2}, {3}};
  NewsiteSplit sp;
  sp.pool = {0, 1, 2, 3};
  std::vector<fewshot::Unit> units = EncoderUnits(m, 2, s, sc, site, sp, ProductK0Detector(s, sc));
  ASSERT_EQ(units.size(), 4u);
  EXPECT_EQ(units[0].embedding, (std::vector<float>{0, 1}));
  EXPECT_EQ(units[1].embedding, (std::vector<float>{1, 0}));
  EXPECT_DOUBLE_EQ(units[2].free_score, 0.75);  // raw 3 squashed as live does: 3 / (1 + 3)
  EXPECT_TRUE(units[3].free_alert);
  s.unit = "block";
  sc.unit_session_score = {0.9, 5, 2, 1};
  sc.unit_session_alert = {0, 1, 0, 0};
  site.unit_lines = {{0, 1}, {1}, {2}, {3}};
  units = EncoderUnits(m, 2, s, sc, site, sp, ProductK0Detector(s, sc));
  EXPECT_NEAR(units[0].embedding[0], std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(units[0].embedding[1], std::sqrt(0.5), 1e-6);
  EXPECT_DOUBLE_EQ(units[1].free_score, 0.875);  // the largest of four pool scores
  EXPECT_TRUE(units[1].free_alert);
  EXPECT_FALSE(units[3].free_alert);
}

// --fed-sibling, BGL: the sibling site holds the other BGL file's lines less those that occur
TEST(EvalNewsiteFederatedTest, FlagsAndSourceTypes) {
  EXPECT_EQ(*NewsiteSourceType("bgl"), "BGL");
  EXPECT_EQ(*NewsiteSourceType("hdfs"), "HDFS");
  EXPECT_FALSE(NewsiteSourceType("mystery").ok());
  auto args = cli::Args::Parse({"--federated", "--fed-systems", "bgl,nope"},
                               {{"fed-systems", "fed-rounds", "fed-steps", "fed-meta", "fed-max-lines", "threads"},
                                {"federated"}});
  ASSERT_TRUE(args.ok()) << args.status();
  NewsiteFederatedOptions f;
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok());
  args = cli::Args::Parse({"--federated", "--fed-systems", "hdfs", "--fed-rounds", "2"},
                          {{"fed-systems", "fed-rounds", "fed-steps", "fed-meta", "fed-max-lines", "threads"},
                           {"federated"}});
  ASSERT_TRUE(args.ok());
  ASSERT_TRUE(ParseNewsiteFederatedArgs(*args, &f).ok());
  EXPECT_TRUE(WantsFederatedArm(f, "hdfs"));
  EXPECT_FALSE(WantsFederatedArm(f, "bgl"));
  EXPECT_EQ(f.rounds, 2);
  EXPECT_EQ(f.seed, 0u);
  EXPECT_EQ(f.match_quantiles.size(), 1u);
  const cli::ArgSpec spec = {{"fed-systems", "fed-seed", "fed-match-quantile"}, {"federated"}};
  args = cli::Args::Parse(
      {"--federated", "--fed-systems", "bgl2k", "--fed-seed", "3", "--fed-match-quantile", "0.1,0.5"}, spec);
  ASSERT_TRUE(args.ok()) << args.status();
  ASSERT_TRUE(ParseNewsiteFederatedArgs(*args, &f).ok());
  EXPECT_TRUE(WantsFederatedArm(f, "bgl2k"));
  EXPECT_EQ(f.seed, 3u);
  EXPECT_EQ(f.match_quantiles, (std::vector<double>{0.1, 0.5}));
  args = cli::Args::Parse({"--federated", "--fed-match-quantile", "1.5"}, spec);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok());
  EXPECT_EQ(f.choice_compare, fewshot::ChoiceOptions().compare);
  const cli::ArgSpec compare = {{"choice-compare"}, {"federated"}};
  args = cli::Args::Parse({"--federated", "--choice-compare", "lines"}, compare);
  ASSERT_TRUE(args.ok());
  ASSERT_TRUE(ParseNewsiteFederatedArgs(*args, &f).ok());
  EXPECT_EQ(f.choice_compare, fewshot::CompareUnits::kLines);
  args = cli::Args::Parse({"--federated", "--choice-compare", "sessions"}, compare);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok());
  const cli::ArgSpec prior_spec = {{"fed-prior-weight"}, {"federated"}};
  NewsiteFederatedOptions g;
  EXPECT_EQ(g.prior_weights.size(), 1u);
  args = cli::Args::Parse({"--federated", "--fed-prior-weight", "0.25,0,1"}, prior_spec);
  ASSERT_TRUE(args.ok());
  ASSERT_TRUE(ParseNewsiteFederatedArgs(*args, &g).ok());
  EXPECT_EQ(g.prior_weights, (std::vector<double>{0.25, 0, 1}));
  args = cli::Args::Parse({"--federated", "--fed-prior-weight", "2"}, prior_spec);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &g).ok());
  const cli::ArgSpec encoder_spec = {{"encoder-weight"}, {"federated"}};
  NewsiteFederatedOptions e;
  EXPECT_EQ(e.encoder_weights, (std::vector<double>{0.05}));
  args = cli::Args::Parse({"--federated", "--encoder-weight", "0.2,0"}, encoder_spec);
  ASSERT_TRUE(args.ok());
  ASSERT_TRUE(ParseNewsiteFederatedArgs(*args, &e).ok());
  EXPECT_EQ(e.encoder_weights, (std::vector<double>{0.2, 0}));
  args = cli::Args::Parse({"--federated", "--encoder-weight", "1.5"}, encoder_spec);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &e).ok());
  // The torch-free verb refuses --federated when it was given no arm.
  EXPECT_EQ(RunEvalNewsite({"--out", ::testing::TempDir() + "/nf", "--federated"}), 2);
}

}  // namespace
}  // namespace fedlog::offline
