// Helpers for integration tests: a PKI made at test time by certs/make-dev-pki.sh, temporary directories,
// configs for an in-process aggregator and site daemons on loopback, and gRPC stubs with chosen certificates.
#ifndef FEDLOG_TESTS_INTEGRATION_TEST_ENV_H_
#define FEDLOG_TESTS_INTEGRATION_TEST_ENV_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/federation_session.h"
#include "client/site_daemon.h"
#include "fedlog/v1/admin.grpc.pb.h"
#include "fedlog/v1/config.pb.h"
#include "fedlog/v1/federation.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"

namespace fedlog::testing {

std::string MakeTempDir(const std::string& prefix);

// Runs certs/make-dev-pki.sh into `dir`; returns false (and prints why) on failure.
bool MakePki(const std::string& dir, const std::vector<std::string>& sites,
             const std::vector<std::string>& expired = {});

// Writes `lines` synthetic log lines of a few event kinds; returns the path.
std::string WriteLog(const std::string& dir, const std::string& name, int lines, int seed);

// Writes a labels file for the log at `log_path` (WriteLog's): every PacketResponder line anomalous (1), every
// other line normal (0); returns its path (`dir`/`name`_labels.csv). Empty when it cannot be written.
std::string WritePacketResponderLabels(const std::string& dir, const std::string& name, const std::string& log_path);

v1::ServerConfig ServerConfigFor(const std::string& pki, const std::string& data_dir, int port = 0);
v1::ClientConfig ClientConfigFor(const std::string& pki, const std::string& site, int port,
                                 const std::string& data_dir, const std::string& log_path);

// Stubs presenting `cert_name`.crt/.key from `pki` (trusting `ca_dir`/ca.crt, default `pki`).
std::unique_ptr<v1::Federation::Stub> SiteStub(const std::string& pki, const std::string& cert_name, int port,
                                               const std::string& ca_dir = "");
std::unique_ptr<v1::Admin::Stub> AdminStub(const std::string& pki, int port, const std::string& cert_name = "admin");

// Starts an aggregator with `config` and sets `*port`. A failed start is a test failure (ADD_FAILURE) that
// returns null and leaves `*port` 0, so later calls fail; dereferencing the error would abort the whole binary.
std::unique_ptr<server::AggregatorServer> StartAggregatorOrFail(const v1::ServerConfig& config, int* port);
// Makes `config` train a tiny line_encoder (vocab 64, token 4, hidden [8], head 4) with the given output and
// adapter widths, and fills the remaining defaults as the aggregator's config loader would.
bool UseTinyLineEncoder(v1::ServerConfig* config, int out_dim, int adapter_dim);

// Starts a secure-aggregation run through `admin` (steps of 2 s) and returns its id (0 after a failed EXPECT);
// `max_site_share` 0 keeps the default cap; `no_norm_bound` turns the plan's adaptive clipping off, so that no
// site's update norm is bounded (common/secagg/norm_bound.h).
int64_t StartSecureRun(v1::Admin::Stub* admin, int rounds, int min_sites, int deadline_s, double max_site_share = 0,
                       bool no_norm_bound = false);

// Polls run `run_id` through `admin` every 100 ms until `ready` holds or `max_polls` polls pass; returns the last
// status seen (the caller checks it).
v1::RunStatus WaitRun(v1::Admin::Stub* admin, int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready,
                      int max_polls = 300);

// A channel to the aggregator on `port` presenting `name`.crt/.key from `pki` (trusting `pki`/ca.crt), for a
// site driven by hand through client::FederationSession.
std::shared_ptr<grpc::Channel> SiteChannel(const std::string& pki, const std::string& name, int port);

// Long-polls `session` for a round task (up to about 20 s); a test failure and an empty task when none comes.
v1::RoundTask WaitRoundTask(client::FederationSession* session);

// Site daemons that run on their own threads, as a test fixture starts them; Stop() (or destruction) stops
// and joins every one. Not thread-safe: one test thread starts and stops them.
class RunningDaemons {
 public:
  RunningDaemons() = default;
  RunningDaemons(const RunningDaemons&) = delete;
  RunningDaemons& operator=(const RunningDaemons&) = delete;
  ~RunningDaemons() { Stop(); }

  // Creates a daemon from `config` and runs it; nullptr (and a test failure) when it cannot be created.
  client::SiteDaemon* Start(const v1::ClientConfig& config);
  void Stop();

 private:
  std::vector<std::unique_ptr<client::SiteDaemon>> daemons_;
  std::vector<std::thread> threads_;
};

// Fixture base: an aggregator on loopback with a PKI made at test time, and site daemons that write
// synthetic logs; TearDown stops the daemons, shuts the aggregator down and removes the directory. Subclasses
// call StartAggregator from their SetUp. Not thread-safe: one test thread drives it.
class AggregatorTest : public ::testing::Test {
 protected:
  // Makes a PKI for `certs` in a new temporary directory named after `prefix` and starts the aggregator on a
  // free port, with `edit` (when set) applied to the default config first.
  void StartAggregator(const std::string& prefix, const std::vector<std::string>& certs,
                       const std::function<void(v1::ServerConfig*)>& edit = nullptr);
  void TearDown() override;

  // Starts a daemon for `site` (300 synthetic lines) with `policy` as its privacy section.
  void StartSite(const std::string& site, const v1::SitePrivacyPolicy& policy = {});
  v1::ListSitesResponse Sites();
  // Waits up to 20 s for `n` sites to be online; a test failure otherwise.
  void WaitOnline(int n);
  // Starts the run `req` asks for (a test failure when refused) and returns its first status.
  v1::RunStatus StartRun(const v1::StartRunRequest& req);
  // Waits for run `run_id` to be done, failed or stopped; returns its last status.
  v1::RunStatus WaitFinished(int64_t run_id);
  std::unique_ptr<v1::Admin::Stub> Admin() const { return AdminStub(pki_, server_->port()); }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  RunningDaemons daemons_;
};

// A stub that presents no client certificate at all.
std::unique_ptr<v1::Federation::Stub> AnonymousStub(const std::string& pki, int port);

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_TEST_ENV_H_
