// Upload validation and round closing (the aggregation itself: coordinator_aggregate.cc).
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"
#include "server/coordinator.h"

namespace fedlog::server {

absl::Status Coordinator::Refuse(const std::string& site_id, int64_t run_id, int32_t round, absl::Status why) {
  FEDLOG_LOG(WARNING) << "refused update from " << site_id << " for run " << run_id << " round " << round << ": "
                      << why.message();
  if (absl::Status st = store_->AddRefusal(site_id, run_id, round, std::string(why.message()), NowMs()); !st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot record refusal: " << st;
  }
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
  last_seen_[site_id] = NowMs();
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
  if (round_->uploaded.count(site_id)) return refuse(absl::AlreadyExistsError("update already received"));
  if (NowMs() > r.deadline_ms) return refuse(absl::DeadlineExceededError("late update: round deadline passed"));
  if (header.base_version() != r.model_in) {
    return refuse(absl::FailedPreconditionError(
        absl::StrCat("update is based on v", header.base_version(), ", the round trains v", r.model_in)));
  }
  if (header.size_bytes() <= 0 || header.size_bytes() > options_.max_update_bytes) {
    return refuse(absl::InvalidArgumentError(absl::StrCat("update size ", header.size_bytes(), " out of bounds")));
  }
  if (header.num_samples() <= 0) return refuse(absl::InvalidArgumentError("update has no samples"));
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
  if (!std::isfinite(h.imbalance_ratio()) || h.imbalance_ratio() < 0) {
    return refuse(absl::InvalidArgumentError("imbalance_ratio must be a finite non-negative number"));
  }
  double max_norm = options_.max_update_norm;
  {
    absl::MutexLock lock(&mu_);
    if (run_ && run_->plan.max_update_norm() > 0) max_norm = run_->plan.max_update_norm();
  }
  FEDLOG_ASSIGN_OR_RETURN(auto model, store_->GetModel(ticket.round.model_in));
  if (!model) return refuse(absl::InternalError("round model missing"));
  auto layout = blobs_->SharedLayout(model->second, model->first.sha256());
  if (!layout.ok()) return refuse(layout.status());
  fl::UpdateCheckOptions check;
  check.max_norm = max_norm;
  check.sources = SourcesOf(site_id);
  if (model->first.spec().arch() == "line_encoder") {
    check.out_dim = model->first.spec().encoder().out_dim();
    check.adapter_dim = model->first.spec().encoder().adapter_dim();
  }
  {
    absl::MutexLock validating(&validate_mu_);
    fl::UpdateChecker checker(**layout, check);
    // The digest was computed while spooling; here only the content is checked, in chunks.
    absl::Status st = fl::ReadBundleFileChunks(spooled_path, {}, &checker);
    if (st.ok()) st = checker.Finish();
    if (!st.ok()) return refuse(st);
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
  if (!blob.ok()) return refuse(blob.status());
  UpdateRecord u{site_id, h.num_samples(), h.train_loss(), blob->path, blob->sha256, NowMs(),
                 h.distinct_templates(), h.imbalance_ratio() > 0 ? h.imbalance_ratio() : 1.0, h.size_bytes()};
  if (absl::Status st = store_->AddUpdate(round_->record, u); !st.ok()) {
    std::remove(blob->path.c_str());
    return st;
  }
  round_->uploaded.insert(site_id);
  round_->verified.insert(site_id);
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
  absl::MutexLock lock(&mu_);
  if (!run_ || run_->run_id != report.run_id()) return absl::FailedPreconditionError("run is not active");
  for (const auto& [name, value] : report.metrics()) {
    if (!std::isfinite(value)) return absl::InvalidArgumentError(absl::StrCat("metric '", name, "' is not finite"));
  }
  v1::SiteEvaluation e;
  e.set_site_id(site_id);
  e.set_model_version(report.model_version());
  e.set_num_samples(report.num_samples());
  *e.mutable_metrics() = report.metrics();
  Bump();
  return store_->AddEvaluation(report.run_id(), report.round(), e, NowMs());
}

void Coordinator::CloseRound(int64_t now) {
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
    round_.reset();
    Bump();
    return;
  }
  round_->closing = true;
  const std::set<std::string> verified = round_->verified;
  // Read under the lock: download handlers add to bytes_down (CountDownload) while the round aggregates.
  const v1::RunPlan plan = run_->plan;
  record.bytes_down = round_->bytes_down;
  mu_.Unlock();  // aggregation reads blobs; handlers keep running meanwhile
  for (const auto& u : *updates) record.bytes_up += u.size_bytes;
  const absl::Time started = absl::Now();
  absl::StatusOr<std::pair<v1::ModelManifest, std::string>> result = Aggregate(record, plan, *updates, verified);
  const int64_t aggregation_ms = absl::ToInt64Milliseconds(absl::Now() - started);
  // The aggregation's model-sized buffers are freed by now; hand the pages back instead of keeping them in
  // glibc's free lists for the process's lifetime.
  ::malloc_trim(0);
  mu_.Lock();
  if (!result.ok()) {
    FEDLOG_LOG(ERROR) << "aggregation of round " << record.round << " failed: " << result.status();
    if (absl::Status st = store_->FailRound(record, NowMs()); !st.ok()) {
      FEDLOG_LOG(ERROR) << st;
    }
    round_.reset();
    Bump();
    return;
  }
  const v1::ModelManifest* manifest = &result->first;
  record.closed_ms = NowMs();
  record.sites = static_cast<int32_t>(updates->size());
  record.samples = manifest->num_samples();
  record.mean_loss = manifest->metrics().at("mean_train_loss");
  absl::Status st = store_->CompleteRound(record, *manifest, result->second);
  if (!st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot record round " << record.round << ": " << st;
    round_.reset();
    Bump();
    return;
  }
  run_->current_round = record.round;
  run_->global_version = manifest->version();
  FEDLOG_LOG(INFO) << "round " << record.round << " done: " << record.sites << " site(s), " << record.samples
                   << " samples, mean loss " << record.mean_loss << " -> model v" << manifest->version() << " ("
                   << aggregation_ms << " ms to aggregate)";
  round_.reset();
  Bump();
  if (run_->current_round >= run_->plan.rounds()) {
    FinishRun("done", absl::StrCat("completed ", run_->plan.rounds(), " round(s)"));
  }
}

}  // namespace fedlog::server
