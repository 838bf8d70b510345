// The Coordinator's secure-aggregation hooks (coordinator.h): setting up the attempt's SecAggRound (or, while
// the run is in cohort mode since a spoiled sum, its disjoint cohorts: server/secagg_cohorts.h) when a round of
// a secure-aggregation run opens, the site-facing steps (only accepted ones make a site present), the masked
// upload, and closing the round: the run's secure-aggregation state (cohort mode, exclusions, suspicion) is
// updated and stored first (docs/rules/s26-securestate.md), then the unmasked weighted mean (of the passing
// cohorts combined) is applied through the same model-versioning path as a plain round (ApplyDelta), with the
// kind sections' counts in the new manifest (server/coordinator_kinds_secagg.h).
#include <malloc.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/model/site_model.h"
#include "common/secagg/crypto.h"
#include "common/secagg/kind_sections.h"
#include "common/secagg/update_vector.h"
#include "common/secagg/wire.h"
#include "server/coordinator.h"
#include "server/coordinator_checks.h"
#include "server/coordinator_kinds.h"
#include "server/coordinator_kinds_secagg.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {
namespace {

// A majority of n participants, at least 2: the fewest shares that unmask and the fewest survivors accepted.
int DefaultThreshold(int n) { return std::max(2, n / 2 + 1); }

absl::StatusOr<std::string> FreshSessionId() {
  std::array<uint8_t, 16> bytes;
  FEDLOG_RETURN_IF_ERROR(secagg::RandomBytes(absl::MakeSpan(bytes)));
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// The attempt's norm bound in the new model's metrics (coordinator_checks.h): the reference carried to the
// run's next round (the lower median of the norms stated in the passing sessions and the reference carried
// into this one), the largest bound a passing session gave, and how many stated norms were above their bound.
void NoteNormBound(const SecAggAttempt& attempt, google::protobuf::Map<std::string, double>* metrics) {
  std::vector<double> norms;
  double bound = 0, carried = 0, multiple = 0;
  int over = 0;
  for (const SecAggRound* s : attempt.Passed()) {
    for (double n : s->stated_norms()) norms.push_back(n);
    bound = std::max(bound, s->norm_bound());
    carried = s->carried_reference();
    multiple = s->norm_multiple();
    over += s->over_bound();
  }
  if (multiple <= 0) return;
  absl::StatusOr<fl::ClipDecision> d = fl::DecideClipping(norms, 0, multiple, carried);
  if (!d.ok()) return;
  (*metrics)[kClipReferenceMetric] = d->reference;
  (*metrics)[kClipBoundMetric] = bound;
  (*metrics)[kClippedUpdatesMetric] = over;
}

}  // namespace

std::map<std::string, std::vector<std::string>> Coordinator::AdapterGroups(const std::vector<std::string>& sites,
                                                                           int threshold) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const std::string& site : sites) {
    for (const std::string& source : EntitledSourcesOf(site)) groups[source].push_back(site);
  }
  for (auto it = groups.begin(); it != groups.end();) {
    it = static_cast<int>(it->second.size()) < threshold ? groups.erase(it) : std::next(it);
  }
  return groups;
}

absl::Status Coordinator::StartSecAgg(ActiveRound* ar) {
  const v1::RunPlan& plan = run_->plan;
  if (!plan.secure_aggregation()) return absl::OkStatus();
  std::vector<std::unique_ptr<SecAggRound>> sessions;
  std::vector<std::vector<std::string>> cohorts;
  // A run in cohort mode (an earlier attempt's sum was spoiled, docs/rules/s26-securestate.md): disjoint cohorts
  // of at least min_sites (the count the site-level DP noise share is calibrated to) and the plan's threshold,
  // so that each cohort's sum is a whole secure round's, from the round's first attempt.
  if (secagg_state_.run_id == ar->record.run_id && secagg_state_.cohort_mode) {
    const int min_size = std::max({plan.min_sites(), plan.secagg_threshold(), 2});
    FEDLOG_ASSIGN_OR_RETURN(cohorts, DrawCohorts(ar->record.participants, min_size));
    if (cohorts.empty()) {
      FEDLOG_LOG(WARNING) << "round " << ar->record.round << " attempt " << ar->record.attempt
                          << ": the run is in cohort mode, but " << ar->record.participants.size()
                          << " site(s) make fewer than 2 cohorts of " << min_size
                          << "; the attempt is one session over all of them";
    }
  }
  if (cohorts.empty()) {
    FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<SecAggRound> one,
                            CreateSecAggSession(*ar, ar->record.participants, /*keep_sum=*/false));
    sessions.push_back(std::move(one));
  } else {
    std::vector<size_t> sizes;
    for (const std::vector<std::string>& c : cohorts) {
      FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<SecAggRound> one, CreateSecAggSession(*ar, c, /*keep_sum=*/true));
      sessions.push_back(std::move(one));
      sizes.push_back(c.size());
    }
    FEDLOG_LOG(WARNING) << "round " << ar->record.round << " attempt " << ar->record.attempt << " runs as "
                        << cohorts.size() << " disjoint cohorts of " << absl::StrJoin(sizes, ", ")
                        << " sites (the run is in cohort mode since an attempt's sum failed its check; "
                           "docs/rules/s26-securestate.md)";
  }
  ar->secagg = std::make_shared<SecAggAttempt>(std::move(sessions));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SecAggRound>> Coordinator::CreateSecAggSession(const ActiveRound& ar,
                                                                              const std::vector<std::string>& sites,
                                                                              bool keep_sum) {
  const v1::RunPlan& plan = run_->plan;
  FEDLOG_ASSIGN_OR_RETURN(auto model, store_->GetModel(ar.record.model_in));
  if (!model) return absl::InternalError("the round's model version is missing");
  FEDLOG_ASSIGN_OR_RETURN(auto layout, blobs_->SharedLayout(model->second, model->first.sha256()));
  const v1::ModelSpec& spec = model->first.spec();
  SecAggRoundOptions o;
  o.layout = secagg::MakeUpdateVectorLayout(*layout, spec.arch() == "line_encoder" ? spec.encoder().out_dim() : 0);
  o.participants = sites;
  o.advertise_deadline_ms = ar.record.deadline_ms;
  o.step_ms = int64_t{std::max(1, plan.secagg_step_s())} * 1000;
  o.keep_sum = keep_sum;
  const int n = static_cast<int>(o.participants.size());
  FEDLOG_ASSIGN_OR_RETURN(o.config.session_id, FreshSessionId());
  o.config.threshold = std::max(plan.secagg_threshold(), DefaultThreshold(n));
  // Adapters are aggregated per group of at least t participants sharing a source (site-level DP uploads no
  // adapters); the adapters of smaller groups stay at their sites.
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> site_model, model::CreateSiteModel(spec));
  const std::optional<fl::UpdateCheckOptions> schema = site_model->OptionalSchema();
  if (schema && !SiteLevelDp(plan)) {
    o.adapter_groups = AdapterGroups(o.participants, o.config.threshold);
    std::vector<std::string> sources;
    for (const auto& [source, members] : o.adapter_groups) sources.push_back(source);
    FEDLOG_RETURN_IF_ERROR(secagg::AddAdapterSections(sources, *schema, &o.layout));
  }
  // Line DP's class-sum release round: the release is one more masked section, its noise distributed over the
  // round's threshold (FillTaskPrivacy tells the sites t; docs/PRIVACY.md).
  if (ReleasesClassSums(plan, ar.record.round)) {
    if (spec.arch() != "line_encoder") return absl::FailedPreconditionError("a class-sum release needs a line encoder");
    o.class_sum_release = true;
    FEDLOG_RETURN_IF_ERROR(secagg::AddReleaseSection(spec.encoder().out_dim(), &o.layout));
  }
  std::vector<int64_t> declared;  // the lines each participant declared: W and f follow them (secagg_round.h)
  std::vector<std::pair<std::string, std::vector<std::string>>> declared_sources;
  for (const std::string& site : o.participants) {
    std::optional<SiteRecord> record = SiteRecordOf(site);
    declared.push_back(record ? DeclaredLines(*record) : 0);
    std::vector<std::string> names;
    if (record) {
      for (const v1::SourceInfo& src : record->hello.sources()) names.push_back(src.name());
    }
    declared_sources.emplace_back(site, std::move(names));
  }
  // Message-kind counts travel masked, one section per source that at least t participants declared, last in
  // the vector and quantised with weight 1; never in a DP round (server/coordinator_kinds_secagg.h).
  if (TakesKindCounts(plan)) {
    o.kind_groups = KindGroups(declared_sources, o.config.threshold);
    std::vector<std::string> sources;
    for (const auto& [source, members] : o.kind_groups) sources.push_back(source);
    FEDLOG_RETURN_IF_ERROR(secagg::AddKindSections(sources, &o.layout));
  }
  o.config.vector_length = o.layout.length();
  o.config.quantization = SecAggQuantization(plan, n, declared);
  // Bounded influence: stated weights capped by declared lines and the share cap (docs/rules/s25-weightcap.md).
  for (size_t i = 0; i < declared.size(); ++i) o.declared_lines[o.participants[i]] = declared[i];
  // A plan stored before run start filled the default (0) gets it here, as the plain path does.
  o.max_weight_share = plan.max_site_weight_share() > 0 ? plan.max_site_weight_share() : kDefaultMaxWeightShare;
  // Site-level DP: each noise share is calibrated to min_sites, so fewer masked inputs are never unmasked.
  if (plan.dp_mode() == "site") o.min_survivors = plan.min_sites();
  // Bounded influence: each site's update norm at most M x the reference of the norms the sites state and the
  // run's previous round (common/secagg/norm_bound.h); not under site-level DP (dp_clip bounds it there).
  o.norm_multiple = SiteLevelDp(plan) ? 0 : AdaptiveClipMultiple(plan);
  if (model->first.run_id() == ar.record.run_id) {
    if (auto it = model->first.metrics().find(kClipReferenceMetric); it != model->first.metrics().end()) {
      o.carried_reference = std::isfinite(it->second) ? std::max(it->second, 0.0) : 0;
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<SecAggRound> round, SecAggRound::Create(std::move(o)));
  FEDLOG_LOG(INFO) << "round " << ar.record.round << " uses secure aggregation"
                   << (keep_sum ? absl::StrCat(" (cohort session ", round->config().session_id.substr(0, 8), "...)")
                                : std::string())
                   << ": threshold " << round->config().threshold << " of " << n << ", "
                   << round->config().vector_length << " values per site in "
                   << round->config().quantization.lane_bits << "-bit lanes ("
                   << round->config().quantization.fractional_bits << " fraction bits), lines declared by "
                   << std::count_if(declared.begin(), declared.end(), [](int64_t l) { return l > 0; }) << " of "
                   << n << " sites, adapter groups [" << absl::StrJoin(round->adapter_sources(), ", ") << "]"
                   << ", kind groups [" << absl::StrJoin(round->kind_sources(), ", ") << "]"
                   << (round->class_sum_release() ? ", the class-sum release (noise shared over the threshold)" : "");
  return round;
}

absl::StatusOr<SecAggRound*> Coordinator::OpenSecAgg(const std::string& session_id) {
  SecAggRound* round = round_ && round_->secagg && !round_->closing ? round_->secagg->ForSession(session_id) : nullptr;
  if (round == nullptr) return absl::FailedPreconditionError("no open secure-aggregation round with this session id");
  return round;
}

void Coordinator::AdvanceSecAgg(int64_t now) {
  if (!round_ || !round_->secagg) return;
  // A site that declined the round (its privacy policy) counts as gone: its step need not be waited for.
  std::set<std::string> present = OnlineSites();
  for (const std::string& s : round_->declined) present.erase(s);
  if (round_->secagg->Advance(now, present)) Bump();
}

absl::Status Coordinator::RefuseSecAgg(const std::string& site_id, absl::Status why) {
  if (why.ok()) return why;
  return Refuse(site_id, round_->record.run_id, round_->record.round,
                absl::Status(why.code(), absl::StrCat("secure aggregation: ", why.message())));
}

absl::Status Coordinator::SecAggAdvertise(const std::string& site_id, const std::string& certificate_pem,
                                          const v1::SecAggAdvertiseRequest& request) {
  absl::MutexLock lock(&mu_);
  FEDLOG_ASSIGN_OR_RETURN(SecAggRound * round, OpenSecAgg(request.session_id()));
  FEDLOG_RETURN_IF_ERROR(RefuseSecAgg(site_id, round->PostAdvertisement(site_id, certificate_pem, request)));
  last_seen_[site_id] = NowMs();  // only an accepted step makes a site present (docs/rules/s26-securestate.md)
  AdvanceSecAgg(NowMs());
  Bump();
  return absl::OkStatus();
}

absl::Status Coordinator::SecAggShareKeys(const std::string& site_id, const v1::SecAggShareKeysRequest& request) {
  absl::MutexLock lock(&mu_);
  FEDLOG_ASSIGN_OR_RETURN(SecAggRound * round, OpenSecAgg(request.session_id()));
  FEDLOG_RETURN_IF_ERROR(RefuseSecAgg(site_id, round->PostShares(site_id, request)));
  last_seen_[site_id] = NowMs();
  AdvanceSecAgg(NowMs());
  return absl::OkStatus();
}

absl::Status Coordinator::SecAggUnmask(const std::string& site_id, const v1::SecAggUnmaskRequest& request) {
  absl::MutexLock lock(&mu_);
  FEDLOG_ASSIGN_OR_RETURN(SecAggRound * round, OpenSecAgg(request.session_id()));
  FEDLOG_RETURN_IF_ERROR(RefuseSecAgg(site_id, round->PostUnmask(site_id, request)));
  last_seen_[site_id] = NowMs();
  AdvanceSecAgg(NowMs());
  return absl::OkStatus();
}

absl::StatusOr<v1::SecAggPollResponse> Coordinator::SecAggPoll(const std::string& site_id,
                                                              const v1::SecAggPollRequest& request,
                                                              const std::function<bool()>& cancelled) {
  const int64_t until = NowMs() + std::clamp(request.wait_ms(), 0, options_.max_poll_wait_ms);
  absl::MutexLock lock(&mu_);
  while (true) {
    if (revoked_.count(site_id)) return absl::PermissionDeniedError("site is revoked");
    const int64_t now = NowMs();
    v1::SecAggPollResponse resp;
    SecAggRound* round = round_ && round_->secagg ? round_->secagg->ForSession(request.session_id()) : nullptr;
    if (round == nullptr) {
      resp.set_aborted("the secure-aggregation round is no longer open");
      return resp;
    }
    FEDLOG_ASSIGN_OR_RETURN(resp, round->Poll(site_id, request.step()));
    last_seen_[site_id] = now;  // a poll of a session the site takes part in
    if (!resp.has_pending() || stopping_ || now >= until || cancelled()) return resp;
    changed_.WaitWithTimeout(&mu_, absl::Milliseconds(std::min<int64_t>(until - now, 250)));
  }
}

absl::StatusOr<UploadTicket> Coordinator::BeginMaskedUpload(const std::string& site_id,
                                                            const v1::UpdateHeader& header) {
  auto refuse = [&](absl::Status why) { return Refuse(site_id, header.run_id(), header.round(), why); };
  if (!round_->secagg) {
    return refuse(absl::FailedPreconditionError("a masked input for a round without secure aggregation"));
  }
  if (!header.secagg_masked()) {
    return refuse(absl::FailedPreconditionError(
        "this round uses secure aggregation: only a masked input is accepted, never a plain update"));
  }
  absl::StatusOr<SecAggRound*> round = OpenSecAgg(header.secagg_session_id());
  if (!round.ok()) return refuse(round.status());
  if (absl::Status st = (*round)->CheckMaskedUpload(site_id); !st.ok()) return refuse(st);
  const secagg::QuantizationOptions& q = (*round)->config().quantization;
  const int64_t expected = static_cast<int64_t>(((*round)->config().vector_length + 1) *
                                                static_cast<uint64_t>(q.lane_bits / 8));
  if (header.size_bytes() != expected) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("masked input of ", header.size_bytes(), " bytes; the round takes ", expected)));
  }
  if (header.base_version() != round_->record.model_in) {
    return refuse(absl::FailedPreconditionError("masked input is based on another model version"));
  }
  if (absl::Status st = ValidateUpdateHeader(header); !st.ok()) return refuse(st);
  // A release round's inputs must each carry a noise share of the round's split: a site stating another t (or
  // none) would leave the sum with less noise than the accountant charged.
  const int shares = (*round)->class_sum_release() ? (*round)->config().threshold : 0;
  if (header.class_sum_noise_shares() != shares) {
    return refuse(absl::FailedPreconditionError(absl::StrCat(
        "masked input states ", header.class_sum_noise_shares(), " class-sum noise shares; the round takes ", shares)));
  }
  UploadTicket ticket{round_->record, header};
  ticket.round.deadline_ms = (*round)->step_deadline_ms();  // the masking step's, not the advertising's
  last_seen_[site_id] = NowMs();  // presence from accepted calls only (docs/rules/s26-securestate.md)
  return ticket;
}

absl::Status Coordinator::FinishMaskedUpload(const std::string& site_id, const UploadTicket& ticket,
                                             const std::string& bytes, const std::string& sha256) {
  const v1::UpdateHeader& h = ticket.header;
  auto refuse = [&](absl::Status why) { return Refuse(site_id, h.run_id(), h.round(), why); };
  if (sha256 != h.sha256()) return refuse(absl::InvalidArgumentError("masked input sha256 mismatch"));
  absl::MutexLock lock(&mu_);
  if (revoked_.count(site_id)) return refuse(absl::PermissionDeniedError("site is revoked"));
  absl::StatusOr<SecAggRound*> round = OpenSecAgg(h.secagg_session_id());
  if (!round.ok()) return refuse(round.status());
  absl::StatusOr<std::vector<uint32_t>> complaints = secagg::ComplaintsFromHeader(h);
  if (!complaints.ok()) return refuse(complaints.status());
  if (absl::Status st = (*round)->PostMaskedInput(site_id, bytes, h.num_samples(), h.train_loss(), *complaints);
      !st.ok()) {
    return refuse(st);
  }
  last_seen_[site_id] = NowMs();
  round_->uploaded.insert(site_id);  // for `run status` (the input itself is not kept)
  FEDLOG_LOG(INFO) << "masked input from " << site_id << " for round " << h.round() << " added to the sum";
  AdvanceSecAgg(NowMs());
  Bump();
  return absl::OkStatus();
}

void Coordinator::CloseSecAggRound(int64_t now) {
  std::shared_ptr<SecAggAttempt> attempt = round_->secagg;
  RoundRecord record = round_->record;
  if (attempt->cohorts()) {
    FEDLOG_LOG(INFO) << "round " << record.round << " attempt " << record.attempt << ": " << attempt->Describe();
  }
  absl::StatusOr<SecAggOutcome> outcome = absl::FailedPreconditionError(
      attempt->cohorts() ? absl::StrCat("no cohort passed; ", attempt->Describe())
                         : attempt->sessions().front()->failure());
  if (!attempt->Passed().empty()) outcome = attempt->TakeOutcome();
  // The passing cohorts' survivors must reach min_sites, the fewest updates a model version may stand on.
  if (outcome.ok() && attempt->cohorts() && outcome->survivors < run_->plan.min_sites()) {
    outcome = absl::FailedPreconditionError(absl::StrCat("the passing cohorts hold ", outcome->survivors,
                                                         " survivor(s), fewer than min_sites ",
                                                         run_->plan.min_sites()));
  }
  // Stored before the attempt's result is: what the attempt showed survives a restart from here on.
  RecordSecAggState(record, *attempt, outcome.ok());
  if (!outcome.ok()) {
    FEDLOG_LOG(WARNING) << "round " << record.round << " attempt " << record.attempt
                        << " failed under secure aggregation: " << outcome.status().message();
    if (absl::Status st = store_->FailRound(record, now); !st.ok()) {
      FEDLOG_LOG(ERROR) << st;
    }
    NoteRoundEnded(record, absl::StrCat("failed under secure aggregation (", outcome.status().message(),
                                        "); the round is tried again"));
    round_.reset();
    Bump();
    return;
  }
  round_->closing = true;
  const v1::RunPlan plan = run_->plan;
  record.bytes_down = round_->bytes_down;
  record.bytes_up = attempt->bytes_up();
  const int cohorts = attempt->cohorts() ? static_cast<int>(attempt->sessions().size()) : 0;
  const int dropped_cohorts = cohorts - static_cast<int>(attempt->Passed().size());
  fl::TensorBundle mean = std::move(outcome->mean);  // moved out under the lock, not copied
  std::vector<secagg::KindSectionSum> kind_sums = std::move(outcome->kind_sums);
  mu_.Unlock();
  const absl::Time started = absl::Now();
  absl::StatusOr<std::pair<v1::ModelManifest, std::string>> result = [&]()
      -> absl::StatusOr<std::pair<v1::ModelManifest, std::string>> {
    // Optional tensors of the model that the vector does not carry (adapters without a group, parts no site
    // sent) keep their values: delta 0.
    FEDLOG_ASSIGN_OR_RETURN(auto model, store_->GetModel(record.model_in));
    if (!model) return absl::InternalError("the round's model version is missing");
    FEDLOG_ASSIGN_OR_RETURN(auto layout, blobs_->SharedLayout(model->second, model->first.sha256()));
    for (const fl::TensorShape& t : *layout) {
      if (mean.Find(t.name) == nullptr) {
        mean.tensors.push_back({t.name, t.shape, std::vector<float>(static_cast<size_t>(fl::NumElementsOf(t.shape)))});
      }
    }
    FEDLOG_ASSIGN_OR_RETURN(auto applied, ApplyDelta(record, plan, std::move(mean), outcome->samples,
                                                     outcome->mean_loss, outcome->survivors));
    // The kind sections' checked sums (a section that failed its checks is dropped, the model kept), then the
    // parent's counts of sources this round brought none for.
    for (v1::KindCounts& k : KindCountsFromSecAgg(kind_sums, kKindSuppressBelow)) {
      *applied.first.add_kind_counts() = std::move(k);
    }
    CarryForwardKindCounts(model->first, &applied.first);
    return applied;
  }();
  const int64_t aggregation_ms = absl::ToInt64Milliseconds(absl::Now() - started);
  ::malloc_trim(0);
  mu_.Lock();
  if (result.ok()) {
    auto& metrics = *result->first.mutable_metrics();
    metrics["secagg_dropped_sites"] = outcome->dropped;
    NoteNormBound(*attempt, &metrics);
    if (cohorts > 0) {
      metrics["secagg_cohorts"] = cohorts;
      metrics["secagg_cohorts_dropped"] = dropped_cohorts;
    }
  }
  AdoptRoundResult(record, std::move(result), aggregation_ms);
}

void Coordinator::RecordSecAggState(const RoundRecord& record, const SecAggAttempt& attempt, bool passed) {
  if (secagg_state_.run_id != record.run_id) {
    secagg_state_ = SecAggRunState();
    secagg_state_.run_id = record.run_id;
  }
  SecAggRunState& state = secagg_state_;
  // Sites found spoiling shares: counted as refusals of theirs and left out of the round's later attempts.
  if (state.excluded_round != record.round) {
    state.excluded_round = record.round;
    state.excluded.clear();
  }
  for (const auto& session : attempt.sessions()) {
    for (const SecAggExclusion& e : session->exclusions()) {
      state.excluded.insert(e.site);
      Refuse(e.site, record.run_id, record.round,
             absl::FailedPreconditionError(absl::StrCat("secure aggregation: excluded from the round's remaining "
                                                        "attempts at ", e.step, ": ", e.why)))
          .IgnoreError();
    }
  }
  // A sum that failed its check: every later attempt of the run starts as disjoint cohorts until
  // kCohortModeCleanAttempts attempts in a row are clean (docs/rules/s26-securestate.md).
  if (attempt.spoiled()) {
    if (!state.cohort_mode) {
      FEDLOG_LOG(WARNING) << "run " << record.run_id << " enters cohort mode: round " << record.round << " attempt "
                          << record.attempt << "'s sum failed its check; every later attempt starts as disjoint "
                          << "cohorts until " << kCohortModeCleanAttempts << " attempts in a row are clean "
                          << "(docs/rules/s26-securestate.md)";
    }
    state.cohort_mode = true;
    state.clean_attempts = 0;
    if (attempt.cohorts()) WeighSuspicion(record, attempt.Verdict(), passed ? record.round + 1 : record.round);
  } else if (state.cohort_mode && passed && ++state.clean_attempts >= kCohortModeCleanAttempts) {
    state.cohort_mode = false;
    state.clean_attempts = 0;
    FEDLOG_LOG(INFO) << "run " << record.run_id << " leaves cohort mode after " << kCohortModeCleanAttempts
                     << " clean attempts in a row: the next attempt is one session";
  }
  if (absl::Status st = store_->SaveSecAggState(state, NowMs()); !st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot store the secure-aggregation state (kept in memory until a restart): " << st;
  }
}

std::set<std::string> Coordinator::SecAggLeftOut(int32_t round) {
  std::set<std::string> out;
  if (!run_ || secagg_state_.run_id != run_->run_id) return out;
  if (secagg_state_.excluded_round == round) out = secagg_state_.excluded;
  if (secagg_state_.sit_out_round == round && !secagg_state_.sit_out.empty()) out.insert(secagg_state_.sit_out);
  return out;
}

void Coordinator::WeighSuspicion(const RoundRecord& record, const CohortVerdict& verdict, int32_t next_round) {
  std::vector<CohortVerdict>& verdicts = secagg_state_.verdicts;
  verdicts.push_back(verdict);
  if (verdicts.size() > kSuspicionWindow) verdicts.erase(verdicts.begin());
  const std::string suspect = SitOutSuspect(verdicts);
  if (suspect.empty()) return;
  secagg_state_.sit_out_round = next_round;
  secagg_state_.sit_out = suspect;
  const std::string why = absl::StrCat("secure aggregation: sits out round ", next_round, ": its input was in a cohort "
                                       "sum that failed its check in each of the last ", kSuspicionWindow,
                                       " cohort attempts, and every other site was cleared (docs/rules/s25-cohorts.md)");
  FEDLOG_LOG(WARNING) << "site " << suspect << " " << why.substr(std::string("secure aggregation: ").size());
  Refuse(suspect, record.run_id, record.round, absl::FailedPreconditionError(why)).IgnoreError();
}

}  // namespace fedlog::server
