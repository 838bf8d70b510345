// `fedlog eval detect --protocol loso|hdfs|bgl|hadoop --out DIR [--data DIR] [--seed S] ...`: the
// protocol drivers (which rows train, which test) and the command line.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/splits.h"
#include "tools/cli/args.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

constexpr const char* kUsage =
    "usage: fedlog eval detect --protocol loso|hdfs|bgl|hadoop --out DIR [--data DIR] [--seed S]\n"
    "       [--select-k K] [--shots 0,5,10,30] [--repeats R] [--rounds N] [--threads T]\n"
    "       [--models xgboost,logreg,encoder] [--encoder-contrastive-steps N]\n"
    "       [--encoder-meta-iterations N] [--encoder-adapt-steps N] [--encoder-session-epochs N]\n"
    "       [--encoder-prototypes nearest|mean] [--encoder-match-quantile Q]\n"
    "       [--encoder-jaccard-weight W[,W...]]\n"
    "       (--models also takes encoder-fused, encoder-jaccard, encoder-jaccard-dev,\n"
    "        encoder-jaccard-rate, encoder-jaccard-devcut, jaccard-1nn and fewshot: loso, k > 0)\n";

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Up to k labelled lines of each class (never more than half of a class, so each class keeps test
// lines), drawn with a seeded Fisher-Yates shuffle. Returns positions into `labels`, ascending.
std::vector<size_t> SupportSample(const std::vector<int>& labels, int k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> out;
  for (int c = 0; c < 2; ++c) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == c) idx.push_back(i);
    }
    const size_t take = std::min(static_cast<size_t>(k), idx.size() / 2);
    for (size_t i = 0; i < take; ++i) {
      std::uniform_int_distribution<size_t> pick(i, idx.size() - 1);
      std::swap(idx[i], idx[pick(rng)]);
      out.push_back(idx[i]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Scores `runs` on the test rows and files the result under each model's table.
absl::Status Record(const DetectDataset& d, const std::string& source,
                    const std::vector<size_t>& test, const std::vector<ModelRun>& runs, int k,
                    std::vector<ResultTable>* tables, std::string* log) {
  std::vector<int> y;
  for (size_t r : test) y.push_back(d.y[r]);
  const bool one_class =
      std::count(y.begin(), y.end(), 1) == 0 || std::count(y.begin(), y.end(), 0) == 0;
  for (const ModelRun& run : runs) {
    ResultTable* t = nullptr;
    for (ResultTable& candidate : *tables) {
      if (candidate.model == run.model && candidate.k == k) t = &candidate;
    }
    if (t == nullptr) return absl::InternalError("eval detect: no table for " + run.model);
    FEDLOG_ASSIGN_OR_RETURN(eval::BinaryMetrics m,
                            eval::EvaluateScores(y, run.scores, run.threshold));
    (one_class ? t->single_class : t->rows).push_back({source, m});
    t->pooled_labels.insert(t->pooled_labels.end(), y.begin(), y.end());
    t->pooled_scores.insert(t->pooled_scores.end(), run.scores.begin(), run.scores.end());
    t->thresholds.push_back(run.threshold);
    absl::StrAppend(
        log, absl::StrFormat(" %s F1 %.3f F1-macro %.3f (thr %.3f, val F1 %.3f);", run.model, m.f1,
                             m.f1_macro, run.threshold, run.validation_f1));
  }
  return absl::OkStatus();
}

std::vector<ResultTable> MakeTables(const DetectOptions& o, const std::vector<int>& ks) {
  std::vector<ResultTable> tables;
  for (int k : ks) {
    for (const std::string& model : o.models) {
      if (k <= 0 && (model == "encoder-fused" || absl::StartsWith(model, "encoder-jaccard") ||
                     model == "jaccard-1nn" || model == "fewshot")) {
        continue;  // k > 0 only
      }
      ResultTable t;
      t.model = model;
      t.k = k;
      t.title = k >= 0 ? absl::StrCat(o.protocol, ": ", model, ", k=", k, ", seed ", o.seed)
                       : absl::StrCat(o.protocol, ": ", model, ", seed ", o.seed);
      tables.push_back(std::move(t));
    }
  }
  return tables;
}

bool WantsHybrid(const DetectOptions& o) {
  for (const char* m : {"encoder-jaccard", "encoder-jaccard-dev", "encoder-jaccard-rate",
                        "encoder-jaccard-devcut"}) {
    if (WantsModel(o, m)) return true;
  }
  return false;
}

// The hybrid rows (eval_detect.h, HybridRows) asked for, on one fold's support and test lines.
absl::Status AddHybridRows(const DetectDataset& d, const LineEncoderFit& encoder,
                           const std::vector<size_t>& support, const std::vector<size_t>& test,
                           int k, const DetectOptions& o, std::vector<ModelRun>* runs) {
  if (!WantsHybrid(o)) return absl::OkStatus();
  HybridRows rows;
  rows.loo = WantsModel(o, "encoder-jaccard");
  rows.rate = WantsModel(o, "encoder-jaccard-rate");
  absl::StatusOr<model::OffsetTally> tally = absl::FailedPreconditionError("not wanted");
  if (WantsModel(o, "encoder-jaccard-dev") || WantsModel(o, "encoder-jaccard-devcut")) {
    tally = DevHybridTally(d, encoder, k, o);
    FEDLOG_RETURN_IF_ERROR(tally.status());
    if (WantsModel(o, "encoder-jaccard-dev")) rows.dev_weight = DevHybridWeight(*tally);
    if (WantsModel(o, "encoder-jaccard-devcut")) rows.tally = &*tally;
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<ModelRun> hybrid,
                          ScoreLineEncoderJaccard(d, encoder, support, test, o, rows));
  for (ModelRun& run : hybrid) runs->push_back(std::move(run));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ResultTable>> RunLoso(const DetectDataset& d, const DetectOptions& o) {
  FEDLOG_ASSIGN_OR_RETURN(std::vector<eval::SourceFold> folds, eval::LeaveOneSourceOut(d.group));
  std::vector<ResultTable> tables = MakeTables(o, o.shots);
  const Clock::time_point start = Clock::now();
  for (const eval::SourceFold& fold : folds) {
    std::vector<int> target_y;
    for (size_t r : fold.test) target_y.push_back(d.y[r]);
    // The encoder is trained once per fold (never on the target), then adapted per k.
    absl::StatusOr<LineEncoderFit> encoder = absl::FailedPreconditionError("not trained");
    if (WantsModel(o, "encoder") || WantsModel(o, "encoder-fused") || WantsHybrid(o)) {
      encoder = FitLineEncoderChoosingWeight(d, fold.train, o, o.seed);
      if (!encoder.ok()) return encoder.status();
      std::cerr << absl::StrFormat("[%6.1fs] loso %-11s%s\n", Seconds(start), fold.held_out,
                                   encoder->log);
    }
    // fewshot: the target's label-free scores, once per fold (eval_detect_fewshot.cc).
    absl::StatusOr<LosoLabelFree> label_free = absl::FailedPreconditionError("not scored");
    for (int k : o.shots) {
      TrainSetup setup;
      setup.seed = o.seed;
      setup.train = fold.train;
      const std::vector<size_t> support =
          k > 0 ? SupportSample(target_y, k, o.seed + k) : std::vector<size_t>{};
      if (!support.empty()) setup.train_weight.assign(fold.train.size(), 1.0f);
      std::set<size_t> in_support(support.begin(), support.end());
      for (size_t p = 0; p < fold.test.size(); ++p) {
        if (in_support.count(p)) {
          setup.train.push_back(fold.test[p]);
          setup.train_weight.push_back(static_cast<float>(o.support_weight));
        } else {
          setup.test.push_back(fold.test[p]);
        }
      }
      std::string log;
      FEDLOG_ASSIGN_OR_RETURN(std::vector<ModelRun> runs, TrainAndScore(d, setup, o, &log));
      std::vector<size_t> support_rows;
      for (size_t p : support) support_rows.push_back(fold.test[p]);
      if (encoder.ok() && WantsModel(o, "encoder")) {
        FEDLOG_ASSIGN_OR_RETURN(ModelRun run,
                                ScoreLineEncoder(d, *encoder, support_rows, setup.test,
                                                 /*calibrate_on_support=*/k > 0, o));
        runs.push_back(std::move(run));
        FEDLOG_ASSIGN_OR_RETURN(double dev, DevFewShotF1Macro(d, *encoder, k, o));
        absl::StrAppend(&log, absl::StrFormat(" encoder dev F1-macro %.3f;", dev));
      }
      if (k > 0 && encoder.ok() && WantsModel(o, "encoder-fused")) {
        FEDLOG_ASSIGN_OR_RETURN(ModelRun run,
                                ScoreLineEncoderFused(d, *encoder, support_rows, setup.test, o));
        runs.push_back(std::move(run));
      }
      if (k > 0 && encoder.ok()) {
        FEDLOG_RETURN_IF_ERROR(AddHybridRows(d, *encoder, support_rows, setup.test, k, o, &runs));
      }
      if (k > 0 && WantsModel(o, "jaccard-1nn")) {
        runs.push_back(ScoreJaccard1nn(d, support_rows, setup.test));
      }
      if (k > 0 && WantsModel(o, "fewshot")) {
        if (!label_free.ok()) label_free = ScoreLosoLabelFree(d, fold.held_out, o);
        FEDLOG_RETURN_IF_ERROR(label_free.status());
        FEDLOG_ASSIGN_OR_RETURN(ModelRun run, ScoreFewShotLoso(*label_free, d, support_rows, setup.test));
        runs.push_back(std::move(run));
      }
      FEDLOG_RETURN_IF_ERROR(Record(d, fold.held_out, setup.test, runs, k, &tables, &log));
      std::cerr << absl::StrFormat("[%6.1fs] loso %-11s k=%-2d support %zu:%s\n", Seconds(start),
                                   fold.held_out, k, support.size(), log);
    }
  }
  return tables;
}

// Line protocols (bgl): the line encoder with a support set of labelled training lines and
// calibration on its held-out training lines; session protocols: the session classifier.
absl::StatusOr<ModelRun> RunEncoderOnSplit(const DetectDataset& d, const TrainSetup& setup,
                                           const DetectOptions& o, std::string* log) {
  if (d.unit != "line") return RunSessionEncoder(d, setup, o, log);
  FEDLOG_ASSIGN_OR_RETURN(LineEncoderFit fit, FitLineEncoderChoosingWeight(d, setup.train, o, setup.seed));
  absl::StrAppend(log, fit.log);
  std::vector<size_t> fit_rows;
  std::set<size_t> held_out(fit.validation.begin(), fit.validation.end());
  for (size_t r : setup.train) {
    if (!held_out.count(r)) fit_rows.push_back(r);
  }
  std::vector<int> fit_y;
  for (size_t r : fit_rows) fit_y.push_back(d.y[r]);
  std::vector<size_t> support;
  for (size_t p : SupportSample(fit_y, o.encoder.in_domain_support, setup.seed))
    support.push_back(fit_rows[p]);
  return ScoreLineEncoder(d, fit, support, setup.test, /*calibrate_on_support=*/false, o);
}

absl::StatusOr<std::vector<ResultTable>> RunSplits(const DetectDataset& d, const DetectOptions& o) {
  std::vector<ResultTable> tables = MakeTables(o, {-1});
  const Clock::time_point start = Clock::now();
  for (int r = 0; r < o.repeats; ++r) {
    TrainSetup setup;
    setup.seed = o.seed + static_cast<uint64_t>(r);
    FEDLOG_ASSIGN_OR_RETURN(eval::TrainTestSplit split,
                            eval::StratifiedSplit(d.y, 0.3, setup.seed));
    setup.train = split.train;
    setup.test = split.test;
    std::string log;
    FEDLOG_ASSIGN_OR_RETURN(std::vector<ModelRun> runs, TrainAndScore(d, setup, o, &log));
    if (WantsModel(o, "encoder")) {
      FEDLOG_ASSIGN_OR_RETURN(ModelRun run, RunEncoderOnSplit(d, setup, o, &log));
      runs.push_back(std::move(run));
    }
    FEDLOG_RETURN_IF_ERROR(
        Record(d, absl::StrCat("split seed=", setup.seed), setup.test, runs, -1, &tables, &log));
    std::cerr << absl::StrFormat("[%6.1fs] %s split %d/%d (train %zu, test %zu):%s\n",
                                 Seconds(start), o.protocol, r + 1, o.repeats, split.train.size(),
                                 split.test.size(), log);
  }
  return tables;
}

absl::StatusOr<std::vector<int>> ParseShots(const std::string& text) {
  std::vector<int> shots;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int k = 0;
    if (!absl::SimpleAtoi(part, &k) || k < 0)
      return absl::InvalidArgumentError(absl::StrCat("bad --shots entry '", part, "'"));
    shots.push_back(k);
  }
  if (shots.empty()) return absl::InvalidArgumentError("--shots is empty");
  return shots;
}

absl::StatusOr<std::vector<std::string>> ParseModels(const std::string& text) {
  std::vector<std::string> models;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    if (part != "xgboost" && part != "logreg" && part != "encoder" && part != "encoder-fused" &&
        part != "encoder-jaccard" && part != "encoder-jaccard-dev" &&
        part != "encoder-jaccard-rate" && part != "encoder-jaccard-devcut" && part != "jaccard-1nn" &&
        part != "fewshot") {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad --models entry '", part,
          "' (xgboost|logreg|encoder|encoder-fused|encoder-jaccard[-dev|-rate|-devcut]|jaccard-1nn|fewshot)"));
    }
    models.emplace_back(part);
  }
  if (models.empty()) return absl::InvalidArgumentError("--models is empty");
  return models;
}

absl::Status EncoderOptionsFromArgs(const cli::Args& args, EncoderEvalOptions* e) {
  FEDLOG_ASSIGN_OR_RETURN(int64_t steps,
                          args.GetInt("encoder-contrastive-steps", e->contrastive_steps));
  FEDLOG_ASSIGN_OR_RETURN(int64_t meta, args.GetInt("encoder-meta-iterations", e->meta_iterations));
  FEDLOG_ASSIGN_OR_RETURN(int64_t adapt, args.GetInt("encoder-adapt-steps", e->adapt_steps));
  FEDLOG_ASSIGN_OR_RETURN(int64_t epochs, args.GetInt("encoder-session-epochs", e->session_epochs));
  if (steps < 1 || meta < 1 || adapt < 0 || epochs < 1) {
    return absl::InvalidArgumentError(
        "--encoder-contrastive-steps, --encoder-meta-iterations, --encoder-session-epochs must be "
        ">= 1, --encoder-adapt-steps >= 0");
  }
  const std::string protos = args.Get("encoder-prototypes", "nearest");
  if (protos != "nearest" && protos != "mean") {
    return absl::InvalidArgumentError("--encoder-prototypes must be nearest or mean");
  }
  if (args.Has("encoder-match-quantile")) {
    double q = -1;
    if (!absl::SimpleAtod(args.Get("encoder-match-quantile"), &q) || !(q >= 0 && q <= 1)) {
      return absl::InvalidArgumentError("--encoder-match-quantile must be in [0, 1]");
    }
    e->fused_match_quantile = q;
  }
  if (args.Has("encoder-jaccard-weight")) {
    e->jaccard_weights.clear();
    for (absl::string_view part :
         absl::StrSplit(args.Get("encoder-jaccard-weight"), ',', absl::SkipEmpty())) {
      double w = -1;
      if (!absl::SimpleAtod(part, &w) || !(w >= 0 && w <= 100)) {
        return absl::InvalidArgumentError("--encoder-jaccard-weight entries must be in [0, 100]");
      }
      e->jaccard_weights.push_back(static_cast<float>(w));
    }
    if (e->jaccard_weights.empty())
      return absl::InvalidArgumentError("--encoder-jaccard-weight is empty");
  }
  e->prototypes = protos == "mean" ? model::PrototypeMode::kClassMean
                                   : model::PrototypeMode::kNearestSupport;
  e->contrastive_steps = static_cast<int>(steps);
  e->meta_iterations = static_cast<int>(meta);
  e->adapt_steps = static_cast<int>(adapt);
  e->session_epochs = static_cast<int>(epochs);
  return absl::OkStatus();
}

absl::StatusOr<DetectOptions> OptionsFromArgs(const cli::Args& args) {
  DetectOptions o;
  o.protocol = args.Get("protocol");
  o.out_dir = args.Get("out");
  const char* env = std::getenv("FEDLOG_DATA_DIR");
  o.data_dir = args.Get("data", env != nullptr && *env != '\0' ? env : "../shared/data");
  FEDLOG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 7));
  FEDLOG_ASSIGN_OR_RETURN(int64_t k, args.GetInt("select-k", o.select_k));
  FEDLOG_ASSIGN_OR_RETURN(int64_t repeats, args.GetInt("repeats", o.protocol == "hadoop" ? 5 : 3));
  FEDLOG_ASSIGN_OR_RETURN(int64_t rounds, args.GetInt("rounds", o.xgb_rounds));
  FEDLOG_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", o.threads));
  if (seed < 0 || k < 1 || repeats < 1 || rounds < 1 || threads < 1) {
    return absl::InvalidArgumentError(
        "--seed must be >= 0; --select-k, --repeats, --rounds, --threads >= 1");
  }
  o.seed = static_cast<uint64_t>(seed);
  o.select_k = static_cast<int>(k);
  o.repeats = static_cast<int>(repeats);
  o.xgb_rounds = static_cast<int>(rounds);
  o.threads = static_cast<int>(threads);
  if (args.Has("shots")) {
    FEDLOG_ASSIGN_OR_RETURN(o.shots, ParseShots(args.Get("shots")));
  }
  if (args.Has("models")) {
    FEDLOG_ASSIGN_OR_RETURN(o.models, ParseModels(args.Get("models")));
  }
  FEDLOG_RETURN_IF_ERROR(EncoderOptionsFromArgs(args, &o.encoder));
  if (o.protocol != "loso" && (WantsModel(o, "encoder-fused") || WantsModel(o, "jaccard-1nn") ||
                                WantsHybrid(o) || WantsModel(o, "fewshot"))) {
    return absl::InvalidArgumentError(
        "--models encoder-fused, encoder-jaccard[-dev|-rate|-devcut], jaccard-1nn and fewshot need "
        "--protocol loso");
  }
  return o;
}

}  // namespace

absl::Status RunDetectEvaluation(const DetectOptions& o) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<DetectDataset> data;
  if (o.protocol == "loso") {
    data = LoadLosoDataset(o);
  } else if (o.protocol == "hdfs") {
    data = LoadHdfsDataset(o);
  } else if (o.protocol == "bgl") {
    data = LoadBglDataset(o);
  } else if (o.protocol == "hadoop") {
    data = LoadHadoopDataset(o);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown protocol '", o.protocol, "' (loso|hdfs|bgl|hadoop)"));
  }
  if (!data.ok()) return data.status();
  std::cerr << absl::StrFormat("[%6.1fs] %s: %d %ss x %d features\n", Seconds(start), o.protocol,
                               data->x.rows, data->unit, data->x.cols);
  FEDLOG_ASSIGN_OR_RETURN(std::vector<ResultTable> tables,
                          o.protocol == "loso" ? RunLoso(*data, o) : RunSplits(*data, o));
  FEDLOG_RETURN_IF_ERROR(WriteDetectResults(o, *data, tables, Seconds(start)));
  FEDLOG_ASSIGN_OR_RETURN(std::string md, ReadFile(JoinPath(o.out_dir, "results.md")));
  std::cout << md;
  return absl::OkStatus();
}

int RunEvalDetect(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"protocol", "out", "data", "seed", "select-k", "shots", "repeats", "rounds",
              "threads", "models", "encoder-contrastive-steps", "encoder-meta-iterations",
              "encoder-adapt-steps", "encoder-session-epochs", "encoder-prototypes",
              "encoder-match-quantile", "encoder-jaccard-weight"},
             {}});
  if (!args.ok() || !args->Has("protocol") || !args->Has("out")) {
    std::cerr << (args.ok() ? "--protocol and --out are required" : args.status().ToString())
              << "\n"
              << kUsage;
    return 2;
  }
  absl::StatusOr<DetectOptions> options = OptionsFromArgs(*args);
  if (!options.ok()) {
    std::cerr << options.status() << "\n" << kUsage;
    return 2;
  }
  if (absl::Status s = RunDetectEvaluation(*options); !s.ok()) {
    std::cerr << "eval detect: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace fedlog::offline
