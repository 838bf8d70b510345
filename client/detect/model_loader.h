// Loading the promoted model for detection: <data_dir>/promoted_model.{bundle,manifest} (fetched by
// the site daemon), or the site's personalisation of it, <data_dir>/personal_model.{bundle,manifest}
// (written by the daemon when `personalise_rounds` > 0 and its local rounds won on validation),
// become one torch-free LineScorer per configured source, built with
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
#include "common/kinds/kind_sketch.h"
#include "common/model/encoder_types.h"
#include "common/model/line_scorer.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::client::detect {

struct DetectionModel {
  int64_t version = 0;
  model::EncoderSpec spec;                           // without adapters
  std::map<std::string, model::LineScorer> scorers;  // per source name
  std::map<std::string, float> thresholds;           // per source name
  std::map<std::string, int> shots;                  // labeled support lines used per source
  bool personalised = false;  // built from the site's personal model rather than the promoted one
  // The federation's message-kind counts per source name (ModelManifest.kind_counts; empty: none).
  std::map<std::string, kinds::KindSketch> kinds;
};

// Fills model->kinds from the manifest's kind_counts for the sources in `sources`; an entry that fails
// kinds::KindSketch::FromSparse is left out with a warning (the model itself stays usable).
void AttachKindCounts(const v1::ModelManifest& manifest, const std::vector<std::string>& sources,
                      DetectionModel* model);

std::string PromotedBundlePath(const std::string& data_dir);
std::string PromotedManifestPath(const std::string& data_dir);
// The personal model: a copy of the promoted manifest (same version and spec) with the sha256 and
// size of the personal bundle, plus metrics personalise_rounds and personalise_val_f1_{global,
// personal}. The daemon writes the bundle first, the manifest second.
std::string PersonalBundlePath(const std::string& data_dir);
std::string PersonalManifestPath(const std::string& data_dir);

// Loads the personal model when its manifest parses, names the promoted manifest's version and its
// non-empty sha256 matches its bundle; else (absent, stale: of an older version, half-written,
// corrupt) the promoted model. NotFound when the promoted model files are absent;
// FailedPrecondition for a model that cannot detect (model::SiteModel::DetectorSpec: an
// mlp_autoencoder) or when no source got a detector (each failing source is named in the message);
// InvalidArgument for an unknown arch or a bad shape. `threshold_override` > 0 replaces each detector's
// threshold.
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
