// `fedlog eval newsite --federated` with a sibling site of the new site's own system: the sibling's lines
// (the new site's own left out), the federation's message-kind verdicts, the trust rules against a lying
// site, and the alarm budget (tiny BGL files from eval_newsite_federated_test_data.h).
#include "tools/offline/eval_newsite_federated.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "common/kinds/kind_signature.h"
#include "gtest/gtest.h"
#include "tests/tools/eval_newsite_federated_test_data.h"
#include "tools/cli/args.h"

namespace fedlog::offline {
namespace {

using newsite_test::BglTestLine;
using newsite_test::MakeBglDirs;
using newsite_test::TinyOptions;
using newsite_test::WriteKindStreams;

// The tiny BGL stream under `root` loaded, scored and split as the eval does.
struct LoadedBgl {
  NewsiteStream s;
  ScoredStream sc;
  NewsiteSplit sp;
};

void LoadScoredBgl(const std::string& root, const NewsiteOptions& o, LoadedBgl* out) {
  absl::StatusOr<NewsiteStream> s = LoadNewsiteStream("bgl", root);
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<ScoredStream> sc = ScoreNewsiteStream(*s, o);
  ASSERT_TRUE(sc.ok()) << sc.status();
  out->s = *std::move(s);
  out->sc = *std::move(sc);
  out->sp = MakeNewsiteSplit(out->s, out->sc, o.label_part);
}

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
  LoadedBgl d;
  ASSERT_NO_FATAL_FAILURE(LoadScoredBgl(root, o, &d));
  std::vector<KShotRow> rows;
  notes.clear();
  ASSERT_TRUE(OperatingPointRows(d.s, d.sp, ProductK0Detector(d.s, d.sc), o, &rows, &notes).ok());
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
  LoadedBgl d;
  ASSERT_NO_FATAL_FAILURE(LoadScoredBgl(root, o, &d));
  std::vector<std::string> notes;
  o.federated.kind_trust.silence_sites = 1;  // the one sibling is trusted to silence (the default needs 2 sites)
  o.federated.kind_trust.alarm_budget = 0;   // every anomalous verdict alerts (a third of this tiny stream)
  absl::StatusOr<FederationKinds> kinds = LoadFederationKinds(d.s, d.sp, o, &notes);
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  ASSERT_EQ(kinds->verdict.size(), d.s.y.size());
  for (size_t u = 0; u < d.s.y.size(); ++u) EXPECT_EQ(kinds->verdict[u], d.s.y[u] > 0 ? 1 : -1) << u;
  const PriorBase base = ProductK0Detector(d.s, d.sc);
  std::vector<KShotRow> rows;
  ASSERT_TRUE(KindVerdictK0Row(d.sp, base, *kinds, &rows, &notes).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].method, "federated: label-free + federation's kind verdicts");
  EXPECT_DOUBLE_EQ(rows[0].f1, 1.0);
  EXPECT_DOUBLE_EQ(rows[0].normal_alert_rate, 0.0);
  absl::StatusOr<KShotRow> draw = KindVerdictDrawRow(d.s, d.sp, d.sc.units, base, *kinds, {}, {}, o);
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
  kinds = LoadFederationKinds(d.s, d.sp, o, &notes);
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  EXPECT_EQ(std::count(kinds->verdict.begin(), kinds->verdict.end(), 0), static_cast<int64_t>(d.s.y.size()));
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
  LoadedBgl d;
  ASSERT_NO_FATAL_FAILURE(LoadScoredBgl(root, o, &d));
  std::vector<std::string> notes;
  // expected(anomalous line, normal line) for every unit.
  const auto verdicts_are = [&](int anomalous, int normal) {
    absl::StatusOr<FederationKinds> k = LoadFederationKinds(d.s, d.sp, o, &notes);
    EXPECT_TRUE(k.ok()) << k.status();
    if (!k.ok()) return false;
    for (size_t u = 0; u < d.s.y.size(); ++u) {
      if (k->verdict[u] != (d.s.y[u] > 0 ? anomalous : normal)) return false;
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
    absl::StatusOr<FederationKinds> k = LoadFederationKinds(d.s, d.sp, o, &notes);
    ASSERT_TRUE(k.ok()) << k.status();
    int64_t raised = 0, normal_raised = 0;
    for (size_t u = 0; u < d.s.y.size(); ++u) {
      raised += k->verdict[u] > 0 ? 1 : 0;
      normal_raised += k->verdict[u] > 0 && d.s.y[u] == 0 ? 1 : 0;
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
  absl::StatusOr<FederationKinds> k = LoadFederationKinds(d.s, d.sp, o, &notes);
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_EQ(k->variants.size(), KindTrustVariants().size());
  std::vector<KShotRow> rows;
  ASSERT_TRUE(KindVerdictK0Row(d.sp, ProductK0Detector(d.s, d.sc), *k, &rows, &notes).ok());
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

}  // namespace
}  // namespace fedlog::offline
