// Secure aggregation's cost on whole rounds: an in-process aggregator and N in-process sites on loopback over
// mutual TLS run R plain rounds, then R secure-aggregation rounds, with the same sites and model, in one run.
// Local training is skipped (each site sends a delta of 1e-3 in every value at once), so a round's time is
// everything but training: task hand-out, download, upload and aggregation, plus, under secure aggregation, key
// agreement, Shamir shares, the norm bound, pairwise and self masks at every site, unmasking, decoding and the
// sum's checks at the aggregator. Sites share the machine's cores with each other and with the aggregator, as
// in a single-host test, not as in a real deployment where each site has its own machine: the ratio is
// therefore an upper bound on the wall-clock overhead a deployment sees.
// Besides the round medians it prints where a site's time goes (medians over sites and rounds, wall ms): the
// plain upload, and under secure aggregation the masking and the masked upload; and the process's CPU seconds
// per round of each kind (all sites and the aggregator, user + system), which other load on a shared machine
// distorts less than wall time. The aggregator logs each secure
// round's step times ("secure aggregation ...: steps advertising .. ms, sharing .., masking .., unmasking ..").
// Both runs' plans set max_site_samples to --max-site-samples (default 100, the sample count every site here
// reports, so that it caps nothing): it is the weight bound W of secure aggregation's fixed point, and with
// N * R * W <= 2^14 the aggregator chooses 32-bit lanes (common/secagg/quantize.h); 0 leaves W at 1e6 and the
// lanes at 64 bits, unless the sites declared their lines in Hello: each site declares one source of
// --declared-lines L lines (default 100, the count it reports; 0 = no source declared, the sessions before 9),
// and in a sample-weighted round the aggregator then bounds W by the declared lines (the power of two at or
// above the largest, server/secagg_round.h), which gives 32-bit lanes here even with --max-site-samples 0.
// The lane width the sites were given is printed.
// usage: fedlog-bench-secagg-round [--sites 8,16] [--dim D] [--hidden H] [--rounds R] [--max-site-samples S]
//        [--declared-lines L]
//        (run from the repository root; the MLP has about 2*D*H parameters; default D=1000, H=500: 1.0M)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <stdlib.h>
#include <sys/resource.h>

#include "bench/bench_util.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "fedlog/v1/admin.grpc.pb.h"
#include "server/aggregator_server.h"

namespace {

using fedlog::JoinPath;

using fedlog::bench::Arg;
using fedlog::bench::Channel;
using fedlog::bench::Median;

// Where a site's time goes, per round (wall ms), gathered over every site: under secure aggregation the masking
// (from the share delivery arriving to the masked upload starting: quantising, masks, lane encoding) and the
// masked upload; in a plain round the upload. Shared by the site threads.
struct SiteTimes {
  absl::Mutex mu;
  std::vector<double> mask_ms ABSL_GUARDED_BY(mu), masked_upload_ms ABSL_GUARDED_BY(mu),
      plain_upload_ms ABSL_GUARDED_BY(mu);
  std::atomic<int> lane_bits{0};  // of the last secure round's task
  void Add(std::vector<double> SiteTimes::*which, double ms) {
    absl::MutexLock lock(&mu);
    (this->*which).push_back(ms);
  }
  double MedianOf(std::vector<double> SiteTimes::*which) {
    absl::MutexLock lock(&mu);
    return Median(this->*which);
  }
};

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// The session's transport, timing the masking and the masked upload.
class TimedTransport : public fedlog::client::SecAggTransport {
 public:
  TimedTransport(fedlog::client::FederationSession* s, SiteTimes* times)
      : inner_(fedlog::client::SessionTransport(s)), times_(times) {}
  absl::Status Advertise(const fedlog::v1::SecAggAdvertiseRequest& r) override { return inner_->Advertise(r); }
  absl::Status ShareKeys(const fedlog::v1::SecAggShareKeysRequest& r) override { return inner_->ShareKeys(r); }
  absl::Status UploadMasked(const fedlog::v1::UpdateHeader& h, const std::string& bytes) override {
    times_->Add(&SiteTimes::mask_ms, MsSince(delivered_));
    const auto start = std::chrono::steady_clock::now();
    absl::Status st = inner_->UploadMasked(h, bytes);
    times_->Add(&SiteTimes::masked_upload_ms, MsSince(start));
    return st;
  }
  absl::StatusOr<fedlog::v1::SecAggPollResponse> Poll(const fedlog::v1::SecAggPollRequest& r) override {
    auto resp = inner_->Poll(r);
    if (resp.ok() && resp->has_delivery()) delivered_ = std::chrono::steady_clock::now();
    return resp;
  }
  absl::Status Unmask(const fedlog::v1::SecAggUnmaskRequest& r) override { return inner_->Unmask(r); }

 private:
  std::unique_ptr<fedlog::client::SecAggTransport> inner_;
  SiteTimes* times_;
  std::chrono::steady_clock::time_point delivered_;
};

// One site: answers every task with a delta of 1e-3 everywhere, plainly or under secure aggregation as the task
// says.
void SiteLoop(const std::string& pki, const std::string& name, int port, int64_t declared_lines,
              const std::atomic<bool>* stop, SiteTimes* times) {
  fedlog::client::FederationSession s(Channel(pki, name, port));
  fedlog::v1::HelloRequest request;
  if (declared_lines > 0) {
    fedlog::v1::SourceInfo* source = request.add_sources();
    source->set_name("HDFS");
    source->set_format("HDFS");
    source->set_lines(declared_lines);
  }
  std::string id;
  while (!stop->load() && id.empty()) {
    auto hello = s.Hello(request);
    if (hello.ok()) id = hello->site_id();
    else std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  while (!stop->load()) {
    auto task = s.GetTask(500);
    if (!task.ok() || !task->has_round()) continue;
    const fedlog::v1::RoundTask& t = task->round();
    auto model = s.Download(t.model_version());
    if (!model.ok()) continue;
    fedlog::fl::TensorBundle delta = model->bundle;
    // A small delta, not zero: secure rounds then run the whole norm-bound path (each site's norm stated, the
    // bound given, the sum checked against it; zero norms set no bound).
    for (auto& x : delta.tensors) std::fill(x.values.begin(), x.values.end(), 1e-3f);
    fedlog::v1::UpdateHeader h;
    h.set_run_id(t.run_id());
    h.set_round(t.round());
    h.set_base_version(t.model_version());
    h.set_num_samples(100);
    absl::Status st;
    if (t.secure_aggregation()) {
      times->lane_bits = static_cast<int>(t.secagg().lane_bits());
      std::vector<fedlog::secagg::ValueRange> ranges;  // the daemon's path: the norm stated and bounded
      auto x = fedlog::client::SecAggVector(t, model->bundle, delta, nullptr, {}, &ranges);
      if (!x.ok()) {
        st = x.status();
      } else {
        fedlog::client::SecAggClientOptions o;
        o.site_id = id;
        o.key_file = JoinPath(pki, name + ".key");
        o.ca_file = JoinPath(pki, "ca.crt");
        o.poll_wait_ms = 1000;
        TimedTransport transport(&s, times);
        st = fedlog::client::RunSecureAggregation(&transport, o, t, *x, 100, h, ranges);
      }
    } else {
      const std::string bytes = *fedlog::fl::EncodeBundle(delta);
      const auto start = std::chrono::steady_clock::now();
      st = s.Upload(h, bytes);
      times->Add(&SiteTimes::plain_upload_ms, MsSince(start));
    }
    if (!st.ok() && std::getenv("FEDLOG_BENCH_DEBUG")) {
      std::fprintf(stderr, "%s: round %d: %s\n", name.c_str(), t.round(), st.ToString().c_str());
    }
  }
}

// This process's CPU time so far (user + system, every thread: all sites and the aggregator), in seconds.
double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Runs R rounds with `secagg` on or off; returns the rounds' durations (empty on failure) and sets `cpu_s` to
// the process's CPU seconds per round over the run.
std::vector<double> RunRounds(fedlog::v1::Admin::Stub* admin, int sites, int rounds, bool secagg,
                              int64_t max_site_samples, double* cpu_s) {
  const double cpu_start = ProcessCpuSeconds();
  fedlog::v1::StartRunRequest req;
  req.mutable_plan()->set_rounds(rounds);
  req.mutable_plan()->set_min_sites(sites);
  req.mutable_plan()->set_round_deadline_s(300);
  req.mutable_plan()->set_secure_aggregation(secagg);
  req.mutable_plan()->set_max_site_samples(max_site_samples);
  fedlog::v1::RunStatus status;
  grpc::ClientContext ctx;
  grpc::Status st = admin->StartRun(&ctx, req, &status);
  if (!st.ok()) {
    std::fprintf(stderr, "cannot start run: %s\n", st.error_message().c_str());
    return {};
  }
  const int64_t run_id = status.run_id();
  for (int i = 0; i < 20 * 600 && status.state() != "done" && status.state() != "failed"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    grpc::ClientContext c;
    fedlog::v1::GetRunRequest g;
    g.set_run_id(run_id);
    admin->GetRun(&c, g, &status);
  }
  *cpu_s = (ProcessCpuSeconds() - cpu_start) / std::max(1, rounds);
  std::vector<double> out;
  for (const auto& r : status.rounds()) {
    if (r.state() == "done") out.push_back(r.seconds());
  }
  if (status.state() != "done") {
    std::fprintf(stderr, "run %lld ended %s: %s\n", static_cast<long long>(run_id), status.state().c_str(),
                 status.message().c_str());
    return {};
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> site_counts;
  for (absl::string_view s : absl::StrSplit(Arg(argc, argv, "--sites", "8,16"), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(s, &n) && n >= 2) site_counts.push_back(n);
  }
  const int dim = std::stoi(Arg(argc, argv, "--dim", "1000"));
  const int hidden = std::stoi(Arg(argc, argv, "--hidden", "500"));
  const int rounds = std::stoi(Arg(argc, argv, "--rounds", "3"));
  const int64_t max_site_samples = std::stoll(Arg(argc, argv, "--max-site-samples", "100"));
  const int64_t declared_lines = std::stoll(Arg(argc, argv, "--declared-lines", "100"));
  const int max_sites = site_counts.empty() ? 2 : *std::max_element(site_counts.begin(), site_counts.end());
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedlog_bench_secagg_XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  const std::string pki = JoinPath(dir, "pki");
  std::string cmd = absl::StrCat("bash certs/make-dev-pki.sh ", pki);
  for (int i = 0; i < max_sites; ++i) absl::StrAppend(&cmd, " s", i);
  if (std::system((cmd + " >/dev/null").c_str()) != 0) {
    std::fprintf(stderr, "cannot make PKI (run from the repository root)\n");
    return 1;
  }
  int rc = 0;
  for (int sites : site_counts) {
    fedlog::v1::ServerConfig c;
    c.set_listen_address("127.0.0.1:0");
    c.set_data_dir(JoinPath(dir, absl::StrCat("agg", sites)));
    c.mutable_tls()->set_ca_cert(JoinPath(pki, "ca.crt"));
    c.mutable_tls()->set_cert(JoinPath(pki, "aggregator.crt"));
    c.mutable_tls()->set_key(JoinPath(pki, "aggregator.key"));
    c.set_max_poll_wait_ms(1000);
    c.mutable_model()->set_arch("mlp_autoencoder");
    c.mutable_model()->set_input_dim(dim);
    c.mutable_model()->add_hidden(hidden);
    if (absl::Status st = fedlog::server::FinalizeServerConfig(&c); !st.ok()) {
      std::fprintf(stderr, "%s\n", st.ToString().c_str());
      return 1;
    }
    auto server = fedlog::server::AggregatorServer::Start(c);
    if (!server.ok()) {
      std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
      return 1;
    }
    const int port = (*server)->port();
    std::atomic<bool> stop{false};
    SiteTimes times;
    std::vector<std::thread> threads;
    for (int i = 0; i < sites; ++i) {
      threads.emplace_back(SiteLoop, pki, absl::StrCat("s", i), port, declared_lines, &stop, &times);
    }
    auto admin = fedlog::v1::Admin::NewStub(Channel(pki, "admin", port));
    double load[1] = {0};  // at the start of this size's runs
    getloadavg(load, 1);
    double plain_cpu = 0, masked_cpu = 0;
    const std::vector<double> plain = RunRounds(admin.get(), sites, rounds, false, max_site_samples, &plain_cpu);
    const std::vector<double> masked = RunRounds(admin.get(), sites, rounds, true, max_site_samples, &masked_cpu);
    stop = true;
    for (auto& t : threads) t.join();
    (*server)->Shutdown();
    if (plain.empty() || masked.empty()) {
      rc = 1;
      continue;
    }
    const double params = 2.0 * dim * hidden + dim + hidden;
    std::printf("{\"benchmark\": \"secagg_round\", \"sites\": %d, \"params\": %.0f, \"rounds\": %d,"
                " \"max_site_samples\": %lld, \"declared_lines\": %lld, \"lane_bits\": %d,"
                " \"loadavg_1min\": %.2f,"
                " \"plain_round_s_median\": %.3f, \"secagg_round_s_median\": %.3f, \"ratio\": %.2f,"
                " \"site_plain_upload_ms_median\": %.0f, \"site_mask_ms_median\": %.0f,"
                " \"site_masked_upload_ms_median\": %.0f, \"plain_cpu_s_per_round\": %.2f,"
                " \"secagg_cpu_s_per_round\": %.2f, \"cpu_ratio\": %.2f}\n",
                sites, params, rounds, static_cast<long long>(max_site_samples), static_cast<long long>(declared_lines),
                times.lane_bits.load(), load[0],
                Median(plain), Median(masked), Median(masked) / Median(plain),
                times.MedianOf(&SiteTimes::plain_upload_ms), times.MedianOf(&SiteTimes::mask_ms),
                times.MedianOf(&SiteTimes::masked_upload_ms), plain_cpu, masked_cpu, masked_cpu / plain_cpu);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return rc;
}
