// Round overhead: a real fedlog-server process and N in-process sites on loopback (mTLS) run rounds whose local
// training is skipped (each site returns a zero delta at once), so the round time is everything but training:
// task hand-out, chunked download, upload, validation, aggregation, versioning. Baseline in the same run: the
// same N sites downloading the same model concurrently (the unavoidable data plane). Also reports the
// aggregator's peak RSS (VmHWM) against the model size, and the aggregator's CPU time per round (user + system,
// all threads, from run start to run end; less sensitive than wall time to other load on a shared machine).
// usage: fedlog-bench-round [--server-bin PATH] [--sites N] [--dim D] [--hidden H] [--rounds R]
//        [--max-downloads K]  (the aggregator's max_concurrent_downloads; 0 = its default)
//        [--server-log PATH]  (keep a copy of the aggregator's log: per-round aggregation times)
//        (run from the repository root; the model has about 2*D*H parameters)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "fedlog/v1/admin.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using fedlog::JoinPath;

using fedlog::bench::Arg;
using fedlog::bench::Channel;
using fedlog::bench::Median;

// A /proc/PID/status field in kB ("VmHWM" = peak RSS, "VmRSS" = current).
long StatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

// CPU seconds (user + system, all threads) the process has used so far.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(f.c_str());  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void SiteLoop(const std::string& pki, const std::string& name, int port, const std::atomic<bool>* stop) {
  fedlog::client::FederationSession s(Channel(pki, name, port));
  while (!stop->load()) {
    absl::Status st = s.Hello({}).status();
    if (st.ok()) break;
    if (std::getenv("FEDLOG_BENCH_DEBUG")) std::fprintf(stderr, "%s: hello: %s\n", name.c_str(), st.ToString().c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  while (!stop->load()) {
    auto task = s.GetTask(500);
    if (!task.ok() || !task->has_round()) continue;
    auto model = s.Download(task->round().model_version());
    if (!model.ok()) continue;
    fedlog::fl::TensorBundle delta = model->bundle;
    for (auto& t : delta.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
    fedlog::v1::UpdateHeader h;
    h.set_run_id(task->round().run_id());
    h.set_round(task->round().round());
    h.set_base_version(task->round().model_version());
    h.set_num_samples(100);
    (void)s.Upload(h, *fedlog::fl::EncodeBundle(delta));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string server_bin =
      Arg(argc, argv, "--server-bin", (std::filesystem::path(argv[0]).parent_path() / "fedlog-server").string());
  const int sites = std::stoi(Arg(argc, argv, "--sites", "8"));
  const int dim = std::stoi(Arg(argc, argv, "--dim", "1000"));
  const int hidden = std::stoi(Arg(argc, argv, "--hidden", "500"));
  const int rounds = std::stoi(Arg(argc, argv, "--rounds", "5"));
  const int max_downloads = std::stoi(Arg(argc, argv, "--max-downloads", "0"));
  const std::string keep_log = Arg(argc, argv, "--server-log", "");
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedlog_bench_XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  const std::string pki = JoinPath(dir, "pki");
  std::string cmd = absl::StrCat("bash certs/make-dev-pki.sh ", pki);
  for (int i = 0; i < sites; ++i) absl::StrAppend(&cmd, " s", i);
  if (std::system((cmd + " >/dev/null").c_str()) != 0) {
    std::fprintf(stderr, "cannot make PKI (run from the repository root)\n");
    return 1;
  }
  int port = 20000 + static_cast<int>(getpid() % 20000);
  std::ofstream(JoinPath(dir, "agg.yaml")) << "listen_address: 127.0.0.1:" << port << "\ndata_dir: " << dir
                                           << "/agg\ntls: {ca_cert: " << pki << "/ca.crt, cert: " << pki
                                           << "/aggregator.crt, key: " << pki << "/aggregator.key}\n"
                                           << "model: {arch: mlp_autoencoder, input_dim: " << dim << ", hidden: [" << hidden << "]}\n";
  if (max_downloads > 0) {
    std::ofstream(JoinPath(dir, "agg.yaml"), std::ios::app) << "max_concurrent_downloads: " << max_downloads << "\n";
  }
  // posix_spawn rather than fork: gRPC state in a forked parent is not reliable.
  pid_t server = 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log_path = JoinPath(dir, "agg.log");
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const std::string cfg = JoinPath(dir, "agg.yaml");
  std::vector<char*> args = {const_cast<char*>(server_bin.c_str()), const_cast<char*>("--config"),
                             const_cast<char*>(cfg.c_str()), nullptr};
  if (posix_spawn(&server, server_bin.c_str(), &actions, nullptr, args.data(), environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", server_bin.c_str());
    return 1;
  }
  posix_spawn_file_actions_destroy(&actions);
  // Channels made before the server listens can sit in reconnect backoff for long; wait for the port first.
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!up) {
    std::fprintf(stderr, "aggregator did not start; see its log in %s\n", dir.c_str());
    kill(server, SIGTERM);
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long idle_kb = StatusKb(server, "VmRSS");  // libraries loaded, no model yet
  const double idle_cpu_s = CpuSeconds(server);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < sites; ++i) threads.emplace_back(SiteLoop, pki, "s" + std::to_string(i), port, &stop);
  auto admin = fedlog::v1::Admin::NewStub(Channel(pki, "admin", port));
  fedlog::v1::StartRunRequest req;
  req.mutable_plan()->set_rounds(rounds);
  req.mutable_plan()->set_min_sites(sites);
  req.mutable_plan()->set_round_deadline_s(120);
  fedlog::v1::RunStatus status;
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext ctx;
    if (admin->StartRun(&ctx, req, &status).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int i = 0; i < 6000 && status.state() != "done"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    grpc::ClientContext ctx;
    admin->GetRun(&ctx, {}, &status);
  }
  const double run_cpu_s = CpuSeconds(server) - idle_cpu_s;
  stop = true;
  for (auto& t : threads) t.join();
  std::vector<double> round_s;
  int64_t model_bytes = 0;
  for (const auto& r : status.rounds()) {
    if (r.state() == "done") round_s.push_back(r.seconds());
  }
  // Baseline: the same sites download the final model concurrently, nothing else.
  std::vector<double> transfer_s;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> dl;
    auto t0 = Clock::now();
    for (int i = 0; i < sites; ++i) {
      dl.emplace_back([&, i] {
        fedlog::client::FederationSession s(Channel(pki, "s" + std::to_string(i), port));
        auto m = s.Download(0);
        if (m.ok() && i == 0) model_bytes = m->bytes;
      });
    }
    for (auto& t : dl) t.join();
    transfer_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const long rss_kb = StatusKb(server, "VmHWM");
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  if (!keep_log.empty()) std::filesystem::copy_file(log_path, keep_log, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove_all(dir);
  if (status.state() != "done") {
    std::fprintf(stderr, "run did not finish: %s\n", status.ShortDebugString().c_str());
    return 1;
  }
  const double mb = static_cast<double>(model_bytes) / 1e6;
  std::printf(
      "{\"benchmark\": \"round\", \"sites\": %d, \"model_mb\": %.2f, \"rounds\": %zu,\n"
      " \"round_s_median\": %.3f, \"concurrent_download_s_median\": %.3f, \"round_to_download\": %.2f,\n"
      " \"aggregator_idle_rss_mb\": %.1f, \"aggregator_peak_rss_mb\": %.1f,\n"
      " \"rss_growth_mb\": %.1f, \"rss_growth_to_model\": %.2f, \"aggregator_cpu_s_per_round\": %.3f}\n",
      sites, mb, round_s.size(), Median(round_s), Median(transfer_s), Median(round_s) / Median(transfer_s),
      static_cast<double>(idle_kb) / 1024.0, static_cast<double>(rss_kb) / 1024.0,
      static_cast<double>(rss_kb - idle_kb) / 1024.0,
      static_cast<double>(rss_kb - idle_kb) / 1024.0 / (mb / 1.048576),
      round_s.empty() ? 0.0 : run_cpu_s / static_cast<double>(round_s.size()));
  return 0;
}
