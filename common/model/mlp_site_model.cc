// MlpAutoencoderModel: the SiteModel of arch "mlp_autoencoder" (site_model.h), the foundation's
// autoencoder over hashed line features (local_trainer.h). It trains without labels, its held-out
// metric is the reconstruction loss, and it cannot detect or be personalised.
#include <algorithm>
#include <numeric>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/features/line_featurizer.h"
#include "common/fl/fedavg.h"
#include "common/model/local_trainer.h"
#include "common/model/site_model_impl.h"

namespace fedlog::model {
namespace {

constexpr char kArch[] = "mlp_autoencoder";

// A site's lines as the autoencoder sees them: one hashed feature row per line.
struct MlpData {
  DenseMatrix train;
  DenseMatrix holdout;
  int64_t distinct_templates = 0;
};

void CopyRows(const DenseMatrix& from, const std::vector<int64_t>& rows, size_t begin, size_t end,
              DenseMatrix* to) {
  *to = DenseMatrix(static_cast<int64_t>(end - begin), from.cols);
  for (size_t i = begin; i < end; ++i) {
    std::copy(from.Row(rows[i]), from.Row(rows[i]) + from.cols,
              to->Row(static_cast<int64_t>(i - begin)));
  }
}

// Featurizes all sources with `input_dim` features per line and holds out `holdout_percent` of the
// rows, chosen by a seeded shuffle.
MlpData BuildMlpData(const std::vector<SourceLines>& sources, int input_dim, int holdout_percent,
                     uint64_t seed) {
  features::LineFeaturizerOptions fo;
  fo.hash_dim = std::max(1, input_dim - features::LineFeaturizer::kDenseDims);
  features::LineFeaturizer featurizer(fo);
  std::vector<std::string> all;
  int64_t templates = 0;
  for (const auto& s : sources) {
    all.insert(all.end(), s.contents.begin(), s.contents.end());
    templates += s.templates;
  }
  DenseMatrix x = featurizer.FeaturizeAll(all);
  std::vector<int64_t> rows(static_cast<size_t>(x.rows));
  std::iota(rows.begin(), rows.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(rows.begin(), rows.end(), rng);
  size_t holdout = rows.size() * static_cast<size_t>(std::clamp(holdout_percent, 0, 90)) / 100;
  MlpData d;
  CopyRows(x, rows, 0, holdout, &d.holdout);
  CopyRows(x, rows, holdout, rows.size(), &d.train);
  d.distinct_templates = templates;
  return d;
}

class MlpAutoencoderModel : public SiteModel {
 public:
  explicit MlpAutoencoderModel(const v1::ModelSpec& proto) {
    spec_.input_dim = proto.input_dim();
    spec_.hidden.assign(proto.hidden().begin(), proto.hidden().end());
    spec_.init_seed = proto.init_seed();
  }

  std::string arch() const override { return kArch; }

  absl::Status FinalizeSpec(v1::ModelSpec* spec) const override {
    spec->set_arch(kArch);
    if (spec->input_dim() <= 0) spec->set_input_dim(134);
    if (spec->input_dim() <= 6) return absl::InvalidArgumentError("model.input_dim must exceed 6");
    if (spec->hidden().empty()) {
      spec->add_hidden(64);
      spec->add_hidden(16);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<fl::TensorBundle> InitialWeights() const override {
    return model::InitialWeights(spec_);
  }

  std::optional<fl::UpdateCheckOptions> OptionalSchema() const override { return std::nullopt; }

  absl::StatusOr<EncoderSpec> DetectorSpec() const override {
    return absl::FailedPreconditionError(
        "an mlp_autoencoder model cannot detect: live detection scores with a line_encoder model "
        "(docs/DETECTION.md)");
  }

  absl::Status Prepare(const std::vector<SourceLines>* sources,
                       const SiteModelOptions& options) override {
    options_ = options;
    data_ = BuildMlpData(*sources, spec_.input_dim, options.holdout_percent, options.split_seed);
    return absl::OkStatus();
  }

  absl::StatusOr<v1::EvaluationReport> Evaluate(const fl::TensorBundle& global,
                                                const v1::TrainingPlan& /*plan*/) override {
    FEDLOG_RETURN_IF_ERROR(CheckPrepared());
    v1::EvaluationReport report;
    report.set_num_samples(data_->holdout.rows);
    (*report.mutable_metrics())["holdout_loss"] = MeanScore(global, data_->holdout);
    return report;
  }

  absl::StatusOr<RoundUpdate> Train(const fl::TensorBundle& global, const v1::TrainingPlan& plan,
                                    int round) override;

  absl::StatusOr<PersonaliseResult> Personalise(const fl::TensorBundle& /*global*/, int /*rounds*/,
                                                const v1::TrainingPlan* /*last_plan*/) override {
    return absl::InvalidArgumentError(
        "an mlp_autoencoder model cannot be personalised: it does not detect");
  }

  // The autoencoder trains without labels.
  int64_t AddLabeledLines(const std::vector<LabeledExample>& /*lines*/) override { return 0; }

 private:
  absl::Status CheckPrepared() const {
    return data_ ? absl::OkStatus()
                 : absl::FailedPreconditionError("the autoencoder has no site lines (Prepare)");
  }
  // Mean reconstruction error of the rows of `x` (0 without rows or when scoring fails).
  double MeanScore(const fl::TensorBundle& w, const DenseMatrix& x) const {
    if (x.rows == 0) return 0;
    absl::StatusOr<std::vector<float>> s = Score(spec_, w, x, options_.device);
    if (!s.ok()) return 0;
    double sum = 0;
    for (float v : *s) sum += v;
    return sum / static_cast<double>(s->size());
  }

  MlpSpec spec_;
  SiteModelOptions options_;
  std::optional<MlpData> data_;
};

absl::StatusOr<RoundUpdate> MlpAutoencoderModel::Train(const fl::TensorBundle& global,
                                                       const v1::TrainingPlan& plan, int round) {
  FEDLOG_RETURN_IF_ERROR(CheckPrepared());
  TrainOptions opts;
  opts.epochs = plan.local_epochs();
  opts.learning_rate = plan.learning_rate();
  opts.batch_size = plan.batch_size();
  opts.seed = plan.seed() + static_cast<uint64_t>(round);
  opts.device = options_.device;
  FEDLOG_ASSIGN_OR_RETURN(TrainResult trained, model::Train(spec_, global, data_->train, opts));
  RoundUpdate out;
  FEDLOG_ASSIGN_OR_RETURN(out.delta, fl::Subtract(trained.weights, global));
  out.header.set_num_samples(trained.samples);
  out.header.set_train_loss(trained.final_loss);
  out.header.set_distinct_templates(data_->distinct_templates);
  out.header.set_imbalance_ratio(1.0);  // the foundation model trains without labels
  auto& metrics = *out.header.mutable_metrics();
  metrics["initial_loss"] = trained.initial_loss;
  metrics["holdout_loss_local"] = MeanScore(trained.weights, data_->holdout);
  metrics["train_seconds"] = trained.seconds;
  out.summary =
      absl::StrCat("trained on ", trained.samples, " lines in ", trained.seconds, " s (",
                   trained.device, "), loss ", trained.initial_loss, " -> ", trained.final_loss);
  return out;
}

}  // namespace

std::unique_ptr<SiteModel> NewMlpAutoencoderModel(const v1::ModelSpec& spec) {
  return std::make_unique<MlpAutoencoderModel>(spec);
}

}  // namespace fedlog::model
