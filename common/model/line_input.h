// The one conversion from featurized log lines (common/features StreamFeaturizer) to the learned
// encoder's input (model::LineSet). Training (site daemon, offline evaluation) and live scoring
// call it, so a model sees identical input in both. Dense features are squashed with
// sign(x) * log1p(|x|) instead of a fitted scaler: federated sites then need no shared statistics,
// and counts, lengths and rates of any magnitude land in a comparable range. Token ids are kept as
// the featurizer hashed them (the encoder reduces them modulo its vocab_buckets).
// Torch-free. Thread-safety: stateless functions.
#ifndef FEDLOG_COMMON_MODEL_LINE_INPUT_H_
#define FEDLOG_COMMON_MODEL_LINE_INPUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/features/batch_featurizer.h"
#include "common/features/stream_featurizer.h"
#include "common/model/encoder_types.h"

namespace fedlog::model {

// sign(x) * log1p(|x|); non-finite inputs become 0.
float SquashDense(float x);

// Appends one featurized line. `source` names its adapter ("" for none), `template_id` its Drain
// template (-1 unknown) and `label` its class (0 normal, >= 1 anomalous, -1 unlabeled: then no
// label is recorded; mixing labeled and unlabeled lines in one set is the caller's error).
void AppendLine(const features::LineFeatures& line, const std::string& source, int64_t template_id,
                int label, LineSet* out);

// Every line of `batch` under `source`; `labels` is empty (unlabeled) or one per line.
LineSet FromBatch(const features::FeaturizedBatch& batch, const std::string& source,
                  const std::vector<int>& labels = {});

// Appends every line of `src` to `dst` (dense widths must agree; an empty dst takes src's width).
void AppendLineSet(const LineSet& src, LineSet* dst);

// The encoder shape fedlog trains by default for a featurizer of `dense_dim` dense features, with
// one adapter per entry of `sources` (docs/MODEL.md).
EncoderSpec DefaultEncoderSpec(int dense_dim, std::vector<std::string> sources = {});

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_LINE_INPUT_H_
