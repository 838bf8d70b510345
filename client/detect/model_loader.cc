#include "client/detect/model_loader.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "common/model/site_model.h"
#include "common/model/site_round.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::client::detect {
namespace {

// The support set of `source`: its labels whose features fit the spec.
model::LineSet Support(const model::EncoderSpec& spec, const std::string& source, bool adapter,
                       const std::vector<LabeledLine>& labels) {
  model::LineSet out;
  out.dense.cols = spec.dense_dim;
  for (const LabeledLine& l : labels) {
    if (l.source != source || static_cast<int>(l.dense.size()) != spec.dense_dim) continue;
    out.tokens.push_back(l.tokens);
    out.dense.data.insert(out.dense.data.end(), l.dense.begin(), l.dense.end());
    ++out.dense.rows;
    out.sources.push_back(adapter ? source : "");
    out.labels.push_back(l.label > 0 ? 1 : 0);
  }
  return out;
}

absl::StatusOr<v1::ModelManifest> ReadManifest(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  v1::ModelManifest manifest;
  if (!manifest.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " does not parse"));
  }
  return manifest;
}

// The personal bundle's weights when the personal model belongs to promoted version `version`;
// otherwise why it is not used (NotFound when there is none).
absl::StatusOr<fl::TensorBundle> PersonalWeights(const std::string& data_dir, int64_t version) {
  const std::string manifest_path = PersonalManifestPath(data_dir);
  if (!FileExists(manifest_path)) return absl::NotFoundError("no personal model");
  FEDLOG_ASSIGN_OR_RETURN(v1::ModelManifest manifest, ReadManifest(manifest_path));
  if (manifest.version() != version) {
    return absl::FailedPreconditionError(absl::StrCat("personal model of v", manifest.version(),
                                                      " is stale (promoted: v", version, ")"));
  }
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, ReadFile(PersonalBundlePath(data_dir)));
  if (manifest.sha256().empty() || Sha256Hex(bytes) != manifest.sha256()) {
    return absl::FailedPreconditionError(
        absl::StrCat("personal model of v", version, ": bundle does not match its manifest"));
  }
  return fl::DecodeBundle(bytes);
}

}  // namespace

std::string PersonalBundlePath(const std::string& data_dir) {
  return JoinPath(data_dir, "personal_model.bundle");
}
std::string PersonalManifestPath(const std::string& data_dir) {
  return JoinPath(data_dir, "personal_model.manifest");
}

std::string PromotedBundlePath(const std::string& data_dir) {
  return JoinPath(data_dir, "promoted_model.bundle");
}
std::string PromotedManifestPath(const std::string& data_dir) {
  return JoinPath(data_dir, "promoted_model.manifest");
}

absl::StatusOr<std::unique_ptr<DetectionModel>> BuildDetectionModel(
    const model::EncoderSpec& spec, const fl::TensorBundle& weights, int64_t version,
    const std::vector<std::string>& sources, const std::vector<LabeledLine>& labels,
    float threshold_override) {
  auto out = std::make_unique<DetectionModel>();
  out->version = version;
  out->spec = spec;
  out->spec.sources.clear();
  std::vector<std::string> failures;
  for (const std::string& source : sources) {
    const bool adapter = weights.Find(absl::StrCat("adapter.", source, ".down.weight")) != nullptr;
    const model::EncoderSpec site = model::SiteSpec(
        out->spec, adapter ? std::vector<std::string>{source} : std::vector<std::string>{});
    model::AdaptOptions adapt;
    adapt.runtime.device = "cpu";
    adapt.runtime.threads = 0;  // leave torch's pool to the rest of the process
    auto detector = model::BuildSiteDetector(site, weights, Support(site, source, adapter, labels),
                                             model::LineSet{}, adapt);
    if (!detector.ok()) {
      failures.push_back(absl::StrCat(source, ": ", detector.status().message()));
      continue;
    }
    FEDLOG_ASSIGN_OR_RETURN(model::LineScorer scorer, model::LineScorer::Create(site, *detector));
    out->thresholds[source] = threshold_override > 0 ? threshold_override : detector->threshold;
    out->shots[source] = detector->shots;
    out->scorers.emplace(source, std::move(scorer));
  }
  if (out->scorers.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no source got a detector from model v", version, ": ", absl::StrJoin(failures, "; ")));
  }
  for (const std::string& f : failures)
    FEDLOG_LOG(WARNING) << "detect: model v" << version << " " << f;
  return out;
}

absl::StatusOr<std::unique_ptr<DetectionModel>> LoadDetectionModel(
    const std::string& data_dir, const std::vector<std::string>& sources,
    const std::vector<LabeledLine>& labels, float threshold_override) {
  const std::string manifest_path = PromotedManifestPath(data_dir);
  if (!FileExists(manifest_path)) {
    return absl::NotFoundError(absl::StrCat("no promoted model yet (", manifest_path, ")"));
  }
  FEDLOG_ASSIGN_OR_RETURN(v1::ModelManifest manifest, ReadManifest(manifest_path));
  const std::string what = absl::StrCat("model v", manifest.version());
  absl::StatusOr<std::unique_ptr<model::SiteModel>> site_model = model::CreateSiteModel(manifest.spec());
  if (!site_model.ok()) return Annotate(site_model.status(), what);
  absl::StatusOr<model::EncoderSpec> detector_spec = (*site_model)->DetectorSpec();
  if (!detector_spec.ok()) return Annotate(detector_spec.status(), what);
  const model::EncoderSpec& spec = *detector_spec;
  absl::StatusOr<fl::TensorBundle> personal = PersonalWeights(data_dir, manifest.version());
  if (personal.ok()) {
    absl::StatusOr<std::unique_ptr<DetectionModel>> model = BuildDetectionModel(
        spec, *personal, manifest.version(), sources, labels, threshold_override);
    if (model.ok()) {
      (*model)->personalised = true;
      AttachKindCounts(manifest, sources, model->get());
      return model;
    }
    personal = model.status();
  }
  if (personal.status().code() != absl::StatusCode::kNotFound) {
    FEDLOG_LOG(INFO) << "detect: personal model not used (" << personal.status().message()
                     << "); using the promoted model";
  }
  FEDLOG_ASSIGN_OR_RETURN(std::string bundle_bytes, ReadFile(PromotedBundlePath(data_dir)));
  if (!manifest.sha256().empty() && Sha256Hex(bundle_bytes) != manifest.sha256()) {
    // The daemon writes the bundle, then the manifest: between the two they disagree.
    return absl::UnavailableError(absl::StrCat("promoted model v", manifest.version(),
                                               ": bundle does not match its manifest yet"));
  }
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle weights, fl::DecodeBundle(bundle_bytes));
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<DetectionModel> model,
                          BuildDetectionModel(spec, weights, manifest.version(), sources, labels,
                                              threshold_override));
  AttachKindCounts(manifest, sources, model.get());
  return model;
}

void AttachKindCounts(const v1::ModelManifest& manifest, const std::vector<std::string>& sources,
                      DetectionModel* model) {
  for (const v1::KindCounts& k : manifest.kind_counts()) {
    if (std::find(sources.begin(), sources.end(), k.source()) == sources.end()) continue;
    absl::StatusOr<kinds::KindSketch> sketch = kinds::KindSketch::FromSparse(
        std::vector<uint32_t>(k.bucket().begin(), k.bucket().end()),
        std::vector<double>(k.count().begin(), k.count().end()));
    if (!sketch.ok()) {
      FEDLOG_LOG(WARNING) << "detect: model v" << manifest.version() << "'s kind counts for " << k.source()
                          << " left out: " << sketch.status().message();
      continue;
    }
    model->kinds.insert_or_assign(k.source(), *std::move(sketch));
  }
}

}  // namespace fedlog::client::detect
