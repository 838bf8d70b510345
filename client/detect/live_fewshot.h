// LiveFewShot: the few-shot detector (common/fewshot, docs/DETECTION.md "Labels in live detection")
// for the sources that live detection scores label-free (LabelFreeScorer). Its support is the site's
// labelled lines of each source: DetectStore's labels table, which `fedlog label` verdicts, `fedlog
// feedback` and the labels file fill. Detector::SyncLabelFreeLabels gives the whole set again (through
// LinePipeline::SetLabelFreeLabels) as soon as the store's label version changes, so a verdict counts
// from the next poll interval on, not from the next federated round.
// A line whose tokens (its template and its digit-free words, fewshot::AddTokens) share at least
// `match` of a labelled line of its source (Jaccard) takes that label's verdict: it alerts when the
// nearest such label is anomalous, even below the label-free threshold, and stays quiet when it is
// normal, even above it. Any other line keeps the label-free decision, whose threshold the same
// labels move (novelty::SiteThreshold).
// Torch-free and gRPC-free. Thread-compatible: owned by the LinePipeline, used by its one thread.
#ifndef FEDLOG_CLIENT_DETECT_LIVE_FEWSHOT_H_
#define FEDLOG_CLIENT_DETECT_LIVE_FEWSHOT_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fewshot/fewshot.h"

namespace fedlog::client::detect {

class LiveFewShot {
 public:
  // `sources`: how many sources the pipeline has. InvalidArgument when the options do not Validate().
  static absl::StatusOr<LiveFewShot> Create(size_t sources, const fewshot::FewShotOptions& options);

  // Replaces every source's labels: call Begin, AddLabel for each labelled line, then End.
  void Begin();
  // A labelled line of `source` (1 anomalous, 0 normal), matched to `template_id` (< 0: none).
  // Out-of-range sources are ignored.
  void AddLabel(int source, int32_t template_id, std::string_view content, int label);
  // Fits each source's detector on its labels (a source without labels has none).
  void End();

  // What the labels say about a line of `source`: nullopt when no label is within `match` (the
  // label-free decision stands); otherwise the nearest label's verdict.
  std::optional<fewshot::FewShotDetector::Decision> Decide(int source, int32_t template_id,
                                                           std::string_view content) const;
  // Distinct labelled token sets of `source` in the current support (lines with the same tokens are
  // one unit, labelled by the newest verdict).
  size_t labels(int source) const;

 private:
  static void Deduplicate(std::vector<fewshot::Unit>* support, std::vector<int>* labels);
  explicit LiveFewShot(size_t sources, const fewshot::FewShotOptions& options)
      : options_(options), support_(sources), labels_(sources), detectors_(sources) {}

  fewshot::FewShotOptions options_;
  std::vector<std::vector<fewshot::Unit>> support_;  // per source
  std::vector<std::vector<int>> labels_;
  std::vector<std::optional<fewshot::FewShotDetector>> detectors_;
  mutable fewshot::Unit scratch_;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_LIVE_FEWSHOT_H_
