// `fedlog score`: a site's detection quality on its own labeled lines, with a model bundle
// (normally the promoted federated model the site daemon fetched) and, optionally, a local-only
// model trained from the same initial weights with the same local work, so a site can see what
// federation gave it.
// The model must detect (model::SiteModel::DetectorSpec, common/model/site_model.h: a line_encoder;
//   an mlp_autoencoder is refused). The site's lines (--config, or --log/--format/--labels) are
//   featurized and split exactly as the site daemon does (common/model/encoder_site_data.h);
//   detectors come from
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
#include "client/local_data.h"
#include "client/site_daemon.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/fl/bundle_codec.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/encoder_site_data.h"
#include "common/model/personalise.h"
#include "common/model/site_model.h"
#include "fedlog/v1/model.pb.h"
#include "tools/cli/args.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
namespace {

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
                                                const model::EncoderData& data,
                                                const v1::TrainingPlan& plan, int rounds,
                                                const model::RuntimeOptions& runtime) {
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle weights, model::InitialEncoderWeights(spec));
  for (int round = 1; round <= rounds; ++round) {
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                            model::PrepareSiteWeights(spec, weights, data.sources));
    const model::LocalWork work = model::WorkFromPlan(plan, round, runtime);
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
    const model::EncoderData& data, const model::RuntimeOptions& runtime) {
  absl::StatusOr<model::DetectionMetrics> m =
      model::EvaluateDetector(site, weights, support, data, runtime);
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
                                               const model::EncoderData& data,
                                               const v1::TrainingPlan& plan, int rounds,
                                               const model::RuntimeOptions& runtime) {
  Personalised out;
  if (rounds == 0) return out;
  model::PersonaliseOptions p;
  p.rounds = rounds;
  // Seeded past any federated round, as the daemon seeds it (client/site_trainer.cc).
  p.work = model::WorkFromPlan(plan, 1000003, runtime);
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
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> site_model,
                          model::CreateSiteModel(manifest.spec()));
  FEDLOG_ASSIGN_OR_RETURN(model::EncoderSpec spec, site_model->DetectorSpec());
  FEDLOG_ASSIGN_OR_RETURN(auto site_sources, SiteSources(args));
  FEDLOG_ASSIGN_OR_RETURN(
      model::EncoderData data,
      model::BuildEncoderData(site_sources.first, spec.dense_dim, site_sources.second,
                               model::SiteModelOptions().split_seed));
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
      model::SupportRows(data.train, static_cast<int>(shots), plan.seed());
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
    model::EncoderData few = data;
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
      argv, {{"model", "manifest", "log", "labels", "format", "seed", "max-lines",
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
  absl::Status st = ScoreEncoder(*args, manifest, *weights);
  if (st.code() == absl::StatusCode::kInvalidArgument) return fail(st), 2;
  return st.ok() ? 0 : fail(st);
}

}  // namespace

void AddSiteVerbs(std::vector<Verb>* verbs) {
  verbs->push_back(
      {"score",
       "score --model BUNDLE --manifest MANIFEST (--config SITE.yaml | --log FILE --format NAME "
       "--labels CSV [--source NAME]) [--no-header] "
       "[--site NAME] [--seed S] [--max-lines N] "
       "[--local-rounds R --contrastive-steps C --meta-iterations M --inner-steps I --batch B --lr "
       "LR] [--personalise-rounds P] [--shots K] "
       "[--holdout PCT] [--threads T]",
       "detection quality of a model that detects (line_encoder) on a site's labeled lines: one row "
       "per site with the F1 and AUROC on "
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
