// One bad site must not break, take over or starve the federation (issue 16): a misbehaving site, built from
// the test helpers, talks to a live aggregator over real mTLS on loopback. Each test checks that the run
// completes with the honest sites, that the model is what the honest updates give (within the documented
// weight cap, docs/SECURITY-aggregation.md), and that nothing of the bad site's is stored or served.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Site = testing::HandSite;

constexpr int kOut = 8, kAdapter = 4;

using testing::Filled;

void Add(fl::TensorBundle* b, const std::string& name, std::vector<int64_t> shape, float v) {
  fl::NamedTensor t{name, std::move(shape), {}};
  t.values.assign(static_cast<size_t>(t.NumElements()), v);
  b->tensors.push_back(std::move(t));
}

// Zero shared delta plus one source's adapter and both kinds of prototypes, all `v`.
fl::TensorBundle DeltaWithAdapter(const fl::TensorBundle& model, const std::string& source, float v) {
  fl::TensorBundle d = Filled(model, 0);
  const std::string p = "adapter." + source + ".";
  Add(&d, p + "down.weight", {kAdapter, kOut}, v);
  Add(&d, p + "down.bias", {kAdapter}, v);
  Add(&d, p + "up.weight", {kOut, kAdapter}, v);
  Add(&d, p + "up.bias", {kOut}, v);
  Add(&d, p + "prototypes", {2, kOut}, v);
  Add(&d, "prototypes.global", {2, kOut}, v);
  return d;
}

// The next tasks of two sites, polled at the same time (a site that stops polling goes offline, and a round
// needs min_sites online to open).
std::pair<v1::RoundTask, v1::RoundTask> WaitTasks(Site& a, Site& b) {
  std::future<v1::RoundTask> tb = std::async(std::launch::async, [&b] { return b.WaitTask(); });
  v1::RoundTask ta = a.WaitTask();
  return {ta, tb.get()};
}

int CountPrefix(const fl::TensorBundle& b, const std::string& prefix) {
  int n = 0;
  for (const auto& t : b.tensors) n += absl::StartsWith(t.name, prefix) ? 1 : 0;
  return n;
}

class BadSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_badsite");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "mallory"}));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  // line_encoder: a small encoder whose optional tensors (adapters, prototypes) are in play.
  void StartServer(bool line_encoder, bool auto_admit = true) {
    cfg_ = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
    cfg_.set_auto_admit_sources(auto_admit);
    if (line_encoder) {
      ASSERT_TRUE(testing::UseTinyLineEncoder(&cfg_, kOut, kAdapter));
    }
    auto s = server::AggregatorServer::Start(cfg_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  int port() const { return server_->port(); }
  v1::RunStatus Start(v1::RunPlan plan) {
    v1::StartRunRequest req;
    *req.mutable_plan() = plan;
    v1::RunStatus resp;
    grpc::ClientContext ctx;
    grpc::Status st = testing::AdminStub(pki_, port())->StartRun(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }
  static v1::RunPlan Plan(int rounds, int min_sites, int deadline_s = 30) {
    v1::RunPlan plan;
    plan.set_rounds(rounds);
    plan.set_min_sites(min_sites);
    plan.set_round_deadline_s(deadline_s);
    return plan;
  }
  // Polls the run's status (up to 30 s) until `ready` holds; returns the last status seen.
  template <typename Ready>
  v1::RunStatus WaitRun(int64_t run_id, Ready ready) {
    return testing::WaitRun(testing::AdminStub(pki_, port()).get(), run_id, ready);
  }
  v1::RunStatus WaitDone(int64_t run_id) {
    return WaitRun(run_id, [](const v1::RunStatus& s) { return s.state() == "done"; });
  }
  // Every tensor of a model version, as an admin downloads it.
  fl::TensorBundle AdminModel(int64_t version) {
    client::FederationSession admin(net::MakeChannel(
        absl::StrCat("localhost:", port()),
        *net::MakeChannelCredentials(
            {JoinPath(pki_, "ca.crt"), JoinPath(pki_, "admin.crt"), JoinPath(pki_, "admin.key")})));
    auto m = admin.Download(version, /*all_adapters=*/true);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? m->bundle : fl::TensorBundle();
  }
  v1::ListSitesResponse Sites() {
    grpc::ClientContext ctx;
    v1::ListSitesResponse r;
    EXPECT_TRUE(testing::AdminStub(pki_, port())->ListSites(&ctx, {}, &r).ok());
    return r;
  }
  // A site certificate with the subject `subject`, signed by the test CA, written as `name`.crt/.key.
  bool IssueOddCert(const std::string& name, const std::string& subject) {
    const std::string key = JoinPath(pki_, name + ".key"), crt = JoinPath(pki_, name + ".crt");
    const std::string ext = JoinPath(pki_, name + ".ext");
    std::ofstream(ext) << "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";
    const std::string cmd = absl::StrCat(
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '", key, "' 2>/dev/null && ",
        "openssl req -new -key '", key, "' -subj '", subject, "' 2>/dev/null | openssl x509 -req -CA '",
        JoinPath(pki_, "ca.crt"), "' -CAkey '", JoinPath(pki_, "ca.key"), "' -CAcreateserial -days 1 -out '", crt,
        "' -extfile '", ext, "' 2>/dev/null");
    return std::system(cmd.c_str()) == 0;
  }

  std::string dir_, pki_;
  v1::ServerConfig cfg_;
  std::unique_ptr<server::AggregatorServer> server_;
};

// Finding 1: an update carrying a tensor outside the run's schema (prototypes.evil [2, out_dim]) is refused and
// counted; the next model holds only schema tensors, so honest sites keep working.
TEST_F(BadSiteTest, TensorOutsideTheModelSchemaIsRefusedAndNeverEntersTheModel) {
  StartServer(/*line_encoder=*/true);
  Site a(pki_, "site-a", port()), b(pki_, "site-b", port()), m(pki_, "mallory", port());
  v1::RunStatus run = Start(Plan(2, 2));
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask(), tm = m.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok()) << base.status();

  for (const char* extra : {"prototypes.evil", "adapter.HDFS.evil", "adapter.HDFS..prototypes"}) {
    fl::TensorBundle evil = DeltaWithAdapter(base->bundle, "HDFS", 5.0f);
    Add(&evil, extra, {2, kOut}, 9.0f);
    absl::Status st = m.Upload(tm, evil);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << extra << ": " << st;
  }
  ASSERT_TRUE(a.Upload(ta, DeltaWithAdapter(base->bundle, "HDFS", 0.25f)).ok());
  ASSERT_TRUE(b.Upload(tb, DeltaWithAdapter(base->bundle, "HDFS", 0.75f)).ok());
  // Mallory gives up; the round closes with the honest updates once it is offline (or at the deadline).
  std::tie(ta, tb) = WaitTasks(a, b);
  ASSERT_GT(ta.model_version(), base->manifest.version());
  fl::TensorBundle next = AdminModel(ta.model_version());
  for (const auto& t : next.tensors) {
    EXPECT_FALSE(absl::StrContains(t.name, "evil")) << t.name;
  }
  ASSERT_NE(next.Find("prototypes.global"), nullptr);
  EXPECT_FLOAT_EQ(next.Find("prototypes.global")->values[0], 0.5f);  // the honest mean
  EXPECT_FLOAT_EQ(next.Find("adapter.HDFS.up.bias")->values[0], 0.5f);
  // Round 2 completes with the honest sites.
  auto na = a.session.Download(ta.model_version());
  ASSERT_TRUE(na.ok());
  ASSERT_TRUE(a.Upload(ta, Filled(na->bundle, 0)).ok());
  ASSERT_TRUE(b.Upload(tb, Filled(na->bundle, 0)).ok());
  v1::RunStatus done = WaitDone(run.run_id());
  EXPECT_EQ(done.state(), "done");
  EXPECT_EQ(done.refused_updates(), 3);
}

// Finding 2: a site claiming 10^12 samples (and absurd template counts) cannot take the average: its effective
// samples are capped by the lines it declared, and its share of the round's weight by max_site_weight_share
// (default 0.5).
TEST_F(BadSiteTest, ClaimedSamplesCannotTakeTheAverage) {
  StartServer(/*line_encoder=*/false);
  Site a(pki_, "site-a", port(), "HDFS", 1000), b(pki_, "site-b", port(), "HDFS", 1000);
  Site m(pki_, "mallory", port(), "HDFS", 100000);
  v1::RunPlan plan = Plan(2, 3);
  plan.set_strategy("weighted_fedavg");
  // This test measures the weight cap alone: adaptive clipping (on by default since session 22) would also scale
  // mallory's 1000x update down (boosted_update_test.cc covers that).
  plan.set_adaptive_clip_off(true);
  v1::RunStatus run = Start(plan);
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask(), tm = m.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok());
  v1::UpdateHeader evil = Site::Header(tm, int64_t{1000000000000});
  evil.set_distinct_templates(int64_t{1000000000000});
  evil.set_imbalance_ratio(1e300);
  ASSERT_TRUE(m.Upload(evil, Filled(base->bundle, 1.0f)).ok());
  v1::UpdateHeader ha = Site::Header(ta, 100), hb = Site::Header(tb, 100);
  ha.set_distinct_templates(10);
  hb.set_distinct_templates(10);
  ASSERT_TRUE(a.Upload(ha, Filled(base->bundle, 0.001f)).ok());
  ASSERT_TRUE(b.Upload(hb, Filled(base->bundle, 0.003f)).ok());
  ta = a.WaitTask();
  fl::TensorBundle next = AdminModel(ta.model_version());
  ASSERT_FALSE(next.tensors.empty());
  const float step = next.tensors[0].values[0] - base->bundle.tensors[0].values[0];
  // Mallory holds at most half the weight; the honest half splits evenly between a and b (equal statistics).
  EXPECT_NEAR(step, 0.5f * 1.0f + 0.25f * 0.001f + 0.25f * 0.003f, 1e-5);

  // Round 2 completes; the round's sample count holds mallory's declared lines, not its claim.
  tb = b.WaitTask();
  tm = m.WaitTask();
  auto base2 = a.session.Download(ta.model_version());
  ASSERT_TRUE(base2.ok());
  ASSERT_TRUE(m.Upload(tm, Filled(base2->bundle, 1.0f), int64_t{1000000000000}).ok());
  ASSERT_TRUE(a.Upload(ta, Filled(base2->bundle, 0.001f)).ok());
  ASSERT_TRUE(b.Upload(tb, Filled(base2->bundle, 0.003f)).ok());
  v1::RunStatus done = WaitDone(run.run_id());
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(done.rounds(0).samples(), 100000 + 100 + 100);

  // With an admin ceiling of 100 samples every site weighs the same under fedavg: a third each.
  v1::RunPlan capped = Plan(1, 3);
  capped.set_max_site_samples(100);
  capped.set_adaptive_clip_off(true);
  v1::RunStatus run2 = Start(capped);
  ta = a.WaitTask();
  tb = b.WaitTask();
  tm = m.WaitTask();
  auto base3 = a.session.Download(ta.model_version());
  ASSERT_TRUE(base3.ok());
  ASSERT_TRUE(m.Upload(tm, Filled(base3->bundle, 1.0f), int64_t{1000000000000}).ok());
  ASSERT_TRUE(a.Upload(ta, Filled(base3->bundle, 0.001f)).ok());
  ASSERT_TRUE(b.Upload(tb, Filled(base3->bundle, 0.003f)).ok());
  done = WaitDone(run2.run_id());
  ASSERT_EQ(done.state(), "done");
  fl::TensorBundle last = AdminModel(done.rounds(0).model_version());
  EXPECT_NEAR(last.tensors[0].values[0] - base3->bundle.tensors[0].values[0], (1.0f + 0.001f + 0.003f) / 3, 1e-5);
  EXPECT_EQ(done.rounds(0).samples(), 300);
}

// Finding 5 (the aggregation half): a stored update whose bytes changed after it was accepted is caught by its
// digest when the round aggregates; the attempt fails and the retry with the honest updates gives the model.
TEST_F(BadSiteTest, StoredUpdateIsCheckedAgainstItsDigestAtAggregation) {
  StartServer(/*line_encoder=*/false);
  Site a(pki_, "site-a", port()), b(pki_, "site-b", port());
  v1::RunStatus run = Start(Plan(1, 2));
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok());
  ASSERT_TRUE(a.Upload(ta, Filled(base->bundle, 0.001f)).ok());
  // Replace site-a's stored update with other (well-formed) bytes, as a racing writer would. Stored updates have
  // random names; site-a's is the only one stored so far (spool and scratch files live elsewhere).
  int replaced = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(JoinPath(dir_, "agg/updates"))) {
    const std::string path = e.path().string();
    if (!e.is_regular_file() || absl::StrContains(path, "/incoming/") || absl::StrContains(path, "/scratch/")) {
      continue;
    }
    ASSERT_TRUE(WriteFileAtomic(path, *fl::EncodeBundle(Filled(base->bundle, 7.0f))).ok());
    ++replaced;
  }
  ASSERT_EQ(replaced, 1);
  ASSERT_TRUE(b.Upload(tb, Filled(base->bundle, 0.003f)).ok());
  // The attempt fails; the round is retried and the honest updates make the model.
  std::tie(ta, tb) = WaitTasks(a, b);
  EXPECT_EQ(ta.model_version(), base->manifest.version());
  ASSERT_TRUE(a.Upload(ta, Filled(base->bundle, 0.001f)).ok());
  ASSERT_TRUE(b.Upload(tb, Filled(base->bundle, 0.003f)).ok());
  v1::RunStatus done = WaitDone(run.run_id());
  ASSERT_EQ(done.state(), "done");
  ASSERT_EQ(done.rounds_size(), 2);
  EXPECT_EQ(done.rounds(0).state(), "failed");
  fl::TensorBundle next = AdminModel(done.rounds(1).model_version());
  EXPECT_NEAR(next.tensors[0].values[0] - base->bundle.tensors[0].values[0], 0.002f, 1e-6);
}

// Finding 8 and deliverable 6: a site receives the adapters of its admitted sources only, whatever it declares
// or asks for; without admission its sources wait as pending and it receives none.
TEST_F(BadSiteTest, DownloadsCarryOnlyAdmittedSourcesAdapters) {
  StartServer(/*line_encoder=*/true, /*auto_admit=*/false);
  auto admin = testing::AdminStub(pki_, port());
  {
    Site a(pki_, "site-a", port(), "HDFS"), b(pki_, "site-b", port(), "BGL");
  }
  v1::ListSitesResponse sites = Sites();
  ASSERT_EQ(sites.sites_size(), 2);
  EXPECT_FALSE(sites.sites(0).admitted());
  ASSERT_EQ(sites.sites(0).pending_sources_size(), 1);
  EXPECT_EQ(sites.sites(0).pending_sources(0), "HDFS");
  {  // site-a: admitted explicitly; site-b: its pending sources approved
    grpc::ClientContext c1, c2;
    v1::AdmitSourcesRequest ra, rb;
    ra.set_site_id("site-a");
    ra.add_sources("HDFS");
    rb.set_site_id("site-b");
    rb.set_approve_pending(true);
    v1::SiteInfo ia, ib;
    ASSERT_TRUE(admin->AdmitSources(&c1, ra, &ia).ok());
    ASSERT_TRUE(admin->AdmitSources(&c2, rb, &ib).ok());
    EXPECT_EQ(ib.admitted_sources_size(), 1);
    EXPECT_EQ(ib.pending_sources_size(), 0);
  }
  Site a(pki_, "site-a", port(), "HDFS"), b(pki_, "site-b", port(), "BGL");
  v1::RunStatus run = Start(Plan(1, 2));
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok());
  ASSERT_TRUE(a.Upload(ta, DeltaWithAdapter(base->bundle, "HDFS", 0.25f)).ok());
  ASSERT_TRUE(b.Upload(tb, DeltaWithAdapter(base->bundle, "BGL", 0.75f)).ok());
  v1::RunStatus done = WaitDone(run.run_id());
  ASSERT_EQ(done.state(), "done");
  const int64_t v = done.rounds(0).model_version();
  EXPECT_EQ(CountPrefix(AdminModel(v), "adapter."), 10);

  // site-a now claims BGL too and asks for every tensor: it still gets its HDFS adapter only.
  Site greedy(pki_, "site-a", port(), std::vector<std::string>{"HDFS", "BGL"});
  auto got = greedy.session.Download(v, /*all_adapters=*/true);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(CountPrefix(got->bundle, "adapter.HDFS."), 5);
  EXPECT_EQ(CountPrefix(got->bundle, "adapter.BGL."), 0);
  EXPECT_NE(got->bundle.Find("prototypes.global"), nullptr);
  // A site nobody admitted gets no adapter at all, and its sources show as pending.
  Site stranger(pki_, "mallory", port(), std::vector<std::string>{"HDFS", "BGL"});
  auto none = stranger.session.Download(v, /*all_adapters=*/true);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(CountPrefix(none->bundle, "adapter."), 0);
  sites = Sites();
  for (const auto& s : sites.sites()) {
    if (s.site_id() == "mallory") {
      EXPECT_FALSE(s.admitted());
      EXPECT_EQ(s.pending_sources_size(), 2);
    }
    if (s.site_id() == "site-a") {
      ASSERT_EQ(s.pending_sources_size(), 1);
      EXPECT_EQ(s.pending_sources(0), "BGL");
    }
  }
}

// Finding 9 and 11: certificates whose CN is not a safe id, or that carry two CNs or two OUs, are refused on
// every call; nothing is stored for them.
TEST_F(BadSiteTest, CertificatesWithUnsafeOrAmbiguousNamesAreRefused) {
  StartServer(/*line_encoder=*/false);
  const std::vector<std::pair<std::string, std::string>> odd = {
      {"dotdot", "/O=fedlog dev/OU=site/CN=..\\/models\\/v000001"},
      {"comma", "/O=fedlog dev/OU=site/CN=site-a,site-b"},
      {"space", "/O=fedlog dev/OU=site/CN=site-a "},
      {"twocn", "/O=fedlog dev/OU=site/CN=site-a/CN=mallory"},
      {"twoou", "/O=fedlog dev/OU=admin/OU=site/CN=mallory2"},
  };
  for (const auto& [name, subject] : odd) {
    ASSERT_TRUE(IssueOddCert(name, subject)) << subject;
    auto stub = testing::SiteStub(pki_, name, port());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::HelloResponse resp;
    grpc::Status st = stub->Hello(&ctx, {}, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << subject << ": " << st.error_message();
  }
  EXPECT_EQ(Sites().sites_size(), 0);
}

// Finding 10 and 11: non-finite or out-of-range numbers are refused before they reach SQLite (no SQL in the
// answer), evaluations count only from the round's participants, Hellos are bounded and printable, and the
// run completes with the honest sites; refusals after the run ended are not added to it.
TEST_F(BadSiteTest, BadNumbersAndOversizedHellosCannotBreakTheBookkeeping) {
  StartServer(/*line_encoder=*/false);
  Site a(pki_, "site-a", port()), b(pki_, "site-b", port()), m(pki_, "mallory", port());
  {  // Oversized or unprintable Hellos are refused and nothing of them is stored.
    v1::HelloRequest big;
    big.add_sources()->set_name(std::string(100000, 'x'));
    EXPECT_EQ(m.session.Hello(big).status().code(), absl::StatusCode::kInvalidArgument);
    v1::HelloRequest escape;
    escape.add_sources()->set_name("HDFS");
    escape.mutable_sources(0)->set_format("\x1b[2J\x1b[1;1Hforged row");
    EXPECT_EQ(m.session.Hello(escape).status().code(), absl::StatusCode::kInvalidArgument);
    v1::HelloRequest many;
    for (int i = 0; i < 1000; ++i) many.add_sources()->set_name(absl::StrCat("s", i));
    EXPECT_EQ(m.session.Hello(many).status().code(), absl::StatusCode::kInvalidArgument);
    const v1::ListSitesResponse sites = Sites();
    for (const auto& s : sites.sites()) {
      for (const auto& src : s.sources()) EXPECT_EQ(src.name(), "HDFS");
    }
  }
  v1::RunStatus run = Start(Plan(1, 2, 30));
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask(), tm = m.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok());
  for (double loss : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    v1::UpdateHeader h = Site::Header(tm);
    h.set_train_loss(loss);
    absl::Status st = m.Upload(h, Filled(base->bundle, 0));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << loss << ": " << st;
    EXPECT_FALSE(absl::StrContains(st.message(), "INSERT")) << st;
    EXPECT_FALSE(absl::StrContains(st.message(), "SQL")) << st;
  }
  for (double eps : {std::nan(""), HUGE_VAL, -1.0}) {  // the line-DP epsilon a site reports
    v1::UpdateHeader h = Site::Header(tm);
    h.set_line_dp_epsilon(eps);
    EXPECT_EQ(m.Upload(h, Filled(base->bundle, 0)).code(), absl::StatusCode::kInvalidArgument) << eps;
  }
  v1::UpdateHeader bad_metric = Site::Header(tm);
  (*bad_metric.mutable_metrics())["val_f1"] = 1e308;
  EXPECT_EQ(m.Upload(bad_metric, Filled(base->bundle, 0)).code(), absl::StatusCode::kInvalidArgument);

  // Evaluations: a participant's is kept; bounds and the round are checked.
  v1::EvaluationReport eval;
  eval.set_run_id(ta.run_id());
  eval.set_round(ta.round());
  eval.set_model_version(ta.model_version());
  eval.set_num_samples(10);
  (*eval.mutable_metrics())["holdout_f1"] = 0.5;
  EXPECT_TRUE(a.session.ReportEvaluation(eval).ok());
  v1::EvaluationReport huge = eval;
  (*huge.mutable_metrics())["holdout_f1"] = 1e308;
  EXPECT_EQ(m.session.ReportEvaluation(huge).code(), absl::StatusCode::kInvalidArgument);
  v1::EvaluationReport other_round = eval;
  other_round.set_round(ta.round() + 5);
  EXPECT_EQ(m.session.ReportEvaluation(other_round).code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(a.Upload(ta, Filled(base->bundle, 0.001f)).ok());
  ASSERT_TRUE(b.Upload(tb, Filled(base->bundle, 0.003f)).ok());
  v1::RunStatus done = WaitDone(run.run_id());  // mallory's attempts leave it online; the deadline or its
  ASSERT_EQ(done.state(), "done");              // going offline closes the round
  ASSERT_EQ(done.rounds_size(), 1);
  EXPECT_EQ(done.rounds(0).sites(), 2);
  EXPECT_TRUE(std::isfinite(done.rounds(0).mean_train_loss()));
  for (const auto& e : done.rounds(0).evaluations()) {
    EXPECT_EQ(e.site_id(), "site-a");
    for (const auto& [name, value] : e.metrics()) EXPECT_LE(std::fabs(value), 1.0) << name;
  }
  fl::TensorBundle next = AdminModel(done.rounds(0).model_version());
  EXPECT_NEAR(next.tensors[0].values[0] - base->bundle.tensors[0].values[0], 0.002f, 1e-6);
  const int64_t refused = done.refused_updates();
  EXPECT_EQ(refused, 7);  // 3 losses, 3 line-DP epsilons, 1 metric
  // Late refusals do not change the finished run's record.
  EXPECT_FALSE(m.Upload(tm, Filled(base->bundle, 0)).ok());
  EXPECT_EQ(WaitDone(run.run_id()).refused_updates(), refused);
  // A non-participant's evaluation of a past round is refused too.
  EXPECT_EQ(m.session.ReportEvaluation(eval).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace fedlog
