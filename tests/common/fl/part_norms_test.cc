// Part norms (common/fl/part_norms.h): the same bits whatever the chunking and from either source (the upload
// check or a pass over the file); stored ones give the round reading the file again would; and the clipping
// norm is that of what an update contributes (an adapter of a source its site is not admitted for counts for
// nothing).
#include "common/fl/part_norms.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"
#include "common/fl/strategy.h"
#include "common/fl/stream_aggregate.h"
#include "gtest/gtest.h"
#include "tests/common/fl/spool_dir_test_base.h"

namespace fedlog::fl {
namespace {

std::vector<float> RandomValues(uint64_t seed, size_t n, float sd) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(SquaredSumTest, TheSameBitsWhateverTheChunking) {
  const std::vector<float> v = RandomValues(1, 1003, 1.0f);
  SquaredSum whole;
  whole.Add(v.data(), v.size());
  double naive = 0;
  for (float x : v) naive += static_cast<double>(x) * x;
  EXPECT_NEAR(whole.Total(), naive, 1e-9 * naive);
  for (size_t chunk : {1, 3, 7, 8, 13, 500}) {
    SquaredSum pieces;
    for (size_t at = 0; at < v.size(); at += chunk) pieces.Add(v.data() + at, std::min(chunk, v.size() - at));
    EXPECT_EQ(pieces.Total(), whole.Total()) << "chunks of " << chunk;
  }
  EXPECT_EQ(SquaredSum().Total(), 0);
}

TEST(PartNormsTest, EncodingIsExactAndMalformedTextIsRefused) {
  PartNorms p;
  p.shared = 1.0 / 3;
  p.adapters["HDFS"] = 2.5e-7;
  p.adapters["BGL_2"] = 0;
  auto back = DecodePartNorms(EncodePartNorms(p));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shared, p.shared);
  EXPECT_EQ(back->adapters, p.adapters);
  ASSERT_TRUE(DecodePartNorms(EncodePartNorms(PartNorms())).ok());
  for (const char* bad : {"", "shared", "HDFS=0x1p+0", "shared=-0x1p+0", "shared=nan", "shared=inf",
                          "shared=0x1p+0;HDFS=1;HDFS=2", "shared=0x1p+0;a.b=1", "shared=1x", "shared=1;=2"}) {
    EXPECT_FALSE(DecodePartNorms(bad).ok()) << bad;
  }
}

TEST(PartNormsTest, IncludedTakesSharedAndTheEntitledAdaptersOnly) {
  TensorBundle b;
  b.tensors.push_back({"w", {2}, {3, 4}});
  b.tensors.push_back({"prototypes.global", {1}, {1}});
  b.tensors.push_back({"adapter.HDFS.up.bias", {1}, {2}});
  b.tensors.push_back({"adapter.BGL.up.bias", {1}, {10}});
  const PartNorms p = PartNormsOf(b);
  EXPECT_EQ(p.shared, 26);
  EXPECT_EQ(p.Included({}), 26);
  EXPECT_EQ(p.Included({"HDFS"}), 30);
  EXPECT_EQ(p.Included({"HDFS", "BGL", "Spark"}), 130);
}

class PartNormFileTest : public testing::SpoolDirTest {
 protected:
  // A line-encoder-like update: one shared tensor, prototypes.global and the adapters of HDFS and BGL
  // (out_dim 4, adapter_dim 2), values of scale `sd` (the BGL adapter's times `bgl_factor`).
  static TensorBundle Update(uint64_t seed, float sd, float bgl_factor = 1) {
    TensorBundle b;
    b.tensors.push_back({"w", {1000}, RandomValues(seed, 1000, sd)});
    b.tensors.push_back({"prototypes.global", {2, 4}, RandomValues(seed + 1, 8, sd)});
    for (const std::string s : {"HDFS", "BGL"}) {
      const float f = s == "BGL" ? bgl_factor : 1;
      b.tensors.push_back({absl::StrCat("adapter.", s, ".down.weight"), {2, 4}, RandomValues(seed + 2, 8, sd * f)});
      b.tensors.push_back({absl::StrCat("adapter.", s, ".up.bias"), {4}, RandomValues(seed + 3, 4, sd * f)});
    }
    return b;
  }
  static BundleLayout Global() { return {{"w", {1000}}}; }

  // Writes `b` as an update file of `site` entitled to `sources`, with the part norms the upload check
  // computes from the file (the aggregator's FinishUpload).
  UpdateFile Stored(const std::string& site, const TensorBundle& b, std::vector<std::string> sources) {
    const std::string bytes = *EncodeBundle(b, {WireDType::kFloat32, true, 3});
    UpdateFile f{site, Put(site, bytes), Sha256Hex(bytes), {100, 1, 1, std::move(sources)}, std::nullopt};
    UpdateCheckOptions check;
    check.sources = {"HDFS", "BGL"};
    check.out_dim = 4;
    check.adapter_dim = 2;
    UpdateChecker checker(Global(), check);
    EXPECT_TRUE(ReadBundleFileChunks(f.path, {}, &checker).ok());
    EXPECT_TRUE(checker.Finish().ok());
    f.part_norms = checker.part_norms();
    return f;
  }
};

TEST_F(PartNormFileTest, TheUploadCheckAndAPassOverTheFileGiveTheSameBits) {
  const UpdateFile f = Stored("a", Update(5, 0.3f), {"HDFS"});
  PartNormSink sink;
  ASSERT_TRUE(ReadBundleFileChunks(f.path, {f.sha256}, &sink).ok());
  EXPECT_EQ(sink.parts().shared, f.part_norms->shared);
  EXPECT_EQ(sink.parts().adapters, f.part_norms->adapters);
  EXPECT_EQ(PartNormsOf(Update(5, 0.3f)).adapters, f.part_norms->adapters);
  EXPECT_EQ(f.part_norms->adapters.size(), 2u);
}

// Four honest updates and one boosted, every strategy: with the stored part norms and without them (an update
// stored by an older binary: a pass over the file) the round is the same, bit for bit.
TEST_F(PartNormFileTest, StoredPartNormsGiveTheRoundThatReadingTheFilesGives) {
  std::vector<UpdateFile> stored;
  for (int i = 0; i < 5; ++i) {
    stored.push_back(Stored(absl::StrCat("s", i), Update(10 + i, i == 4 ? 50.0f : 0.1f), {"HDFS"}));
  }
  std::vector<UpdateFile> unstored = stored;
  for (UpdateFile& f : unstored) f.part_norms.reset();
  for (StrategyKind kind : {StrategyKind::kFedAvg, StrategyKind::kMedian}) {
    StrategyOptions o;
    o.kind = kind;
    o.adaptive_clip_multiple = kDefaultAdaptiveClipMultiple;
    ClipDecision with, without;
    auto a = AggregateUpdateFiles(Global(), stored, o, {dir_}, &with);
    auto b = AggregateUpdateFiles(Global(), unstored, o, {dir_}, &without);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " " << b.status();
    EXPECT_EQ(with.clipped, 1);
    EXPECT_EQ(with.scales, without.scales);
    EXPECT_EQ(with.reference, without.reference);
    ASSERT_EQ(a->tensors.size(), b->tensors.size());
    for (size_t t = 0; t < a->tensors.size(); ++t) EXPECT_EQ(a->tensors[t].values, b->tensors[t].values);
  }
}

// The fedavg pass takes the stored numbers as they are (it does not read the file for them): a stored norm
// that differs from the file's decides; and a file changed after upload is still refused by its digest.
TEST_F(PartNormFileTest, FedAvgUsesTheStoredNumbersAndStillChecksTheDigest) {
  std::vector<UpdateFile> files;
  for (int i = 0; i < 3; ++i) files.push_back(Stored(absl::StrCat("s", i), Update(20 + i, 0.1f), {"HDFS"}));
  StrategyOptions o;
  o.adaptive_clip_multiple = 2;
  ClipDecision honest;
  ASSERT_TRUE(AggregateUpdateFiles(Global(), files, o, {dir_}, &honest).ok());
  EXPECT_EQ(honest.clipped, 0);
  files[2].part_norms->shared *= 100;
  ClipDecision told;
  ASSERT_TRUE(AggregateUpdateFiles(Global(), files, o, {dir_}, &told).ok());
  EXPECT_EQ(told.clipped, 1);
  EXPECT_LT(told.scales[2], 0.5);
  files[2].part_norms->shared /= 100;
  const std::string other = *EncodeBundle(Update(99, 0.1f));
  Put("s1", other);  // replaced on disk after its digest and norms were stored
  auto changed = AggregateUpdateFiles(Global(), files, o, {dir_});
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kDataLoss) << changed.status();
}

// A site declared BGL but is admitted for HDFS only: its BGL adapter, however large, is left out of the
// aggregate and of its norm, from stored numbers, from the file, in memory, and with the robust strategies.
TEST_F(PartNormFileTest, AnAdapterLeftOutOfTheAggregateIsLeftOutOfTheNorm) {
  std::vector<UpdateFile> files;
  std::vector<TensorBundle> deltas;
  for (int i = 0; i < 3; ++i) {
    deltas.push_back(Update(30 + i, 0.1f, i == 0 ? 1e4f : 1.0f));
    files.push_back(Stored(absl::StrCat("s", i), deltas.back(), {"HDFS"}));
  }
  std::vector<UpdateFile> unstored = files;
  for (UpdateFile& f : unstored) f.part_norms.reset();
  TensorBundle global;
  global.tensors.push_back({"w", {1000}, std::vector<float>(1000, 0.0f)});
  std::vector<ClientUpdate> in;
  for (size_t i = 0; i < deltas.size(); ++i) in.push_back({files[i].site, &deltas[i], files[i].stats});
  for (StrategyKind kind : {StrategyKind::kFedAvg, StrategyKind::kTrimmedMean}) {
    StrategyOptions o;
    o.kind = kind;
    o.adaptive_clip_multiple = 2;
    ClipDecision from_store, from_file, in_memory;
    ASSERT_TRUE(AggregateUpdateFiles(Global(), files, o, {dir_}, &from_store).ok());
    ASSERT_TRUE(AggregateUpdateFiles(Global(), unstored, o, {dir_}, &from_file).ok());
    ASSERT_TRUE(AggregateDeltas(global, in, o, &in_memory).ok());
    for (const ClipDecision* d : {&from_store, &from_file, &in_memory}) {
      EXPECT_EQ(d->clipped, 0) << StrategyName(kind);
      EXPECT_LT(d->ratios[0], 1.5) << StrategyName(kind);
    }
    EXPECT_EQ(from_store.ratios, from_file.ratios);
    EXPECT_EQ(from_store.ratios, in_memory.ratios);
    // Once admitted for BGL, the same update's adapter counts and it is clipped.
    files[0].stats.sources = {"HDFS", "BGL"};
    ClipDecision admitted;
    ASSERT_TRUE(AggregateUpdateFiles(Global(), files, o, {dir_}, &admitted).ok());
    EXPECT_EQ(admitted.clipped, 1);
    files[0].stats.sources = {"HDFS"};
  }
}

// Session 22 left open a source admitted in the middle of a run: from the admission round on, the admitted
// site's update carries that source's adapter (new to the model: its full value), while the reference carried
// from the previous round was computed without it. The carried reference is one element of the pool, so it
// moves the lower median by at most one place among the round's norms (with one update, it is r): a boosted
// update, or a boosted new adapter, is still scaled to M r; an honest admitted site is scaled only when its
// norm with the new adapter exceeds M r (with r the carried one in a round of one update).
TEST_F(PartNormFileTest, ASourceAdmittedMidRunKeepsBoostsBoundedAndHonestUpdatesWithinMr) {
  auto update = [](float shared, float bgl) {
    TensorBundle b;
    b.tensors.push_back({"w", {1000}, std::vector<float>(1000, shared)});
    b.tensors.push_back({"adapter.HDFS.up.bias", {4}, std::vector<float>(4, shared)});
    if (bgl > 0) b.tensors.push_back({"adapter.BGL.up.bias", {4}, std::vector<float>(4, bgl)});
    return b;
  };
  const BundleLayout global = {{"w", {1000}}, {"adapter.HDFS.up.bias", {4}}};
  const double unit = std::sqrt(1004.0) * 0.01;  // the norm of update(0.01, 0)
  StrategyOptions o;
  o.adaptive_clip_multiple = 4;
  // Round 1: three sites on HDFS only.
  std::vector<UpdateFile> r1;
  for (float c : {0.01f, 0.011f, 0.009f}) {
    const std::string bytes = *EncodeBundle(update(c, 0));
    r1.push_back({absl::StrCat("s", r1.size()), Put(absl::StrCat("r1.", r1.size()), bytes), Sha256Hex(bytes),
                  {100, 1, 1, {"HDFS"}}, PartNormsOf(update(c, 0))});
  }
  ClipDecision first;
  ASSERT_TRUE(AggregateUpdateFiles(global, r1, o, {dir_}, &first).ok());
  EXPECT_NEAR(first.reference, unit, 1e-6);
  // Round 2: site s0 admitted for BGL; its adapter's full value has norm `bgl_norm` x unit.
  auto round2 = [&](const std::vector<std::pair<float, double>>& sites, ClipDecision* d) {
    std::vector<UpdateFile> files;
    for (const auto& [shared, bgl_norm] : sites) {
      const float bgl = static_cast<float>(bgl_norm * unit / 2);  // four values: norm = 2 x value
      const TensorBundle b = update(shared, bgl);
      const std::string bytes = *EncodeBundle(b);
      const std::string name = absl::StrCat("r2.", files.size());
      files.push_back({name, Put(name, bytes), Sha256Hex(bytes),
                       {100, 1, 1, files.empty() ? std::vector<std::string>{"HDFS", "BGL"}
                                                 : std::vector<std::string>{"HDFS"}},
                       PartNormsOf(b)});
    }
    StrategyOptions carried = o;
    carried.carried_reference = first.reference;
    return AggregateUpdateFiles(global, files, carried, {dir_}, d);
  };
  ClipDecision d;
  // Three sites, the admitted one with an adapter as large as a round's update: nobody is clipped.
  ASSERT_TRUE(round2({{0.01f, 1.0}, {0.01f, 0}, {0.012f, 0}}, &d).ok());
  EXPECT_EQ(d.clipped, 0);
  // A boosted site beside the admitted one: scaled to M r, r an honest norm.
  ASSERT_TRUE(round2({{0.01f, 1.0}, {0.01f, 0}, {1e4f, 0}}, &d).ok());
  EXPECT_EQ(d.clipped, 1);
  EXPECT_LT(d.scales[2], 1e-4);
  EXPECT_DOUBLE_EQ(d.scales[0], 1.0);
  EXPECT_LE(d.bound, 4 * 1.2 * unit + 1e-9);
  // A boosted new adapter: its update is scaled to M r as a whole.
  ASSERT_TRUE(round2({{0.01f, 1e6}, {0.01f, 0}, {0.011f, 0}}, &d).ok());
  EXPECT_EQ(d.clipped, 1);
  EXPECT_NEAR(d.scales[0] * std::sqrt(1e12 + 1) * unit, d.bound, 1e-6 * d.bound);
  // The admitted site alone in its round: r is the carried reference (computed without the adapter). It passes
  // while its norm is within M r (adapter 3 x: norm sqrt(10) x unit < 4 x unit) ...
  ASSERT_TRUE(round2({{0.01f, 3.0}}, &d).ok());
  EXPECT_DOUBLE_EQ(d.reference, first.reference);
  EXPECT_EQ(d.clipped, 0);
  // ... and an adapter above sqrt(M^2 - 1) r has it scaled down for that round (the limit docs state).
  ASSERT_TRUE(round2({{0.01f, 5.0}}, &d).ok());
  EXPECT_EQ(d.clipped, 1);
  EXPECT_GT(d.scales[0], 0.75);
}

}  // namespace
}  // namespace fedlog::fl
