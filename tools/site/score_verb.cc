// `fedlog score`: a site's detection quality on its own labeled lines, with a model bundle
// (normally the promoted federated model the site daemon fetched) and, optionally, a local-only
// model trained from the same initial weights with the same local work, so a site can see what
// federation gave it.
// mlp_autoencoder: the reconstruction error scores the labeled lines of --log; threshold by max F1
//   on a seeded half of them, metrics on the other half.
// line_encoder: the site's lines (--config, or --log/--format/--labels) are featurized and split
//   exactly as the site daemon does (client/site_trainer.h); detectors come from
//   model::BuildSiteDetector: the model's own prototypes (k = 0) and k labeled training lines per
//   class; threshold on the held-out validation lines, metrics on the held-out test lines. The
//   local-only models run model::RunSiteRound for --local-rounds rounds from the initial weights,
//   as a federation of one site: with every label of the site, and with only the k-shot support
//   labels (a site that labeled k lines per class, as the adapted federated detector uses).
//   --personalise-rounds P: the federated model personalised as a daemon with
//   `personalise_rounds: P` does (model::PersonaliseSite: P local rounds, kept when the validation
//   F1 is not lower), adapted with the same k-shot support.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/line_labels.h"
#include "client/local_data.h"
#include "client/site_daemon.h"
#include "client/site_trainer.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/threshold.h"
#include "common/features/line_featurizer.h"
#include "common/fl/bundle_codec.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/local_trainer.h"
#include "common/model/personalise.h"
#include "fedlog/v1/model.pb.h"
#include "tools/cli/args.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
namespace {

struct Labeled {
  std::vector<std::string> lines;
  std::vector<int> labels;
};

// Lines of `log` that have a label in `labels_path` (client/line_labels.h), binary.
absl::StatusOr<Labeled> ReadLabeled(const std::string& log, const std::string& labels_path,
                                    int max_lines) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(log));
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  FEDLOG_ASSIGN_OR_RETURN(auto by_line, client::ReadLineLabels(labels_path));
  Labeled out;
  for (const auto& [id, label] : by_line) {
    if (id > static_cast<int64_t>(lines.size()) || lines[id - 1].empty()) continue;
    out.lines.push_back(lines[id - 1]);
    out.labels.push_back(label > 0 ? 1 : 0);
    if (max_lines > 0 && static_cast<int>(out.lines.size()) >= max_lines) break;
  }
  if (out.lines.empty()) return absl::InvalidArgumentError("no labeled lines matched the log");
  return out;
}

struct Row {
  std::string model;
  eval::BinaryMetrics metrics;
  double threshold = 0;
};

// Threshold from the validation half, metrics on the test half.
absl::StatusOr<Row> Evaluate(const std::string& name, const std::vector<float>& scores,
                             const std::vector<int>& labels, const std::vector<size_t>& order) {
  std::vector<int> vl, tl;
  std::vector<double> vs, ts;
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t r = order[i];
    (i % 2 == 0 ? vl : tl).push_back(labels[r]);
    (i % 2 == 0 ? vs : ts).push_back(scores[r]);
  }
  FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice t, eval::SelectThresholdMaxF1(vl, vs));
  FEDLOG_ASSIGN_OR_RETURN(eval::BinaryMetrics m, eval::EvaluateScores(tl, ts, t.threshold));
  return Row{name, m, t.threshold};
}

// The foundation's MLP autoencoder: one row per model.
absl::Status ScoreMlp(const Args& args, const v1::ModelManifest& manifest,
                      const fl::TensorBundle& weights) {
  for (const char* required : {"log", "labels", "format"}) {
    if (!args.Has(required))
      return absl::InvalidArgumentError(absl::StrCat("--", required, " is required"));
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t epochs, args.GetInt("local-epochs", 0));
  FEDLOG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 1));
  FEDLOG_ASSIGN_OR_RETURN(int64_t max_lines, args.GetInt("max-lines", 0));
  model::MlpSpec spec;
  spec.input_dim = manifest.spec().input_dim();
  spec.hidden.assign(manifest.spec().hidden().begin(), manifest.spec().hidden().end());
  spec.init_seed = manifest.spec().init_seed();
  FEDLOG_ASSIGN_OR_RETURN(
      Labeled data, ReadLabeled(args.Get("log"), args.Get("labels"), static_cast<int>(max_lines)));
  features::LineFeaturizerOptions fo;
  fo.hash_dim = std::max(1, spec.input_dim - features::LineFeaturizer::kDenseDims);
  // The same parsing and featurization as the site daemon's training (client/local_data.h).
  FEDLOG_ASSIGN_OR_RETURN(
      client::SourceLines parsed,
      client::ParseSourceLines(args.Get("site", "site"), args.Get("format"), data.lines));
  DenseMatrix x = features::LineFeaturizer(fo).FeaturizeAll(parsed.contents);
  std::vector<size_t> order(data.lines.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(static_cast<uint64_t>(seed)));

  std::vector<Row> rows;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> fed, model::Score(spec, weights, x));
  FEDLOG_ASSIGN_OR_RETURN(Row fed_row, Evaluate(absl::StrCat("federated v", manifest.version()),
                                                fed, data.labels, order));
  rows.push_back(fed_row);
  if (epochs > 0) {
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle init, model::InitialWeights(spec));
    model::TrainOptions to;
    to.epochs = static_cast<int>(epochs);
    to.seed = static_cast<uint64_t>(seed);
    to.device = "cpu";
    FEDLOG_ASSIGN_OR_RETURN(model::TrainResult local, model::Train(spec, init, x, to));
    FEDLOG_ASSIGN_OR_RETURN(std::vector<float> local_scores, model::Score(spec, local.weights, x));
    FEDLOG_ASSIGN_OR_RETURN(Row local_row, Evaluate(absl::StrCat("local-only (", epochs, " ep)"),
                                                    local_scores, data.labels, order));
    rows.push_back(local_row);
  }
  const int anomalies = std::accumulate(data.labels.begin(), data.labels.end(), 0);
  if (!args.Has("no-header")) {
    std::printf("%-14s %-22s %6s %9s %7s %7s %6s %6s %6s %7s\n", "site", "model", "lines", "anomalies", "auroc",
                "pr_auc", "prec", "recall", "f1", "alerts");
  }
  for (const Row& r : rows) {
    std::printf("%-14s %-22s %6zu %9d %7.3f %7.3f %6.3f %6.3f %6.3f %7lld\n",
                args.Get("site", "-").c_str(), r.model.c_str(), data.lines.size(), anomalies,
                r.metrics.auroc, r.metrics.pr_auc, r.metrics.precision, r.metrics.recall,
                r.metrics.f1,
                static_cast<long long>(r.metrics.confusion.tp + r.metrics.confusion.fp));
  }
  return absl::OkStatus();
}

// The site's sources and held-out share: from its daemon config, or one --log/--format/--labels
// source.
absl::StatusOr<std::pair<std::vector<client::SourceLines>, int>> SiteSources(const Args& args) {
  v1::ClientConfig config;
  if (args.Has("config")) {
    FEDLOG_ASSIGN_OR_RETURN(config, client::LoadClientConfig(args.Get("config")));
  } else {
    for (const char* required : {"log", "labels", "format"}) {
      if (!args.Has(required)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--config, or --log, --format and --labels, are required"));
      }
    }
    v1::LogSourceConfig* s = config.add_sources();
    // A custom format ("format:<Content>", a regex) is no source name: the source is then --source or "custom".
    const std::string format = args.Get("format");
    const bool custom = format.find_first_of(":<(") != std::string::npos;
    s->set_name(args.Get("source", custom ? "custom" : format));
    s->set_format(format);
    s->set_path(args.Get("log"));
    s->set_labels(args.Get("labels"));
    FEDLOG_ASSIGN_OR_RETURN(int64_t max_lines, args.GetInt("max-lines", 0));
    s->set_max_lines(static_cast<int32_t>(max_lines));
  }
  FEDLOG_ASSIGN_OR_RETURN(
      int64_t holdout,
      args.GetInt("holdout", config.holdout_percent() > 0 ? config.holdout_percent() : 20));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<client::SourceLines> sources, client::ReadSources(config));
  return std::make_pair(std::move(sources), static_cast<int>(holdout));
}

// Local-only baseline: the daemon's round (PrepareSiteWeights + RunSiteRound) `rounds` times from
// the initial weights, each round starting from the last one's result, with no other site.
absl::StatusOr<fl::TensorBundle> TrainLocalOnly(const model::EncoderSpec& spec,
                                                const client::EncoderData& data,
                                                const v1::TrainingPlan& plan, int rounds,
                                                const model::RuntimeOptions& runtime) {
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle weights, model::InitialEncoderWeights(spec));
  for (int round = 1; round <= rounds; ++round) {
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                            model::PrepareSiteWeights(spec, weights, data.sources));
    const model::LocalWork work = client::WorkFromPlan(plan, round, runtime);
    FEDLOG_ASSIGN_OR_RETURN(model::SiteRoundResult r,
                            model::RunSiteRound(model::SiteSpec(spec, data.sources), start,
                                                data.train, data.validation, work));
    weights = std::move(r.weights);
  }
  return weights;
}

// "0.912" or "-" when the detector cannot be built (no prototypes and no support of a class).
absl::StatusOr<std::pair<std::string, std::string>> F1AndAuroc(
    const model::EncoderSpec& site, const fl::TensorBundle& weights, const model::LineSet& support,
    const client::EncoderData& data, const model::RuntimeOptions& runtime) {
  absl::StatusOr<client::DetectionMetrics> m =
      client::EvaluateDetector(site, weights, support, data, runtime);
  if (m.status().code() == absl::StatusCode::kFailedPrecondition)
    return std::pair<std::string, std::string>("-", "-");
  FEDLOG_RETURN_IF_ERROR(m.status());
  return std::make_pair(absl::StrFormat("%.3f", m->f1), absl::StrFormat("%.3f", m->auroc));
}

// The federated model personalised (PersonaliseSite with the k-shot support, calibrated on the
// validation lines) and scored like the others; {"-", "-"} and "-" when `rounds` is 0.
struct Personalised {
  std::pair<std::string, std::string> f1_auroc = {"-", "-"};
  std::string kept = "-";  // "tuned": the local rounds' weights; "global": the federated model
};
absl::StatusOr<Personalised> ScorePersonalised(const model::EncoderSpec& site,
                                               const fl::TensorBundle& federated,
                                               const model::LineSet& support,
                                               const client::EncoderData& data,
                                               const v1::TrainingPlan& plan, int rounds,
                                               const model::RuntimeOptions& runtime) {
  Personalised out;
  if (rounds == 0) return out;
  model::PersonaliseOptions p;
  p.rounds = rounds;
  // Seeded past any federated round, as the daemon seeds it (client/site_trainer.cc).
  p.work = client::WorkFromPlan(plan, 1000003, runtime);
  p.adapt.runtime = runtime;
  FEDLOG_ASSIGN_OR_RETURN(
      model::PersonaliseResult r,
      model::PersonaliseSite(site, federated, data.train, support, data.validation, p));
  FEDLOG_ASSIGN_OR_RETURN(out.f1_auroc, F1AndAuroc(site, r.weights, support, data, runtime));
  out.kept = r.personalised ? "tuned" : "global";
  return out;
}

// The learned line encoder: one row per site: local-only with all the site's labels and with only
// its k-shot support labels, federated with its prototypes, federated + the k-shot support, and
// personalised + the k-shot support.
absl::Status ScoreEncoder(const Args& args, const v1::ModelManifest& manifest,
                          const fl::TensorBundle& weights) {
  FEDLOG_ASSIGN_OR_RETURN(model::EncoderSpec spec, client::EncoderSpecFromProto(manifest.spec()));
  FEDLOG_ASSIGN_OR_RETURN(auto site_sources, SiteSources(args));
  FEDLOG_ASSIGN_OR_RETURN(
      client::EncoderData data,
      client::BuildEncoderData(site_sources.first, spec.dense_dim, site_sources.second,
                               client::SiteTrainerOptions().split_seed));
  v1::TrainingPlan plan;
  FEDLOG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 1));
  FEDLOG_ASSIGN_OR_RETURN(int64_t rounds, args.GetInt("local-rounds", 0));
  FEDLOG_ASSIGN_OR_RETURN(int64_t personalise, args.GetInt("personalise-rounds", 0));
  if (rounds < 0 || personalise < 0 || personalise > 100) {
    return absl::InvalidArgumentError(
        "--local-rounds must be >= 0 and --personalise-rounds in 0..100");
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t shots, args.GetInt("shots", 10));
  FEDLOG_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 1));
  FEDLOG_ASSIGN_OR_RETURN(int64_t contrastive, args.GetInt("contrastive-steps", 0));
  FEDLOG_ASSIGN_OR_RETURN(int64_t meta, args.GetInt("meta-iterations", 0));
  FEDLOG_ASSIGN_OR_RETURN(int64_t inner, args.GetInt("inner-steps", 1));
  FEDLOG_ASSIGN_OR_RETURN(int64_t batch, args.GetInt("batch", 0));
  FEDLOG_ASSIGN_OR_RETURN(double lr, args.GetDouble("lr", 0));
  plan.set_seed(static_cast<uint64_t>(seed));
  plan.set_contrastive_steps(static_cast<int32_t>(contrastive));
  plan.set_meta_iterations(static_cast<int32_t>(meta));
  plan.set_inner_steps(static_cast<int32_t>(inner));
  plan.set_batch_size(static_cast<int32_t>(batch));
  plan.set_learning_rate(static_cast<float>(lr));
  model::RuntimeOptions runtime;
  runtime.threads = static_cast<int>(threads);
  runtime.seed = static_cast<uint64_t>(seed);
  const model::EncoderSpec site = model::SiteSpec(spec, data.sources);
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle federated,
                          model::PrepareSiteWeights(spec, weights, data.sources));
  const std::vector<int64_t> support_rows =
      client::SupportRows(data.train, static_cast<int>(shots), plan.seed());
  const model::LineSet support = model::SelectLines(data.train, support_rows);

  std::pair<std::string, std::string> local = {"-", "-"}, local_k = {"-", "-"};
  double local_seconds = 0;
  if (rounds > 0) {
    const auto t0 = std::chrono::steady_clock::now();
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle local_weights,
                            TrainLocalOnly(spec, data, plan, static_cast<int>(rounds), runtime));
    local_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The local model's own prototypes are from every labeled training line of the site.
    FEDLOG_ASSIGN_OR_RETURN(local, F1AndAuroc(site, local_weights, {}, data, runtime));
    // A site that labeled only the support lines: the same local work with every other label
    // hidden.
    client::EncoderData few = data;
    for (int& y : few.train.labels) y = -1;
    for (int64_t r : support_rows) few.train.labels[r] = data.train.labels[r];
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle few_weights,
                            TrainLocalOnly(spec, few, plan, static_cast<int>(rounds), runtime));
    FEDLOG_ASSIGN_OR_RETURN(local_k, F1AndAuroc(site, few_weights, support, data, runtime));
  }
  FEDLOG_ASSIGN_OR_RETURN(auto global, F1AndAuroc(site, federated, {}, data, runtime));
  FEDLOG_ASSIGN_OR_RETURN(auto adapted, F1AndAuroc(site, federated, support, data, runtime));
  FEDLOG_ASSIGN_OR_RETURN(Personalised pers,
                          ScorePersonalised(site, weights, support, data, plan,
                                            static_cast<int>(personalise), runtime));
  int64_t anomalies = 0;
  for (int y : data.test.labels) anomalies += y > 0 ? 1 : 0;
  if (!args.Has("no-header")) {
    // The same names as scripts/demo.sh's table; F1 then AUROC of each model on the held-out test lines.
    std::printf("%-8s %-18s %5s %5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %6s %7s\n", "site", "sources", "test",
                "anom", "local_f1", "lk_f1", "glob_f1", "adapt_f1", "pers_f1", "local_au", "lk_au", "glob_au",
                "adapt_au", "pers_au", "kept", "local_s");
  }
  std::printf("%-8s %-18s %5lld %5lld %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %6s %7.1f\n",
              args.Get("site", "-").c_str(), absl::StrJoin(data.sources, "+").c_str(),
              static_cast<long long>(data.test.size()), static_cast<long long>(anomalies),
              local.first.c_str(), local_k.first.c_str(), global.first.c_str(),
              adapted.first.c_str(), pers.f1_auroc.first.c_str(), local.second.c_str(),
              local_k.second.c_str(), global.second.c_str(), adapted.second.c_str(),
              pers.f1_auroc.second.c_str(), pers.kept.c_str(), local_seconds);
  return absl::OkStatus();
}

int Score(const std::vector<std::string>& argv) {
  auto args = Args::Parse(
      argv, {{"model", "manifest", "log", "labels", "format", "local-epochs", "seed", "max-lines",
              "site", "config", "holdout", "local-rounds", "shots", "threads", "contrastive-steps",
              "meta-iterations", "inner-steps", "batch", "lr", "personalise-rounds", "source"},
             {"no-header"}});
  auto fail = [](const absl::Status& st) {
    std::fprintf(stderr, "fedlog score: %s\n", std::string(st.message()).c_str());
    return 1;
  };
  if (!args.ok()) return fail(args.status()), 2;
  for (const char* required : {"model", "manifest"}) {
    if (!args->Has(required))
      return fail(absl::InvalidArgumentError(absl::StrCat("--", required, " is required"))), 2;
  }
  auto manifest_bytes = ReadFile(args->Get("manifest"));
  v1::ModelManifest manifest;
  if (!manifest_bytes.ok()) return fail(manifest_bytes.status());
  if (!manifest.ParseFromString(*manifest_bytes))
    return fail(absl::InvalidArgumentError("manifest does not parse"));
  auto bundle_bytes = ReadFile(args->Get("model"));
  if (!bundle_bytes.ok()) return fail(bundle_bytes.status());
  auto weights = fl::DecodeBundle(*bundle_bytes);
  if (!weights.ok()) return fail(weights.status());
  absl::Status st = manifest.spec().arch() == "line_encoder"
                        ? ScoreEncoder(*args, manifest, *weights)
                        : ScoreMlp(*args, manifest, *weights);
  if (st.code() == absl::StatusCode::kInvalidArgument) return fail(st), 2;
  return st.ok() ? 0 : fail(st);
}

}  // namespace

void AddSiteVerbs(std::vector<Verb>* verbs) {
  verbs->push_back(
      {"score",
       "score --model BUNDLE --manifest MANIFEST (--config SITE.yaml | --log FILE --format NAME "
       "--labels CSV [--source NAME]) [--no-header] "
       "[--site NAME] [--seed S] [--max-lines N]  mlp_autoencoder: [--local-epochs E]  "
       "line_encoder: "
       "[--local-rounds R --contrastive-steps C --meta-iterations M --inner-steps I --batch B --lr "
       "LR] [--personalise-rounds P] [--shots K] "
       "[--holdout PCT] [--threads T]",
       "detection quality of a model on a site's labeled lines. mlp_autoencoder: AUROC, PR-AUC, F1 "
       "on a held-out "
       "half, one row per model (federated, local-only). line_encoder: one row per site with the "
       "F1 and AUROC on "
       "its held-out lines of local-only models (R rounds of the same local work, with all the "
       "site's labels and "
       "with only K labeled lines per class), the federated model with its prototypes, and the "
       "federated model "
       "adapted with the same K labeled lines per class, the federated model personalised with P local "
       "rounds (kept when its validation F1 is not lower) and the same K lines, whether the tuned "
       "weights were kept, then the local-only training seconds",
       Score});
}

}  // namespace fedlog::cli
