// fedlog-bench-dp-sgd: the cost of line-level DP-SGD (common/model/dp_sgd.h) against the
// non-private step, both measured in the same run on the same synthetic lines (2^15 hashed token
// buckets, ~12 tokens and 32 dense features per line, 20% anomalous templates). Prints one JSON
// object: wall and process-CPU seconds per contrastive step (batch B lines; DP: B/8 micro-batches of ~8 lines, each its
// own backward, clipped, plus CSPRNG noise) and per meta-learning outer step (8 episodes; DP: 8
// micro-batches of ~32 lines), and the ratios DP / non-private.
// Usage: fedlog-bench-dp-sgd [--steps=N] [--meta_iterations=N] [--threads=N] [--batch=N]
#include <cstdio>
#include <ctime>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/dp_sgd.h"
#include "common/model/meta_trainer.h"

namespace fedlog::model {
namespace {

struct Flags {
  int steps = 20;
  int meta_iterations = 10;
  int threads = 2;
  int batch = 256;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    int* target = nullptr;
    std::string v;
    for (auto [name, field] : {std::pair<const char*, int*>{"--steps=", &f->steps},
                               {"--meta_iterations=", &f->meta_iterations},
                               {"--threads=", &f->threads},
                               {"--batch=", &f->batch}}) {
      if (absl::StartsWith(a, name)) {
        target = field;
        v = a.substr(std::string(name).size());
      }
    }
    if (target == nullptr || !absl::SimpleAtoi(v, target)) return false;
  }
  return f->steps > 0 && f->meta_iterations > 0 && f->batch > 1 && f->threads > 0;
}

EncoderSpec BenchSpec() {
  EncoderSpec spec;
  spec.dense_dim = 32;
  spec.sources = {"BGL"};
  return spec;
}

LineSet SyntheticLines(const EncoderSpec& spec, int64_t rows) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> bucket(0, spec.vocab_buckets - 1);
  std::uniform_int_distribution<int> templ(0, 199), params(2, 6);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  LineSet lines;
  lines.dense = DenseMatrix(rows, spec.dense_dim);
  for (int64_t r = 0; r < rows; ++r) {
    const int t = templ(rng);
    std::vector<int64_t> tokens;
    for (int w = 0; w < 8; ++w) tokens.push_back((t * 131 + w * 17) % spec.vocab_buckets);
    for (int p = params(rng); p > 0; --p) tokens.push_back(bucket(rng));
    lines.tokens.push_back(std::move(tokens));
    lines.sources.push_back("BGL");
    lines.template_ids.push_back(t);
    lines.labels.push_back(t < 40 ? 1 : 0);
    for (int c = 0; c < spec.dense_dim; ++c) lines.dense.Row(r)[c] = noise(rng);
  }
  return lines;
}

int Run(const Flags& f) {
  const EncoderSpec spec = BenchSpec();
  absl::StatusOr<fl::TensorBundle> w0 = InitialEncoderWeights(spec);
  if (!w0.ok()) return 1;
  const LineSet lines = SyntheticLines(spec, 8192);
  LineDpOptions dp;
  dp.noise_multiplier = 1.0;
  LineDpPhase phase;
  ContrastiveOptions c;
  c.steps = 2;  // warm-up of both paths outside the timed runs
  c.batch_size = f.batch;
  c.runtime.threads = f.threads;
  if (!PretrainContrastive(spec, *w0, lines, c).ok() ||
      !DpPretrainContrastive(spec, *w0, lines, c, dp, &phase).ok()) {
    return 1;
  }
  c.steps = f.steps;
  // Process CPU time next to wall time: on a shared machine the wall clock mostly measures the
  // other processes. With --threads=1 the CPU time is the training thread's.
  auto cpu = [] { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; };
  double t = cpu();
  auto plain = PretrainContrastive(spec, *w0, lines, c);
  const double cp_cpu = (cpu() - t) / f.steps;
  t = cpu();
  auto priv = DpPretrainContrastive(spec, *w0, lines, c, dp, &phase);
  const double cd_cpu = (cpu() - t) / f.steps;
  MetaOptions m;
  m.meta_iterations = f.meta_iterations;
  m.inner_steps = 1;
  m.runtime.threads = f.threads;
  t = cpu();
  auto meta_plain = MetaTrain(spec, *w0, lines, {}, m);
  const double mp_cpu = (cpu() - t) / f.meta_iterations;
  t = cpu();
  auto meta_priv = DpMetaTrain(spec, *w0, lines, m, dp, &phase);
  const double md_cpu = (cpu() - t) / f.meta_iterations;
  if (!plain.ok() || !priv.ok() || !meta_plain.ok() || !meta_priv.ok()) {
    std::fprintf(stderr, "training failed\n");
    return 1;
  }
  const double cp = plain->seconds / f.steps, cd = priv->seconds / f.steps;
  const double mp = meta_plain->seconds / f.meta_iterations;
  const double md = meta_priv->seconds / f.meta_iterations;
  std::printf(
      "%s\n",
      absl::StrFormat(
          "{\"threads\": %d, \"batch\": %d, \"contrastive_s_per_step\": %.4f, "
          "\"dp_contrastive_s_per_step\": %.4f, \"contrastive_ratio\": %.2f, "
          "\"contrastive_cpu_s_per_step\": %.4f, \"dp_contrastive_cpu_s_per_step\": %.4f, "
          "\"contrastive_cpu_ratio\": %.2f, \"meta_s_per_step\": %.4f, "
          "\"dp_meta_s_per_step\": %.4f, \"meta_ratio\": %.2f, \"meta_cpu_s_per_step\": %.4f, "
          "\"dp_meta_cpu_s_per_step\": %.4f, \"meta_cpu_ratio\": %.2f, \"dp_meta_episodes\": %d, "
          "\"meta_batch\": 8, \"inner_steps\": 1, \"steps\": %d, \"meta_iterations\": %d}",
          f.threads, f.batch, cp, cd, cd / cp, cp_cpu, cd_cpu, cd_cpu / cp_cpu, mp, md, md / mp,
          mp_cpu, md_cpu, md_cpu / mp_cpu, meta_priv->episodes, f.steps, f.meta_iterations)
          .c_str());
  return 0;
}

}  // namespace
}  // namespace fedlog::model

int main(int argc, char** argv) {
  fedlog::model::Flags flags;
  if (!fedlog::model::ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr, "usage: %s [--steps=N] [--meta_iterations=N] [--threads=N] [--batch=N]\n",
                 argv[0]);
    return 2;
  }
  return fedlog::model::Run(flags);
}
