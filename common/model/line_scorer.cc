#include "common/model/line_scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::model {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// Each hot function is cloned for AVX2+FMA and picked at load time by the dynamic loader, so a
// generic x86-64 build still gets 8-wide fused multiply-adds (the axpy below inlines into each
// clone).
#define FEDLOG_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FEDLOG_SIMD_CLONES
#endif

// y[0, n) += a * x[0, n): no reduction, so it vectorises without reassociating floating point.
inline __attribute__((always_inline)) void Axpy(float a, const float* __restrict x,
                                                float* __restrict y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

// y[0, out) += sum_i x[i] * wt[i][0, out) over the non-zero x[i] (after ReLU about half are zero).
// Blocks of kBlock outputs stay in registers across all inputs, so y is loaded and stored once per
// block instead of once per input.
FEDLOG_SIMD_CLONES void AccumulateRows(const float* x, int in, const float* wt, int out, float* y) {
  constexpr int kBlock = 64;
  int o = 0;
  for (; o + kBlock <= out; o += kBlock) {
    float acc[kBlock];
    for (int k = 0; k < kBlock; ++k) acc[k] = y[o + k];
    for (int i = 0; i < in; ++i) {
      const float a = x[i];
      if (a == 0.0f) continue;
      const float* row = wt + static_cast<size_t>(i) * out + o;
      for (int k = 0; k < kBlock; ++k) acc[k] += a * row[k];
    }
    for (int k = 0; k < kBlock; ++k) y[o + k] = acc[k];
  }
  if (o < out) {
    for (int i = 0; i < in; ++i) {
      if (x[i] != 0.0f) Axpy(x[i], wt + static_cast<size_t>(i) * out + o, y + o, out - o);
    }
  }
}

// y = sum of the embedding rows `ids` (reduced modulo `buckets`), each of width `dim`.
FEDLOG_SIMD_CLONES void SumRows(const float* table, int64_t buckets, int dim, const int64_t* ids,
                                size_t n, float* y) {
  for (size_t k = 0; k < n; ++k) {
    int64_t b = ids[k] % buckets;
    if (b < 0) b += buckets;
    Axpy(1.0f, table + b * dim, y, dim);
  }
}

// y = bias + x * Wt for one layer in transposed layout.
void LinearInto(const float* x, int in, const std::vector<float>& wt,
                const std::vector<float>& bias, int out, float* y) {
  std::copy(bias.begin(), bias.end(), y);
  AccumulateRows(x, in, wt.data(), out, y);
}

void LayerNormRelu(const std::vector<float>& w, const std::vector<float>& b, float* h, int n) {
  double mean = 0;
  for (int i = 0; i < n; ++i) mean += h[i];
  mean /= n;
  double var = 0;
  for (int i = 0; i < n; ++i) var += (h[i] - mean) * (h[i] - mean);
  var /= n;
  const float inv = static_cast<float>(1.0 / std::sqrt(var + 1e-5));
  const float m = static_cast<float>(mean);
  for (int i = 0; i < n; ++i) h[i] = std::max(0.0f, (h[i] - m) * inv * w[i] + b[i]);
}

absl::StatusOr<std::vector<float>> Tensor(const FewShotModel& model, const std::string& name,
                                          std::vector<int64_t> shape) {
  const fl::NamedTensor* t = model.weights.Find(name);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("model lacks tensor ", name));
  if (t->shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has the wrong shape"));
  }
  return t->values;
}

uint64_t HashTokens(absl::Span<const int64_t> tokens) {
  uint64_t h = 0xcbf29ce484222325ull ^ tokens.size();
  for (int64_t t : tokens) {
    h ^= static_cast<uint64_t>(t);
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  return h;
}

}  // namespace

absl::StatusOr<LineScorer::Layer> LineScorer::LoadLayer(const FewShotModel& model,
                                                        const std::string& prefix, int in,
                                                        int out) {
  Layer l;
  l.in = in;
  l.out = out;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> w, Tensor(model, prefix + ".weight", {out, in}));
  FEDLOG_ASSIGN_OR_RETURN(l.bias, Tensor(model, prefix + ".bias", {out}));
  l.wt.resize(w.size());
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i)
      l.wt[static_cast<size_t>(i) * out + o] = w[static_cast<size_t>(o) * in + i];
  }
  return l;
}

absl::StatusOr<LineScorer> LineScorer::Create(const EncoderSpec& spec, const FewShotModel& model,
                                              LineScorerOptions options) {
  FEDLOG_RETURN_IF_ERROR(ValidateEncoderSpec(spec));
  FEDLOG_RETURN_IF_ERROR(CheckPrototypes(model, spec.out_dim));
  auto w = std::make_shared<Weights>();
  w->spec = spec;
  FEDLOG_ASSIGN_OR_RETURN(w->embed,
                          Tensor(model, "embed.weight", {spec.vocab_buckets, spec.token_dim}));
  int in = spec.token_dim + spec.dense_dim;
  for (size_t i = 0; i < spec.hidden.size(); ++i) {
    const std::string idx = std::to_string(i);
    FEDLOG_ASSIGN_OR_RETURN(Layer l, LoadLayer(model, "mlp." + idx, in, spec.hidden[i]));
    w->mlp.push_back(std::move(l));
    FEDLOG_ASSIGN_OR_RETURN(auto nw, Tensor(model, "norm." + idx + ".weight", {spec.hidden[i]}));
    FEDLOG_ASSIGN_OR_RETURN(auto nb, Tensor(model, "norm." + idx + ".bias", {spec.hidden[i]}));
    w->norm_w.push_back(std::move(nw));
    w->norm_b.push_back(std::move(nb));
    in = spec.hidden[i];
  }
  FEDLOG_ASSIGN_OR_RETURN(w->out, LoadLayer(model, "out", in, spec.out_dim));
  for (const std::string& source : spec.sources) {
    Adapter a;
    FEDLOG_ASSIGN_OR_RETURN(
        a.down, LoadLayer(model, "adapter." + source + ".down", spec.out_dim, spec.adapter_dim));
    FEDLOG_ASSIGN_OR_RETURN(
        a.up, LoadLayer(model, "adapter." + source + ".up", spec.adapter_dim, spec.out_dim));
    w->adapters.emplace(source, std::move(a));
  }
  // Prototypes transposed ([out_dim][P]) so the P dot products are one AccumulateRows, plus
  // their squared norms: |e - p|^2 = |e|^2 + |p|^2 - 2 e.p.
  w->proto_labels = PrototypeLabels(model);
  const size_t protos = w->proto_labels.size();
  const size_t d = static_cast<size_t>(spec.out_dim);
  w->protos_t.assign(d * protos, 0.0f);
  w->proto_norms.assign(protos, 0.0f);
  for (size_t r = 0; r < protos; ++r) {
    double norm = 0;
    for (size_t o = 0; o < d; ++o) {
      const float v = model.prototypes.data[r * d + o];
      w->protos_t[o * protos + r] = v;
      norm += static_cast<double>(v) * v;
    }
    w->proto_norms[r] = static_cast<float>(norm);
  }
  w->distance_scale = model.distance_scale;
  w->platt_a = model.platt.a;
  w->platt_b = model.platt.b;
  w->threshold = model.threshold;
  return LineScorer(std::move(w), options);
}

const std::vector<float>& LineScorer::TokenPart(absl::Span<const int64_t> tokens) {
  const uint64_t key = HashTokens(tokens);
  auto it = token_cache_.find(key);
  if (it != token_cache_.end()) return it->second;
  if (static_cast<int>(token_cache_.size()) >= options_.cache_entries) token_cache_.clear();
  const Weights& w = *weights_;
  const EncoderSpec& spec = w.spec;
  std::vector<float> mean(static_cast<size_t>(spec.token_dim), 0.0f);
  SumRows(w.embed.data(), spec.vocab_buckets, spec.token_dim, tokens.data(), tokens.size(),
          mean.data());
  if (!tokens.empty()) {
    for (float& v : mean) v /= static_cast<float>(tokens.size());
  }
  // Token half of the first layer, without its bias (added with the dense half).
  const Layer& first = w.mlp.empty() ? w.out : w.mlp[0];
  std::vector<float> part(static_cast<size_t>(first.out), 0.0f);
  AccumulateRows(mean.data(), spec.token_dim, first.wt.data(), first.out, part.data());
  return token_cache_.emplace(key, std::move(part)).first->second;
}

void LineScorer::Embed(absl::Span<const int64_t> tokens, absl::Span<const float> dense,
                       const std::string& source, float* out) {
  const Weights& w = *weights_;
  const EncoderSpec& spec = w.spec;
  const Layer& first = w.mlp.empty() ? w.out : w.mlp[0];
  h_.resize(static_cast<size_t>(std::max(first.out, spec.out_dim)));
  const std::vector<float>& part = TokenPart(tokens);
  for (int o = 0; o < first.out; ++o) h_[o] = first.bias[o] + part[o];
  const float* dense_rows = first.wt.data() + static_cast<size_t>(spec.token_dim) * first.out;
  AccumulateRows(dense.data(), spec.dense_dim, dense_rows, first.out, h_.data());
  float* h = h_.data();
  for (size_t i = 0; i < w.mlp.size(); ++i) {
    if (i > 0) {
      h2_.resize(static_cast<size_t>(w.mlp[i].out));
      LinearInto(h, w.mlp[i].in, w.mlp[i].wt, w.mlp[i].bias, w.mlp[i].out, h2_.data());
      h_.swap(h2_);
      h = h_.data();
    }
    LayerNormRelu(w.norm_w[i], w.norm_b[i], h, w.mlp[i].out);
  }
  z_.resize(static_cast<size_t>(spec.out_dim));
  if (w.mlp.empty()) {
    std::copy(h, h + spec.out_dim, z_.begin());
  } else {
    LinearInto(h, w.out.in, w.out.wt, w.out.bias, w.out.out, z_.data());
  }
  if (auto it = w.adapters.find(source); !source.empty() && it != w.adapters.end()) {
    const Adapter& ad = it->second;
    a_.resize(static_cast<size_t>(ad.down.out));
    LinearInto(z_.data(), ad.down.in, ad.down.wt, ad.down.bias, ad.down.out, a_.data());
    for (float& v : a_) v = std::max(0.0f, v);
    h2_.resize(static_cast<size_t>(spec.out_dim));
    LinearInto(a_.data(), ad.up.in, ad.up.wt, ad.up.bias, ad.up.out, h2_.data());
    for (int o = 0; o < spec.out_dim; ++o) z_[o] += h2_[o];
  }
  double norm = 0;
  for (float v : z_) norm += static_cast<double>(v) * v;
  const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
  for (int o = 0; o < spec.out_dim; ++o) out[o] = z_[o] * inv;
}

float LineScorer::Score(absl::Span<const int64_t> tokens, absl::Span<const float> dense,
                        const std::string& source) {
  const Weights& w = *weights_;
  const int d = w.spec.out_dim;
  float emb[4096];
  std::vector<float> big;
  float* e = emb;
  if (d > 4096) {
    big.resize(static_cast<size_t>(d));
    e = big.data();
  }
  Embed(tokens, dense, source, e);
  return ScoreEmbedding(e);
}

float LineScorer::ScoreEmbedding(const float* e) {
  const Weights& w = *weights_;
  const int d = w.spec.out_dim;
  // Squared distance to the nearest prototype of each class, from the dot products.
  const int protos = static_cast<int>(w.proto_labels.size());
  dots_.assign(static_cast<size_t>(protos), 0.0f);
  AccumulateRows(e, d, w.protos_t.data(), protos, dots_.data());
  double e_norm = 0;
  for (int o = 0; o < d; ++o) e_norm += static_cast<double>(e[o]) * e[o];
  double dist[2] = {std::numeric_limits<double>::infinity(),
                    std::numeric_limits<double>::infinity()};
  for (int r = 0; r < protos; ++r) {
    const double sq = e_norm + w.proto_norms[r] - 2.0 * dots_[r];
    double& best = dist[w.proto_labels[r]];
    best = std::min(best, std::max(0.0, sq));
  }
  const double raw = w.distance_scale * (dist[0] - dist[1]);
  const double x = w.platt_a * raw + w.platt_b;
  return static_cast<float>(1.0 / (1.0 + std::exp(-x)));
}

absl::StatusOr<std::vector<float>> LineScorer::ScoreLines(const LineSet& lines) {
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec(), lines));
  std::vector<float> out;
  out.reserve(static_cast<size_t>(lines.size()));
  static const std::string kNone;
  const int64_t dd = spec().dense_dim;
  for (int64_t i = 0; i < lines.size(); ++i) {
    const std::string& source =
        lines.sources.empty() ? kNone : lines.sources[static_cast<size_t>(i)];
    absl::Span<const float> dense =
        dd > 0 ? absl::MakeConstSpan(lines.dense.Row(i), static_cast<size_t>(dd))
               : absl::Span<const float>();
    out.push_back(Score(lines.tokens[static_cast<size_t>(i)], dense, source));
  }
  return out;
}

}  // namespace fedlog::model
