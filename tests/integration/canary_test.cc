// The canary attack of issue 13, learned through real training, over real mTLS on loopback. One site's log lines
// contain a canary word; every site trains with the daemon's own training code (client::SiteTrainer, the tiny
// line encoder, a few contrastive steps) and sends its update as the round task says. Without secure
// aggregation the canary's embedding row (the featurizer's FNV-1a token id, modulo the encoder's vocabulary)
// moves in that site's update, which the aggregator receives and stores. With secure
// aggregation, what the aggregator received from that site carries no signal: its lanes at the canary's row lie
// outside every value an unmasked input of that weight could take, its lanes as a whole are uncorrelated with
// the site's true update and spread over the whole 64-bit ring, nothing the aggregator keeps contains them or
// any individual update, and the round's model moved the canary's row by the weighted mean only. The lane checks
// are also run on the site's unmasked encoding, where they must find the signal: the test fails if masking were
// off.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "client/local_data.h"
#include "client/secagg_client.h"
#include "client/site_trainer.h"
#include "common/base/file_util.h"
#include "common/features/stream_featurizer.h"
#include "common/fl/bundle_codec.h"
#include "common/secagg/quantize.h"
#include "common/secagg/wire.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

constexpr int kOut = 8, kAdapter = 4, kTokenDim = 4;
// A vocabulary large enough that the other sites' words (and their bigrams) miss the canary's row.
constexpr int kVocab = 4096;
constexpr char kCanary[] = "zebracanary";

int CanaryRow() {
  std::vector<int32_t> ids = features::StreamFeaturizer::Create()->HashTokens(kCanary);
  EXPECT_EQ(ids.size(), 1u);
  return static_cast<int>(static_cast<uint32_t>(ids.at(0)) % kVocab);
}

// The largest |change| of the canary's embedding row in `delta`.
double CanaryMove(const fl::TensorBundle& delta) {
  const fl::NamedTensor* e = delta.Find("embed.weight");
  EXPECT_NE(e, nullptr);
  if (e == nullptr) return 0;
  double m = 0;
  for (int j = 0; j < kTokenDim; ++j) {
    m = std::max(m, std::abs(static_cast<double>(e->values[static_cast<size_t>(CanaryRow() * kTokenDim + j)])));
  }
  return m;
}

// What a vector of lanes (d + 1, the last the weight) shows of the input `x` it came from: how many lanes at the
// canary's row lie within `bound` of zero as signed integers (where an unmasked lane of that weight lies), the
// correlation of the first d lanes (as signed integers) with x, and the fraction of them in the outer half of
// the ring (|lane| >= 2^(b-2) for b-bit lanes; uniform lanes: one half).
struct Signal {
  int canary_lanes_in_range = 0;
  double correlation = 0;
  double outer_fraction = 0;
};

Signal SignalIn(const std::vector<int64_t>& lanes, int lane_bits, const std::vector<float>& x,
                const std::vector<size_t>& canary, double bound) {
  Signal out;
  for (size_t lane : canary) {
    if (std::abs(static_cast<double>(lanes[lane])) <= bound) ++out.canary_lanes_in_range;
  }
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, outer = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double a = x[i];
    const double b = std::ldexp(static_cast<double>(lanes[i]), 1 - lane_bits);  // / 2^(b-1)
    sx += a, sy += b, sxx += a * a, syy += b * b, sxy += a * b;
    if (std::abs(b) >= 0.5) outer += 1;
  }
  const double n = static_cast<double>(x.size());
  out.correlation = (sxy - sx * sy / n) / std::sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
  out.outer_fraction = outer / n;
  return out;
}

// A site driven by hand: its certificate's session, and the daemon's trainer over its own log.
struct Site {
  Site(const std::string& pki, const std::string& dir, const std::string& name, int port, bool canary)
      : session(testing::SiteChannel(pki, name, port)) {
    std::string log = testing::WriteLog(dir, name, 200, static_cast<int>(name.back()));
    if (canary) {  // a user name only this site's logs contain
      std::ofstream out(log, std::ios::app);
      for (int i = 0; i < 60; ++i) {
        out << "081109 2037" << (i % 60) << " INFO dfs.DataNode: login failure for user " << kCanary << " from /10.0.0."
            << i % 7 << "\n";
      }
    }
    auto read = client::ReadSources(testing::ClientConfigFor(pki, name, port, JoinPath(dir, name), log));
    EXPECT_TRUE(read.ok()) << read.status();
    if (read.ok()) sources = *std::move(read);
    trainer = std::make_unique<client::SiteTrainer>(&sources, client::SiteTrainerOptions{});
    v1::HelloRequest hello;
    hello.add_sources()->set_name("HDFS");
    absl::StatusOr<v1::HelloResponse> r = session.Hello(hello);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) id = r->site_id();
  }
  // Trains on `task`'s model (downloaded into `global`); the header is the one the daemon would send.
  absl::StatusOr<client::LocalUpdate> Train(const v1::RoundTask& task, fl::TensorBundle* global) {
    absl::StatusOr<client::DownloadedModel> model = session.Download(task.model_version());
    if (!model.ok()) return model.status();
    *global = model->bundle;
    absl::StatusOr<client::LocalUpdate> u = trainer->Train(task, *global);
    if (!u.ok()) return u.status();
    u->header.set_run_id(task.run_id());
    u->header.set_round(task.round());
    u->header.set_base_version(task.model_version());
    return u;
  }
  std::string id;
  client::FederationSession session;
  std::vector<client::SourceLines> sources;
  std::unique_ptr<client::SiteTrainer> trainer;
};

// The daemon's transport, keeping a copy of the masked input the site sent.
class Capture : public client::SecAggTransport {
 public:
  explicit Capture(client::FederationSession* s) : inner_(client::SessionTransport(s)) {}
  absl::Status Advertise(const v1::SecAggAdvertiseRequest& r) override { return inner_->Advertise(r); }
  absl::Status ShareKeys(const v1::SecAggShareKeysRequest& r) override { return inner_->ShareKeys(r); }
  absl::Status UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) override {
    sent = bytes;
    return inner_->UploadMasked(h, bytes);
  }
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override { return inner_->Poll(r); }
  absl::Status Unmask(const v1::SecAggUnmaskRequest& r) override { return inner_->Unmask(r); }
  std::string sent;

 private:
  std::unique_ptr<client::SecAggTransport> inner_;
};

class CanaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_canary");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "site-c"}));
    v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
    ASSERT_TRUE(testing::UseTinyLineEncoder(&cfg, kOut, kAdapter));
    cfg.mutable_model()->mutable_encoder()->set_vocab_buckets(kVocab);
    ASSERT_TRUE(server::FinalizeServerConfig(&cfg).ok());
    cfg.set_keep_updates(true);  // the plain run's updates stay on disk for the attack to read
    auto s = server::AggregatorServer::Start(cfg);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    admin_ = testing::AdminStub(pki_, server_->port());
    for (const char* name : {"site-a", "site-b", "site-c"}) {
      sites_.push_back(std::make_unique<Site>(pki_, dir_, name, server_->port(), name == std::string("site-a")));
    }
  }
  void TearDown() override {
    sites_.clear();
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  int64_t StartRun(bool secagg) {
    v1::StartRunRequest req;
    v1::RunPlan* plan = req.mutable_plan();
    plan->set_rounds(1);
    plan->set_min_sites(3);
    plan->set_round_deadline_s(60);
    plan->set_secure_aggregation(secagg);
    plan->set_secagg_step_s(5);
    plan->mutable_training()->set_contrastive_steps(4);
    plan->mutable_training()->set_meta_iterations(1);
    plan->mutable_training()->set_batch_size(32);
    v1::RunStatus run;
    grpc::ClientContext ctx;
    grpc::Status st = admin_->StartRun(&ctx, req, &run);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return run.run_id();
  }
  // Every site's task of the open round, long-polled at once.
  std::vector<v1::RoundTask> Tasks() {
    std::vector<v1::RoundTask> tasks(sites_.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < sites_.size(); ++i) {
      threads.emplace_back([&, i] { tasks[i] = testing::WaitRoundTask(&sites_[i]->session); });
    }
    for (auto& t : threads) t.join();
    return tasks;
  }
  v1::RunStatus WaitDone(int64_t run_id) {
    return testing::WaitRun(admin_.get(), run_id,
                            [](const v1::RunStatus& s) { return s.state() != "waiting" && s.state() != "running"; });
  }
  std::vector<std::string> FilesUnder(const std::string& sub) {
    std::vector<std::string> out;
    std::error_code ec;
    const std::string root = JoinPath(JoinPath(dir_, "agg"), sub);
    if (!std::filesystem::exists(root, ec)) return out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
      if (e.is_regular_file()) out.push_back(e.path().string());
    }
    return out;
  }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::vector<std::unique_ptr<Site>> sites_;  // site-a (the canary's), site-b, site-c
};

TEST_F(CanaryTest, TrainedCanaryShowsWithoutSecureAggregationAndNowhereWithIt) {
  // Without secure aggregation: the canary's row moves in site-a's update only, as received and stored.
  const int64_t plain = StartRun(false);
  float canary_row = 0;  // site-a's first canary coordinate, as uploaded
  {
    std::vector<v1::RoundTask> tasks = Tasks();
    for (size_t i = 0; i < sites_.size(); ++i) {
      fl::TensorBundle global;
      absl::StatusOr<client::LocalUpdate> u = sites_[i]->Train(tasks[i], &global);
      ASSERT_TRUE(u.ok()) << u.status();
      if (i == 0) {
        ASSERT_GT(CanaryMove(u->delta), 1e-6) << "training on the canary's lines did not move its row";
        canary_row = u->delta.Find("embed.weight")->values[static_cast<size_t>(CanaryRow() * kTokenDim)];
      }
      ASSERT_TRUE(sites_[i]->session.Upload(u->header, *fl::EncodeBundle(u->delta)).ok());
    }
    ASSERT_EQ(WaitDone(plain).state(), "done");
    // The other sites' rows can move too, rarely (augmentation re-samples a few tokens into random rows), so
    // the attack here is: site-a's stored update is on the aggregator's disk and its canary row moved.
    int stored = 0, leaks = 0;
    for (const std::string& f : FilesUnder(absl::StrCat("updates/run", plain))) {
      absl::StatusOr<fl::TensorBundle> u = fl::DecodeBundle(*ReadFile(f));
      ASSERT_TRUE(u.ok()) << u.status();
      ++stored;
      const float row = u->Find("embed.weight")->values[static_cast<size_t>(CanaryRow() * kTokenDim)];
      if (CanaryMove(*u) > 1e-6 && row == canary_row) ++leaks;
    }
    EXPECT_EQ(stored, 3);
    EXPECT_EQ(leaks, 1) << "site-a's stored update shows the canary";
  }

  // With secure aggregation: the same sites train again and mask.
  const int64_t masked = StartRun(true);
  std::vector<v1::RoundTask> tasks = Tasks();
  ASSERT_TRUE(tasks[0].secure_aggregation());
  std::vector<fl::TensorBundle> deltas(3), globals(3);
  std::vector<std::vector<float>> inputs(3);
  std::vector<double> weights(3);
  std::vector<v1::UpdateHeader> headers(3);
  for (size_t i = 0; i < sites_.size(); ++i) {
    absl::StatusOr<client::LocalUpdate> u = sites_[i]->Train(tasks[i], &globals[i]);
    ASSERT_TRUE(u.ok()) << u.status();
    deltas[i] = u->delta;
    headers[i] = u->header;
    weights[i] = static_cast<double>(u->header.num_samples());
    absl::StatusOr<std::vector<float>> x = client::SecAggVector(tasks[i], globals[i], deltas[i], nullptr);
    ASSERT_TRUE(x.ok()) << x.status();
    inputs[i] = *std::move(x);
  }
  ASSERT_GT(CanaryMove(deltas[0]), 1e-6);
  std::vector<std::unique_ptr<Capture>> captures;
  std::vector<absl::Status> results(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sites_.size(); ++i) {
    captures.push_back(std::make_unique<Capture>(&sites_[i]->session));
    threads.emplace_back([&, i] {
      client::SecAggClientOptions o;
      o.site_id = sites_[i]->id;
      o.key_file = JoinPath(pki_, sites_[i]->id + ".key");
      o.ca_file = JoinPath(pki_, "ca.crt");
      o.poll_wait_ms = 500;
      results[i] = client::RunSecureAggregation(captures[i].get(), o, tasks[i], inputs[i], weights[i], headers[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& r : results) ASSERT_TRUE(r.ok()) << r;
  v1::RunStatus done = WaitDone(masked);
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 1);
  EXPECT_EQ(done.rounds(0).sites(), 3);
  EXPECT_TRUE(done.rounds(0).secure_aggregation());

  // The lanes that carry the canary's row: where a unit change of that row alone lands in the update vector.
  // Compared with an all-zero delta, so that the presence lanes (1 for a site's own sections) drop out.
  fl::TensorBundle marker = deltas[0];
  for (auto& t : marker.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  absl::StatusOr<std::vector<float>> zero = client::SecAggVector(tasks[0], globals[0], marker, nullptr);
  ASSERT_TRUE(zero.ok()) << zero.status();
  for (int j = 0; j < kTokenDim; ++j) {
    marker.Find("embed.weight")->values[static_cast<size_t>(CanaryRow() * kTokenDim + j)] = 1.0f;
  }
  absl::StatusOr<std::vector<float>> where = client::SecAggVector(tasks[0], globals[0], marker, nullptr);
  ASSERT_TRUE(where.ok()) << where.status();
  std::vector<size_t> canary_lanes;
  for (size_t i = 0; i < where->size(); ++i) {
    if ((*where)[i] != (*zero)[i]) canary_lanes.push_back(i);
  }
  ASSERT_EQ(canary_lanes.size(), static_cast<size_t>(kTokenDim));

  absl::StatusOr<secagg::RoundConfig> config = secagg::ConfigFromProto(tasks[0].secagg());
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<secagg::Quantizer> q = secagg::Quantizer::Create(config->quantization);
  ASSERT_TRUE(q.ok()) << q.status();
  const size_t d = inputs[0].size();
  const int b = q->lane_bits();
  absl::StatusOr<std::vector<int64_t>> lanes = secagg::DecodeSignedLanes(captures[0]->sent, d + 1, b);
  ASSERT_TRUE(lanes.ok()) << lanes.status();

  // The checks, run on what site-a sent and, to show they can fail, on its unmasked encoding.
  std::string unmasked_bytes;
  if (b == 32) {
    std::vector<uint32_t> u(d + 1);
    ASSERT_TRUE(q->Encode(inputs[0], weights[0], absl::MakeSpan(u)).ok());
    unmasked_bytes = secagg::EncodeLanes(u);
  } else {
    std::vector<uint64_t> u(d + 1);
    ASSERT_TRUE(q->Encode(inputs[0], weights[0], absl::MakeSpan(u)).ok());
    unmasked_bytes = secagg::EncodeLanes(u);
  }
  absl::StatusOr<std::vector<int64_t>> unmasked = secagg::DecodeSignedLanes(unmasked_bytes, d + 1, b);
  ASSERT_TRUE(unmasked.ok()) << unmasked.status();
  const double bound = weights[0] * config->quantization.clip_range / q->step();
  const Signal sent = SignalIn(*lanes, b, inputs[0], canary_lanes, bound);
  const Signal plain_lanes = SignalIn(*unmasked, b, inputs[0], canary_lanes, bound);
  // 1. At the canary's row: no lane lies inside what an unmasked input of site-a's weight can hold
  //    (|lane| <= w * R * 2^f), i.e. none decodes to a value the canary's row could have had. A uniform lane
  //    lands inside with probability about 2^-15 here.
  EXPECT_EQ(sent.canary_lanes_in_range, 0) << "a masked lane at the canary's row decodes to a possible value";
  EXPECT_EQ(plain_lanes.canary_lanes_in_range, kTokenDim);
  // 2. Over the whole vector: the lanes (as signed integers) are uncorrelated with site-a's true update, and
  //    half of them lie in the outer half of the ring, as uniform lanes do.
  const double n = static_cast<double>(d);
  EXPECT_LT(std::abs(sent.correlation), 6.0 / std::sqrt(n)) << "masked lanes correlate with the true update";
  EXPECT_NEAR(sent.outer_fraction, 0.5, 6.0 * 0.5 / std::sqrt(n));
  EXPECT_GT(plain_lanes.correlation, 0.99);
  EXPECT_EQ(plain_lanes.outer_fraction, 0.0);

  // 3. The aggregator keeps no individual update: no update file, and no file anywhere under its data dir
  //    holds site-a's masked lanes at the canary's row.
  EXPECT_TRUE(FilesUnder(absl::StrCat("updates/run", masked)).empty());
  const std::string needle = captures[0]->sent.substr(canary_lanes[0] * q->lane_bytes(), kTokenDim * q->lane_bytes());
  for (const std::string& f : FilesUnder("")) {
    absl::StatusOr<std::string> bytes = ReadFile(f);
    ASSERT_TRUE(bytes.ok()) << f;
    EXPECT_EQ(bytes->find(needle), std::string::npos) << f << " holds site-a's masked input";
  }

  // 4. The round's model moved the canary's row by the weighted mean of the three updates (site-a's value
  //    divided among all the weight), within the quantisation error.
  absl::StatusOr<client::DownloadedModel> next = sites_[0]->session.Download(done.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  const double weight_sum = weights[0] + weights[1] + weights[2];
  for (int j = 0; j < kTokenDim; ++j) {
    const size_t k = static_cast<size_t>(CanaryRow() * kTokenDim + j);
    double mean = 0;
    for (size_t i = 0; i < 3; ++i) mean += weights[i] * deltas[i].Find("embed.weight")->values[k] / weight_sum;
    EXPECT_NEAR(next->bundle.Find("embed.weight")->values[k], globals[0].Find("embed.weight")->values[k] + mean, 1e-5);
  }
}

}  // namespace
}  // namespace fedlog
