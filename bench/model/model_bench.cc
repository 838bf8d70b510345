// fedlog-bench-model: how fast the learning core trains on this machine, with synthetic lines of
// realistic shape (2^15 hashed token buckets, ~12 tokens and 32 dense features per line). Prints
// one JSON object:
//   contrastive steps/s  vs  a plain MLP autoencoder forward/backward on a batch of the same size;
//   MAML meta-training s/1000 episodes (second and first order)  vs  plain prototypical episodes
//   (no inner loop).
// Usage: fedlog-bench-model [--steps=N] [--meta_iterations=N] [--threads=N] [--batch=N]
// [--vocab_log2=N]
//                           [--tune_malloc] [--device=cpu|cuda|auto]
#include <malloc.h>

#include <cstdio>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/local_trainer.h"
#include "common/model/meta_trainer.h"

namespace fedlog::model {
namespace {

struct Flags {
  int steps = 30;
  int meta_iterations = 10;
  int threads = 2;
  int batch = 256;
  int vocab_log2 = 15;
  bool tune_malloc = false;
  std::string device = "cpu";
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) { return a.substr(std::string(name).size()); };
    if (absl::StartsWith(a, "--steps=")) {
      if (!absl::SimpleAtoi(value("--steps="), &f->steps)) return false;
    } else if (absl::StartsWith(a, "--meta_iterations=")) {
      if (!absl::SimpleAtoi(value("--meta_iterations="), &f->meta_iterations)) return false;
    } else if (absl::StartsWith(a, "--threads=")) {
      if (!absl::SimpleAtoi(value("--threads="), &f->threads)) return false;
    } else if (absl::StartsWith(a, "--vocab_log2=")) {
      if (!absl::SimpleAtoi(value("--vocab_log2="), &f->vocab_log2)) return false;
    } else if (absl::StartsWith(a, "--batch=")) {
      if (!absl::SimpleAtoi(value("--batch="), &f->batch)) return false;
    } else if (a == "--tune_malloc") {
      f->tune_malloc = true;
    } else if (absl::StartsWith(a, "--device=")) {
      f->device = value("--device=");
    } else {
      return false;
    }
  }
  return f->steps > 0 && f->meta_iterations > 0 && f->batch > 1 && f->vocab_log2 >= 8 &&
         f->vocab_log2 <= 24;
}

EncoderSpec BenchSpec(const Flags& f) {
  EncoderSpec spec;
  spec.vocab_buckets = int64_t{1} << f.vocab_log2;
  spec.token_dim = 64;
  spec.dense_dim = 32;
  spec.hidden = {256};
  spec.out_dim = 128;
  spec.sources = {"HDFS", "BGL", "Thunderbird", "Spark"};
  return spec;
}

// 200 templates per source, ~12 hashed tokens per line (8 template words + re-sampled parameters),
// 2% of templates anomalous with two anomaly types.
LineSet SyntheticLines(const EncoderSpec& spec, int64_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> bucket(0, spec.vocab_buckets - 1);
  std::uniform_int_distribution<int> templ(0, 199), params(2, 6);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  LineSet lines;
  lines.dense = DenseMatrix(rows, spec.dense_dim);
  for (int64_t r = 0; r < rows; ++r) {
    const size_t source = static_cast<size_t>(r % static_cast<int64_t>(spec.sources.size()));
    const int t = templ(rng);
    std::vector<int64_t> tokens;
    for (int w = 0; w < 8; ++w)
      tokens.push_back((static_cast<int64_t>(source) * 7919 + t * 131 + w * 17) %
                       spec.vocab_buckets);
    for (int p = params(rng); p > 0; --p) tokens.push_back(bucket(rng));
    lines.tokens.push_back(std::move(tokens));
    lines.sources.push_back(spec.sources[source]);
    lines.template_ids.push_back(static_cast<int64_t>(source) * 1000 + t);
    lines.labels.push_back(t < 4 ? 1 + t % 2 : 0);
    for (int c = 0; c < spec.dense_dim; ++c) lines.dense.Row(r)[c] = noise(rng);
  }
  return lines;
}

double MetaSecondsPer1000(const EncoderSpec& spec, const fl::TensorBundle& w0, const LineSet& lines,
                          const Flags& f, int inner_steps, bool first_order) {
  MetaOptions o;
  o.meta_iterations = f.meta_iterations;
  o.meta_batch = 8;
  o.inner_steps = inner_steps;
  o.first_order = first_order;
  o.runtime.threads = f.threads;
  o.runtime.device = f.device;
  auto r = MetaTrain(spec, w0, lines, {}, o);
  if (!r.ok()) {
    std::fprintf(stderr, "meta-training failed: %s\n", r.status().ToString().c_str());
    return -1;
  }
  return r->seconds / static_cast<double>(r->episodes) * 1000.0;
}

int Run(const Flags& f) {
  if (f.tune_malloc) {
    // glibc serves multi-MB tensors with fresh mmaps, so every large temporary is page-faulted in
    // again; on VMs that dominates. Keeping them in the heap shows what a tuned process (e.g. the
    // site daemon) gets.
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  EncoderSpec spec = BenchSpec(f);
  auto w0 = InitialEncoderWeights(spec);
  if (!w0.ok()) return 1;
  LineSet lines = SyntheticLines(spec, 8192, 1);
  ContrastiveOptions c;
  // Warm-up (CUDA context, kernels, allocator caches) outside the timed runs.
  c.steps = 2;
  c.batch_size = f.batch;
  c.runtime.threads = f.threads;
  c.runtime.device = f.device;
  if (!PretrainContrastive(spec, *w0, lines, c).ok()) return 1;
  c.steps = f.steps;
  c.batch_size = f.batch;
  c.runtime.threads = f.threads;
  c.runtime.device = f.device;
  auto contrastive = PretrainContrastive(spec, *w0, lines, c);
  if (!contrastive.ok()) {
    std::fprintf(stderr, "contrastive failed: %s\n", contrastive.status().ToString().c_str());
    return 1;
  }
  // Baseline: a plain MLP (input -> 256 -> 128 and back) forward/backward on batches of the same
  // size.
  MlpSpec mlp;
  mlp.input_dim = spec.token_dim + spec.dense_dim;
  mlp.hidden = {256, 128};
  DenseMatrix x(static_cast<int64_t>(f.batch) * f.steps, mlp.input_dim);
  std::mt19937_64 rng(2);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (float& v : x.data) v = noise(rng);
  TrainOptions t;
  t.batch_size = f.batch;
  t.device = f.device;
  SetTorchThreads(f.threads);
  auto baseline = Train(mlp, *InitialWeights(mlp), x, t);
  if (!baseline.ok()) return 1;
  Flags warm = f;
  warm.meta_iterations = 1;
  MetaSecondsPer1000(spec, *w0, lines, warm, 5, false);
  const double meta2 = MetaSecondsPer1000(spec, *w0, lines, f, 5, false);
  const double meta1 = MetaSecondsPer1000(spec, *w0, lines, f, 5, true);
  const double proto = MetaSecondsPer1000(spec, *w0, lines, f, 0, false);
  std::printf(
      "%s\n",
      absl::StrFormat("{\"device\": \"%s\", \"threads\": %d, \"batch\": %d, \"vocab_buckets\": %d, "
                      "\"tune_malloc\": %s, "
                      "\"contrastive_steps_per_s\": %.2f, \"baseline_mlp_steps_per_s\": %.2f, "
                      "\"contrastive_initial_loss\": %.4f, \"contrastive_final_loss\": %.4f, "
                      "\"meta_s_per_1000_episodes_second_order\": %.1f, "
                      "\"meta_s_per_1000_episodes_first_order\": %.1f, "
                      "\"baseline_protonet_s_per_1000_episodes\": %.1f, \"meta_iterations\": %d, "
                      "\"meta_batch\": 8, "
                      "\"inner_steps\": 5}",
                      contrastive->device, f.threads, f.batch, spec.vocab_buckets,
                      f.tune_malloc ? "true" : "false", contrastive->steps / contrastive->seconds,
                      baseline->steps / baseline->seconds, contrastive->initial_loss,
                      contrastive->final_loss, meta2, meta1, proto, f.meta_iterations)
          .c_str());
  return 0;
}

}  // namespace
}  // namespace fedlog::model

int main(int argc, char** argv) {
  fedlog::model::Flags flags;
  if (!fedlog::model::ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: %s [--steps=N] [--meta_iterations=N] [--threads=N] [--batch=N] "
                 "[--vocab_log2=N] [--tune_malloc] [--device=D]\n",
                 argv[0]);
    return 2;
  }
  return fedlog::model::Run(flags);
}
