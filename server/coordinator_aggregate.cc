// Turning a round's stored updates into the next model version: each update is clipped (adaptive clipping,
// common/fl/adaptive_clip.h, with the reference carried in the parent model's manifest; and clip_norm; the norms
// are composed from the part norms stored at upload, common/fl/part_norms.h, so each file is read once), then the
// run's strategy aggregates the deltas straight from their files (fl::AggregateUpdateFiles: chunks decoded into
// one accumulator for the means, column blocks for the robust statistics); then the global model is read back in
// chunks, the server optimiser turns each tensor of the mean into the next model's tensor in place, and each is
// written to disk and freed as soon as it is done. Memory: the mean (one model, shrinking during the step) plus
// the optimiser's moments, if any; the global model and the mean are never both whole in memory.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"
#include "common/fl/part_norms.h"
#include "common/fl/server_optimizer.h"
#include "common/fl/strategy.h"
#include "common/fl/stream_aggregate.h"
#include "common/model/site_model.h"
#include "server/coordinator.h"
#include "server/coordinator_checks.h"
#include "server/coordinator_kinds.h"
#include "server/coordinator_kinds_secagg.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {
namespace {

// Optimiser moments are stored per model version, so re-aggregating a round after a crash starts from the same
// state instead of applying a step twice.
std::string OptimizerStatePath(const std::string& data_dir, int64_t version) {
  return JoinPath(data_dir, absl::StrFormat("models/opt_v%06d.bundle", version));
}

// Streams the global model through the server step: BeginTensor..EndTensor of global tensor `name` turn the
// mean's tensor of that name into the next model's, which is appended to `writer` and freed. The run's schema
// holds on the way out: an optional tensor outside it (`schema`, fl::InOptionalSchema; a global model written
// before the schema was enforced may hold one) is dropped, with a log line, instead of entering the next model.
class ServerStepSink : public fl::TensorSink {
 public:
  ServerStepSink(fl::TensorBundle* mean, const fl::ServerOptimizerOptions& options, fl::ServerOptimizerState* state,
                 fl::BundleFileWriter* writer, const fl::UpdateCheckOptions* schema)
      : mean_(mean), options_(options), state_(state), writer_(writer), schema_(schema) {}

  absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) override {
    skipping_ = false;
    if (schema_ != nullptr && fl::IsOptionalTensor(name) && !InSchema(name, shape)) {
      Drop(name);
      skipping_ = true;
      return absl::OkStatus();
    }
    tensor_ = mean_->Find(name);
    if (tensor_ == nullptr || tensor_->shape != shape || written_.count(name) ||
        static_cast<int64_t>(tensor_->values.size()) != fl::NumElementsOf(shape)) {
      return absl::InvalidArgumentError(absl::StrCat("aggregated delta does not match the model at '", name, "'"));
    }
    done_ = 0;
    return absl::OkStatus();
  }
  absl::Status TensorValues(const float* base, size_t n) override {
    if (skipping_) return absl::OkStatus();
    if (done_ + n > tensor_->values.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("aggregated delta does not match the model at '", tensor_->name, "'"));
    }
    FEDLOG_RETURN_IF_ERROR(fl::ApplyServerUpdateSpan(tensor_->name, done_, base, n, options_, state_,
                                                     tensor_->values.data() + done_));
    done_ += n;
    return absl::OkStatus();
  }
  absl::Status EndTensor() override { return skipping_ ? absl::OkStatus() : Emit(tensor_); }

  // Writes the mean's tensors the global model lacks (optional tensors new to it: base 0, so next = delta), if
  // they are in the schema.
  absl::Status EmitRest() {
    for (auto& t : mean_->tensors) {
      if (written_.count(t.name) || dropped_.count(t.name)) continue;
      if (schema_ != nullptr && (!fl::IsOptionalTensor(t.name) || !InSchema(t.name, t.shape))) {
        Drop(t.name);
        continue;
      }
      FEDLOG_RETURN_IF_ERROR(Emit(&t));
    }
    return absl::OkStatus();
  }
  fl::BundleLayout TakeLayout() { return std::move(layout_); }

 private:
  bool InSchema(const std::string& name, const std::vector<int64_t>& shape) const {
    absl::StatusOr<std::vector<int64_t>> expected = fl::ExpectedOptionalShape(name, *schema_);
    return expected.ok() && *expected == shape;
  }
  void Drop(const std::string& name) {
    // The name is printed escaped: it came from a site.
    FEDLOG_LOG(WARNING) << "tensor '" << PrintableText(name) << "' is not in the run's model schema: left out";
    dropped_.insert(name);
  }

  absl::Status Emit(fl::NamedTensor* t) {
    FEDLOG_RETURN_IF_ERROR(writer_->Append(*t));
    written_.insert(t->name);
    layout_.push_back({t->name, t->shape});
    std::vector<float>().swap(t->values);
    return absl::OkStatus();
  }

  fl::TensorBundle* mean_;
  const fl::ServerOptimizerOptions& options_;
  fl::ServerOptimizerState* state_;
  fl::BundleFileWriter* writer_;
  const fl::UpdateCheckOptions* schema_;  // nullptr: no schema for optional tensors known (keep them)
  fl::NamedTensor* tensor_ = nullptr;
  bool skipping_ = false;
  size_t done_ = 0;
  std::set<std::string> written_;
  std::set<std::string> dropped_;
  fl::BundleLayout layout_;
};

}  // namespace

std::optional<SiteRecord> Coordinator::SiteRecordOf(const std::string& site_id) {
  absl::StatusOr<std::optional<SiteRecord>> site = store_->GetSite(site_id);
  if (!site.ok()) {
    FEDLOG_LOG(ERROR) << "cannot read site " << site_id << ": " << site.status();
    return std::nullopt;
  }
  return *std::move(site);
}

std::vector<std::string> Coordinator::DeclaredSourcesOf(const std::string& site_id) {
  std::vector<std::string> out;
  if (std::optional<SiteRecord> site = SiteRecordOf(site_id)) {
    for (const auto& s : site->hello.sources()) out.push_back(s.name());
  }
  return out;
}

std::vector<std::string> Coordinator::EntitledSourcesOf(const std::string& site_id) {
  std::optional<SiteRecord> site = SiteRecordOf(site_id);
  return site ? EntitledSources(*site) : std::vector<std::string>();
}

absl::StatusOr<fl::TensorBundle> Coordinator::AggregateDelta(const fl::BundleLayout& global, const v1::RunPlan& plan,
                                                             const std::vector<UpdateRecord>& updates,
                                                             const std::vector<std::vector<std::string>>& sources,
                                                             fl::ClipDecision* clip) {
  fl::StrategyOptions so;
  FEDLOG_ASSIGN_OR_RETURN(so.kind, fl::ParseStrategy(plan.strategy()));
  so.trim_fraction = plan.trim_fraction();
  so.clip_norm = plan.clip_norm();
  // Site-level DP updates are noised at the sites: scaling one down would scale its noise share too.
  so.adaptive_clip_multiple = SiteLevelDp(plan) ? 0 : AdaptiveClipMultiple(plan);
  so.carried_reference = clip->reference;
  so.max_weight_share = plan.max_site_weight_share() > 0 ? plan.max_site_weight_share() : kDefaultMaxWeightShare;
  std::vector<fl::UpdateFile> files;
  for (size_t i = 0; i < updates.size(); ++i) {
    const UpdateRecord& u = updates[i];
    // Every file is hashed again while it is read: what is aggregated is what was accepted, and what its part
    // norms (computed from the content of that digest at upload) describe.
    files.push_back({u.site_id, u.path, u.sha256, {u.num_samples, u.distinct_templates, u.imbalance, sources[i]},
                     std::nullopt});
    if (!u.part_norms.empty()) {
      absl::StatusOr<fl::PartNorms> parts = fl::DecodePartNorms(u.part_norms);
      if (parts.ok()) {
        files.back().part_norms = *std::move(parts);
      } else {
        FEDLOG_LOG(WARNING) << "stored part norms of " << u.site_id << "'s update are unreadable (" << parts.status()
                            << "): computing them from the file";
      }
    }
  }
  fl::StreamAggregateOptions sao;
  sao.scratch_dir = blobs_->ScratchDir();
  return fl::AggregateUpdateFiles(global, files, so, sao, clip);
}

absl::Status Coordinator::DescribeClipping(const RoundRecord& round, v1::RoundSummary* summary) {
  if (round.state != "done" || round.model_out <= 0) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(auto model, store_->GetModel(round.model_out));
  if (!model) return absl::OkStatus();
  const auto& metrics = model->first.metrics();
  if (auto it = metrics.find(kClippedUpdatesMetric); it != metrics.end()) {
    summary->set_clipped_updates(static_cast<int32_t>(it->second));
  }
  if (auto it = metrics.find(kClipBoundMetric); it != metrics.end()) summary->set_clip_bound(it->second);
  if (auto it = metrics.find("secagg_cohorts"); it != metrics.end()) {
    summary->set_secagg_cohorts(static_cast<int32_t>(it->second));
  }
  if (auto it = metrics.find("secagg_cohorts_dropped"); it != metrics.end()) {
    summary->set_secagg_cohorts_dropped(static_cast<int32_t>(it->second));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<v1::ModelManifest, std::string>> Coordinator::Aggregate(
    const RoundRecord& round, const v1::RunPlan& plan, const std::vector<UpdateRecord>& reported) {
  FEDLOG_ASSIGN_OR_RETURN(auto base, store_->GetModel(round.model_in));
  if (!base) return absl::InternalError(absl::StrCat("model v", round.model_in, " missing"));
  FEDLOG_ASSIGN_OR_RETURN(auto layout, blobs_->SharedLayout(base->second, base->first.sha256()));
  // Bounded influence: each site's sample count capped by the plan's ceiling and the lines it declared; the
  // strategy then caps each site's share of the round's weight.
  std::vector<UpdateRecord> updates = reported;
  std::vector<std::vector<std::string>> sources;
  for (UpdateRecord& u : updates) {
    std::optional<SiteRecord> site = SiteRecordOf(u.site_id);
    const int64_t declared = site ? DeclaredLines(*site) : 0;
    u.num_samples = EffectiveSamples(u.num_samples, plan.max_site_samples(), declared);
    sources.push_back(site ? EntitledSources(*site) : std::vector<std::string>());
  }
  // Site-level DP: equal weights, so the mean is the noised sum over n sites divided by n and one site moves it
  // by at most dp_clip / n (a weight by samples would let a site with a large count move it further than the
  // noise covers; docs/PRIVACY.md).
  std::vector<UpdateRecord> weighed = updates;
  if (SiteLevelDp(plan)) {
    for (UpdateRecord& u : weighed) u.num_samples = 1;
  }
  // Adaptive clipping's reference carried from the previous round of this run (kept in its model's manifest, so
  // a restarted aggregator carries it too).
  fl::ClipDecision clip;
  if (base->first.run_id() == round.run_id) {
    if (auto it = base->first.metrics().find(kClipReferenceMetric); it != base->first.metrics().end()) {
      clip.reference = it->second;
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle next, AggregateDelta(*layout, plan, weighed, sources, &clip));
  double largest_ratio = 0;
  for (double r : clip.ratios) largest_ratio = std::max(largest_ratio, r);
  FEDLOG_LOG(INFO) << "run " << round.run_id << " round " << round.round << ": clipped " << clip.clipped << " of "
                   << updates.size() << " updates (bound " << clip.bound << ", reference norm " << clip.reference
                   << ", largest norm/reference " << largest_ratio << ")";
  double loss_sum = 0;
  int64_t samples = 0;
  for (const UpdateRecord& u : updates) {
    loss_sum += u.train_loss * static_cast<double>(u.num_samples);
    samples += u.num_samples;
  }
  // The round's message-kind counts (plain rounds; read before the model is written, so a damaged file fails
  // the round instead of shipping a model without them).
  std::vector<std::vector<v1::KindCounts>> kind_counts;
  for (const UpdateRecord& u : updates) {
    FEDLOG_ASSIGN_OR_RETURN(std::vector<v1::KindCounts> k, ReadKindCounts(u.path));
    kind_counts.push_back(std::move(k));
  }
  FEDLOG_ASSIGN_OR_RETURN(auto result, ApplyDelta(round, plan, std::move(next), samples,
                                                  samples > 0 ? loss_sum / static_cast<double>(samples) : 0,
                                                  static_cast<int>(updates.size())));
  (*result.first.mutable_metrics())[kClipReferenceMetric] = clip.reference;
  (*result.first.mutable_metrics())[kClipBoundMetric] = clip.bound;
  (*result.first.mutable_metrics())[kClippedUpdatesMetric] = clip.clipped;
  for (v1::KindCounts& k : SumKindCounts(kind_counts, kKindSuppressBelow)) {
    *result.first.add_kind_counts() = std::move(k);
  }
  // Sources this round brought no counts for (a DP round brings none) keep the parent's.
  CarryForwardKindCounts(base->first, &result.first);
  return result;
}

absl::StatusOr<std::pair<v1::ModelManifest, std::string>> Coordinator::ApplyDelta(const RoundRecord& round,
                                                                                  const v1::RunPlan& plan,
                                                                                  fl::TensorBundle next,
                                                                                  int64_t samples, double mean_loss,
                                                                                  int sites) {
  FEDLOG_ASSIGN_OR_RETURN(auto base, store_->GetModel(round.model_in));
  if (!base) return absl::InternalError(absl::StrCat("model v", round.model_in, " missing"));
  FEDLOG_ASSIGN_OR_RETURN(auto layout, blobs_->SharedLayout(base->second, base->first.sha256()));
  const double update_norm = std::sqrt(next.SquaredNorm());

  fl::ServerOptimizerOptions oo;
  FEDLOG_ASSIGN_OR_RETURN(oo.kind, fl::ParseServerOptimizer(plan.server_optimizer()));
  oo.server_lr = plan.server_lr() > 0 ? plan.server_lr() : 1.0;
  oo.lr = plan.server_lr() > 0 ? plan.server_lr() : 1e-2;
  fl::ServerOptimizerState state;
  const std::string in_state = OptimizerStatePath(options_.data_dir, round.model_in);
  if (oo.kind != fl::ServerOptimizerKind::kNone && FileExists(in_state)) {
    FEDLOG_ASSIGN_OR_RETURN(std::string bytes, ReadFile(in_state));
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle sb, fl::DecodeBundle(bytes));
    FEDLOG_ASSIGN_OR_RETURN(state, fl::StateFromBundle(sb));
  }
  FEDLOG_RETURN_IF_ERROR(fl::PrepareServerUpdate(*layout, oo, &state));
  FEDLOG_ASSIGN_OR_RETURN(int64_t max_version, store_->MaxModelVersion());
  const int64_t version = max_version + 1;
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<fl::BundleFileWriter> writer, blobs_->BeginModel(version));
  // The run's schema for optional tensors (model::SiteModel::OptionalSchema): line_encoder models take adapters
  // and prototypes.global in the spec's shapes; other models none beyond those they have.
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> site_model, model::CreateSiteModel(base->first.spec()));
  const std::optional<fl::UpdateCheckOptions> schema = site_model->OptionalSchema();
  ServerStepSink step(&next, oo, &state, writer.get(), schema ? &*schema : nullptr);
  // The global model's digest was checked when this process first read or wrote it (ModelBlobs::VerifyOnce).
  FEDLOG_RETURN_IF_ERROR(fl::ReadBundleFileChunks(base->second, {blobs_->IsVerified(base->second)
                                                                     ? std::string()
                                                                     : base->first.sha256()},
                                                  &step));
  FEDLOG_RETURN_IF_ERROR(step.EmitRest());
  fl::FinishServerUpdate(oo, &state);
  FEDLOG_ASSIGN_OR_RETURN(StoredBlob blob, blobs_->CommitModel(version, writer.get(), step.TakeLayout()));

  if (oo.kind != fl::ServerOptimizerKind::kNone) {
    FEDLOG_ASSIGN_OR_RETURN(std::string sbytes, fl::EncodeBundle(fl::StateToBundle(state)));
    FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(OptimizerStatePath(options_.data_dir, version), sbytes));
  }
  v1::ModelManifest m;
  m.set_version(version);
  m.set_parent(round.model_in);
  m.set_run_id(round.run_id);
  m.set_round(round.round);
  m.set_strategy(plan.server_optimizer().empty() || plan.server_optimizer() == "none"
                     ? plan.strategy()
                     : absl::StrCat(plan.strategy(), "+", plan.server_optimizer()));
  (*m.mutable_metrics())["mean_train_loss"] = mean_loss;
  (*m.mutable_metrics())["update_norm"] = update_norm;
  m.set_sha256(blob.sha256);
  m.set_size_bytes(blob.size_bytes);
  m.set_created_ms(NowMs());
  *m.mutable_spec() = base->first.spec();
  m.set_num_samples(samples);
  m.set_num_sites(static_cast<int32_t>(sites));
  return std::make_pair(m, blob.path);
}

}  // namespace fedlog::server
