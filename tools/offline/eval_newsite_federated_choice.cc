// The "choice" rows of `fedlog eval newsite --federated` (eval_newsite_federated.h): what live
// detection does with the arm's model under detect.detector_choice = auto (common/fewshot/
// detector_choice.h, the same ChooseDetector and LeaveOneOutVerdicts LinePipeline runs). A draw's
// labels decide, leave-one-out, whether the model (its support detector, the "support detector" row
// of the same draw) or the product's label-free detector with the labels (the encoder-free few-shot
// rule replayed as live runs it, the "label-free (product)" row) scores the test units; at k = 0
// there are no labels and the label-free detector scores (the product's k = 0 detector,
// ProductK0Detector, at its own alerts).
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/fewshot/detector_choice.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

std::string ChoiceName(const std::string& arm, const NewsiteOptions& o, size_t i) {
  return i == 0 ? absl::StrFormat("%s: %s", arm, kChoice)
                : absl::StrFormat("%s: %s m=%g", arm, kChoice, o.federated.choice_margins[i]);
}

}  // namespace

absl::Status ChoiceK0Rows(const NewsiteSplit& sp, const PriorBase& base, const std::string& arm, bool first_arm,
                          const NewsiteOptions& o, std::vector<KShotRow>* rows) {
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureTestUnits(sp, base.score, base.alert));
  row.strategy = std::string(1, '-');  // (operator=(const char*) trips GCC 12 -Wrestrict)
  row.runs = 1;
  if (first_arm) {
    row.method = kLabelFreeProduct;
    rows->push_back(row);
  }
  for (size_t i = 0; i < o.federated.choice_margins.size(); ++i) {
    row.method = ChoiceName(arm, o, i);
    rows->push_back(row);
  }
  return absl::OkStatus();
}

absl::StatusOr<KShotRow> LabelFreeProductRow(const NewsiteStream& s, const NewsiteSplit& sp,
                                             const std::vector<fewshot::Unit>& units, const PriorBase& base,
                                             const std::vector<size_t>& labelled, const std::vector<int>& y,
                                             const NewsiteOptions& o) {
  NewsiteOptions encoder_free = o;
  encoder_free.federated.encoder_weights = {0};
  std::vector<KShotRow> rows;
  FEDLOG_RETURN_IF_ERROR(EncoderRows(s, sp, units, base, labelled, y, "label-free", encoder_free, &rows));
  if (rows.empty()) return absl::InternalError("no label-free product row");
  KShotRow row = rows.back();
  row.method = kLabelFreeProduct;
  return row;
}

absl::Status ChoiceRows(const NewsiteStream& s, const NewsiteSplit& sp, const std::vector<fewshot::Unit>& units,
                        const std::vector<size_t>& labelled, const std::vector<int>& y, const KShotRow* model_row,
                        const KShotRow& label_free_row, const std::string& arm, const NewsiteOptions& o,
                        std::vector<KShotRow>* rows, std::vector<int>* chose_model) {
  // The verdicts as live detection computes them at the moment the labels arrive: the reference is
  // the stream before the test part (the pool units' label-free scores), the operating point its
  // score at its own alert rate.
  const fewshot::FreeReference reference = fewshot::ReferenceOf(units, sp.pool);
  std::vector<fewshot::Unit> support;
  for (size_t u : labelled) support.push_back(units[u]);
  FEDLOG_ASSIGN_OR_RETURN(std::vector<fewshot::LooVerdict> verdicts,
                          fewshot::LeaveOneOutVerdicts(support, y, KShotFewShotOptions(s, o),
                                                       reference.operating_point, reference.sorted,
                                                       o.federated.choice_compare));
  chose_model->resize(o.federated.choice_margins.size(), 0);
  for (size_t i = 0; i < o.federated.choice_margins.size(); ++i) {
    fewshot::ChoiceOptions co;
    co.margin = o.federated.choice_margins[i];
    co.compare = o.federated.choice_compare;
    const fewshot::Choice c = fewshot::ChooseDetector(co, model_row != nullptr, true, verdicts);
    // The draw's two candidates on the test units, to count the draws whose choice scores worse.
    std::cerr << "[choice] " << arm << ", " << labelled.size() << " labels: " << c.reason
              << absl::StrFormat(" [test F1: model %s, label-free %.3f]",
                                 model_row ? absl::StrFormat("%.3f", model_row->f1) : std::string("-"),
                                 label_free_row.f1)
              << "\n";
    KShotRow row = c.model ? *model_row : label_free_row;
    (*chose_model)[i] += c.model ? 1 : 0;
    row.method = ChoiceName(arm, o, i);
    row.labels = static_cast<double>(labelled.size());
    rows->push_back(row);
  }
  return absl::OkStatus();
}

}  // namespace fedlog::offline
