// Secure aggregation against one bad site among six (docs/SECURITY.md, "Cohort attempts"), over real mTLS: a
// spoiled sum is retried as two disjoint cohorts and the clean one completes the round (docs/rules/s25-cohorts.md);
// the site in the failing cohort of the last three cohort attempts sits the next round out; a run that saw a
// spoiled sum starts every later round as cohorts, so a persistent spoiler fails one attempt of the run, not one
// a round; the run leaves cohort mode after 3 clean attempts; the sit-out and the run's cohort mode survive an
// aggregator restart (docs/rules/s26-securestate.md). Shared pieces: redteam_secagg_env.h.
#include "tests/integration/redteam_secagg_env.h"

namespace fedlog::redteam_secagg {
namespace {

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
  // The round site-f sat out completes in its first attempt, from the five honest sites. Its row is looked up by
  // round: the next round (site-f back) opens at once and may already be the last row when the poll comes.
  auto sat_out_row = [&](const v1::RunStatus& r) -> const v1::RoundSummary* {
    for (const v1::RoundSummary& row : r.rounds()) {
      if (row.round() == sat_out && row.state() == "done") return &row;
    }
    return nullptr;
  };
  v1::RunStatus s = WaitRun(run_id, [&](const v1::RunStatus& r) { return sat_out_row(r) != nullptr; });
  ASSERT_NE(sat_out_row(s), nullptr) << "round " << sat_out << " did not complete";
  const v1::RoundSummary& done = *sat_out_row(s);
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

}  // namespace
}  // namespace fedlog::redteam_secagg
