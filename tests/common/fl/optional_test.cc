// Optional tensors (adapter.* / prototypes.*): validation, aggregation with every strategy, server
// step; and the streaming bundle files and file-based aggregation the aggregator uses to bound its
// memory.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"
#include "common/fl/server_optimizer.h"
#include "common/fl/strategy.h"
#include "common/fl/stream_aggregate.h"
#include "gtest/gtest.h"
#include "tests/common/fl/spool_dir_test_base.h"

namespace fedlog::fl {
namespace {

NamedTensor Filled(const std::string& name, std::vector<int64_t> shape, float v) {
  NamedTensor t{name, std::move(shape), {}};
  t.values.assign(static_cast<size_t>(t.NumElements()), v);
  return t;
}

TensorBundle Shared(float w) {
  TensorBundle b;
  b.tensors.push_back(Filled("w", {3}, w));
  return b;
}

UpdateCheckOptions EncoderRules(std::vector<std::string> sources) {
  UpdateCheckOptions o;
  o.sources = std::move(sources);
  o.out_dim = 4;
  o.adapter_dim = 2;
  return o;
}

TEST(OptionalCheckTest, AcceptsOwnAdaptersAndPrototypesInTheSpecShapes) {
  TensorBundle global = Shared(0);
  TensorBundle d = Shared(0.1f);
  d.tensors.push_back(Filled("adapter.HDFS.down.weight", {2, 4}, 0.5f));
  d.tensors.push_back(Filled("adapter.HDFS.down.bias", {2}, 0.5f));
  d.tensors.push_back(Filled("adapter.HDFS.up.weight", {4, 2}, 0.5f));
  d.tensors.push_back(Filled("adapter.HDFS.up.bias", {4}, 0.5f));
  d.tensors.push_back(Filled("adapter.HDFS.prototypes", {2, 4}, 0.5f));
  d.tensors.push_back(Filled("prototypes.global", {2, 4}, 0.5f));
  EXPECT_TRUE(CheckUpdate(global, d, EncoderRules({"HDFS"})).ok())
      << CheckUpdate(global, d, EncoderRules({"HDFS"}));
}

TEST(OptionalCheckTest, RefusesForeignSourcesWrongShapesNonFiniteAndMissingShared) {
  TensorBundle global = Shared(0);
  TensorBundle foreign = Shared(0);
  foreign.tensors.push_back(Filled("adapter.BGL.down.weight", {2, 4}, 0.5f));
  absl::Status st = CheckUpdate(global, foreign, EncoderRules({"HDFS"}));
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("did not report"), std::string::npos) << st;

  TensorBundle shape = Shared(0);
  shape.tensors.push_back(Filled("adapter.HDFS.down.weight", {4, 2}, 0.5f));
  EXPECT_NE(CheckUpdate(global, shape, EncoderRules({"HDFS"})).message().find("shape"),
            std::string::npos);
  TensorBundle proto = Shared(0);
  proto.tensors.push_back(Filled("prototypes.global", {3, 4}, 0.5f));
  EXPECT_FALSE(CheckUpdate(global, proto, EncoderRules({})).ok());
  TensorBundle unknown = Shared(0);
  unknown.tensors.push_back(Filled("adapter.HDFS.side.weight", {2}, 0.5f));
  EXPECT_FALSE(CheckUpdate(global, unknown, EncoderRules({"HDFS"})).ok());

  TensorBundle nan = Shared(0);
  nan.tensors.push_back(Filled("adapter.HDFS.up.bias", {4}, 0.5f));
  nan.tensors.back().values[2] = std::nanf("");
  EXPECT_NE(CheckUpdate(global, nan, EncoderRules({"HDFS"})).message().find("non-finite"),
            std::string::npos);

  TensorBundle missing;
  missing.tensors.push_back(Filled("adapter.HDFS.up.bias", {4}, 0.5f));
  EXPECT_NE(
      CheckUpdate(global, missing, EncoderRules({"HDFS"})).message().find("missing tensor 'w'"),
      std::string::npos);
  TensorBundle extra = Shared(0);
  extra.tensors.push_back(Filled("encoder.extra", {1}, 0));
  EXPECT_NE(CheckUpdate(global, extra, EncoderRules({})).message().find("unexpected"),
            std::string::npos);
}

TEST(OptionalCheckTest, WithoutSpecShapesOnlyTensorsOfTheModelAreAccepted) {
  TensorBundle global = Shared(0);
  global.tensors.push_back(Filled("adapter.HDFS.down.weight", {1}, 0));
  UpdateCheckOptions mlp;
  mlp.sources = {"HDFS"};
  TensorBundle ok = Shared(0);
  ok.tensors.push_back(Filled("adapter.HDFS.down.weight", {1}, 2));
  EXPECT_TRUE(CheckUpdate(global, ok, mlp).ok());
  EXPECT_TRUE(
      CheckUpdate(global, Shared(1), mlp).ok());  // optional tensors of the model may be left out
  TensorBundle fresh = Shared(0);
  fresh.tensors.push_back(Filled("prototypes.global", {2, 4}, 0));
  EXPECT_FALSE(CheckUpdate(global, fresh, mlp).ok());
}

TEST(OptionalAverageTest, NewOptionalTensorsAreAveragedOverTheirCarriersOnly) {
  WeightedAverager avg(Shared(0));
  TensorBundle a = Shared(1), b = Shared(5);
  a.tensors.push_back(Filled("adapter.HDFS.x", {2}, 2));
  a.tensors.push_back(Filled("prototypes.global", {1}, 10));
  b.tensors.push_back(Filled("adapter.BGL.x", {2}, 4));
  b.tensors.push_back(Filled("prototypes.global", {1}, 30));
  ASSERT_TRUE(avg.Add(a, 1, {"HDFS"}).ok());
  ASSERT_TRUE(avg.Add(b, 3, {"BGL"}).ok());
  auto mean = avg.TakeMean();
  ASSERT_TRUE(mean.ok()) << mean.status();
  ASSERT_EQ(mean->tensors.size(), 4u);
  EXPECT_EQ(mean->tensors[0].name,
            "w");  // the model's tensors first, then new ones as they arrived
  EXPECT_EQ(mean->tensors[1].name, "adapter.HDFS.x");
  EXPECT_FLOAT_EQ(mean->Find("w")->values[0], (1 * 1 + 5 * 3) / 4.0f);
  EXPECT_FLOAT_EQ(mean->Find("adapter.HDFS.x")->values[1], 2.0f);  // renormalised over site a
  EXPECT_FLOAT_EQ(mean->Find("adapter.BGL.x")->values[0], 4.0f);   // renormalised over site b
  EXPECT_FLOAT_EQ(mean->Find("prototypes.global")->values[0], (10 * 1 + 30 * 3) / 4.0f);
  EXPECT_FALSE(avg.TakeMean().ok());  // emptied
}

TEST(OptionalAverageTest, StreamingUpdateMissingASharedTensorPoisonsTheAverager) {
  WeightedAverager avg(Shared(0));
  ASSERT_TRUE(avg.BeginUpdate(1).ok());
  ASSERT_TRUE(avg.AddTensor(Filled("prototypes.global", {1}, 1)).ok());
  EXPECT_FALSE(avg.EndUpdate().ok());
  EXPECT_FALSE(avg.BeginUpdate(1).ok());
}

TEST(OptionalStrategyTest, EveryStrategyTakesNewOptionalTensorsFromTheirCarriers) {
  TensorBundle global = Shared(0);
  std::vector<TensorBundle> deltas;
  for (float v : {1.0f, 2.0f, 100.0f}) {
    deltas.push_back(Shared(v));
    deltas.back().tensors.push_back(Filled("adapter.HDFS.x", {2}, v));
  }
  deltas[0].tensors.push_back(Filled("prototypes.global", {2}, 7));
  std::vector<ClientUpdate> ups;
  for (size_t i = 0; i < deltas.size(); ++i) ups.push_back({"s", &deltas[i], {10, 1, 1, {"HDFS"}}});
  for (StrategyKind kind : {StrategyKind::kFedAvg, StrategyKind::kWeightedFedAvg,
                            StrategyKind::kMedian, StrategyKind::kTrimmedMean}) {
    StrategyOptions o;
    o.kind = kind;
    o.trim_fraction = 0.34;  // one value per side of three
    auto agg = AggregateDeltas(global, ups, o);
    ASSERT_TRUE(agg.ok()) << StrategyName(kind) << ": " << agg.status();
    ASSERT_NE(agg->Find("adapter.HDFS.x"), nullptr) << StrategyName(kind);
    EXPECT_FLOAT_EQ(agg->Find("prototypes.global")->values[0], 7.0f) << StrategyName(kind);
    const float expected =
        kind == StrategyKind::kFedAvg || kind == StrategyKind::kWeightedFedAvg ? 103.0f / 3 : 2.0f;
    EXPECT_NEAR(agg->Find("adapter.HDFS.x")->values[0], expected, 1e-4) << StrategyName(kind);
    EXPECT_NEAR(agg->Find("w")->values[0], expected, 1e-4) << StrategyName(kind);
  }
}

TEST(OptionalServerStepTest, OptimisersSkipOptionalTensorsAndNewOnesEnterAsTheirMean) {
  TensorBundle global = Shared(1);
  global.tensors.push_back(Filled("adapter.HDFS.x", {1}, 1));
  TensorBundle delta = Shared(0.5f);
  delta.tensors.push_back(Filled("adapter.HDFS.x", {1}, -0.25f));
  delta.tensors.push_back(Filled("adapter.BGL.x", {1}, 3));
  for (ServerOptimizerKind kind :
       {ServerOptimizerKind::kNone, ServerOptimizerKind::kFedAdam, ServerOptimizerKind::kFedYogi}) {
    ServerOptimizerOptions o;
    o.kind = kind;
    o.server_lr = 2;
    o.lr = 0.1;
    ServerOptimizerState state;
    TensorBundle next = delta;
    ASSERT_TRUE(ApplyServerUpdateInPlace(global, o, &state, &next).ok());
    EXPECT_FLOAT_EQ(next.Find("adapter.HDFS.x")->values[0],
                    0.75f);  // plain step, no server_lr, no moments
    EXPECT_FLOAT_EQ(next.Find("adapter.BGL.x")->values[0], 3.0f);  // new: base 0 + mean
    if (kind == ServerOptimizerKind::kNone) {
      EXPECT_FLOAT_EQ(next.Find("w")->values[0], 2.0f);  // 1 + 2 * 0.5
    } else {
      EXPECT_GT(next.Find("w")->values[0], 1.0f);
      EXPECT_EQ(state.m.Find("adapter.HDFS.x"), nullptr);
      EXPECT_NE(state.m.Find("w"), nullptr);
    }
  }
  TensorBundle short_delta;
  short_delta.tensors.push_back(Filled("adapter.HDFS.x", {1}, 0));
  ServerOptimizerState state;
  EXPECT_FALSE(ApplyServerUpdateInPlace(global, {}, &state, &short_delta).ok());
}

class StreamTest : public testing::SpoolDirTest {
 protected:
  static TensorBundle Random(uint64_t seed, int64_t n, bool adapter) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    TensorBundle b;
    b.tensors.push_back({"big", {n}, {}});
    b.tensors.push_back({"scalar", {}, {0}});
    b.tensors.push_back({"empty", {0, 3}, {}});
    if (adapter) b.tensors.push_back({"adapter.HDFS.down.bias", {5}, {}});
    for (auto& t : b.tensors) {
      t.values.resize(static_cast<size_t>(t.NumElements()));
      for (float& v : t.values) v = d(rng);
    }
    return b;
  }
};

TEST_F(StreamTest, WriterBytesEqualEncodeBundleAndReadBackInEveryEncoding) {
  TensorBundle b = Random(1, 3000, true);
  const std::string path = JoinPath(dir_, "m.bundle");
  auto info = WriteBundleFile(path, b);
  ASSERT_TRUE(info.ok()) << info.status();
  auto on_disk = ReadFile(path);
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, *EncodeBundle(b));
  EXPECT_EQ(info->sha256, Sha256Hex(*on_disk));
  EXPECT_EQ(info->size_bytes, static_cast<int64_t>(on_disk->size()));
  for (const EncodeOptions& o :
       {EncodeOptions{WireDType::kFloat32, false, 3}, EncodeOptions{WireDType::kFloat16, true, 3},
        EncodeOptions{WireDType::kInt8, false, 3}, EncodeOptions{WireDType::kInt8, true, 3}}) {
    std::string bytes = *EncodeBundle(b, o);
    auto streamed = ReadBundleFileWhole(Put("enc.bundle", bytes), {Sha256Hex(bytes)});
    auto whole = DecodeBundle(bytes);
    ASSERT_TRUE(streamed.ok() && whole.ok()) << streamed.status();
    ASSERT_EQ(streamed->tensors.size(), whole->tensors.size());
    for (size_t i = 0; i < whole->tensors.size(); ++i) {
      EXPECT_EQ(streamed->tensors[i].name, whole->tensors[i].name);
      EXPECT_EQ(streamed->tensors[i].shape, whole->tensors[i].shape);
      EXPECT_EQ(streamed->tensors[i].values, whole->tensors[i].values);
    }
  }
  auto filtered = WriteBundleFile(path, b, [](const std::string& n) { return n != "big"; });
  ASSERT_TRUE(filtered.ok());
  auto layout = ReadBundleLayout(path, {filtered->sha256});
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->size(), 3u);
}

TEST_F(StreamTest, ReaderRefusesBadDigestsTruncationAndOversizedFrames) {
  std::string bytes = *EncodeBundle(Random(2, 100, false));
  EXPECT_EQ(ReadBundleFileWhole(Put("a", bytes), {std::string(64, '0')}).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_FALSE(ReadBundleFileWhole(Put("b", bytes.substr(0, bytes.size() - 7))).ok());
  EXPECT_FALSE(ReadBundleFileWhole(Put("c", "\xff\xff\xff not a bundle")).ok());
  std::string packed = *EncodeBundle(Random(2, 100, false), {WireDType::kFloat32, true, 3});
  EXPECT_FALSE(ReadBundleFileWhole(Put("d", packed), {"", 100}).ok());
  EXPECT_FALSE(ReadBundleFileWhole(Put("e", packed.substr(0, packed.size() - 5))).ok());
  EXPECT_EQ(ReadBundleFileWhole(JoinPath(dir_, "absent")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StreamTest, FileAggregationMatchesInMemoryForEveryStrategy) {
  TensorBundle global = Random(3, 5000, false);
  std::vector<TensorBundle> deltas;
  std::vector<UpdateFile> files;
  for (int i = 0; i < 5; ++i) {
    deltas.push_back(Random(10 + i, 5000, i % 2 == 0));
    if (i == 4) {
      for (float& v : deltas.back().tensors[0].values) v *= 50;  // an outlier, clipped below
    }
    EncodeOptions enc{WireDType::kFloat32, i == 1, 3};
    std::string bytes = *EncodeBundle(deltas.back(), enc);
    files.push_back({"s" + std::to_string(i),
                     Put("u" + std::to_string(i), bytes),
                     Sha256Hex(bytes),
                     {100 + 10 * i, 5 + i, 1.0 + i, {"HDFS"}},
                     std::nullopt});
  }
  std::vector<ClientUpdate> ups;
  for (size_t i = 0; i < deltas.size(); ++i)
    ups.push_back({files[i].site, &deltas[i], files[i].stats});
  // A fixed bound, and the adaptive bound (with a carried reference) without one.
  for (double multiple : {0.0, 1.5}) {
    for (StrategyKind kind : {StrategyKind::kFedAvg, StrategyKind::kWeightedFedAvg,
                              StrategyKind::kMedian, StrategyKind::kTrimmedMean}) {
      StrategyOptions o;
      o.kind = kind;
      o.clip_norm = multiple > 0 ? 0 : 80;
      o.adaptive_clip_multiple = multiple;
      o.carried_reference = multiple > 0 ? 30 : 0;
      StreamAggregateOptions so;
      so.scratch_dir = dir_;
      so.block_bytes = 4096;  // several column blocks per tensor
      ClipDecision streamed_clip, memory_clip;
      auto streamed = AggregateUpdateFiles(LayoutOf(global), files, o, so, &streamed_clip);
      auto memory = AggregateDeltas(global, ups, o, &memory_clip);
      ASSERT_TRUE(streamed.ok() && memory.ok()) << StrategyName(kind) << ": " << streamed.status();
      EXPECT_GE(memory_clip.clipped, 1) << "the outlier is clipped";
      EXPECT_EQ(streamed_clip.clipped, memory_clip.clipped);
      EXPECT_NEAR(streamed_clip.bound, memory_clip.bound, 1e-6 * memory_clip.bound);
      ASSERT_EQ(streamed->tensors.size(), memory->tensors.size());
      for (size_t t = 0; t < memory->tensors.size(); ++t) {
        ASSERT_EQ(streamed->tensors[t].name, memory->tensors[t].name);
        for (size_t j = 0; j < memory->tensors[t].values.size(); ++j) {
          ASSERT_NEAR(streamed->tensors[t].values[j], memory->tensors[t].values[j], 1e-5)
              << StrategyName(kind) << " " << memory->tensors[t].name << "[" << j << "]";
        }
      }
    }
  }
  // The scratch files of the robust strategies are gone.
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().string().find("robust."), std::string::npos) << e.path();
  }
  files[2].sha256 = std::string(64, 'f');
  EXPECT_FALSE(AggregateUpdateFiles(LayoutOf(global), files, {}, {dir_, 4096}).ok());
}

}  // namespace
}  // namespace fedlog::fl
