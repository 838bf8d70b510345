// Coordinator lifecycle, site presence, task hand-out and the round state machine.
// Uploads and aggregation: coordinator_updates.cc. Admin queries: coordinator_admin.cc.
#include "server/coordinator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/net/peer_id.h"
#include "common/secagg/wire.h"
#include "server/coordinator_checks.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {

Coordinator::Coordinator(CoordinatorOptions options, StateStore* store, ModelBlobs* blobs)
    : options_(std::move(options)), store_(store), blobs_(blobs) {}

Coordinator::~Coordinator() { Stop(); }

int64_t Coordinator::NowMs() const { return absl::ToUnixMillis(absl::Now()); }

void Coordinator::Bump() {
  ++seq_;
  changed_.SignalAll();
}

absl::Status Coordinator::Recover() {
  absl::MutexLock lock(&mu_);
  FEDLOG_RETURN_IF_ERROR(RecoverRun());
  SweepDeletedModels();
  PruneModels();
  return absl::OkStatus();
}

absl::Status Coordinator::RecoverRun() {
  FEDLOG_ASSIGN_OR_RETURN(std::vector<SiteRecord> sites, store_->ListSites());
  FEDLOG_ASSIGN_OR_RETURN(std::optional<RunRecord> run, store_->ActiveRun());
  for (const auto& s : sites) {
    if (s.revoked) {
      revoked_.insert(s.site_id);
      revoked_since_ms_[s.site_id] = NowMs();  // a daemon still running gets its grace to be told after a restart
    }
  }
  run_ = run;
  if (!run_) return absl::OkStatus();
  // Secure aggregation's cohort mode, exclusions, sit-out and verdicts (docs/rules/s26-securestate.md).
  FEDLOG_ASSIGN_OR_RETURN(std::optional<SecAggRunState> secagg, store_->LoadSecAggState(run_->run_id));
  if (secagg) {
    secagg_state_ = *std::move(secagg);
    FEDLOG_LOG(INFO) << "run " << run_->run_id << ": secure-aggregation state restored: "
                     << (secagg_state_.cohort_mode ? "cohort mode" : "one session per attempt") << ", "
                     << secagg_state_.excluded.size() << " site(s) excluded from round "
                     << secagg_state_.excluded_round << ", "
                     << (secagg_state_.sit_out.empty()
                             ? std::string("no sit-out")
                             : absl::StrCat(secagg_state_.sit_out, " sits out round ", secagg_state_.sit_out_round))
                     << ", " << secagg_state_.verdicts.size() << " suspicion verdict(s)";
  }
  FEDLOG_ASSIGN_OR_RETURN(std::optional<RoundRecord> open, store_->OpenRoundOf(run_->run_id));
  std::set<std::string> declined;
  if (open) {
    FEDLOG_ASSIGN_OR_RETURN(declined, store_->DeclinedSites(open->run_id, open->round));
  }
  if (open && run_->plan.secure_aggregation()) {
    // The keys and the running sum of a secure-aggregation attempt lived in memory only: it cannot resume. The
    // next attempt (a fresh session) waits a while for the interrupted attempt's sites to reconnect, so that
    // it does not open with only the first few back (docs/PRIVACY.md, "Aggregator restarts").
    FEDLOG_LOG(WARNING) << "round " << open->round << " attempt " << open->attempt
                        << " (secure aggregation) was open at restart: attempt failed; a fresh attempt follows";
    FEDLOG_RETURN_IF_ERROR(store_->FailRound(*open, NowMs()));
    rejoin_.clear();
    for (const std::string& p : open->participants) {
      if (!declined.count(p)) rejoin_.insert(p);
    }
    rejoin_until_ms_ = NowMs() + int64_t{std::max(1, run_->plan.secagg_step_s())} * 1000;
    open.reset();
  }
  if (open) {
    ActiveRound ar;
    ar.record = *open;
    FEDLOG_ASSIGN_OR_RETURN(auto updates, store_->ListUpdates(open->run_id, open->round, open->attempt));
    for (const auto& u : updates) ar.uploaded.insert(u.site_id);
    ar.declined = std::move(declined);  // not handed the task again, not counted again
    // Sites need time to reconnect after an aggregator restart: give the round a fresh deadline.
    int64_t deadline_s = std::max(1, run_->plan.round_deadline_s());
    ar.record.deadline_ms = std::max(ar.record.deadline_ms, NowMs() + deadline_s * 1000);
    FEDLOG_RETURN_IF_ERROR(store_->OpenRound(ar.record));
    round_ = std::move(ar);
  }
  FEDLOG_LOG(INFO) << "recovered run " << run_->run_id << " at round " << run_->current_round << "/"
                   << run_->plan.rounds()
                   << (round_ ? absl::StrCat(", round ", round_->record.round, " open with ",
                                             round_->uploaded.size(), " update(s) kept")
                              : std::string());
  return absl::OkStatus();
}

void Coordinator::Start() {
  scheduler_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        changed_.WaitWithTimeout(&mu_, absl::Milliseconds(options_.tick_ms));
        if (stopping_) return;
      }
      Tick();
    }
  });
}

void Coordinator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !scheduler_.joinable()) return;
    stopping_ = true;
    Bump();
  }
  if (scheduler_.joinable()) scheduler_.join();
}

absl::StatusOr<v1::HelloResponse> Coordinator::Hello(const std::string& site_id, const v1::HelloRequest& request) {
  FEDLOG_RETURN_IF_ERROR(CheckAllowed(site_id));
  if (!net::IsValidPeerId(site_id)) return absl::InvalidArgumentError("site id is not a valid id");
  FEDLOG_RETURN_IF_ERROR(ValidateHello(request));
  FEDLOG_RETURN_IF_ERROR(PaceStateWrite(site_id, NowMs(), "Hello"));
  FEDLOG_RETURN_IF_ERROR(ForSite(store_->UpsertSiteHello(site_id, request, NowMs()), site_id));
  FEDLOG_RETURN_IF_ERROR(ForSite(AdmitOnHello(site_id, request), site_id));
  {
    absl::MutexLock lock(&mu_);
    last_seen_[site_id] = NowMs();
    Bump();
  }
  FEDLOG_LOG(INFO) << "site " << site_id << " said hello with " << request.sources_size() << " source(s)";
  v1::HelloResponse resp;
  resp.set_site_id(site_id);
  resp.set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
  resp.set_max_poll_wait_ms(options_.max_poll_wait_ms);
  return resp;
}

absl::Status Coordinator::PaceStateWrite(const std::string& site_id, int64_t now_ms, const char* what) {
  absl::MutexLock lock(&write_pace_mu_);
  WritePace& p = write_pace_[site_id];
  if (p.at_ms == 0) p.tokens = kStateWriteBurst;
  p.tokens = std::min<double>(kStateWriteBurst,
                              p.tokens + static_cast<double>(now_ms - p.at_ms) * kStateWritesPerSecond / 1000);
  p.at_ms = now_ms;
  if (p.tokens >= 1) {
    p.tokens -= 1;
    return absl::OkStatus();
  }
  ++p.refused;
  if (p.logged_ms == 0 || now_ms - p.logged_ms >= 10000) {
    FEDLOG_LOG(WARNING) << "site " << site_id << ": " << p.refused << " call(s) that write its state (the latest a "
                        << what << ") refused for coming faster than " << kStateWritesPerSecond
                        << " a second after a burst of " << kStateWriteBurst;
    p.logged_ms = now_ms;
    p.refused = 0;
  }
  return absl::ResourceExhaustedError(absl::StrCat("too many Hellos and evaluation reports from '", site_id,
                                                   "': at most ", kStateWriteBurst, " in a burst, then ",
                                                   kStateWritesPerSecond, " a second; this ", what,
                                                   " was not taken, send it again in a second"));
}

absl::Status Coordinator::AdmitOnHello(const std::string& site_id, const v1::HelloRequest& request) {
  absl::MutexLock lock(&admission_mu_);
  FEDLOG_ASSIGN_OR_RETURN(std::optional<SiteRecord> site, store_->GetSite(site_id));
  std::optional<std::vector<std::string>> admitted = site ? site->admitted : std::nullopt;
  std::vector<std::string> pending;
  bool changed = false;
  for (const v1::SourceInfo& s : request.sources()) {
    if (admitted && std::find(admitted->begin(), admitted->end(), s.name()) != admitted->end()) continue;
    // Auto-admission stops at as many sources as one Hello may declare: a site that keeps declaring new names
    // (source churn) cannot grow its admitted set, its adapters or its download variants without bound; the
    // rest wait as pending, as without auto-admission.
    if (options_.auto_admit_sources && (!admitted || admitted->size() < static_cast<size_t>(kMaxHelloSources))) {
      if (!admitted) admitted.emplace();
      admitted->push_back(s.name());
      changed = true;
    } else {
      pending.push_back(s.name());
    }
  }
  if (!changed && site && pending == site->pending) return absl::OkStatus();
  if (changed) {
    FEDLOG_LOG(INFO) << "site " << site_id << ": sources admitted automatically (auto_admit_sources)";
  }
  if (!pending.empty()) {
    FEDLOG_LOG(WARNING) << "site " << site_id << " declared " << pending.size()
                        << " source(s) not admitted; they wait for `fedlog sites admit " << site_id << "`";
  }
  return store_->SetSources(site_id, changed ? admitted : std::nullopt, pending, NowMs());
}

absl::Status Coordinator::CheckAllowed(const std::string& site_id) {
  absl::MutexLock lock(&mu_);
  if (revoked_.count(site_id)) {
    revoked_told_.insert(site_id);  // from now on its handshakes are refused (AdmitConnection)
    return absl::PermissionDeniedError(absl::StrCat("site '", site_id, "' is revoked"));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::AdmitConnection(const std::string& site_id) {
  absl::MutexLock lock(&mu_);
  if (!revoked_.count(site_id)) return absl::OkStatus();
  auto since = revoked_since_ms_.find(site_id);
  const bool grace_over = since == revoked_since_ms_.end() || NowMs() - since->second > options_.revoked_grace_ms;
  if (revoked_told_.count(site_id) || grace_over) {
    return absl::PermissionDeniedError(absl::StrCat("site '", site_id, "' is revoked"));
  }
  return absl::OkStatus();
}

void Coordinator::Touch(const std::string& site_id) {
  absl::MutexLock lock(&mu_);
  bool was_online = OnlineSites().count(site_id) > 0;
  last_seen_[site_id] = NowMs();
  if (!was_online) Bump();
}

std::set<std::string> Coordinator::OnlineSites() {
  std::set<std::string> out;
  const int64_t now = NowMs();
  for (const auto& [site, seen] : last_seen_) {
    if (!revoked_.count(site) && now - seen <= options_.site_timeout_ms) out.insert(site);
  }
  return out;
}

absl::StatusOr<v1::TaskResponse> Coordinator::WaitForTask(const std::string& site_id, int32_t wait_ms,
                                                          const std::function<bool()>& cancelled) {
  const int64_t until = NowMs() + std::clamp(wait_ms, 0, options_.max_poll_wait_ms);
  absl::MutexLock lock(&mu_);
  while (true) {
    if (revoked_.count(site_id)) return absl::PermissionDeniedError(absl::StrCat("site '", site_id, "' is revoked"));
    const int64_t now = NowMs();
    last_seen_[site_id] = now;
    if (round_ && run_ && !round_->closing && now < round_->record.deadline_ms &&
        !round_->uploaded.count(site_id) && !round_->declined.count(site_id) &&
        (!round_->secagg || round_->secagg->WantsTask(site_id)) &&
        std::count(round_->record.participants.begin(), round_->record.participants.end(), site_id)) {
      absl::StatusOr<std::optional<std::pair<v1::ModelManifest, std::string>>> read =
          store_->GetModel(round_->record.model_in);
      if (!read.ok()) return ForSite(read.status(), site_id);
      const auto& model = *read;
      if (!model) return ForSite(absl::InternalError("the round's model version is missing"), site_id);
      v1::TaskResponse resp;
      v1::RoundTask* task = resp.mutable_round();
      task->set_run_id(run_->run_id);
      task->set_round(round_->record.round);
      task->set_model_version(round_->record.model_in);
      task->set_model_sha256(model->first.sha256());
      *task->mutable_plan() = run_->plan.training();
      task->set_deadline_ms(round_->record.deadline_ms);
      *task->mutable_spec() = model->first.spec();
      task->set_update_dtype(run_->plan.update_dtype());
      task->set_update_zstd(run_->plan.update_zstd());
      if (round_->secagg) {
        task->set_secure_aggregation(true);
        *task->mutable_secagg() = round_->secagg->ConfigFor(site_id);
      }
      FillTaskPrivacy(run_->plan, round_->record, task);
      return resp;
    }
    if (stopping_ || now >= until || cancelled()) {
      v1::TaskResponse resp;
      resp.mutable_none()->set_reason(stopping_ ? "aggregator shutting down"
                                                : (run_ ? run_note_ : std::string("no active run")));
      absl::StatusOr<int64_t> promoted = store_->PromotedVersion();
      if (!promoted.ok()) return ForSite(promoted.status(), site_id);
      resp.mutable_none()->set_promoted_version(*promoted);
      return resp;
    }
    changed_.WaitWithTimeout(&mu_, absl::Milliseconds(std::min<int64_t>(until - now, 250)));
  }
}

void Coordinator::Tick() {
  absl::MutexLock lock(&mu_);
  if (stopping_ || !run_) return;
  const int64_t now = NowMs();
  if (!round_) {
    MaybeOpenRound(now);
    return;
  }
  if (!round_->closing && ShouldClose(now)) CloseRound(now);
}

void Coordinator::MaybeOpenRound(int64_t now) {
  const v1::RunPlan& plan = run_->plan;
  if (run_->current_round >= plan.rounds()) {
    FinishRun("done", absl::StrCat("completed ", plan.rounds(), " round(s)"));
    return;
  }
  // Sites that declined this round (an earlier attempt, before a restart too) are not asked again.
  absl::StatusOr<std::set<std::string>> declined = store_->DeclinedSites(run_->run_id, run_->current_round + 1);
  if (!declined.ok()) {
    FEDLOG_LOG(ERROR) << "cannot list declines: " << declined.status();
    return;
  }
  std::set<std::string> online = OnlineSites();
  for (const std::string& s : *declined) online.erase(s);
  // Sites an earlier attempt of this round excluded for spoiling secure-aggregation shares, and a site found in
  // the failing cohort of each of the last spoiled cohort attempts, sit the round out.
  for (const std::string& s : SecAggLeftOut(run_->current_round + 1)) online.erase(s);
  if (static_cast<int>(online.size()) < plan.min_sites()) {
    if (WaitedTooLong(now, online.size(), declined->size())) return;
    std::string note = absl::StrCat("waiting for ", plan.min_sites(), " site(s), ", online.size(), " online");
    if (!declined->empty()) absl::StrAppend(&note, " (", declined->size(), " declined this round)");
    if (note != run_note_) {
      run_note_ = note;
      Bump();
    }
    return;
  }
  if (WaitForRejoin(now, online)) return;
  absl::StatusOr<std::vector<RoundRecord>> rounds = store_->ListRounds(run_->run_id);
  if (!rounds.ok()) {
    FEDLOG_LOG(ERROR) << "cannot list rounds: " << rounds.status();
    return;
  }
  waiting_since_ms_ = 0;
  ActiveRound ar;
  ar.record.run_id = run_->run_id;
  ar.record.round = run_->current_round + 1;
  ar.record.attempt = 1;
  for (const auto& r : *rounds) {
    if (r.round == ar.record.round) ar.record.attempt = std::max(ar.record.attempt, r.attempt + 1);
  }
  ar.record.state = "open";
  ar.record.model_in = run_->global_version;
  ar.record.participants.assign(online.begin(), online.end());
  if (absl::Status st = SampleRoundSites(plan, &ar.record); !st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot sample the round's sites: " << st;
    return;
  }
  if (!ChargeRoundOrStop(*rounds, online.size(), &ar.record)) return;
  ar.record.opened_ms = now;
  ar.record.deadline_ms = now + int64_t{std::max(1, plan.round_deadline_s())} * 1000;
  if (absl::Status st = StartSecAgg(&ar); !st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot set up secure aggregation for the round: " << st;
    return;
  }
  if (absl::Status st = store_->OpenRound(ar.record); !st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot open round: " << st;
    return;
  }
  FEDLOG_LOG(INFO) << "run " << run_->run_id << ": round " << ar.record.round << " (attempt " << ar.record.attempt
                   << ") open for " << ar.record.participants.size() << " of " << online.size()
                   << " online site(s), model v" << ar.record.model_in;
  run_note_ = absl::StrCat("round ", ar.record.round, " open");
  round_ = std::move(ar);
  Bump();
}

bool Coordinator::WaitForRejoin(int64_t now, const std::set<std::string>& online) {
  if (rejoin_.empty()) return false;
  size_t missing = 0;
  for (const std::string& s : rejoin_) missing += online.count(s) ? 0 : 1;
  if (missing == 0 || now >= rejoin_until_ms_) {
    if (missing > 0) {
      FEDLOG_LOG(WARNING) << missing << " site(s) of the secure-aggregation attempt interrupted by the restart "
                          << "did not reconnect in time; the next attempt opens without them";
    }
    rejoin_.clear();
    return false;
  }
  std::string note = absl::StrCat("waiting for ", missing, " site(s) of the interrupted secure-aggregation attempt "
                                  "to reconnect");
  if (note != run_note_) {
    run_note_ = note;
    Bump();
  }
  return true;
}

bool Coordinator::ShouldClose(int64_t now) {
  if (round_->secagg) {
    AdvanceSecAgg(now);
    return round_->secagg->finished();
  }
  const RoundRecord& r = round_->record;
  if (now >= r.deadline_ms) return true;
  std::set<std::string> online = OnlineSites();
  bool all_uploaded = true;
  bool someone_can_still_upload = false;
  for (const auto& p : r.participants) {
    if (round_->uploaded.count(p) || round_->declined.count(p)) continue;
    all_uploaded = false;
    if (online.count(p)) someone_can_still_upload = true;
  }
  if (all_uploaded) return true;
  // Participants that vanished never block a round once enough updates are in.
  return !someone_can_still_upload && static_cast<int>(round_->uploaded.size()) >= run_->plan.min_sites();
}

}  // namespace fedlog::server
