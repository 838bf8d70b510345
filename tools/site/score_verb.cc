// `fedlog score`: a site's detection quality on its own labeled lines. It scores the lines with a model bundle
// (normally the promoted federated model the site daemon fetched), and optionally with a local-only model
// trained from the same initial weights on the same lines, so a site can see what federation gave it.
// The threshold is chosen by max F1 on a seeded half of the lines and reported on the other half.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/local_data.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/threshold.h"
#include "common/features/line_featurizer.h"
#include "common/fl/bundle_codec.h"
#include "common/labels/csv.h"
#include "common/model/local_trainer.h"
#include "fedlog/v1/model.pb.h"
#include "tools/cli/args.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
namespace {

struct Labeled {
  std::vector<std::string> lines;
  std::vector<int> labels;
};

// Lines of `log` that have a label in `labels_path` (CSV with a line-number column "LineId" or "line" and a label
// column "AnomalyLabel" or "label"; label > 0 means anomalous).
absl::StatusOr<Labeled> ReadLabeled(const std::string& log, const std::string& labels_path, int max_lines) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(log));
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  FEDLOG_ASSIGN_OR_RETURN(std::string csv_text, ReadFile(labels_path));
  FEDLOG_ASSIGN_OR_RETURN(labels::CsvTable csv, labels::ParseCsv(csv_text));
  absl::StatusOr<size_t> id_col = csv.Column("LineId");
  if (!id_col.ok()) id_col = csv.Column("line");
  absl::StatusOr<size_t> label_col = csv.Column("AnomalyLabel");
  if (!label_col.ok()) label_col = csv.Column("label");
  if (!id_col.ok() || !label_col.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": needs LineId/line and AnomalyLabel/label columns"));
  }
  Labeled out;
  for (const auto& row : csv.rows) {
    int64_t id;
    int label;
    if (!absl::SimpleAtoi(row.fields[*id_col], &id) || !absl::SimpleAtoi(row.fields[*label_col], &label)) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ":", row.line, ": bad line id or label"));
    }
    if (id < 1 || id > static_cast<int64_t>(lines.size()) || lines[id - 1].empty()) continue;
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
absl::StatusOr<Row> Evaluate(const std::string& name, const std::vector<float>& scores, const std::vector<int>& labels,
                             const std::vector<size_t>& order) {
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

int Score(const std::vector<std::string>& argv) {
  auto args = Args::Parse(
      argv, {{"model", "manifest", "log", "labels", "format", "local-epochs", "seed", "max-lines", "site"}, {}});
  auto fail = [](const absl::Status& st) {
    std::fprintf(stderr, "fedlog score: %s\n", std::string(st.message()).c_str());
    return 1;
  };
  if (!args.ok()) return fail(args.status()), 2;
  for (const char* required : {"model", "manifest", "log", "labels", "format"}) {
    if (!args->Has(required)) return fail(absl::InvalidArgumentError(absl::StrCat("--", required, " is required"))), 2;
  }
  auto epochs = args->GetInt("local-epochs", 0);
  auto seed = args->GetInt("seed", 1);
  auto max_lines = args->GetInt("max-lines", 0);
  if (!epochs.ok() || !seed.ok() || !max_lines.ok()) return fail(absl::InvalidArgumentError("bad number")), 2;

  auto manifest_bytes = ReadFile(args->Get("manifest"));
  v1::ModelManifest manifest;
  if (!manifest_bytes.ok()) return fail(manifest_bytes.status());
  if (!manifest.ParseFromString(*manifest_bytes)) return fail(absl::InvalidArgumentError("manifest does not parse"));
  auto bundle_bytes = ReadFile(args->Get("model"));
  if (!bundle_bytes.ok()) return fail(bundle_bytes.status());
  auto weights = fl::DecodeBundle(*bundle_bytes);
  if (!weights.ok()) return fail(weights.status());
  model::MlpSpec spec;
  spec.input_dim = manifest.spec().input_dim();
  spec.hidden.assign(manifest.spec().hidden().begin(), manifest.spec().hidden().end());
  spec.init_seed = manifest.spec().init_seed();

  auto data = ReadLabeled(args->Get("log"), args->Get("labels"), static_cast<int>(*max_lines));
  if (!data.ok()) return fail(data.status());
  features::LineFeaturizerOptions fo;
  fo.hash_dim = std::max(1, spec.input_dim - features::LineFeaturizer::kDenseDims);
  // The same parsing and featurization as the site daemon's training (client/local_data.h).
  auto parsed = client::ParseSourceLines(args->Get("site", "site"), args->Get("format"), data->lines);
  if (!parsed.ok()) return fail(parsed.status());
  DenseMatrix x = features::LineFeaturizer(fo).FeaturizeAll(parsed->contents);
  std::vector<size_t> order(data->lines.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(static_cast<uint64_t>(*seed)));

  std::vector<Row> rows;
  auto fed = model::Score(spec, *weights, x);
  if (!fed.ok()) return fail(fed.status());
  auto fed_row = Evaluate(absl::StrCat("federated v", manifest.version()), *fed, data->labels, order);
  if (!fed_row.ok()) return fail(fed_row.status());
  rows.push_back(*fed_row);
  if (*epochs > 0) {
    auto init = model::InitialWeights(spec);
    if (!init.ok()) return fail(init.status());
    model::TrainOptions to;
    to.epochs = static_cast<int>(*epochs);
    to.seed = static_cast<uint64_t>(*seed);
    to.device = "cpu";
    auto local = model::Train(spec, *init, x, to);
    if (!local.ok()) return fail(local.status());
    auto local_scores = model::Score(spec, local->weights, x);
    if (!local_scores.ok()) return fail(local_scores.status());
    auto local_row = Evaluate(absl::StrCat("local-only (", *epochs, " ep)"), *local_scores, data->labels, order);
    if (!local_row.ok()) return fail(local_row.status());
    rows.push_back(*local_row);
  }
  const int anomalies = std::accumulate(data->labels.begin(), data->labels.end(), 0);
  for (const Row& r : rows) {
    std::printf("%-14s %-22s %6zu %9d %7.3f %7.3f %6.3f %6.3f %6.3f %7lld\n", args->Get("site", "-").c_str(),
                r.model.c_str(), data->lines.size(), anomalies, r.metrics.auroc, r.metrics.pr_auc, r.metrics.precision,
                r.metrics.recall, r.metrics.f1, static_cast<long long>(r.metrics.confusion.tp + r.metrics.confusion.fp));
  }
  return 0;
}

}  // namespace

void AddSiteVerbs(std::vector<Verb>* verbs) {
  verbs->push_back({"score",
                    "score --model BUNDLE --manifest MANIFEST --log FILE --format NAME --labels CSV [--local-epochs E] "
                    "[--seed S] [--max-lines N] [--site NAME]",
                    "detection quality of a model on a site's labeled lines (AUROC, PR-AUC, F1 on a held-out half), "
                    "optionally against a local-only model; prints one row per model",
                    Score});
}

}  // namespace fedlog::cli
