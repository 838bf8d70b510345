// libFuzzer target for the tensor bundle decoders that read untrusted update uploads: the whole-message
// DecodeBundle (zstd frames included) and the chunked ParseBundleStream behind ReadBundleFileChunks. Inputs must
// give a Status, never a crash, a sanitizer report or a sink protocol violation. Build with clang and
// -DFEDLOG_FUZZ=ON (docs/PARSING.md, "Robustness and fuzzing"); run: build-fuzz/fuzz/bundle_fuzzer -max_total_time=60
#include <google/protobuf/io/coded_stream.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/fl/bundle_codec.h"
#include "common/fl/bundle_parse.h"

namespace {

// Aborts (a finding) when the parser breaks the TensorSink contract.
class CheckingSink : public fedlog::fl::TensorSink {
 public:
  absl::Status BeginTensor(const std::string&, const std::vector<int64_t>& shape) override {
    if (open_) std::abort();
    open_ = true;
    expected_ = 1;
    for (int64_t d : shape) expected_ *= d;
    got_ = 0;
    return absl::OkStatus();
  }
  absl::Status TensorValues(const float*, size_t n) override {
    got_ += static_cast<int64_t>(n);
    if (!open_ || got_ > expected_) std::abort();
    return absl::OkStatus();
  }
  absl::Status EndTensor() override {
    if (!open_ || got_ != expected_) std::abort();
    open_ = false;
    return absl::OkStatus();
  }

 private:
  bool open_ = false;
  int64_t expected_ = 0, got_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)fedlog::fl::DecodeBundle(bytes);
  google::protobuf::io::CodedInputStream in(data, static_cast<int>(size));
  CheckingSink sink;
  (void)fedlog::fl::internal::ParseBundleStream(&in, &sink);
  return 0;
}
