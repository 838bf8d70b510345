#include "client/aggregator_checks.h"

#include <cmath>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/config/finite_numbers.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/fedavg.h"
#include "common/kinds/kind_sketch.h"
#include "common/model/encoder_site_data.h"
#include "common/model/site_model.h"

namespace fedlog::client {
namespace {

constexpr char kRefusalPayload[] = "fedlog.site/refused-from-aggregator";

bool IsHexDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

template <typename T>
absl::Status OutOfRange(absl::string_view what, T value, absl::string_view range) {
  return absl::InvalidArgumentError(
      absl::StrCat("the aggregator sent ", what, " = ", value, ", outside ", range));
}

absl::Status CheckCount(absl::string_view what, int64_t value, int64_t max) {
  if (value < 0 || value > max) return OutOfRange(what, value, absl::StrCat("[0, ", max, "]"));
  return absl::OkStatus();
}

// `value` in [0, max] (max may be infinity); NaN was refused by CheckFiniteNumbers already.
absl::Status CheckNonNegative(absl::string_view what, double value, double max = HUGE_VAL) {
  if (!(value >= 0 && value <= max)) return OutOfRange(what, value, absl::StrCat("[0, ", max, "]"));
  return absl::OkStatus();
}

absl::Status CheckPlan(const v1::TrainingPlan& p) {
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.local_epochs", p.local_epochs(), kMaxLocalEpochs));
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.batch_size", p.batch_size(), kMaxBatchSize));
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.max_samples", p.max_samples(), INT32_MAX));
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.contrastive_steps", p.contrastive_steps(), kMaxLocalSteps));
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.meta_iterations", p.meta_iterations(), kMaxLocalSteps));
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.inner_steps", p.inner_steps(), kMaxInnerSteps));
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.line_dp_normal_lines", p.line_dp_normal_lines(), kMaxBatchSize));
  FEDLOG_RETURN_IF_ERROR(CheckCount("plan.line_dp_prototype_round", p.line_dp_prototype_round(), INT32_MAX));
  FEDLOG_RETURN_IF_ERROR(
      CheckCount("plan.line_dp_prototype_noise_shares", p.line_dp_prototype_noise_shares(), INT32_MAX));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("plan.learning_rate", p.learning_rate()));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("plan.fedprox_mu", p.fedprox_mu()));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("plan.line_dp_noise_multiplier", p.line_dp_noise_multiplier()));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("plan.line_dp_clip", p.line_dp_clip()));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("plan.line_dp_anomalous_rate", p.line_dp_anomalous_rate(), 1));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("plan.line_dp_count_noise", p.line_dp_count_noise()));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("plan.line_dp_prototype_noise", p.line_dp_prototype_noise()));
  if (!(p.line_dp_delta() >= 0 && p.line_dp_delta() < 1)) {
    return OutOfRange("plan.line_dp_delta", p.line_dp_delta(), "[0, 1)");
  }
  return absl::OkStatus();
}

absl::Status CheckDp(const v1::RoundTask& t) {
  if (!t.dp_mode().empty() && t.dp_mode() != "none" && t.dp_mode() != "site" && t.dp_mode() != "line") {
    return absl::InvalidArgumentError(
        absl::StrCat("the aggregator sent dp_mode '", LoggableText(t.dp_mode()), "' (site, line or none)"));
  }
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("dp_noise_multiplier", t.dp_noise_multiplier()));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("dp_clip", t.dp_clip()));
  FEDLOG_RETURN_IF_ERROR(CheckCount("dp_min_sites", t.dp_min_sites(), INT32_MAX));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("dp_sampling_rate", t.dp_sampling_rate(), 1));
  FEDLOG_RETURN_IF_ERROR(CheckNonNegative("dp_epsilon_after", t.dp_epsilon_after()));
  if (!(t.dp_delta() >= 0 && t.dp_delta() < 1)) return OutOfRange("dp_delta", t.dp_delta(), "[0, 1)");
  return absl::OkStatus();
}

// Float32 parameters a chain of layers of `widths` has at least: the weight of each pair of adjacent widths.
double ChainParameters(const std::vector<double>& widths) {
  double n = 0;
  for (size_t i = 1; i < widths.size(); ++i) n += widths[i - 1] * widths[i];
  return n;
}

absl::Status CheckHelloResponseImpl(const v1::HelloResponse& r) {
  FEDLOG_RETURN_IF_ERROR(CheckCount("heartbeat_interval_ms", r.heartbeat_interval_ms(), kMaxAggregatorIntervalMs));
  return CheckCount("max_poll_wait_ms", r.max_poll_wait_ms(), kMaxAggregatorIntervalMs);
}

absl::Status CheckModelSpecImpl(const v1::ModelSpec& spec, int64_t max_model_bytes) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> site_model, model::CreateSiteModel(spec));
  double parameters = 0;
  if (site_model->arch() == "mlp_autoencoder") {
    std::vector<double> widths = {static_cast<double>(spec.input_dim())};
    for (int32_t h : spec.hidden()) widths.push_back(h);
    widths.push_back(spec.input_dim());
    for (double w : widths) {
      if (w <= 0) return absl::InvalidArgumentError("the aggregator's model spec has a width that is not positive");
    }
    parameters = ChainParameters(widths);
  } else {
    FEDLOG_ASSIGN_OR_RETURN(model::EncoderSpec e, model::EncoderSpecFromProto(spec));
    std::vector<double> widths = {static_cast<double>(e.token_dim) + e.dense_dim};
    for (int h : e.hidden) widths.push_back(h);
    widths.push_back(e.out_dim);
    widths.push_back(e.head_dim);
    parameters = static_cast<double>(e.vocab_buckets) * e.token_dim + ChainParameters(widths);
  }
  if (parameters * 4 > static_cast<double>(max_model_bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the aggregator's model spec needs at least ", parameters * 4, " bytes of parameters, over this site's ",
        "max_model_bytes ", max_model_bytes));
  }
  return absl::OkStatus();
}

absl::Status CheckRoundTaskImpl(const v1::RoundTask& t, int64_t max_model_bytes) {
  FEDLOG_RETURN_IF_ERROR(config::CheckFiniteNumbers(t, "the aggregator's round task"));
  if (t.run_id() <= 0 || t.model_version() <= 0 || t.round() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("the aggregator sent a round task with run ", t.run_id(),
                                                   ", round ", t.round(), ", model v", t.model_version()));
  }
  if (!t.model_sha256().empty() && !IsHexDigest(t.model_sha256())) {
    return absl::InvalidArgumentError("the aggregator's round task names a model_sha256 that is not 64 hex digits");
  }
  if (t.deadline_ms() < 0) return OutOfRange("deadline_ms", t.deadline_ms(), "[0, inf)");
  FEDLOG_RETURN_IF_ERROR(fl::ParseWireDType(t.update_dtype()).status());
  if (t.secure_aggregation() && !t.has_secagg()) {
    return absl::InvalidArgumentError("the aggregator's secure-aggregation round task carries no SecAggConfig");
  }
  FEDLOG_RETURN_IF_ERROR(CheckPlan(t.plan()));
  FEDLOG_RETURN_IF_ERROR(CheckDp(t));
  if (t.has_spec()) FEDLOG_RETURN_IF_ERROR(CheckModelSpecImpl(t.spec(), max_model_bytes));
  return absl::OkStatus();
}

absl::Status CheckManifestImpl(const v1::ModelManifest& m, int64_t requested, int64_t max_model_bytes) {
  FEDLOG_RETURN_IF_ERROR(config::CheckFiniteNumbers(m, "the aggregator's model manifest"));
  if (m.version() <= 0 || (requested > 0 && m.version() != requested)) {
    return absl::InvalidArgumentError(absl::StrCat("the aggregator sent the manifest of model v", m.version(),
                                                   requested > 0 ? absl::StrCat(" for v", requested) : ""));
  }
  if (!IsHexDigest(m.sha256())) {
    return absl::InvalidArgumentError(
        absl::StrCat("the manifest of model v", m.version(), " has a sha256 that is not 64 hex digits"));
  }
  if (m.size_bytes() <= 0 || m.size_bytes() > max_model_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the manifest of model v", m.version(), " states ",
                                                   m.size_bytes(), " bytes; this site takes 1 to ", max_model_bytes,
                                                   " (max_model_bytes)"));
  }
  FEDLOG_RETURN_IF_ERROR(CheckModelSpecImpl(m.spec(), max_model_bytes));
  std::set<std::string> sources;
  for (const v1::KindCounts& k : m.kind_counts()) {
    if (!fl::IsValidSourceName(k.source()) || !sources.insert(k.source()).second) {
      return absl::InvalidArgumentError(absl::StrCat("the manifest of model v", m.version(),
                                                     " has kind counts for a bad or repeated source '",
                                                     LoggableText(k.source()), "'"));
    }
    absl::StatusOr<kinds::KindSketch> sketch = kinds::KindSketch::FromSparse(
        std::vector<uint32_t>(k.bucket().begin(), k.bucket().end()),
        std::vector<double>(k.count().begin(), k.count().end()));
    if (!sketch.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the manifest of model v", m.version(), "'s kind counts for ",
                                                     k.source(), ": ", sketch.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDownloadedBundleImpl(const v1::ModelSpec& spec, const fl::TensorBundle& bundle,
                                       const std::vector<std::string>& sources) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> site_model, model::CreateSiteModel(spec));
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle reference, site_model->InitialWeights());
  fl::UpdateCheckOptions schema = site_model->OptionalSchema().value_or(fl::UpdateCheckOptions());
  schema.sources = sources;
  schema.max_norm = 0;
  fl::UpdateChecker checker(fl::LayoutOf(reference), schema);
  for (const fl::NamedTensor& t : bundle.tensors) {
    if (absl::Status st = checker.Check(t); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the downloaded model does not fit this site's schema: ",
                                                     st.message()));
    }
  }
  if (absl::Status st = checker.Finish(); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the downloaded model does not fit this site's schema: ",
                                                   st.message()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string LoggableText(const std::string& text, size_t max_length) {
  std::string out = text.substr(0, max_length);
  for (char& c : out) {
    if (c < 0x20 || c >= 0x7f) c = '?';  // a string from the network: no terminal escapes in our log
  }
  return out;
}

absl::Status Refusal(const absl::Status& status) {
  if (status.ok()) return status;
  absl::Status out(status.code(), LoggableText(std::string(status.message()), 2000));
  out.SetPayload(kRefusalPayload, absl::Cord("1"));
  return out;
}

bool IsRefusal(const absl::Status& status) { return status.GetPayload(kRefusalPayload).has_value(); }

absl::Status CheckHelloResponse(const v1::HelloResponse& response) {
  return Refusal(CheckHelloResponseImpl(response));
}

absl::Status CheckModelSpec(const v1::ModelSpec& spec, int64_t max_model_bytes) {
  return Refusal(CheckModelSpecImpl(spec, max_model_bytes));
}

absl::Status CheckRoundTask(const v1::RoundTask& task, int64_t max_model_bytes) {
  return Refusal(CheckRoundTaskImpl(task, max_model_bytes));
}

absl::Status CheckManifest(const v1::ModelManifest& manifest, int64_t requested, int64_t max_model_bytes) {
  return Refusal(CheckManifestImpl(manifest, requested, max_model_bytes));
}

absl::Status CheckDownloadedBundle(const v1::ModelSpec& spec, const fl::TensorBundle& bundle,
                                   const std::vector<std::string>& sources) {
  return Refusal(CheckDownloadedBundleImpl(spec, bundle, sources));
}

}  // namespace fedlog::client
