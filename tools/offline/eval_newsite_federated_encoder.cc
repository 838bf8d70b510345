// The "fewshot + encoder" rows of `fedlog eval newsite --federated` (eval_newsite_federated.h): the
// product's k > 0 rule (common/fewshot, KShotFewShotOptions) with FewShotOptions::encoder_weight, so
// a unit no label decides is judged on its label-free rank mixed with the rank of its embedding's
// score against the site's own labels' class means (common/fewshot/encoder_rank.h). Each arm uses
// its own encoder (the federated model as downloaded, the tuned one, the site alone's) and nothing
// from other sites' labels: no prototypes.global. The same detector live detection runs
// (client/detect/live_fewshot.h), replayed as live runs it: in stream order, refitted every 1,024
// units on the 4,096 units before (ReplayLive).
#include <algorithm>
#include <cmath>
#include <optional>
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

// LiveFewShot's window (client/detect/live_fewshot.h: kWindow, kRefitLines, kEncoderRefitLines,
// kMinWindow): the detector is fitted again every kRefit units of the stream (kEncoderRefit with the
// encoder rule, whose cut is a rank among the window) on the kWindow units before, and decides the
// units up to the next refit; with fewer than kMinWindow units before, the label-free decision.
constexpr size_t kWindow = 4096;
constexpr size_t kRefit = 1024;
constexpr size_t kEncoderRefit = 64;
constexpr size_t kMinWindow = 64;

}  // namespace

absl::Status ReplayLive(const std::vector<fewshot::Unit>& units, const std::vector<size_t>& order,
                        const std::vector<fewshot::Unit>& support, const std::vector<int>& y,
                        const fewshot::FewShotOptions& fo, std::vector<double>* score, std::vector<int>* alert,
                        std::vector<uint8_t>* decided) {
  std::optional<fewshot::FewShotDetector> det;
  const size_t refit = fo.encoder_weight > 0 ? kEncoderRefit : kRefit;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    if (pos % refit == 0 && pos >= kMinWindow) {
      std::vector<double> reference;
      std::vector<const fewshot::Unit*> encoder_reference;
      double alerted = 0;
      for (size_t j = pos > kWindow ? pos - kWindow : 0; j < pos; ++j) {
        const fewshot::Unit& r = units[order[j]];
        reference.push_back(std::clamp(r.free_score, 0.0, 1.0));
        encoder_reference.push_back(&r);
        alerted += r.free_alert ? 1 : 0;
      }
      std::vector<double> sorted = reference;
      std::sort(sorted.begin(), sorted.end());
      const double start = fewshot::OperatingPoint(sorted, alerted / static_cast<double>(sorted.size()));
      FEDLOG_ASSIGN_OR_RETURN(det, fewshot::FewShotDetector::Fit(support, y, fo, start, std::move(reference),
                                                                 encoder_reference));
    }
    const size_t u = order[pos];
    (*score)[u] = det.has_value() ? det->Score(units[u]) : std::clamp(units[u].free_score, 0.0, 1.0);
    (*alert)[u] = det.has_value() ? det->Alert(units[u]) : units[u].free_alert;
    if (decided != nullptr) (*decided)[u] = det.has_value() && det->Decide(units[u]).near ? 1 : 0;
  }
  return absl::OkStatus();
}

std::vector<fewshot::Unit> EncoderUnits(const ArmModel& m, size_t dim, const NewsiteStream& s,
                                        const ScoredStream& sc, const NewsiteLines& site,
                                        const NewsiteSplit& sp, const PriorBase& base) {
  std::vector<fewshot::Unit> units = sc.units;
  // Session units are the session detector's (ProductK0Detector), lines the label-free detector's.
  const bool sessions = s.unit != "line" && sc.unit_session_score.size() == units.size() &&
                        base.score.size() == units.size();
  if (!sessions) {
    // Lines: the label-free detector's raw fused score squashed as live detection gives it to
    // LiveFewShot (s / (1 + s)), not eval's calibrated 1 - p-value, whose scale drifts with its
    // history (a rank among a window of it is not a rank of the scores the detector cut).
    for (fewshot::Unit& u : units) {
      const double raw = u.signals.empty() ? 0.0 : u.signals[0];
      u.free_score = raw > 0 ? raw / (1.0 + raw) : 0.0;
    }
  } else {
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
                         const PriorBase& base, const std::vector<size_t>& labelled, const std::vector<int>& y,
                         const std::string& arm, const NewsiteOptions& o, std::vector<KShotRow>* rows) {
  std::vector<fewshot::Unit> support;
  for (size_t u : labelled) support.push_back(units[u]);
  const std::vector<double>& weights = o.federated.encoder_weights;
  for (size_t i = 0; i < weights.size(); ++i) {
    fewshot::FewShotOptions fo = KShotFewShotOptions(s, o);
    fo.encoder_weight = weights[i];
    std::vector<double> unit_score(units.size(), 0.0);
    std::vector<int> unit_alert(units.size(), 0);
    FEDLOG_RETURN_IF_ERROR(ReplayLive(units, base.order, support, y, fo, &unit_score, &unit_alert, nullptr));
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureTestUnits(sp, unit_score, unit_alert));
    row.method = absl::StrFormat("%s: %s%s", arm, kFewshotEncoder,
                                 i == 0 ? std::string() : absl::StrFormat(" w=%g", weights[i]));
    row.labels = static_cast<double>(labelled.size());
    row.runs = 1;
    rows->push_back(row);
  }
  return absl::OkStatus();
}

}  // namespace fedlog::offline
