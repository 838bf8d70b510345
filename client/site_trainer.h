// SiteTrainer: a site's local work in a federated round, for whichever network the aggregator runs
// (RoundTask.spec): it holds the site's model::SiteModel (common/model/site_model.h, created by the
// one factory that reads the arch), evaluates the round's input model on the site's held-out lines,
// trains it on the rest, and personalises a promoted model. What is the site's own is added here:
// operators' verdicts on alerts join the training lines as labels. The daemon does the network
// part. Thread-compatible: one round at a time.
#ifndef FEDLOG_CLIENT_SITE_TRAINER_H_
#define FEDLOG_CLIENT_SITE_TRAINER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "client/local_data.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/personalise.h"
#include "common/model/site_model.h"
#include "fedlog/v1/federation.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::client {

// What a round sends back besides the evaluation report.
using LocalUpdate = model::RoundUpdate;

struct SiteTrainerOptions {
  int holdout_percent = 20;
  uint64_t split_seed = 7;  // the held-out split; `fedlog score` uses the same
  int eval_shots = 10;      // labeled training lines per class in the evaluated detector's support
  std::string device = "cpu";
  int threads = 1;
  // The live detector's store (<data_dir>/detect.db, client/detect). Operators' verdicts on alerts
  // (`fedlog feedback`) found there join the training lines as labels at the next round; "" or a
  // missing file: none.
  std::string feedback_db;
};

class SiteTrainer {
 public:
  // `sources` must outlive the trainer.
  SiteTrainer(const std::vector<SourceLines>* sources, SiteTrainerOptions options);

  // Quality of the round's input model on the held-out lines (EvaluationReport metrics).
  absl::StatusOr<v1::EvaluationReport> Evaluate(const v1::RoundTask& task,
                                                const fl::TensorBundle& global);
  // The round's local work on the training lines (feedback verdicts included).
  absl::StatusOr<LocalUpdate> Train(const v1::RoundTask& task, const fl::TensorBundle& global);
  // Whether a promoted model of `spec` can detect (and so be personalised).
  static bool Detects(const v1::ModelSpec& spec);
  // Personalisation of a promoted model that detects (model::SiteModel::Personalise): `rounds`
  // local rounds from `global` on the training lines (feedback verdicts included), kept only when
  // the detector's F1 on the held-out validation lines is not lower than `global`'s. Each round
  // does the work of the last round this trainer ran (LocalWork's defaults before any), seeded from
  // that plan's seed. InvalidArgument for a model that cannot detect or rounds < 0; rounds == 0
  // keeps `global` untrained.
  absl::StatusOr<model::PersonaliseResult> Personalise(const v1::ModelSpec& spec,
                                                       const fl::TensorBundle& global, int rounds);

 private:
  // The site's model for `spec`, its lines prepared: the current one while the spec is unchanged.
  absl::StatusOr<model::SiteModel*> ModelFor(const v1::ModelSpec& spec);
  // Hands feedback verdicts not merged yet to the model as labeled training lines. A store that cannot be
  // opened or read is logged and skipped (the round trains without the verdicts), never an error.
  absl::Status MergeFeedback(model::SiteModel* model);

  const std::vector<SourceLines>* sources_;
  const SiteTrainerOptions options_;
  std::unique_ptr<model::SiteModel> model_;
  std::string model_spec_;                     // serialized spec of model_
  std::optional<v1::TrainingPlan> last_plan_;  // of the last round trained
  absl::flat_hash_set<std::string>
      merged_feedback_;  // origins ("feedback:<alert id>") in model_'s lines
};

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SITE_TRAINER_H_
