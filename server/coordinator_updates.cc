// Upload validation and round closing (the aggregation itself: coordinator_aggregate.cc).
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"
#include "common/fl/part_norms.h"
#include "common/model/site_model.h"
#include "server/coordinator.h"
#include "server/coordinator_checks.h"
#include "server/coordinator_kinds.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {

void Coordinator::NoteRoundEnded(const RoundRecord& record, const std::string& how) {
  run_note_ = absl::StrCat("round ", record.round, " attempt ", record.attempt, " ", how);
}

absl::Status Coordinator::Refuse(const std::string& site_id, int64_t run_id, int32_t round, absl::Status why) {
  refusals_.Record(site_id, run_id, round, std::string(why.message()), NowMs());
  return why;
}

void Coordinator::CountRefusal(const std::string& site_id, const v1::UpdateHeader& header,
                               const std::string& reason) {
  Refuse(site_id, header.run_id(), header.round(), absl::AbortedError(reason)).IgnoreError();
}

absl::StatusOr<UploadTicket> Coordinator::BeginUpload(const std::string& site_id, const v1::UpdateHeader& header) {
  absl::MutexLock lock(&mu_);
  auto refuse = [&](absl::Status why) { return Refuse(site_id, header.run_id(), header.round(), why); };
  if (revoked_.count(site_id)) return refuse(absl::PermissionDeniedError("site is revoked"));
  if (!run_ || run_->run_id != header.run_id()) {
    return refuse(absl::FailedPreconditionError(absl::StrCat("run ", header.run_id(), " is not active")));
  }
  if (!round_ || round_->closing || round_->record.round != header.round()) {
    return refuse(absl::FailedPreconditionError(absl::StrCat("round ", header.round(), " is not open")));
  }
  const RoundRecord& r = round_->record;
  if (std::find(r.participants.begin(), r.participants.end(), site_id) == r.participants.end()) {
    return refuse(absl::FailedPreconditionError("site is not a participant of this round"));
  }
  // Under line DP the weight must have left the site noised, masked or not (docs/PRIVACY.md).
  if (absl::Status st = CheckLineDpCountNoise(run_->plan, header); !st.ok()) return refuse(st);
  if (absl::Status st = CheckClassSumForm(run_->plan, header); !st.ok()) return refuse(st);
  // Message-kind counts travel in the clear: plain rounds without DP only, for the site's declared sources.
  if (header.kind_counts_size() > 0) {
    std::optional<SiteRecord> site = SiteRecordOf(site_id);
    std::vector<v1::SourceInfo> declared;
    if (site) declared.assign(site->hello.sources().begin(), site->hello.sources().end());
    if (absl::Status st = CheckKindCountsAllowed(run_->plan, header, round_->secagg != nullptr, declared); !st.ok()) {
      return refuse(st);
    }
  }
  // Under secure aggregation the masked input replaces the update (server/secagg_coordinator.cc).
  if (round_->secagg || header.secagg_masked()) return BeginMaskedUpload(site_id, header);
  if (round_->uploaded.count(site_id)) return refuse(absl::AlreadyExistsError("update already received"));
  if (NowMs() > r.deadline_ms) return refuse(absl::DeadlineExceededError("late update: round deadline passed"));
  if (header.base_version() != r.model_in) {
    return refuse(absl::FailedPreconditionError(
        absl::StrCat("update is based on v", header.base_version(), ", the round trains v", r.model_in)));
  }
  if (header.size_bytes() <= 0 || header.size_bytes() > options_.max_update_bytes) {
    return refuse(absl::InvalidArgumentError(absl::StrCat("update size ", header.size_bytes(), " out of bounds")));
  }
  if (absl::Status st = ValidateUpdateHeader(header); !st.ok()) return refuse(st);
  if (absl::Status st = ValidateKindCounts(header); !st.ok()) return refuse(st);
  if (absl::Status st = ValidateReportedEpsilon(header.dp_epsilon()); !st.ok()) return refuse(st);
  last_seen_[site_id] = NowMs();  // presence from accepted calls only (docs/rules/s26-securestate.md)
  return UploadTicket{r, header};
}

absl::Status Coordinator::FinishUpload(const std::string& site_id, const UploadTicket& ticket,
                                       const std::string& spooled_path, const std::string& sha256) {
  const v1::UpdateHeader& h = ticket.header;
  auto refuse = [&](absl::Status why) {
    std::remove(spooled_path.c_str());
    return Refuse(site_id, h.run_id(), h.round(), why);
  };
  if (sha256 != h.sha256()) return refuse(absl::InvalidArgumentError("update sha256 mismatch"));
  double max_norm = options_.max_update_norm;
  {
    absl::MutexLock lock(&mu_);
    if (run_ && run_->plan.max_update_norm() > 0) max_norm = run_->plan.max_update_norm();
  }
  auto model = store_->GetModel(ticket.round.model_in);
  if (!model.ok()) return ForSite(refuse(model.status()), site_id);
  if (!*model) return ForSite(refuse(absl::InternalError("round model missing")), site_id);
  auto layout = blobs_->SharedLayout((*model)->second, (*model)->first.sha256());
  if (!layout.ok()) return ForSite(refuse(layout.status()), site_id);
  fl::UpdateCheckOptions check;
  check.max_norm = max_norm;
  // Adapters of sources the site did not declare are refused; those of declared but not (yet) admitted
  // sources pass here and are left out of the aggregate (EntitledSourcesOf).
  check.sources = DeclaredSourcesOf(site_id);
  auto site_model = model::CreateSiteModel((*model)->first.spec());
  if (!site_model.ok()) return ForSite(refuse(site_model.status()), site_id);
  if (auto schema = (*site_model)->OptionalSchema()) {
    check.out_dim = schema->out_dim;
    check.adapter_dim = schema->adapter_dim;
  }
  std::string part_norms;
  {
    absl::MutexLock validating(&validate_mu_);
    fl::UpdateChecker checker(**layout, check);
    // The digest was computed while spooling; here only the content is checked, in chunks. The same pass gives
    // the part norms adaptive clipping needs, stored with the update so aggregation reads the file only once.
    absl::Status st = fl::ReadBundleFileChunks(spooled_path, {}, &checker);
    if (st.ok()) st = checker.Finish();
    if (!st.ok()) return ForSite(refuse(st), site_id);
    part_norms = fl::EncodePartNorms(checker.part_norms());
  }
  // Every check that can refuse runs under the round's lock before the one rename that adopts the spool file
  // (under a fresh name): a refused upload never touches an accepted one.
  absl::MutexLock lock(&mu_);
  if (revoked_.count(site_id)) return refuse(absl::PermissionDeniedError("site is revoked"));
  if (!round_ || round_->closing || round_->record.run_id != ticket.round.run_id ||
      round_->record.round != ticket.round.round || round_->record.attempt != ticket.round.attempt) {
    return refuse(absl::FailedPreconditionError("round closed while the update was in flight"));
  }
  if (round_->uploaded.count(site_id)) return refuse(absl::AlreadyExistsError("update already received"));
  if (NowMs() > round_->record.deadline_ms) {
    return refuse(absl::DeadlineExceededError("late update: round deadline passed"));
  }
  absl::StatusOr<StoredBlob> blob = blobs_->AdoptUpdate(ticket.round.run_id, ticket.round.round,
                                                        ticket.round.attempt, spooled_path, sha256);
  if (!blob.ok()) return ForSite(refuse(blob.status()), site_id);
  UpdateRecord u{site_id, h.num_samples(), h.train_loss(), blob->path, blob->sha256, NowMs(),
                 h.distinct_templates(), h.imbalance_ratio() > 0 ? h.imbalance_ratio() : 1.0, h.size_bytes(),
                 h.dp_epsilon(), std::move(part_norms)};
  // The kind counts wait beside the update and go with it after the round (DiscardUpdates).
  absl::Status st = WriteKindCounts(blob->path, h);
  if (st.ok()) st = store_->AddUpdate(round_->record, u);
  if (!st.ok()) {
    std::remove(KindCountsPath(blob->path).c_str());
    std::remove(blob->path.c_str());
    return ForSite(st, site_id);
  }
  round_->uploaded.insert(site_id);
  FEDLOG_LOG(INFO) << "update from " << site_id << " for round " << h.round() << ": " << h.num_samples()
                   << " samples, loss " << h.train_loss() << " (" << round_->uploaded.size() << "/"
                   << round_->record.participants.size() << ")";
  Bump();
  return absl::OkStatus();
}

void Coordinator::CountDownload(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  if (round_) round_->bytes_down += bytes;
}

absl::Status Coordinator::RecordEvaluation(const std::string& site_id, const v1::EvaluationReport& report) {
  FEDLOG_RETURN_IF_ERROR(ValidateEvaluation(report));
  absl::MutexLock lock(&mu_);
  if (!run_ || run_->run_id != report.run_id()) return absl::FailedPreconditionError("run is not active");
  // Only a participant of the open round evaluates, and only that round's input model.
  if (!round_ || round_->record.round != report.round() || round_->record.model_in != report.model_version()) {
    return absl::FailedPreconditionError("no open round for this evaluation");
  }
  const std::vector<std::string>& participants = round_->record.participants;
  if (std::find(participants.begin(), participants.end(), site_id) == participants.end()) {
    return absl::FailedPreconditionError("site is not a participant of this round");
  }
  FEDLOG_RETURN_IF_ERROR(PaceStateWrite(site_id, NowMs(), "evaluation report"));
  v1::SiteEvaluation e;
  e.set_site_id(site_id);
  e.set_model_version(report.model_version());
  e.set_num_samples(report.num_samples());
  *e.mutable_metrics() = report.metrics();
  Bump();
  return ForSite(store_->AddEvaluation(report.run_id(), report.round(), e, NowMs()), site_id);
}

void Coordinator::DiscardUpdates(const std::vector<UpdateRecord>& updates) {
  if (options_.keep_updates) return;
  for (const UpdateRecord& u : updates) {
    for (const std::string& path : {u.path, KindCountsPath(u.path)}) {
      if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
        FEDLOG_LOG(WARNING) << "cannot delete the update of " << u.site_id << " after its round: "
                            << std::strerror(errno);
      }
    }
  }
}

void Coordinator::CloseRound(int64_t now) {
  if (round_->secagg) return CloseSecAggRound(now);
  RoundRecord record = round_->record;
  absl::StatusOr<std::vector<UpdateRecord>> updates =
      store_->ListUpdates(record.run_id, record.round, record.attempt);
  if (!updates.ok()) {
    FEDLOG_LOG(ERROR) << "cannot list updates: " << updates.status();
    return;
  }
  if (static_cast<int>(updates->size()) < std::max(1, run_->plan.min_sites())) {
    FEDLOG_LOG(WARNING) << "round " << record.round << " attempt " << record.attempt << " failed: "
                        << updates->size() << " update(s), " << run_->plan.min_sites() << " needed";
    if (absl::Status st = store_->FailRound(record, now); !st.ok()) {
      FEDLOG_LOG(ERROR) << st;
    }
    NoteRoundEnded(record, absl::StrCat("failed (", updates->size(), " update(s), ", run_->plan.min_sites(),
                                        " needed); the round is tried again"));
    round_.reset();
    DiscardUpdates(*updates);
    Bump();
    return;
  }
  round_->closing = true;
  // Read under the lock: download handlers add to bytes_down (CountDownload) while the round aggregates.
  const v1::RunPlan plan = run_->plan;
  record.bytes_down = round_->bytes_down;
  mu_.Unlock();  // aggregation reads blobs; handlers keep running meanwhile
  for (const auto& u : *updates) record.bytes_up += u.size_bytes;
  const absl::Time started = absl::Now();
  absl::StatusOr<std::pair<v1::ModelManifest, std::string>> result = Aggregate(record, plan, *updates);
  const int64_t aggregation_ms = absl::ToInt64Milliseconds(absl::Now() - started);
  // The aggregation's model-sized buffers are freed by now; hand the pages back instead of keeping them in
  // glibc's free lists for the process's lifetime.
  ::malloc_trim(0);
  mu_.Lock();
  AdoptRoundResult(record, std::move(result), aggregation_ms);
  DiscardUpdates(*updates);
}

void Coordinator::AdoptRoundResult(RoundRecord record,
                                   absl::StatusOr<std::pair<v1::ModelManifest, std::string>> result,
                                   int64_t aggregation_ms) {
  if (!result.ok()) {
    FEDLOG_LOG(ERROR) << "aggregation of round " << record.round << " failed: " << result.status();
    if (absl::Status st = store_->FailRound(record, NowMs()); !st.ok()) {
      FEDLOG_LOG(ERROR) << st;
    }
    NoteRoundEnded(record, "failed (aggregation; the aggregator's log says why); the round is tried again");
    round_.reset();
    Bump();
    return;
  }
  const v1::ModelManifest* manifest = &result->first;
  record.closed_ms = NowMs();
  record.sites = manifest->num_sites();
  record.samples = manifest->num_samples();
  record.mean_loss = manifest->metrics().at("mean_train_loss");
  absl::Status st = store_->CompleteRound(record, *manifest, result->second);
  if (!st.ok()) {
    // The attempt is closed as failed (a later attempt retries the round) and its model file removed: nothing
    // refers to it.
    FEDLOG_LOG(ERROR) << "cannot record round " << record.round << ": " << st;
    if (absl::Status fst = store_->FailRound(record, NowMs()); !fst.ok()) {
      FEDLOG_LOG(ERROR) << fst;
    }
    std::remove(result->second.c_str());
    NoteRoundEnded(record, "failed (its model could not be recorded); the round is tried again");
    round_.reset();
    Bump();
    return;
  }
  run_->current_round = record.round;
  run_->global_version = manifest->version();
  FEDLOG_LOG(INFO) << "round " << record.round << " done: " << record.sites << " site(s), " << record.samples
                   << " samples, mean loss " << record.mean_loss << " -> model v" << manifest->version() << " ("
                   << aggregation_ms << " ms to aggregate)";
  NoteRoundEnded(record, absl::StrCat("done: model v", manifest->version()));
  round_.reset();
  Bump();
  if (run_->current_round >= run_->plan.rounds()) {
    FinishRun("done", absl::StrCat("completed ", run_->plan.rounds(), " round(s)"));
  }
  PruneModels();
}

}  // namespace fedlog::server
