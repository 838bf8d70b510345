// LiveFewShot: the few-shot detector (common/fewshot, docs/DETECTION.md "Labels in live detection")
// for the sources that live detection scores label-free (LabelFreeScorer), with the same rule
// `fedlog eval newsite` measures (fewshot::FewShotDetector::Fit and Alert). Its support is the
// site's labelled lines of each source: DetectStore's labels table, which `fedlog label` verdicts,
// `fedlog feedback` and the labels file fill. Detector::SyncLabelFreeLabels gives the whole set
// again (through LinePipeline::SetLabelFreeLabels) as soon as the store's label version changes, so
// a verdict counts from the next poll interval on, not from the next federated round.
// A line whose tokens (its template and its digit-free words, fewshot::AddTokens) share at least
// `match` of a labelled line of its source (Jaccard) takes that label's verdict: it alerts when the
// nearest such label is anomalous, even below the label-free threshold, and stays quiet when it is
// normal, even above it. Any other line keeps the label-free decision, moved by the few-shot
// threshold (Alerts): that threshold moves in quantiles of the source's recent label-free scores
// (the last kWindow lines, Observe) from the operating point (the score at the window's own alert
// rate) towards the labelled lines' F1-best cut, upwards by n / (n + label_prior) (an alert then
// stands when the line's score reaches it, or by KeepsLabelFreeAlert below) and, with FewShotOptions::lower_prior > 0, downwards
// by n / (n + lower_prior) (a line whose score reaches it then alerts even where the label-free
// detector did not; detect.fewshot_label_prior / fewshot_lower_prior). Scores are the label-free fused score squashed to [0, 1]
// (s / (1 + s), Squash); a monotone map, so the quantile rule decides as it would on eval's
// calibrated 1 - p-value scale. With FewShotOptions::encoder_weight > 0 (detect.fewshot_encoder_weight)
// and lines that carry their embedding under the model the daemon holds (AddLabel's and Observe's
// `embedding`, LinePipeline: detect.label_free_with_model), a line no label decides is judged by
// fewshot's encoder rule instead (fewshot.h): its label-free rank mixed with the rank of its
// embedding's score against the source's labels' class means, both among the window's lines (whose
// embeddings are kept for it), cut at the window's label-free alert rate and the labels' threshold;
// the detector is then refitted every kEncoderRefitLines observed lines, so the cut follows the
// stream (KeepsAlert stays the encoder-free rule).
// The labels do not move the label-free threshold itself
// (LinePipeline::SetLabelFreeLabels), as in eval, where k = 0's decisions come from a run without
// labels.
// With FewShotOptions::keep_alert_match > 0 (detect.fewshot_keep_alert_match) a label-free alert the
// threshold would silence on a line no label decides stands unless a normal label is near it
// (KeepsLabelFreeAlert, fewshot.h).
// Torch-free and gRPC-free. Thread-compatible: owned by the LinePipeline, used by its one thread.
#ifndef FEDLOG_CLIENT_DETECT_LIVE_FEWSHOT_H_
#define FEDLOG_CLIENT_DETECT_LIVE_FEWSHOT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/fewshot/fewshot.h"

namespace fedlog::client::detect {

class LiveFewShot {
 public:
  static constexpr size_t kWindow = 4096;      // recent label-free lines per source (the reference)
  // LinePipeline gives the labels again (re-scored) every this many label-free lines.
  static constexpr int64_t kRefitLines = 1024;
  static constexpr size_t kMinWindow = 64;      // fewer observed lines: no few-shot threshold yet
  // With the encoder rule the source's detector is fitted again every this many observed lines: its
  // cut is a rank among the window, which must follow the stream as the label-free threshold does.
  static constexpr int64_t kEncoderRefitLines = 64;

  // `sources`: how many sources the pipeline has. InvalidArgument when the options do not Validate().
  static absl::StatusOr<LiveFewShot> Create(size_t sources, const fewshot::FewShotOptions& options);

  // The label-free fused score (>= 0) on the [0, 1] scale the threshold works on.
  static double Squash(double fused_score) { return fused_score > 0 ? fused_score / (1.0 + fused_score) : 0.0; }
  // Squash's inverse, for showing a threshold on the fused scale (t in [0, 1); 1 and above: infinity).
  static double Unsquash(double t) {
    return t >= 1 ? std::numeric_limits<double>::infinity() : std::max(0.0, t) / (1.0 - std::max(0.0, t));
  }

  // Replaces every source's labels: call Begin, AddLabel for each labelled line, then End.
  void Begin();
  // A labelled line of `source` (1 anomalous, 0 normal), matched to `template_id` (< 0: none), with
  // its label-free fused score now (LabelFreeScorer::PeekScore; NaN: unknown, it then does not move
  // the threshold). Out-of-range sources are ignored.
  // `embedding`: the line's embedding under the current model (empty: none).
  void AddLabel(int source, int32_t template_id, std::string_view content, int label,
                double fused_score = std::numeric_limits<double>::quiet_NaN(),
                absl::Span<const float> embedding = {});
  // Fits each source's detector on its labels and recent window (a source without labels has none).
  void End();

  // A label-free line of `source` was scored: its fused score, the label-free decision and its
  // embedding (empty: none). Keeps the last kWindow (the threshold is set from them at End). Out of
  // range: ignored.
  void Observe(int source, double fused_score, bool alert, absl::Span<const float> embedding = {});
  // Whether lines should carry embeddings (FewShotOptions::encoder_weight > 0).
  bool wants_embeddings() const { return options_.encoder_weight > 0; }
  // Drops the window's embeddings (a new model embeds differently); the labels' come with the next
  // Begin ... End.
  void ForgetEmbeddings();

  // What the labels say about a line of `source`: nullopt when no label is within `match` (the
  // label-free decision stands, subject to KeepsAlert); otherwise the nearest label's verdict.
  std::optional<fewshot::FewShotDetector::Decision> Decide(int source, int32_t template_id,
                                                           std::string_view content) const;
  // For a line no label decided that the label-free detector alerted on: whether the alert stands
  // (its squashed score reaches threshold(source), or the labels lowered that threshold). True while
  // the source has no labels or fewer than kMinWindow observed lines.
  bool KeepsAlert(int source, double fused_score) const;
  // The decision on a line no label decided, given the label-free one (`free_alert`): that decision
  // while no few-shot threshold applies; otherwise free_alert AND the squashed score reaches
  // threshold(source), or, when the labels lowered it (lowered(source)), free_alert OR it does.
  // With the encoder rule in force for the source (encoder(source)): whether the line's fused score
  // (its `embedding` with its score) reaches the threshold.
  bool Alerts(int source, double fused_score, bool free_alert, absl::Span<const float> embedding = {}) const;
  // For a line no label decided that the label-free detector alerted on and Alerts silenced: whether
  // its alert stands all the same because no normal label of `source` is near it
  // (fewshot::FewShotOptions::keep_alert_match > 0, detect.fewshot_keep_alert_match; see
  // FewShotDetector::NormalLabelNear). False when the option is off, the source has no few-shot
  // threshold in force, or its detector uses the encoder rule.
  bool KeepsLabelFreeAlert(int source, int32_t template_id, std::string_view content) const;
  // The source's detector judges undecided lines by the encoder rule (fewshot::FewShotDetector::encoder).
  bool encoder(int source) const;
  // The labels lowered the source's few-shot threshold below the operating point.
  bool lowered(int source) const;
  // The few-shot threshold on the squashed scale; 0 when none applies (see KeepsAlert).
  double threshold(int source) const;
  // Distinct labelled token sets of `source` in the current support (lines with the same tokens are
  // one unit, labelled by the newest verdict).
  size_t labels(int source) const;
  // The source's window as the few-shot rule's reference (detector choice, common/fewshot/
  // detector_choice.h): its squashed scores, sorted, and the operating point at its alert rate. False
  // while it holds fewer than kMinWindow lines (or the source is out of range).
  bool Reference(int source, std::vector<double>* sorted, double* operating_point) const;
  const fewshot::FewShotOptions& options() const { return options_; }

 private:
  struct Window {
    std::vector<double> scores;  // squashed, a ring of at most kWindow
    std::vector<uint8_t> alerts;
    std::vector<std::vector<float>> embeddings;  // per slot (empty: none)
    int64_t since_fit = 0;  // lines observed since the last Fit
    size_t next = 0;
  };
  static void Deduplicate(std::vector<fewshot::Unit>* support, std::vector<int>* labels);
  void Fit(size_t source);
  explicit LiveFewShot(size_t sources, const fewshot::FewShotOptions& options)
      : options_(options), support_(sources), labels_(sources), detectors_(sources), windows_(sources) {}

  fewshot::FewShotOptions options_;
  std::vector<std::vector<fewshot::Unit>> support_;  // per source
  std::vector<std::vector<int>> labels_;
  std::vector<std::optional<fewshot::FewShotDetector>> detectors_;
  std::vector<Window> windows_;
  mutable fewshot::Unit scratch_;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_LIVE_FEWSHOT_H_
