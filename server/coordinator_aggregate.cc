// Turning a round's stored updates into the next model version: the run's strategy aggregates the deltas
// (streaming for the means, all at once for the robust statistics), then the server optimiser applies them.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/fedavg.h"
#include "common/fl/server_optimizer.h"
#include "common/fl/strategy.h"
#include "server/coordinator.h"

namespace fedlog::server {
namespace {

double ClipFactor(const fl::TensorBundle& delta, double clip_norm) {
  if (clip_norm <= 0) return 1.0;
  double norm = std::sqrt(delta.SquaredNorm());
  return norm > clip_norm ? clip_norm / norm : 1.0;
}

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

absl::StatusOr<fl::TensorBundle> Coordinator::AggregateDelta(const fl::TensorBundle& global, const v1::RunPlan& plan,
                                                             const std::vector<UpdateRecord>& updates) {
  fl::StrategyOptions so;
  FEDLOG_ASSIGN_OR_RETURN(so.kind, fl::ParseStrategy(plan.strategy()));
  so.trim_fraction = plan.trim_fraction();
  so.clip_norm = plan.clip_norm();
  std::vector<fl::UpdateStats> stats;
  for (const UpdateRecord& u : updates) {
    stats.push_back({u.num_samples, u.distinct_templates, u.imbalance, SourcesOf(u.site_id)});
  }
  if (so.kind == fl::StrategyKind::kFedAvg || so.kind == fl::StrategyKind::kWeightedFedAvg) {
    FEDLOG_ASSIGN_OR_RETURN(std::vector<double> weights, fl::ComputeWeights(stats, so));
    fl::WeightedAverager averager(global);  // one delta in memory at a time
    for (size_t i = 0; i < updates.size(); ++i) {
      FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle delta, blobs_->ReadBundle(updates[i].path, updates[i].sha256));
      FEDLOG_RETURN_IF_ERROR(averager.Add(delta, weights[i], stats[i].sources, ClipFactor(delta, so.clip_norm)));
    }
    return averager.Mean();
  }
  std::vector<fl::TensorBundle> deltas(updates.size());
  std::vector<fl::ClientUpdate> inputs;
  for (size_t i = 0; i < updates.size(); ++i) {
    FEDLOG_ASSIGN_OR_RETURN(deltas[i], blobs_->ReadBundle(updates[i].path, updates[i].sha256));
    inputs.push_back({updates[i].site_id, &deltas[i], stats[i]});
  }
  return fl::AggregateDeltas(global, inputs, so);
}

absl::StatusOr<std::pair<v1::ModelManifest, std::string>> Coordinator::Aggregate(
    const RoundRecord& round, const v1::RunPlan& plan, const std::vector<UpdateRecord>& updates) {
  FEDLOG_ASSIGN_OR_RETURN(auto base, store_->GetModel(round.model_in));
  if (!base) return absl::InternalError(absl::StrCat("model v", round.model_in, " missing"));
  FEDLOG_ASSIGN_OR_RETURN(auto shared_global, blobs_->SharedBundle(base->second, base->first.sha256()));
  const fl::TensorBundle& global = *shared_global;
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle mean, AggregateDelta(global, plan, updates));

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
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle next, fl::ApplyServerUpdate(global, mean, oo, &state));

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
  (*m.mutable_metrics())["update_norm"] = std::sqrt(mean.SquaredNorm());
  m.set_sha256(blob.sha256);
  m.set_size_bytes(blob.size_bytes);
  m.set_created_ms(NowMs());
  *m.mutable_spec() = base->first.spec();
  m.set_num_samples(samples);
  m.set_num_sites(static_cast<int32_t>(updates.size()));
  return std::make_pair(m, blob.path);
}

}  // namespace fedlog::server
