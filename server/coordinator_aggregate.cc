// Turning a round's stored updates into the next model version: the run's strategy aggregates the deltas
// straight from their files (fl::AggregateUpdateFiles: streaming into one accumulator for the means, column
// blocks for the robust statistics), the server optimiser applies the result in place, and the next model is
// written to disk tensor by tensor.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/server_optimizer.h"
#include "common/fl/strategy.h"
#include "common/fl/stream_aggregate.h"
#include "server/coordinator.h"

namespace fedlog::server {
namespace {

// Optimiser moments are stored per model version, so re-aggregating a round after a crash starts from the same
// state instead of applying a step twice.
std::string OptimizerStatePath(const std::string& data_dir, int64_t version) {
  return JoinPath(data_dir, absl::StrFormat("models/opt_v%06d.bundle", version));
}

}  // namespace

std::vector<std::string> Coordinator::SourcesOf(const std::string& site_id) {
  std::vector<std::string> out;
  absl::StatusOr<std::optional<SiteRecord>> site = store_->GetSite(site_id);
  if (site.ok() && site->has_value()) {
    for (const auto& s : (*site)->hello.sources()) out.push_back(s.name());
  }
  return out;
}

absl::StatusOr<fl::TensorBundle> Coordinator::AggregateDelta(const fl::BundleLayout& global, const v1::RunPlan& plan,
                                                             const std::vector<UpdateRecord>& updates) {
  fl::StrategyOptions so;
  FEDLOG_ASSIGN_OR_RETURN(so.kind, fl::ParseStrategy(plan.strategy()));
  so.trim_fraction = plan.trim_fraction();
  so.clip_norm = plan.clip_norm();
  std::vector<fl::UpdateFile> files;
  for (const UpdateRecord& u : updates) {
    files.push_back({u.site_id, u.path, u.sha256,
                     {u.num_samples, u.distinct_templates, u.imbalance, SourcesOf(u.site_id)}});
  }
  fl::StreamAggregateOptions sao;
  sao.scratch_dir = blobs_->ScratchDir();
  return fl::AggregateUpdateFiles(global, files, so, sao);
}

absl::StatusOr<std::pair<v1::ModelManifest, std::string>> Coordinator::Aggregate(
    const RoundRecord& round, const v1::RunPlan& plan, const std::vector<UpdateRecord>& updates) {
  FEDLOG_ASSIGN_OR_RETURN(auto base, store_->GetModel(round.model_in));
  if (!base) return absl::InternalError(absl::StrCat("model v", round.model_in, " missing"));
  FEDLOG_ASSIGN_OR_RETURN(auto layout, blobs_->SharedLayout(base->second, base->first.sha256()));
  // Memory: the accumulator (one model) plus one tensor of one update while aggregating; then the global model
  // next to it while the server step turns the mean into the next model in place.
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle next, AggregateDelta(*layout, plan, updates));
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
  {
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle global, blobs_->ReadBundle(base->second, base->first.sha256()));
    FEDLOG_RETURN_IF_ERROR(fl::ApplyServerUpdateInPlace(global, oo, &state, &next));
  }

  double loss_sum = 0;
  int64_t samples = 0;
  for (const UpdateRecord& u : updates) {
    loss_sum += u.train_loss * static_cast<double>(u.num_samples);
    samples += u.num_samples;
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t max_version, store_->MaxModelVersion());
  const int64_t version = max_version + 1;
  if (oo.kind != fl::ServerOptimizerKind::kNone) {
    FEDLOG_ASSIGN_OR_RETURN(std::string sbytes, fl::EncodeBundle(fl::StateToBundle(state)));
    FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(OptimizerStatePath(options_.data_dir, version), sbytes));
  }
  FEDLOG_ASSIGN_OR_RETURN(StoredBlob blob, blobs_->WriteModel(version, next));
  v1::ModelManifest m;
  m.set_version(version);
  m.set_parent(round.model_in);
  m.set_run_id(round.run_id);
  m.set_round(round.round);
  m.set_strategy(plan.server_optimizer().empty() || plan.server_optimizer() == "none"
                     ? plan.strategy()
                     : absl::StrCat(plan.strategy(), "+", plan.server_optimizer()));
  (*m.mutable_metrics())["mean_train_loss"] = samples > 0 ? loss_sum / static_cast<double>(samples) : 0;
  (*m.mutable_metrics())["update_norm"] = update_norm;
  m.set_sha256(blob.sha256);
  m.set_size_bytes(blob.size_bytes);
  m.set_created_ms(NowMs());
  *m.mutable_spec() = base->first.spec();
  m.set_num_samples(samples);
  m.set_num_sites(static_cast<int32_t>(updates.size()));
  return std::make_pair(m, blob.path);
}

}  // namespace fedlog::server
