// Secure aggregation against one bad SITE (docs/SECURITY.md, "One bad site under secure aggregation"), over real
// mTLS: two honest hand-driven sites and one whose transport tampers with what its honest client sends. Checked:
// a masked input whose weight lane is smaller than the weight its values carry is refused at decoding (the
// attempt fails, the next one completes and the model stays within the clip range) instead of scaling the mean;
// an advertised public key of small order is refused, so the honest sites complete the round without that site;
// shares that do not decrypt are reported by the honest sites, which fails the attempt at once and excludes
// their sender from the round's next attempt, which completes without it; wrong shares revealed at unmasking
// are outvoted and their revealer counted (docs/rules/s24-secshares.md); with six sites, a spoiled sum is
// retried as two disjoint cohorts and the clean one completes the round (docs/rules/s25-cohorts.md); a site
// that claims a large sample count (in Hello, its header and its stated weight) takes no more than the plan's
// share cap of the mean, one that masks more weight than the round gave it fails the attempt with the reason
// logged, a dropout that leaves a survivor above the cap fails the attempt before unmasking, and a stated
// weight of 0 is refused (docs/rules/s25-weightcap.md). A run that saw a spoiled sum starts every later round as
// cohorts, so a persistent spoiler fails one attempt of the run, not one a round, the run leaves cohort mode after
// 3 clean attempts, and the spoiler's sit-out and the run's cohort mode survive an aggregator restart; secure-aggregation calls the aggregator refuses do not make a site
// a round's participant (docs/rules/s26-securestate.md).
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "common/base/file_util.h"
#include "common/fl/tensor_bundle.h"
#include "common/secagg/quantize.h"
#include "common/secagg/shamir.h"
#include "common/secagg/wire.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Site = testing::HandSite;

constexpr int kOut = 8, kAdapter = 4;
constexpr double kClipRange = 4;  // the plan's secagg_clip_range (run start's default)

// What the bad site's transport does to the messages its (honest) client sends.
enum class Tamper {
  kNone, kZeroWeightLane, kZeroEncryptionKey, kSmallOrderMaskKey, kGarbageShares, kWrongReveals, kLateReveal,
  kIgnoreGivenWeight, kZeroStatedWeight
};

// Relays a site's secure-aggregation calls to the aggregator, tampering as `tamper` says.
class BadRelay : public client::SecAggTransport {
 public:
  BadRelay(client::FederationSession* s, Tamper tamper) : inner_(client::SessionTransport(s)), tamper_(tamper) {}
  absl::Status Advertise(const v1::SecAggAdvertiseRequest& r) override {
    v1::SecAggAdvertiseRequest bad = r;
    if (tamper_ == Tamper::kZeroEncryptionKey) bad.set_encryption_key(std::string(32, '\0'));
    // u = 1, a point of order 4: X25519 with any clamped scalar gives zero.
    if (tamper_ == Tamper::kSmallOrderMaskKey) bad.set_mask_key(std::string(1, '\1') + std::string(31, '\0'));
    if (tamper_ == Tamper::kZeroStatedWeight) bad.set_weight(0);  // it would add nothing it could be held to
    return inner_->Advertise(bad);
  }
  absl::Status ShareKeys(const v1::SecAggShareKeysRequest& r) override {
    v1::SecAggShareKeysRequest bad = r;
    if (tamper_ == Tamper::kGarbageShares) {
      for (v1::SecAggEncryptedShare& s : *bad.mutable_shares()) {
        std::string* c = s.mutable_ciphertext();
        (*c)[c->size() / 2] ^= 0x5a;  // well-formed, the right length and envelope; fails its tag
      }
    }
    return inner_->ShareKeys(bad);
  }
  absl::Status UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) override {
    std::string bad = bytes;
    if (tamper_ == Tamper::kZeroWeightLane) {
      // Masking is additive: subtracting the site's weight lane from its masked lane removes its weight from the
      // sum while its values keep theirs.
      const size_t at = bad.size() - lane_bytes;
      uint64_t lane = 0;
      for (size_t i = 0; i < lane_bytes; ++i) lane |= uint64_t{static_cast<uint8_t>(bad[at + i])} << (8 * i);
      lane -= weight_lane;
      for (size_t i = 0; i < lane_bytes; ++i) bad[at + i] = static_cast<char>((lane >> (8 * i)) & 0xff);
    }
    return inner_->UploadMasked(h, bad);
  }
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override {
    absl::StatusOr<v1::SecAggPollResponse> got = inner_->Poll(r);
    // The site masks the weight it stated instead of the capped one its roster gives it: values and weight
    // lane agree (the clip-range bound of the sum cannot see it), the weight is not the one the round gave.
    if (tamper_ == Tamper::kIgnoreGivenWeight && got.ok() && got->has_roster()) {
      got->mutable_roster()->set_weight(stated_weight);
    }
    return got;
  }
  absl::Status Unmask(const v1::SecAggUnmaskRequest& r) override {
    v1::SecAggUnmaskRequest bad = r;
    if (tamper_ == Tamper::kWrongReveals) {  // every revealed share off its polynomial, still in the field
      for (v1::SecAggRevealedShare& s : *bad.mutable_shares()) s.set_y(0, (s.y(0) + 1) % secagg::kShamirPrime);
    }
    // An honest site that answers late, so that the liar's shares come first (the plain combination takes the
    // first t).
    if (tamper_ == Tamper::kLateReveal) std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return inner_->Unmask(bad);
  }

  uint64_t weight_lane = 0;  // kZeroWeightLane: the lane the honest client puts the weight in
  size_t lane_bytes = 8;
  double stated_weight = 0;  // kIgnoreGivenWeight: the weight the site stated (and masks)

 private:
  std::unique_ptr<client::SecAggTransport> inner_;
  Tamper tamper_;
};

// Starts a secure-aggregation run (steps of 2 s) and returns its id; `max_site_share` 0 keeps the default cap.
int64_t StartSecureRun(v1::Admin::Stub* admin, int rounds, int min_sites, int deadline_s, double max_site_share = 0) {
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  plan->set_rounds(rounds);
  plan->set_max_site_weight_share(max_site_share);
  plan->set_min_sites(min_sites);
  plan->set_round_deadline_s(deadline_s);
  plan->set_secure_aggregation(true);
  plan->set_secagg_step_s(2);
  v1::RunStatus run;
  grpc::ClientContext ctx;
  grpc::Status st = admin->StartRun(&ctx, req, &run);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return run.run_id();
}

class RedteamSecAggSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_redteam_secagg");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "site-c"}));
    v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
    ASSERT_TRUE(testing::UseTinyLineEncoder(&cfg, kOut, kAdapter));
    server_ = testing::StartAggregatorOrFail(cfg, &port_);
    ASSERT_NE(server_, nullptr);
    admin_ = testing::AdminStub(pki_, port_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  // A one-round secure-aggregation run of three sites (threshold 2) whose advertising closes after
  // `deadline_s` when a site never advertises; `max_site_share` is the plan's share cap (0: the default).
  int64_t StartRun(int deadline_s, int min_sites = 3, double max_site_share = 0) {
    return StartSecureRun(admin_.get(), 1, min_sites, deadline_s, max_site_share);
  }
  v1::RunStatus WaitRun(int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready) {
    return testing::WaitRun(admin_.get(), run_id, ready);
  }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  int port_ = 0;
  std::unique_ptr<v1::Admin::Stub> admin_;
};


// `model`'s shared tensors, every value `v`.
fl::TensorBundle Delta(const fl::TensorBundle& model, float v) {
  fl::TensorBundle d;
  for (const auto& t : model.tensors) {
    if (fl::IsOptionalTensor(t.name)) continue;
    d.tensors.push_back({t.name, t.shape, std::vector<float>(t.values.size(), v)});
  }
  return d;
}

// Runs one secure-aggregation attempt: each site i masks `deltas[i]` with weight `weights[i]` through its
// transport; returns each site's result.
std::vector<absl::Status> RunAttempt(const std::vector<Site*>& sites, const std::vector<client::SecAggTransport*>& via,
                                     const std::vector<v1::RoundTask>& tasks, const fl::TensorBundle& global,
                                     const std::vector<fl::TensorBundle>& deltas, const std::vector<double>& weights) {
  std::vector<absl::Status> out(sites.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sites.size(); ++i) {
    threads.emplace_back([&, i] {
      int64_t clipped = 0;
      absl::StatusOr<std::vector<float>> x = client::SecAggVector(tasks[i], global, deltas[i], &clipped);
      if (!x.ok()) {
        out[i] = x.status();
        return;
      }
      client::SecAggClientOptions o;
      o.site_id = sites[i]->id;
      o.poll_wait_ms = 500;
      out[i] = client::RunSecureAggregation(via[i], o, tasks[i], *x, weights[i],
                                            Site::Header(tasks[i], static_cast<int64_t>(weights[i])));
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

bool HasFailedAttempt(const v1::RunStatus& s) {
  for (const auto& r : s.rounds()) {
    if (r.state() == "failed") return true;
  }
  return false;
}

bool Finished(const v1::RunStatus& s) { return s.state() != "waiting" && s.state() != "running"; }

// Every value of `after` within the clip range of `before` (a mean of clipped deltas cannot move further).
void ExpectWithinClipRange(const fl::TensorBundle& before, const fl::TensorBundle& after) {
  for (const auto& t : after.tensors) {
    const fl::NamedTensor* b = before.Find(t.name);
    if (b == nullptr) continue;
    for (size_t i = 0; i < t.values.size(); ++i) {
      ASSERT_LE(std::fabs(t.values[i] - b->values[i]), kClipRange + 1e-3) << t.name << "[" << i << "]";
    }
  }
}

TEST_F(RedteamSecAggSiteTest, WeightLaneBelowItsValuesWeightIsRefusedNotAveraged) {
  // site-c declares a source of its own: it is in no adapter group, so no presence lane of its shows the weight
  // it took out (an attacker in a group would take its weight out of those lanes too).
  Site a(pki_, "site-a", port_), b(pki_, "site-b", port_), c(pki_, "site-c", port_, "BGL");
  const int64_t run_id = StartRun(60);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  ASSERT_TRUE(tasks[2].secure_aggregation());
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  absl::StatusOr<secagg::RoundConfig> config = secagg::ConfigFromProto(tasks[2].secagg());
  ASSERT_TRUE(config.ok()) << config.status();
  auto q = secagg::Quantizer::Create(config->quantization);
  ASSERT_TRUE(q.ok()) << q.status();
  // site-c masks values at the clip range with weight 1e5, then takes its weight out of the weight lane: the
  // decoded mean would be (1e5 x 4) / 200 per coordinate, 500 times the clip range.
  const double bad_weight = 1e5;
  BadRelay bad(&c.session, Tamper::kZeroWeightLane);
  bad.weight_lane = q->WeightLane(bad_weight);
  bad.lane_bytes = static_cast<size_t>(config->quantization.lane_bits / 8);
  auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session);
  std::vector<absl::Status> st =
      RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), &bad}, tasks, global->bundle,
                 {Delta(global->bundle, 0.01f), Delta(global->bundle, -0.01f), Delta(global->bundle, 4.0f)},
                 {100, 100, bad_weight});
  // Every site, site-c too, did its part as the protocol sees it; the sum is what gives site-c away.
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  v1::RunStatus s = WaitRun(run_id, [](const v1::RunStatus& r) { return HasFailedAttempt(r) || Finished(r); });
  ASSERT_TRUE(HasFailedAttempt(s)) << "the tampered sum was averaged into the model: " << s.state();

  // The next attempt (fresh session) runs with the same sites; site-c behaves this time.
  tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto rc = client::SessionTransport(&c.session);
  st = RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), rc.get()}, tasks, global->bundle,
                  {Delta(global->bundle, 0.01f), Delta(global->bundle, -0.01f), Delta(global->bundle, 0.02f)},
                  {100, 100, 100});
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 2);
  EXPECT_EQ(s.rounds(1).attempt(), 2);
  EXPECT_EQ(s.rounds(1).sites(), 3);
  auto next = a.session.Download(s.rounds(1).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  ExpectWithinClipRange(global->bundle, next->bundle);
}

// site-c advertises a key of small order; its advertisement is refused and the round completes with site-a and
// site-b once advertising closes at the round's deadline.
TEST_F(RedteamSecAggSiteTest, SmallOrderPublicKeysAreRefusedAndTheOthersComplete) {
  for (Tamper tamper : {Tamper::kZeroEncryptionKey, Tamper::kSmallOrderMaskKey}) {
    SCOPED_TRACE(tamper == Tamper::kZeroEncryptionKey ? "all-zero encryption key" : "mask key of order 4");
    Site a(pki_, "site-a", port_), b(pki_, "site-b", port_), c(pki_, "site-c", port_);
    const int64_t run_id = StartRun(4);
    std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
    auto global = a.session.Download(tasks[0].model_version());
    ASSERT_TRUE(global.ok()) << global.status();
    BadRelay bad(&c.session, tamper);
    auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session);
    std::vector<absl::Status> st =
        RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), &bad}, tasks, global->bundle,
                   {Delta(global->bundle, 0.01f), Delta(global->bundle, -0.02f), Delta(global->bundle, 0.03f)},
                   {100, 100, 100});
    EXPECT_EQ(st[2].code(), absl::StatusCode::kInvalidArgument) << st[2];
    EXPECT_TRUE(absl::StrContains(st[2].message(), "small order")) << st[2];
    ASSERT_TRUE(st[0].ok() && st[1].ok()) << st[0] << st[1];
    v1::RunStatus s = WaitRun(run_id, Finished);
    ASSERT_EQ(s.state(), "done") << s.message();
    ASSERT_EQ(s.rounds_size(), 1);
    EXPECT_EQ(s.rounds(0).sites(), 2);
    EXPECT_EQ(s.refused_updates(), 1);  // the advertisement, counted like a refused upload
  }
}

std::vector<std::string> Participants(const v1::RoundSummary& r) {
  return std::vector<std::string>(r.participants().begin(), r.participants().end());
}

// site-c never says hello, polls for a task or heartbeats; it only sends secure-aggregation calls the aggregator
// refuses or answers as not its own (an advertisement and a step poll for a session it is in none of). Such
// calls do not make it present (docs/rules/s26-securestate.md, "Presence"): the round opens for site-a and
// site-b only, and completes with them without waiting for site-c. When they counted, site-c was online, a
// participant, and the round's advertising waited for it until the round deadline.
TEST_F(RedteamSecAggSiteTest, RefusedSecureAggregationCallsDoNotMakeASiteAParticipant) {
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::thread spammer([&] {
    client::FederationSession c(testing::SiteChannel(pki_, "site-c", port_));
    v1::SecAggAdvertiseRequest advertise;
    advertise.set_session_id(std::string(32, 'a'));
    v1::SecAggPollRequest poll;
    poll.set_session_id(std::string(32, 'a'));
    while (!stop.load()) {
      refused += c.SecAggAdvertise(advertise).ok() ? 0 : 1;
      c.SecAggPoll(poll).IgnoreError();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  Site a(pki_, "site-a", port_), b(pki_, "site-b", port_);
  const int64_t run_id = StartRun(/*deadline_s=*/30, /*min_sites=*/2);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b});
  v1::RunStatus s = WaitRun(run_id, [](const v1::RunStatus& r) { return r.rounds_size() > 0; });
  ASSERT_EQ(s.rounds_size(), 1);
  EXPECT_EQ(Participants(s.rounds(0)), (std::vector<std::string>{"site-a", "site-b"}));
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session);
  const auto started = std::chrono::steady_clock::now();
  std::vector<absl::Status> st = RunAttempt({&a, &b}, {ra.get(), rb.get()}, tasks, global->bundle,
                                            {Delta(global->bundle, 0.01f), Delta(global->bundle, -0.02f)}, {100, 100});
  ASSERT_TRUE(st[0].ok() && st[1].ok()) << st[0] << st[1];
  s = WaitRun(run_id, Finished);
  stop = true;
  spammer.join();
  ASSERT_EQ(s.state(), "done") << s.message();
  EXPECT_EQ(s.rounds(0).sites(), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));  // not the 30 s deadline
  EXPECT_GT(refused.load(), 0);
}

// site-c's shares open at neither honest site. They go on without them and name site-c; with two complaints
// site-c's secrets are held by too few sites (t = 2), so the attempt fails at once, before any share is revealed,
// and the next attempt runs without site-c and completes.
TEST_F(RedteamSecAggSiteTest, SharesThatDoNotDecryptExcludeTheirSenderAndTheRoundCompletesWithoutIt) {
  Site a(pki_, "site-a", port_), b(pki_, "site-b", port_), c(pki_, "site-c", port_);
  const int64_t run_id = StartRun(60, /*min_sites=*/2);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  BadRelay bad(&c.session, Tamper::kGarbageShares);
  auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session);
  const std::vector<fl::TensorBundle> deltas = {Delta(global->bundle, 0.01f), Delta(global->bundle, -0.02f),
                                                Delta(global->bundle, 0.03f)};
  std::vector<absl::Status> st =
      RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), &bad}, tasks, global->bundle, deltas, {100, 100, 100});
  // The honest sites masked and uploaded (no refusal of their own): the aggregator ended the attempt.
  for (int i : {0, 1}) {
    EXPECT_EQ(st[i].code(), absl::StatusCode::kAborted) << st[i];
    EXPECT_TRUE(absl::StrContains(st[i].message(), "secure aggregation ended by the aggregator")) << st[i];
  }
  v1::RunStatus s = WaitRun(run_id, [](const v1::RunStatus& r) { return HasFailedAttempt(r) || Finished(r); });
  ASSERT_TRUE(HasFailedAttempt(s)) << s.state();
  EXPECT_GE(s.refused_updates(), 1);  // site-c's exclusion (and its masked upload, when it came after the end)
  // The next attempt asks site-a and site-b only, and completes.
  tasks = testing::WaitRoundTasks({&a, &b});
  s = WaitRun(run_id, [](const v1::RunStatus& r) {
    return r.rounds_size() == 2 && r.rounds(1).state() == "open";
  });
  ASSERT_EQ(s.rounds_size(), 2);
  EXPECT_EQ(Participants(s.rounds(1)), (std::vector<std::string>{"site-a", "site-b"}));
  std::vector<fl::TensorBundle> two = {deltas[0], deltas[1]};
  st = RunAttempt({&a, &b}, {ra.get(), rb.get()}, tasks, global->bundle, two, {100, 100});
  ASSERT_TRUE(st[0].ok() && st[1].ok()) << st[0] << st[1];
  s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 2);
  EXPECT_EQ(s.rounds(1).attempt(), 2);
  EXPECT_EQ(s.rounds(1).sites(), 2);
}

// site-c reveals a wrong share of every secret, first (the honest sites answer late). Each secret has three
// shares for t = 2: the wrong ones are outvoted, the round completes in its first attempt with all three inputs,
// and site-c's lie is counted with the run's refusals.
TEST_F(RedteamSecAggSiteTest, WrongRevealedSharesAreOutvotedAndTheirRevealerCounted) {
  Site a(pki_, "site-a", port_), b(pki_, "site-b", port_), c(pki_, "site-c", port_);
  const int64_t run_id = StartRun(60);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  BadRelay liar(&c.session, Tamper::kWrongReveals);
  BadRelay late_a(&a.session, Tamper::kLateReveal), late_b(&b.session, Tamper::kLateReveal);
  std::vector<absl::Status> st =
      RunAttempt({&a, &b, &c}, {&late_a, &late_b, &liar}, tasks, global->bundle,
                 {Delta(global->bundle, 0.01f), Delta(global->bundle, 0.02f), Delta(global->bundle, 0.03f)},
                 {100, 100, 100});
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  v1::RunStatus s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 1) << "the attempt failed: " << s.rounds(0).state();
  EXPECT_EQ(s.rounds(0).sites(), 3);
  EXPECT_EQ(s.refused_updates(), 1);  // site-c, blamed at unmasking
  auto next = a.session.Download(s.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  // The mean of the three clipped deltas moved the model by 0.02 (a wrong seed would leave noise).
  const fl::NamedTensor* before = nullptr;
  for (const auto& t : global->bundle.tensors) {
    if (before == nullptr && !fl::IsOptionalTensor(t.name)) before = &t;
  }
  ASSERT_NE(before, nullptr);
  const fl::NamedTensor* after = next->bundle.Find(before->name);
  ASSERT_NE(after, nullptr);
  EXPECT_NEAR(after->values[0] - before->values[0], 0.02, 1e-3);
}

// Six sites, min_sites 3; site-f takes its weight out of its weight lane in every attempt (the tamper of
// WeightLaneBelowItsValuesWeightIsRefusedNotAveraged). The aggregator cannot tell from a sum who spoiled it, so
// the round's next attempt runs as two disjoint cohorts of three, each its own session
// (docs/rules/s25-cohorts.md).
class RedteamSecAggCohortTest : public ::testing::Test {
 protected:
  static constexpr int kSites = 6;
  static constexpr double kBadWeight = 1e5;
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_redteam_cohorts");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "site-c", "site-d", "site-e", "site-f"}));
    StartServer(0);
    ASSERT_NE(server_, nullptr);
    // site-f declares a source of its own (as site-c in the three-site test): no adapter presence lane of its
    // shows the weight it took out.
    for (const char* id : {"site-a", "site-b", "site-c", "site-d", "site-e"}) {
      sites_.push_back(std::make_unique<Site>(pki_, id, port_));
    }
    sites_.push_back(std::make_unique<Site>(pki_, "site-f", port_, "BGL"));
  }
  void TearDown() override {
    StopHeartbeats();
    sites_.clear();
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  // The aggregator on `port` (0: a free one) over the fixture's data directory.
  void StartServer(int port) {
    v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"), port);
    ASSERT_TRUE(testing::UseTinyLineEncoder(&cfg, kOut, kAdapter));
    server_ = testing::StartAggregatorOrFail(cfg, &port_);
    admin_ = testing::AdminStub(pki_, port_);
  }
  // Same data directory, same port: the hand sites' channels reconnect.
  void RestartServer() {
    server_->Shutdown();
    server_.reset();
    StartServer(port_);
  }
  // Every site heartbeats every 200 ms until StopHeartbeats, so that a site that gets no task (sitting a round
  // out) stays online for the next round.
  void StartHeartbeats() {
    stop_heartbeats_ = false;
    heartbeats_ = std::thread([this] {
      while (!stop_heartbeats_.load()) {
        for (auto& s : sites_) s->session.Heartbeat("idle").IgnoreError();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }
  void StopHeartbeats() {
    stop_heartbeats_ = true;
    if (heartbeats_.joinable()) heartbeats_.join();
  }
  // Heartbeats `site` alone until the aggregator lists it online (up to about 20 s); false when it never is.
  bool HeartbeatUntilOnline(Site* site) {
    for (int i = 0; i < 100; ++i) {
      site->session.Heartbeat("idle").IgnoreError();
      grpc::ClientContext ctx;
      v1::ListSitesResponse list;
      if (admin_->ListSites(&ctx, {}, &list).ok()) {
        for (const v1::SiteInfo& info : list.sites()) {
          if (info.site_id() == site->id && info.online()) return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  int64_t StartRun(int rounds) { return StartSecureRun(admin_.get(), rounds, 3, 60); }
  v1::RunStatus WaitRun(int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready) {
    return testing::WaitRun(admin_.get(), run_id, ready);
  }
  std::vector<Site*> All() {
    std::vector<Site*> out;
    for (auto& s : sites_) out.push_back(s.get());
    return out;
  }
  // Site i's delta: 0.01 * (i + 1) for the honest sites a..e, the clip range for site-f.
  static float DeltaOf(int i) { return i == kSites - 1 ? 4.0f : 0.01f * static_cast<float>(i + 1); }
  static int IndexOf(const std::string& id) { return id.back() - 'a'; }

  // One attempt by `who` (their tasks in `tasks`), site-f spoiling through its relay (while spoil_); each site's
  // result.
  std::vector<absl::Status> Attempt(const std::vector<Site*>& who, const std::vector<v1::RoundTask>& tasks) {
    if (global_.tensors.empty()) {
      auto model = who[0]->session.Download(tasks[0].model_version());
      EXPECT_TRUE(model.ok()) << model.status();
      if (model.ok()) global_ = model->bundle;
    }
    std::vector<std::unique_ptr<client::SecAggTransport>> honest;
    std::unique_ptr<BadRelay> bad;
    std::vector<client::SecAggTransport*> via;
    std::vector<fl::TensorBundle> deltas;
    std::vector<double> weights;
    for (size_t i = 0; i < who.size(); ++i) {
      const int index = IndexOf(who[i]->id);
      deltas.push_back(Delta(global_, DeltaOf(index)));
      if (index != kSites - 1 || !spoil_) {
        honest.push_back(client::SessionTransport(&who[i]->session));
        via.push_back(honest.back().get());
        weights.push_back(100);
        continue;
      }
      absl::StatusOr<secagg::RoundConfig> config = secagg::ConfigFromProto(tasks[i].secagg());
      EXPECT_TRUE(config.ok()) << config.status();
      auto q = secagg::Quantizer::Create(config->quantization);
      EXPECT_TRUE(q.ok()) << q.status();
      bad = std::make_unique<BadRelay>(&who[i]->session, Tamper::kZeroWeightLane);
      bad->weight_lane = q->WeightLane(kBadWeight);
      bad->lane_bytes = static_cast<size_t>(config->quantization.lane_bits / 8);
      via.push_back(bad.get());
      weights.push_back(kBadWeight);
    }
    return RunAttempt(who, via, tasks, global_, deltas, weights);
  }

  // Runs the open attempt `open`: its participants take their tasks and run them, site-f spoiling. Returns the
  // number of sessions the attempt ran as (1: one session; 2: two cohorts).
  size_t DriveOpenAttempt(const v1::RoundSummary& open) {
    std::vector<Site*> who;
    for (const std::string& id : Participants(open)) who.push_back(sites_[static_cast<size_t>(IndexOf(id))].get());
    std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(who);
    std::set<std::string> sessions;
    for (const v1::RoundTask& t : tasks) sessions.insert(t.secagg().session_id());
    Attempt(who, tasks);
    return sessions.size();
  }
  // Waits for the run's next attempt to open (past the `seen` attempts) or for the run to finish.
  v1::RunStatus WaitNextAttempt(int64_t run_id, int seen) {
    return WaitRun(run_id, [seen](const v1::RunStatus& r) {
      return Finished(r) || (r.rounds_size() > seen && r.rounds(r.rounds_size() - 1).state() == "open");
    });
  }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  int port_ = 0;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::vector<std::unique_ptr<Site>> sites_;
  fl::TensorBundle global_;
  std::thread heartbeats_;
  std::atomic<bool> stop_heartbeats_{false};
  bool spoil_ = true;  // whether site-f spoils (else it masks honestly, weight 100)
};

int FailedAttempts(const v1::RunStatus& s) {
  int n = 0;
  for (const auto& r : s.rounds()) n += r.state() == "failed" ? 1 : 0;
  return n;
}

// The first attempt, one session over all six, fails at decoding; the second runs as two cohorts: site-f's
// fails again and is dropped, the other completes the round, and the model moves by that cohort's mean.
// Without cohorts every attempt fails.
TEST_F(RedteamSecAggCohortTest, ASpoiledSumIsRetriedAsDisjointCohortsAndTheCleanCohortCompletesTheRound) {
  const int64_t run_id = StartRun(1);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(All());
  for (const v1::RoundTask& t : tasks) EXPECT_EQ(t.secagg().session_id(), tasks[0].secagg().session_id());
  Attempt(All(), tasks);
  v1::RunStatus s = WaitRun(run_id, [](const v1::RunStatus& r) { return HasFailedAttempt(r) || Finished(r); });
  ASSERT_TRUE(HasFailedAttempt(s)) << "the tampered sum was averaged into the model: " << s.state();

  // Attempt 2: two cohorts of three, each with its own session (and t = 2 of 3).
  tasks = testing::WaitRoundTasks(All());
  std::vector<absl::Status> st = Attempt(All(), tasks);
  std::map<std::string, std::vector<int>> cohorts;
  for (int i = 0; i < kSites; ++i) cohorts[tasks[static_cast<size_t>(i)].secagg().session_id()].push_back(i);
  ASSERT_EQ(cohorts.size(), 2u);
  std::vector<int> clean;
  for (const auto& [session, members] : cohorts) {
    EXPECT_EQ(members.size(), 3u);
    EXPECT_EQ(tasks[static_cast<size_t>(members[0])].secagg().threshold(), 2);
    if (std::find(members.begin(), members.end(), kSites - 1) == members.end()) clean = members;
  }
  ASSERT_EQ(clean.size(), 3u);
  for (int i : clean) EXPECT_TRUE(st[static_cast<size_t>(i)].ok()) << i << ": " << st[static_cast<size_t>(i)];
  s = WaitRun(run_id, [](const v1::RunStatus& r) { return Finished(r) || FailedAttempts(r) >= 2; });
  ASSERT_EQ(s.state(), "done") << "the cohort attempt failed too: " << s.message();
  ASSERT_EQ(s.rounds_size(), 2);
  EXPECT_EQ(s.rounds(1).attempt(), 2);
  EXPECT_EQ(s.rounds(1).sites(), 3);  // the clean cohort's survivors
  EXPECT_EQ(s.rounds(1).secagg_cohorts(), 2);
  EXPECT_EQ(s.rounds(1).secagg_cohorts_dropped(), 1);
  auto next = sites_[0]->session.Download(s.rounds(1).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  // The mean of the clean cohort's deltas (equal weights), not of all honest sites nor anything of site-f's.
  double expected = 0;
  for (int i : clean) expected += DeltaOf(i) / 3.0;
  const fl::NamedTensor* before = nullptr;
  for (const auto& t : global_.tensors) {
    if (before == nullptr && !fl::IsOptionalTensor(t.name)) before = &t;
  }
  ASSERT_NE(before, nullptr);
  const fl::NamedTensor* after = next->bundle.Find(before->name);
  ASSERT_NE(after, nullptr);
  EXPECT_NEAR(after->values[0] - before->values[0], expected, 1e-3);
}

// site-f spoils every attempt of every round. Each round fails once as a whole session and completes as cohorts;
// once site-f alone was in the failing cohort of each of the last 3 cohort attempts and every other site was in
// a passing cohort at least once, site-f sits the next round out (counted as its refusal), and that round
// completes in its first attempt without it. The partitions are random, so the round this happens in varies: a
// window of 3 fails only when an honest site shared site-f's cohort all three times (about 0.3); that 15 cohort
// attempts pass with no window that holds has a probability below 1e-4.
TEST_F(RedteamSecAggCohortTest, ASiteInTheFailingCohortOfTheLastThreeCohortAttemptsSitsTheNextRoundOut) {
  const int kRounds = 16;
  const int64_t run_id = StartRun(kRounds);
  std::vector<std::set<std::string>> failing;  // site-f's cohort in each cohort attempt
  std::vector<std::set<std::string>> passing;  // the other cohort
  int sat_out = 0;
  int attempts_seen = 0;
  while (sat_out == 0) {
    v1::RunStatus s = WaitRun(run_id, [&](const v1::RunStatus& r) {
      return Finished(r) || (r.rounds_size() > attempts_seen && r.rounds(r.rounds_size() - 1).state() == "open");
    });
    ASSERT_FALSE(Finished(s)) << "site-f never sat a round out in " << kRounds << " rounds: " << s.message();
    const v1::RoundSummary& open = s.rounds(s.rounds_size() - 1);
    attempts_seen = s.rounds_size();
    const std::vector<std::string> who_ids = Participants(open);
    std::vector<Site*> who;
    for (const std::string& id : who_ids) who.push_back(sites_[static_cast<size_t>(IndexOf(id))].get());
    std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(who);
    if (std::find(who_ids.begin(), who_ids.end(), "site-f") == who_ids.end()) {
      sat_out = open.round();
      EXPECT_EQ(open.attempt(), 1);
      EXPECT_EQ(who_ids.size(), 5u);
      Attempt(who, tasks);
      break;
    }
    std::map<std::string, std::set<std::string>> cohorts;
    for (size_t i = 0; i < who.size(); ++i) cohorts[tasks[i].secagg().session_id()].insert(who[i]->id);
    Attempt(who, tasks);
    if (cohorts.size() == 2) {
      for (const auto& [session, members] : cohorts) (members.count("site-f") ? failing : passing).push_back(members);
    }
  }
  // The rule held at that point: site-f was the only site in all of the last 3 failing cohorts, and every
  // other site was in one of their passing cohorts.
  ASSERT_GE(failing.size(), 3u);
  std::set<std::string> common = failing[failing.size() - 3], cleared;
  for (size_t k = failing.size() - 3; k < failing.size(); ++k) {
    std::set<std::string> both;
    for (const std::string& id : common) {
      if (failing[k].count(id)) both.insert(id);
    }
    common = both;
    cleared.insert(passing[k].begin(), passing[k].end());
  }
  EXPECT_EQ(common, std::set<std::string>{"site-f"});
  EXPECT_EQ(cleared.size(), 5u);
  // The round site-f sat out completes in its first attempt, from the five honest sites.
  v1::RunStatus s = WaitRun(run_id, [&](const v1::RunStatus& r) {
    return r.rounds_size() > 0 && r.rounds(r.rounds_size() - 1).round() == sat_out &&
           r.rounds(r.rounds_size() - 1).state() == "done";
  });
  const v1::RoundSummary& done = s.rounds(s.rounds_size() - 1);
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(done.sites(), 5);
  EXPECT_EQ(done.secagg_cohorts(), 0);
  EXPECT_GE(s.refused_updates(), 1);  // the sit-out, counted as site-f's refusal
}

bool Joined(const v1::RoundSummary& r, const std::string& site) {
  return std::find(r.participants().begin(), r.participants().end(), site) != r.participants().end();
}

// site-f spoils every attempt it joins, over kRounds rounds (docs/rules/s26-securestate.md, "Cohort mode"). The
// run's first attempt, one session, fails; from then on the run is in cohort mode: every round starts as two
// cohorts of three, site-f's is dropped and the other completes the round in its first attempt (or site-f sits
// the round out and the other five complete it in one session). So kRounds rounds take kRounds + 1 attempts,
// one of them failed. Under s25 every round site-f joined started as one session that it failed: two attempts
// per such round. The counts and the time are printed for the record.
TEST_F(RedteamSecAggCohortTest, APersistentSpoilerFailsOneAttemptOfTheRunNotOnePerRound) {
  const int kRounds = 8;
  const auto started = std::chrono::steady_clock::now();
  const int64_t run_id = StartRun(kRounds);
  struct Opened {
    int32_t round, attempt;
    bool joined;
    size_t sessions;
  };
  std::vector<Opened> opened;  // each attempt as it opened (a closed round's summary names no participants)
  v1::RunStatus s;
  for (int seen = 0;; seen = s.rounds_size()) {
    s = WaitNextAttempt(run_id, seen);
    if (Finished(s) || s.rounds_size() == seen) break;
    const v1::RoundSummary& open = s.rounds(s.rounds_size() - 1);
    opened.push_back({open.round(), open.attempt(), Joined(open, "site-f"), 0});
    opened.back().sessions = DriveOpenAttempt(open);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(s.state(), "done") << s.message();
  std::set<int32_t> joined;
  for (const Opened& o : opened) {
    if (o.joined) joined.insert(o.round);
  }
  std::printf("[ measured ] %d rounds, site-f in %zu of them: %d attempts, %d failed, %.1f s\n", kRounds,
              joined.size(), s.rounds_size(), FailedAttempts(s), seconds);
  EXPECT_EQ(s.rounds_size(), kRounds + 1);
  EXPECT_EQ(FailedAttempts(s), 1);
  ASSERT_EQ(opened.size(), static_cast<size_t>(s.rounds_size()));
  for (size_t i = 0; i < opened.size(); ++i) {
    const Opened& o = opened[i];
    SCOPED_TRACE(::testing::Message() << "round " << o.round << " attempt " << o.attempt);
    const v1::RoundSummary& r = s.rounds(static_cast<int>(i));
    ASSERT_EQ(r.round(), o.round);
    ASSERT_EQ(r.attempt(), o.attempt);
    if (r.round() == 1 && r.attempt() == 1) {
      EXPECT_EQ(r.state(), "failed");
      EXPECT_EQ(o.sessions, 1u);
      continue;
    }
    EXPECT_EQ(r.state(), "done");
    EXPECT_EQ(r.attempt(), r.round() == 1 ? 2 : 1);
    EXPECT_EQ(o.sessions, o.joined ? 2u : 1u);
    EXPECT_EQ(r.secagg_cohorts(), o.joined ? 2 : 0);
  }
}

// site-f spoils the run's first attempt only, then behaves. The run enters cohort mode and leaves it after 3
// clean attempts in a row (docs/rules/s26-securestate.md, "Cohort mode"): round 1's retry and rounds 2 and 3 run
// as two cohorts, both passing; rounds 4 and 5 are one session again.
TEST_F(RedteamSecAggCohortTest, TheRunLeavesCohortModeAfterThreeCleanAttempts) {
  const int kRounds = 5;
  const int64_t run_id = StartRun(kRounds);
  std::vector<size_t> sessions;
  v1::RunStatus s;
  for (int seen = 0;; seen = s.rounds_size()) {
    s = WaitNextAttempt(run_id, seen);
    if (Finished(s) || s.rounds_size() == seen) break;
    sessions.push_back(DriveOpenAttempt(s.rounds(s.rounds_size() - 1)));
    spoil_ = false;
  }
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), kRounds + 1);
  EXPECT_EQ(sessions, (std::vector<size_t>{1, 2, 2, 2, 1, 1}));
  EXPECT_EQ(s.rounds(0).state(), "failed");
  for (int i = 1; i <= kRounds; ++i) {
    SCOPED_TRACE(::testing::Message() << "row " << i);
    EXPECT_EQ(s.rounds(i).state(), "done");
    EXPECT_EQ(s.rounds(i).sites(), 6);
    EXPECT_EQ(s.rounds(i).secagg_cohorts(), i <= 3 ? 2 : 0);
    EXPECT_EQ(s.rounds(i).secagg_cohorts_dropped(), 0);
  }
}

// The sit-out and cohort mode survive an aggregator restart (docs/rules/s26-securestate.md, "What survives a
// restart"). site-f spoils every attempt it joins until it sits a round out; the aggregator restarts while that
// round's attempt is open. The restart fails the attempt; the round's next attempt still leaves site-f out, and
// the round after, which site-f joins again, starts as two cohorts (the run is still in cohort mode). Kept in
// memory only, both were forgotten: site-f joined the next attempt, and the round after started as one session.
TEST_F(RedteamSecAggCohortTest, TheSitOutAndCohortModeSurviveAnAggregatorRestart) {
  const int kRounds = 16;
  StartHeartbeats();  // site-f stays online through the round it sits out
  const int64_t run_id = StartRun(kRounds);
  v1::RunStatus s;
  for (int seen = 0;; seen = s.rounds_size()) {
    s = WaitNextAttempt(run_id, seen);
    ASSERT_FALSE(Finished(s)) << "site-f never sat a round out in " << kRounds << " rounds: " << s.message();
    ASSERT_GT(s.rounds_size(), seen);
    if (!Joined(s.rounds(s.rounds_size() - 1), "site-f")) break;
    DriveOpenAttempt(s.rounds(s.rounds_size() - 1));
  }
  const v1::RoundSummary interrupted = s.rounds(s.rounds_size() - 1);
  ASSERT_LT(interrupted.round(), kRounds);
  StopHeartbeats();
  RestartServer();
  ASSERT_NE(server_, nullptr);
  // site-f is back online before the others, so that the round's next attempt opens with it online.
  ASSERT_TRUE(HeartbeatUntilOnline(sites_.back().get()));
  StartHeartbeats();
  s = WaitNextAttempt(run_id, s.rounds_size());
  ASSERT_FALSE(Finished(s)) << s.message();
  const v1::RoundSummary retry = s.rounds(s.rounds_size() - 1);
  EXPECT_EQ(retry.round(), interrupted.round());
  EXPECT_EQ(retry.attempt(), interrupted.attempt() + 1);
  EXPECT_FALSE(Joined(retry, "site-f")) << "the restart forgot the sit-out";
  EXPECT_EQ(retry.participants_size(), 5);
  EXPECT_EQ(DriveOpenAttempt(retry), 1u);
  s = WaitNextAttempt(run_id, s.rounds_size());
  ASSERT_FALSE(Finished(s)) << s.message();
  const v1::RoundSummary next = s.rounds(s.rounds_size() - 1);
  EXPECT_EQ(next.round(), interrupted.round() + 1);
  EXPECT_EQ(next.attempt(), 1);
  EXPECT_TRUE(Joined(next, "site-f"));
  EXPECT_EQ(DriveOpenAttempt(next), 2u) << "the restart forgot cohort mode";
  // That attempt's row once it closed (the next round may already be open: site-f can sit it out again).
  const int row = s.rounds_size() - 1;
  s = WaitRun(run_id, [&](const v1::RunStatus& r) { return r.rounds_size() > row && r.rounds(row).state() != "open"; });
  ASSERT_GT(s.rounds_size(), row);
  const v1::RoundSummary& closed = s.rounds(row);
  EXPECT_EQ(closed.round(), next.round());
  EXPECT_EQ(closed.state(), "done");
  EXPECT_EQ(closed.secagg_cohorts(), 2);
  EXPECT_EQ(closed.secagg_cohorts_dropped(), 1);
}

// The first value of `after`'s first shared tensor minus `before`'s: how far the round moved the model.
double FirstShift(const fl::TensorBundle& before, const fl::TensorBundle& after) {
  for (const auto& t : before.tensors) {
    if (fl::IsOptionalTensor(t.name)) continue;
    const fl::NamedTensor* a = after.Find(t.name);
    return a == nullptr ? std::nan("") : static_cast<double>(a->values[0] - t.values[0]);
  }
  return std::nan("");
}

// The brief's "a claimed sample count takes over the average", in a secure round: site-c declares 1e6 lines in
// Hello, claims 1e6 samples in its header and masks weight 1e6 (the protocol's own encoding, no tampering), its
// values at the clip range, against two honest sites of 1,400 lines and samples moving by +-0.01. Under the
// plan's share cap 0.4 its share of the mean is 0.4, as in a plain round: the model moves by
// 0.4 x 4 + 0.3 x 0.01 - 0.3 x 0.01 = 1.6, not by the ~3.99 its claim would give it.
TEST_F(RedteamSecAggSiteTest, ClaimedSampleCountTakesNoMoreThanTheShareCap) {
  Site a(pki_, "site-a", port_, "HDFS", 1400), b(pki_, "site-b", port_, "HDFS", 1400);
  Site c(pki_, "site-c", port_, "HDFS", 1'000'000);
  const int64_t run_id = StartRun(60, 3, /*max_site_share=*/0.4);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  ASSERT_TRUE(tasks[2].secure_aggregation());
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session),
       rc = client::SessionTransport(&c.session);
  std::vector<absl::Status> st =
      RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), rc.get()}, tasks, global->bundle,
                 {Delta(global->bundle, 0.01f), Delta(global->bundle, -0.01f), Delta(global->bundle, 4.0f)},
                 {1400, 1400, 1e6});
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  v1::RunStatus s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 1) << "the attempt failed: " << s.message();
  EXPECT_EQ(s.rounds(0).sites(), 3);
  auto next = a.session.Download(s.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NEAR(FirstShift(global->bundle, next->bundle), 0.4 * kClipRange, 1e-3);
}

// site-c states 1e6 (the protocol's own field, its Hello and header agreeing) and its relay makes it mask that
// instead of the weight its roster gives it. Its values carry the same weight, so the sum's clip-range bound
// passes; the weight-sum check fails the attempt (DataLoss, logged with the reason), and the next attempt, with
// site-c masking its given weight, completes at the capped mean.
TEST_F(RedteamSecAggSiteTest, WeightLaneAboveTheGivenWeightFailsTheAttemptWithTheReasonLogged) {
  Site a(pki_, "site-a", port_, "HDFS", 1400), b(pki_, "site-b", port_, "HDFS", 1400);
  Site c(pki_, "site-c", port_, "HDFS", 1'000'000);
  const int64_t run_id = StartRun(60, 3, /*max_site_share=*/0.4);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  BadRelay bad(&c.session, Tamper::kIgnoreGivenWeight);
  bad.stated_weight = 1e6;
  auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session);
  const std::vector<fl::TensorBundle> deltas = {Delta(global->bundle, 0.01f), Delta(global->bundle, -0.01f),
                                                Delta(global->bundle, 4.0f)};
  ::testing::internal::CaptureStderr();
  std::vector<absl::Status> st =
      RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), &bad}, tasks, global->bundle, deltas, {1400, 1400, 1e6});
  v1::RunStatus s = WaitRun(run_id, [](const v1::RunStatus& r) { return HasFailedAttempt(r) || Finished(r); });
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  ASSERT_TRUE(HasFailedAttempt(s)) << "the overweight sum was averaged into the model: " << s.state();
  EXPECT_TRUE(absl::StrContains(log, "masked a weight other than the one it was given")) << log;

  tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto rc = client::SessionTransport(&c.session);
  st = RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), rc.get()}, tasks, global->bundle, deltas, {1400, 1400, 1e6});
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 2);
  auto next = a.session.Download(s.rounds(1).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NEAR(FirstShift(global->bundle, next->bundle), 0.4 * kClipRange, 1e-3);
}

// Honest sites, but the cap binds: site-a's 3,000 samples against 1,000 each for site-b and site-c, share cap
// 0.5, so site-a masks 2,000. site-c drops after masking (its upload never leaves): with site-a and site-b alone
// site-a would hold 2/3 of the weight, so the attempt fails before any share is revealed, and the next attempt
// (everyone present) completes at the capped mean 0.5 x 0.1 = 0.05 (uncapped it would be 0.06).
TEST_F(RedteamSecAggSiteTest, DropoutThatLeavesASurvivorAboveTheCapFailsTheAttemptBeforeUnmasking) {
  Site a(pki_, "site-a", port_, "HDFS", 3000), b(pki_, "site-b", port_, "HDFS", 1000);
  Site c(pki_, "site-c", port_, "HDFS", 1000);
  const int64_t run_id = StartRun(60, 3, /*max_site_share=*/0.5);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  const std::vector<fl::TensorBundle> deltas = {Delta(global->bundle, 0.1f), Delta(global->bundle, 0.0f),
                                                Delta(global->bundle, 0.0f)};
  auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session);
  testing::SecAggRelay drop(&c.session);
  drop.drop_after_masking = true;
  ::testing::internal::CaptureStderr();
  std::vector<absl::Status> st =
      RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), &drop}, tasks, global->bundle, deltas, {3000, 1000, 1000});
  v1::RunStatus s = WaitRun(run_id, [](const v1::RunStatus& r) { return HasFailedAttempt(r) || Finished(r); });
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(HasFailedAttempt(s)) << s.state();
  EXPECT_TRUE(absl::StrContains(log, "site-a would hold 0.666")) << log;
  for (int i : {0, 1}) {  // ended by the aggregator before any unmask request
    EXPECT_EQ(st[i].code(), absl::StatusCode::kAborted) << st[i];
  }

  tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto rc = client::SessionTransport(&c.session);
  st = RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), rc.get()}, tasks, global->bundle, deltas, {3000, 1000, 1000});
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  auto next = a.session.Download(s.rounds(s.rounds_size() - 1).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NEAR(FirstShift(global->bundle, next->bundle), 0.05, 2e-4);
}

// site-c states weight 0 with its keys: a weight the round cannot hold it to (a site weighing 0 adds nothing,
// so its value lanes would be unbounded by its weight). The advertisement is refused, counted, and the round
// completes with site-a and site-b once advertising closes at the round's deadline.
TEST_F(RedteamSecAggSiteTest, ZeroStatedWeightIsRefusedAndTheOthersComplete) {
  Site a(pki_, "site-a", port_), b(pki_, "site-b", port_), c(pki_, "site-c", port_);
  const int64_t run_id = StartRun(4);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks({&a, &b, &c});
  auto global = a.session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  BadRelay bad(&c.session, Tamper::kZeroStatedWeight);
  auto ra = client::SessionTransport(&a.session), rb = client::SessionTransport(&b.session);
  std::vector<absl::Status> st =
      RunAttempt({&a, &b, &c}, {ra.get(), rb.get(), &bad}, tasks, global->bundle,
                 {Delta(global->bundle, 0.01f), Delta(global->bundle, 0.03f), Delta(global->bundle, 4.0f)},
                 {100, 100, 100});
  EXPECT_EQ(st[2].code(), absl::StatusCode::kFailedPrecondition) << st[2];
  EXPECT_TRUE(absl::StrContains(st[2].message(), "stated weight 0")) << st[2];
  ASSERT_TRUE(st[0].ok() && st[1].ok()) << st[0] << st[1];
  v1::RunStatus s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 1);
  EXPECT_EQ(s.rounds(0).sites(), 2);
  EXPECT_EQ(s.refused_updates(), 1);  // the advertisement
  auto next = a.session.Download(s.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NEAR(FirstShift(global->bundle, next->bundle), 0.02, 1e-3);
}

}  // namespace
}  // namespace fedlog
