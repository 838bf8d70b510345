// Episodic task sampling for meta-learning: N-way tasks drawn per source, with an imbalance
// curriculum. Torch-free (indices only). Thread-compatible: a sampler owns its RNG; use one per
// thread.
//
// A task is one source's lines; its classes are the labels present there (0 normal, >= 1 anomaly
// types). An episode takes the normal class (when present) plus N-1 anomaly types, k_majority
// support lines for the normal class, k_minority for each anomaly type, and n_query query lines per
// class, without overlap. Curriculum: phase 0 draws only sources with imbalance ratio <=
// balanced_max_ratio, phase 1 those
// <= moderate_max_ratio, phase 2 every source (phases are cumulative so earlier sources are not
// forgotten). A phase with no eligible source falls back to the least imbalanced ones.
#ifndef FEDLOG_COMMON_MODEL_EPISODES_H_
#define FEDLOG_COMMON_MODEL_EPISODES_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/encoder_types.h"

namespace fedlog::model {

struct EpisodeOptions {
  int n_way = 2;        // classes per episode (normal + n_way-1 anomaly types)
  int k_minority = 5;   // support lines per anomaly class
  int k_majority = 10;  // support lines for the normal class
  int n_query = 15;     // query lines per class (fewer when a class is small)
};

struct CurriculumOptions {
  double balanced_max_ratio = 10.0;   // normal:anomalous ratio of a "balanced" source
  double moderate_max_ratio = 100.0;  // ... of a "moderately imbalanced" one
  double phase0_fraction = 1.0 / 3;   // share of meta-iterations in phase 0
  double phase1_fraction = 1.0 / 3;   // share in phase 1; the rest is phase 2
};

struct Episode {
  std::string source;
  std::vector<int> classes;             // original labels; episode class c is classes[c]
  std::vector<int64_t> support, query;  // rows of the LineSet
  std::vector<int64_t> support_labels, query_labels;  // episode classes in [0, classes.size())
};

class EpisodeSampler {
 public:
  // `lines` must carry labels; `imbalance` maps source -> normal:anomalous ratio (missing sources
  // are measured from the labels). FailedPrecondition when no source has two classes with >= 2
  // lines each.
  static absl::StatusOr<EpisodeSampler> Create(const LineSet& lines,
                                               const std::map<std::string, double>& imbalance,
                                               const EpisodeOptions& episode,
                                               const CurriculumOptions& curriculum, uint64_t seed);

  // Curriculum phase (0, 1, 2) of meta-iteration `iteration` out of `total`.
  int Phase(int iteration, int total) const;
  // Draws one episode from a source eligible in `phase`.
  Episode Sample(int phase);
  // Sources eligible in `phase` (for reporting and tests).
  std::vector<std::string> Eligible(int phase) const;

 private:
  struct Task {
    std::string source;
    double ratio = 1.0;
    std::map<int, std::vector<int64_t>> rows_by_class;  // only classes with >= 2 lines
  };
  EpisodeSampler(std::vector<Task> tasks, EpisodeOptions episode, CurriculumOptions curriculum,
                 uint64_t seed);
  std::vector<size_t> EligibleTasks(int phase) const;

  std::vector<Task> tasks_;
  EpisodeOptions episode_;
  CurriculumOptions curriculum_;
  std::mt19937_64 rng_;
};

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_EPISODES_H_
