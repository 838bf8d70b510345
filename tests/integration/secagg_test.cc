// Secure aggregation wired into federated rounds, over real mTLS: hand-driven sites run the client's secagg
// steps (client/secagg_client.h) against an in-process aggregator. Checked: a word planted in one site's
// update shows in its stored update without secure aggregation and nowhere in what the aggregator receives or
// stores with it, while the round's model equals the plain weighted mean within the quantisation error; a site
// that drops after masking is recovered, in 64-bit and in 32-bit lanes; a site refuses an unmask request
// naming one site as both survivor and dropped; under site-level DP, dropouts that leave fewer masked inputs
// than min_sites fail the attempt before any unmask request is sent; run start refuses settings that need
// individual updates.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "client/site_daemon.h"
#include "common/base/file_util.h"
#include "common/features/stream_featurizer.h"
#include "common/fl/bundle_codec.h"
#include "common/secagg/quantize.h"
#include "common/secagg/update_vector.h"
#include "common/secagg/wire.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "server/secagg_round.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Site = testing::HandSite;
using Relay = testing::SecAggRelay;

constexpr int kOut = 8, kAdapter = 4, kVocab = 64, kTokenDim = 4;
constexpr char kCanary[] = "zebracanary";
constexpr float kCanaryValue = 0.5f;

// The embedding row the featurizer's hashed token id of `word` lands in (the encoder takes ids modulo vocab).
int CanaryRow() {
  auto featurizer = features::StreamFeaturizer::Create();
  std::vector<int32_t> ids = featurizer->HashTokens(kCanary);
  EXPECT_EQ(ids.size(), 1u);
  return static_cast<int>(static_cast<uint32_t>(ids.at(0)) % kVocab);
}

// A delta for `model`'s shared tensors (every value `v`), plus prototypes.global when `prototypes`.
fl::TensorBundle Delta(const fl::TensorBundle& model, float v, bool prototypes) {
  fl::TensorBundle d;
  for (const auto& t : model.tensors) {
    if (fl::IsOptionalTensor(t.name)) continue;
    fl::NamedTensor n = t;
    for (size_t i = 0; i < n.values.size(); ++i) n.values[i] = v * static_cast<float>(1 + i % 3);
    d.tensors.push_back(std::move(n));
  }
  if (prototypes) {
    fl::NamedTensor p{"prototypes.global", {2, kOut}, {}};
    p.values.assign(2 * kOut, 2 * v);
    d.tensors.push_back(std::move(p));
  }
  return d;
}

void PlantCanary(fl::TensorBundle* delta) {
  fl::NamedTensor* e = delta->Find("embed.weight");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->shape, (std::vector<int64_t>{kVocab, kTokenDim}));
  for (int j = 0; j < kTokenDim; ++j) e->values[static_cast<size_t>(CanaryRow() * kTokenDim + j)] = kCanaryValue;
}

// One development PKI for every test of this file (making one takes seconds); removed at exit.
const std::string& SharedPki() {
  static const std::string* pki = [] {
    auto* dir = new std::string(JoinPath(testing::MakeTempDir("fedlog_secagg_pki"), "pki"));
    EXPECT_TRUE(testing::MakePki(*dir, {"site-a", "site-b", "site-c", "site-d"}));
    std::atexit([] { std::filesystem::remove_all(std::filesystem::path(*pki).parent_path()); });
    return dir;
  }();
  return *pki;
}

struct Env {
  explicit Env(const std::string& prefix, bool keep_updates = false) {
    dir = testing::MakeTempDir(prefix);
    pki = SharedPki();
    v1::ServerConfig cfg = testing::ServerConfigFor(pki, JoinPath(dir, "agg"));
    EXPECT_TRUE(testing::UseTinyLineEncoder(&cfg, kOut, kAdapter));
    cfg.set_keep_updates(keep_updates);
    server = testing::StartAggregatorOrFail(cfg, &port);  // null and port 0 when it fails
    admin = testing::AdminStub(pki, port);
  }
  ~Env() {
    if (server) server->Shutdown();
    std::filesystem::remove_all(dir);
  }
  absl::StatusOr<v1::RunStatus> Start(v1::RunPlan plan) {
    v1::StartRunRequest req;
    *req.mutable_plan() = std::move(plan);
    v1::RunStatus run;
    grpc::ClientContext ctx;
    grpc::Status st = admin->StartRun(&ctx, req, &run);
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    return run;
  }
  v1::RunStatus WaitDone(int64_t run_id) {
    return testing::WaitRun(admin.get(), run_id,
                            [](const v1::RunStatus& s) { return s.state() != "waiting" && s.state() != "running"; });
  }
  std::string dir, pki;
  std::unique_ptr<server::AggregatorServer> server;
  int port = 0;
  std::unique_ptr<v1::Admin::Stub> admin;
};

v1::RunPlan Plan(bool secagg, int min_sites) {
  v1::RunPlan plan;
  plan.set_rounds(1);
  plan.set_min_sites(min_sites);
  plan.set_round_deadline_s(60);
  plan.set_secure_aggregation(secagg);
  plan.set_secagg_step_s(2);
  return plan;
}

// Every regular file under `dir` (none when it does not exist).
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  return out;
}

// Runs the secagg steps of `site` on a thread with `delta` of weight `samples`.
std::thread Drive(Site* site, Relay* relay, const v1::RoundTask& task, const fl::TensorBundle& global,
                  const fl::TensorBundle& delta, int64_t samples, absl::Status* result) {
  return std::thread([=] {
    int64_t clipped = 0;
    absl::StatusOr<std::vector<float>> x = client::SecAggVector(task, global, delta, &clipped);
    if (!x.ok()) {
      *result = x.status();
      return;
    }
    client::SecAggClientOptions o = site->SecAggOptions();
    *result = client::RunSecureAggregation(relay, o, task, *x, static_cast<double>(samples),
                                           site->Header(task, samples));
  });
}

// Expects `got` = `base` + the weighted mean of `deltas` (prototypes over the deltas that carry them).
void ExpectWeightedMean(const fl::TensorBundle& base, const fl::TensorBundle& got,
                        const std::vector<fl::TensorBundle>& deltas, const std::vector<double>& w, double tol) {
  for (const auto& t : got.tensors) {
    if (absl::StartsWith(t.name, "adapter.")) continue;
    const fl::NamedTensor* b = base.Find(t.name);
    for (size_t i = 0; i < t.values.size(); ++i) {
      double num = 0, den = 0;
      for (size_t s = 0; s < deltas.size(); ++s) {
        const fl::NamedTensor* d = deltas[s].Find(t.name);
        if (d == nullptr) continue;
        num += w[s] * d->values[i];
        den += w[s];
      }
      const double expected = (b != nullptr ? b->values[i] : 0.0) + num / den;
      ASSERT_NEAR(t.values[i], expected, tol) << t.name << "[" << i << "]";
    }
  }
}

TEST(SecAggTest, CanaryIsOnlyInTheSumAndTheModelIsTheWeightedMean) {
  Env env("fedlog_secagg_canary", /*keep_updates=*/true);
  Site a(env.pki, "site-a", env.port), b(env.pki, "site-b", env.port), c(env.pki, "site-c", env.port);
  const std::vector<double> w = {100, 150, 200};

  // Without secure aggregation the canary moves its row in site-a's stored update.
  absl::StatusOr<v1::RunStatus> plain = env.Start(Plan(false, 3));
  ASSERT_TRUE(plain.ok()) << plain.status();
  {
    std::vector<v1::RoundTask> t = testing::WaitRoundTasks({&a, &b, &c});
    const v1::RoundTask &ta = t[0], &tb = t[1], &tc = t[2];
    auto global = a.session.Download(ta.model_version());
    ASSERT_TRUE(global.ok()) << global.status();
    fl::TensorBundle da = Delta(global->bundle, 0, false);
    PlantCanary(&da);
    ASSERT_TRUE(a.session.Upload(a.Header(ta, 100), *fl::EncodeBundle(da)).ok());
    ASSERT_TRUE(b.session.Upload(b.Header(tb, 150), *fl::EncodeBundle(Delta(global->bundle, 0, false))).ok());
    ASSERT_TRUE(c.session.Upload(c.Header(tc, 200), *fl::EncodeBundle(Delta(global->bundle, 0, false))).ok());
    EXPECT_EQ(env.WaitDone(plain->run_id()).state(), "done");
    int with_canary = 0;
    for (const std::string& f : FilesUnder(JoinPath(env.dir, absl::StrCat("agg/updates/run", plain->run_id())))) {
      absl::StatusOr<fl::TensorBundle> u = fl::DecodeBundle(*ReadFile(f));
      ASSERT_TRUE(u.ok()) << u.status();
      if (u->Find("embed.weight")->values[static_cast<size_t>(CanaryRow() * kTokenDim)] == kCanaryValue) ++with_canary;
    }
    EXPECT_EQ(with_canary, 1);
  }

  // With it: the aggregator receives masked lanes only, stores no update, and the model is the weighted mean.
  absl::StatusOr<v1::RunStatus> run = env.Start(Plan(true, 3));
  ASSERT_TRUE(run.ok()) << run.status();
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  const v1::RoundTask &ta = tasks[0], &tb = tasks[1], &tc = tasks[2];
  ASSERT_TRUE(ta.secure_aggregation());
  EXPECT_EQ(ta.secagg().threshold(), 2);
  auto global = a.session.Download(ta.model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  std::vector<fl::TensorBundle> deltas = {Delta(global->bundle, 0.01f, true), Delta(global->bundle, -0.02f, true),
                                          Delta(global->bundle, 0.03f, false)};
  PlantCanary(&deltas[0]);
  // A plain update is refused in a secure-aggregation round.
  absl::Status refused = a.session.Upload(a.Header(ta, 100), *fl::EncodeBundle(deltas[0]));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  Relay ra(&a.session), rb(&b.session), rc(&c.session);
  absl::Status sa, sb, sc;
  std::thread t1 = Drive(&a, &ra, ta, global->bundle, deltas[0], 100, &sa);
  std::thread t2 = Drive(&b, &rb, tb, global->bundle, deltas[1], 150, &sb);
  std::thread t3 = Drive(&c, &rc, tc, global->bundle, deltas[2], 200, &sc);
  t1.join();
  t2.join();
  t3.join();
  ASSERT_TRUE(sa.ok() && sb.ok() && sc.ok()) << sa << sb << sc;
  v1::RunStatus done = env.WaitDone(run->run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 1);
  EXPECT_EQ(done.rounds(0).sites(), 3);
  EXPECT_TRUE(done.rounds(0).secure_aggregation());
  EXPECT_TRUE(FilesUnder(JoinPath(env.dir, absl::StrCat("agg/updates/run", run->run_id()))).empty());

  // What site-a sent at the canary's row decodes to noise, not to its weighted value.
  absl::StatusOr<secagg::RoundConfig> config = secagg::ConfigFromProto(ta.secagg());
  ASSERT_TRUE(config.ok()) << config.status();
  auto q = secagg::Quantizer::Create(config->quantization);
  ASSERT_TRUE(q.ok());
  auto lanes = secagg::DecodeSignedLanes(ra.sent, config->vector_length + 1, config->quantization.lane_bits);
  ASSERT_TRUE(lanes.ok()) << lanes.status();
  secagg::UpdateVectorLayout layout = secagg::MakeUpdateVectorLayout(fl::LayoutOf(global->bundle), kOut);
  size_t offset = 0;
  for (const auto& t : layout.shared) {
    if (t.name == "embed.weight") break;
    offset += static_cast<size_t>(fl::NumElementsOf(t.shape));
  }
  for (int j = 0; j < kTokenDim; ++j) {
    const int64_t lane = (*lanes)[offset + static_cast<size_t>(CanaryRow() * kTokenDim + j)];
    const double decoded = static_cast<double>(lane) * q->step();
    EXPECT_GT(std::abs(decoded - 100 * kCanaryValue), 1.0) << "lane " << j << " carries the canary";
  }

  auto next = a.session.Download(done.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  ExpectWeightedMean(global->bundle, next->bundle, deltas, w, 1e-5);
}

// Counts the unmask requests the aggregator sends its site (relayed as SecAggRelay does).
class UnmaskRequestWatch : public Relay {
 public:
  using Relay::Relay;
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override {
    absl::StatusOr<v1::SecAggPollResponse> resp = Relay::Poll(r);
    if (resp.ok() && resp->has_unmask()) ++unmask_requests;
    return resp;
  }
  std::atomic<int> unmask_requests{0};
};

// Site-level DP calibrates each site's noise share to min_sites shares in the sum (docs/PRIVACY.md, "Site-level
// DP"), so the aggregator never unmasks fewer masked inputs (SecAggRoundOptions::min_survivors). Four sites,
// min_sites 4, threshold 3 (a majority of four): site-d drops after masking, leaving three masked inputs, enough
// to unmask (>= t) but fewer than the four the noise counts on. The attempt fails at the close of masking, before
// any unmask request exists: no site is ever sent one. (The sites would refuse such a request too,
// SecAggProtocolTest.SiteRefusesToUnmaskFewerSurvivorsThanItsDpMinimum; without the aggregator's check the
// survivors are sent it, and this test fails.)
TEST(SecAggTest, DropoutsBelowTheDpMinimumFailTheAttemptBeforeAnyShareIsAskedFor) {
  Env env("fedlog_secagg_dp_min");
  Site a(env.pki, "site-a", env.port), b(env.pki, "site-b", env.port), c(env.pki, "site-c", env.port),
      d(env.pki, "site-d", env.port);
  v1::RunPlan plan = Plan(true, 4);
  plan.set_dp_mode("site");
  plan.set_dp_noise_multiplier(0.5);
  plan.set_dp_clip(1.0);
  absl::StatusOr<v1::RunStatus> run = env.Start(plan);
  ASSERT_TRUE(run.ok()) << run.status();
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c, &d});
  for (const v1::RoundTask& t : tasks) {
    ASSERT_EQ(t.dp_mode(), "site");
    ASSERT_EQ(t.dp_min_sites(), 4);
    ASSERT_EQ(t.secagg().threshold(), 3);
  }
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  std::vector<Site*> sites = {&a, &b, &c, &d};
  std::vector<std::unique_ptr<UnmaskRequestWatch>> relays;
  std::vector<absl::Status> results(sites.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sites.size(); ++i) {
    relays.push_back(std::make_unique<UnmaskRequestWatch>(&sites[i]->session));
    relays.back()->drop_after_masking = i == 3;
    threads.push_back(Drive(sites[i], relays.back().get(), tasks[i], global->bundle,
                            Delta(global->bundle, 0.01f * static_cast<float>(i + 1), false), 1, &results[i]));
  }
  for (std::thread& t : threads) t.join();
  v1::RunStatus s = testing::WaitRun(env.admin.get(), run->run_id(), [](const v1::RunStatus& r) {
    return r.rounds_size() > 0 && r.rounds(0).state() != "open";
  });
  ASSERT_GT(s.rounds_size(), 0);
  EXPECT_EQ(s.rounds(0).state(), "failed");
  for (size_t i = 0; i < sites.size(); ++i) {
    SCOPED_TRACE(sites[i]->id);
    EXPECT_FALSE(results[i].ok());
    EXPECT_EQ(relays[i]->unmask_requests.load(), 0);
    EXPECT_EQ(relays[i]->unmask_calls, 0);
  }
  // The three survivors did send their masked inputs: the attempt reached the close of masking.
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(relays[i]->sent.empty()) << sites[i]->id;
}

// Three sites, site-c dropping right after it masked; the round completes with the survivors' weighted mean.
// `max_site_samples` > 0 bounds the weights, and so do the lines every site declares (`declared_lines` > 0),
// which lets the aggregator choose `lane_bits`-bit lanes. The share cap is off (1): site-b's 300 of the
// survivors' 400 would exceed the default 0.5 and fail the attempt before unmasking (docs/rules/s25-weightcap.md,
// RedteamSecAggSiteTest covers that); this test is about removing a dropped site's masks.
void DropAfterMasking(const char* name, int64_t max_site_samples, uint32_t lane_bits, int64_t declared_lines = 0) {
  Env env(name);
  Site a(env.pki, "site-a", env.port, "HDFS", declared_lines), b(env.pki, "site-b", env.port, "HDFS", declared_lines),
      c(env.pki, "site-c", env.port, "HDFS", declared_lines);
  v1::RunPlan plan = Plan(true, 3);
  plan.set_max_site_samples(max_site_samples);
  plan.set_max_site_weight_share(1);
  absl::StatusOr<v1::RunStatus> run = env.Start(plan);
  ASSERT_TRUE(run.ok()) << run.status();
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  const v1::RoundTask &ta = tasks[0], &tb = tasks[1], &tc = tasks[2];
  ASSERT_EQ(ta.secagg().lane_bits(), lane_bits);
  auto global = a.session.Download(ta.model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  std::vector<fl::TensorBundle> deltas = {Delta(global->bundle, 0.01f, true), Delta(global->bundle, 0.04f, true),
                                          Delta(global->bundle, -0.5f, true)};
  Relay ra(&a.session), rb(&b.session), rc(&c.session);
  rc.drop_after_masking = true;
  absl::Status sa, sb, sc;
  std::thread t1 = Drive(&a, &ra, ta, global->bundle, deltas[0], 100, &sa);
  std::thread t2 = Drive(&b, &rb, tb, global->bundle, deltas[1], 300, &sb);
  std::thread t3 = Drive(&c, &rc, tc, global->bundle, deltas[2], 200, &sc);
  t1.join();
  t2.join();
  t3.join();
  ASSERT_TRUE(sa.ok() && sb.ok()) << sa << sb;
  EXPECT_FALSE(sc.ok());
  // site-c did mask before it dropped, in lanes of the round's width.
  EXPECT_EQ(rc.sent.size(), (tc.secagg().vector_length() + 1) * (lane_bits / 8));
  v1::RunStatus done = env.WaitDone(run->run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  EXPECT_EQ(done.rounds(0).sites(), 2);
  auto next = a.session.Download(done.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  // The survivors' weighted mean: site-c's pairwise masks were removed and its input is not in the sum.
  ExpectWeightedMean(global->bundle, next->bundle, {deltas[0], deltas[1]}, {100, 300}, 1e-5);
}

TEST(SecAggTest, SiteDroppingAfterMaskingIsRecovered) {
  DropAfterMasking("fedlog_secagg_drop", 0, 64);  // weights up to 1e6: 64-bit lanes
}

TEST(SecAggTest, SiteDroppingAfterMaskingIsRecoveredIn32BitLanes) {
  // 3 sites * R 4 * W 300 fits 32-bit lanes with f = 18; the weights 100 and 300 keep a step below 2^-16.
  DropAfterMasking("fedlog_secagg_drop32", 300, 32);
}

TEST(SecAggTest, SiteDroppingAfterMaskingIsRecoveredIn32BitLanesFromDeclaredLines) {
  // No max_site_samples, but every site declared 400 lines: W = 512 (the power of two above), the smallest
  // expected weight 64 (400 / 4, rounded down to a power of two); 3 * 4 * 512 * 2^17 <= 2^30, so 32-bit lanes
  // with f = 17, and the weights 100 and 300 decode to the plain weighted mean.
  v1::RunPlan plan = Plan(true, 3);
  plan.set_secagg_clip_range(4);  // the default run start fills in
  const secagg::QuantizationOptions q = server::SecAggQuantization(plan, 3, {400, 400, 400});
  ASSERT_EQ(q.lane_bits, 32);
  EXPECT_EQ(q.fractional_bits, 17);
  EXPECT_EQ(q.max_weight, 512);
  DropAfterMasking("fedlog_secagg_drop_declared", 0, 32, 400);
}

TEST(SecAggTest, LanesFollowTheDeclaredLinesOnlyWhenEveryWeightIsASampleCount) {
  v1::RunPlan plan = Plan(true, 3);
  plan.set_secagg_clip_range(4);
  // The demo's shape: 4 sites of 1,000-3,000 lines: W = 4096, expected weight >= 128, f = 14.
  secagg::QuantizationOptions q = server::SecAggQuantization(plan, 4, {2000, 1000, 1000, 3000});
  EXPECT_EQ(q.lane_bits, 32);
  EXPECT_EQ(q.max_weight, 4096);
  EXPECT_EQ(q.fractional_bits, 14);
  // 16 sites of 100,000 lines: W = 2^17 leaves f = 7 in 32 bits, under the 8-bit floor: 64-bit lanes.
  q = server::SecAggQuantization(plan, 16, std::vector<int64_t>(16, 100000));
  EXPECT_EQ(q.lane_bits, 64);
  // One site of 3 lines among sites of 60,000: the smallest weight would need f >= 16, 32 bits give 10.
  q = server::SecAggQuantization(plan, 3, {60000, 60000, 3});
  EXPECT_EQ(q.lane_bits, 64);
  // A site that declared nothing: the plan's bound (1e6), 64-bit lanes.
  EXPECT_EQ(server::SecAggQuantization(plan, 3, {400, 0, 400}).lane_bits, 64);
  EXPECT_EQ(server::SecAggQuantization(plan, 3, {400, 0, 400}).max_weight, 1e6);
  // max_site_samples caps W below the declared lines.
  plan.set_max_site_samples(300);
  q = server::SecAggQuantization(plan, 3, {400, 400, 400});
  EXPECT_EQ(q.max_weight, 300);
  EXPECT_EQ(q.lane_bits, 32);
  // Line-level DP weighs by noised counts, which the declared lines do not bound: the plan's W.
  plan.set_max_site_samples(0);
  plan.set_dp_mode("line");
  EXPECT_EQ(server::SecAggQuantization(plan, 3, {400, 400, 400}).max_weight, 1e6);
  EXPECT_EQ(server::SecAggQuantization(plan, 3, {400, 400, 400}).lane_bits, 64);
}

TEST(SecAggTest, SiteRefusesToRevealBothSharesOfOneSite) {
  Env env("fedlog_secagg_forge");
  Site a(env.pki, "site-a", env.port), b(env.pki, "site-b", env.port), c(env.pki, "site-c", env.port);
  absl::StatusOr<v1::RunStatus> run = env.Start(Plan(true, 3));
  ASSERT_TRUE(run.ok()) << run.status();
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  const v1::RoundTask &ta = tasks[0], &tb = tasks[1], &tc = tasks[2];
  auto global = a.session.Download(ta.model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  fl::TensorBundle d = Delta(global->bundle, 0.01f, false);
  Relay ra(&a.session), rb(&b.session), rc(&c.session);
  ra.forge_unmask = true;  // as if the aggregator asked site-a for a survivor's self-mask and key shares
  absl::Status sa, sb, sc;
  std::thread t1 = Drive(&a, &ra, ta, global->bundle, d, 100, &sa);
  std::thread t2 = Drive(&b, &rb, tb, global->bundle, d, 100, &sb);
  std::thread t3 = Drive(&c, &rc, tc, global->bundle, d, 100, &sc);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_FALSE(sa.ok());
  EXPECT_EQ(ra.unmask_calls, 0) << "site-a revealed shares for a forged request";
  EXPECT_TRUE(sb.ok() && sc.ok()) << sb << sc;
  // The honest sites' responses still meet the threshold: the round completes.
  EXPECT_EQ(env.WaitDone(run->run_id()).state(), "done");
}

TEST(SecAggTest, RunStartRefusesWhatNeedsIndividualUpdates) {
  Env env("fedlog_secagg_plan");
  struct Case {
    const char* what;
    std::function<void(v1::RunPlan*)> edit;
  };
  const std::vector<Case> cases = {
      {"median", [](v1::RunPlan* p) { p->set_strategy("median"); }},
      {"trimmed_mean", [](v1::RunPlan* p) { p->set_strategy("trimmed_mean"); }},
      {"max_update_norm", [](v1::RunPlan* p) { p->set_max_update_norm(5); }},
      {"clip_norm", [](v1::RunPlan* p) { p->set_clip_norm(1); }},
      {"min_sites", [](v1::RunPlan* p) { p->set_min_sites(1); }},
      {"secagg_threshold", [](v1::RunPlan* p) { p->set_secagg_threshold(4); }},
  };
  for (const Case& c : cases) {
    v1::RunPlan plan = Plan(true, 3);
    c.edit(&plan);
    absl::StatusOr<v1::RunStatus> r = env.Start(plan);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(r.status().message().find(c.what), std::string::npos) << r.status();
  }
  absl::StatusOr<v1::RunStatus> ok = env.Start(Plan(true, 3));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->plan().secure_aggregation());
  EXPECT_EQ(ok->plan().secagg_clip_range(), 4.0);
}

// The site daemons' own path (train, flatten, the four steps) under a secure-aggregation run of two rounds.
// Three site daemons train and run two secure rounds of `plan` on their own.
void DaemonsCompleteSecureRounds(const char* name, v1::RunPlan plan) {
  Env env(name);
  // Stopped and joined on every way out of this function: an ASSERT below that returned early past raw
  // std::threads would destroy them joinable (std::terminate, the whole binary aborts).
  testing::RunningDaemons daemons;
  for (const std::string site : {"site-a", "site-b", "site-c"}) {
    std::string log = testing::WriteLog(env.dir, site, 200, static_cast<int>(site.back()));
    v1::ClientConfig config = testing::ClientConfigFor(env.pki, site, env.port, JoinPath(env.dir, site), log);
    ASSERT_NE(daemons.Start(config), nullptr);
  }
  plan.set_rounds(2);
  plan.mutable_training()->set_local_epochs(1);
  absl::StatusOr<v1::RunStatus> run = env.Start(plan);
  ASSERT_TRUE(run.ok()) << run.status();
  v1::RunStatus done = env.WaitDone(run->run_id());
  daemons.Stop();
  ASSERT_EQ(done.state(), "done") << done.ShortDebugString();
  int completed = 0;
  for (const auto& r : done.rounds()) {
    if (r.state() != "done") continue;
    ++completed;
    EXPECT_TRUE(r.secure_aggregation());
    EXPECT_GE(r.sites(), 2);
  }
  EXPECT_EQ(completed, 2);
  EXPECT_TRUE(FilesUnder(JoinPath(env.dir, absl::StrCat("agg/updates/run", run->run_id()))).empty());
}

TEST(SecAggTest, SiteDaemonsCompleteSecureRounds) {
  // The daemons declare their 200 lines each in Hello, so the aggregator bounds W by 256 and picks 32-bit
  // lanes (64-bit without the declared lines).
  v1::RunPlan plan = Plan(true, 3);
  ASSERT_EQ(server::SecAggQuantization(plan, 3).lane_bits, 64);
  ASSERT_EQ(server::SecAggQuantization(plan, 3, {200, 200, 200}).lane_bits, 32);
  DaemonsCompleteSecureRounds("fedlog_secagg_daemons", plan);
}

TEST(SecAggTest, SiteDaemonsCompleteSecureRoundsWithSiteDpIn32BitLanes) {
  // Site-level DP weighs every site 1, so the aggregator chooses 32-bit lanes (f = 26 for 3 sites at R = 4).
  v1::RunPlan plan = Plan(true, 3);
  plan.set_secagg_clip_range(4);
  plan.set_dp_mode("site");
  plan.set_dp_noise_multiplier(0.5);
  plan.set_dp_clip(1.0);
  const secagg::QuantizationOptions q = server::SecAggQuantization(plan, 3);
  ASSERT_EQ(q.lane_bits, 32);
  EXPECT_EQ(q.fractional_bits, 26);
  DaemonsCompleteSecureRounds("fedlog_secagg_daemons_dp", plan);
}

}  // namespace
}  // namespace fedlog
