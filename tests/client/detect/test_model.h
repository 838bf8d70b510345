// Test helpers: a small line_encoder model written where the detector looks for the promoted model.
#ifndef FEDLOG_TESTS_CLIENT_DETECT_TEST_MODEL_H_
#define FEDLOG_TESTS_CLIENT_DETECT_TEST_MODEL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/detect/detect_options.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"

namespace fedlog::client::detect::testing {

// A small encoder over `dense_dim` dense features with adapters for `sources`.
model::EncoderSpec SmallSpec(int dense_dim, std::vector<std::string> sources);
// Initial weights of `spec` (seeded by `seed`) plus unit-norm prototypes.global.
fl::TensorBundle SmallWeights(const model::EncoderSpec& spec, uint64_t seed);
// Writes promoted_model.{bundle,manifest} (version `version`) into `data_dir`.
absl::Status WritePromotedModel(const std::string& data_dir, const model::EncoderSpec& spec,
                                const fl::TensorBundle& weights, int64_t version);
// Writes personal_model.{bundle,manifest} (version `version`, the daemon's layout) into `data_dir`.
absl::Status WritePersonalModel(const std::string& data_dir, const model::EncoderSpec& spec,
                                const fl::TensorBundle& weights, int64_t version);
// A fresh, empty directory under the test's temp dir.
std::string FreshDir(const std::string& name);
// HDFS-format log line number `i` (a few templates).
std::string HdfsLine(int i);
// A label-free detector (no model) over one HDFS log file `log`, alert budget 1%, its data, alerts
// and polling (10 ms) under `dir`, metrics off.
DetectOptions HdfsDetectOptions(const std::string& dir, const std::string& log);
// Polls `pred` every 20 ms until it holds (true) or `timeout` passes (false).
bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(20));

}  // namespace fedlog::client::detect::testing

#endif  // FEDLOG_TESTS_CLIENT_DETECT_TEST_MODEL_H_
