// `fedlog eval newsite --federated` (eval_newsite_federated.h): the new site's three encoders
// (federated, tuned, alone) scored with the same procedure on eval newsite's k > 0 split and label
// draws. Report: eval_newsite_federated_report.cc.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "common/base/status_macros.h"
#include "common/eval/threshold.h"
#include "common/model/line_scorer.h"
#include "common/model/site_round.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// The new site's stream through its own parser, Drain and featurizer (FeaturizeSiteLines), and its
// unlabelled training lines: those before the split's cut (what the site has seen before the test
// part), a seeded sample of at most max_train_lines.
absl::StatusOr<NewsiteLines> FeaturizeNewSite(const NewsiteStream& s, const std::string& source,
                                              const NewsiteOptions& o) {
  NewsiteLines out;
  const std::vector<std::string_view> views(s.lines.begin(), s.lines.end());
  FEDLOG_ASSIGN_OR_RETURN(out.lines, FeaturizeSiteLines(s.format, source, views, {}, &out.templates));
  out.unit_lines.resize(s.y.size());
  for (size_t i = 0; i < s.units.size(); ++i) {
    for (int32_t u : s.units[i]) out.unit_lines[static_cast<size_t>(u)].push_back(static_cast<int64_t>(i));
  }
  const int64_t cut = static_cast<int64_t>(o.label_part * static_cast<double>(s.lines.size()));
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < cut; ++i) rows.push_back(i);
  std::mt19937_64 rng(o.seed);  // evaluation sampling only, seeded for reproducibility
  std::shuffle(rows.begin(), rows.end(), rng);
  out.memory.assign(rows.begin(), rows.begin() + std::min<int64_t>(cut, o.federated.novelty_memory));
  if (rows.size() > static_cast<size_t>(o.federated.max_train_lines)) {
    rows.resize(static_cast<size_t>(o.federated.max_train_lines));
  }
  std::sort(rows.begin(), rows.end());
  out.own = model::SelectLines(out.lines, rows);
  out.own.labels.assign(static_cast<size_t>(out.own.size()), -1);
  return out;
}

// Per unit, the maximum of its lines' values (0 without lines).
std::vector<double> UnitMax(const NewsiteLines& site, const std::vector<double>& line_values) {
  std::vector<double> out(site.unit_lines.size(), 0.0);
  for (size_t u = 0; u < site.unit_lines.size(); ++u) {
    for (int64_t r : site.unit_lines[u]) out[u] = std::max(out[u], line_values[static_cast<size_t>(r)]);
  }
  return out;
}

// Every line's unit-norm embedding ([lines][out_dim]) with the torch-free LineScorer. Only Embed
// is used, so the prototypes Create requires are placeholders of the right shape.
absl::StatusOr<std::vector<float>> EmbedLines(const model::EncoderSpec& spec,
                                              const fl::TensorBundle& weights,
                                              const model::LineSet& lines) {
  FEDLOG_RETURN_IF_ERROR(model::ValidateLineSet(spec, lines));
  model::FewShotModel shell;
  shell.weights = weights;
  shell.prototypes = DenseMatrix(2, spec.out_dim);
  FEDLOG_ASSIGN_OR_RETURN(model::LineScorer scorer, model::LineScorer::Create(spec, shell));
  const size_t d = static_cast<size_t>(spec.out_dim);
  const size_t cols = static_cast<size_t>(lines.dense.cols);
  std::vector<float> out(static_cast<size_t>(lines.size()) * d);
  for (int64_t i = 0; i < lines.size(); ++i) {
    const size_t r = static_cast<size_t>(i);
    scorer.Embed(lines.tokens[r], absl::Span<const float>(lines.dense.Row(i), cols),
                 lines.sources.empty() ? std::string() : lines.sources[r], out.data() + r * d);
  }
  return out;
}

// 1 - the largest cosine similarity of each line's embedding to the memory lines' (unit vectors), a
// memory line skipping itself.
std::vector<double> EmbeddingNovelty(const std::vector<float>& z, size_t d, const NewsiteLines& site) {
  const size_t m_count = site.memory.size(), n = z.size() / d;
  std::vector<float> memory_t(d * m_count);  // [d][memory]: the inner loop runs over memory lines
  for (size_t m = 0; m < m_count; ++m) {
    const float* v = z.data() + static_cast<size_t>(site.memory[m]) * d;
    for (size_t j = 0; j < d; ++j) memory_t[j * m_count + m] = v[j];
  }
  absl::flat_hash_map<int64_t, size_t> slot;
  for (size_t m = 0; m < m_count; ++m) slot[site.memory[m]] = m;
  std::vector<double> out(n, 0.0);
  std::vector<float> dots(m_count);
  for (size_t i = 0; i < n; ++i) {
    std::fill(dots.begin(), dots.end(), 0.0f);
    const float* zi = z.data() + i * d;
    for (size_t j = 0; j < d; ++j) {
      const float x = zi[j];
      const float* row = memory_t.data() + j * m_count;
      for (size_t m = 0; m < m_count; ++m) dots[m] += x * row[m];
    }
    auto it = slot.find(static_cast<int64_t>(i));
    if (it != slot.end()) dots[it->second] = -1.0f;
    float best = -1.0f;
    for (float v : dots) best = std::max(best, v);
    out[i] = 1.0 - static_cast<double>(best);
  }
  return out;
}

// Calibrated P(anomalous) of every line under `detector`, from the lines' embeddings under the
// same encoder (the detector's inner_steps are 0, so its weights are the model's).
absl::StatusOr<std::vector<double>> DetectorScores(const model::EncoderSpec& spec,
                                                   const model::FewShotModel& detector,
                                                   const std::vector<float>& z) {
  FEDLOG_ASSIGN_OR_RETURN(model::LineScorer scorer, model::LineScorer::Create(spec, detector));
  const size_t d = static_cast<size_t>(spec.out_dim);
  std::vector<double> out(z.size() / d);
  for (size_t i = 0; i < out.size(); ++i) out[i] = scorer.ScoreEmbedding(z.data() + i * d);
  return out;
}

// How the site builds its detector, as eval federated's sites do (SiteAdapt there): nearest-support
// prototypes with leave-one-out calibration for lines, class means for sessions.
model::AdaptOptions NewSiteAdapt(const NewsiteStream& s, const NewsiteOptions& o) {
  model::AdaptOptions adapt;
  const bool lines = s.unit == "line";
  adapt.calibrate = lines;
  adapt.prototypes = lines ? model::PrototypeMode::kNearestSupport : model::PrototypeMode::kClassMean;
  adapt.runtime.threads = o.federated.threads;
  adapt.runtime.seed = o.seed;
  return adapt;
}

}  // namespace

absl::StatusOr<ArmModel> ScoreArmModelAtK0(const std::string& name, const model::EncoderSpec& spec,
                                                 const fl::TensorBundle& weights, const NewsiteStream& s,
                                                 const NewsiteLines& site, const NewsiteOptions& o) {
  ArmModel m;
  m.name = name;
  m.weights = &weights;
  FEDLOG_ASSIGN_OR_RETURN(m.embeddings, EmbedLines(spec, weights, site.lines));
  m.k0.emplace_back("embedding novelty",
                    UnitMax(site, EmbeddingNovelty(m.embeddings, static_cast<size_t>(spec.out_dim), site)));
  // The global prototypes, when the model carries them (the federation's labelled sites).
  absl::StatusOr<model::FewShotModel> global =
      model::BuildSiteDetector(spec, weights, model::LineSet{}, model::LineSet{}, NewSiteAdapt(s, o));
  if (global.ok()) {
    FEDLOG_ASSIGN_OR_RETURN(std::vector<double> p, DetectorScores(spec, *global, m.embeddings));
    m.k0.emplace_back("global prototypes", UnitMax(site, p));
    m.global_threshold = global->threshold;
  }
  return m;
}

void SupportLineRows(const NewsiteLines& site, const std::vector<size_t>& labelled, const std::vector<int>& y,
                     std::vector<int64_t>* rows, std::vector<int>* labels) {
  // Every line of a labelled unit. A session's lines are anomalous when the session is and their
  // template occurs in no labelled normal session (eval federated's rule for block labels).
  std::set<int32_t> normal_templates;
  for (size_t j = 0; j < labelled.size(); ++j) {
    if (y[j] != 0) continue;
    for (int64_t r : site.unit_lines[labelled[j]]) normal_templates.insert(site.templates[static_cast<size_t>(r)]);
  }
  for (size_t j = 0; j < labelled.size(); ++j) {
    for (int64_t r : site.unit_lines[labelled[j]]) {
      rows->push_back(r);
      labels->push_back(y[j] != 0 && !normal_templates.count(site.templates[static_cast<size_t>(r)]) ? 1 : 0);
    }
  }
}

absl::StatusOr<std::vector<double>> SupportDetectorScores(const ArmModel& m,
                                                          const model::EncoderSpec& spec,
                                                          const NewsiteStream& s, const NewsiteLines& site,
                                                          const std::vector<size_t>& labelled,
                                                          const std::vector<int>& y,
                                                          const NewsiteOptions& o, double* threshold) {
  std::vector<int64_t> rows;
  std::vector<int> labels;
  SupportLineRows(site, labelled, y, &rows, &labels);
  model::LineSet support = model::SelectLines(site.lines, rows);
  support.labels = labels;
  FEDLOG_ASSIGN_OR_RETURN(model::FewShotModel det,
                          model::BuildSiteDetector(spec, *m.weights, support, model::LineSet{}, NewSiteAdapt(s, o)));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> lines, DetectorScores(spec, det, m.embeddings));
  std::vector<double> units = UnitMax(site, lines);
  *threshold = det.threshold;
  if (s.unit != "line" && model::HasBothClasses(y)) {
    // Sessions: the line threshold does not apply to session maxima; the F1-best cut on the
    // labelled sessions' maxima instead (with one class labelled, the detector's own threshold).
    std::vector<double> ls;
    for (size_t u : labelled) ls.push_back(units[u]);
    FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice t, eval::SelectThresholdMaxF1(y, ls));
    *threshold = t.threshold;
  }
  return units;
}

absl::StatusOr<NewsiteArmResult> RunNewsiteFederatedArm(const std::vector<FederatedSite>& sites,
                                                        const NewsiteStream& stream,
                                                        const ScoredStream& scored,
                                                        const NewsiteOptions& o,
                                                        const std::vector<std::string>& notes) {
  const auto t0 = std::chrono::steady_clock::now();
  FEDLOG_ASSIGN_OR_RETURN(const std::string source, NewsiteSourceType(stream.system));
  FEDLOG_ASSIGN_OR_RETURN(NewsiteLines site, FeaturizeNewSite(stream, source, o));
  FEDLOG_ASSIGN_OR_RETURN(NewsiteEncoders enc, TrainNewsiteEncoders(sites, source, site.own, o));
  const std::vector<NamedEncoder> encoders = {
      {"federated", &enc.federated}, {"tuned", &enc.tuned}, {"alone", &enc.alone}};
  FEDLOG_ASSIGN_OR_RETURN(FederatedArmRows rows, EvaluateArm(stream, scored, site, enc.spec, encoders, o));
  rows.notes.insert(rows.notes.begin(), enc.notes.begin(), enc.notes.end());
  rows.notes.insert(rows.notes.begin(), notes.begin(), notes.end());
  rows.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ArmReport(stream, rows);
}

absl::StatusOr<NewsiteArmResult> FederatedNewsiteArm(const NewsiteStream& stream,
                                                     const ScoredStream& scored,
                                                     const NewsiteOptions& o) {
  std::vector<std::string> notes;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<FederatedSite> sites, LoadNewsiteFederation(stream.system, o, &notes));
  std::cerr << "[newsite " << stream.system << "] federation of " << sites.size() << " sites\n";
  return RunNewsiteFederatedArm(sites, stream, scored, o, notes);
}

}  // namespace fedlog::offline
