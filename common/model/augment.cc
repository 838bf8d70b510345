#include "common/model/augment.h"

namespace fedlog::model {

LineSet AugmentView(const LineSet& lines, const AugmentOptions& options, int64_t vocab_buckets,
                    std::mt19937_64& rng) {
  LineSet view = lines;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> bucket(0, vocab_buckets - 1);
  for (auto& line : view.tokens) {
    if (line.empty()) continue;
    std::vector<int64_t> kept;
    kept.reserve(line.size());
    for (int64_t id : line) {
      if (unit(rng) < options.token_dropout) continue;
      kept.push_back(unit(rng) < options.token_resample ? bucket(rng) : id);
    }
    // An empty bag would embed to zeros and make the view trivially far from its twin; keep one
    // token.
    if (kept.empty())
      kept.push_back(line[std::uniform_int_distribution<size_t>(0, line.size() - 1)(rng)]);
    line = std::move(kept);
  }
  if (options.dense_noise_std > 0.0f) {
    std::normal_distribution<float> noise(0.0f, options.dense_noise_std);
    for (float& v : view.dense.data) v += noise(rng);
  }
  return view;
}

}  // namespace fedlog::model
