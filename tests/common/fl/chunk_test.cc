// Chunked decoding (ReadBundleFileChunks into a TensorSink) against the whole-tensor path it replaced in the
// aggregator: the accumulator, the update checker and the streamed server step must give the same bits.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/bundle_parse.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"
#include "common/fl/server_optimizer.h"
#include "fedlog/v1/model.pb.h"
#include "gtest/gtest.h"
#include "tests/common/fl/spool_dir_test_base.h"

namespace fedlog::fl {
namespace {

// Several chunks per big tensor (internal::kChunkValues values each), a partial last chunk, a scalar, an empty
// tensor and an optional adapter tensor.
TensorBundle RandomBundle(uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  TensorBundle b;
  b.tensors.push_back({"w1", {3, static_cast<int64_t>(internal::kChunkValues) + 77}, {}});
  b.tensors.push_back({"b1", {129}, {}});
  b.tensors.push_back({"scalar", {}, {}});
  b.tensors.push_back({"empty", {0, 4}, {}});
  b.tensors.push_back({"adapter.HDFS.down.bias", {2 * static_cast<int64_t>(internal::kChunkValues)}, {}});
  for (auto& t : b.tensors) {
    t.values.resize(static_cast<size_t>(t.NumElements()));
    for (float& v : t.values) v = d(rng);
  }
  return b;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

using ChunkTest = testing::SpoolDirTest;

const EncodeOptions kEncodings[] = {{WireDType::kFloat32, false, 3}, {WireDType::kFloat32, true, 3},
                                    {WireDType::kFloat16, false, 3}, {WireDType::kFloat16, true, 3},
                                    {WireDType::kInt8, false, 3},    {WireDType::kInt8, true, 3}};

TEST_F(ChunkTest, ChunkedDecodeIntoAccumulatorEqualsWholeTensorPathBitForBit) {
  const BundleLayout layout = LayoutOf(RandomBundle(0, 1));
  for (const EncodeOptions& o : kEncodings) {
    WeightedAverager whole(layout), chunked(layout);
    for (int i = 0; i < 4; ++i) {
      const std::string bytes = *EncodeBundle(RandomBundle(100 + i, 0.1f * (i + 1)), o);
      const std::string path = Put("u" + std::to_string(i), bytes);
      const double weight = 10.0 + 7 * i;
      const std::vector<std::string> sources = {i % 2 == 0 ? "HDFS" : "BGL"};
      auto decoded = DecodeBundle(bytes);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      ASSERT_TRUE(whole.Add(*decoded, weight, sources, 0.75).ok());
      ASSERT_TRUE(chunked.BeginUpdate(weight, sources, 0.75).ok());
      ASSERT_TRUE(ReadBundleFileChunks(path, {Sha256Hex(bytes)}, &chunked).ok());
      ASSERT_TRUE(chunked.EndUpdate().ok());
    }
    auto a = whole.TakeMean();
    auto b = chunked.TakeMean();
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->tensors.size(), b->tensors.size());
    for (size_t t = 0; t < a->tensors.size(); ++t) {
      EXPECT_EQ(a->tensors[t].name, b->tensors[t].name);
      EXPECT_TRUE(SameBits(a->tensors[t].values, b->tensors[t].values))
          << a->tensors[t].name << " dtype " << static_cast<int>(o.dtype) << " zstd " << o.zstd;
    }
  }
}

TEST_F(ChunkTest, ChunkedCheckerGivesTheSameNormAndReportsTheGlobalIndex) {
  TensorBundle delta = RandomBundle(7, 0.5f);
  const BundleLayout layout = LayoutOf(delta);
  UpdateCheckOptions rules;
  rules.sources = {"HDFS"};
  for (const EncodeOptions& o : kEncodings) {
    const std::string bytes = *EncodeBundle(delta, o);
    auto decoded = DecodeBundle(bytes);
    ASSERT_TRUE(decoded.ok());
    UpdateChecker whole(layout, rules), chunked(layout, rules);
    for (const auto& t : decoded->tensors) ASSERT_TRUE(whole.Check(t).ok());
    ASSERT_TRUE(ReadBundleFileChunks(Put("d", bytes), {}, &chunked).ok());
    EXPECT_TRUE(chunked.Finish().ok());
    EXPECT_EQ(whole.squared_norm(), chunked.squared_norm());
  }
  // A non-finite value in a later chunk is reported at its index in the tensor, as the whole-tensor check does.
  const size_t bad = internal::kChunkValues * 2 + 5;
  delta.tensors[0].values[bad] = std::numeric_limits<float>::infinity();
  UpdateChecker chunked(layout, rules);
  absl::Status st = ReadBundleFileChunks(Put("bad", *EncodeBundle(delta)), {}, &chunked);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("non-finite value at index " + std::to_string(bad)), std::string::npos) << st;
  UpdateChecker whole(layout, rules);
  EXPECT_EQ(whole.Check(delta.tensors[0]).message(), st.message());
}

// A tensor message whose fields come in an unusual order, built by concatenating serialized messages (protobuf
// merges them): valid protobuf, so it decodes as DecodeBundle decodes it.
std::string Concat(const v1::Tensor& first, const v1::Tensor& second) {
  const std::string tensor = first.SerializeAsString() + second.SerializeAsString();
  std::string out;  // TensorBundle field 1, length-delimited

  out.push_back(static_cast<char>((1 << 3) | 2));
  uint64_t n = tensor.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + tensor;
}

TEST_F(ChunkTest, DataBeforeItsMetadataIsHeldUntilTheTensorEndsAndMetadataAfterStreamedDataIsRefused) {
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -1.0f};
  v1::Tensor data_only;
  data_only.set_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  v1::Tensor meta;
  meta.set_name("w");
  meta.set_dtype(v1::DTYPE_FLOAT32);
  meta.add_shape(2);
  meta.add_shape(3);
  const std::string odd = Concat(data_only, meta);
  auto reference = DecodeBundle(odd);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto read = ReadBundleFileWhole(Put("odd", odd));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->tensors.size(), 1u);
  EXPECT_EQ(read->tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(SameBits(read->tensors[0].values, reference->tensors[0].values));

  v1::Tensor whole = meta;
  whole.set_data(data_only.data());
  v1::Tensor late_shape;
  late_shape.add_shape(1);
  auto refused = ReadBundleFileWhole(Put("late", Concat(whole, late_shape)));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerStepSpanTest, SpansInAnyPiecesEqualTheWholeStepForEveryOptimizer) {
  TensorBundle global = RandomBundle(1, 1.0f);
  TensorBundle delta = RandomBundle(2, 0.01f);
  for (ServerOptimizerKind kind :
       {ServerOptimizerKind::kNone, ServerOptimizerKind::kFedAdam, ServerOptimizerKind::kFedYogi}) {
    ServerOptimizerOptions o;
    o.kind = kind;
    o.server_lr = 0.7;
    ServerOptimizerState whole_state, span_state;
    for (int round = 0; round < 2; ++round) {  // the second round starts from existing moments
      TensorBundle whole = delta;
      ASSERT_TRUE(ApplyServerUpdateInPlace(global, o, &whole_state, &whole).ok());
      TensorBundle spans = delta;
      ASSERT_TRUE(PrepareServerUpdate(LayoutOf(global), o, &span_state).ok());
      std::mt19937 rng(round);
      for (auto& t : spans.tensors) {
        const float* base = global.Find(t.name)->values.data();
        for (size_t off = 0; off < t.values.size();) {
          const size_t n = std::min<size_t>(t.values.size() - off, 1 + rng() % 5000);
          ASSERT_TRUE(ApplyServerUpdateSpan(t.name, off, base + off, n, o, &span_state, t.values.data() + off).ok());
          off += n;
        }
      }
      FinishServerUpdate(o, &span_state);
      EXPECT_EQ(whole_state.steps, span_state.steps);
      for (size_t t = 0; t < whole.tensors.size(); ++t) {
        EXPECT_TRUE(SameBits(whole.tensors[t].values, spans.tensors[t].values)) << whole.tensors[t].name;
      }
      for (size_t t = 0; t < whole_state.m.tensors.size(); ++t) {
        EXPECT_TRUE(SameBits(whole_state.m.tensors[t].values, span_state.m.tensors[t].values));
        EXPECT_TRUE(SameBits(whole_state.v.tensors[t].values, span_state.v.tensors[t].values));
      }
      global = whole;
    }
  }
}

// Counts what the parser hands over and checks the sink protocol (values only inside a tensor, never more
// than the shape holds).
class CountingSink : public TensorSink {
 public:
  absl::Status BeginTensor(const std::string&, const std::vector<int64_t>& shape) override {
    EXPECT_FALSE(open_);
    open_ = true;
    expected_ = 1;
    for (int64_t d : shape) expected_ *= d;
    got_ = 0;
    return absl::OkStatus();
  }
  absl::Status TensorValues(const float*, size_t n) override {
    EXPECT_TRUE(open_);
    got_ += static_cast<int64_t>(n);
    EXPECT_LE(got_, expected_);
    return absl::OkStatus();
  }
  absl::Status EndTensor() override {
    EXPECT_TRUE(open_);
    EXPECT_EQ(got_, expected_);
    open_ = false;
    return absl::OkStatus();
  }

 private:
  bool open_ = false;
  int64_t expected_ = 0, got_ = 0;
};

// Untrusted upload bytes: truncations and random byte flips of valid bundles, in every encoding, give either a
// clean parse or an InvalidArgument / DataLoss status, never a crash, a hang or a sink protocol violation.
TEST_F(ChunkTest, DamagedBundlesAreRefusedCleanly) {
  TensorBundle b;
  b.tensors.push_back({"w", {40, 3}, std::vector<float>(120, 0.25f)});
  b.tensors.push_back({"adapter.HDFS.up.bias", {7}, std::vector<float>(7, -1.5f)});
  std::mt19937_64 rng(11);
  int refused = 0, parsed = 0;
  for (const EncodeOptions& o : kEncodings) {
    const std::string good = *EncodeBundle(b, o);
    for (int trial = 0; trial < 300; ++trial) {
      std::string bytes = good;
      if (trial % 3 == 0) {
        bytes.resize(std::uniform_int_distribution<size_t>(0, good.size() - 1)(rng));
      } else {
        const int flips = 1 + trial % 4;
        for (int f = 0; f < flips; ++f) {
          const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng);
          bytes[at] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
        }
      }
      CountingSink sink;
      const absl::Status st = ReadBundleFileChunks(Put("damaged", bytes), {}, &sink);
      if (st.ok()) {
        ++parsed;
      } else {
        ++refused;
        EXPECT_TRUE(st.code() == absl::StatusCode::kInvalidArgument ||
                    st.code() == absl::StatusCode::kDataLoss)
            << st;
      }
    }
  }
  EXPECT_GT(refused, 0);  // truncations alone guarantee some
  EXPECT_GT(refused + parsed, 0);
}

// A zstd frame's content size is a claim: 14 bytes claiming far more than they hold are refused, not
// allocated (found by tests/fuzz/bundle_fuzzer.cc), while a legitimately extreme ratio (a zero delta)
// still round-trips.
// Peak resident memory of this process in MiB (VmHWM), or -1 when /proc is not readable.
long PeakRssMb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb < 0 ? -1 : kb / 1024;
}

TEST(ZstdTest, HeaderClaimsAreNotTrustedAndZerosRoundTrip) {
  const unsigned char lying[] = {0x28, 0xb5, 0x2f, 0xfd, 0xa7, 0x1a, 0x6c, 0x0a,
                                 0xff, 0x0e, 0x00, 0x31, 0x6c, 0xa7};
  const long before = PeakRssMb();
  auto bad = DecodeBundle(std::string(reinterpret_cast<const char*>(lying), sizeof(lying)));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  if (before >= 0) EXPECT_LT(PeakRssMb() - before, 64) << "the claimed size was allocated";
  TensorBundle zeros;
  zeros.tensors.push_back({"w", {1 << 21}, std::vector<float>(size_t{1} << 21, 0.0f)});
  EncodeOptions o;
  o.zstd = true;
  const std::string packed = *EncodeBundle(zeros, o);
  EXPECT_LT(packed.size(), size_t{4096});  // 8 MiB of zeros
  auto back = DecodeBundle(packed);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBits(back->tensors[0].values, zeros.tensors[0].values));
  // Trailing bytes after the frame and a cut frame are refused too.
  EXPECT_FALSE(DecodeBundle(packed + "x").ok());
  EXPECT_FALSE(DecodeBundle(packed.substr(0, packed.size() - 3)).ok());
}

// A tensor whose shape claims far more elements than its data holds is refused before anything of that size is
// allocated (found by tests/fuzz/bundle_fuzzer.cc).
TEST(DecodeTest, ShapeClaimsAreNotTrusted) {
  const unsigned char lying[] = {0x0a, 0x0a, 0x18, 0x3f, 0x08, 0x18, 0x18, 0x18, 0x18, 0xf4, 0x92, 0x17};
  const long before = PeakRssMb();
  auto bad = DecodeBundle(std::string(reinterpret_cast<const char*>(lying), sizeof(lying)));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  if (before >= 0) EXPECT_LT(PeakRssMb() - before, 64) << "the claimed shape was allocated";
}

}  // namespace
}  // namespace fedlog::fl
