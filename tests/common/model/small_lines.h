// Test data shared by the model tests: a small encoder spec for one source "S" and 200 synthetic lines of 4
// templates, the fourth anomalous (50 lines), for the line-DP tests (dp_sgd_test, dp_supervised_test); and
// the slightly larger spec, without sources, of the training tests (learning_test, site_round_test,
// public_pretrain_test).
#ifndef FEDLOG_TESTS_COMMON_MODEL_SMALL_LINES_H_
#define FEDLOG_TESTS_COMMON_MODEL_SMALL_LINES_H_

#include <cstdint>
#include <random>

#include "common/model/encoder_types.h"

namespace fedlog::model::testing {

inline EncoderSpec SmallSpec() {
  EncoderSpec spec;
  spec.vocab_buckets = 256;
  spec.token_dim = 8;
  spec.dense_dim = 2;
  spec.hidden = {16};
  spec.out_dim = 8;
  spec.adapter_dim = 4;
  spec.head_dim = 8;
  spec.sources = {"S"};
  return spec;
}

// vocab 512, tokens 16, dense 4, hidden [32], out 16, adapter 4, head 16, init seed 7; no sources.
inline EncoderSpec TrainingSpec() {
  EncoderSpec spec;
  spec.vocab_buckets = 512;
  spec.token_dim = 16;
  spec.dense_dim = 4;
  spec.hidden = {32};
  spec.out_dim = 16;
  spec.adapter_dim = 4;
  spec.head_dim = 16;
  spec.init_seed = 7;
  return spec;
}

inline LineSet SmallLines() {
  std::mt19937_64 rng(5);  // test data only, never keys, masks or noise
  std::uniform_int_distribution<int64_t> param(100, 255);
  LineSet lines;
  for (int i = 0; i < 200; ++i) {
    const int t = i % 4;
    lines.tokens.push_back({t * 7, t * 7 + 1, param(rng)});
    lines.sources.push_back("S");
    lines.template_ids.push_back(t);
    lines.labels.push_back(t == 3 ? 1 : 0);
  }
  lines.dense = DenseMatrix(lines.size(), 2);
  for (int64_t r = 0; r < lines.size(); ++r) lines.dense.Row(r)[r % 2] = 1.0f;
  return lines;
}

}  // namespace fedlog::model::testing

#endif  // FEDLOG_TESTS_COMMON_MODEL_SMALL_LINES_H_
