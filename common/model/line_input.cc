#include "common/model/line_input.h"

#include <cmath>
#include <utility>

namespace fedlog::model {

float SquashDense(float x) {
  if (!std::isfinite(x)) return 0.0f;
  return std::copysign(std::log1p(std::fabs(x)), x);
}

void AppendLine(const features::LineFeatures& line, const std::string& source, int64_t template_id,
                int label, LineSet* out) {
  out->tokens.emplace_back(line.tokens.begin(), line.tokens.end());
  const int64_t cols = static_cast<int64_t>(line.dense.size());
  if (out->dense.rows == 0) out->dense.cols = cols;
  for (float v : line.dense) out->dense.data.push_back(SquashDense(v));
  ++out->dense.rows;
  out->sources.push_back(source);
  out->template_ids.push_back(template_id);
  if (label >= 0) out->labels.push_back(label);
}

LineSet FromBatch(const features::FeaturizedBatch& batch, const std::string& source,
                  const std::vector<int>& labels) {
  LineSet out;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  out.tokens.reserve(static_cast<size_t>(n));
  out.dense = DenseMatrix(n, batch.dense.cols);
  for (int64_t i = 0; i < n; ++i) {
    out.tokens.emplace_back(batch.tokens[i].begin(), batch.tokens[i].end());
    const float* row = batch.dense.Row(i);
    float* dst = out.dense.Row(i);
    for (int64_t c = 0; c < batch.dense.cols; ++c) dst[c] = SquashDense(row[c]);
  }
  out.sources.assign(static_cast<size_t>(n), source);
  out.template_ids.assign(batch.template_ids.begin(), batch.template_ids.end());
  out.labels = labels;
  return out;
}

void AppendLineSet(const LineSet& src, LineSet* dst) {
  if (dst->dense.rows == 0) dst->dense.cols = src.dense.cols;
  dst->tokens.insert(dst->tokens.end(), src.tokens.begin(), src.tokens.end());
  dst->dense.data.insert(dst->dense.data.end(), src.dense.data.begin(), src.dense.data.end());
  dst->dense.rows += src.dense.rows;
  dst->sources.insert(dst->sources.end(), src.sources.begin(), src.sources.end());
  dst->template_ids.insert(dst->template_ids.end(), src.template_ids.begin(),
                           src.template_ids.end());
  dst->labels.insert(dst->labels.end(), src.labels.begin(), src.labels.end());
}

EncoderSpec DefaultEncoderSpec(int dense_dim, std::vector<std::string> sources) {
  EncoderSpec spec;
  spec.dense_dim = dense_dim;
  spec.sources = std::move(sources);
  return spec;
}

}  // namespace fedlog::model
