#include "common/model/episodes.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fedlog::model {

absl::StatusOr<EpisodeSampler> EpisodeSampler::Create(
    const LineSet& lines, const std::map<std::string, double>& imbalance,
    const EpisodeOptions& episode, const CurriculumOptions& curriculum, uint64_t seed) {
  if (episode.n_way < 2 || episode.k_minority < 1 || episode.k_majority < 1 ||
      episode.n_query < 1) {
    return absl::InvalidArgumentError("episodes need n_way >= 2 and positive support/query sizes");
  }
  if (static_cast<int64_t>(lines.labels.size()) != lines.size()) {
    return absl::InvalidArgumentError("meta-learning needs a label per line");
  }
  std::map<std::string, std::map<int, std::vector<int64_t>>> by_source;
  for (int64_t i = 0; i < lines.size(); ++i) {
    const std::string source = lines.sources.empty() ? "" : lines.sources[i];
    by_source[source][lines.labels[i]].push_back(i);
  }
  std::vector<Task> tasks;
  for (auto& [source, classes] : by_source) {
    Task task;
    task.source = source;
    double normal = 0, anomalous = 0;
    for (auto& [label, rows] : classes) {
      (label == 0 ? normal : anomalous) += static_cast<double>(rows.size());
      // A class needs one support and one query line at least, else its queries would be its
      // support.
      if (rows.size() >= 2) task.rows_by_class[label] = std::move(rows);
    }
    if (task.rows_by_class.size() < 2) continue;
    auto it = imbalance.find(source);
    task.ratio = it != imbalance.end() ? it->second : normal / std::max(anomalous, 1.0);
    tasks.push_back(std::move(task));
  }
  if (tasks.empty()) {
    return absl::FailedPreconditionError(
        "no source has two classes with at least two labeled lines each");
  }
  return EpisodeSampler(std::move(tasks), episode, curriculum, seed);
}

EpisodeSampler::EpisodeSampler(std::vector<Task> tasks, EpisodeOptions episode,
                               CurriculumOptions curriculum, uint64_t seed)
    : tasks_(std::move(tasks)), episode_(episode), curriculum_(curriculum), rng_(seed) {}

int EpisodeSampler::Phase(int iteration, int total) const {
  const double f = total > 0 ? static_cast<double>(iteration) / total : 0.0;
  if (f < curriculum_.phase0_fraction) return 0;
  if (f < curriculum_.phase0_fraction + curriculum_.phase1_fraction) return 1;
  return 2;
}

std::vector<size_t> EpisodeSampler::EligibleTasks(int phase) const {
  const double limit = phase == 0   ? curriculum_.balanced_max_ratio
                       : phase == 1 ? curriculum_.moderate_max_ratio
                                    : std::numeric_limits<double>::infinity();
  std::vector<size_t> out;
  double least = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (tasks_[i].ratio <= limit) out.push_back(i);
    least = std::min(least, tasks_[i].ratio);
  }
  if (out.empty()) {
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (tasks_[i].ratio == least) out.push_back(i);
    }
  }
  return out;
}

std::vector<std::string> EpisodeSampler::Eligible(int phase) const {
  std::vector<std::string> out;
  for (size_t i : EligibleTasks(phase)) out.push_back(tasks_[i].source);
  return out;
}

Episode EpisodeSampler::Sample(int phase) {
  std::vector<size_t> eligible = EligibleTasks(phase);
  const Task& task =
      tasks_[eligible[std::uniform_int_distribution<size_t>(0, eligible.size() - 1)(rng_)]];
  Episode ep;
  ep.source = task.source;
  std::vector<int> anomalies;
  for (const auto& [label, rows] : task.rows_by_class) {
    if (label == 0)
      ep.classes.push_back(0);
    else
      anomalies.push_back(label);
  }
  std::shuffle(anomalies.begin(), anomalies.end(), rng_);
  for (int label : anomalies) {
    if (static_cast<int>(ep.classes.size()) >= episode_.n_way) break;
    ep.classes.push_back(label);
  }
  for (size_t c = 0; c < ep.classes.size(); ++c) {
    std::vector<int64_t> pool = task.rows_by_class.at(ep.classes[c]);
    std::shuffle(pool.begin(), pool.end(), rng_);
    const int64_t want = ep.classes[c] == 0 ? episode_.k_majority : episode_.k_minority;
    // Small classes: keep at least one line for the query side.
    const int64_t k = std::min<int64_t>(want, static_cast<int64_t>(pool.size()) - 1);
    const int64_t q = std::min<int64_t>(episode_.n_query, static_cast<int64_t>(pool.size()) - k);
    for (int64_t i = 0; i < k; ++i) {
      ep.support.push_back(pool[i]);
      ep.support_labels.push_back(static_cast<int64_t>(c));
    }
    for (int64_t i = k; i < k + q; ++i) {
      ep.query.push_back(pool[i]);
      ep.query_labels.push_back(static_cast<int64_t>(c));
    }
  }
  return ep;
}

}  // namespace fedlog::model
