// A 100 MB model goes down and a 100 MB update goes up through the chunked streams (gRPC's 4 MB message limit
// never applies to a whole model).
#include <cmath>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

TEST(TransferTest, HundredMegabyteModelDownAndUp) {
  std::string dir = testing::MakeTempDir("fedlog_xfer");
  std::string pki = JoinPath(dir, "pki");
  ASSERT_TRUE(testing::MakePki(pki, {"site-a"}));
  v1::ServerConfig cfg = testing::ServerConfigFor(pki, JoinPath(dir, "agg"));
  cfg.mutable_model()->set_input_dim(5000);  // 2 x 5000 x 2500 weights + biases = 25,007,500 floats
  cfg.mutable_model()->clear_hidden();
  cfg.mutable_model()->add_hidden(2500);
  auto server = server::AggregatorServer::Start(cfg);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  auto creds = net::MakeChannelCredentials(
      {JoinPath(pki, "ca.crt"), JoinPath(pki, "site-a.crt"), JoinPath(pki, "site-a.key")});
  ASSERT_TRUE(creds.ok());
  client::FederationSession session(net::MakeChannel(absl::StrCat("localhost:", port), *creds));
  ASSERT_TRUE(session.Hello({}).ok());
  v1::StartRunRequest start;
  start.mutable_plan()->set_rounds(1);
  start.mutable_plan()->set_min_sites(1);
  v1::RunStatus run;
  grpc::ClientContext sctx;
  ASSERT_TRUE(testing::AdminStub(pki, port)->StartRun(&sctx, start, &run).ok());
  absl::StatusOr<v1::TaskResponse> task;
  for (int i = 0; i < 50; ++i) {
    task = session.GetTask(200);
    ASSERT_TRUE(task.ok()) << task.status();
    if (task->has_round()) break;
  }
  ASSERT_TRUE(task->has_round());

  absl::StatusOr<client::DownloadedModel> model = session.Download(task->round().model_version());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_GT(model->bytes, 100'000'000);
  EXPECT_EQ(model->bundle.NumElements(), 25'007'500);

  fl::TensorBundle delta = model->bundle;
  for (auto& t : delta.tensors) std::fill(t.values.begin(), t.values.end(), 0.001f);
  auto bytes = fl::EncodeBundle(delta);
  ASSERT_TRUE(bytes.ok());
  v1::UpdateHeader header;
  header.set_run_id(task->round().run_id());
  header.set_round(task->round().round());
  header.set_base_version(task->round().model_version());
  header.set_num_samples(1);
  ASSERT_TRUE(session.Upload(header, *bytes).ok());

  // The round closes with that update: the next version is the old one plus the delta.
  absl::StatusOr<client::DownloadedModel> next;
  for (int i = 0; i < 100; ++i) {
    next = session.Download(0);  // the promoted version, once the run is done
    if (next.ok() && next->manifest.version() > task->round().model_version()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->manifest.version(), task->round().model_version() + 1);
  EXPECT_NEAR(next->bundle.tensors[0].values[12345], model->bundle.tensors[0].values[12345] + 0.001f, 1e-6);
  (*server)->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fedlog
