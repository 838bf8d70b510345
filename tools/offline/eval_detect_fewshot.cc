// `fedlog eval detect --protocol loso --models fewshot`, k > 0: the new site's few-shot line detector
// (common/fewshot, as `eval newsite` and live detection run it) on the seed-labelled LOSO protocol.
// The held-out source is scored label-free first, in log order, as a new site would see it
// (ScoreNewsiteStream: Drain online, common/novelty at the default budget); then the k labelled
// target lines decide the lines within `match` of them and the label-free decision, made stricter
// by the threshold the labels raise, decides the rest. No training source is used: the few-shot detector needs none.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/fewshot/fewshot.h"
#include "common/labels/seed_labeled.h"
#include "tools/offline/eval_detect.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {

absl::StatusOr<LosoLabelFree> ScoreLosoLabelFree(const DetectDataset& d, const std::string& source,
                                                 const DetectOptions& o) {
  LosoLabelFree out;
  out.source = source;
  const auto first = std::find(d.group.begin(), d.group.end(), source);
  if (first == d.group.end()) {
    return absl::InvalidArgumentError(absl::StrCat("eval detect: no rows of source ", source));
  }
  out.first_row = static_cast<size_t>(first - d.group.begin());
  std::string raw;
  std::vector<std::string_view> views;
  std::vector<labels::SeedLabeledLine> rows;
  FEDLOG_RETURN_IF_ERROR(ReadSeedLabeledSource(o.data_dir, source, &raw, &views, &rows));
  NewsiteStream stream;
  stream.system = source;
  stream.unit = "line";
  stream.format = source;  // the built-in format of the same name (LoadLosoDataset's parser)
  for (size_t i = 0; i < views.size(); ++i) {
    stream.lines.emplace_back(views[i]);
    stream.units.push_back({static_cast<int32_t>(i)});
    stream.y.push_back(0);  // the label-free detector never sees a label
  }
  const size_t last = out.first_row + stream.lines.size();
  if (last > d.group.size() || d.group[last - 1] != source ||
      (last < d.group.size() && d.group[last] == source)) {
    return absl::FailedPreconditionError(
        absl::StrCat("eval detect: ", source, "'s rows are not its log lines in order"));
  }
  NewsiteOptions no;
  FEDLOG_ASSIGN_OR_RETURN(ScoredStream sc, ScoreNewsiteStream(stream, no));
  out.units = std::move(sc.units);
  // The label-free operating point on Unit::free_score: the score at the source's own alert-rate
  // quantile (fewshot::OperatingPoint), as eval newsite's k > 0 protocol uses it.
  double alerted = 0;
  for (const fewshot::Unit& u : out.units) {
    out.reference.push_back(u.free_score);
    alerted += u.free_alert ? 1 : 0;
  }
  std::vector<double> sorted = out.reference;
  for (double& v : sorted) v = std::clamp(v, 0.0, 1.0);
  std::sort(sorted.begin(), sorted.end());
  out.free_threshold = sorted.empty() ? 1.0 : fewshot::OperatingPoint(
      sorted, alerted / static_cast<double>(sorted.size()));
  return out;
}

absl::StatusOr<ModelRun> ScoreFewShotLoso(const LosoLabelFree& source, const DetectDataset& d,
                                          const std::vector<size_t>& support,
                                          const std::vector<size_t>& test) {
  auto unit = [&](size_t row) -> absl::StatusOr<const fewshot::Unit*> {
    if (row < source.first_row || row - source.first_row >= source.units.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("eval detect: row ", row, " is not a line of ", source.source));
    }
    return &source.units[row - source.first_row];
  };
  std::vector<fewshot::Unit> units;
  std::vector<int> y;
  for (size_t r : support) {
    FEDLOG_ASSIGN_OR_RETURN(const fewshot::Unit* u, unit(r));
    units.push_back(*u);
    y.push_back(d.y[r]);
  }
  FEDLOG_ASSIGN_OR_RETURN(fewshot::FewShotDetector det,
                          fewshot::FewShotDetector::Fit(units, y, fewshot::FewShotOptions{},
                                                        source.free_threshold, source.reference));
  ModelRun run;
  run.model = "fewshot";
  for (size_t r : test) {
    FEDLOG_ASSIGN_OR_RETURN(const fewshot::Unit* u, unit(r));
    run.scores.push_back(det.DecisionScore(*u));
  }
  run.threshold = det.threshold();  // DecisionScore >= threshold exactly when FewShotDetector::Alert
  run.validation_f1 = -1;
  return run;
}

}  // namespace fedlog::offline
