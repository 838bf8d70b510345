// StateStore: the aggregator's durable state in SQLite — sites, runs, rounds, received updates, refusals, model
// versions and promotions. Every multi-row change is one transaction, so a crash (even kill -9) leaves the state
// of the last completed step and a restart resumes from it. Protos are stored as serialized BLOBs.
// Thread-safe: an internal mutex serialises access to the connection.
#ifndef FEDLOG_SERVER_STATE_STORE_H_
#define FEDLOG_SERVER_STATE_STORE_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/database.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/federation.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::server {

struct SiteRecord {
  std::string site_id;
  int64_t registered_ms = 0;
  int64_t last_seen_ms = 0;
  bool revoked = false;
  v1::HelloRequest hello;
  // Sources the site may train adapters for and receive: nullopt until admitted (by an admin or, with
  // auto_admit_sources, on Hello). `pending`: sources it declared that wait for an admin.
  std::optional<std::vector<std::string>> admitted;
  std::vector<std::string> pending;
};

struct RunRecord {
  int64_t run_id = 0;
  v1::RunPlan plan;
  std::string state;  // "running", "done", "stopped", "failed"
  int32_t current_round = 0;  // last completed round
  int64_t global_version = 0;
  int64_t started_ms = 0;
  std::string message;
};

struct RoundRecord {
  int64_t run_id = 0;
  int32_t round = 0;
  int32_t attempt = 0;
  std::string state;  // "open", "done", "failed"
  int64_t model_in = 0;
  int64_t model_out = 0;
  std::vector<std::string> participants;
  int64_t opened_ms = 0;
  int64_t deadline_ms = 0;
  int64_t closed_ms = 0;
  int32_t sites = 0;
  int64_t samples = 0;
  double mean_loss = 0;
  int64_t bytes_up = 0;
  int64_t bytes_down = 0;
  // Site-level DP: the sampling rate q and the run's cumulative epsilon once this attempt is charged (set when
  // the round opens; 0 without DP). Read-only views: the largest epsilon a site reported with its update, and
  // how many participants declined the attempt.
  double dp_sampling_rate = 0;
  double epsilon = 0;
  double site_epsilon = 0;
  int32_t declined = 0;
};

struct UpdateRecord {
  std::string site_id;
  int64_t num_samples = 0;
  double train_loss = 0;
  std::string path;
  std::string sha256;
  int64_t received_ms = 0;
  int64_t distinct_templates = 0;
  double imbalance = 1.0;
  int64_t size_bytes = 0;
  double dp_epsilon = 0;  // the epsilon the site reported (UpdateHeader.dp_epsilon), validated
  // Squared norms of the update's parts (fl::EncodePartNorms), computed by the aggregator while it checked the
  // upload; "" = not stored (an update from an older binary): aggregation then reads them from the file.
  std::string part_norms;
};

// What one spoiled cohort attempt says about its sites (docs/rules/s25-cohorts.md, "Attribution"): the sites
// whose input was in a cohort sum that failed its check, and those whose input was in a passing cohort's sum.
struct CohortVerdict {
  std::set<std::string> suspects;
  std::set<std::string> cleared;
};

// A secure-aggregation run's state that a restart must not forget (docs/rules/s26-securestate.md): whether the
// run is in cohort mode and how many clean attempts it has had since its last spoiled one, the sites excluded
// from the remaining attempts of round `excluded_round`, the site that sits out round `sit_out_round` (empty:
// none), and the last spoiled cohort attempts' verdicts, oldest first.
struct SecAggRunState {
  int64_t run_id = 0;
  bool cohort_mode = false;
  int32_t clean_attempts = 0;
  int32_t excluded_round = 0;
  std::set<std::string> excluded;
  int32_t sit_out_round = 0;
  std::string sit_out;
  std::vector<CohortVerdict> verdicts;
};

// The error for a model version whose file was deleted past retention (downloads, promotion).
absl::Status DeletedModelError(int64_t version);

class StateStore {
 public:
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::string& db_path);

  // Sites.
  absl::Status UpsertSiteHello(const std::string& site_id, const v1::HelloRequest& hello, int64_t now_ms);
  absl::Status TouchSite(const std::string& site_id, int64_t now_ms);
  absl::Status SetRevoked(const std::string& site_id, bool revoked);
  // Records a site's admitted (nullopt: leave as is) and pending sources; creates the site row if needed.
  absl::Status SetSources(const std::string& site_id, const std::optional<std::vector<std::string>>& admitted,
                          const std::vector<std::string>& pending, int64_t now_ms);
  absl::StatusOr<std::vector<SiteRecord>> ListSites();
  absl::StatusOr<std::optional<SiteRecord>> GetSite(const std::string& site_id);
  // Deletes the row of a site that never said hello (no Hello stored, never seen) and that no update,
  // evaluation, decline or refusal names, in one statement (a Hello racing it wins). FailedPrecondition
  // saying which condition failed; NotFound for an unknown id.
  absl::Status ForgetSite(const std::string& site_id);

  // Runs and rounds. CreateRun also deletes every other run's secure-aggregation state (SaveSecAggState).
  absl::StatusOr<int64_t> CreateRun(const v1::RunPlan& plan, int64_t global_version, int64_t now_ms);
  absl::StatusOr<std::optional<RunRecord>> GetRun(int64_t run_id);  // 0 = most recent
  absl::StatusOr<std::optional<RunRecord>> ActiveRun();             // state "running"
  absl::Status EndRun(int64_t run_id, const std::string& state, const std::string& message, int64_t now_ms);
  absl::Status OpenRound(const RoundRecord& round);
  absl::Status FailRound(const RoundRecord& round, int64_t now_ms);
  // Marks the round done, records the new model and advances the run, in one transaction.
  absl::Status CompleteRound(const RoundRecord& round, const v1::ModelManifest& model, const std::string& path);
  absl::StatusOr<std::vector<RoundRecord>> ListRounds(int64_t run_id);
  absl::StatusOr<std::optional<RoundRecord>> OpenRoundOf(int64_t run_id);

  // Updates of a round attempt.
  absl::Status AddUpdate(const RoundRecord& round, const UpdateRecord& update);
  absl::StatusOr<std::vector<UpdateRecord>> ListUpdates(int64_t run_id, int32_t round, int32_t attempt);
  // Counted only while run `run_id` is running (a finished run's record stays as it ended); the reason is
  // truncated to kMaxRefusalReason bytes.
  static constexpr size_t kMaxRefusalReason = 512;
  absl::Status AddRefusal(const std::string& site_id, int64_t run_id, int32_t round, const std::string& reason,
                          int64_t now_ms);
  // Every refusal of run `run_id`: its rows plus the counts of SetRefusalOverflow.
  absl::StatusOr<int64_t> CountRefusals(int64_t run_id);
  // A site's refusals in a run past the rows server/refusal_log.h keeps: the count (not an increment) and the
  // latest reason (truncated to kMaxRefusalReason bytes). SiteRefusals: what is recorded of a site in a run.
  absl::Status SetRefusalOverflow(const std::string& site_id, int64_t run_id, int64_t count,
                                  const std::string& last_reason, int64_t now_ms);
  struct SiteRefusalCounts {
    int64_t rows = 0;
    int64_t overflow = 0;
  };
  absl::StatusOr<SiteRefusalCounts> SiteRefusals(const std::string& site_id, int64_t run_id);

  // Federated evaluation: a site's held-out metrics for the model a round started from (one row per site/round).
  absl::Status AddEvaluation(int64_t run_id, int32_t round, const v1::SiteEvaluation& evaluation, int64_t now_ms);
  absl::StatusOr<std::vector<std::pair<int32_t, v1::SiteEvaluation>>> ListEvaluations(int64_t run_id);

  // Rounds a site declined under its own privacy policy (DeclineRound). A decline is kept once per site and
  // round: AddDecline records it (under `round.attempt`, the reason truncated to kMaxRefusalReason bytes) and
  // returns true, or returns false and changes nothing when the site already declined that round (any
  // attempt, before a restart too). ListDeclines: per site of run `run_id`, the count and the latest reason.
  // DeclinedSites: the sites that declined round `round` of run `run_id`.
  absl::StatusOr<bool> AddDecline(const std::string& site_id, const RoundRecord& round, const std::string& reason,
                                  int64_t now_ms);
  absl::StatusOr<std::vector<v1::SiteDeclines>> ListDeclines(int64_t run_id);
  absl::StatusOr<std::set<std::string>> DeclinedSites(int64_t run_id, int32_t round);

  // Secure aggregation's run state (state_store_secagg.cc). SaveSecAggState replaces the state of
  // `state.run_id` and deletes every other run's, in one transaction (a crash leaves the old state or the new);
  // InvalidArgument for a run id below 1, more than kMaxSecAggVerdicts verdicts, or a site id that is not a valid
  // peer id. LoadSecAggState: the run's state, nullopt when none was saved.
  static constexpr size_t kMaxSecAggVerdicts = 16;
  absl::Status SaveSecAggState(const SecAggRunState& state, int64_t now_ms);
  absl::StatusOr<std::optional<SecAggRunState>> LoadSecAggState(int64_t run_id);

  // Models and promotion.
  absl::Status AddModel(const v1::ModelManifest& manifest, const std::string& path);
  absl::StatusOr<std::optional<std::pair<v1::ModelManifest, std::string>>> GetModel(int64_t version);
  absl::StatusOr<std::vector<v1::ModelManifest>> ListModels();
  absl::StatusOr<int64_t> MaxModelVersion();
  absl::Status Promote(int64_t version, int64_t now_ms);
  absl::StatusOr<int64_t> PromotedVersion();  // 0 when none
  absl::StatusOr<int64_t> Rollback();         // returns the version now promoted

  // Model retention (ServerConfig.keep_model_versions; state_store_retention.cc). A model row whose file was
  // deleted keeps its manifest with deleted_ms set (GetModel and ListModels report it; Promote refuses it).
  // MarkModelsDeleted: in one transaction, marks deleted every version whose file is still kept and that is
  // none of: the newest `keep_newest` versions, a version in the promotion history that is not rolled back
  // (the promoted one and those `Rollback` can reach), a version in `in_use`. Returns (version, path) of the
  // versions it marked, for the caller to delete their files. DeletedModelPaths: the paths of every version
  // marked deleted (a restart removes files a crash left between the mark and the removal).
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> MarkModelsDeleted(int32_t keep_newest,
                                                                                const std::set<int64_t>& in_use,
                                                                                int64_t now_ms);
  absl::StatusOr<std::vector<std::string>> DeletedModelPaths();

 private:
  explicit StateStore(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}

  absl::Mutex mu_;
  std::unique_ptr<store::Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_STATE_STORE_H_
