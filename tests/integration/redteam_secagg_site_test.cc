// Secure aggregation against one bad SITE (docs/SECURITY.md, "One bad site under secure aggregation"), over real
// mTLS: two honest hand-driven sites and one whose transport tampers with what its honest client sends. Checked:
// a masked input whose weight lane is smaller than the weight its values carry is refused at decoding (the
// attempt fails, the next one completes and the model stays within the clip range) instead of scaling the mean;
// an advertised public key of small order is refused, so the honest sites complete the round without that site;
// shares that do not decrypt are reported by the honest sites, which fails the attempt at once and excludes
// their sender from the round's next attempt, which completes without it; wrong shares revealed at unmasking
// are outvoted and their revealer counted (docs/rules/s24-secshares.md); a site that claims a large sample count
// (in Hello, its header and its stated weight) takes no more than the plan's share cap of the mean, one that
// masks more weight than the round gave it fails the attempt with the reason logged, a dropout that leaves a
// survivor above the cap fails the attempt before unmasking, and a stated weight of 0 is refused
// (docs/rules/s25-weightcap.md); secure-aggregation calls the aggregator refuses do not make a site a round's
// participant (docs/rules/s26-securestate.md). Six sites and cohorts: redteam_secagg_cohort_test.cc; shared
// pieces: redteam_secagg_env.h.
#include "tests/integration/redteam_secagg_env.h"

namespace fedlog::redteam_secagg {
namespace {

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
    bad.key_file = c.key_file;  // it signs the bad keys: they are refused for what they are
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
}  // namespace fedlog::redteam_secagg
