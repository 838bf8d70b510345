// The federation's kind verdicts rows of `fedlog eval newsite --federated --fed-sibling`
// (eval_newsite_federated.h, LoadFederationKinds): the sibling site, which labels the new site's
// source type, counts its labelled units per message kind (common/kinds: KindSignature on each
// line's content, KindSketch::AddUnit per unit) as its daemon would; the federation's sketch is
// that sum (all of the sibling's labelled units, or a seeded draw of --fed-kind-labels of them), as one
// or two sites, beside a lying site or not, capped as the daemon caps them or not
// (eval_newsite_federated_trust.cc, --fed-kind-defence and the flags beside it).
// The new site, which has no labels, gives each unit kinds::UnitVerdict on its own lines' kinds and
// applies it on top of its label-free detector; its own labels take precedence where they decide a
// unit. The alone arm has no sibling, so its rows are "label-free (product)".
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/logparse/line_parser.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// Per unit of `s`, the kinds of its lines (duplicates kept; KindSketch and UnitVerdict dedupe).
absl::StatusOr<std::vector<std::vector<uint64_t>>> UnitKinds(const NewsiteStream& s) {
  FEDLOG_ASSIGN_OR_RETURN(auto parser, logparse::CreateLineParser(s.format));
  std::vector<std::vector<uint64_t>> out(s.y.size());
  logparse::ParsedLine parsed;
  for (size_t i = 0; i < s.lines.size() && i < s.units.size(); ++i) {
    parser->Parse(logparse::StripCr(s.lines[i]), &parsed);
    const std::optional<uint64_t> kind = kinds::KindSignature(parsed.content);
    if (!kind.has_value()) continue;
    for (int32_t u : s.units[i]) {
      if (u >= 0 && static_cast<size_t>(u) < out.size()) out[static_cast<size_t>(u)].push_back(*kind);
    }
  }
  return out;
}

// A score that orders anomalous verdicts above every other unit and normal ones below, keeping the
// base order within each (for AUROC; the decision is the alert).
std::vector<double> VerdictScores(const std::vector<double>& score, const std::vector<int8_t>& verdict,
                                  const std::vector<uint8_t>* decided) {
  double r = 1;
  for (double v : score) {
    if (std::isfinite(v)) r = std::max(r, std::abs(v));
  }
  std::vector<double> out = score;
  for (size_t u = 0; u < out.size(); ++u) {
    if (decided != nullptr && (*decided)[u]) continue;
    out[u] += verdict[u] > 0 ? 3 * r : verdict[u] < 0 ? -3 * r : 0;
  }
  return out;
}

// The verdicts' agreement with the test labels, for diagnosis only (no detector uses it).
std::string VerdictNote(const NewsiteSplit& sp, const std::vector<int8_t>& verdict, const std::string& unit) {
  int64_t n[2][3] = {{0, 0, 0}, {0, 0, 0}};  // [label][verdict + 1]
  for (size_t i = 0; i < sp.test.size(); ++i) ++n[sp.test_y[i] > 0 ? 1 : 0][verdict[sp.test[i]] + 1];
  return absl::StrFormat(
      "kind verdicts on the test %ss (diagnosis, test labels): anomalous verdict on %lld anomalous and %lld "
      "normal units; normal verdict on %lld anomalous and %lld normal; none on %lld anomalous and %lld normal",
      unit, static_cast<long long>(n[1][2]), static_cast<long long>(n[0][2]), static_cast<long long>(n[1][0]),
      static_cast<long long>(n[0][0]), static_cast<long long>(n[1][1]), static_cast<long long>(n[0][1]));
}

}  // namespace

namespace {

// Per unit of the new site, its verdict from `sketch` (lines may be silenced, sessions not).
std::vector<int8_t> UnitVerdicts(const std::vector<std::vector<uint64_t>>& mine, const kinds::KindSketch& sketch,
                                 bool silence, const kinds::KindVerdictOptions& vo) {
  std::vector<int8_t> out(mine.size());
  for (size_t u = 0; u < mine.size(); ++u) {
    out[u] = static_cast<int8_t>(kinds::UnitVerdict(sketch, mine[u], silence, vo));
  }
  return out;
}

// The k = 0 row of `verdict` on top of the product's k = 0 detector.
absl::StatusOr<KShotRow> K0Row(const NewsiteSplit& sp, const PriorBase& base, const std::vector<int8_t>& verdict,
                               const std::string& method) {
  std::vector<uint8_t> alert = base.alert;
  for (size_t u = 0; u < alert.size(); ++u) {
    if (verdict[u] != 0) alert[u] = verdict[u] > 0 ? 1 : 0;
  }
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureTestUnits(sp, VerdictScores(base.score, verdict, nullptr), alert));
  row.method = method;
  row.strategy = std::string(1, '-');  // (operator=(const char*) trips GCC 12 -Wrestrict)
  row.runs = 1;
  return row;
}

}  // namespace

absl::StatusOr<FederationKinds> LoadFederationKinds(const NewsiteStream& s, const NewsiteSplit& sp,
                                                    const NewsiteOptions& o, std::vector<std::string>* notes,
                                                    const std::vector<uint8_t>* own_alert) {
  FEDLOG_ASSIGN_OR_RETURN(NewsiteStream sib, LoadSiblingStream(s.system, o.data_dir));
  FEDLOG_ASSIGN_OR_RETURN(const std::vector<std::vector<uint64_t>> sib_kinds, UnitKinds(sib));
  // Which of the sibling's units it labelled: all, or a seeded random draw of --fed-kind-labels.
  std::vector<size_t> labelled(sib_kinds.size());
  std::iota(labelled.begin(), labelled.end(), size_t{0});
  const size_t wanted = static_cast<size_t>(o.federated.kind_labels);
  if (wanted > 0 && wanted < labelled.size()) {
    std::mt19937_64 rng(o.seed);  // an evaluation draw, not a key, mask or noise
    std::shuffle(labelled.begin(), labelled.end(), rng);
    labelled.resize(wanted);
  }
  const NewsiteFederatedOptions::KindTrust& trust = o.federated.kind_trust;
  const kinds::KindVerdictOptions vo = TrustVerdictOptions(trust);
  FEDLOG_RETURN_IF_ERROR(vo.Validate());
  const KindSites sites = TallyKindSites(sib_kinds, sib.y, labelled, trust.siblings, trust.liar);
  const kinds::KindSketch sketch = FederationSketch(sites, trust.defence);
  FEDLOG_ASSIGN_OR_RETURN(const std::vector<std::vector<uint64_t>> mine, UnitKinds(s));
  FederationKinds out;
  const bool silence = s.unit == "line";
  out.verdict = UnitVerdicts(mine, sketch, silence, vo);
  const std::vector<size_t> order = ClosingOrder(s);
  const int64_t withheld = ApplyAlarmBudget(mine, order, own_alert, sketch, vo, TrustBudgetOptions(trust), &out.verdict);
  // The sibling's kinds, for the notes: how many distinct kinds and how many got each verdict.
  std::vector<uint64_t> distinct;
  for (size_t u : labelled) distinct.insert(distinct.end(), sib_kinds[u].begin(), sib_kinds[u].end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  int64_t anomalous = 0, normal = 0;
  for (uint64_t k : distinct) {
    const kinds::KindVerdict v = sketch.VerdictOf(k, vo);
    anomalous += v == kinds::KindVerdict::kAnomalous ? 1 : 0;
    normal += v == kinds::KindVerdict::kNormal ? 1 : 0;
  }
  for (const std::string& n : sib.notes) notes->push_back(absl::StrCat("kind verdicts, sibling: ", n));
  notes->push_back(absl::StrFormat(
      "the federation's kind sketch (the sibling's %zu labelled %ss, %zu distinct kinds; %s): %lld kinds anomalous, "
      "%lld normal (min support %g, purity %g); %s",
      labelled.size(), sib.unit, distinct.size(), KindTrustName(trust), static_cast<long long>(anomalous),
      static_cast<long long>(normal), vo.min_support, vo.purity,
      silence ? "normal verdicts silence lines" : "sessions are never silenced"));
  notes->push_back(absl::StrFormat("the alarm budget (share %g, exempt sites %d, %s mass) withheld %lld anomalous "
                                   "verdicts of the new site's %zu units", trust.alarm_budget, trust.exempt_sites,
                                   kinds::AlarmBudgetMassName(trust.mass),
                                   static_cast<long long>(withheld), mine.size()));
  notes->push_back(VerdictNote(sp, out.verdict, s.unit));
  if (trust.rows) {
    for (const NewsiteFederatedOptions::KindTrust& t : KindTrustVariants(trust.budget_rows)) {
      const KindSites v_sites = TallyKindSites(sib_kinds, sib.y, labelled, t.siblings, t.liar);
      const kinds::KindSketch v_sketch = FederationSketch(v_sites, t.defence);
      const kinds::KindVerdictOptions v_vo = TrustVerdictOptions(t);
      std::vector<int8_t> v = UnitVerdicts(mine, v_sketch, silence, v_vo);
      ApplyAlarmBudget(mine, order, own_alert, v_sketch, v_vo, TrustBudgetOptions(t), &v);
      notes->push_back(absl::StrCat("kind trust [", KindTrustName(t), "]: ", VerdictNote(sp, v, s.unit)));
      out.variants.emplace_back(KindTrustName(t), std::move(v));
    }
  }
  return out;
}

absl::Status KindVerdictK0Row(const NewsiteSplit& sp, const PriorBase& base, const FederationKinds& kinds,
                              std::vector<KShotRow>* rows, std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, K0Row(sp, base, kinds.verdict, absl::StrCat("federated: ", kKindVerdicts)));
  FEDLOG_ASSIGN_OR_RETURN(const KShotRow product, MeasureTestUnits(sp, base.score, base.alert));
  notes->push_back(absl::StrFormat("k = 0, %s: F1 %.3f against %s %.3f (normal-unit alert rate %.4f against %.4f)",
                                   kKindVerdicts, row.f1, kLabelFreeProduct, product.f1, row.normal_alert_rate,
                                   product.normal_alert_rate));
  rows->push_back(row);
  for (const auto& [name, verdict] : kinds.variants) {
    FEDLOG_ASSIGN_OR_RETURN(KShotRow v, K0Row(sp, base, verdict, absl::StrCat("kind trust: ", name)));
    rows->push_back(v);
  }
  return absl::OkStatus();
}

absl::StatusOr<KShotRow> KindVerdictDrawRow(const NewsiteStream& s, const NewsiteSplit& sp,
                                            const std::vector<fewshot::Unit>& units, const PriorBase& base,
                                            const FederationKinds& kinds, const std::vector<size_t>& labelled,
                                            const std::vector<int>& y, const NewsiteOptions& o) {
  std::vector<fewshot::Unit> support;
  for (size_t u : labelled) support.push_back(units[u]);
  fewshot::FewShotOptions fo = KShotFewShotOptions(s, o);
  fo.encoder_weight = 0;  // the label-free (product) rule
  std::vector<double> score(units.size(), 0.0);
  std::vector<int> alert(units.size(), 0);
  std::vector<uint8_t> decided(units.size(), 0);
  FEDLOG_RETURN_IF_ERROR(ReplayLive(units, base.order, support, y, fo, &score, &alert, &decided));
  for (size_t u = 0; u < units.size(); ++u) {
    if (!decided[u] && kinds.verdict[u] != 0) alert[u] = kinds.verdict[u] > 0 ? 1 : 0;
  }
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureTestUnits(sp, VerdictScores(score, kinds.verdict, &decided), alert));
  row.method = absl::StrCat("federated: ", kKindVerdicts);
  row.labels = static_cast<double>(labelled.size());
  row.runs = 1;
  return row;
}

}  // namespace fedlog::offline
