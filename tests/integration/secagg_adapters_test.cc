// Source adapters under secure aggregation, over real mTLS: two sites share a source (HDFS) and a third runs
// one alone (BGL), with t = 2. Checked: the shared source's adapter is aggregated in its own section and equals
// the plain weighted average within the quantisation error, while the lone site's adapter has no section, so
// nothing of it reaches the aggregator or the model; when a member of the group drops after the others masked,
// leaving the group below t, the sum is never unmasked (no site is asked for a share).
#include <cmath>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "common/base/file_util.h"
#include "common/secagg/update_vector.h"
#include "common/secagg/wire.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Site = testing::HandSite;
using Relay = testing::SecAggRelay;

constexpr int kOut = 8, kAdapter = 4;

// A delta for `model`'s shared tensors (every value `v`) plus a full adapter of `source` (values `a`, varying).
fl::TensorBundle Delta(const fl::TensorBundle& model, float v, const std::string& source, float a) {
  fl::TensorBundle d;
  for (const auto& t : model.tensors) {
    if (fl::IsOptionalTensor(t.name)) continue;
    fl::NamedTensor n = t;
    std::fill(n.values.begin(), n.values.end(), v);
    d.tensors.push_back(std::move(n));
  }
  fl::UpdateCheckOptions schema;
  schema.out_dim = kOut;
  schema.adapter_dim = kAdapter;
  for (const char* part : {"down.weight", "down.bias", "up.weight", "up.bias", "prototypes"}) {
    fl::NamedTensor n{absl::StrCat("adapter.", source, ".", part), {}, {}};
    n.shape = *fl::ExpectedOptionalShape(n.name, schema);
    n.values.resize(static_cast<size_t>(fl::NumElementsOf(n.shape)));
    for (size_t i = 0; i < n.values.size(); ++i) n.values[i] = a * static_cast<float>(1 + i % 5);
    d.tensors.push_back(std::move(n));
  }
  return d;
}

struct Env {
  explicit Env(const std::string& prefix) {
    dir = testing::MakeTempDir(prefix);
    pki = JoinPath(dir, "pki");
    EXPECT_TRUE(testing::MakePki(pki, {"site-a", "site-b", "site-c"}));
    v1::ServerConfig cfg = testing::ServerConfigFor(pki, JoinPath(dir, "agg"));
    EXPECT_TRUE(testing::UseTinyLineEncoder(&cfg, kOut, kAdapter));
    server = testing::StartAggregatorOrFail(cfg, &port);  // null and port 0 when it fails
    admin = testing::AdminStub(pki, port);
  }
  ~Env() {
    if (server) server->Shutdown();
    std::filesystem::remove_all(dir);
  }
  int64_t Start() { return testing::StartSecureRun(admin.get(), 1, 3, 60); }
  std::string dir, pki;
  std::unique_ptr<server::AggregatorServer> server;
  int port = 0;
  std::unique_ptr<v1::Admin::Stub> admin;
};


// Runs the secagg steps of every site at once, each with its delta and weight.
std::vector<absl::Status> Drive(const std::vector<Site*>& sites, const std::vector<Relay*>& relays,
                                const std::vector<v1::RoundTask>& tasks, const fl::TensorBundle& global,
                                const std::vector<fl::TensorBundle>& deltas, const std::vector<double>& weights) {
  std::vector<absl::Status> results(sites.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sites.size(); ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::vector<float>> x = client::SecAggVector(tasks[i], global, deltas[i], nullptr);
      if (!x.ok()) {
        results[i] = x.status();
        return;
      }
      client::SecAggClientOptions o = sites[i]->SecAggOptions();
      v1::UpdateHeader h;
      h.set_run_id(tasks[i].run_id());
      h.set_round(tasks[i].round());
      h.set_base_version(tasks[i].model_version());
      h.set_num_samples(static_cast<int64_t>(weights[i]));
      h.set_train_loss(1.0);
      results[i] = client::RunSecureAggregation(relays[i], o, tasks[i], *x, weights[i], h);
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

TEST(SecAggAdaptersTest, SharedSourceIsAveragedAndLoneAdapterNeverLeavesItsSite) {
  Env env("fedlog_secagg_adapters");
  Site a(env.pki, "site-a", env.port, "HDFS"), b(env.pki, "site-b", env.port, "HDFS"),
      c(env.pki, "site-c", env.port, "BGL");
  const int64_t run_id = env.Start();
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  for (const v1::RoundTask& t : tasks) {
    ASSERT_TRUE(t.secure_aggregation());
    EXPECT_EQ(t.secagg().threshold(), 2);
    ASSERT_EQ(t.secagg().adapter_sources_size(), 1);  // HDFS only: BGL's group of one is below t
    EXPECT_EQ(t.secagg().adapter_sources(0), "HDFS");
    EXPECT_EQ(t.secagg().adapter_group_sizes(0), 2);
  }
  EXPECT_EQ(tasks[0].secagg().member_sources_size(), 1);
  EXPECT_EQ(tasks[1].secagg().member_sources_size(), 1);
  EXPECT_EQ(tasks[2].secagg().member_sources_size(), 0);
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  const std::vector<fl::TensorBundle> deltas = {Delta(global->bundle, 0.01f, "HDFS", 0.1f),
                                                Delta(global->bundle, -0.02f, "HDFS", -0.3f),
                                                Delta(global->bundle, 0.03f, "BGL", 0.7f)};
  const std::vector<double> w = {100, 300, 200};
  Relay ra(&a.session), rb(&b.session), rc(&c.session);
  std::vector<absl::Status> results = Drive({&a, &b, &c}, {&ra, &rb, &rc}, tasks, global->bundle, deltas, w);
  for (const absl::Status& s : results) ASSERT_TRUE(s.ok()) << s;
  v1::RunStatus done = testing::WaitRun(env.admin.get(), run_id, [](const v1::RunStatus& s) {
    return s.state() != "waiting" && s.state() != "running";
  });
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 1);

  // What site-c sent has exactly the layout's lanes, and the layout has no BGL section.
  absl::StatusOr<secagg::UpdateVectorLayout> layout =
      secagg::LayoutForRound(fl::LayoutOf(global->bundle), tasks[2].spec(), tasks[2].secagg());
  ASSERT_TRUE(layout.ok()) << layout.status();
  ASSERT_EQ(layout->adapters.size(), 1u);
  EXPECT_EQ(rc.sent.size(), (tasks[2].secagg().vector_length() + 1) * 8);

  // The HDFS adapter is the weighted mean of site-a's and site-b's (a new tensor: its delta is its value).
  auto next = a.session.Download(done.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  int adapters = 0;
  for (const fl::NamedTensor& t : deltas[0].tensors) {
    if (!absl::StartsWith(t.name, "adapter.")) continue;
    const fl::NamedTensor* got = next->bundle.Find(t.name);
    ASSERT_NE(got, nullptr) << t.name;
    const fl::NamedTensor* other = deltas[1].Find(t.name);
    for (size_t i = 0; i < t.values.size(); ++i) {
      const double expected = (w[0] * t.values[i] + w[1] * other->values[i]) / (w[0] + w[1]);
      ASSERT_NEAR(got->values[i], expected, 1e-5) << t.name << "[" << i << "]";
    }
    ++adapters;
  }
  EXPECT_EQ(adapters, 5);
  // Shared tensors are the mean over all three sites.
  const fl::NamedTensor* embed = next->bundle.Find("embed.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_NEAR(embed->values[0] - global->bundle.Find("embed.weight")->values[0],
              (100 * 0.01 - 300 * 0.02 + 200 * 0.03) / 600, 1e-5);
  // Site-c's BGL adapter is nowhere in the model: the aggregator never received it.
  auto for_c = c.session.Download(done.rounds(0).model_version());
  ASSERT_TRUE(for_c.ok()) << for_c.status();
  for (const fl::NamedTensor& t : for_c->bundle.tensors) EXPECT_FALSE(absl::StartsWith(t.name, "adapter.")) << t.name;
}

TEST(SecAggAdaptersTest, GroupBelowThresholdAfterMaskingIsNotUnmasked) {
  Env env("fedlog_secagg_adapters_drop");
  Site a(env.pki, "site-a", env.port, "HDFS"), b(env.pki, "site-b", env.port, "HDFS"),
      c(env.pki, "site-c", env.port, "BGL");
  const int64_t run_id = env.Start();
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  ASSERT_EQ(tasks[0].secagg().adapter_sources_size(), 1);
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  const std::vector<fl::TensorBundle> deltas = {Delta(global->bundle, 0.01f, "HDFS", 0.1f),
                                                Delta(global->bundle, -0.02f, "HDFS", -0.3f),
                                                Delta(global->bundle, 0.03f, "BGL", 0.7f)};
  Relay ra(&a.session), rb(&b.session), rc(&c.session);
  rb.drop_after_masking = true;  // two survivors (a, c) meet t, but only one member of HDFS survives
  std::vector<absl::Status> results =
      Drive({&a, &b, &c}, {&ra, &rb, &rc}, tasks, global->bundle, deltas, {100, 300, 200});
  EXPECT_FALSE(rb.sent.empty());
  for (size_t i : {0u, 2u}) EXPECT_EQ(results[i].code(), absl::StatusCode::kAborted) << results[i];
  // No site was asked for a share, so neither the sum nor site-a's HDFS section alone can be unmasked.
  EXPECT_EQ(ra.unmask_calls + rb.unmask_calls + rc.unmask_calls, 0);
  // The attempt failed without a model; the run retries the round with the sites then online.
  v1::RunStatus status = testing::WaitRun(env.admin.get(), run_id, [](const v1::RunStatus& s) {
    return s.rounds_size() > 0 && s.rounds(0).state() != "open";
  });
  ASSERT_GT(status.rounds_size(), 0);
  EXPECT_EQ(status.rounds(0).state(), "failed");
  EXPECT_EQ(status.rounds(0).model_version(), 0);
}

}  // namespace
}  // namespace fedlog
