// Aggregation into new model versions, run lifecycle, and the admin queries.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/config/finite_numbers.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/fedavg.h"
#include "common/fl/plan_bounds.h"
#include "common/fl/server_optimizer.h"
#include "common/fl/strategy.h"
#include "common/model/initial_model.h"
#include "common/model/site_model.h"
#include "common/net/peer_id.h"
#include "server/coordinator.h"
#include "server/coordinator_checks.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {
namespace {

// Version 1 of a run from a finalized ModelSpec (FinalizeServerConfig fills every default). A line encoder has no
// adapters yet: they enter the global model with the first update that carries them.
absl::StatusOr<fl::TensorBundle> InitialModel(const v1::ModelSpec& spec) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> m, model::CreateSiteModel(spec));
  return m->InitialWeights();
}

// Version 1 of a run from plan.initial_model (a file on this host, e.g. `fedlog model pretrain`'s), checked
// against the spec's untrained weights and optional-tensor schema (common/model/initial_model.h).
absl::StatusOr<model::InitialModelFile> InitialModelFromFile(const v1::ModelSpec& spec, const v1::RunPlan& plan) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> m, model::CreateSiteModel(spec));
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle reference, m->InitialWeights());
  const fl::UpdateCheckOptions schema = m->OptionalSchema().value_or(fl::UpdateCheckOptions{});
  return model::LoadInitialModel(plan.initial_model(), plan.initial_model_sha256(), reference, schema);
}

bool IsHexDigest(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

absl::Status ValidateInitialModelPlan(const v1::RunPlan& plan) {
  if (plan.initial_model().size() > 4096) return absl::InvalidArgumentError("initial_model: path too long");
  if (!plan.initial_model_sha256().empty() &&
      (plan.initial_model().empty() || !IsHexDigest(plan.initial_model_sha256()))) {
    return absl::InvalidArgumentError("initial_model_sha256 must be 64 hex digits, with initial_model set");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRunPlan(v1::RunPlan* plan) {
  FEDLOG_RETURN_IF_ERROR(config::CheckFiniteNumbers(*plan, "run plan"));
  if (plan->rounds() <= 0 || plan->rounds() > 100000) return absl::InvalidArgumentError("rounds (--rounds) must be 1..100000");
  if (plan->min_sites() <= 0) return absl::InvalidArgumentError("min_sites (--min-sites) must be at least 1");
  if (plan->round_deadline_s() <= 0) plan->set_round_deadline_s(120);
  if (plan->site_wait_s() <= 0) plan->set_site_wait_s(600);
  v1::TrainingPlan* t = plan->mutable_training();
  if (t->local_epochs() <= 0) t->set_local_epochs(1);
  if (!(t->learning_rate() > 0)) t->set_learning_rate(1e-3f);
  if (t->batch_size() <= 0) t->set_batch_size(64);
  if (t->seed() == 0) t->set_seed(1);
  // line_encoder local work: 0 is meaningful for each (skip that part), so no defaults are filled here; the CLI
  // sends model::LocalWork's.
  if (t->contrastive_steps() < 0 || t->meta_iterations() < 0 || t->inner_steps() < 0 ||
      !(t->fedprox_mu() >= 0 && std::isfinite(t->fedprox_mu()))) {
    return absl::InvalidArgumentError(
        "contrastive_steps, meta_iterations, inner_steps and fedprox_mu must be finite and not negative");
  }
  // What every site would refuse (client CheckRoundTask) is refused here, so such a run never starts and stalls.
  for (const auto& [name, value, max] : {std::tuple<const char*, int64_t, int64_t>{"local_epochs", t->local_epochs(),
                                                                                   fl::kMaxLocalEpochs},
                                         {"batch_size", t->batch_size(), fl::kMaxBatchSize},
                                         {"contrastive_steps", t->contrastive_steps(), fl::kMaxLocalSteps},
                                         {"meta_iterations", t->meta_iterations(), fl::kMaxLocalSteps},
                                         {"inner_steps", t->inner_steps(), fl::kMaxInnerSteps},
                                         {"line_dp_normal_lines", t->line_dp_normal_lines(), fl::kMaxBatchSize}}) {
    if (value > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("training ", name, " ", value, " is above ", max, ", which sites refuse"));
    }
  }
  if (plan->strategy().empty()) plan->set_strategy("fedavg");
  FEDLOG_RETURN_IF_ERROR(fl::ParseStrategy(plan->strategy()).status());
  FEDLOG_RETURN_IF_ERROR(fl::ParseServerOptimizer(plan->server_optimizer()).status());
  FEDLOG_RETURN_IF_ERROR(fl::ParseWireDType(plan->update_dtype()).status());
  if (plan->trim_fraction() == 0) plan->set_trim_fraction(0.1);
  if (plan->trim_fraction() < 0 || plan->trim_fraction() >= 0.5) {
    return absl::InvalidArgumentError("trim_fraction must be in [0, 0.5)");
  }
  if (plan->clip_norm() < 0 || plan->max_update_norm() < 0 || plan->server_lr() < 0) {
    return absl::InvalidArgumentError("clip_norm, max_update_norm and server_lr must not be negative");
  }
  if (plan->sample_fraction() == 0) plan->set_sample_fraction(1.0);
  if (plan->sample_fraction() < 0 || plan->sample_fraction() > 1) {
    return absl::InvalidArgumentError("sample_fraction must be in (0, 1]");
  }
  if (plan->max_site_samples() < 0) return absl::InvalidArgumentError("max_site_samples must not be negative");
  if (plan->max_site_weight_share() == 0) plan->set_max_site_weight_share(kDefaultMaxWeightShare);
  if (!(plan->max_site_weight_share() > 0 && plan->max_site_weight_share() <= 1)) {
    return absl::InvalidArgumentError("max_site_weight_share must be in (0, 1]");
  }
  FEDLOG_RETURN_IF_ERROR(ValidateSecAggPlan(plan));
  FEDLOG_RETURN_IF_ERROR(ValidateInitialModelPlan(*plan));
  FEDLOG_RETURN_IF_ERROR(ValidatePrivacyPlan(plan));
  return ValidateAdaptiveClipPlan(plan);
}

absl::StatusOr<int64_t> Coordinator::InitialModelVersion(const v1::RunPlan& plan) {
  fl::TensorBundle weights;
  std::string file_sha256;  // of plan.initial_model
  if (!plan.initial_model().empty()) {
    // An explicit initial model wins over the promoted one.
    FEDLOG_ASSIGN_OR_RETURN(model::InitialModelFile file, InitialModelFromFile(options_.model, plan));
    weights = std::move(file.weights);
    file_sha256 = file.sha256;
  } else {
    FEDLOG_ASSIGN_OR_RETURN(int64_t promoted, store_->PromotedVersion());
    if (promoted > 0) {
      FEDLOG_ASSIGN_OR_RETURN(auto m, store_->GetModel(promoted));
      if (m && m->first.spec().SerializeAsString() == options_.model.SerializeAsString()) return promoted;
    }
    FEDLOG_ASSIGN_OR_RETURN(weights, InitialModel(options_.model));
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t max_version, store_->MaxModelVersion());
  FEDLOG_ASSIGN_OR_RETURN(StoredBlob blob, blobs_->WriteModel(max_version + 1, weights));
  v1::ModelManifest m;
  m.set_version(max_version + 1);
  m.set_strategy("init");
  m.set_sha256(blob.sha256);
  m.set_size_bytes(blob.size_bytes);
  m.set_created_ms(NowMs());
  *m.mutable_spec() = options_.model;
  m.set_initial_model_sha256(file_sha256);
  FEDLOG_RETURN_IF_ERROR(store_->AddModel(m, blob.path));
  return m.version();
}

void Coordinator::FinishRun(const std::string& state, const std::string& message) {
  if (!run_) return;
  if (absl::Status st = store_->EndRun(run_->run_id, state, message, NowMs()); !st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot end run: " << st;
  }
  if (state == "done") {
    if (absl::Status st = store_->Promote(run_->global_version, NowMs()); !st.ok()) {
      FEDLOG_LOG(ERROR) << "cannot promote v" << run_->global_version << ": " << st;
    }
  }
  FEDLOG_LOG(INFO) << "run " << run_->run_id << " " << state << ": " << message;
  run_.reset();
  round_.reset();
  run_note_.clear();
  Bump();
}

absl::StatusOr<std::pair<v1::ModelManifest, StoredBlob>> Coordinator::ModelForDownload(const std::string& site_id,
                                                                                       int64_t version,
                                                                                       bool /*all_adapters*/) {
  auto result = [&]() -> absl::StatusOr<std::pair<v1::ModelManifest, StoredBlob>> {
    if (version == 0) {
      FEDLOG_ASSIGN_OR_RETURN(version, store_->PromotedVersion());
      if (version == 0) {
        FEDLOG_ASSIGN_OR_RETURN(version, store_->MaxModelVersion());
      }
    }
    FEDLOG_ASSIGN_OR_RETURN(auto model, store_->GetModel(version));
    if (!model) return absl::NotFoundError(absl::StrCat("no model version ", version));
    if (model->first.deleted_ms() > 0) return DeletedModelError(version);
    v1::ModelManifest manifest = model->first;
    const StoredBlob full{model->second, manifest.sha256(), manifest.size_bytes()};
    // A site gets the adapters of the sources it is entitled to, whatever it asks for (all_adapters is for
    // admins: an empty site_id).
    const bool all = site_id.empty();
    const std::vector<std::string> sources = all ? std::vector<std::string>() : EntitledSourcesOf(site_id);
    FEDLOG_ASSIGN_OR_RETURN(StoredBlob blob, blobs_->BlobForSources(version, full, sources, all));
    manifest.set_sha256(blob.sha256);
    manifest.set_size_bytes(blob.size_bytes);
    return std::make_pair(std::move(manifest), std::move(blob));
  }();
  if (!result.ok() && !site_id.empty()) return ForSite(result.status(), site_id);
  return result;
}

absl::StatusOr<v1::ListSitesResponse> Coordinator::ListSites() {
  FEDLOG_ASSIGN_OR_RETURN(std::vector<SiteRecord> sites, store_->ListSites());
  absl::MutexLock lock(&mu_);
  std::set<std::string> online = OnlineSites();
  v1::ListSitesResponse resp;
  for (const auto& s : sites) {
    v1::SiteInfo* info = resp.add_sites();
    info->set_site_id(s.site_id);
    info->set_revoked(s.revoked);
    info->set_online(online.count(s.site_id) > 0);
    auto it = last_seen_.find(s.site_id);
    info->set_last_seen_ms(it != last_seen_.end() ? std::max(it->second, s.last_seen_ms) : s.last_seen_ms);
    info->set_registered_ms(s.registered_ms);
    *info->mutable_capabilities() = s.hello.capabilities();
    *info->mutable_sources() = s.hello.sources();
    info->set_admitted(s.admitted.has_value());
    if (s.admitted) {
      for (const auto& a : *s.admitted) info->add_admitted_sources(a);
    }
    for (const auto& p : s.pending) info->add_pending_sources(p);
    info->set_model_version(s.hello.promoted_version());
  }
  return resp;
}

absl::StatusOr<v1::SiteInfo> Coordinator::AdmitSources(const std::string& site_id,
                                                       const std::vector<std::string>& sources, bool approve_pending) {
  if (!net::IsValidPeerId(site_id)) return absl::InvalidArgumentError("not a valid site id");
  if (sources.empty() && !approve_pending) {
    return absl::InvalidArgumentError("give the sources to admit, or approve the pending ones");
  }
  if (sources.size() > static_cast<size_t>(kMaxHelloSources)) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxHelloSources, " sources"));
  }
  for (const auto& name : sources) {
    if (!fl::IsValidSourceName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("source names are 1..", fl::kMaxSourceNameLength, " characters of [A-Za-z0-9_-]"));
    }
  }
  {
    absl::MutexLock lock(&admission_mu_);
    FEDLOG_ASSIGN_OR_RETURN(std::optional<SiteRecord> site, store_->GetSite(site_id));
    std::vector<std::string> admitted;
    if (!sources.empty()) {
      admitted = sources;
    } else if (site && site->admitted) {
      admitted = *site->admitted;
    }
    if (approve_pending && site) admitted.insert(admitted.end(), site->pending.begin(), site->pending.end());
    std::sort(admitted.begin(), admitted.end());
    admitted.erase(std::unique(admitted.begin(), admitted.end()), admitted.end());
    std::vector<std::string> pending;
    if (site) {
      for (const auto& s : site->hello.sources()) {
        if (!std::binary_search(admitted.begin(), admitted.end(), s.name())) pending.push_back(s.name());
      }
    }
    FEDLOG_RETURN_IF_ERROR(store_->SetSources(site_id, admitted, pending, NowMs()));
    FEDLOG_LOG(WARNING) << "site " << site_id << ": " << admitted.size() << " source(s) admitted by an admin, "
                        << pending.size() << " pending";
  }
  {
    absl::MutexLock lock(&mu_);
    Bump();
  }
  FEDLOG_ASSIGN_OR_RETURN(v1::ListSitesResponse all, ListSites());
  for (const auto& s : all.sites()) {
    if (s.site_id() == site_id) return s;
  }
  return absl::InternalError("admitted site not listed");
}

absl::StatusOr<v1::SiteInfo> Coordinator::RevokeSite(const std::string& site_id) {
  // Revoking adds an entry for an unknown id: only one a certificate could carry (a typo stays removable with
  // ForgetSite, an id no site can have would only fill the list).
  if (!net::IsValidPeerId(site_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a valid site id: 1..", net::kMaxPeerIdLength,
        " characters of [A-Za-z0-9._-], starting with a letter or digit, without '..'"));
  }
  FEDLOG_RETURN_IF_ERROR(store_->SetRevoked(site_id, true));
  {
    absl::MutexLock lock(&mu_);
    revoked_.insert(site_id);
    revoked_since_ms_[site_id] = NowMs();
    revoked_told_.erase(site_id);
    Bump();
  }
  FEDLOG_LOG(WARNING) << "site " << site_id << " revoked";
  if (options_.on_revoke) options_.on_revoke(site_id);
  FEDLOG_ASSIGN_OR_RETURN(v1::ListSitesResponse all, ListSites());
  for (const auto& s : all.sites()) {
    if (s.site_id() == site_id) return s;
  }
  return absl::InternalError("revoked site not listed");
}

absl::StatusOr<v1::RunStatus> Coordinator::StartRun(const v1::RunPlan& requested) {
  v1::RunPlan plan = requested;
  FEDLOG_RETURN_IF_ERROR(ValidateRunPlan(&plan));
  int64_t run_id = 0;
  {
    absl::MutexLock lock(&mu_);
    if (run_) return absl::FailedPreconditionError(absl::StrCat("run ", run_->run_id, " is active; stop it first"));
    FEDLOG_ASSIGN_OR_RETURN(int64_t version, InitialModelVersion(plan));
    FEDLOG_ASSIGN_OR_RETURN(run_id, store_->CreateRun(plan, version, NowMs()));
    FEDLOG_ASSIGN_OR_RETURN(run_, store_->GetRun(run_id));
    waiting_since_ms_ = 0;
    FEDLOG_LOG(INFO) << "run " << run_id << " started: " << plan.rounds() << " round(s), min " << plan.min_sites()
                     << " site(s), from model v" << version
                     << (plan.initial_model().empty() ? std::string() : " (initial model " + plan.initial_model() + ")")
                     << (plan.dp_mode().empty()
                             ? std::string()
                             : absl::StrCat(", ", plan.dp_mode(), "-level DP sigma ", plan.dp_noise_multiplier(),
                                            " clip ", plan.dp_clip(), " target epsilon ", plan.target_epsilon()));
    Bump();
  }
  return RunStatus(run_id);
}

absl::StatusOr<v1::RunStatus> Coordinator::StopRun(int64_t run_id) {
  int64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!run_ || (run_id != 0 && run_->run_id != run_id)) {
      return absl::FailedPreconditionError("no such active run");
    }
    id = run_->run_id;
    // A round being aggregated (CloseRound and CloseSecAggRound release the lock meanwhile) is let finish
    // first: ending the run under it would let its result land in no run, or in the next one, under a model
    // version that run's start may take too.
    while (round_ && round_->closing) changed_.WaitWithTimeout(&mu_, absl::Milliseconds(250));
    // That round may have been the run's last one: it is then done, not stopped.
    if (run_ && run_->run_id == id) FinishRun("stopped", "stopped by an admin");
  }
  return RunStatus(id);
}

absl::StatusOr<v1::RunStatus> Coordinator::RunStatus(int64_t run_id) {
  FEDLOG_ASSIGN_OR_RETURN(std::optional<RunRecord> run, store_->GetRun(run_id));
  if (!run) return absl::NotFoundError(run_id ? absl::StrCat("no run ", run_id) : "no run yet");
  FEDLOG_ASSIGN_OR_RETURN(std::vector<RoundRecord> rounds, store_->ListRounds(run->run_id));
  v1::RunStatus st;
  st.set_run_id(run->run_id);
  st.set_state(run->state);
  *st.mutable_plan() = run->plan;
  st.set_current_round(run->current_round);
  st.set_started_ms(run->started_ms);
  st.set_message(run->message);
  FEDLOG_ASSIGN_OR_RETURN(auto evaluations, store_->ListEvaluations(run->run_id));
  FEDLOG_ASSIGN_OR_RETURN(int64_t refused, refusals_.Count(run->run_id));
  st.set_refused_updates(refused);
  FEDLOG_RETURN_IF_ERROR(DescribePrivacy(rounds, &st));
  for (const auto& r : rounds) {
    v1::RoundSummary* s = st.add_rounds();
    s->set_epsilon(r.epsilon);
    s->set_dp_sampling_rate(r.dp_sampling_rate);
    s->set_site_epsilon(r.site_epsilon);
    s->set_declined(r.declined);
    FEDLOG_RETURN_IF_ERROR(DescribeClipping(r, s));
    s->set_bytes_up(r.bytes_up);
    s->set_bytes_down(r.bytes_down);
    if (r.state == "done") {
      for (const auto& [round, e] : evaluations) {
        if (round == r.round) *s->add_evaluations() = e;
      }
    }
    s->set_round(r.round);
    s->set_secure_aggregation(run->plan.secure_aggregation());
    s->set_attempt(r.attempt);
    s->set_state(r.state);
    s->set_sites(r.sites);
    s->set_samples(r.samples);
    s->set_mean_train_loss(r.mean_loss);
    s->set_model_version(r.model_out);
    s->set_seconds(r.closed_ms > 0 ? static_cast<double>(r.closed_ms - r.opened_ms) / 1000.0 : 0.0);
  }
  absl::MutexLock lock(&mu_);
  if (run_ && run_->run_id == run->run_id) {
    if (!round_) st.set_state("waiting");
    if (!run_note_.empty()) st.set_message(run_note_);
    DescribeOpenRound(&st);
  }
  return st;
}

uint64_t Coordinator::WaitForChange(uint64_t seen, int32_t timeout_ms) {
  absl::MutexLock lock(&mu_);
  if (seq_ == seen && !stopping_) changed_.WaitWithTimeout(&mu_, absl::Milliseconds(timeout_ms));
  return seq_;
}

absl::StatusOr<v1::ListModelsResponse> Coordinator::ListModels() {
  v1::ListModelsResponse resp;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<v1::ModelManifest> models, store_->ListModels());
  // Quality: the mean held-out metric that sites reported for a version when a later round started from it
  // (F1 for line_encoder, reconstruction loss for mlp_autoencoder). Only in the answer, never stored.
  std::set<int64_t> runs;
  for (const auto& m : models) {
    if (m.run_id() > 0) runs.insert(m.run_id());
  }
  std::map<int64_t, std::map<std::string, std::pair<double, int>>> quality;  // version -> metric -> (sum, n)
  for (int64_t run : runs) {
    FEDLOG_ASSIGN_OR_RETURN(auto evaluations, store_->ListEvaluations(run));
    for (const auto& [round, e] : evaluations) {
      for (const char* key : {"holdout_f1", "holdout_loss"}) {
        auto it = e.metrics().find(key);
        if (it == e.metrics().end() || !std::isfinite(it->second)) continue;
        auto& q = quality[e.model_version()][key];
        q.first += it->second;
        ++q.second;
      }
    }
  }
  for (auto& m : models) {
    for (const auto& [key, q] : quality[m.version()]) {
      (*m.mutable_metrics())["quality_" + key] = q.first / q.second;
      (*m.mutable_metrics())["quality_sites"] = q.second;
    }
    *resp.add_models() = std::move(m);
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t promoted, store_->PromotedVersion());
  resp.set_promoted_version(promoted);
  return resp;
}

absl::StatusOr<v1::ModelManifest> Coordinator::Promote(int64_t version) {
  FEDLOG_RETURN_IF_ERROR(store_->Promote(version, NowMs()));
  FEDLOG_ASSIGN_OR_RETURN(auto m, store_->GetModel(version));
  FEDLOG_LOG(INFO) << "model v" << version << " promoted";
  absl::MutexLock lock(&mu_);
  PruneModels();
  return m->first;
}

absl::StatusOr<v1::ModelManifest> Coordinator::Rollback() {
  FEDLOG_ASSIGN_OR_RETURN(int64_t version, store_->Rollback());
  FEDLOG_ASSIGN_OR_RETURN(auto m, store_->GetModel(version));
  if (!m) return absl::InternalError("promoted model missing");
  FEDLOG_LOG(INFO) << "rolled back to model v" << version;
  absl::MutexLock lock(&mu_);
  PruneModels();  // the version rolled back from is no longer protected
  return m->first;
}

// --- Operator-facing additions (issue 15) ---

absl::StatusOr<v1::SiteInfo> Coordinator::UnrevokeSite(const std::string& site_id) {
  if (site_id.empty()) return absl::InvalidArgumentError("site id is empty");
  FEDLOG_ASSIGN_OR_RETURN(std::optional<SiteRecord> known, store_->GetSite(site_id));
  if (!known) return absl::NotFoundError(absl::StrCat("no site '", site_id, "' (fedlog sites lists them)"));
  FEDLOG_RETURN_IF_ERROR(store_->SetRevoked(site_id, false));
  {
    absl::MutexLock lock(&mu_);
    revoked_.erase(site_id);
    revoked_since_ms_.erase(site_id);
    revoked_told_.erase(site_id);
    Bump();
  }
  FEDLOG_LOG(WARNING) << "site " << site_id << " unrevoked";
  FEDLOG_ASSIGN_OR_RETURN(v1::ListSitesResponse all, ListSites());
  for (const auto& s : all.sites()) {
    if (s.site_id() == site_id) return s;
  }
  return absl::InternalError("unrevoked site not listed");
}

absl::StatusOr<v1::ForgetSiteResponse> Coordinator::ForgetSite(const std::string& site_id,
                                                              const std::string& admin) {
  if (site_id.empty()) return absl::InvalidArgumentError("site id is empty");
  FEDLOG_ASSIGN_OR_RETURN(std::optional<SiteRecord> known, store_->GetSite(site_id));
  if (!known) return absl::NotFoundError(absl::StrCat("no site '", site_id, "' (fedlog sites lists them)"));
  FEDLOG_RETURN_IF_ERROR(store_->ForgetSite(site_id));
  {
    absl::MutexLock lock(&mu_);
    revoked_.erase(site_id);
    revoked_since_ms_.erase(site_id);
    revoked_told_.erase(site_id);
    last_seen_.erase(site_id);
    Bump();
  }
  FEDLOG_LOG(WARNING) << "site " << site_id << " forgotten by " << admin << " (it never connected; it was "
                      << (known->revoked ? "revoked" : "not revoked") << ")";
  v1::ForgetSiteResponse resp;
  resp.set_site_id(site_id);
  resp.set_was_revoked(known->revoked);
  return resp;
}

absl::StatusOr<v1::ModelManifest> Coordinator::Promote(int64_t version, bool force) {
  FEDLOG_ASSIGN_OR_RETURN(auto m, store_->GetModel(version));
  if (!m) return absl::NotFoundError(absl::StrCat("no model version ", version, " (fedlog models lists them)"));
  if (m->first.strategy() == "init" && !force) {
    return absl::FailedPreconditionError(absl::StrCat(
        "v", version, " holds a run's initial weights; no round trained it, so sites would detect with an "
        "untrained model. Promote a trained version, or add --force"));
  }
  return Promote(version);
}

void Coordinator::SaveLastSeen() {
  std::map<std::string, int64_t> seen;
  {
    absl::MutexLock lock(&mu_);
    seen = last_seen_;
  }
  for (const auto& [site, ms] : seen) {
    if (absl::Status st = store_->TouchSite(site, ms); !st.ok()) {
      FEDLOG_LOG(WARNING) << "cannot save when site " << site << " was last seen: " << st;
    }
  }
}

bool Coordinator::WaitedTooLong(int64_t now, size_t online, size_t declined) {
  if (waiting_since_ms_ == 0) waiting_since_ms_ = now;
  const int64_t limit_s = run_->plan.site_wait_s() > 0 ? run_->plan.site_wait_s() : 600;
  if (now - waiting_since_ms_ < limit_s * 1000) return false;
  waiting_since_ms_ = 0;
  if (declined > 0) {
    // Online sites that declined the round under their own privacy policy are not counted as available.
    FinishRun("failed", absl::StrCat("only ", online, " of the ", run_->plan.min_sites(), " site(s) it needs were "
                                     "online and willing for ", limit_s, " s: ", declined, " online site(s) "
                                     "declined the round under their privacy policy (fedlog run status lists "
                                     "why); start a run whose privacy settings they accept, or with a lower "
                                     "--min-sites"));
    return true;
  }
  FinishRun("failed", absl::StrCat("only ", online, " of the ", run_->plan.min_sites(), " site(s) it needs were online for ",
                                   limit_s, " s; start a run with a --min-sites that the online sites can meet"));
  return true;
}

void Coordinator::DescribeOpenRound(v1::RunStatus* status) {
  if (!round_ || status->rounds().empty()) return;
  for (v1::RoundSummary& r : *status->mutable_rounds()) {
    if (r.round() != round_->record.round || r.attempt() != round_->record.attempt) continue;
    for (const auto& p : round_->record.participants) r.add_participants(p);
    for (const auto& u : round_->uploaded) r.add_uploaded(u);
    r.set_deadline_ms(round_->record.deadline_ms);
  }
}

}  // namespace fedlog::server
