// Coordinator: the aggregator's brain. It keeps which sites are online, drives the active run through its
// rounds (open when min_sites are online, close when every participant has uploaded or the deadline passes,
// aggregate by weighted FedAvg, version the result), validates and stores uploads, and answers admin queries.
// Under site-level DP it charges each round to the run's privacy budget before opening it and stops the run when
// the budget is spent (coordinator_privacy.h); sites may decline a round under their own policy (DeclineRound).
// Every state change is written to the StateStore before it is acted on; Recover() rebuilds the in-memory state
// after a restart, so a crash loses no completed round.
// Thread-safe: gRPC handler threads call in concurrently; one scheduler thread advances rounds.
#ifndef FEDLOG_SERVER_COORDINATOR_H_
#define FEDLOG_SERVER_COORDINATOR_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/federation.pb.h"
#include "common/fl/adaptive_clip.h"
#include "common/fl/tensor_bundle.h"
#include "server/model_blobs.h"
#include "server/secagg_cohorts.h"
#include "server/secagg_round.h"
#include "server/refusal_log.h"
#include "server/state_store.h"

namespace fedlog::server {

struct CoordinatorOptions {
  std::string data_dir;
  v1::ModelSpec model;               // network for new runs
  int32_t site_timeout_ms = 15000;   // online = heard from within this
  int32_t max_poll_wait_ms = 10000;
  int32_t heartbeat_interval_ms = 2000;
  int64_t max_update_bytes = int64_t{1} << 30;
  double max_update_norm = 0;        // 0 = no bound
  int32_t tick_ms = 100;             // scheduler period
  // Development only: a site's declared sources are admitted on Hello (ServerConfig.auto_admit_sources).
  bool auto_admit_sources = false;
  // Debugging only: keep update files after their round closes (ServerConfig.keep_updates).
  bool keep_updates = false;
  // Model retention: the newest this many versions keep their files (ServerConfig.keep_model_versions;
  // coordinator_retention.cc says what else is kept).
  int32_t keep_model_versions = 20;
  // Called by RevokeSite once the site is marked revoked (outside the coordinator's lock): ends the site's
  // open streams (StreamRegistry::CancelParty). May be empty.
  std::function<void(const std::string&)> on_revoke;
  // How long after its revocation a site that has not yet been told (no call of its refused since) may still
  // finish a TLS handshake, so that a daemon running at its revocation learns why (AdmitConnection).
  int64_t revoked_grace_ms = 600000;
};

// What an accepted upload header entitles the site to send.
struct UploadTicket {
  RoundRecord round;
  v1::UpdateHeader header;
};

class Coordinator {
 public:
  Coordinator(CoordinatorOptions options, StateStore* store, ModelBlobs* blobs);
  ~Coordinator();

  // Loads the active run and open round from the store (with the sites that declined it). An open
  // secure-aggregation attempt cannot resume (its keys and sum were in memory): it is failed, and the round's
  // next attempt, with a fresh session, waits up to plan.secagg_step_s for its sites to reconnect. Call once
  // before Start().
  absl::Status Recover();
  void Start();  // starts the scheduler thread
  void Stop();   // stops it and wakes every waiting call

  // --- federation (site_id always comes from the caller's certificate) ---
  // Refuses Hellos outside the bounds of coordinator_checks.h. Declared sources not admitted yet are recorded
  // as pending (or admitted at once with auto_admit_sources, up to kMaxHelloSources admitted sources per site;
  // further ones stay pending).
  absl::StatusOr<v1::HelloResponse> Hello(const std::string& site_id, const v1::HelloRequest& request);
  // PermissionDenied for revoked sites.
  absl::Status CheckAllowed(const std::string& site_id);
  // The TLS handshake's admission of a site certificate (net::PeerAdmission; docs/SECURITY.md "Revocation"):
  // PermissionDenied for a revoked site once it has been told (CheckAllowed refused one of its calls since its
  // revocation) or once its revocation (or this process's start, for one recovered) is older than
  // options.revoked_grace_ms; until then it may connect, and its calls are refused with the reason.
  absl::Status AdmitConnection(const std::string& site_id);
  // Counts the site online (present) now. Called for calls the aggregator accepted only: a refused call does not
  // make a site a round's participant (docs/rules/s26-securestate.md, "Presence").
  void Touch(const std::string& site_id);
  // Waits up to wait_ms for a task for this site; returns NoTask on timeout or when `cancelled()` turns true.
  absl::StatusOr<v1::TaskResponse> WaitForTask(const std::string& site_id, int32_t wait_ms,
                                               const std::function<bool()>& cancelled);
  // What to send for a download of `version` (0 = promoted, else latest) by `site_id`: the shared tensors
  // (prototypes.global included) plus the adapter.<s>.* tensors of the sources the site is entitled to (admitted
  // and declared), whatever `all_adapters` says; an empty `site_id` (an admin) gets every tensor when
  // `all_adapters` or always. The manifest's sha256 and size_bytes describe the blob returned.
  absl::StatusOr<std::pair<v1::ModelManifest, StoredBlob>> ModelForDownload(const std::string& site_id,
                                                                            int64_t version, bool all_adapters);
  // Validates an upload header against the open round and its statistics (ValidateUpdateHeader); every
  // refusal is counted with its reason.
  absl::StatusOr<UploadTicket> BeginUpload(const std::string& site_id, const v1::UpdateHeader& header);
  // Validates an upload spooled to `spooled_path` whose bytes hashed to `sha256` (digest; shared tensors exactly
  // as in the round's model; optional adapter./prototypes. tensors finite, shaped as the model spec says, and
  // adapters only for the sources the site reported in Hello; norm) and stores it. The update is decoded in
  // chunks (no tensor is held whole) and validations run one at a time. The spool file is consumed (moved into
  // place) or removed.
  absl::Status FinishUpload(const std::string& site_id, const UploadTicket& ticket, const std::string& spooled_path,
                            const std::string& sha256);
  // Adds model bytes sent to the open round's transport count.
  void CountDownload(int64_t bytes);
  // Stores a site's held-out evaluation of the model its current round started from: only from a participant
  // of the open round, for that round and its input model, with bounded numbers (ValidateEvaluation).
  absl::Status RecordEvaluation(const std::string& site_id, const v1::EvaluationReport& report);
  // Secure aggregation (server/secagg_coordinator.cc; the round's steps: secagg_round.h). Each call names the
  // open round's session id; FailedPrecondition when no such secure-aggregation round is open.
  // A step's message that the open session refuses (its form, its step, its sender) is counted and logged
  // like a refused upload (Refuse) with the reason. `certificate_pem` is the caller's certificate (from the
  // connection): its key must have signed the advertised keys, and it goes into the roster (peer_auth.h).
  absl::Status SecAggAdvertise(const std::string& site_id, const std::string& certificate_pem,
                               const v1::SecAggAdvertiseRequest& request);
  absl::Status SecAggShareKeys(const std::string& site_id, const v1::SecAggShareKeysRequest& request);
  absl::Status SecAggUnmask(const std::string& site_id, const v1::SecAggUnmaskRequest& request);
  // Long poll (up to max_poll_wait_ms) for the input of the site's next step.
  absl::StatusOr<v1::SecAggPollResponse> SecAggPoll(const std::string& site_id, const v1::SecAggPollRequest& request,
                                                    const std::function<bool()>& cancelled);
  // The masked input of an upload whose header BeginUpload accepted with secagg_masked: added into the round's
  // running sum and dropped (never written to disk).
  absl::Status FinishMaskedUpload(const std::string& site_id, const UploadTicket& ticket, const std::string& bytes,
                                  const std::string& sha256);
  // A participant of the open round declines it under its own privacy policy (coordinator_privacy.cc): the
  // decline is stored and counted (once per site and round, across attempts and restarts), the round stops
  // waiting for the site, and later attempts of the round leave the site out.
  // FailedPrecondition when `request` names no open round the site takes part in or the site already uploaded.
  absl::Status DeclineRound(const std::string& site_id, const v1::DeclineRequest& request);
  // Records a refusal that happened at the RPC edge (e.g. a broken stream).
  void CountRefusal(const std::string& site_id, const v1::UpdateHeader& header, const std::string& reason);

  // --- admin ---
  absl::StatusOr<v1::ListSitesResponse> ListSites();
  absl::StatusOr<v1::SiteInfo> RevokeSite(const std::string& site_id);
  // Sets the site's admitted sources to `sources` (non-empty) and/or adds its pending ones (approve_pending).
  absl::StatusOr<v1::SiteInfo> AdmitSources(const std::string& site_id, const std::vector<std::string>& sources,
                                            bool approve_pending);
  absl::StatusOr<v1::RunStatus> StartRun(const v1::RunPlan& plan);
  absl::StatusOr<v1::RunStatus> StopRun(int64_t run_id);
  absl::StatusOr<v1::RunStatus> RunStatus(int64_t run_id);
  // Blocks until the state sequence number differs from `seen` or timeout; returns the current number.
  uint64_t WaitForChange(uint64_t seen, int32_t timeout_ms);
  absl::StatusOr<v1::ListModelsResponse> ListModels();
  absl::StatusOr<v1::ModelManifest> Promote(int64_t version);
  absl::StatusOr<v1::ModelManifest> Rollback();
  // Lifts a revocation (NotFound for a site never seen).
  absl::StatusOr<v1::SiteInfo> UnrevokeSite(const std::string& site_id);
  // Removes the entry of a site that never said hello and holds nothing (StateStore::ForgetSite), with its
  // revocation; `admin` (the caller's certificate id) is logged. NotFound / FailedPrecondition as the store's.
  absl::StatusOr<v1::ForgetSiteResponse> ForgetSite(const std::string& site_id, const std::string& admin);
  // Promote, refusing (FailedPrecondition) a model no round trained (a run's initial weights) unless `force`.
  absl::StatusOr<v1::ModelManifest> Promote(int64_t version, bool force);
  // Writes each site's last-seen time to the store (at shutdown), so LAST SEEN survives a restart.
  void SaveLastSeen();

  // Drives the state machine once (the scheduler thread calls it every tick_ms; tests may call it directly).
  void Tick();

 private:
  struct ActiveRound {
    RoundRecord record;
    std::set<std::string> uploaded;
    std::set<std::string> declined;  // participants that declined (restored from the store after a restart)
    bool closing = false;
    int64_t bytes_down = 0;
    // Set for a secure-aggregation round: one session, or disjoint cohorts (server/secagg_cohorts.h).
    std::shared_ptr<SecAggAttempt> secagg;
  };

  int64_t NowMs() const;
  void Bump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::set<std::string> OnlineSites() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeOpenRound(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ShouldClose(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a restart failed an open secure-aggregation attempt: true (the next attempt waits) while a site of
  // that attempt is not `online` again and the grace (plan.secagg_step_s) has not passed.
  bool WaitForRejoin(int64_t now, const std::set<std::string>& online) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseRound(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the outcome of a closing round (the new model, or a failed attempt) and ends it.
  void AdoptRoundResult(RoundRecord record, absl::StatusOr<std::pair<v1::ModelManifest, std::string>> result,
                        int64_t aggregation_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Secure aggregation hooks (server/secagg_coordinator.cc): sets up ar->secagg for a run that asks for it: one
  // session over the participants, or, while the run is in cohort mode (secagg_state_, since an attempt's sum
  // was spoiled), disjoint cohorts when the participants make at least two (DrawCohorts).
  absl::Status StartSecAgg(ActiveRound* ar) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One session of ar's attempt over `sites` (all participants, or one cohort: `keep_sum`).
  absl::StatusOr<std::unique_ptr<SecAggRound>> CreateSecAggSession(const ActiveRound& ar,
                                                                   const std::vector<std::string>& sites,
                                                                   bool keep_sum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The adapter groups of a secure-aggregation round: each source with at least `threshold` of `sites`
  // entitled to it (EntitledSourcesOf), mapped to those sites.
  std::map<std::string, std::vector<std::string>> AdapterGroups(const std::vector<std::string>& sites,
                                                                int threshold);
  // The open secure-aggregation round of `session_id`, or FailedPrecondition.
  absl::StatusOr<SecAggRound*> OpenSecAgg(const std::string& session_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // BeginUpload's checks for a round or header under secure aggregation.
  absl::StatusOr<UploadTicket> BeginMaskedUpload(const std::string& site_id, const v1::UpdateHeader& header)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseSecAggRound(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a cohort attempt some cohort of which was spoiled: records its verdict in secagg_state_ and, when
  // SitOutSuspect names a site, has it sit out `next_round` (logged and counted as its refusal).
  void WeighSuspicion(const RoundRecord& record, const CohortVerdict& verdict, int32_t next_round)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Updates secagg_state_ for a closing attempt of `record` (exclusions, cohort mode, clean attempts,
  // suspicion; `passed`: the attempt completes its round) and writes it to the store; a failed write is logged
  // (the state then lasts until a restart).
  void RecordSecAggState(const RoundRecord& record, const SecAggAttempt& attempt, bool passed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The sites secagg_state_ leaves out of round `round` of the active run: its exclusions and its sit-out.
  std::set<std::string> SecAggLeftOut(int32_t round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Advances the open secure-aggregation round's steps and wakes waiters when one closed.
  void AdvanceSecAgg(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns the new version's manifest and blob path (not yet recorded in the store).
  // Every stored update's digest is checked against the recorded one while it is read.
  absl::StatusOr<std::pair<v1::ModelManifest, std::string>> Aggregate(const RoundRecord& round,
                                                                     const v1::RunPlan& plan,
                                                                     const std::vector<UpdateRecord>& updates);
  // Applies a round's mean delta `next` to the round's input model through the run's server optimiser and writes
  // the next version (shared by the plain and the secure-aggregation paths).
  absl::StatusOr<std::pair<v1::ModelManifest, std::string>> ApplyDelta(const RoundRecord& round,
                                                                      const v1::RunPlan& plan, fl::TensorBundle next,
                                                                      int64_t samples, double mean_loss, int sites);
  // `updates` carry their effective sample counts (EffectiveSamples); `sources` the entitled sources of each.
  // `clip` carries the previous round's reference in (0 = none) and receives the round's clipping.
  absl::StatusOr<fl::TensorBundle> AggregateDelta(const fl::BundleLayout& global, const v1::RunPlan& plan,
                                                  const std::vector<UpdateRecord>& updates,
                                                  const std::vector<std::vector<std::string>>& sources,
                                                  fl::ClipDecision* clip);
  // The site's record (nullopt when unknown or unreadable).
  std::optional<SiteRecord> SiteRecordOf(const std::string& site_id);
  // Sources the site declared in its last Hello: adapters of any other source are refused.
  std::vector<std::string> DeclaredSourcesOf(const std::string& site_id);
  // Sources whose adapters the site contributes to and receives (coordinator_checks.h EntitledSources).
  std::vector<std::string> EntitledSourcesOf(const std::string& site_id);
  // Updates admission on a Hello (see Hello()).
  absl::Status AdmitOnHello(const std::string& site_id, const v1::HelloRequest& request);
  // Calls that write a site's state in SQLite (Hello: its row and a log line; ReportEvaluation: its evaluation
  // row): a site may send kStateWriteBurst at once, then kStateWritesPerSecond a second (coordinator_checks.h);
  // more are ResourceExhausted, logged at most every 10 s. `what` names the call in the message.
  absl::Status PaceStateWrite(const std::string& site_id, int64_t now_ms, const char* what);
  // The model version a run with `plan` starts from: its initial_model file as a new version when it names one
  // (checked, common/model/initial_model.h), else the promoted model when it has the configured spec, else the
  // spec's untrained weights as a new version.
  absl::StatusOr<int64_t> InitialModelVersion(const v1::RunPlan& plan);
  absl::Status Refuse(const std::string& site_id, int64_t run_id, int32_t round, absl::Status why);
  // The run's note (RunStatus.message) once a round attempt has ended, until the next one opens or the run
  // waits for sites: "round N attempt A <how>".
  void NoteRoundEnded(const RoundRecord& record, const std::string& how) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `why` unchanged when OK; otherwise counted against the open round through Refuse (the round is open: the
  // caller found its session).
  absl::Status RefuseSecAgg(const std::string& site_id, absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // While a run waits for min_sites: true (and the run failed) once it has waited longer than plan.site_wait_s.
  bool WaitedTooLong(int64_t now, size_t online, size_t declined) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Site-level DP (coordinator_privacy.cc): charges `record` (q, epsilon) when the run can afford it and returns
  // true; otherwise finishes the run ("privacy budget spent") and returns false. `rounds`: the run's attempts.
  bool ChargeRoundOrStop(const std::vector<RoundRecord>& rounds, size_t online, RoundRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the run's epsilon spent and its declines in `status`.
  absl::Status DescribePrivacy(const std::vector<RoundRecord>& rounds, v1::RunStatus* status);
  // Sets a done round's clipped_updates, clip_bound and secagg cohort counts in `summary` from its model's
  // manifest.
  absl::Status DescribeClipping(const RoundRecord& round, v1::RoundSummary* summary);
  // Adds the open round's participants, uploads and deadline to its summary in `status`.
  void DescribeOpenRound(v1::RunStatus* status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishRun(const std::string& state, const std::string& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Model retention (coordinator_retention.cc): deletes the files of the versions past it (after a round, a
  // promotion, a rollback and at recovery). Failures are logged; a file left behind is retried at the next
  // restart.
  void PruneModels() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // At recovery: removes the files of versions marked deleted whose removal a crash interrupted.
  void SweepDeletedModels() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverRun() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the update files of a closed round attempt (aggregated or failed) unless keep_updates is set: an
  // individual update is kept no longer than its round needs it.
  void DiscardUpdates(const std::vector<UpdateRecord>& updates);

  const CoordinatorOptions options_;
  StateStore* const store_;
  ModelBlobs* const blobs_;
  RefusalLog refusals_{store_};  // what Refuse records, bounded per site

  absl::Mutex mu_;
  absl::CondVar changed_;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, int64_t> last_seen_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> revoked_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> revoked_since_ms_ ABSL_GUARDED_BY(mu_);  // when this process saw each revoked
  std::set<std::string> revoked_told_ ABSL_GUARDED_BY(mu_);               // revoked sites refused a call since
  std::optional<RunRecord> run_ ABSL_GUARDED_BY(mu_);
  std::optional<ActiveRound> round_ ABSL_GUARDED_BY(mu_);
  std::string run_note_ ABSL_GUARDED_BY(mu_);  // e.g. "waiting for 3 sites (2 online)"
  int64_t waiting_since_ms_ ABSL_GUARDED_BY(mu_) = 0;  // when the run began waiting for min_sites; 0 = not
  // Sites of a secure-aggregation attempt a restart interrupted, and until when its successor waits for them.
  std::set<std::string> rejoin_ ABSL_GUARDED_BY(mu_);
  int64_t rejoin_until_ms_ ABSL_GUARDED_BY(mu_) = 0;
  // Secure aggregation's run state (docs/rules/s26-securestate.md): cohort mode and its clean attempts, the
  // sites excluded from the remaining attempts of one round for spoiling shares (SecAggRound::exclusions,
  // docs/rules/s24-secshares.md), the site sitting out one round and the last kSuspicionWindow spoiled cohort
  // attempts' verdicts (docs/rules/s25-cohorts.md). Written to the store (StateStore::SaveSecAggState) when an
  // attempt closes, before its result is recorded; read back by Recover. Its run_id names the run it belongs
  // to (another run's state is ignored and replaced).
  SecAggRunState secagg_state_ ABSL_GUARDED_BY(mu_);
  absl::Mutex validate_mu_;  // serialises decoding + checking of uploads
  struct WritePace {
    double tokens = 0;
    int64_t at_ms = 0;
    int64_t refused = 0;    // since the last log line
    int64_t logged_ms = 0;
  };
  absl::Mutex write_pace_mu_;  // never held with mu_ waited for inside it
  std::map<std::string, WritePace> write_pace_ ABSL_GUARDED_BY(write_pace_mu_);  // per site (id from its certificate)
  absl::Mutex admission_mu_;  // serialises read-modify-write of a site's admitted/pending sources

  std::thread scheduler_;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_COORDINATOR_H_
