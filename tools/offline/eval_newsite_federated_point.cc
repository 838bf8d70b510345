// The federation's operating point rows of `fedlog eval newsite --federated --fed-sibling`
// (eval_newsite_federated.h, OperatingPointRows): the sibling site, which labels the new site's
// source type, computes where the label-free detector should cut for that source
// (novelty::OperatingPointFromLabels on its own stream's k = 0 unit scores), and the new site, which
// has no labels, applies it to its own k = 0 scores in stream order instead of its alert budget.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/novelty/operating_point.h"
#include "common/novelty/site_threshold.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// The sibling's operating point: its stream scored by the same label-free detector settings, its
// k = 0 unit scores (lines: calibrated line score; sessions: the session score) against its labels.
absl::StatusOr<novelty::OperatingPoint> SiblingPoint(const std::string& system, const NewsiteOptions& o,
                                                     std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(NewsiteStream sib, LoadSiblingStream(system, o.data_dir));
  FEDLOG_ASSIGN_OR_RETURN(ScoredStream scored, ScoreNewsiteStream(sib, o));
  const PriorBase base = ProductK0Detector(sib, scored);
  FEDLOG_ASSIGN_OR_RETURN(novelty::OperatingPoint p, novelty::OperatingPointFromLabels(base.score, sib.y));
  for (const std::string& n : sib.notes) notes->push_back(absl::StrCat("operating point, sibling: ", n));
  notes->push_back(absl::StrFormat(
      "the federation's operating point (the sibling's %lld scored %ss, %lld anomalous): cut %.6f "
      "(its F1 there %.3f), alert rate %.4f, prevalence %.4f",
      static_cast<long long>(p.units), sib.unit, static_cast<long long>(p.anomalous), p.threshold, p.f1,
      p.alert_rate, p.prevalence));
  return p;
}

}  // namespace

absl::Status OperatingPointRows(const NewsiteStream& s, const NewsiteSplit& sp, const PriorBase& base,
                                const NewsiteOptions& o, std::vector<KShotRow>* rows,
                                std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(const novelty::OperatingPoint point, SiblingPoint(s.system, o, notes));
  // The label-free detector's warm-up: lines (ThresholdOptions::warmup_lines) and sessions alike.
  const int64_t warmup = novelty::ThresholdOptions().warmup_lines;
  FEDLOG_ASSIGN_OR_RETURN(const KShotRow product, MeasureTestUnits(sp, base.score, base.alert));
  // For diagnosis only (it uses the test labels, so it is no detector): the point the new site's own
  // test units would have given, on the same scale.
  std::vector<double> test_score;
  for (size_t u : sp.test) test_score.push_back(base.score[u]);
  absl::StatusOr<novelty::OperatingPoint> own = novelty::OperatingPointFromLabels(test_score, sp.test_y);
  if (own.ok()) {
    notes->push_back(absl::StrFormat(
        "for diagnosis (test labels): the new site's test units' own point: cut %.6f (F1 %.3f), alert rate "
        "%.4f, prevalence %.4f",
        own->threshold, own->f1, own->alert_rate, own->prevalence));
  }
  for (novelty::PointUse use :
       {novelty::PointUse::kScore, novelty::PointUse::kRate, novelty::PointUse::kPrevalence}) {
    novelty::TransferredCut cut(point, use, warmup);
    std::vector<uint8_t> alert(base.score.size(), 0);
    for (size_t u : base.order) alert[u] = cut.Decide(base.score[u]) ? 1 : 0;
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureTestUnits(sp, base.score, alert));
    const std::string name(novelty::PointUseName(use));
    row.method = absl::StrCat("federated: ", kFederationPoint, " (", name, ")");
    row.strategy = std::string(1, '-');
    row.runs = 1;
    notes->push_back(absl::StrFormat("k = 0, %s (%s): F1 %.3f against %s %.3f (normal-unit alert rate %.4f "
                                     "against %.4f)",
                                     kFederationPoint, name, row.f1, kLabelFreeProduct, product.f1,
                                     row.normal_alert_rate, product.normal_alert_rate));
    rows->push_back(row);
  }
  return absl::OkStatus();
}

}  // namespace fedlog::offline
