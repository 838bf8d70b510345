// `fedlog eval federated`: a model scored at a site (its detector on the site's test units), the choice rows
// against the site's label-free detector, and each site's label-free side (eval_federated_sim.h).
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/eval/threshold.h"
#include "common/model/few_shot.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/eval_federated_sim.h"

namespace fedlog::offline::sim {
namespace {

// Scores of the scoring units of `part` from its line scores: a session's score is the maximum of
// its lines' scores (a block is as anomalous as its most anomalous line).
void UnitScores(const SitePart& part, const std::vector<float>& line_scores,
                std::vector<int>* labels, std::vector<double>* scores) {
  labels->clear();
  scores->clear();
  if (part.units.empty()) {
    for (size_t i = 0; i < line_scores.size(); ++i) {
      labels->push_back(part.lines.labels[i] > 0 ? 1 : 0);
      scores->push_back(line_scores[i]);
    }
    return;
  }
  for (size_t u = 0; u < part.units.size(); ++u) {
    double best = 0;
    for (int64_t r : part.units[u])
      best = std::max(best, double{line_scores[static_cast<size_t>(r)]});
    labels->push_back(part.unit_labels[u]);
    scores->push_back(best);
  }
}

}  // namespace

// How a site's detector is adapted.
model::AdaptOptions SiteAdapt(const FederatedSite& site, const FederatedOptions& o) {
  model::AdaptOptions adapt;
  adapt.runtime.threads = o.threads;
  adapt.runtime.seed = o.seed;
  // Sessions take their threshold from block maxima, so line calibration adds nothing there, and a
  // Platt fit on lines saturated every HDFS line's probability to 0 (no block ranking left).
  adapt.calibrate = site.test.units.empty();
  // Lines: every support line is a prototype (a site's support mixes several sources, whose class
  // means say little); sessions keep one mean per class, ranked by block maxima.
  adapt.prototypes = site.test.units.empty() ? model::PrototypeMode::kNearestSupport
                                             : model::PrototypeMode::kClassMean;
  return adapt;
}

// The site's detector (model::BuildSiteDetector with every adapter of the site, as the site
// trainer builds it, client/site_trainer.cc) from its support lines, calibrated and thresholded on
// its validation part, scored on its test units.
absl::StatusOr<SiteEvaluation> EvaluateSite(const model::EncoderSpec& base,
                                            const fl::TensorBundle& weights,
                                            const FederatedSite& site, const std::string& name,
                                            const FederatedOptions& o) {
  const model::EncoderSpec spec = model::SiteSpec(base, site.sources);
  const model::AdaptOptions adapt = SiteAdapt(site, o);
  // A held-out site's only labels are its support lines: with nearest-support prototypes Adapt
  // calibrates on their leave-one-out scores when it gets no separate validation set.
  const model::LineSet none;
  const bool loo = adapt.prototypes == model::PrototypeMode::kNearestSupport && !site.labeled;
  FEDLOG_ASSIGN_OR_RETURN(
      model::FewShotModel detector,
      model::BuildSiteDetector(spec, weights, site.support, loo ? none : site.validation.lines,
                               adapt));
  SiteEvaluation e;
  e.model = name;
  e.site = site.name;
  e.held_out = !site.labeled;
  e.threshold = detector.threshold;
  std::vector<int> labels;
  std::vector<double> scores;
  if (!site.test.units.empty() && site.validation.lines.size() > 0) {
    // Sessions: the line threshold does not apply to block maxima; pick the block-level max-F1
    // threshold on the validation blocks instead.
    FEDLOG_ASSIGN_OR_RETURN(
        std::vector<float> val,
        model::ScoreFewShot(spec, detector, site.validation.lines, adapt.runtime));
    UnitScores(site.validation, val, &labels, &scores);
    FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice t, eval::SelectThresholdMaxF1(labels, scores));
    e.threshold = t.threshold;
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> test,
                          model::ScoreFewShot(spec, detector, site.test.lines, adapt.runtime));
  UnitScores(site.test, test, &labels, &scores);
  e.units = static_cast<int64_t>(labels.size());
  e.anomalous_units = std::count(labels.begin(), labels.end(), 1);
  FEDLOG_ASSIGN_OR_RETURN(e.metrics, eval::EvaluateScores(labels, scores, e.threshold));
  std::cerr << absl::StrFormat(
      "[%s] %s: F1 %.3f, F1-macro %.3f, AUROC %.3f on %d %s (%d anomalous)\n", name, site.name,
      e.metrics.f1, e.metrics.f1_macro, e.metrics.auroc, e.units,
      site.test.units.empty() ? "lines" : "blocks", e.anomalous_units);
  return e;
}

// The choice row `name` of site `site` against `model_row` (null: the model has no detector for it), its
// reason in the notes; nothing for a site without a label-free side.
absl::Status AddChoice(const model::EncoderSpec& base, const fl::TensorBundle& weights, const FederatedSite& site,
                       const std::optional<SiteLabelFree>& lf, const SiteEvaluation* model_row,
                       const std::string& name, const FederatedOptions& o, FederatedResult* result) {
  if (!lf.has_value()) return absl::OkStatus();
  std::string reason;
  fewshot::ChoiceOptions choice;
  choice.compare = o.choice_compare;
  FEDLOG_ASSIGN_OR_RETURN(SiteEvaluation e, ChoiceRow(base, weights, site, *lf, model_row, name, choice, &reason));
  std::cerr << absl::StrFormat("[%s] %s: F1 %.3f, AUROC %.3f: %s\n", name, site.name, e.metrics.f1,
                               e.metrics.auroc, reason);
  result->notes.push_back(absl::StrCat(name, ": ", site.name, " scored by ", reason));
  result->evaluations.push_back(std::move(e));
  return absl::OkStatus();
}

// Each site's label-free side (LabelFreeSide) and its "label_free" row, for the sites with a stream
// (with o.choice_rows).
absl::StatusOr<LabelFreeSides> LabelFreeAll(const std::vector<FederatedSite>& sites, const FederatedOptions& o,
                                            FederatedResult* result) {
  LabelFreeSides out(sites.size());
  for (size_t i = 0; i < sites.size(); ++i) {
    if (!o.choice_rows || sites[i].stream.lines.empty()) continue;
    const auto t0 = Clock::now();
    FEDLOG_ASSIGN_OR_RETURN(out[i], LabelFreeSide(sites[i]));
    const SiteEvaluation& e = out[i]->evaluation;
    std::cerr << absl::StrFormat("[label_free] %s: F1 %.3f, AUROC %.3f on %d units (%d anomalous), %d labelled "
                                 "lines (%s), %.1fs\n", e.site, e.metrics.f1, e.metrics.auroc, e.units,
                                 e.anomalous_units, out[i]->labelled.size(),
                                 out[i]->with_labels ? "few-shot rule on them" : "k = 0: not applied", Since(t0));
    result->notes.push_back(absl::StrCat("label_free: ", e.site, ": ",
                                         out[i]->with_labels ? "with its labelled training lines (few-shot rule)"
                                                             : "k = 0 (session detector; labels not applied)"));
    result->evaluations.push_back(e);
  }
  return out;
}

}  // namespace fedlog::offline::sim
