#include "tests/integration/test_env.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "common/net/tls.h"
#include "server/aggregator_server.h"
#include "client/site_daemon.h"
#include "gtest/gtest.h"
#include "tests/integration/crash_report.h"

namespace fedlog::testing {
namespace {

// Every binary that links this file reports a fatal signal with a backtrace (tests/integration/crash_report.h).
[[maybe_unused]] const bool kCrashReportInstalled = InstallCrashReport();

}  // namespace

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

bool MakePki(const std::string& dir, const std::vector<std::string>& sites, const std::vector<std::string>& expired) {
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  std::string script = JoinPath(src ? src : ".", "certs/make-dev-pki.sh");
  std::string cmd = absl::StrCat("bash '", script, "'");
  for (const auto& e : expired) absl::StrAppend(&cmd, " --expired ", e);
  absl::StrAppend(&cmd, " '", dir, "' ", absl::StrJoin(sites, " "), " > /dev/null");
  int rc = std::system(cmd.c_str());
  if (rc != 0) std::cerr << "make-dev-pki failed (" << rc << "): " << cmd << "\n";
  return rc == 0;
}

std::string WriteLog(const std::string& dir, const std::string& name, int lines, int seed) {
  std::string path = JoinPath(dir, name + ".log");
  std::ofstream out(path);
  std::mt19937 rng(seed);
  const char* kinds[] = {"Receiving block blk_%d src: /10.0.0.%d:50010", "PacketResponder %d for block terminating",
                         "session opened for user u%d by (uid=%d)", "Verification succeeded for blk_%d"};
  for (int i = 0; i < lines; ++i) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), kinds[rng() % 4], static_cast<int>(rng() % 100000), static_cast<int>(rng() % 250));
    out << "081109 2036" << (i % 60) << " INFO dfs.DataNode: " << buf << "\n";
  }
  return path;
}

std::string WritePacketResponderLabels(const std::string& dir, const std::string& name, const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line, csv = "line,label\n";
  for (int n = 1; std::getline(in, line); ++n) {
    csv += absl::StrCat(n, ",", line.find("PacketResponder") != std::string::npos ? 1 : 0, "\n");
  }
  const std::string labels = JoinPath(dir, name + "_labels.csv");
  return WriteFileAtomic(labels, csv).ok() ? labels : "";
}

v1::ServerConfig ServerConfigFor(const std::string& pki, const std::string& data_dir, int port) {
  v1::ServerConfig c;
  c.set_listen_address(absl::StrCat("127.0.0.1:", port));
  c.set_data_dir(data_dir);
  c.mutable_tls()->set_ca_cert(JoinPath(pki, "ca.crt"));
  c.mutable_tls()->set_cert(JoinPath(pki, "aggregator.crt"));
  c.mutable_tls()->set_key(JoinPath(pki, "aggregator.key"));
  c.set_heartbeat_interval_ms(200);
  c.set_site_timeout_ms(3000);
  c.set_max_poll_wait_ms(1000);
  // The small MLP autoencoder: protocol tests need a dense model that trains without labels in milliseconds.
  c.mutable_model()->set_arch("mlp_autoencoder");
  c.mutable_model()->set_input_dim(38);
  c.mutable_model()->add_hidden(16);
  c.mutable_model()->add_hidden(4);
  // Tests of other areas run sites without an admin step; bad_site_test turns this off to test admission.
  c.set_auto_admit_sources(true);
  (void)server::FinalizeServerConfig(&c);
  return c;
}

v1::ClientConfig ClientConfigFor(const std::string& pki, const std::string& site, int port,
                                 const std::string& data_dir, const std::string& log_path) {
  v1::ClientConfig c;
  c.set_aggregator_address(absl::StrCat("localhost:", port));
  c.set_data_dir(data_dir);
  c.mutable_tls()->set_ca_cert(JoinPath(pki, "ca.crt"));
  c.mutable_tls()->set_cert(JoinPath(pki, site + ".crt"));
  c.mutable_tls()->set_key(JoinPath(pki, site + ".key"));
  c.set_device("cpu");
  c.set_backoff_initial_ms(100);
  c.set_backoff_max_ms(500);
  v1::LogSourceConfig* s = c.add_sources();
  s->set_name("HDFS");
  s->set_path(log_path);
  (void)client::FinalizeClientConfig(&c);
  return c;
}

namespace {

std::shared_ptr<grpc::Channel> Channel(const std::string& ca, const std::string& cert, const std::string& key,
                                       int port) {
  auto creds = net::MakeChannelCredentials({ca, cert, key});
  if (!creds.ok()) {
    std::cerr << "credentials: " << creds.status() << "\n";
    return nullptr;
  }
  return net::MakeChannel(absl::StrCat("localhost:", port), *creds);
}

}  // namespace

std::unique_ptr<v1::Federation::Stub> SiteStub(const std::string& pki, const std::string& cert_name, int port,
                                               const std::string& ca_dir) {
  return v1::Federation::NewStub(Channel(JoinPath(ca_dir.empty() ? pki : ca_dir, "ca.crt"),
                                         JoinPath(pki, cert_name + ".crt"), JoinPath(pki, cert_name + ".key"), port));
}

std::unique_ptr<v1::Admin::Stub> AdminStub(const std::string& pki, int port, const std::string& cert_name) {
  return v1::Admin::NewStub(
      Channel(JoinPath(pki, "ca.crt"), JoinPath(pki, cert_name + ".crt"), JoinPath(pki, cert_name + ".key"), port));
}

std::unique_ptr<server::AggregatorServer> StartAggregatorOrFail(const v1::ServerConfig& config, int* port) {
  *port = 0;
  absl::StatusOr<std::unique_ptr<server::AggregatorServer>> s = server::AggregatorServer::Start(config);
  if (!s.ok()) {
    ADD_FAILURE() << "aggregator did not start: " << s.status();
    return nullptr;
  }
  *port = (*s)->port();
  return *std::move(s);
}

std::unique_ptr<v1::Federation::Stub> AnonymousStub(const std::string& pki, int port) {
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = ReadFile(JoinPath(pki, "ca.crt")).value_or("");
  return v1::Federation::NewStub(
      net::MakeChannel(absl::StrCat("localhost:", port), grpc::SslCredentials(opts)));
}

bool UseTinyLineEncoder(v1::ServerConfig* config, int out_dim, int adapter_dim) {
  v1::ModelSpec* spec = config->mutable_model();
  spec->Clear();
  spec->set_arch("line_encoder");
  spec->mutable_encoder()->set_vocab_buckets(64);
  spec->mutable_encoder()->set_token_dim(4);
  spec->mutable_encoder()->add_hidden(8);
  spec->mutable_encoder()->set_out_dim(out_dim);
  spec->mutable_encoder()->set_adapter_dim(adapter_dim);
  spec->mutable_encoder()->set_head_dim(4);
  const absl::Status st = server::FinalizeServerConfig(config);
  if (!st.ok()) std::cerr << "tiny line encoder config: " << st << "\n";
  return st.ok();
}

int64_t StartSecureRun(v1::Admin::Stub* admin, int rounds, int min_sites, int deadline_s, double max_site_share,
                       bool no_norm_bound) {
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  plan->set_rounds(rounds);
  plan->set_adaptive_clip_off(no_norm_bound);
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

v1::RunStatus WaitRun(v1::Admin::Stub* admin, int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready,
                      int max_polls) {
  v1::RunStatus s;
  for (int i = 0; i < max_polls; ++i) {
    grpc::ClientContext ctx;
    v1::GetRunRequest req;
    req.set_run_id(run_id);
    if (admin->GetRun(&ctx, req, &s).ok() && ready(s)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return s;
}

std::shared_ptr<grpc::Channel> SiteChannel(const std::string& pki, const std::string& name, int port) {
  return net::MakeChannel(absl::StrCat("localhost:", port),
                          *net::MakeChannelCredentials({JoinPath(pki, "ca.crt"), JoinPath(pki, name + ".crt"),
                                                        JoinPath(pki, name + ".key")}));
}

v1::RoundTask WaitRoundTask(client::FederationSession* session) {
  for (int i = 0; i < 100; ++i) {
    auto t = session->GetTask(200);
    if (t.ok() && t->has_round()) return t->round();
  }
  ADD_FAILURE() << "no task";
  return {};
}

client::SiteDaemon* RunningDaemons::Start(const v1::ClientConfig& config) {
  auto d = client::SiteDaemon::Create(config);
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return nullptr;
  client::SiteDaemon* raw = d->get();
  daemons_.push_back(std::move(*d));
  threads_.emplace_back([raw] { EXPECT_TRUE(raw->Run().ok()); });
  return raw;
}

void RunningDaemons::Stop() {
  for (auto& d : daemons_) d->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  daemons_.clear();
}

void AggregatorTest::StartAggregator(const std::string& prefix, const std::vector<std::string>& certs,
                                     const std::function<void(v1::ServerConfig*)>& edit) {
  dir_ = MakeTempDir(prefix);
  pki_ = JoinPath(dir_, "pki");
  ASSERT_TRUE(MakePki(pki_, certs));
  v1::ServerConfig config = ServerConfigFor(pki_, JoinPath(dir_, "agg"));
  if (edit) edit(&config);
  auto s = server::AggregatorServer::Start(config);
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
}

void AggregatorTest::TearDown() {
  daemons_.Stop();
  if (server_) server_->Shutdown();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void AggregatorTest::StartSite(const std::string& site, const v1::SitePrivacyPolicy& policy) {
  std::string log = WriteLog(dir_, site, 300, static_cast<int>(site.back()));
  v1::ClientConfig config = ClientConfigFor(pki_, site, server_->port(), JoinPath(dir_, site), log);
  config.mutable_privacy()->MergeFrom(policy);
  ASSERT_NE(daemons_.Start(config), nullptr);
}

v1::ListSitesResponse AggregatorTest::Sites() {
  grpc::ClientContext ctx;
  v1::ListSitesResponse r;
  EXPECT_TRUE(Admin()->ListSites(&ctx, {}, &r).ok());
  return r;
}

void AggregatorTest::WaitOnline(int n) {
  for (int i = 0; i < 200; ++i) {
    int online = 0;
    const v1::ListSitesResponse sites = Sites();
    for (const auto& s : sites.sites()) online += s.online() ? 1 : 0;
    if (online >= n) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << n << " sites never came online";
}

v1::RunStatus AggregatorTest::StartRun(const v1::StartRunRequest& req) {
  v1::RunStatus resp;
  grpc::ClientContext ctx;
  grpc::Status st = Admin()->StartRun(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp;
}

v1::RunStatus AggregatorTest::WaitFinished(int64_t run_id) {
  return WaitRun(Admin().get(), run_id, [](const v1::RunStatus& s) {
    return s.state() == "done" || s.state() == "failed" || s.state() == "stopped";
  });
}

}  // namespace fedlog::testing
