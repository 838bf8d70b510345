// The "product choice" rows of `fedlog eval federated` (eval_federated.h): which detector live
// detection runs for a site's source under detect.detector_choice = auto
// (common/fewshot/detector_choice.h, the same LeaveOneOutVerdicts and ChooseDetector LinePipeline
// runs) and that detector's F1 on the site's test units. The label-free side is `eval newsite`'s:
// ScoreNewsiteStream over the site's own stream and ProductK0Detector (the session detector for
// HDFS blocks, the label-free line detector for BGL lines), with a line site's labels under the
// few-shot rule (common/fewshot) as live detection applies them.
#include <algorithm>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/model/few_shot.h"
#include "common/model/line_scorer.h"
#include "common/model/site_round.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/eval_newsite.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// LiveFewShot's window (client/detect/live_fewshot.h): the recent label-free lines of a source that
// are the leave-one-out comparison's reference.
constexpr size_t kReferenceWindow = 4096;

bool IsSessionSite(const FederatedSite& site) { return !site.stream.session_pattern.empty(); }

// The site's stream as eval newsite reads one. Units: a session site's blocks (0 .. B-1,
// FederatedSite's unit indices) and then every line as a unit of its own (B + line), so one scoring
// gives the block verdicts and each labelled line's few-shot unit; a line site's units are its
// lines. The detector reads no label, so `y` only sizes the units (zeros).
absl::StatusOr<NewsiteStream> StreamOf(const FederatedSite& site, size_t* line_unit_base) {
  const SiteStream& st = site.stream;
  NewsiteStream s;
  s.system = site.name;
  s.format = st.format;
  s.session_pattern = st.session_pattern;
  s.lines = st.lines;
  const bool sessions = IsSessionSite(site);
  s.unit = sessions ? "block" : "line";
  size_t blocks = 0;
  if (sessions) {
    for (int32_t u : st.line_unit)
      blocks = std::max(blocks, static_cast<size_t>(std::max(u, 0)) + 1);
  }
  *line_unit_base = blocks;
  s.units.resize(st.lines.size());
  for (size_t i = 0; i < st.lines.size(); ++i) {
    if (sessions && st.line_unit[i] >= 0) s.units[i].push_back(st.line_unit[i]);
    s.units[i].push_back(static_cast<int32_t>(blocks + i));
  }
  s.y.assign(blocks + st.lines.size(), 0);
  return s;
}

// The test units' labels in SitePart order.
std::vector<int> TestLabels(const FederatedSite& site) {
  if (!site.test.units.empty()) return site.test.unit_labels;
  std::vector<int> y;
  for (int l : site.test.lines.labels) y.push_back(l > 0 ? 1 : 0);
  return y;
}

absl::StatusOr<eval::BinaryMetrics> Metrics(const std::vector<int>& labels,
                                            const std::vector<double>& scores,
                                            const std::vector<int>& alerts) {
  FEDLOG_ASSIGN_OR_RETURN(eval::ConfusionMatrix cm, eval::ComputeConfusion(labels, alerts));
  eval::BinaryMetrics m = eval::MetricsFromConfusion(cm);
  const bool both = std::count(labels.begin(), labels.end(), 1) > 0 &&
                    std::count(labels.begin(), labels.end(), 0) > 0;
  if (both) {
    FEDLOG_ASSIGN_OR_RETURN(m.auroc, eval::Auroc(labels, scores));
    FEDLOG_ASSIGN_OR_RETURN(m.pr_auc, eval::AveragePrecision(labels, scores));
    m.ranking_defined = true;
  }
  return m;
}

}  // namespace

absl::StatusOr<SiteLabelFree> LabelFreeSide(const FederatedSite& site) {
  const SiteStream& st = site.stream;
  if (st.lines.empty())
    return absl::FailedPreconditionError(site.name + ": no stream for the label-free detector");
  if (st.line_unit.size() != st.lines.size() ||
      st.train_rows.size() != static_cast<size_t>(site.train.size())) {
    return absl::InvalidArgumentError(site.name + ": the stream is not indexed (SplitSite)");
  }
  const std::vector<int> test_y = TestLabels(site);
  if (st.test_units.size() != test_y.size()) {
    return absl::InvalidArgumentError(site.name +
                                      ": the stream's test units do not match the test part");
  }
  size_t base = 0;
  FEDLOG_ASSIGN_OR_RETURN(const NewsiteStream stream, StreamOf(site, &base));
  NewsiteOptions options;  // the product's k = 0 detector, as eval newsite's defaults
  FEDLOG_ASSIGN_OR_RETURN(const ScoredStream scored, ScoreNewsiteStream(stream, options));
  SiteLabelFree lf;
  // The site's labels: its labelled training lines, each the few-shot unit of its line in the
  // stream.
  for (size_t i = 0; i < st.train_rows.size(); ++i) {
    const int y = site.train.labels[i];
    if (y < 0) continue;
    lf.labelled.push_back(scored.units[base + static_cast<size_t>(st.train_rows[i])]);
    lf.labels.push_back(y > 0 ? 1 : 0);
    lf.train_lines.push_back(static_cast<int64_t>(i));
  }
  const size_t n = st.lines.size(), from = n > kReferenceWindow ? n - kReferenceWindow : 0;
  std::vector<size_t> window;
  for (size_t i = from; i < n; ++i) window.push_back(base + i);
  fewshot::FreeReference reference = fewshot::ReferenceOf(scored.units, window);
  lf.reference = std::move(reference.sorted);
  lf.operating_point = reference.operating_point;
  // The test units' verdicts: a session site's k = 0 detector (session verdicts need session
  // labels, which the simulation's sites do not give); a line site's few-shot rule on its labels,
  // as live detection runs the label-free detector with them (LiveFewShot: the same Fit, the window
  // as the reference).
  const PriorBase k0 = ProductK0Detector(stream, scored);
  std::optional<fewshot::FewShotDetector> rule;
  if (!IsSessionSite(site) && !lf.labelled.empty()) {
    FEDLOG_ASSIGN_OR_RETURN(
        rule, fewshot::FewShotDetector::Fit(lf.labelled, lf.labels, fewshot::FewShotOptions{},
                                            lf.operating_point, lf.reference));
    lf.with_labels = true;
  }
  std::vector<double> scores;
  std::vector<int> alerts;
  for (size_t u : st.test_units) {
    if (u >= base && IsSessionSite(site))
      return absl::InternalError(site.name + ": a test unit is not a block");
    scores.push_back(rule ? rule->DecisionScore(scored.units[u]) : k0.score[u]);
    alerts.push_back(rule ? (rule->Alert(scored.units[u]) ? 1 : 0) : k0.alert[u]);
  }
  SiteEvaluation& e = lf.evaluation;
  e.model = "label_free";
  e.site = site.name;
  e.held_out = !site.labeled;
  e.units = static_cast<int64_t>(test_y.size());
  e.anomalous_units = std::count(test_y.begin(), test_y.end(), 1);
  FEDLOG_ASSIGN_OR_RETURN(e.metrics, Metrics(test_y, scores, alerts));
  return lf;
}

absl::StatusOr<SiteEvaluation> ChooseSiteDetector(const SiteLabelFree& lf,
                                                  const std::vector<float>& embeddings, size_t dim,
                                                  const SiteEvaluation* model_row,
                                                  const std::string& name,
                                                  const fewshot::ChoiceOptions& options,
                                                  std::string* reason) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  if (model_row != nullptr && embeddings.size() != lf.labelled.size() * dim) {
    return absl::InvalidArgumentError(absl::StrCat("choice: ", embeddings.size(),
                                                   " embedding values for ", lf.labelled.size(),
                                                   " labelled lines of width ", dim));
  }
  std::vector<fewshot::LooVerdict> verdicts;
  if (model_row != nullptr && !lf.labelled.empty()) {
    std::vector<fewshot::Unit> units = lf.labelled;
    for (size_t i = 0; i < units.size(); ++i) {
      units[i].embedding.assign(embeddings.begin() + static_cast<std::ptrdiff_t>(i * dim),
                                embeddings.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
    }
    FEDLOG_ASSIGN_OR_RETURN(
        verdicts, fewshot::LeaveOneOutVerdicts(units, lf.labels, fewshot::FewShotOptions{},
                                               lf.operating_point, lf.reference, options.compare));
  }
  const fewshot::Choice c = fewshot::ChooseDetector(options, model_row != nullptr, true, verdicts);
  if (reason != nullptr) *reason = c.reason;
  SiteEvaluation e = c.model ? *model_row : lf.evaluation;
  e.model = name;
  return e;
}

absl::StatusOr<SiteEvaluation> ChoiceRow(const model::EncoderSpec& base,
                                         const fl::TensorBundle& weights, const FederatedSite& site,
                                         const SiteLabelFree& lf, const SiteEvaluation* model_row,
                                         const std::string& name, const fewshot::ChoiceOptions& options,
                                         std::string* reason) {
  std::vector<float> embeddings;
  size_t dim = 0;
  if (model_row != nullptr && !lf.train_lines.empty()) {
    // As live detection embeds a labelled line (LinePipeline: model::LineScorer::Embed): the site's
    // own tensors (the shared ones and its sources' adapters) in the torch-free forward.
    const model::EncoderSpec spec = model::SiteSpec(base, site.sources);
    model::FewShotModel shell;
    FEDLOG_ASSIGN_OR_RETURN(shell.weights, model::PrepareSiteWeights(base, weights, site.sources));
    shell.prototypes = DenseMatrix(2, spec.out_dim);  // unused: only Embed is called
    FEDLOG_ASSIGN_OR_RETURN(model::LineScorer scorer, model::LineScorer::Create(spec, shell));
    dim = static_cast<size_t>(spec.out_dim);
    const model::LineSet& lines = site.train;
    const size_t cols = static_cast<size_t>(lines.dense.cols);
    embeddings.resize(lf.train_lines.size() * dim);
    for (size_t i = 0; i < lf.train_lines.size(); ++i) {
      const int64_t row = lf.train_lines[i];
      const size_t r = static_cast<size_t>(row);
      scorer.Embed(lines.tokens[r], absl::Span<const float>(lines.dense.Row(row), cols),
                   lines.sources.empty() ? std::string() : lines.sources[r],
                   embeddings.data() + i * dim);
    }
  }
  return ChooseSiteDetector(lf, embeddings, dim, model_row, name, options, reason);
}

}  // namespace fedlog::offline
