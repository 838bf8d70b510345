// SiteDaemon: the site's federation loop. It says hello, long-polls for round tasks, and for each task downloads
// the global model (shared tensors plus this site's own sources' adapters), evaluates it on held-out local data,
// trains it on the site's own lines (SiteTrainer: MLP autoencoder or line encoder, as the task's spec says), and
// uploads the delta. Between rounds it fetches the promoted model for live detection and, when personalise_rounds
// > 0, personalises it (SiteTrainer::Personalise, data_dir/personal_model.*). When the aggregator is away it retries
// with exponential backoff; Stop() ends it promptly (SIGTERM). Everything the aggregator sends is checked
// (client/aggregator_checks.h) before it is acted on; a refusal keeps the previous model and state, is logged and
// counted, and the daemon carries on after a backoff.
// Thread-safe: Run() on one thread, Stop() from any other.
#ifndef FEDLOG_CLIENT_SITE_DAEMON_H_
#define FEDLOG_CLIENT_SITE_DAEMON_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/federation_session.h"
#include "client/local_data.h"
#include "client/site_kinds.h"
#include "client/site_ledger.h"
#include "client/site_trainer.h"
#include "fedlog/v1/config.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::client {

// Fills documented defaults (config.proto) and checks required fields; resolves relative paths against base_dir.
absl::Status FinalizeClientConfig(v1::ClientConfig* config, const std::string& base_dir = "");
absl::StatusOr<v1::ClientConfig> LoadClientConfig(const std::string& path);

class SiteDaemon {
 public:
  // Reads the sources and prepares credentials; errors here are configuration errors.
  static absl::StatusOr<std::unique_ptr<SiteDaemon>> Create(const v1::ClientConfig& config);
  ~SiteDaemon();

  // Runs until Stop(). Returns OK after Stop(), PermissionDenied when the site is revoked, or
  // Unauthenticated when the aggregator refuses the certificate for good. After a lost connection each attempt
  // uses a fresh channel, so a returning aggregator is found at the next attempt (no channel-level backoff or
  // cached resolver failure in between).
  absl::Status Run();
  void Stop();

  int rounds_completed() const { return rounds_completed_.load(); }
  // Messages of the aggregator this daemon refused (client/aggregator_checks.h): a hello, round task, model
  // download or secure-aggregation message that failed its checks. Logged with refused_from_aggregator=N.
  int refused_from_aggregator() const { return refused_from_aggregator_.load(); }
  // Rounds whose kind counts went without the operator's verdicts because detect.db could not be read.
  int kind_verdicts_unread() const { return kind_verdicts_unread_.load(); }

 private:
  SiteDaemon(v1::ClientConfig config, std::vector<SourceLines> sources,
             std::shared_ptr<grpc::ChannelCredentials> creds, SiteLedger ledger);

  // The current session (replaced by Reconnect); callers hold their copy for the call's duration.
  std::shared_ptr<FederationSession> session() ABSL_LOCKS_EXCLUDED(mu_);
  // A new session on a new channel (not after Stop()).
  void Reconnect() ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<FederationSession> NewSession() const;
  // Counts and logs `st` when it is a refusal of what the aggregator sent (IsRefusal); nothing otherwise.
  void NoteRefusal(const absl::Status& st);
  // The names of this site's sources (the adapters a downloaded model may carry).
  std::vector<std::string> SourceNames() const;
  // Logs a failed session: a TLS failure as an error naming the CA this site trusts, else a warning.
  void LogUnavailable(const absl::Status& st, int64_t backoff_ms);

  // One connection: hello, then tasks until an error. A round task is checked (CheckRoundTask) before DoRound; a
  // failed round or promoted-model fetch backs off (exponential with jitter) before the next task poll.
  absl::Status Session();
  absl::Status DoRound(const v1::RoundTask& task);
  // Sends a prepared update: plainly (encoded as the task says) or, when the task asks for secure aggregation,
  // as a masked input through the secagg steps (client/secagg_client.h), `kind_counts` then in the round's
  // masked kind sections. Returns the bytes sent.
  absl::StatusOr<int64_t> SendUpdate(const v1::RoundTask& task, const fl::TensorBundle& global,
                                     const LocalUpdate& update, const std::vector<v1::KindCounts>& kind_counts);
  // The site's labelled units per message kind, one entry per source with a labelled kind (client/site_kinds.h:
  // sessions as units for a source keyed into sessions, else lines), each capped per bucket: the labels files'
  // lines and the operator's verdicts in data_dir/detect.db (MergeOperatorVerdicts).
  absl::StatusOr<std::vector<v1::KindCounts>> SiteKindCounts();
  // The operator's verdicts in data_dir/detect.db per source (client/site_verdicts.h); none, logged and counted
  // (kind_verdicts_unread), when the store cannot be read.
  std::map<std::string, std::vector<OperatorVerdict>> OperatorVerdictsForKinds();
  // Logs, per source of this site that `manifest` carries kind counts for, how many of the site's own kinds
  // the federation's verdicts decide (SourceKindCoverage at the detector's verdict options).
  void LogKindCoverage(const v1::ModelManifest& manifest) const;
  // Privacy (client/site_daemon_privacy.cc). Declines `task` because of `why` (the policy check's refusal):
  // logs it and tells the aggregator. Never OK (Aborted once the aggregator knows), so the caller backs off.
  absl::Status Decline(const v1::RoundTask& task, const absl::Status& why);
  // The upload's privacy step (client/privacy_step.h) on `update`, then (site-level DP) the charge to the
  // site's ledger, written before the update can leave; sets header.dp_epsilon. `global` is the round's model.
  absl::Status ProtectUpdate(const v1::RoundTask& task, const fl::TensorBundle& global, LocalUpdate* update);
  // Line-level DP (--dp-mode line): charges the round's DP mechanisms (update->line_dp: the DP-SGD phases and, in
  // the plan's release round, the class-sum release) and the release of the noised line count (at the plan's
  // stddev, stated in header.line_dp_count_noise) to the ledger, divides the class-sum release by that count
  // (ScaleClassSumRelease) and reports the run's epsilon in the header.
  absl::Status ChargeLineDp(const v1::RoundTask& task, const fl::TensorBundle& global, LocalUpdate* update);
  // True when the last Hello carried an exact line count (privacy.declare_lines true); Run's thread only.
  bool DeclaredLinesInHello() const;
  // Downloads the promoted model when it differs from the one on disk (data_dir/promoted_model.bundle), then
  // personalises it (personalise_rounds > 0). At the first call, when the promoted model on disk is current but
  // has no personal model of its version, personalises that one instead.
  absl::Status SyncPromoted(int64_t version);
  void PersonaliseOnDisk();
  // Personalisation of a line_encoder `global`; a failure is logged, never returned: detection falls back to the
  // promoted model.
  void Personalise(const v1::ModelManifest& promoted, const fl::TensorBundle& global);
  // Runs SiteTrainer::Personalise; writes data_dir/personal_model.{bundle,manifest} when the local rounds won on
  // validation, else removes stale ones.
  absl::Status WritePersonalModel(const v1::ModelManifest& promoted, const fl::TensorBundle& global);
  bool SleepUnlessStopped(int64_t ms);
  void HeartbeatLoop();
  void SetState(const std::string& state);

  const v1::ClientConfig config_;
  const std::vector<SourceLines> sources_;
  const std::shared_ptr<grpc::ChannelCredentials> creds_;
  SiteTrainer trainer_;
  SiteLedger ledger_;              // this site's epsilon over every run (Run's thread only)
  int64_t promoted_version_ = -1;  // -1: not read from disk yet
  v1::HelloRequest hello_;         // the last hello sent (Run's thread only)
  std::string site_id_;            // as the aggregator read it from the certificate (Run's thread only)
  int closed_in_a_row_ = 0;        // connections the aggregator closed in a row (Run's thread only)
  std::atomic<int> rounds_completed_{0};
  std::atomic<int> kind_verdicts_unread_{0};
  std::atomic<int> refused_from_aggregator_{0};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  std::string state_ ABSL_GUARDED_BY(mu_) = "idle";
  int32_t heartbeat_ms_ ABSL_GUARDED_BY(mu_) = 2000;
  std::shared_ptr<FederationSession> session_ ABSL_GUARDED_BY(mu_);
  std::thread heartbeat_;
};

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SITE_DAEMON_H_
