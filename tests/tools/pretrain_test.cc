// Public pre-training in the tools (tools/offline/pretrain.h): the public lines leave the excluded systems out and
// carry no source name; `fedlog eval federated --initial-model` starts every model from the file and refuses one
// pre-trained on the protocol's system or one that does not fit the spec.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/base/file_util.h"
#include "common/fl/bundle_stream.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/line_input.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/synth/synth.h"
#include "gtest/gtest.h"
#include "tests/common/labels/test_data.h"
#include "tests/tools/federated_test_sites.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/pretrain.h"

namespace fedlog::offline {
namespace {

class PretrainToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fedlog_pretrain_tools_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(PretrainToolsTest, EvalRefusesAModelPretrainedOnTheProtocolsSystem) {
  FederatedOptions o;
  o.protocol = "hdfs";
  EXPECT_TRUE(CheckInitialModelData(o).ok());  // no initial model
  o.initial_model = Path("m.bundle");
  EXPECT_EQ(CheckInitialModelData(o).code(), absl::StatusCode::kNotFound);  // no .json
  ASSERT_TRUE(WriteFileAtomic(o.initial_model + ".json", "{\n  \"excluded_systems\": \"BGL\",\n}\n").ok());
  EXPECT_EQ(CheckInitialModelData(o).code(), absl::StatusCode::kInvalidArgument);
  o.protocol = "bgl";
  EXPECT_TRUE(CheckInitialModelData(o).ok());
  ASSERT_TRUE(WriteFileAtomic(o.initial_model + ".json", "{\n  \"excluded_systems\": \"BGL,HDFS\",\n}\n").ok());
  o.protocol = "hdfs";
  EXPECT_TRUE(CheckInitialModelData(o).ok());
  o.protocol = "sources";
  EXPECT_EQ(CheckInitialModelData(o).code(), absl::StatusCode::kInvalidArgument);
}

// One synthetic site; the private federation with scope adapters leaves the encoder exactly where it started, so
// its final out.bias is the initial model's.
TEST_F(PretrainToolsTest, EveryModelStartsFromTheInitialModel) {
  logparse::synth::SynthOptions so;
  so.format = "Apache";
  so.seed = 4;
  so.incident_rate = 0.05;
  auto gen = logparse::synth::Generator::Create(so);
  ASSERT_TRUE(gen.ok());
  std::vector<std::string> text;
  std::vector<int> labels;
  logparse::synth::SynthLine line;
  for (int i = 0; i < 300; ++i) {
    (*gen)->Next(&line);
    text.push_back(line.text);
    labels.push_back(line.anomalous ? 1 : 0);
  }
  RawSite raw;
  raw.name = "site-0";
  raw.sources = {"Apache"};
  auto set = FeaturizeSiteLines("Apache", "Apache", std::vector<std::string_view>(text.begin(), text.end()), labels);
  ASSERT_TRUE(set.ok()) << set.status();
  raw.lines = *std::move(set);
  FederatedOptions o = testing::TinyFederatedOptions();
  o.rounds = 1;
  o.contrastive_steps = 0;
  o.run_centralized = o.run_local = false;
  o.dp_mode = "line";
  o.dp_noise_multiplier = 1;
  o.dp_private_only = true;
  auto site = SplitSite(raw, o, false, 0, 5);
  ASSERT_TRUE(site.ok()) << site.status();
  const std::vector<FederatedSite> sites = {*site};

  model::EncoderSpec spec = model::DefaultEncoderSpec(static_cast<int>(site->train.dense.cols));
  spec.init_seed = 99;  // any weights of the right shapes
  auto start = model::InitialEncoderWeights(spec);
  ASSERT_TRUE(start.ok());
  start->Find("out.bias")->values[0] = 0.625f;
  start->tensors.push_back({"prototypes.global", {2, spec.out_dim}, std::vector<float>(2 * spec.out_dim, 0.1f)});
  o.initial_model = Path("start.bundle");
  ASSERT_TRUE(fl::WriteBundleFile(o.initial_model, *start).ok());
  auto result = RunFederatedSimulation(sites, o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FLOAT_EQ(result->federated_dp_model.Find("out.bias")->values[0], 0.625f);
  EXPECT_TRUE(std::any_of(result->notes.begin(), result->notes.end(), [](const std::string& n) {
    return n.find("--initial-model") != std::string::npos;
  }));

  start->tensors.push_back({"adapter.Apache.up.bias", {spec.out_dim}, std::vector<float>(spec.out_dim, 0.0f)});
  ASSERT_TRUE(fl::WriteBundleFile(o.initial_model, *start).ok());
  EXPECT_EQ(RunFederatedSimulation(sites, o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PretrainToolsTest, PublicLinesLeaveTheExcludedSystemsOut) {
  FEDLOG_REQUIRE_DATA_FILE(csv, "seed-labeled-2k/Apache_2k_labeled.csv");
  const std::string data = ::fedlog::testing::DataDir();
  EXPECT_EQ(LoadPublicLines(data, {"NoSuchSystem"}).status().code(), absl::StatusCode::kInvalidArgument);
  // Everything but Apache and OpenSSH left out (keeps the test small).
  std::vector<std::string> exclude;
  for (const logparse::BuiltinFormat& f : logparse::BuiltinFormats()) {
    if (std::string(f.name) != "Apache" && std::string(f.name) != "OpenSSH") exclude.push_back(f.name);
  }
  exclude.push_back("hdfs");  // case-insensitive, and a repeat is harmless
  absl::StatusOr<PublicLines> p = LoadPublicLines(data, exclude);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->sources, (std::vector<std::string>{"Apache", "OpenSSH"}));
  EXPECT_NE(std::find(p->excluded.begin(), p->excluded.end(), "HDFS"), p->excluded.end());
  EXPECT_EQ(p->lines.size(), 4000);
  for (const std::string& s : p->lines.sources) EXPECT_EQ(s, "");
  std::set<int64_t> first, second;
  for (int64_t i = 0; i < p->lines.size(); ++i) {
    (i < 2000 ? first : second).insert(p->lines.template_ids[static_cast<size_t>(i)]);
  }
  for (int64_t t : first) EXPECT_EQ(second.count(t), 0u) << "template id " << t << " in both sources";
  EXPECT_TRUE(model::HasBothClasses(p->lines.labels));
}

}  // namespace
}  // namespace fedlog::offline
