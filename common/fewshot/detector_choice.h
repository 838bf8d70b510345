// Which detector scores a source in live detection: the site's model (its nearest-support detector over
// the federation's encoder) or the label-free detector with the site's labels (common/novelty under
// common/fewshot's few-shot rule). A new site that downloads the global model must not lose a better
// label-free detector the moment the model arrives (issue 14; docs/DETECTION.md "Which detector scores
// a source"). The rule, `auto`: a source is scored label-free until the site's own line labels of it
// hold at least kMinLabelsPerClass of each class and, leave-one-out on those labels, the model's F1 beats
// the label-free detector's by more than a margin and the units where the two disagree favour the model
// beyond chance (a one-sided sign test at kEvidenceLevel); `model` and `label_free` force one.
// Leave-one-out verdicts (LeaveOneOutVerdicts), on the units ChoiceOptions::compare names: per distinct
// labelled token set (`templates`: a template labelled ten times is one piece of evidence, its twins
// are left out with it), or per labelled line (`lines`: only the line is left out, its twins stay and
// decide it as an exact match does on the stream, so both F1s weigh a template by its labelled lines):
//   model       the class of the nearest other labelled unit by cosine of the units' embeddings under
//               the model's encoder (its nearest-support rule without the unit);
//   label-free  FewShotDetector fitted on the other labelled units (a near label decides, else the
//               label-free alert under the few-shot threshold), with the stream's reference.
// Used live by client/detect/line_pipeline.h and offline by `fedlog eval newsite --federated` (the
// "choice" rows, tools/offline/eval_newsite_federated_choice.cc): the same functions.
// Torch-free and gRPC-free. Thread-safety: stateless functions on value types.
#ifndef FEDLOG_COMMON_FEWSHOT_DETECTOR_CHOICE_H_
#define FEDLOG_COMMON_FEWSHOT_DETECTOR_CHOICE_H_

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fewshot/fewshot.h"

namespace fedlog::fewshot {

enum class ChoiceMode { kAuto, kModel, kLabelFree };

// "auto", "model", "label_free" ("" = auto); InvalidArgument otherwise.
absl::StatusOr<ChoiceMode> ParseChoiceMode(std::string_view name);
std::string_view ChoiceModeName(ChoiceMode mode);

// The units auto's leave-one-out comparison judges (detect.detector_choice_compare; header comment).
enum class CompareUnits { kTemplates, kLines };

// "templates", "lines" ("" = the default, ChoiceOptions::compare); InvalidArgument otherwise.
absl::StatusOr<CompareUnits> ParseCompareUnits(std::string_view name);
std::string_view CompareUnitsName(CompareUnits units);

struct ChoiceOptions {
  ChoiceMode mode = ChoiceMode::kAuto;
  // auto: the model is chosen when its leave-one-out F1 exceeds the label-free one by more than this
  // (detect.detector_choice_margin). In [0, 1]. Chosen on bgl2k by a rule written first (0, 0.05, 0.1,
  // 0.2 tied; ties go to the larger margin; docs/EVALUATION.md "Session 14").
  double margin = 0.2;
  // auto: the leave-one-out units (detect.detector_choice_compare). The minimum below counts distinct
  // labelled token sets under either.
  CompareUnits compare = CompareUnits::kTemplates;
  // Fewer labels of a class than this and the comparison is not made (one label would move a
  // leave-one-out F1 by 0.2 or more): the source stays label-free. Set by that argument, not tuned.
  static constexpr int kMinLabelsPerClass = 3;
  // The units where exactly one detector is right must favour the model beyond chance: with b units
  // only the model gets right and c only the label-free detector does, P(X >= b) for X ~ Bin(b + c, 1/2)
  // must be at most this (the conventional 5%, not tuned). Few labels, and labels picked where the
  // label-free detector is unsure (active selection), can give the model a large F1 lead on a handful
  // of units; without this a BGL site handed the model on 5 + 5 active labels alerted on 27% of its
  // normal lines (docs/EVALUATION.md "Session 15: evidence before the model takes a source").
  static constexpr double kEvidenceLevel = 0.05;
  absl::Status Validate() const;
};

// One left-out unit's verdicts (a distinct labelled token set, or one labelled line).
struct LooVerdict {
  int label = 0;              // 1 anomalous, 0 normal
  bool model_alert = false;   // the nearest other labelled unit (by embedding) is anomalous
  bool has_model = false;     // the unit and another labelled unit carry embeddings
  bool label_free_alert = false;
  bool twin = false;  // an earlier verdict has the same (token set, label) (`lines` only)
};

// The leave-one-out verdicts of both detectors on the labelled `units` (classes `labels`): with
// `compare` kTemplates one per distinct (token set, label), its twins left out with it; with kLines
// one per unit (in order), only that unit left out. `options`: the few-shot rule (its encoder_weight is ignored: the
// label-free side is the encoder-free rule); `free_threshold` and `reference`: as
// FewShotDetector::Fit's (the stream's operating point and recent label-free scores). Units'
// `embedding` is the model's (empty: no model verdict for it). InvalidArgument when sizes differ or
// the options do not Validate().
absl::StatusOr<std::vector<LooVerdict>> LeaveOneOutVerdicts(const std::vector<Unit>& units,
                                                            const std::vector<int>& labels,
                                                            const FewShotOptions& options,
                                                            double free_threshold,
                                                            const std::vector<double>& reference,
                                                            CompareUnits compare);

struct Choice {
  bool model = false;  // the model scores the source; false: the label-free detector (+ labels)
  int anomalous = 0, normal = 0;  // distinct labelled token sets compared (auto)
  int compared = 0;               // verdicts compared (auto): the distinct sets, or the labelled lines
  double model_f1 = std::numeric_limits<double>::quiet_NaN();
  double label_free_f1 = std::numeric_limits<double>::quiet_NaN();
  int model_only_right = 0, label_free_only_right = 0;  // the units where the two disagree (auto)
  double evidence_p = std::numeric_limits<double>::quiet_NaN();  // the sign test's P(X >= model_only_right)
  std::string reason;  // one line for logs, /healthz and reports
};

// One-sided sign test: P(X >= wins) for X ~ Bin(wins + losses, 1/2); 1 when wins is 0.
double SignTestP(int wins, int losses);

// The choice for one source. `has_model`: the model has a scorer for it; `has_label_free`: live
// detection scores it label-free when the model does not (detect.expected_alert_rate > 0). Without
// one of them the other scores it, whatever the mode. auto: as the header comment says, on
// `verdicts` (LeaveOneOutVerdicts with options.compare; only those with has_model count, and those
// that are not twins count towards kMinLabelsPerClass).
Choice ChooseDetector(const ChoiceOptions& options, bool has_model, bool has_label_free,
                      const std::vector<LooVerdict>& verdicts);

}  // namespace fedlog::fewshot

#endif  // FEDLOG_COMMON_FEWSHOT_DETECTOR_CHOICE_H_
