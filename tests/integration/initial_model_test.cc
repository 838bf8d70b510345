// A run started from an initial-model file over real mTLS (RunPlan.initial_model, `fedlog run start
// --initial-model`): a bundle that fits the aggregator's spec becomes version 1, which sites download with its
// values and prototypes.global, and whose manifest records the file's digest; a bundle with a wrong shape, a
// non-finite value or an adapter, a missing file or a wrong digest is refused with a clear error and starts no run.
#include <cmath>
#include <string>

#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_stream.h"
#include "common/model/site_model.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

constexpr int kOut = 8, kAdapter = 4;

absl::Status StartFrom(v1::Admin::Stub* admin, const std::string& path, const std::string& sha256,
                       v1::RunStatus* run) {
  v1::StartRunRequest start;
  start.mutable_plan()->set_rounds(1);
  start.mutable_plan()->set_min_sites(1);
  start.mutable_plan()->set_round_deadline_s(60);
  start.mutable_plan()->set_initial_model(path);
  start.mutable_plan()->set_initial_model_sha256(sha256);
  grpc::ClientContext ctx;
  const grpc::Status st = admin->StartRun(&ctx, start, run);
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
}

TEST(InitialModelTest, RunStartsFromAFileThatFitsAndRefusesOneThatDoesNot) {
  const std::string dir = testing::MakeTempDir("fedlog_initial_model");
  const std::string pki = JoinPath(dir, "pki");
  ASSERT_TRUE(testing::MakePki(pki, {"site-a"}));
  v1::ServerConfig cfg = testing::ServerConfigFor(pki, JoinPath(dir, "agg"));
  ASSERT_TRUE(testing::UseTinyLineEncoder(&cfg, kOut, kAdapter));
  absl::StatusOr<std::unique_ptr<model::SiteModel>> m = model::CreateSiteModel(cfg.model());
  ASSERT_TRUE(m.ok()) << m.status();
  absl::StatusOr<fl::TensorBundle> untrained = (*m)->InitialWeights();
  ASSERT_TRUE(untrained.ok()) << untrained.status();
  fl::TensorBundle good = *untrained;
  good.Find("out.bias")->values[0] = 0.625f;
  good.tensors.push_back({"prototypes.global", {2, kOut}, std::vector<float>(2 * kOut, 0.5f)});
  const std::string good_path = JoinPath(dir, "pretrained.bundle");
  ASSERT_TRUE(fl::WriteBundleFile(good_path, good).ok());

  auto server = server::AggregatorServer::Start(cfg);
  ASSERT_TRUE(server.ok()) << server.status();
  auto admin = testing::AdminStub(pki, (*server)->port());
  v1::RunStatus run;

  // Refused, each with a message that says what is wrong; no run starts.
  fl::TensorBundle misshapen = good;
  misshapen.Find("out.bias")->shape = {1, kOut};
  fl::TensorBundle nan = good;
  nan.Find("mlp.0.bias")->values[1] = std::nanf("");
  fl::TensorBundle adapter = good;
  adapter.tensors.push_back({"adapter.HDFS.up.bias", {kOut}, std::vector<float>(kOut, 0.0f)});
  for (const auto& [name, bundle, says] :
       {std::tuple<const char*, const fl::TensorBundle*, const char*>{"misshapen", &misshapen, "out.bias"},
        {"nan", &nan, "not finite"},
        {"adapter", &adapter, "no adapters"}}) {
    const std::string path = JoinPath(dir, std::string(name) + ".bundle");
    ASSERT_TRUE(fl::WriteBundleFile(path, *bundle).ok());
    const absl::Status st = StartFrom(admin.get(), path, "", &run);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << name << ": " << st;
    EXPECT_NE(st.message().find(says), std::string::npos) << name << ": " << st;
    EXPECT_NE(st.message().find("initial model"), std::string::npos) << name << ": " << st;
  }
  EXPECT_EQ(StartFrom(admin.get(), JoinPath(dir, "absent.bundle"), "", &run).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StartFrom(admin.get(), good_path, std::string(64, '0'), &run).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(StartFrom(admin.get(), good_path, "not-hex", &run).code(), absl::StatusCode::kInvalidArgument);

  // Accepted: version 1 of the run is the file, prototypes.global included.
  absl::StatusOr<std::string> bytes = ReadFile(good_path);
  ASSERT_TRUE(bytes.ok());
  const std::string digest = Sha256Hex(*bytes);
  ASSERT_TRUE(StartFrom(admin.get(), good_path, digest, &run).ok());
  client::FederationSession site(testing::SiteChannel(pki, "site-a", (*server)->port()));
  v1::HelloRequest hello;
  hello.add_sources()->set_name("HDFS");
  ASSERT_TRUE(site.Hello(hello).ok());
  const v1::RoundTask task = testing::WaitRoundTask(&site);
  auto model = site.Download(task.model_version());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FLOAT_EQ(model->bundle.Find("out.bias")->values[0], 0.625f);
  ASSERT_NE(model->bundle.Find("prototypes.global"), nullptr);
  EXPECT_FLOAT_EQ(model->bundle.Find("prototypes.global")->values[3], 0.5f);
  grpc::ClientContext ctx;
  v1::ListModelsResponse models;
  ASSERT_TRUE(admin->ListModels(&ctx, {}, &models).ok());
  bool found = false;
  for (const v1::ModelManifest& mf : models.models()) {
    if (mf.version() != task.model_version()) continue;
    found = true;
    EXPECT_EQ(mf.initial_model_sha256(), digest);
    EXPECT_EQ(mf.strategy(), "init");
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace fedlog
