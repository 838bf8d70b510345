// Detection metrics and the local observability endpoint: GET /metrics (Prometheus text format
// 0.0.4) and GET /healthz (200 "ok" or 503 with the reason), served by cpp-httplib on the address
// in DetectOptions::metrics_listen. Metric names are listed in docs/DETECTION.md. Thread-safe:
// counters are atomics, the histogram has its own mutex; the server runs its own threads.
#ifndef FEDLOG_CLIENT_DETECT_METRICS_H_
#define FEDLOG_CLIENT_DETECT_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
}

namespace fedlog::client::detect {

// A Prometheus histogram with fixed bucket bounds in seconds.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 1e-1, 1};
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count lines of metric `name`.
  void Render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  mutable absl::Mutex mu_;
  std::array<int64_t, kBounds.size() + 1> counts_ ABSL_GUARDED_BY(mu_){};
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

struct SourceCounters {
  std::string name;
  std::atomic<int64_t> lines{0};
  std::atomic<int64_t> parse_failures{0};  // header did not match the source's format
  std::atomic<int64_t> new_templates{0};
  std::atomic<int64_t> alerts{0};
};

struct DetectMetrics {
  explicit DetectMetrics(const std::vector<std::string>& sources);

  std::vector<std::unique_ptr<SourceCounters>> sources;
  std::atomic<int64_t> unscored_lines{0};
  std::atomic<int64_t> alerts_suppressed_dedup{0};
  std::atomic<int64_t> alerts_suppressed_rate{0};
  std::atomic<int64_t> alerts_suppressed_normal{0};  // template declared normal (`fedlog label`)
  std::atomic<int64_t> alerts_suppressed_label{0};   // label-free alert, a normal label near (LiveFewShot)
  // Anomalous kind verdicts the alarm budget withheld (LinePipeline::SetKindAlarmBudget), on lines and on
  // sessions: a rising count means the federation's verdicts call much of this site's traffic anomalous.
  std::atomic<int64_t> kind_verdicts_withheld_lines{0};
  std::atomic<int64_t> kind_verdicts_withheld_sessions{0};
  std::atomic<int64_t> model_version{0};
  std::atomic<int64_t> model_personalised{0};  // 1: the site's personal model scores lines
  std::atomic<int64_t> model_loads{0};
  std::atomic<int64_t> model_load_failures{0};
  std::atomic<double> lines_per_second{0};
  std::atomic<int64_t> queue_depth{0};
  std::atomic<int64_t> queue_capacity{0};
  std::atomic<int64_t> queue_delayed_pushes{0};
  std::atomic<double> queue_delayed_seconds{0};
  std::atomic<int64_t> files_followed{0};
  std::atomic<int64_t> truncations{0};
  std::atomic<int64_t> webhook_sent{0};
  std::atomic<int64_t> webhook_retries{0};
  std::atomic<int64_t> webhook_failed{0};
  std::atomic<int64_t> store_errors{0};
  LatencyHistogram score_latency;  // per line: parse + features + score
  LatencyHistogram end_to_end;     // per line: read from the file -> alert decided

  std::string Render() const;
};

// Serves /metrics and /healthz until destroyed.
class MetricsServer {
 public:
  // `listen` is "host:port" (port 0: any free port). `health` returns "" when healthy, else why
  // not.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              const DetectMetrics* metrics,
                                                              std::function<std::string()> health);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_METRICS_H_
