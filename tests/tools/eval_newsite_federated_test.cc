// `fedlog eval newsite --federated` on tiny synthetic data (common/logparse/synth): a two-site
// federation of other source types, then an HDFS-format stream joins as the new site. Checks that the
// three encoders differ where they should (federated vs alone), that every arm is measured on the
// same labels, that only models with prototypes get a global-prototype row, the report's rows and
// verdict lines, and the flags.
#include "tools/offline/eval_newsite_federated.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "common/kinds/kind_signature.h"
#include "common/logparse/synth/synth.h"
#include "gtest/gtest.h"
#include "tools/cli/args.h"

namespace fedlog::offline {
namespace {

struct SynthText {
  std::vector<std::string> lines;
  std::vector<int> labels;
};

SynthText Synth(const std::string& format, int lines, uint64_t seed, double incident_rate) {
  logparse::synth::SynthOptions o;
  o.format = format;
  o.seed = seed;
  o.incident_rate = incident_rate;
  auto gen = logparse::synth::Generator::Create(o);
  EXPECT_TRUE(gen.ok()) << gen.status();
  SynthText out;
  logparse::synth::SynthLine line;
  for (int i = 0; i < lines; ++i) {
    (*gen)->Next(&line);
    out.lines.push_back(line.text);
    out.labels.push_back(line.anomalous ? 1 : 0);
  }
  return out;
}

std::vector<FederatedSite> TinyFederation(const NewsiteOptions& o) {
  std::vector<FederatedSite> sites;
  uint64_t seed = 21;
  for (const std::string format : {"OpenSSH", "Apache"}) {
    const SynthText t = Synth(format, 300, seed++, 0.05);
    const std::vector<std::string_view> views(t.lines.begin(), t.lines.end());
    RawSite raw;
    raw.name = "site-" + format;
    raw.sources = {format};
    auto set = FeaturizeSiteLines(format, format, views, t.labels);
    EXPECT_TRUE(set.ok()) << set.status();
    raw.lines = *std::move(set);
    auto site = SplitSite(raw, NewsiteFederationOptions(o), false, 0, seed);
    EXPECT_TRUE(site.ok()) << site.status();
    sites.push_back(*std::move(site));
  }
  return sites;
}

NewsiteStream TinyStream() {
  // An HDFS-format stream scored per line (the arm's line path; the source type is HDFS).
  const SynthText t = Synth("HDFS", 500, 5, 0.08);
  NewsiteStream s;
  s.system = "hdfs";
  s.unit = "line";
  s.format = "HDFS";
  for (size_t i = 0; i < t.lines.size(); ++i) {
    s.lines.push_back(t.lines[i]);
    s.units.push_back({static_cast<int32_t>(i)});
    s.y.push_back(t.labels[i]);
  }
  return s;
}

NewsiteOptions TinyOptions() {
  NewsiteOptions o;
  o.shots = {2};
  o.seeds = 2;
  o.federated.enabled = true;
  o.federated.rounds = 1;
  o.federated.contrastive_steps = 3;
  o.federated.meta_iterations = 2;
  o.federated.max_train_lines = 200;
  o.federated.novelty_memory = 50;
  return o;
}

// The kind-verdict tests' data: a BGL-20k stream of 300 lines (every ninth a KERNDTLB FATAL alert, the others
// INFO core dumps) and a BGL sibling of 200 lines of the same two kinds with other numbers, under `root`.
// BGL line i of a test stream (`salt` shifts its numbers): every ninth a KERNDTLB FATAL alert with message
// `alert_message`, the others INFO with `info_message`.
std::string BglTestLine(int i, int salt, const std::string& alert_message, const std::string& info_message) {
  const bool alert = i % 9 == 4;
  return absl::StrFormat("%s %d 2005.06.03 R%02d-M1-N0-C:J12-U11 2005-06-03-15.42.%02d.%06d R%02d-M1-N0 RAS KERNEL %s %s\n",
                         alert ? "KERNDTLB" : "-", 1117838570 + i + salt, i % 5, i % 60, i * 37 + salt, i % 5,
                         alert ? "FATAL" : "INFO", alert ? alert_message : info_message);
}

// root/bgl-20k and root/loghub-2k/BGL, empty.
void MakeBglDirs(const std::string& root) {
  std::filesystem::remove_all(root);
  ASSERT_TRUE(MakeDirs(root + "/loghub-2k/BGL").ok());
  ASSERT_TRUE(MakeDirs(root + "/bgl-20k").ok());
}

void WriteKindStreams(const std::string& root) {
  MakeBglDirs(root);
  const auto line = [](int i, int salt) {
    return BglTestLine(i, salt, absl::StrFormat("data TLB error interrupt at 0x%x", i * 7 + salt),
                       absl::StrFormat("generating core.%d", i + salt));
  };
  std::string stream, other;
  for (int i = 0; i < 300; ++i) stream += line(i, 0);
  for (int i = 0; i < 200; ++i) other += line(i, 500000);
  ASSERT_TRUE(WriteFileAtomic(root + "/bgl-20k/BGL_20k.log", stream).ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/loghub-2k/BGL/BGL_2k.log", other).ok());
}

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

// Sessions: the same stream grouped into blocks of 5 lines, a block anomalous when a line is.
NewsiteStream TinySessionStream() {
  NewsiteStream s = TinyStream();
  s.unit = "block";
  std::vector<int> y((s.lines.size() + 4) / 5, 0);
  for (size_t i = 0; i < s.lines.size(); ++i) {
    const int32_t block = static_cast<int32_t>(i / 5);
    y[static_cast<size_t>(block)] |= s.y[i];
    s.units[i] = {block};
  }
  s.y = y;
  return s;
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
// verbatim (tag and message) in the new site's file, with their labels; the HDFS sibling holds the
// other half of the blocks (the halves themselves: eval_newsite_test); hadoop has no sibling.
TEST(EvalNewsiteFederatedTest, BglSiblingLeavesOutTheNewSitesLines) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_sibling";
  ASSERT_NO_FATAL_FAILURE(MakeBglDirs(root));
  const auto line = [](int i, int salt) {
    return BglTestLine(i, salt, "data TLB error interrupt", absl::StrFormat("generating core.%d", i % 11));
  };
  std::string stream, other;
  for (int i = 0; i < 300; ++i) stream += line(i, 0);
  int copied = 0, copied_alerts = 0;
  for (int i = 0; i < 200; ++i) {
    const bool copy = i % 12 == 4;  // the stream's own line i, verbatim (every third of them an alert)
    other += line(i, copy ? 0 : 500000);
    copied += copy ? 1 : 0;
    copied_alerts += copy && i % 9 == 4 ? 1 : 0;
  }
  ASSERT_GT(copied_alerts, 0);
  ASSERT_TRUE(WriteFileAtomic(root + "/bgl-20k/BGL_20k.log", stream).ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/loghub-2k/BGL/BGL_2k.log", other).ok());
  NewsiteOptions o = TinyOptions();
  o.data_dir = root;
  const FederatedOptions fo = NewsiteFederationOptions(o);
  std::vector<std::string> notes;
  absl::StatusOr<FederatedSite> site = LoadNewsiteSibling("bgl", fo, 3, &notes);
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->name, "sibling-bgl");
  EXPECT_EQ(site->sources, (std::vector<std::string>{"BGL"}));
  EXPECT_EQ(site->train.size() + site->validation.lines.size() + site->test.lines.size(), 200 - copied);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find(absl::StrCat("leaving out ", copied, " lines (", copied_alerts, " alerts)")),
            std::string::npos)
      << notes[0];
  // bgl2k's sibling is BGL-20k less the lines of loghub-2k BGL: the same copies.
  notes.clear();
  site = LoadNewsiteSibling("bgl2k", fo, 3, &notes);
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->train.size() + site->validation.lines.size() + site->test.lines.size(), 300 - copied);
  EXPECT_FALSE(LoadNewsiteSibling("hadoop", fo, 3, &notes).ok());
  EXPECT_EQ(LoadNewsiteSibling("hdfs", fo, 3, &notes).status().code(), absl::StatusCode::kNotFound);

  // The same sibling as a stream (what it scores with the label-free detector): the same lines kept.
  absl::StatusOr<NewsiteStream> sib = LoadSiblingStream("bgl", root);
  ASSERT_TRUE(sib.ok()) << sib.status();
  EXPECT_EQ(sib->lines.size(), static_cast<size_t>(200 - copied));
  int64_t sibling_alerts = 0;
  for (int i = 0; i < 200; ++i) sibling_alerts += i % 9 == 4 && i % 12 != 4 ? 1 : 0;
  EXPECT_EQ(std::count(sib->y.begin(), sib->y.end(), 1), sibling_alerts);
  sib = LoadSiblingStream("bgl2k", root);
  ASSERT_TRUE(sib.ok()) << sib.status();
  EXPECT_EQ(sib->lines.size(), static_cast<size_t>(300 - copied));
  EXPECT_FALSE(LoadSiblingStream("hadoop", root).ok());

  // The federation's operating point rows: the sibling's point, three uses of it on the new site.
  absl::StatusOr<NewsiteStream> s = LoadNewsiteStream("bgl", root);
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<ScoredStream> sc = ScoreNewsiteStream(*s, o);
  ASSERT_TRUE(sc.ok()) << sc.status();
  const NewsiteSplit sp = MakeNewsiteSplit(*s, *sc, o.label_part);
  std::vector<KShotRow> rows;
  notes.clear();
  ASSERT_TRUE(OperatingPointRows(*s, sp, ProductK0Detector(*s, *sc), o, &rows, &notes).ok());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].method, "federated: label-free, federation's operating point (score)");
  EXPECT_EQ(rows[1].method, "federated: label-free, federation's operating point (rate)");
  EXPECT_EQ(rows[2].method, "federated: label-free, federation's operating point (prevalence)");
  bool named = false;
  for (const std::string& n : notes) {
    named = named || n.find(absl::StrCat("the sibling's ", 200 - copied, " scored lines, ", sibling_alerts,
                                         " anomalous")) != std::string::npos;
  }
  EXPECT_TRUE(named) << absl::StrJoin(notes, "\n");
}

// --fed-sibling, the federation's kind verdicts: the sibling's labelled lines summed per message kind
// (common/kinds), each new-site line judged by its own kind, whatever its numbers; the k = 0 row
// alerts the anomalous kind and silences the routine one, and a draw's row without labels is the
// same.
TEST(EvalNewsiteFederatedTest, KindVerdictsFromTheSibling) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_kinds";
  ASSERT_NO_FATAL_FAILURE(WriteKindStreams(root));
  NewsiteOptions o = TinyOptions();
  o.data_dir = root;
  absl::StatusOr<NewsiteStream> s = LoadNewsiteStream("bgl", root);
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<ScoredStream> sc = ScoreNewsiteStream(*s, o);
  ASSERT_TRUE(sc.ok()) << sc.status();
  const NewsiteSplit sp = MakeNewsiteSplit(*s, *sc, o.label_part);
  std::vector<std::string> notes;
  o.federated.kind_trust.silence_sites = 1;  // the one sibling is trusted to silence (the default needs 2 sites)
  o.federated.kind_trust.alarm_budget = 0;   // every anomalous verdict alerts (a third of this tiny stream)
  absl::StatusOr<FederationKinds> kinds = LoadFederationKinds(*s, sp, o, &notes);
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  ASSERT_EQ(kinds->verdict.size(), s->y.size());
  for (size_t u = 0; u < s->y.size(); ++u) EXPECT_EQ(kinds->verdict[u], s->y[u] > 0 ? 1 : -1) << u;
  const PriorBase base = ProductK0Detector(*s, *sc);
  std::vector<KShotRow> rows;
  ASSERT_TRUE(KindVerdictK0Row(sp, base, *kinds, &rows, &notes).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].method, "federated: label-free + federation's kind verdicts");
  EXPECT_DOUBLE_EQ(rows[0].f1, 1.0);
  EXPECT_DOUBLE_EQ(rows[0].normal_alert_rate, 0.0);
  absl::StatusOr<KShotRow> draw = KindVerdictDrawRow(*s, sp, sc->units, base, *kinds, {}, {}, o);
  ASSERT_TRUE(draw.ok()) << draw.status();
  EXPECT_DOUBLE_EQ(draw->f1, 1.0);
  bool named = false;
  for (const std::string& n : notes) {
    named = named || n.find("2 distinct kinds; siblings 1, liar none, capped, silence 1 / alarm 1 sites): 1 kinds "
                            "anomalous, 1 normal") != std::string::npos;
  }
  EXPECT_TRUE(named) << absl::StrJoin(notes, "\n");
  // --fed-kind-labels: a sibling that labelled 2 of its lines supports no verdict (3 needed).
  o.federated.kind_labels = 2;
  kinds = LoadFederationKinds(*s, sp, o, &notes);
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  EXPECT_EQ(std::count(kinds->verdict.begin(), kinds->verdict.end(), 0), static_cast<int64_t>(s->y.size()));
  const cli::ArgSpec spec = {{"fed-kind-labels"}, {"federated", "fed-sibling"}};
  auto args = cli::Args::Parse({"--federated", "--fed-kind-labels", "300"}, spec);
  ASSERT_TRUE(args.ok());
  NewsiteFederatedOptions f;
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok());  // needs --fed-sibling
  args = cli::Args::Parse({"--federated", "--fed-sibling", "--fed-kind-labels", "300"}, spec);
  ASSERT_TRUE(args.ok());
  ASSERT_TRUE(ParseNewsiteFederatedArgs(*args, &f).ok());
  EXPECT_EQ(f.kind_labels, 300);
  args = cli::Args::Parse({"--federated", "--fed-sibling", "--fed-kind-labels", "-1"}, spec);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok());
}

// Who the kind sketch comes from (--fed-kind-defence, --fed-siblings, --fed-liar): by default one sibling raises
// its anomalous kind but cannot silence the routine one; two siblings can. A liar that calls every line normal,
// ten times over, silences the incident kind when sketches are summed uncapped, and cannot with the defence.
TEST(EvalNewsiteFederatedTest, KindTrustSitesAndLiar) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_kind_trust";
  ASSERT_NO_FATAL_FAILURE(WriteKindStreams(root));
  NewsiteOptions o = TinyOptions();
  o.data_dir = root;
  absl::StatusOr<NewsiteStream> s = LoadNewsiteStream("bgl", root);
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<ScoredStream> sc = ScoreNewsiteStream(*s, o);
  ASSERT_TRUE(sc.ok()) << sc.status();
  const NewsiteSplit sp = MakeNewsiteSplit(*s, *sc, o.label_part);
  std::vector<std::string> notes;
  // expected(anomalous line, normal line) for every unit.
  const auto verdicts_are = [&](int anomalous, int normal) {
    absl::StatusOr<FederationKinds> k = LoadFederationKinds(*s, sp, o, &notes);
    EXPECT_TRUE(k.ok()) << k.status();
    if (!k.ok()) return false;
    for (size_t u = 0; u < s->y.size(); ++u) {
      if (k->verdict[u] != (s->y[u] > 0 ? anomalous : normal)) return false;
    }
    return true;
  };
  o.federated.kind_trust.alarm_budget = 0;  // session 18's rule (the alarm budget: below)
  EXPECT_TRUE(verdicts_are(1, 0));  // the defaults, one sibling
  o.federated.kind_trust.siblings = 2;
  EXPECT_TRUE(verdicts_are(1, -1));
  o.federated.kind_trust.siblings = 1;
  o.federated.kind_trust.liar = "silence";
  o.federated.kind_trust.defence = false;
  EXPECT_TRUE(verdicts_are(-1, -1));  // the attack, undefended: incidents silenced
  o.federated.kind_trust.defence = true;
  EXPECT_TRUE(verdicts_are(0, -1));  // defended: neutralised, not silenced
  o.federated.kind_trust.liar = "invert";
  EXPECT_TRUE(verdicts_are(0, 0));
  // A lone alarm liar: every line's kind anomalous; the alarm budget (kinds::AlarmBudget) lets at most its
  // share of max(units, 1000) through, the incident kind (the rarer) first.
  o.federated.kind_trust.liar = "alarm";
  o.federated.kind_trust.siblings = 0;
  EXPECT_TRUE(verdicts_are(1, 1));  // budget off: every line
  o.federated.kind_trust.alarm_budget = kinds::kDefaultAlarmBudget;
  {
    absl::StatusOr<FederationKinds> k = LoadFederationKinds(*s, sp, o, &notes);
    ASSERT_TRUE(k.ok()) << k.status();
    int64_t raised = 0, normal_raised = 0;
    for (size_t u = 0; u < s->y.size(); ++u) {
      raised += k->verdict[u] > 0 ? 1 : 0;
      normal_raised += k->verdict[u] > 0 && s->y[u] == 0 ? 1 : 0;
    }
    EXPECT_LE(raised, kinds::kDefaultAlarmBudget * 1000);
    EXPECT_GT(raised, 0);
    EXPECT_LT(normal_raised, raised);  // the rarer incident kind takes most of it
  }
  o.federated.kind_trust.siblings = 1;
  o.federated.kind_trust.liar = "invert";
  o.federated.kind_trust.alarm_budget = 0;
  // --fed-kind-trust-rows: one k = 0 row per fixed setting, after the product's row.
  o.federated.kind_trust.rows = true;
  absl::StatusOr<FederationKinds> k = LoadFederationKinds(*s, sp, o, &notes);
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_EQ(k->variants.size(), KindTrustVariants().size());
  std::vector<KShotRow> rows;
  ASSERT_TRUE(KindVerdictK0Row(sp, ProductK0Detector(*s, *sc), *k, &rows, &notes).ok());
  ASSERT_EQ(rows.size(), 1 + KindTrustVariants().size());
  EXPECT_EQ(rows[1].method, "kind trust: siblings 1, liar none, uncapped, 1 site");
  const cli::ArgSpec spec = {{"fed-liar", "fed-siblings", "fed-kind-defence"}, {"federated", "fed-sibling"}};
  NewsiteFederatedOptions f;
  auto args = cli::Args::Parse({"--federated", "--fed-liar", "invert"}, spec);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok());  // needs --fed-sibling
  for (std::vector<std::string> bad : {std::vector<std::string>{"--fed-liar", "lies"}, {"--fed-siblings", "3"},
                                       {"--fed-kind-defence", "maybe"}}) {
    bad.insert(bad.begin(), {"--federated", "--fed-sibling"});
    args = cli::Args::Parse(bad, spec);
    ASSERT_TRUE(args.ok());
    EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok()) << bad[2];
  }
}

// The eval's alarm budget over sessions, as the daemon applies it: an honest verdict on an incident kind that
// 120 of 4,000 sessions hold (3%, past the 0.02 share), 90 of them alerted by the site's own detector, keeps
// the 30 sessions the detector missed with the quiet mass (the default) and loses them with session 19's.
TEST(EvalNewsiteFederatedTest, AlarmBudgetKeepsAnIncidentSpanningManySessions) {
  const uint64_t routine = *kinds::KindSignature("block served to client");
  const uint64_t incident = *kinds::KindSignature("exception while writing block");
  kinds::KindSketch honest;
  honest.AddKind(incident, 4, 0);
  honest.AddKind(routine, 0, 8);
  std::vector<std::vector<uint64_t>> mine;
  std::vector<uint8_t> own_alert;
  std::vector<int8_t> verdict;
  std::vector<size_t> order;
  for (size_t n = 0; n < 4000; ++n) {
    const bool is_incident = n % 100 < 3;
    mine.push_back(is_incident ? std::vector<uint64_t>{routine, incident, routine} : std::vector<uint64_t>{routine});
    own_alert.push_back(is_incident && n % 100 != 2 ? 1 : 0);
    verdict.push_back(is_incident ? 1 : 0);
    order.push_back(n);
  }
  const kinds::KindVerdictOptions vo;
  std::vector<int8_t> quiet = verdict, all = verdict;
  EXPECT_EQ(ApplyAlarmBudget(mine, order, &own_alert, honest, vo, {kinds::kDefaultAlarmBudget, 0}, &quiet), 0);
  EXPECT_GT(ApplyAlarmBudget(mine, order, &own_alert, honest, vo,
                             {kinds::kDefaultAlarmBudget, 0, kinds::AlarmBudgetMass::kAll}, &all),
            15);
  // --fed-kind-alarm-mass sets the new site's mass; the budget rows come with both masses.
  const cli::ArgSpec spec = {{"fed-kind-alarm-mass"}, {"federated", "fed-sibling"}};
  NewsiteFederatedOptions f;
  auto args = cli::Args::Parse({"--federated", "--fed-sibling", "--fed-kind-alarm-mass", "all"}, spec);
  ASSERT_TRUE(args.ok());
  ASSERT_TRUE(ParseNewsiteFederatedArgs(*args, &f).ok());
  EXPECT_EQ(f.kind_trust.mass, kinds::AlarmBudgetMass::kAll);
  args = cli::Args::Parse({"--federated", "--fed-sibling", "--fed-kind-alarm-mass", "most"}, spec);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(ParseNewsiteFederatedArgs(*args, &f).ok());
  EXPECT_EQ(KindTrustVariants({0.02}).size(), KindTrustVariants().size() + 12);
}

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
