#include "client/site_daemon.h"

#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/aggregator_checks.h"
#include "client/detect/detector.h"
#include "client/detect/model_loader.h"
#include "client/secagg_client.h"
#include "client/site_kinds.h"
#include "client/privacy_policy.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/config/yaml_proto.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/fedavg.h"
#include "common/model/local_trainer.h"
#include "common/model/site_model.h"
#include "common/base/version.h"
#include "common/net/address.h"
#include "common/net/tls.h"
#include "common/net/tls_check.h"

namespace fedlog::client {
namespace {

constexpr int kMaxPersonaliseRounds = 100;
// The shortest time between two "no task" answers the daemon acts on (Session).
constexpr int64_t kMinNoTaskIntervalMs = 100;

bool Fatal(const absl::Status& st) {
  return st.code() == absl::StatusCode::kPermissionDenied || st.code() == absl::StatusCode::kUnauthenticated;
}

// A wait of `backoff` ms with jitter: uniform in [backoff/2, backoff], so sites that failed together do not
// come back together. Jitter is not a secret: std::random_device suffices.
int64_t Jittered(int64_t backoff) {
  const int64_t half = std::max<int64_t>(1, backoff / 2);
  std::random_device rd;
  return half + static_cast<int64_t>(rd() % static_cast<uint64_t>(half + 1));
}

// Drops the optional tensors of a downloaded model that this daemon does not know (not in the model schema of
// fl::ExpectedOptionalShape for `spec`), logging them: a model carrying, say, a newer release's extra tensor is
// still usable, instead of failing every round ("model has N parameters, bundle has N+1"). Returns whether any
// tensor was dropped.
bool IgnoreUnknownTensors(const v1::ModelSpec& spec, fl::TensorBundle* bundle) {
  fl::UpdateCheckOptions schema;
  absl::StatusOr<std::unique_ptr<model::SiteModel>> model = model::CreateSiteModel(spec);
  if (model.ok()) schema = (*model)->OptionalSchema().value_or(fl::UpdateCheckOptions());
  std::vector<std::string> dropped = fl::DropUnknownOptional(bundle, schema);
  if (dropped.empty()) return false;
  for (std::string& name : dropped) name = LoggableText(name);  // a name from the network
  FEDLOG_LOG(WARNING) << "ignored " << dropped.size() << " unknown optional tensor(s) of the downloaded model: "
                      << absl::StrJoin(dropped, ", ") << "; ignored_tensors=" << dropped.size();
  return true;
}

SiteTrainerOptions TrainerOptions(const v1::ClientConfig& config) {
  SiteTrainerOptions o;
  o.holdout_percent = config.holdout_percent();
  o.device = config.device();
  o.threads = config.threads();
  o.feedback_db = detect::DetectStorePath(config.data_dir());
  return o;
}

}  // namespace

absl::Status FinalizeClientConfig(v1::ClientConfig* c, const std::string& base_dir) {
  auto resolve = [&](std::string* p) {
    if (!base_dir.empty() && !p->empty() && (*p)[0] != '/') {
      *p = (std::filesystem::path(base_dir) / *p).lexically_normal().string();
    }
  };
  if (c->aggregator_address().empty()) c->set_aggregator_address("localhost:7443");
  FEDLOG_RETURN_IF_ERROR(net::ParseHostPort(c->aggregator_address(), "aggregator_address").status());
  if (c->data_dir().empty()) return absl::InvalidArgumentError("data_dir is required");
  if (c->tls().ca_cert().empty() || c->tls().cert().empty() || c->tls().key().empty()) {
    return absl::InvalidArgumentError("tls.ca_cert, tls.cert and tls.key are required (mTLS is always on)");
  }
  if (c->sources_size() == 0) return absl::InvalidArgumentError("at least one entry in sources is required");
  resolve(c->mutable_data_dir());
  resolve(c->mutable_tls()->mutable_ca_cert());
  resolve(c->mutable_tls()->mutable_cert());
  resolve(c->mutable_tls()->mutable_key());
  for (int i = 0; i < c->sources_size(); ++i) {
    v1::LogSourceConfig* s = c->mutable_sources(i);
    if (s->name().empty() || s->path().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("sources[", i, "] needs a name and a path"));
    }
    if (s->max_lines() < 0) return absl::InvalidArgumentError(absl::StrCat("sources[", i, "].max_lines < 0"));
    resolve(s->mutable_path());
    resolve(s->mutable_labels());
  }
  if (c->device().empty()) c->set_device("auto");
  if (c->threads() <= 0) c->set_threads(1);
  if (c->backoff_initial_ms() <= 0) c->set_backoff_initial_ms(500);
  if (c->backoff_max_ms() <= 0) c->set_backoff_max_ms(3000);
  if (c->holdout_percent() <= 0) c->set_holdout_percent(20);
  if (c->holdout_percent() > 90) return absl::InvalidArgumentError("holdout_percent must be at most 90");
  if (c->max_model_bytes() == 0) c->set_max_model_bytes(kDefaultMaxModelBytes);
  if (c->max_model_bytes() < kMinMaxModelBytes || c->max_model_bytes() > kMaxMaxModelBytes) {
    return absl::InvalidArgumentError(absl::StrCat("max_model_bytes must be between ", kMinMaxModelBytes, " and ",
                                                   kMaxMaxModelBytes, "; got ", c->max_model_bytes()));
  }
  if (c->personalise_rounds() < 0 || c->personalise_rounds() > kMaxPersonaliseRounds) {
    return absl::InvalidArgumentError(absl::StrCat("personalise_rounds must be between 0 (off) and ",
                                                   kMaxPersonaliseRounds, "; got ", c->personalise_rounds()));
  }
  return FinalizeSitePrivacyPolicy(c->mutable_privacy());
}

absl::StatusOr<v1::ClientConfig> LoadClientConfig(const std::string& path) {
  v1::ClientConfig c;
  FEDLOG_RETURN_IF_ERROR(config::LoadYamlFile(path, &c));
  FEDLOG_RETURN_IF_ERROR(
      Annotate(FinalizeClientConfig(&c, std::filesystem::path(path).parent_path().string()), path));
  return c;
}

SiteDaemon::SiteDaemon(v1::ClientConfig config, std::vector<SourceLines> sources,
                       std::shared_ptr<grpc::ChannelCredentials> creds, SiteLedger ledger)
    : config_(std::move(config)),
      sources_(std::move(sources)),
      creds_(std::move(creds)),
      trainer_(&sources_, TrainerOptions(config_)),
      ledger_(std::move(ledger)),
      session_(NewSession()) {}

std::shared_ptr<FederationSession> SiteDaemon::NewSession() const {
  return std::make_shared<FederationSession>(net::MakeChannel(config_.aggregator_address(), creds_), 1 << 20,
                                             config_.max_model_bytes());
}

std::shared_ptr<FederationSession> SiteDaemon::session() {
  absl::MutexLock lock(&mu_);
  return session_;
}

void SiteDaemon::Reconnect() {
  std::shared_ptr<FederationSession> fresh = NewSession();
  absl::MutexLock lock(&mu_);
  if (!stopping_) session_ = std::move(fresh);
}

void SiteDaemon::LogUnavailable(const absl::Status& st, int64_t backoff_ms) {
  const std::string message(st.message());
  // Our side refusing the aggregator's certificate shows as a handshake error; the aggregator refusing ours
  // shows as a connection it closes during the handshake ("Socket closed"), which is taken for a trust failure
  // once it happens twice in a row (a restarting aggregator closes connections too, but not repeatedly).
  const bool closed = absl::StrContains(message, "Socket closed");
  closed_in_a_row_ = closed ? closed_in_a_row_ + 1 : 0;
  if (net::LooksLikeTlsFailure(message) || closed_in_a_row_ >= 2) {
    const std::string ca = net::CertificateSubject(config_.tls().ca_cert());
    const std::string issuer = net::CertificateIssuer(config_.tls().cert());
    FEDLOG_LOG(ERROR) << "TLS handshake with the aggregator at " << config_.aggregator_address()
                      << " failed; this site trusts only the CA " << (ca.empty() ? "?" : ca) << " (tls.ca_cert "
                      << config_.tls().ca_cert() << ") and presents a certificate issued by "
                      << (issuer.empty() ? "?" : issuer) << " (tls.cert " << config_.tls().cert()
                      << "): the aggregator's certificate must be signed by the first, and the aggregator must "
                         "trust the second (an aggregator that revoked this site refuses its handshake too: ask its "
                         "admin, `fedlog sites`); retrying in "
                      << backoff_ms << " ms (" << message << ")";
    return;
  }
  FEDLOG_LOG(WARNING) << "aggregator unavailable (" << message << "); retrying in " << backoff_ms << " ms";
}

SiteDaemon::~SiteDaemon() {
  Stop();
  if (heartbeat_.joinable()) heartbeat_.join();
}

absl::StatusOr<std::unique_ptr<SiteDaemon>> SiteDaemon::Create(const v1::ClientConfig& config) {
  FEDLOG_ASSIGN_OR_RETURN(std::vector<SourceLines> sources, ReadSources(config));
  FEDLOG_RETURN_IF_ERROR(MakeDirs(config.data_dir(), true));
  // A daemon killed mid-write (the ledger, a downloaded model) left its temporary copy; the file it replaces is
  // whole (docs/OPERATIONS.md "Restarts and crashes").
  for (const std::string& path : RemoveStaleAtomicTemps(config.data_dir())) {
    FEDLOG_LOG(INFO) << "removed " << path << ", left by an interrupted write";
  }
  FEDLOG_ASSIGN_OR_RETURN(std::string device, model::ResolveDevice(config.device()));
  model::SetTorchThreads(config.threads());
  const net::TlsFiles tls{config.tls().ca_cert(), config.tls().cert(), config.tls().key()};
  FEDLOG_RETURN_IF_ERROR(net::CheckTlsFiles(tls));
  FEDLOG_ASSIGN_OR_RETURN(auto creds, net::MakeChannelCredentials(tls));
  FEDLOG_ASSIGN_OR_RETURN(SiteLedger ledger,
                          SiteLedger::Open(SiteLedger::PathIn(config.data_dir()), config.privacy().delta()));
  FEDLOG_LOG(INFO) << "site daemon ready: " << sources.size() << " source(s), device " << device << ", aggregator "
                   << config.aggregator_address() << ", privacy ledger epsilon " << ledger.epsilon() << " over "
                   << ledger.entries().size() << " round(s)";
  return std::unique_ptr<SiteDaemon>(
      new SiteDaemon(config, std::move(sources), std::move(creds), std::move(ledger)));
}

void SiteDaemon::Stop() {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  stopping_ = true;
  if (session_) session_->CancelAll();
}

bool SiteDaemon::SleepUnlessStopped(int64_t ms) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(ms));
  return !stopping_;
}

void SiteDaemon::SetState(const std::string& state) {
  absl::MutexLock lock(&mu_);
  state_ = state;
}

void SiteDaemon::HeartbeatLoop() {
  while (true) {
    std::string state;
    bool connected;
    int32_t every;
    {
      absl::MutexLock lock(&mu_);
      state = state_;
      connected = connected_;
      every = heartbeat_ms_;
    }
    if (connected && state != "idle") session()->Heartbeat(state).IgnoreError();
    if (!SleepUnlessStopped(every)) return;
  }
}

absl::Status SiteDaemon::Run() {
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  int64_t backoff = config_.backoff_initial_ms();
  while (true) {
    absl::Status st = Session();
    {
      absl::MutexLock lock(&mu_);
      connected_ = false;
      if (stopping_) return absl::OkStatus();
    }
    if (Fatal(st)) {
      FEDLOG_LOG(ERROR) << "aggregator refused this site: " << st.message();
      return st;
    }
    const int64_t wait = Jittered(backoff);
    LogUnavailable(st, wait);
    if (!SleepUnlessStopped(wait)) return absl::OkStatus();
    backoff = std::min<int64_t>(backoff * 2, config_.backoff_max_ms());
    Reconnect();
  }
}

absl::Status SiteDaemon::Session() {
  v1::HelloRequest hello;
  hello.mutable_capabilities()->set_device(config_.device());
  hello.mutable_capabilities()->set_threads(config_.threads());
  hello.mutable_capabilities()->set_version(kFedlogVersion);
  if (promoted_version_ > 0) {
    hello.set_promoted_version(promoted_version_);
  } else if (promoted_version_ < 0) {
    v1::ModelManifest m;  // not synced yet this process: report the model on disk
    absl::StatusOr<std::string> bytes = ReadFile(detect::PromotedManifestPath(config_.data_dir()));
    if (bytes.ok() && m.ParseFromString(*bytes)) hello.set_promoted_version(m.version());
  }
  for (const auto& s : sources_) {
    v1::SourceInfo* info = hello.add_sources();
    info->set_name(s.name);
    info->set_format(s.format);
    // Under privacy.declare_lines false (the default of a DP policy) the exact count stays at the site.
    if (DeclaresLines(config_.privacy())) {
      info->set_lines(static_cast<int64_t>(s.contents.size()));
    } else {
      info->set_lines_withheld(true);
    }
  }
  absl::StatusOr<v1::HelloResponse> answered = session()->Hello(hello);
  if (!answered.ok()) {
    NoteRefusal(answered.status());
    return answered.status();
  }
  const v1::HelloResponse& welcome = *answered;
  hello_ = hello;
  site_id_ = welcome.site_id();
  {
    absl::MutexLock lock(&mu_);
    connected_ = true;
    heartbeat_ms_ = std::max(200, welcome.heartbeat_interval_ms());
  }
  FEDLOG_LOG(INFO) << "connected as '" << welcome.site_id() << "'";
  int64_t round_backoff = config_.backoff_initial_ms();
  while (true) {
    const absl::Time asked = absl::Now();
    FEDLOG_ASSIGN_OR_RETURN(v1::TaskResponse task, session()->GetTask(welcome.max_poll_wait_ms()));
    absl::Status st;
    std::string what;
    if (!task.has_round()) {
      st = SyncPromoted(task.none().promoted_version());
      what = "cannot fetch the promoted model";
      // A "no task" faster than a long poll holds is a looping aggregator: pace it instead of spinning.
      if (st.ok() && absl::Now() - asked < absl::Milliseconds(kMinNoTaskIntervalMs) &&
          !SleepUnlessStopped(kMinNoTaskIntervalMs)) {
        return absl::CancelledError("stopping");
      }
    } else {
      st = CheckRoundTask(task.round(), config_.max_model_bytes());
      if (st.ok()) st = DoRound(task.round());
      SetState("idle");
      what = absl::StrCat("round ", task.round().round(), " not completed");
    }
    if (st.ok()) {
      round_backoff = config_.backoff_initial_ms();
      continue;
    }
    if (Fatal(st) || st.code() == absl::StatusCode::kUnavailable || st.code() == absl::StatusCode::kCancelled) {
      return st;
    }
    // After a failed round or fetch the site waits before asking again (exponential with jitter, capped at
    // backoff_max_ms): one that fails at once would otherwise be retried many times a second.
    const int64_t wait = Jittered(round_backoff);
    NoteRefusal(st);
    FEDLOG_LOG(WARNING) << what << ": " << absl::StatusCodeToString(st.code()) << ": " << st.message()
                        << "; next try in " << wait << " ms";
    if (!SleepUnlessStopped(wait)) return absl::CancelledError("stopping");
    round_backoff = std::min<int64_t>(round_backoff * 2, config_.backoff_max_ms());
  }
}

std::vector<std::string> SiteDaemon::SourceNames() const {
  std::vector<std::string> names;
  for (const SourceLines& s : sources_) names.push_back(s.name);
  return names;
}

void SiteDaemon::NoteRefusal(const absl::Status& st) {
  if (!IsRefusal(st)) return;
  const int refused = ++refused_from_aggregator_;
  FEDLOG_LOG(ERROR) << "refused what the aggregator sent: " << st.message()
                    << "; the site keeps its previous model and state; refused_from_aggregator=" << refused;
}

absl::Status SiteDaemon::SyncPromoted(int64_t version) {
  const std::string manifest_path = detect::PromotedManifestPath(config_.data_dir());
  const bool first = promoted_version_ < 0;
  if (first) {
    promoted_version_ = 0;
    absl::StatusOr<std::string> bytes = ReadFile(manifest_path);
    v1::ModelManifest m;
    if (bytes.ok() && m.ParseFromString(*bytes)) promoted_version_ = m.version();
  }
  if (version <= 0 || version == promoted_version_) {
    if (first && promoted_version_ > 0) PersonaliseOnDisk();
    return absl::OkStatus();
  }
  FEDLOG_ASSIGN_OR_RETURN(DownloadedModel model, session()->Download(version, /*all_adapters=*/false));
  const bool trimmed = IgnoreUnknownTensors(model.manifest.spec(), &model.bundle);
  // Nothing reaches the disk (and live detection) before it fits the site's schema with finite values.
  FEDLOG_RETURN_IF_ERROR(CheckDownloadedBundle(model.manifest.spec(), model.bundle, SourceNames()));
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, fl::EncodeBundle(model.bundle));
  if (trimmed) {  // the manifest describes the file written (the detector checks its digest)
    model.manifest.set_sha256(Sha256Hex(bytes));
    model.manifest.set_size_bytes(static_cast<int64_t>(bytes.size()));
  }
  // Bundle first, manifest second: a crash in between leaves the old manifest, so the fetch is simply redone.
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(detect::PromotedBundlePath(config_.data_dir()), bytes));
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(manifest_path, model.manifest.SerializeAsString()));
  promoted_version_ = model.manifest.version();
  FEDLOG_LOG(INFO) << "promoted model v" << promoted_version_ << " fetched (" << model.bytes << " bytes)";
  LogKindCoverage(model.manifest);
  // Tell the aggregator which model this site now detects with (`fedlog sites`, MODEL column).
  hello_.set_promoted_version(promoted_version_);
  if (absl::Status st = session()->Hello(hello_).status(); !st.ok()) {
    FEDLOG_LOG(WARNING) << "cannot report model v" << promoted_version_ << " to the aggregator: " << st;
  }
  Personalise(model.manifest, model.bundle);
  return absl::OkStatus();
}

void SiteDaemon::PersonaliseOnDisk() {
  if (config_.personalise_rounds() <= 0) return;
  const std::string& dir = config_.data_dir();
  absl::StatusOr<std::string> personal = ReadFile(detect::PersonalManifestPath(dir));
  v1::ModelManifest m;
  if (personal.ok() && m.ParseFromString(*personal) && m.version() == promoted_version_) return;
  absl::StatusOr<std::string> manifest = ReadFile(detect::PromotedManifestPath(dir));
  absl::StatusOr<std::string> bundle = ReadFile(detect::PromotedBundlePath(dir));
  if (!manifest.ok() || !bundle.ok() || !m.ParseFromString(*manifest) ||
      (!m.sha256().empty() && Sha256Hex(*bundle) != m.sha256())) {
    FEDLOG_LOG(WARNING) << "personalisation skipped: the promoted model on disk is unreadable";
    return;
  }
  absl::StatusOr<fl::TensorBundle> weights = fl::DecodeBundle(*bundle);
  if (!weights.ok()) {
    FEDLOG_LOG(WARNING) << "personalisation skipped: " << weights.status();
    return;
  }
  Personalise(m, *weights);
}

void SiteDaemon::Personalise(const v1::ModelManifest& promoted, const fl::TensorBundle& global) {
  if (config_.personalise_rounds() <= 0 || !SiteTrainer::Detects(promoted.spec())) return;
  SetState("training");  // heartbeats keep the site online meanwhile
  absl::Status st = WritePersonalModel(promoted, global);
  SetState("idle");
  if (!st.ok()) {
    FEDLOG_LOG(WARNING) << "personalisation of v" << promoted.version() << " failed (" << st
                        << "); detection uses the promoted model";
  }
}

absl::Status SiteDaemon::WritePersonalModel(const v1::ModelManifest& promoted, const fl::TensorBundle& global) {
  const int rounds = config_.personalise_rounds();
  FEDLOG_ASSIGN_OR_RETURN(model::PersonaliseResult r, trainer_.Personalise(promoted.spec(), global, rounds));
  FEDLOG_LOG(INFO) << "personalisation of v" << promoted.version() << ": "
                   << (r.personalised ? "kept the personal model" : "kept the promoted model") << " after " << rounds
                   << " local round(s); validation F1 promoted " << r.validation_f1_global << ", personal "
                   << r.validation_f1_personal << " (" << r.seconds << " s)";
  const std::string bundle_path = detect::PersonalBundlePath(config_.data_dir());
  const std::string manifest_path = detect::PersonalManifestPath(config_.data_dir());
  if (!r.personalised) {
    // Manifest first: the detector never sees a manifest without its bundle.
    std::error_code ec;
    std::filesystem::remove(manifest_path, ec);
    if (!ec) std::filesystem::remove(bundle_path, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot remove the stale personal model: ", ec.message()));
    return absl::OkStatus();
  }
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, fl::EncodeBundle(r.weights));
  v1::ModelManifest manifest = promoted;
  manifest.set_sha256(Sha256Hex(bytes));
  manifest.set_size_bytes(static_cast<int64_t>(bytes.size()));
  auto& metrics = *manifest.mutable_metrics();
  metrics["personalise_rounds"] = rounds;
  metrics["personalise_val_f1_global"] = r.validation_f1_global;
  metrics["personalise_val_f1_personal"] = r.validation_f1_personal;
  // Bundle first, manifest second, as for the promoted model: the detector checks the sha256.
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(bundle_path, bytes));
  return WriteFileAtomic(manifest_path, manifest.SerializeAsString());
}

absl::Status SiteDaemon::DoRound(const v1::RoundTask& received) {
  if (absl::Status why = CheckRoundAgainstPolicy(config_.privacy(), received, ledger_); !why.ok()) {
    return Decline(received, why);
  }
  SetState("training");
  FEDLOG_ASSIGN_OR_RETURN(DownloadedModel global,
                          session()->Download(received.model_version(), /*all_adapters=*/false));
  // The task's model_sha256 is the digest of the full model; a site receives its variant (the shared
  // tensors and its own sources' adapters, server/model_blobs.h), whose digest differs. The download's
  // own digest was checked against its manifest, and the manifest's version against the task's.
  v1::RoundTask task = received;
  if (!task.has_spec()) *task.mutable_spec() = global.manifest.spec();  // older aggregators
  IgnoreUnknownTensors(task.spec(), &global.bundle);
  FEDLOG_RETURN_IF_ERROR(CheckDownloadedBundle(task.spec(), global.bundle, SourceNames()));
  FEDLOG_ASSIGN_OR_RETURN(v1::EvaluationReport report, trainer_.Evaluate(task, global.bundle));
  report.set_run_id(task.run_id());
  report.set_round(task.round());
  report.set_model_version(task.model_version());
  session()->ReportEvaluation(report).IgnoreError();

  // Prepare the update (delta and header), then send it: plainly or under secure aggregation.
  FEDLOG_ASSIGN_OR_RETURN(LocalUpdate update, trainer_.Train(task, global.bundle));
  FEDLOG_RETURN_IF_ERROR(ProtectUpdate(task, global.bundle, &update));  // privacy first: DP noise before any masking
  v1::UpdateHeader& header = update.header;
  header.set_run_id(task.run_id());
  header.set_round(task.round());
  header.set_base_version(task.model_version());
  for (const auto& [name, value] : report.metrics()) (*header.mutable_metrics())[name + "_global"] = value;
  // The site's kind counts: in the clear header in plain rounds (UploadsKindCounts), masked in the round's
  // kind sections under secure aggregation (client/secagg_client.h MasksKindCounts); never both.
  std::vector<v1::KindCounts> masked_kinds;
  const bool plain_kinds = UploadsKindCounts(task, config_.privacy());
  if (plain_kinds || MasksKindCounts(task, config_.privacy())) {
    FEDLOG_ASSIGN_OR_RETURN(std::vector<v1::KindCounts> counts, SiteKindCounts());
    for (v1::KindCounts& k : counts) {
      if (plain_kinds) {
        *header.add_kind_counts() = std::move(k);
      } else {
        masked_kinds.push_back(std::move(k));
      }
    }
  }
  SetState("uploading");
  FEDLOG_ASSIGN_OR_RETURN(int64_t sent, SendUpdate(task, global.bundle, update, masked_kinds));
  ++rounds_completed_;
  // The key=value tail is for scripts (scripts/demo.sh sums it per site).
  FEDLOG_LOG(INFO) << "round " << task.round() << ": v" << task.model_version() << " " << update.summary
                   << "; round_stats down_bytes=" << global.bytes << " up_bytes=" << sent
                   << " train_s=" << update.header.metrics().at("train_seconds");
  return WriteFileAtomic(JoinPath(config_.data_dir(), "global_model.bundle"),
                         fl::EncodeBundle(global.bundle).value_or(""));
}

absl::StatusOr<int64_t> SiteDaemon::SendUpdate(const v1::RoundTask& task, const fl::TensorBundle& global,
                                               const LocalUpdate& update,
                                               const std::vector<v1::KindCounts>& kind_counts) {
  if (!task.secure_aggregation()) {
    fl::EncodeOptions encode;
    FEDLOG_ASSIGN_OR_RETURN(encode.dtype, fl::ParseWireDType(task.update_dtype()));
    encode.zstd = task.update_zstd();
    FEDLOG_ASSIGN_OR_RETURN(std::string bytes, fl::EncodeBundle(update.delta, encode));
    FEDLOG_RETURN_IF_ERROR(session()->Upload(update.header, bytes));
    return static_cast<int64_t>(bytes.size());
  }
  // Secure aggregation: the shared tensors, prototypes.global, the adapters of the round's adapter groups and
  // the kind counts of its kind groups are masked; adapters and counts of sources without a group stay here.
  int64_t clipped = 0;
  std::vector<secagg::ValueRange> value_ranges;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> x,
                          SecAggVector(task, global, update.delta, &clipped, kind_counts, &value_ranges));
  if (clipped > 0) {
    FEDLOG_LOG(INFO) << "secure aggregation: " << clipped << " coordinate(s) clamped to +/-"
                     << task.secagg().clip_range();
  }
  SecAggClientOptions options;
  options.site_id = site_id_;
  options.report_update_norm = ReportsUpdateNorm(config_.privacy());
  options.key_file = config_.tls().key();  // signs this site's keys and survivor set (common/secagg/peer_auth.h)
  options.ca_file = config_.tls().ca_cert();
  std::shared_ptr<FederationSession> s = session();
  std::unique_ptr<SecAggTransport> transport = SessionTransport(s.get());
  // Site-level DP averages updates with equal weights (its noise is calibrated to one clipped update per site).
  const double weight =
      task.dp_mode() == "site" ? 1.0 : static_cast<double>(update.header.num_samples());
  FEDLOG_RETURN_IF_ERROR(
      RunSecureAggregation(transport.get(), options, task, x, weight, update.header, value_ranges));
  const uint32_t lane_bits = task.secagg().lane_bits() == 32 ? 32 : 64;  // 0: an aggregator without the field
  return static_cast<int64_t>((x.size() + 1) * (lane_bits / 8));
}

}  // namespace fedlog::client
