// The crash sweep (docs/rules/s24-crashsafe.md, docs/OPERATIONS.md "Restarts and crashes"): the real fedlog-server,
// three real fedlog-client daemons and `fedlog label --batch` runs, as separate processes on loopback with a PKI
// made at test time, run a small site-level DP run. At a seeded sequence of moments one of them is killed with
// SIGKILL and restarted; after each kill the files are checked (database integrity, model digests, no temporary
// file taken for a complete one or left behind, nothing committed before the kill lost, ledgers never going
// back), and at the end the run must have finished every round once, with every round the aggregator counted a
// site's update for charged in that site's ledger. FEDLOG_CRASH_SEED picks another schedule; the seed is printed.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tests/integration/crash_sweep_state.h"
#include "tests/integration/test_env.h"

extern char** environ;

namespace fedlog {
namespace {

constexpr uint64_t kDefaultSeed = 20261207;
constexpr int kSites = 3;
constexpr int kKills = 8;
// Kill k waits for round 8k+1 to open, so every kill falls inside the run (rounds outpace restarts: a kill that
// finds its round already open comes right after the previous restart); the last rounds run after the last one.
constexpr int kRounds = 8 * kKills + 16;
constexpr double kDelta = 1e-5;

// A child process with its output appended to a log file; killed with SIGKILL on destruction if still running.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Kill(); }

  bool Start(const std::vector<std::string>& argv, const std::string& log, const std::string& stdin_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) pid_ = 0;
    return rc == 0;
  }
  // SIGTERM, then up to 10 s for a clean exit (a test failure otherwise, and SIGKILL).
  void Terminate() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const int rc = Wait(10000);
    EXPECT_EQ(rc, 0) << "a process did not stop cleanly on SIGTERM";
    Kill();
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  // Waits up to `ms` for the child to exit; its exit code, or -1 when it is still running (or was killed).
  int Wait(int ms) {
    for (int waited = 0; pid_ > 0; waited += 20) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (waited >= ms) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = 0;
};

// The build's bin/ (tests/integration/CMakeLists.txt defines it), where fedlog-server, fedlog-client and
// fedlog are.
std::string BinDir() { return FEDLOG_BIN_DIR; }

uint64_t Seed() {
  const char* s = std::getenv("FEDLOG_CRASH_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : kDefaultSeed;
}

int FreePort() {
  // A port free now; the aggregator keeps it across its restarts (the sites' configs name it).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

enum class Victim { kAggregator, kSite, kLabel };

struct Kill {
  Victim victim;
  int site = 0;   // kSite, kLabel: which site (0-based)
  int round = 0;  // waits for this round to open (or a later one), then
  int delay_ms = 0;  // this long (a seeded moment inside the round, or later)
};

// The seeded schedule: every kind of victim appears (the aggregator three times, each site once, two label
// runs), in a seeded order; kill k comes a seeded delay after round 8k+1 opens.
std::vector<Kill> Schedule(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Kill> kills = {{Victim::kAggregator}, {Victim::kAggregator}, {Victim::kAggregator},
                             {Victim::kLabel, 0},    {Victim::kLabel, 1}};
  for (int s = 0; s < kSites; ++s) kills.push_back({Victim::kSite, s});
  std::shuffle(kills.begin(), kills.end(), rng);
  std::uniform_int_distribution<int> delay(0, 600);
  for (size_t i = 0; i < kills.size(); ++i) {
    kills[i].round = 8 * static_cast<int>(i) + 1;
    kills[i].delay_ms = delay(rng);
  }
  return kills;
}

class CrashSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_crash_sweep");
    pki_ = JoinPath(dir_, "pki");
    for (int s = 0; s < kSites; ++s) sites_.push_back(absl::StrCat("site-", s + 1));
    ASSERT_TRUE(testing::MakePki(pki_, sites_));
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    admin_ = testing::AdminStub(pki_, port_);
    WriteConfigs();
    std::cout << absl::StrFormat("%5.1f s PKI, logs and configs written", Seconds()) << std::endl;
  }
  void TearDown() override {
    label_.Kill();
    for (Child& c : site_procs_) c.Kill();
    server_.Kill();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
    else std::cerr << "crash sweep files kept in " << dir_ << "\n";
  }

  std::string AggDir() const { return JoinPath(dir_, "agg"); }
  std::string SiteDir(int s) const { return JoinPath(dir_, sites_[s]); }
  std::string SiteYaml(int s) const { return JoinPath(dir_, sites_[s] + ".yaml"); }
  std::string Log(const std::string& name) const { return JoinPath(dir_, name + ".out"); }
  std::map<std::string, std::string> SiteDirs() const {
    std::map<std::string, std::string> m;
    for (int s = 0; s < kSites; ++s) m[sites_[s]] = SiteDir(s);
    return m;
  }

  void WriteConfigs() {
    const std::string tls = absl::StrCat("{ca_cert: ", pki_, "/ca.crt, cert: ", pki_, "/aggregator.crt, key: ", pki_,
                                         "/aggregator.key}");
    ASSERT_TRUE(WriteFileAtomic(JoinPath(dir_, "aggregator.yaml"),
                                absl::StrCat("listen_address: 127.0.0.1:", port_, "\ndata_dir: ", AggDir(),
                                             "\ntls: ", tls,
                                             "\nheartbeat_interval_ms: 200\nsite_timeout_ms: 1500\n"
                                             "max_poll_wait_ms: 500\nkeep_model_versions: 2\n"
                                             "model: {arch: mlp_autoencoder, input_dim: 38, hidden: [16, 4]}\n"))
                    .ok());
    for (int s = 0; s < kSites; ++s) {
      const std::string log = JoinPath(dir_, sites_[s] + ".log");
      Child synth;
      ASSERT_TRUE(synth.Start({JoinPath(BinDir(), "fedlog"), "synth", "--format", "HDFS", "--lines", "600", "--seed",
                               absl::StrCat(s + 1), "--out", log},
                              Log("synth"), ""));
      ASSERT_EQ(synth.Wait(30000), 0) << "fedlog synth failed; see " << Log("synth");
      const std::string site_tls = absl::StrCat("{ca_cert: ", pki_, "/ca.crt, cert: ", pki_, "/", sites_[s],
                                                ".crt, key: ", pki_, "/", sites_[s], ".key}");
      ASSERT_TRUE(WriteFileAtomic(SiteYaml(s), absl::StrCat("aggregator_address: localhost:", port_,
                                                            "\ndata_dir: ", SiteDir(s), "\ntls: ", site_tls,
                                                            "\ndevice: cpu\nbackoff_initial_ms: 100\n"
                                                            "backoff_max_ms: 300\nsources: [{name: HDFS, path: ",
                                                            log, "}]\n"))
                      .ok());
    }
    // `fedlog label --batch` answers, one a line: anomalous and normal in turn.
    std::string answers;
    for (int i = 0; i < 50; ++i) answers += i % 2 == 0 ? "a\n" : "n\n";
    ASSERT_TRUE(WriteFileAtomic(JoinPath(dir_, "answers.txt"), answers).ok());
  }

  void StartServer() {
    ASSERT_TRUE(server_.Start({JoinPath(BinDir(), "fedlog-server"), "--config", JoinPath(dir_, "aggregator.yaml")},
                              Log("aggregator"), ""));
    for (int i = 0; i < 300; ++i) {  // up to 30 s for the listening port
      // A fresh channel each time: a channel that found the port closed waits out gRPC's reconnect backoff
      // (up to minutes) before it tries again.
      admin_ = testing::AdminStub(pki_, port_);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
      v1::ListSitesResponse r;
      if (admin_->ListSites(&ctx, {}, &r).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the aggregator did not come up; see " << Log("aggregator");
  }
  // Starts site `s`'s daemon and waits (up to 20 s) for it to log that it is ready: its start-up (ledger read,
  // cleanup) is done.
  void StartSite(int s) {
    const std::string log = Log(sites_[s]);
    const int64_t before = CountIn(log, "site daemon ready");
    ASSERT_TRUE(site_procs_[s].Start({JoinPath(BinDir(), "fedlog-client"), "--config", SiteYaml(s)}, log, ""));
    for (int i = 0; i < 200 && CountIn(log, "site daemon ready") == before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_GT(CountIn(log, "site daemon ready"), before) << sites_[s] << " did not start; see " << log;
  }
  static int64_t CountIn(const std::string& log, const std::string& needle) {
    absl::StatusOr<std::string> text = ReadFile(log);
    if (!text.ok()) return 0;
    int64_t n = 0;
    for (size_t p = text->find(needle); p != std::string::npos; p = text->find(needle, p + 1)) ++n;
    return n;
  }
  // Runs `fedlog label --batch` at site `s` for up to `count` verdicts (answers.txt answers them). With
  // `wait_question`, returns once it has asked its first question: it is then storing verdicts as it reads the
  // answers.
  void StartLabel(int s, int count, bool wait_question) {
    const std::string log = Log(absl::StrCat("label-", sites_[s]));
    const int64_t before = CountIn(log, "answer [");
    ASSERT_TRUE(label_.Start({JoinPath(BinDir(), "fedlog"), "label", "--config", SiteYaml(s), "--batch", "--count",
                              absl::StrCat(count)},
                             log, JoinPath(dir_, "answers.txt")));
    for (int i = 0; wait_question && i < 1000 && CountIn(log, "answer [") == before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(!wait_question || CountIn(log, "answer [") > before) << "fedlog label asked nothing; see " << log;
  }

  // Waits (up to 60 s) until run `run_id` has round `round` (or a later one) open; a test failure when the run
  // ends first (the sweep then needs more rounds).
  void WaitForRound(int64_t run_id, int round) {
    for (int i = 0; i < 3000; ++i) {
      const v1::RunStatus s = Status(run_id);
      if (s.state() != "running" && s.state() != "waiting" && s.state() != "(aggregator not answering)") {
        FAIL() << "the run ended (" << s.state() << ": " << s.message() << ") before round " << round;
      }
      for (const auto& r : s.rounds()) {
        if (r.round() >= round) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "round " << round << " did not open within 60 s";
  }

  void WaitOnline() {
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext ctx;
      v1::ListSitesResponse list;
      if (admin_->ListSites(&ctx, {}, &list).ok() &&
          std::count_if(list.sites().begin(), list.sites().end(), [](const auto& s) { return s.online(); }) ==
              kSites) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the sites did not come online";
  }

  std::string Describe(const Kill& k) const {
    switch (k.victim) {
      case Victim::kAggregator:
        return "SIGKILL aggregator";
      case Victim::kSite:
        return absl::StrCat("SIGKILL ", sites_[k.site], " daemon");
      case Victim::kLabel:
        return absl::StrCat("SIGKILL `fedlog label` at ", sites_[k.site]);
    }
    return "";
  }

  // Kills the victim, checks the aggregator's files when it was the victim, and restarts what was killed.
  void KillAndRestart(const Kill& k) {
    switch (k.victim) {
      case Victim::kAggregator:
        server_.Kill();
        for (const std::string& p : testing::CheckAggregatorFiles(AggDir())) ADD_FAILURE() << Describe(k) << ": " << p;
        ASSERT_NO_FATAL_FAILURE(StartServer());
        return;
      case Victim::kSite:
        site_procs_[k.site].Kill();
        ASSERT_NO_FATAL_FAILURE(StartSite(k.site));
        return;
      case Victim::kLabel:
        if (!label_.running()) std::cout << "    (the label run had ended before the kill)\n";
        label_.Kill();
        return;
    }
  }

  v1::RunStatus Status(int64_t run_id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::GetRunRequest req;
    req.set_run_id(run_id);
    v1::RunStatus s;
    if (!admin_->GetRun(&ctx, req, &s).ok()) s.set_state("(aggregator not answering)");
    return s;
  }
  static std::string Phase(const v1::RunStatus& s) {
    std::string open;
    for (const auto& r : s.rounds()) {
      if (r.state() == "open") open = absl::StrCat(", round ", r.round(), " open, ", r.uploaded_size(), " uploaded");
    }
    return absl::StrCat(s.state(), ", ", s.rounds_size(), " round attempt(s)", open);
  }

  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::string dir_, pki_;
  int port_ = 0;
  std::vector<std::string> sites_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  Child server_, label_;
  Child site_procs_[kSites];
};

TEST_F(CrashSweepTest, KillingAnyProcessAtSeededMomentsLosesAndCorruptsNothing) {
  const uint64_t seed = Seed();
  std::cout << "crash sweep seed " << seed << " (FEDLOG_CRASH_SEED=" << seed << " repeats this schedule)\n";
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::cout << absl::StrFormat("%5.1f s aggregator up", Seconds()) << std::endl;
  for (int s = 0; s < kSites; ++s) ASSERT_NO_FATAL_FAILURE(StartSite(s));
  ASSERT_NO_FATAL_FAILURE(WaitOnline());
  std::cout << absl::StrFormat("%5.1f s sites online", Seconds()) << std::endl;
  // Verdicts stored before any kill at the sites whose label runs are killed: later kills must keep them.
  for (int s = 0; s < 2; ++s) {
    ASSERT_NO_FATAL_FAILURE(StartLabel(s, 2, /*wait_question=*/false));
    ASSERT_EQ(label_.Wait(60000), 0) << "fedlog label failed at " << sites_[s];
  }
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  plan->set_rounds(kRounds);
  plan->set_min_sites(2);
  plan->set_round_deadline_s(10);
  plan->mutable_training()->set_local_epochs(1);
  plan->set_dp_mode("site");  // each site charges its own ledger before its update leaves
  plan->set_dp_noise_multiplier(1.0);
  plan->set_dp_clip(1.0);
  plan->set_dp_delta(kDelta);
  v1::RunStatus started;
  {
    grpc::ClientContext ctx;
    grpc::Status st = admin_->StartRun(&ctx, req, &started);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  const int64_t run_id = started.run_id();
  std::cout << absl::StrFormat("%5.1f s run %d started", Seconds(), run_id) << std::endl;
  absl::StatusOr<testing::FederationState> last = testing::ReadFederationState(AggDir(), SiteDirs(), kDelta);
  ASSERT_TRUE(last.ok()) << last.status();
  const std::vector<Kill> schedule = Schedule(seed);
  ASSERT_EQ(schedule.size(), static_cast<size_t>(kKills));
  for (const Kill& k : schedule) {
    ASSERT_NO_FATAL_FAILURE(WaitForRound(run_id, k.round));
    if (k.victim == Victim::kLabel) {
      // Killed as it stores verdicts: each is a transaction of a few milliseconds.
      ASSERT_NO_FATAL_FAILURE(StartLabel(k.site, 6, /*wait_question=*/true));
      std::this_thread::sleep_for(std::chrono::milliseconds(k.delay_ms % 100));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(k.delay_ms));
    }
    absl::StatusOr<testing::FederationState> before = testing::ReadFederationState(AggDir(), SiteDirs(), kDelta);
    ASSERT_TRUE(before.ok()) << before.status();
    for (const std::string& lost : testing::LostSince(*last, *before)) ADD_FAILURE() << "while running: " << lost;
    std::cout << "  " << absl::StrFormat("%5.1f s ", Seconds()) << Describe(k) << " at " << Phase(Status(run_id))
              << std::endl;
    ASSERT_NO_FATAL_FAILURE(KillAndRestart(k));
    absl::StatusOr<testing::FederationState> after = testing::ReadFederationState(AggDir(), SiteDirs(), kDelta);
    ASSERT_TRUE(after.ok()) << after.status();
    for (const std::string& lost : testing::LostSince(*before, *after)) ADD_FAILURE() << Describe(k) << ": " << lost;
    last = std::move(after);
    std::cout << absl::StrFormat("%5.1f s   restarted and checked", Seconds()) << std::endl;
  }

  v1::RunStatus done;
  for (int i = 0; i < 600; ++i) {  // up to 60 s
    done = Status(run_id);
    if (done.state() != "waiting" && done.state() != "running" && done.state() != "(aggregator not answering)") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << absl::StrFormat("%5.1f s run %s", Seconds(), Phase(done)) << std::endl;
  ASSERT_EQ(done.state(), "done") << done.message();
  std::map<int, int> done_rounds;
  for (const auto& r : done.rounds()) {
    if (r.state() == "done") ++done_rounds[r.round()];
  }
  for (int r = 1; r <= kRounds; ++r) EXPECT_EQ(done_rounds[r], 1) << "round " << r << " done that many times";

  // Everything stops cleanly; then no file is left half written, and every round the aggregator counted a site's
  // update for is in that site's ledger.
  label_.Kill();
  for (Child& c : site_procs_) c.Terminate();
  server_.Terminate();
  for (const std::string& p : testing::CheckAggregatorFiles(AggDir())) ADD_FAILURE() << "at the end: " << p;
  for (const std::string& f : testing::TempFilesUnder(dir_)) ADD_FAILURE() << "temporary file left: " << f;
  absl::StatusOr<testing::FederationState> final_state = testing::ReadFederationState(AggDir(), SiteDirs(), kDelta);
  ASSERT_TRUE(final_state.ok()) << final_state.status();
  for (const std::string& lost : testing::LostSince(*last, *final_state)) ADD_FAILURE() << "at the end: " << lost;
  std::cout << "checked at the end: " << final_state->rounds_done.size() << " round(s) done, "
            << final_state->model_digests.size() << " model row(s)";
  for (const auto& [site, state] : final_state->sites) {
    std::cout << "; " << site << ": " << state.ledger_entries.size() << " ledger entries (epsilon " << state.epsilon
              << "), " << state.labels.size() << " label(s)";
    EXPECT_GT(state.ledger_entries.size(), 0u) << site << " charged nothing: the ledger checks checked nothing";
    if (site != sites_[2]) {
      EXPECT_GE(state.labels.size(), 2u) << site << " lost the verdicts stored before the sweep";
    }
  }
  std::cout << std::endl;
  for (const auto& r : done.rounds()) {
    for (const std::string& site : r.uploaded()) {
      const auto& entries = final_state->sites[site].ledger_entries;
      const std::string prefix = absl::StrCat(run_id, " ", r.round(), " ");
      const bool charged = std::any_of(entries.begin(), entries.end(),
                                       [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
      EXPECT_TRUE(charged) << "the aggregator counted " << site << "'s update in round " << r.round()
                           << " (attempt " << r.attempt() << ") but the site's ledger has no charge for it";
    }
  }
}

}  // namespace
}  // namespace fedlog
