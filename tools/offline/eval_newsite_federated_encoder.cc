// The "fewshot + encoder" rows of `fedlog eval newsite --federated` (eval_newsite_federated.h): the
// product's k > 0 rule (common/fewshot, KShotFewShotOptions) with FewShotOptions::encoder_weight, so
// a unit no label decides is judged on its label-free rank mixed with the rank of its embedding's
// score against the site's own labels' class means (common/fewshot/encoder_rank.h). Each arm uses
// its own encoder (the federated model as downloaded, the tuned one, the site alone's) and nothing
// from other sites' labels: no prototypes.global. The same detector live detection runs
// (client/detect/live_fewshot.h), here with the pool units as its reference.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/fewshot/fewshot.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// The unit-norm mean of the unit-norm embeddings of `rows` (empty when none has a direction).
std::vector<float> MeanDirection(const std::vector<float>& z, size_t dim, const std::vector<int64_t>& rows) {
  std::vector<double> sum(dim, 0.0);
  for (int64_t r : rows) {
    const float* v = z.data() + static_cast<size_t>(r) * dim;
    double norm = 0;
    for (size_t j = 0; j < dim; ++j) norm += static_cast<double>(v[j]) * v[j];
    norm = std::sqrt(norm);
    if (!(norm > 0) || !std::isfinite(norm)) continue;
    for (size_t j = 0; j < dim; ++j) sum[j] += v[j] / norm;
  }
  double norm = 0;
  for (double x : sum) norm += x * x;
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) return {};
  std::vector<float> out(dim);
  for (size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(sum[j] / norm);
  return out;
}

}  // namespace

std::vector<fewshot::Unit> EncoderUnits(const ArmModel& m, size_t dim, const NewsiteStream& s,
                                        const ScoredStream& sc, const NewsiteLines& site,
                                        const NewsiteSplit& sp, const PriorBase& base) {
  std::vector<fewshot::Unit> units = sc.units;
  // Session units are the session detector's (ProductK0Detector), lines the label-free detector's.
  const bool sessions = s.unit != "line" && sc.unit_session_score.size() == units.size() &&
                        base.score.size() == units.size();
  if (sessions) {
    // The session detector's score onto [0, 1] by its rank among the pool units (monotone: the
    // few-shot threshold, which moves in quantiles, decides as on the raw scale).
    std::vector<double> pool;
    for (size_t u : sp.pool) pool.push_back(base.score[u]);
    std::sort(pool.begin(), pool.end());
    for (size_t u = 0; u < units.size(); ++u) {
      units[u].free_score = pool.empty() ? 0.0 : fewshot::QuantileOf(pool, base.score[u]);
      units[u].free_alert = base.alert[u] != 0;
    }
  }
  for (size_t u = 0; u < units.size() && u < site.unit_lines.size(); ++u) {
    units[u].embedding = MeanDirection(m.embeddings, dim, site.unit_lines[u]);
  }
  return units;
}

absl::Status EncoderRows(const NewsiteStream& s, const NewsiteSplit& sp, const std::vector<fewshot::Unit>& units,
                         const std::vector<size_t>& labelled, const std::vector<int>& y, const std::string& arm,
                         const NewsiteOptions& o, std::vector<KShotRow>* rows) {
  std::vector<fewshot::Unit> support;
  for (size_t u : labelled) support.push_back(units[u]);
  std::vector<double> reference;
  std::vector<const fewshot::Unit*> encoder_reference;
  for (size_t u : sp.pool) {
    reference.push_back(units[u].free_score);
    encoder_reference.push_back(&units[u]);
  }
  const double operating_point = PoolOperatingPoint(sp, units);
  const std::vector<double>& weights = o.federated.encoder_weights;
  for (size_t i = 0; i < weights.size(); ++i) {
    fewshot::FewShotOptions fo = KShotFewShotOptions(s, o);
    fo.encoder_weight = weights[i];
    FEDLOG_ASSIGN_OR_RETURN(fewshot::FewShotDetector det,
                            fewshot::FewShotDetector::Fit(support, y, fo, operating_point, reference,
                                                          encoder_reference));
    std::vector<double> score;
    std::vector<int> alert;
    for (size_t u : sp.test) {
      score.push_back(det.Score(units[u]));
      alert.push_back(det.Alert(units[u]) ? 1 : 0);
    }
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
    row.method = absl::StrFormat("%s: %s%s", arm, kFewshotEncoder,
                                 i == 0 ? std::string() : absl::StrFormat(" w=%g", weights[i]));
    row.labels = static_cast<double>(labelled.size());
    row.runs = 1;
    rows->push_back(row);
  }
  return absl::OkStatus();
}

}  // namespace fedlog::offline
