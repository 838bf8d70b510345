// Token-overlap alignment (ContrastiveOptions / MetaOptions ::jaccard_weight): training with the
// term makes the encoder's pair cosines follow the pairs' token Jaccard similarity more closely
// than the same training without it, in both phases, and a weight of 0 changes nothing.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/model/contrastive_trainer.h"
#include "common/model/meta_trainer.h"
#include "gtest/gtest.h"

namespace fedlog::model {
namespace {

EncoderSpec AlignSpec() {
  EncoderSpec spec;
  spec.vocab_buckets = 256;
  spec.token_dim = 16;
  spec.hidden = {32};
  spec.out_dim = 16;
  spec.adapter_dim = 4;
  spec.head_dim = 16;
  spec.sources = {"A"};
  spec.init_seed = 3;
  return spec;
}

// `n` lines of 3-6 distinct tokens from a vocabulary of 24, so pairs range from disjoint to
// nearly equal. Lines holding token 0 are anomalous (type 1), the rest normal; every line is
// its own template (no template alignment).
LineSet Lines(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> len(3, 6);
  std::uniform_int_distribution<int64_t> tok(0, 23);
  LineSet lines;
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> t;
    const int want = len(rng);
    while (static_cast<int>(t.size()) < want) {
      const int64_t x = tok(rng);
      if (std::find(t.begin(), t.end(), x) == t.end()) t.push_back(x);
    }
    lines.labels.push_back(std::find(t.begin(), t.end(), 0) != t.end() ? 1 : 0);
    lines.tokens.push_back(std::move(t));
    lines.sources.push_back("A");
    lines.template_ids.push_back(i);
  }
  return lines;
}

double Jaccard(std::vector<int64_t> a, std::vector<int64_t> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<int64_t> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  return static_cast<double>(common.size()) /
         static_cast<double>(a.size() + b.size() - common.size());
}

// Mean squared gap between cosine and token Jaccard over the pairs i < j of `lines`.
double AlignmentError(const EncoderSpec& spec, const fl::TensorBundle& w, const LineSet& lines) {
  auto z = Embed(spec, w, lines, {});
  EXPECT_TRUE(z.ok()) << z.status();
  double sum = 0;
  int pairs = 0;
  for (int64_t i = 0; i < lines.size(); ++i) {
    for (int64_t j = i + 1; j < lines.size(); ++j) {
      double cos = 0;
      for (int64_t c = 0; c < z->cols; ++c) cos += z->Row(i)[c] * z->Row(j)[c];
      const double gap = cos - Jaccard(lines.tokens[i], lines.tokens[j]);
      sum += gap * gap;
      ++pairs;
    }
  }
  return sum / pairs;
}

ContrastiveOptions Pretraining(float weight) {
  ContrastiveOptions o;
  o.steps = 60;
  o.batch_size = 32;
  o.encoder_lr = 3e-3f;
  o.template_alignment = false;
  o.jaccard_weight = weight;
  o.runtime.seed = 4;
  return o;
}

TEST(AlignmentTest, ContrastiveWithTheTermFollowsTokenJaccard) {
  const EncoderSpec spec = AlignSpec();
  auto w0 = InitialEncoderWeights(spec);
  ASSERT_TRUE(w0.ok());
  const LineSet train = Lines(64, 1), held_out = Lines(40, 2);
  auto plain = PretrainContrastive(spec, *w0, train, Pretraining(0));
  auto aligned = PretrainContrastive(spec, *w0, train, Pretraining(4));
  ASSERT_TRUE(plain.ok() && aligned.ok()) << plain.status() << aligned.status();
  const double e_plain = AlignmentError(spec, plain->weights, held_out);
  const double e_aligned = AlignmentError(spec, aligned->weights, held_out);
  // On lines it never trained on, the gap to token Jaccard shrinks by at least a third.
  EXPECT_LT(e_aligned, e_plain * 0.67) << e_plain << " vs " << e_aligned;
  // Weight 0 is plain InfoNCE, bit for bit.
  ContrastiveOptions zero = Pretraining(0);
  zero.jaccard_weight = 0.0f;
  auto again = PretrainContrastive(spec, *w0, train, zero);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->weights.Find("mlp.0.weight")->values,
            plain->weights.Find("mlp.0.weight")->values);
  ContrastiveOptions bad = Pretraining(-1);
  EXPECT_EQ(PretrainContrastive(spec, *w0, train, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AlignmentTest, MetaTrainingWithTheTermKeepsTheAlignment) {
  const EncoderSpec spec = AlignSpec();
  auto w0 = InitialEncoderWeights(spec);
  ASSERT_TRUE(w0.ok());
  const LineSet train = Lines(80, 3), held_out = Lines(40, 4);
  MetaOptions o;
  o.meta_iterations = 40;
  o.meta_batch = 2;
  o.inner_steps = 1;
  o.first_order = true;
  o.episode.n_query = 5;
  o.meta_lr = 3e-3f;
  o.runtime.seed = 8;
  auto plain = MetaTrain(spec, *w0, train, {}, o);
  o.jaccard_weight = 4;
  o.jaccard_batch = 32;
  auto aligned = MetaTrain(spec, *w0, train, {}, o);
  ASSERT_TRUE(plain.ok() && aligned.ok()) << plain.status() << aligned.status();
  EXPECT_EQ(plain->episodes, aligned->episodes);
  const double e_plain = AlignmentError(spec, plain->weights, held_out);
  const double e_aligned = AlignmentError(spec, aligned->weights, held_out);
  EXPECT_LT(e_aligned, e_plain * 0.67) << e_plain << " vs " << e_aligned;
  o.jaccard_batch = 1;
  EXPECT_EQ(MetaTrain(spec, *w0, train, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedlog::model
