// line_encoder models over real mTLS: two sites running different log sources upload their own
// adapters (new to the global model), each gets only its own adapter back, foreign or misshapen
// adapters are refused and counted, and only an admin can fetch every tensor.
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

constexpr int kOut = 8, kAdapter = 4;

fl::TensorBundle Zeros(const fl::TensorBundle& model) {
  fl::TensorBundle d = model;
  for (auto& t : d.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  return d;
}

// A zero delta for every tensor of `model` plus this source's adapter (new: its full value) and
// prototypes.
fl::TensorBundle DeltaWithAdapter(const fl::TensorBundle& model, const std::string& source,
                                  float value) {
  fl::TensorBundle d = Zeros(model);
  const std::string p = "adapter." + source + ".";
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float v) {
    fl::NamedTensor t{name, std::move(shape), {}};
    t.values.assign(static_cast<size_t>(t.NumElements()), v);
    d.tensors.push_back(std::move(t));
  };
  add(p + "down.weight", {kAdapter, kOut}, value);
  add(p + "down.bias", {kAdapter}, value);
  add(p + "up.weight", {kOut, kAdapter}, value);
  add(p + "up.bias", {kOut}, value);
  add(p + "prototypes", {2, kOut}, value);
  add("prototypes.global", {2, kOut}, value);
  return d;
}

int CountPrefix(const fl::TensorBundle& b, const std::string& prefix) {
  int n = 0;
  for (const auto& t : b.tensors) n += absl::StartsWith(t.name, prefix) ? 1 : 0;
  return n;
}

TEST(AdaptersTest, EachSiteGetsOnlyItsOwnAdapterBack) {
  std::string dir = testing::MakeTempDir("fedlog_adapters");
  std::string pki = JoinPath(dir, "pki");
  ASSERT_TRUE(testing::MakePki(pki, {"site-a", "site-b"}));
  v1::ServerConfig cfg = testing::ServerConfigFor(pki, JoinPath(dir, "agg"));
  ASSERT_TRUE(testing::UseTinyLineEncoder(&cfg, kOut, kAdapter));
  EXPECT_GT(cfg.model().encoder().dense_dim(), 0);  // the stream featurizer's width
  auto server = server::AggregatorServer::Start(cfg);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  testing::HandSite a(pki, "site-a", port, "HDFS"), b(pki, "site-b", port, "BGL");

  v1::StartRunRequest start;
  start.mutable_plan()->set_rounds(2);
  start.mutable_plan()->set_min_sites(2);
  start.mutable_plan()->set_round_deadline_s(60);
  v1::RunStatus run;
  grpc::ClientContext sctx;
  auto admin = testing::AdminStub(pki, port);
  ASSERT_TRUE(admin->StartRun(&sctx, start, &run).ok());

  // Round 1: the initial model has no adapters; each site adds its own.
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask();
  auto ma = a.session.Download(ta.model_version());
  ASSERT_TRUE(ma.ok()) << ma.status();
  EXPECT_EQ(CountPrefix(ma->bundle, "adapter."), 0);
  EXPECT_GT(CountPrefix(ma->bundle, "embed."), 0);

  absl::Status st =
      a.Upload(ta, DeltaWithAdapter(ma->bundle, "BGL", 1.0f));  // not a source site-a runs
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
  fl::TensorBundle misshapen = DeltaWithAdapter(ma->bundle, "HDFS", 1.0f);
  misshapen.Find("adapter.HDFS.down.weight")->shape = {kOut, kAdapter};
  st = a.Upload(ta, misshapen);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.message().find("shape"), std::string::npos) << st;

  ASSERT_TRUE(a.Upload(ta, DeltaWithAdapter(ma->bundle, "HDFS", 0.25f)).ok());
  ASSERT_TRUE(b.Upload(tb, DeltaWithAdapter(ma->bundle, "BGL", 0.75f)).ok());

  // Round 2: the global model now holds both adapters; each site receives its own only.
  ta = a.WaitTask();
  tb = b.WaitTask();
  ASSERT_EQ(ta.model_version(), tb.model_version());
  ASSERT_GT(ta.model_version(), ma->manifest.version());
  auto na = a.session.Download(ta.model_version());
  auto nb = b.session.Download(tb.model_version());
  ASSERT_TRUE(na.ok() && nb.ok()) << na.status() << nb.status();
  EXPECT_EQ(CountPrefix(na->bundle, "adapter.HDFS."), 5);
  EXPECT_EQ(CountPrefix(na->bundle, "adapter.BGL."), 0);
  EXPECT_EQ(CountPrefix(nb->bundle, "adapter.BGL."), 5);
  EXPECT_EQ(CountPrefix(nb->bundle, "adapter.HDFS."), 0);
  EXPECT_FLOAT_EQ(na->bundle.Find("adapter.HDFS.down.weight")->values[0], 0.25f);
  EXPECT_FLOAT_EQ(nb->bundle.Find("adapter.BGL.up.bias")->values[3], 0.75f);
  EXPECT_FLOAT_EQ(na->bundle.Find("prototypes.global")->values[0],
                  0.5f);  // averaged over both sites
  EXPECT_NE(nb->bundle.Find("prototypes.global"), nullptr);
  // The manifest describes the bytes sent (the session checked the digest); the variants differ.
  EXPECT_EQ(na->manifest.size_bytes(), na->bytes);
  EXPECT_NE(na->manifest.sha256(), nb->manifest.sha256());

  // A site asking for every tensor still gets only its own sources' adapters; an admin gets them all.
  auto mine = a.session.Download(ta.model_version(), /*all_adapters=*/true);
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(CountPrefix(mine->bundle, "adapter."), 5);
  EXPECT_EQ(mine->manifest.sha256(), na->manifest.sha256());
  client::FederationSession admin_session(net::MakeChannel(
      absl::StrCat("localhost:", port),
      *net::MakeChannelCredentials(
          {JoinPath(pki, "ca.crt"), JoinPath(pki, "admin.crt"), JoinPath(pki, "admin.key")})));
  auto admin_copy = admin_session.Download(ta.model_version());
  ASSERT_TRUE(admin_copy.ok()) << admin_copy.status();
  EXPECT_EQ(CountPrefix(admin_copy->bundle, "adapter."), 10);

  // Round 2's updates carry the adapters the sites received (no longer new).
  ASSERT_TRUE(a.Upload(ta, Zeros(na->bundle)).ok());
  ASSERT_TRUE(b.Upload(tb, Zeros(nb->bundle)).ok());
  v1::RunStatus done;
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext ctx;
    if (admin->GetRun(&ctx, {}, &done).ok() && done.state() == "done") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(done.state(), "done");
  EXPECT_EQ(done.refused_updates(), 2);
  (*server)->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fedlog
