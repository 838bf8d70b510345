// `fedlog eval newsite`, sessions with labels: the product's k > 0 detector for session units
// (eval_newsite_session_labels.h, docs/DETECTION.md "Sessions with labels"). The session verdicts
// decide (DecideUnits), except for a unit whose nearest labelled unit shares at least
// NewsiteOptions::session_lookup_match of its tokens (fewshot::FewShotDetector::Decide with
// match = normal_match = that bar): it takes that label's class. The labelled units are the units
// of the verdicts' sessions (a normal verdict's units are normal; an anomalous verdict is given on
// the failing session of an anomalous unit). Also, for tuning inside the label pool (test_end < 1),
// Jaccard 1-NN on the same measured units, so the two compare cell by cell there.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/fewshot/fewshot.h"
#include "tools/offline/eval_newsite_session_labels.h"

namespace fedlog::offline {
namespace {

// A matched anomalous unit ranks above every session-verdict score (at most 100 + 7 terms of 6, plus
// 100 for a marked kind); a matched normal one below every score (>= 0).
constexpr double kMatchedAnomalous = 1000.0;

}  // namespace

void UnitsOfVerdicts(const ScoredStream& sc, const SessionVerdicts& v, std::vector<size_t>* units,
                     std::vector<int>* y) {
  units->clear();
  y->clear();
  for (size_t i = 0; i < v.sessions.size(); ++i) {
    for (int32_t u : sc.session_units[v.sessions[i]]) {
      const size_t unit = static_cast<size_t>(u);
      const auto seen = std::find(units->begin(), units->end(), unit);
      if (seen == units->end()) {
        units->push_back(unit);
        y->push_back(v.y[i] > 0 ? 1 : 0);
      } else if (v.y[i] > 0) {
        (*y)[static_cast<size_t>(seen - units->begin())] = 1;  // the unit's failing session
      }
    }
  }
}

absl::Status LookupUnits(const ScoredStream& sc, const SessionVerdicts& v, const NewsiteOptions& o,
                         const std::vector<size_t>& test, std::vector<double>* score,
                         std::vector<int>* alert) {
  if (!(o.session_lookup_match > 0)) return absl::OkStatus();
  std::vector<size_t> labelled;
  std::vector<int> y;
  UnitsOfVerdicts(sc, v, &labelled, &y);
  if (labelled.empty()) return absl::OkStatus();
  std::vector<fewshot::Unit> support;
  for (size_t u : labelled) support.push_back(sc.units[u]);
  fewshot::FewShotOptions fo = o.fewshot;
  fo.match = o.session_lookup_match;
  fo.normal_match = o.session_lookup_match;
  FEDLOG_ASSIGN_OR_RETURN(fewshot::FewShotDetector det, fewshot::FewShotDetector::Fit(support, y, fo));
  for (size_t k = 0; k < test.size(); ++k) {
    const fewshot::FewShotDetector::Decision d = det.Decide(sc.units[test[k]]);
    if (!d.near) continue;
    (*alert)[k] = d.label;
    (*score)[k] = d.label == 1 ? kMatchedAnomalous + d.similarity : -1.0 - d.similarity;
  }
  return absl::OkStatus();
}

absl::StatusOr<KShotRow> LookupRow(const ScoredStream& sc, const SessionIndex& ix,
                                   const NewsiteSplit& sp, const NewsiteOptions& o,
                                   const SessionVerdicts& v) {
  std::vector<double> score;
  std::vector<int> alert;
  DecideUnits(sc, ix, v, o, /*groups=*/true, sp.test, &score, &alert);
  FEDLOG_RETURN_IF_ERROR(LookupUnits(sc, v, o, sp.test, &score, &alert));
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
  row.method = kSessionProductMethod;
  row.labels = static_cast<double>(v.sessions.size());
  return row;
}

absl::StatusOr<KShotRow> MeasuredJaccardRow(const ScoredStream& sc, const NewsiteSplit& sp,
                                            const std::vector<size_t>& labelled, const std::vector<int>& y) {
  std::vector<fewshot::Unit> support;
  for (size_t u : labelled) support.push_back(sc.units[u]);
  std::vector<double> score;
  std::vector<int> alert;
  for (size_t u : sp.test) {
    score.push_back(fewshot::Jaccard1nnScore(sc.units[u], support, y));
    alert.push_back(score.back() > 0 ? 1 : 0);
  }
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
  row.method = "jaccard-1nn [measured part]";
  row.labels = static_cast<double>(labelled.size());
  return row;
}

std::string ProductAgainstJaccardNote(const KShotResult& r, const std::string& product) {
  int wins = 0, ties = 0, losses = 0;
  std::string cells;
  for (const KShotRow& p : r.rows) {
    if (p.method != product || p.k <= 0 || (p.strategy != "random" && p.strategy != "active")) continue;
    for (const KShotRow& j : r.rows) {
      if (j.method != "jaccard-1nn" || j.k != p.k || j.strategy != p.strategy) continue;
      // Compared at the reported precision: a difference under 0.0005 is a tie.
      const double d = p.f1 - j.f1;
      const char* verdict = d >= 0.0005 ? "win" : d <= -0.0005 ? "loss" : "tie";
      (d >= 0.0005 ? wins : d <= -0.0005 ? losses : ties) += 1;
      absl::StrAppendFormat(&cells, "%s%s k=%d %.3f vs %.3f (%s)", cells.empty() ? "" : "; ", p.strategy,
                            p.k, p.f1, j.f1, verdict);
    }
  }
  if (cells.empty()) return "";
  return absl::StrFormat("the product's k > 0 detector here is \"%s\"; against jaccard-1nn: %d wins, "
                         "%d ties, %d losses (%s)",
                         product, wins, ties, losses, cells);
}

}  // namespace fedlog::offline
