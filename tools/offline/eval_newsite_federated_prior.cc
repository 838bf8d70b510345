// The prototype prior rows of `fedlog eval newsite --federated` (eval_newsite_federated.h): what
// the federation learned from other sites' labels (prototypes.global) added to the product's own
// detectors, against the same site with what it has alone (model::PrototypePrior, RankFuse,
// RateMatchedAlerts in common/model/prototype_prior.h).
//   base    the product's k = 0 detector per unit: the session detector (score and site alert)
//           for session units, the label-free line detector (fewshot::Unit::free_score and
//           free_alert) for lines.
//   prior   per line cos(z, p_anomalous) - cos(z, p_normal) in the arm's own encoder space, a unit
//           its lines' maximum; the prototypes are prototypes.global shrunk by the draw's labels
//           (the federated and tuned arms) or the labels' class means alone (the site alone: none
//           at k = 0, none while a class has no label).
//   fused   (1 - w) * Q(base) + w * Q(prior), quantiles among the pool units; Q(base) alone where
//           the arm has no prototype.
//   k = 0   alert in stream order at the base detector's alert rate over the last 4,096 units.
//   k > 0   common/fewshot's detector (the product's k > 0 rule) on units whose label-free score
//           and alert are the fused ones: a label decides the units near it, the fused decision the
//           rest, the threshold raised by the labels as fewshot raises it.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/fewshot/fewshot.h"
#include "common/model/prototype_prior.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// LiveFewShot's window of recent label-free scores (client/detect/live_fewshot.h): the same
// trailing stretch of stream the live threshold looks at.
constexpr size_t kRateWindow = 4096;

bool SessionUnits(const NewsiteStream& s, const ScoredStream& sc) {
  return s.unit != "line" && sc.unit_session_score.size() == sc.units.size() &&
         sc.unit_session_alert.size() == sc.units.size();
}

// Per line of the arm's stream, the prior's score of its embedding; per unit the maximum.
std::vector<double> UnitPriorScores(const ArmModel& m, size_t dim, const NewsiteLines& site,
                                    const model::PrototypePrior& prior) {
  std::vector<double> out(site.unit_lines.size(), -2.0);
  for (size_t u = 0; u < site.unit_lines.size(); ++u) {
    for (int64_t r : site.unit_lines[u]) {
      out[u] = std::max(out[u], prior.Score(m.embeddings.data() + static_cast<size_t>(r) * dim));
    }
  }
  return out;
}

// The label-free operating point of common/fewshot on the fused scale: the pool's fused score at
// the pool's fused alert rate (as eval_newsite_fewshot.cc's FreeThreshold on the label-free scale).
double FusedOperatingPoint(const NewsiteSplit& sp, const std::vector<fewshot::Unit>& units) {
  if (sp.pool.empty()) return 1.0;
  std::vector<double> scores;
  double alerted = 0;
  for (size_t u : sp.pool) {
    scores.push_back(units[u].free_score);
    alerted += units[u].free_alert ? 1 : 0;
  }
  std::sort(scores.begin(), scores.end());
  return fewshot::OperatingPoint(scores, alerted / static_cast<double>(sp.pool.size()));
}

}  // namespace

PriorBase ProductK0Detector(const NewsiteStream& s, const ScoredStream& sc) {
  PriorBase b;
  const bool sessions = SessionUnits(s, sc);
  b.score.resize(sc.units.size());
  b.alert.resize(sc.units.size());
  for (size_t u = 0; u < sc.units.size(); ++u) {
    b.score[u] = sessions ? sc.unit_session_score[u] : sc.units[u].free_score;
    b.alert[u] = sessions ? sc.unit_session_alert[u] : (sc.units[u].free_alert ? 1 : 0);
  }
  // Stream order: by first line (units without lines last, in index order).
  b.order.resize(sc.units.size());
  std::iota(b.order.begin(), b.order.end(), size_t{0});
  std::stable_sort(b.order.begin(), b.order.end(), [&](size_t a, size_t c) {
    constexpr int64_t kLast = std::numeric_limits<int64_t>::max();
    const int64_t fa = sc.unit_first_line[a] < 0 ? kLast : sc.unit_first_line[a];
    const int64_t fc = sc.unit_first_line[c] < 0 ? kLast : sc.unit_first_line[c];
    return fa < fc;
  });
  return b;
}

absl::StatusOr<std::vector<uint8_t>> StreamRateMatchedAlerts(const PriorBase& base,
                                                             const std::vector<double>& fused) {
  std::vector<double> score;
  std::vector<uint8_t> free_alert;
  for (size_t u : base.order) {
    score.push_back(fused[u]);
    free_alert.push_back(base.alert[u]);
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<uint8_t> in_order,
                          model::RateMatchedAlerts(score, free_alert, kRateWindow));
  std::vector<uint8_t> out(fused.size(), 0);
  for (size_t i = 0; i < base.order.size(); ++i) out[base.order[i]] = in_order[i];
  return out;
}

absl::StatusOr<PriorScores> PriorUnitScores(const ArmModel& m, const model::EncoderSpec& spec,
                                            const NewsiteLines& site, const PriorBase& base,
                                            const NewsiteSplit& sp, const std::vector<size_t>& labelled,
                                            const std::vector<int>& y, const NewsiteOptions& o) {
  const size_t dim = static_cast<size_t>(spec.out_dim);
  std::vector<float> global;
  if (const fl::NamedTensor* g = m.weights->Find("prototypes.global");
      g != nullptr && g->values.size() == 2 * dim) {
    global = g->values;
  }
  std::vector<int64_t> rows;
  std::vector<int> labels;
  SupportLineRows(site, labelled, y, &rows, &labels);
  std::vector<float> support;
  for (int64_t r : rows) {
    const float* z = m.embeddings.data() + static_cast<size_t>(r) * dim;
    support.insert(support.end(), z, z + dim);
  }
  model::PrototypePriorOptions po;
  po.prior_count = o.federated.prior_count;
  FEDLOG_ASSIGN_OR_RETURN(model::PrototypePrior prior,
                          model::PrototypePrior::Fit(global, dim, support, labels, po));
  PriorScores out;
  out.has_prior = prior.ready();
  const std::vector<double> prior_scores =
      out.has_prior ? UnitPriorScores(m, dim, site, prior) : std::vector<double>{};
  for (double w : o.federated.prior_weights) {
    FEDLOG_ASSIGN_OR_RETURN(std::vector<double> fused, model::RankFuse(base.score, prior_scores, w, sp.pool));
    FEDLOG_ASSIGN_OR_RETURN(std::vector<uint8_t> alert, StreamRateMatchedAlerts(base, fused));
    out.fused.push_back(std::move(fused));
    out.alert.push_back(std::move(alert));
  }
  return out;
}

absl::Status PriorRows(const NewsiteStream& s, const ScoredStream& sc, const NewsiteSplit& sp,
                       const PriorScores& p, const std::vector<size_t>& labelled,
                       const std::vector<int>& y, const std::string& arm, const NewsiteOptions& o,
                       std::vector<KShotRow>* rows) {
  const fewshot::FewShotOptions fo = KShotFewShotOptions(s, o);
  for (size_t i = 0; i < p.fused.size(); ++i) {
    std::vector<fewshot::Unit> units = sc.units;
    for (size_t u = 0; u < units.size(); ++u) {
      units[u].free_score = p.fused[i][u];
      units[u].free_alert = p.alert[i][u] != 0;
    }
    std::vector<double> score;
    std::vector<int> alert;
    if (labelled.empty()) {  // k = 0: the fused score at the base detector's rate
      for (size_t u : sp.test) {
        score.push_back(units[u].free_score);
        alert.push_back(units[u].free_alert ? 1 : 0);
      }
    } else {
      std::vector<fewshot::Unit> support;
      for (size_t u : labelled) support.push_back(units[u]);
      std::vector<double> reference;
      for (size_t u : sp.pool) reference.push_back(units[u].free_score);
      FEDLOG_ASSIGN_OR_RETURN(fewshot::FewShotDetector det,
                              fewshot::FewShotDetector::Fit(support, y, fo, FusedOperatingPoint(sp, units),
                                                            std::move(reference)));
      for (size_t u : sp.test) {
        score.push_back(det.Score(units[u]));
        alert.push_back(det.Alert(units[u]) ? 1 : 0);
      }
    }
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
    row.method = absl::StrFormat("%s: %s%s", arm, kPrototypePrior,
                                 i == 0 ? std::string() : absl::StrFormat(" w=%g", o.federated.prior_weights[i]));
    row.labels = static_cast<double>(labelled.size());
    row.runs = 1;
    if (labelled.empty()) row.strategy = std::string(1, '-');
    rows->push_back(row);
  }
  return absl::OkStatus();
}

}  // namespace fedlog::offline
