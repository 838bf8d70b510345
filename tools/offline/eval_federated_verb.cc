// `fedlog eval federated --protocol sources|hdfs|bgl --out DIR [...]`: flags -> FederatedOptions,
// the protocol's sites, the simulation, results.json / results.md.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/fl/strategy.h"
#include "common/privacy/release_subspace.h"
#include "tools/cli/args.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/pretrain.h"

namespace fedlog::offline {
namespace {

constexpr char kUsage[] =
    "usage: fedlog eval federated --protocol sources|hdfs|bgl --out DIR [--data DIR] [--rounds N] "
    "[--sites K] [--contrastive-steps S] [--meta-iterations M] [--inner-steps I] [--shots K] "
    "[--fedprox-mu MU] [--strategy fedavg|weighted_fedavg|median|trimmed_mean] [--adaptive-clip M|off] "
    "[--seed S] "
    "[--threads T] [--max-train-lines N] [--personalise-rounds P] [--no-baselines] "
    "[--dp-mode line|site (--dp-noise-multiplier SIGMA | --target-epsilon EPS) [--dp-clip C] "
    "[--dp-delta D] [--dp-encoder-lr-ratio R] [--dp-freeze-embedding] "
    "[--dp-objective per_line|episodes] [--dp-contrastive] [--dp-anomalous-rate Q] "
    "[--dp-normal-lines N] [--dp-scope adapters|all] [--dp-private-only] [--dp-count-noise S] "
    "[--dp-prototype-noise S | --dp-prototype-share F] "
    "[--secure-aggregation [--secagg-threshold T] [--secagg-clip-range R]] [--dp-prototype-counts]] "
    "[--initial-model FILE] "
    "[--no-choice] "
    "[--withhold-anomalous-labels K]\n"
    "  [--choice-compare templates|lines] [--max-anomalous-labels N]\n"
    "  [--dp-release-subspace R [--dp-release-basis shared|adapter]] [--dp-subspace-diagnose]\n"
    "  [--dp-release-shrink] [--dp-shrink-diagnose]\n";

// The federation's size and work: rounds, sites, steps, seeds, threads, baselines and the detector choice.
absl::Status ParseRunFlags(const cli::Args& args, FederatedOptions* o) {
  o->strategy = args.Get("strategy", o->strategy);
  if (args.Has("adaptive-clip")) {
    const std::string m = args.Get("adaptive-clip");
    if (m == "off") {
      o->adaptive_clip_multiple = 0;
    } else {
      FEDLOG_ASSIGN_OR_RETURN(o->adaptive_clip_multiple, args.GetDouble("adaptive-clip", 0));
      if (!(o->adaptive_clip_multiple >= 1 && o->adaptive_clip_multiple <= 1e6)) {
        return absl::InvalidArgumentError("--adaptive-clip must be off or a multiple in [1, 1e6]");
      }
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t rounds, args.GetInt("rounds", o->rounds));
  FEDLOG_ASSIGN_OR_RETURN(int64_t sites, args.GetInt("sites", o->sites));
  FEDLOG_ASSIGN_OR_RETURN(int64_t steps, args.GetInt("contrastive-steps", o->contrastive_steps));
  FEDLOG_ASSIGN_OR_RETURN(int64_t meta, args.GetInt("meta-iterations", o->meta_iterations));
  FEDLOG_ASSIGN_OR_RETURN(int64_t inner, args.GetInt("inner-steps", o->inner_steps));
  FEDLOG_ASSIGN_OR_RETURN(int64_t shots, args.GetInt("shots", o->shots));
  FEDLOG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", static_cast<int64_t>(o->seed)));
  FEDLOG_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", o->threads));
  FEDLOG_ASSIGN_OR_RETURN(int64_t max_lines, args.GetInt("max-train-lines", o->max_train_lines));
  FEDLOG_ASSIGN_OR_RETURN(int64_t personalise,
                          args.GetInt("personalise-rounds", o->personalise_rounds));
  FEDLOG_ASSIGN_OR_RETURN(double mu, args.GetDouble("fedprox-mu", o->fedprox_mu));
  if (rounds < 1 || rounds > 1000) return absl::InvalidArgumentError("--rounds must be in 1..1000");
  if (personalise < 0 || personalise > 100) {
    return absl::InvalidArgumentError("--personalise-rounds must be in 0..100");
  }
  if (sites < 0 || steps < 0 || meta < 0 || inner < 0 || shots < 1 || threads < 1 ||
      max_lines < 2 || seed < 0 || mu < 0) {
    return absl::InvalidArgumentError(
        "--sites, --contrastive-steps, --meta-iterations, --inner-steps, --seed and --fedprox-mu "
        "must be >= 0; --shots and --threads >= 1; --max-train-lines >= 2");
  }
  o->rounds = static_cast<int>(rounds);
  o->sites = static_cast<int>(sites);
  o->contrastive_steps = static_cast<int>(steps);
  o->meta_iterations = static_cast<int>(meta);
  o->inner_steps = static_cast<int>(inner);
  o->shots = static_cast<int>(shots);
  o->seed = static_cast<uint64_t>(seed);
  o->threads = static_cast<int>(threads);
  o->max_train_lines = static_cast<int>(max_lines);
  o->fedprox_mu = static_cast<float>(mu);
  o->personalise_rounds = static_cast<int>(personalise);
  o->run_centralized = o->run_local = !args.Has("no-baselines");
  o->initial_model = args.Get("initial-model", "");
  o->choice_rows = !args.Has("no-choice");
  if (args.Has("choice-compare")) {
    absl::StatusOr<fewshot::CompareUnits> c = fewshot::ParseCompareUnits(args.Get("choice-compare"));
    if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat("--choice-compare: ", c.status().message()));
    o->choice_compare = *c;
  }
  return absl::OkStatus();
}

// Differential privacy (line or site level), the class-sum release and secure aggregation.
absl::Status ParseDpFlags(const cli::Args& args, FederatedOptions* o) {
  o->dp_mode = args.Get("dp-mode", "");
  FEDLOG_ASSIGN_OR_RETURN(o->dp_noise_multiplier,
                          args.GetDouble("dp-noise-multiplier", o->dp_noise_multiplier));
  FEDLOG_ASSIGN_OR_RETURN(o->dp_clip, args.GetDouble("dp-clip", o->dp_clip));
  FEDLOG_ASSIGN_OR_RETURN(o->dp_delta, args.GetDouble("dp-delta", o->dp_delta));
  FEDLOG_ASSIGN_OR_RETURN(o->target_epsilon, args.GetDouble("target-epsilon", o->target_epsilon));
  FEDLOG_ASSIGN_OR_RETURN(o->dp_encoder_lr_ratio,
                          args.GetDouble("dp-encoder-lr-ratio", o->dp_encoder_lr_ratio));
  o->dp_train_embedding = !args.Has("dp-freeze-embedding");
  FEDLOG_ASSIGN_OR_RETURN(o->dp_objective,
                          model::ParseLabeledDpObjective(args.Get("dp-objective", "per_line")));
  o->dp_contrastive = args.Has("dp-contrastive");
  o->dp_private_only = args.Has("dp-private-only");
  FEDLOG_ASSIGN_OR_RETURN(o->dp_scope, model::ParseDpScope(args.Get("dp-scope", "adapters")));
  FEDLOG_ASSIGN_OR_RETURN(o->dp_anomalous_rate,
                          args.GetDouble("dp-anomalous-rate", o->dp_anomalous_rate));
  FEDLOG_ASSIGN_OR_RETURN(int64_t normal_lines, args.GetInt("dp-normal-lines", o->dp_normal_lines));
  if (!(o->dp_anomalous_rate > 0 && o->dp_anomalous_rate <= 1) || normal_lines < 1 ||
      normal_lines > 1000000) {
    return absl::InvalidArgumentError(
        "--dp-anomalous-rate must be in (0, 1] and --dp-normal-lines in 1..1000000");
  }
  o->dp_normal_lines = static_cast<int>(normal_lines);
  FEDLOG_ASSIGN_OR_RETURN(o->dp_count_noise, args.GetDouble("dp-count-noise", o->dp_count_noise));
  if (!(o->dp_count_noise >= 1 && o->dp_count_noise <= 1e6)) {
    return absl::InvalidArgumentError("--dp-count-noise must be in [1, 1e6]");
  }
  FEDLOG_ASSIGN_OR_RETURN(o->dp_prototype_noise, args.GetDouble("dp-prototype-noise", o->dp_prototype_noise));
  FEDLOG_ASSIGN_OR_RETURN(o->dp_prototype_share, args.GetDouble("dp-prototype-share", o->dp_prototype_share));
  if (!(o->dp_prototype_share >= 0 && o->dp_prototype_share < 1) ||
      (o->dp_prototype_noise != 0 && !(o->dp_prototype_noise >= 0.01 && o->dp_prototype_noise <= 1e6))) {
    return absl::InvalidArgumentError("--dp-prototype-share must be in [0, 1), --dp-prototype-noise in [0.01, 1e6]");
  }
  o->secure_aggregation = args.Has("secure-aggregation");
  o->dp_prototype_counts = args.Has("dp-prototype-counts");
  FEDLOG_ASSIGN_OR_RETURN(int64_t threshold, args.GetInt("secagg-threshold", 0));
  if (threshold < 0 || threshold > 4096) return absl::InvalidArgumentError("--secagg-threshold must be in 0..4096");
  o->secagg_threshold = static_cast<int>(threshold);
  FEDLOG_ASSIGN_OR_RETURN(o->secagg_clip_range, args.GetDouble("secagg-clip-range", o->secagg_clip_range));
  if ((args.Has("secagg-threshold") || args.Has("secagg-clip-range")) && !o->secure_aggregation) {
    return absl::InvalidArgumentError("--secagg-threshold and --secagg-clip-range need --secure-aggregation");
  }
  if (!o->dp_mode.empty() && o->dp_mode != "line" && o->dp_mode != "site") {
    return absl::InvalidArgumentError("--dp-mode must be line or site");
  }
  return absl::OkStatus();
}

// Measurement-only protocols and diagnostics: withheld or thinned anomalous labels, the release in a public
// subspace, the release shrunk by its noise (need the DP flags parsed first).
absl::Status ParseMeasurementFlags(const cli::Args& args, FederatedOptions* o) {
  FEDLOG_ASSIGN_OR_RETURN(int64_t withhold, args.GetInt("withhold-anomalous-labels", -1));
  if (withhold < -1 || withhold > 1000) {
    return absl::InvalidArgumentError("--withhold-anomalous-labels must be a site index in 0..1000");
  }
  o->withhold_anomalous_site = static_cast<int>(withhold);
  FEDLOG_ASSIGN_OR_RETURN(int64_t max_anomalous, args.GetInt("max-anomalous-labels", 0));
  if (max_anomalous < 0 || max_anomalous > 1000000) {
    return absl::InvalidArgumentError("--max-anomalous-labels must be in 0..1000000 (0: every label kept)");
  }
  o->max_anomalous_labels = static_cast<int>(max_anomalous);
  FEDLOG_ASSIGN_OR_RETURN(int64_t subspace, args.GetInt("dp-release-subspace", 0));
  o->dp_release_basis = args.Get("dp-release-basis", o->dp_release_basis);
  o->dp_subspace_diagnose = args.Has("dp-subspace-diagnose");
  if (subspace < 0 || subspace > privacy::kMaxReleaseSubspace) {
    return absl::InvalidArgumentError("--dp-release-subspace must be in 0..64 (0: the full release)");
  }
  o->dp_release_subspace = static_cast<int>(subspace);
  if (o->dp_release_basis != "shared" && o->dp_release_basis != "adapter") {
    return absl::InvalidArgumentError("--dp-release-basis must be shared or adapter");
  }
  if ((o->dp_release_subspace > 0 || o->dp_subspace_diagnose) &&
      (o->dp_mode != "line" || (o->protocol != "hdfs" && o->protocol != "bgl") ||
       !(o->dp_prototype_noise > 0 || o->dp_prototype_share > 0))) {
    return absl::InvalidArgumentError(
        "--dp-release-subspace and --dp-subspace-diagnose need --dp-mode line, a class-sum release and --protocol "
        "hdfs or bgl (the public lines leave the protocol's system out)");
  }
  o->dp_release_shrink = args.Has("dp-release-shrink");
  o->dp_shrink_diagnose = args.Has("dp-shrink-diagnose");
  if ((o->dp_release_shrink || o->dp_shrink_diagnose) &&
      (o->dp_mode != "line" || !(o->dp_prototype_noise > 0 || o->dp_prototype_share > 0) || o->dp_prototype_counts)) {
    return absl::InvalidArgumentError(
        "--dp-release-shrink and --dp-shrink-diagnose need --dp-mode line and a class-sum release of the "
        "directions form (no --dp-prototype-counts)");
  }
  return absl::OkStatus();
}

absl::StatusOr<FederatedOptions> ParseOptions(const cli::Args& args) {
  FederatedOptions o;
  o.protocol = args.Get("protocol");
  o.out_dir = args.Get("out");
  const char* env = std::getenv("FEDLOG_DATA_DIR");
  o.data_dir = args.Get("data", env != nullptr && *env != '\0' ? env : "../shared/data");
  FEDLOG_RETURN_IF_ERROR(ParseRunFlags(args, &o));
  FEDLOG_RETURN_IF_ERROR(ParseDpFlags(args, &o));
  FEDLOG_RETURN_IF_ERROR(ParseMeasurementFlags(args, &o));
  FEDLOG_RETURN_IF_ERROR(fl::ParseStrategy(o.strategy).status());
  if (o.protocol != "sources" && o.protocol != "hdfs" && o.protocol != "bgl") {
    return absl::InvalidArgumentError("--protocol must be sources, hdfs or bgl");
  }
  return o;
}

}  // namespace

absl::Status CheckInitialModelData(const FederatedOptions& options) {
  if (options.initial_model.empty()) return absl::OkStatus();
  if (options.protocol == "sources") {
    return absl::InvalidArgumentError(
        "--initial-model with --protocol sources: its sites hold every public source, so no pre-training data is "
        "disjoint from them");
  }
  const std::string system = options.protocol == "hdfs" ? "HDFS" : "BGL";
  FEDLOG_ASSIGN_OR_RETURN(std::vector<std::string> excluded, PretrainExcludedSystems(options.initial_model));
  if (std::find(excluded.begin(), excluded.end(), system) == excluded.end()) {
    return absl::InvalidArgumentError(absl::StrCat("--initial-model ", options.initial_model, " was pre-trained on ",
                                                   system, " lines (its .json does not exclude it)"));
  }
  return absl::OkStatus();
}

absl::Status RunFederatedEvaluation(const FederatedOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  FEDLOG_RETURN_IF_ERROR(CheckInitialModelData(options));
  absl::StatusOr<std::vector<FederatedSite>> sites;
  if (options.protocol == "sources") {
    sites = LoadSourcesSites(options);
  } else if (options.protocol == "hdfs") {
    sites = LoadHdfsSites(options);
  } else if (options.protocol == "bgl") {
    sites = LoadBglSites(options);
  } else {
    return absl::InvalidArgumentError("unknown protocol '" + options.protocol + "'");
  }
  FEDLOG_RETURN_IF_ERROR(sites.status());
  if (options.withhold_anomalous_site >= 0) {
    FEDLOG_RETURN_IF_ERROR(WithholdAnomalousLabels(options.withhold_anomalous_site, &*sites));
  }
  FederatedOptions resolved = options;
  FEDLOG_RETURN_IF_ERROR(ResolveDpOptions(*sites, &resolved));
  if (!resolved.dp_mode.empty()) {
    std::cerr << absl::StrFormat("%s-level DP: sigma %.4g, clip %.4g, delta %.3g\n",
                                 resolved.dp_mode, resolved.dp_noise_multiplier, resolved.dp_clip,
                                 resolved.dp_delta);
  }
  std::cerr << absl::StrFormat(
      "[%.1fs] %s: %zu sites loaded\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
      options.protocol, sites->size());
  FEDLOG_ASSIGN_OR_RETURN(FederatedResult result, RunFederatedSimulation(*sites, resolved));
  FEDLOG_ASSIGN_OR_RETURN(std::string md, WriteFederatedResults(resolved, *sites, result));
  std::cout << md;
  return absl::OkStatus();
}

int RunEvalFederated(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv,
      {{"protocol", "out", "data", "rounds", "sites", "contrastive-steps", "meta-iterations",
        "inner-steps", "shots", "fedprox-mu", "strategy", "adaptive-clip", "seed", "threads", "max-train-lines",
        "personalise-rounds", "dp-mode", "dp-noise-multiplier", "dp-clip", "dp-delta",
        "target-epsilon", "dp-encoder-lr-ratio", "dp-objective", "dp-anomalous-rate",
        "dp-normal-lines", "dp-scope", "dp-count-noise", "dp-prototype-noise", "dp-prototype-share",
        "secagg-threshold", "secagg-clip-range", "initial-model",
        "withhold-anomalous-labels",
        "choice-compare", "max-anomalous-labels",
        "dp-release-subspace", "dp-release-basis"},
       {"no-baselines", "dp-freeze-embedding", "dp-contrastive", "dp-private-only", "secure-aggregation",
        "dp-prototype-counts",
        "no-choice",
        "dp-subspace-diagnose",
        "dp-release-shrink", "dp-shrink-diagnose"}});
  if (!args.ok() || !args->Has("protocol") || !args->Has("out")) {
    std::cerr << (args.ok() ? "--protocol and --out are required" : args.status().ToString())
              << "\n"
              << kUsage;
    return 2;
  }
  absl::StatusOr<FederatedOptions> options = ParseOptions(*args);
  if (!options.ok()) {
    std::cerr << options.status() << "\n" << kUsage;
    return 2;
  }
  absl::Status s = RunFederatedEvaluation(*options);
  if (!s.ok()) {
    std::cerr << "eval federated: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace fedlog::offline
