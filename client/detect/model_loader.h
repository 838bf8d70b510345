// Loading the promoted model for detection: <data_dir>/promoted_model.{bundle,manifest} (fetched by
// the site daemon) become one torch-free LineScorer per configured source, built with
// model::BuildSiteDetector from the source's adapter, its prototypes (adapter.<source>.prototypes,
// else prototypes.global) and the site's own labels (feedback verdicts, labels file) as support.
// Thread-safety: LoadDetectionModel is reentrant; a DetectionModel is used by one thread.
#ifndef FEDLOG_CLIENT_DETECT_MODEL_LOADER_H_
#define FEDLOG_CLIENT_DETECT_MODEL_LOADER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/detect/detect_store.h"
#include "common/model/encoder_types.h"
#include "common/model/line_scorer.h"

namespace fedlog::client::detect {

struct DetectionModel {
  int64_t version = 0;
  model::EncoderSpec spec;                           // without adapters
  std::map<std::string, model::LineScorer> scorers;  // per source name
  std::map<std::string, float> thresholds;           // per source name
  std::map<std::string, int> shots;                  // labeled support lines used per source
};

std::string PromotedBundlePath(const std::string& data_dir);
std::string PromotedManifestPath(const std::string& data_dir);

// NotFound when the model files are absent; FailedPrecondition for an arch other than line_encoder
// or when no source got a detector (each failing source is named in the message).
// `threshold_override` > 0 replaces each detector's threshold.
absl::StatusOr<std::unique_ptr<DetectionModel>> LoadDetectionModel(
    const std::string& data_dir, const std::vector<std::string>& sources,
    const std::vector<LabeledLine>& labels, float threshold_override);

// An in-memory variant (benchmarks, tests): `weights` with a manifest's spec already decoded.
absl::StatusOr<std::unique_ptr<DetectionModel>> BuildDetectionModel(
    const model::EncoderSpec& spec, const fl::TensorBundle& weights, int64_t version,
    const std::vector<std::string>& sources, const std::vector<LabeledLine>& labels,
    float threshold_override);

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_MODEL_LOADER_H_
