#include "client/site_trainer.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/detect/detect_store.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"

namespace fedlog::client {

SiteTrainer::SiteTrainer(const std::vector<SourceLines>* sources, SiteTrainerOptions options)
    : sources_(sources), options_(std::move(options)) {}

absl::StatusOr<model::SiteModel*> SiteTrainer::ModelFor(const v1::ModelSpec& spec) {
  std::string key = spec.SerializeAsString();
  if (model_ != nullptr && key == model_spec_) return model_.get();
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> m, model::CreateSiteModel(spec));
  model::SiteModelOptions o;
  o.holdout_percent = options_.holdout_percent;
  o.split_seed = options_.split_seed;
  o.eval_shots = options_.eval_shots;
  o.device = options_.device;
  o.threads = options_.threads;
  FEDLOG_RETURN_IF_ERROR(m->Prepare(sources_, o));
  model_ = std::move(m);
  model_spec_ = std::move(key);
  merged_feedback_.clear();
  return model_.get();
}

absl::Status SiteTrainer::MergeFeedback(model::SiteModel* model) {
  if (options_.feedback_db.empty() || !FileExists(options_.feedback_db)) return absl::OkStatus();
  // A damaged store costs this round its operator verdicts, not the round (the kind counts do the same:
  // client/site_verdicts.h).
  absl::StatusOr<std::unique_ptr<detect::DetectStore>> store = detect::DetectStore::Open(options_.feedback_db);
  absl::StatusOr<std::vector<detect::LabeledLine>> read =
      store.ok() ? (*store)->LoadLabels("") : absl::StatusOr<std::vector<detect::LabeledLine>>(store.status());
  if (!read.ok()) {
    FEDLOG_LOG(WARNING) << "feedback: cannot read the operator's verdicts in " << options_.feedback_db << " ("
                        << read.status().message() << "); this round trains without them";
    return absl::OkStatus();
  }
  std::vector<detect::LabeledLine>& labeled = *read;
  std::vector<model::LabeledExample> fresh;
  for (detect::LabeledLine& l : labeled) {
    // labels_file rows are the configured labels, already in the training lines.
    if (!absl::StartsWith(l.origin, "feedback:") || merged_feedback_.contains(l.origin)) continue;
    merged_feedback_.insert(l.origin);
    fresh.push_back({std::move(l.source), std::move(l.tokens), std::move(l.dense), l.label});
  }
  if (fresh.empty()) return absl::OkStatus();
  const int64_t added = model->AddLabeledLines(fresh);
  const int64_t skipped = static_cast<int64_t>(fresh.size()) - added;
  FEDLOG_LOG(INFO) << "feedback: " << added
                   << " operator verdict(s) joined the training lines as labels"
                   << (skipped > 0
                           ? absl::StrCat(", ", skipped, " skipped (unknown source or shape)")
                           : "");
  return absl::OkStatus();
}

absl::StatusOr<v1::EvaluationReport> SiteTrainer::Evaluate(const v1::RoundTask& task,
                                                           const fl::TensorBundle& global) {
  FEDLOG_ASSIGN_OR_RETURN(model::SiteModel * model, ModelFor(task.spec()));
  return model->Evaluate(global, task.plan());
}

absl::StatusOr<LocalUpdate> SiteTrainer::Train(const v1::RoundTask& task,
                                               const fl::TensorBundle& global) {
  FEDLOG_ASSIGN_OR_RETURN(model::SiteModel * model, ModelFor(task.spec()));
  FEDLOG_RETURN_IF_ERROR(MergeFeedback(model));
  last_plan_ = task.plan();
  return model->Train(global, task.plan(), task.round());
}

bool SiteTrainer::Detects(const v1::ModelSpec& spec) {
  absl::StatusOr<std::unique_ptr<model::SiteModel>> m = model::CreateSiteModel(spec);
  return m.ok() && (*m)->Detects();
}

absl::StatusOr<model::PersonaliseResult> SiteTrainer::Personalise(const v1::ModelSpec& spec,
                                                                  const fl::TensorBundle& global,
                                                                  int rounds) {
  if (!Detects(spec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("personalisation needs a model that detects; '", spec.arch(), "' does not"));
  }
  FEDLOG_ASSIGN_OR_RETURN(model::SiteModel * model, ModelFor(spec));
  FEDLOG_RETURN_IF_ERROR(MergeFeedback(model));
  return model->Personalise(global, rounds, last_plan_ ? &*last_plan_ : nullptr);
}

}  // namespace fedlog::client
