// Aggregation throughput on one core: weighted FedAvg accumulation (WeightedAverager::Add, float32 in place), the
// same from update files as the aggregator runs it (AggregateUpdateFiles: streaming decode of each file from the
// page cache into the accumulator), and the robust coordinate-wise median, in GB/s of update bytes, next to
// memcpy of the same bytes in the same run, and the from-files path with the default adaptive clipping beside it:
// as the aggregator runs it (each update's part norms computed once at upload, fl::UpdateChecker, not timed: the
// file is read once) and without stored norms (an update stored by an older binary: the file is read twice).
// usage: fedlog-bench-aggregate [--params N] [--updates K] [--reps R]     prints one JSON object
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <filesystem>

#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"
#include "common/fl/strategy.h"
#include "common/fl/stream_aggregate.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

fedlog::fl::TensorBundle RandomBundle(int64_t params, uint64_t seed) {
  fedlog::fl::TensorBundle b;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.01f);
  // Realistic layout: a few large matrices and small biases.
  const int64_t big = params / 4;
  for (int i = 0; i < 4; ++i) {
    fedlog::fl::NamedTensor t{"layer" + std::to_string(i) + ".weight", {big}, {}};
    t.values.resize(static_cast<size_t>(big));
    for (auto& x : t.values) x = d(rng);
    b.tensors.push_back(std::move(t));
  }
  return b;
}

int64_t Arg(int argc, char** argv, const char* name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t params = Arg(argc, argv, "--params", 4'000'000);
  const int updates = static_cast<int>(Arg(argc, argv, "--updates", 8));
  const int reps = static_cast<int>(Arg(argc, argv, "--reps", 7));
  fedlog::fl::TensorBundle global = RandomBundle(params, 1);
  std::vector<fedlog::fl::TensorBundle> deltas;
  for (int i = 0; i < updates; ++i) deltas.push_back(RandomBundle(params, 100 + static_cast<uint64_t>(i)));
  const double bytes = static_cast<double>(params) * 4.0 * updates;

  std::vector<double> t_avg, t_copy, t_median;
  std::vector<float> sink(static_cast<size_t>(params));
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    fedlog::fl::WeightedAverager avg(global);
    for (int i = 0; i < updates; ++i) {
      if (!avg.Add(deltas[static_cast<size_t>(i)], 1.0 + i).ok()) return 1;
    }
    auto mean = avg.TakeMean();
    auto t1 = Clock::now();
    for (int i = 0; i < updates; ++i) {
      for (const auto& t : deltas[static_cast<size_t>(i)].tensors) {
        std::memcpy(sink.data(), t.values.data(), t.values.size() * sizeof(float));
      }
    }
    auto t2 = Clock::now();
    t_avg.push_back(std::chrono::duration<double>(t1 - t0).count());
    t_copy.push_back(std::chrono::duration<double>(t2 - t1).count());
    if (!mean.ok() || mean->tensors[0].values[0] == 12345.f) return 1;  // keep the work observable
  }
  // From files, as the aggregator does it (the files are in the page cache after the first repetition).
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("fedlog_aggbench_" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  std::vector<fedlog::fl::UpdateFile> files;
  for (int i = 0; i < updates; ++i) {
    auto encoded = fedlog::fl::EncodeBundle(deltas[static_cast<size_t>(i)]);
    const std::string path = fedlog::JoinPath(dir, "u" + std::to_string(i));
    if (!encoded.ok() || !fedlog::WriteFileAtomic(path, *encoded).ok()) return 1;
    files.push_back({"s", path, "", {100 + i, 1, 1, {}}, std::nullopt});
  }
  // The same with the aggregator's default adaptive clipping (common/fl/adaptive_clip.h): with the part norms
  // the upload check stores (the aggregator's path) and without them (a norm pass over each file first);
  // alternated with the unclipped run, repetition by repetition.
  std::vector<fedlog::fl::UpdateFile> stored = files;
  for (auto& f : stored) {
    fedlog::fl::UpdateChecker checker(fedlog::fl::LayoutOf(global), {});
    if (!fedlog::fl::ReadBundleFileChunks(f.path, {}, &checker).ok() || !checker.Finish().ok()) return 1;
    f.part_norms = checker.part_norms();
  }
  fedlog::fl::StrategyOptions clipped;
  clipped.adaptive_clip_multiple = fedlog::fl::kDefaultAdaptiveClipMultiple;
  std::vector<double> t_files, t_clipped, t_fallback;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    auto mean = fedlog::fl::AggregateUpdateFiles(fedlog::fl::LayoutOf(global), files, {}, {dir});
    auto t1 = Clock::now();
    auto clipped_mean = fedlog::fl::AggregateUpdateFiles(fedlog::fl::LayoutOf(global), stored, clipped, {dir});
    auto t2 = Clock::now();
    auto fallback_mean = fedlog::fl::AggregateUpdateFiles(fedlog::fl::LayoutOf(global), files, clipped, {dir});
    t_files.push_back(std::chrono::duration<double>(t1 - t0).count());
    t_clipped.push_back(std::chrono::duration<double>(t2 - t1).count());
    t_fallback.push_back(std::chrono::duration<double>(Clock::now() - t2).count());
    if (!mean.ok() || !clipped_mean.ok() || !fallback_mean.ok()) return 1;
  }
  std::filesystem::remove_all(dir);
  // The median needs every update at once and sorts per coordinate: measure it on a tenth of the model.
  const int64_t small = std::max<int64_t>(params / 10, 4);
  fedlog::fl::TensorBundle sg = RandomBundle(small, 2);
  std::vector<fedlog::fl::TensorBundle> sd;
  for (int i = 0; i < updates; ++i) sd.push_back(RandomBundle(small, 200 + static_cast<uint64_t>(i)));
  std::vector<fedlog::fl::ClientUpdate> in;
  for (int i = 0; i < updates; ++i) in.push_back({"s", &sd[static_cast<size_t>(i)], {1, 1, 1, {}}});
  fedlog::fl::StrategyOptions median;
  median.kind = fedlog::fl::StrategyKind::kMedian;
  for (int r = 0; r < std::max(1, reps / 2); ++r) {
    auto t0 = Clock::now();
    auto m = fedlog::fl::AggregateDeltas(sg, in, median);
    t_median.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (!m.ok()) return 1;
  }
  const double gbs_avg = bytes / Median(t_avg) / 1e9;
  const double gbs_copy = bytes / Median(t_copy) / 1e9;
  const double gbs_files = bytes / Median(t_files) / 1e9;
  const double gbs_clipped = bytes / Median(t_clipped) / 1e9;
  const double gbs_median = static_cast<double>(small) * 4.0 * updates / Median(t_median) / 1e9;
  std::printf(
      "{\"benchmark\": \"aggregate\", \"params\": %lld, \"updates\": %d, \"reps\": %d,\n"
      " \"fedavg_gb_per_s\": %.3f, \"memcpy_gb_per_s\": %.3f, \"fedavg_to_memcpy\": %.3f,\n"
      " \"fedavg_from_files_gb_per_s\": %.3f, \"fedavg_from_files_adaptive_clip_gb_per_s\": %.3f,\n"
      " \"adaptive_clip_time_ratio\": %.3f, \"adaptive_clip_unstored_time_ratio\": %.3f,\n"
      " \"median_gb_per_s\": %.3f, \"median_params\": %lld}\n",
      static_cast<long long>(params), updates, reps, gbs_avg, gbs_copy, gbs_avg / gbs_copy, gbs_files, gbs_clipped,
      Median(t_clipped) / Median(t_files), Median(t_fallback) / Median(t_files), gbs_median,
      static_cast<long long>(small));
  return 0;
}
