#include "client/detect/metrics.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fedlog::client::detect {
namespace {

void Metric(std::string* out, const std::string& name, const char* type, const std::string& help,
            double value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}

void PerSource(std::string* out, const std::string& name, const std::string& help,
               const std::vector<std::unique_ptr<SourceCounters>>& sources,
               std::atomic<int64_t> SourceCounters::*field) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n");
  for (const auto& s : sources) {
    absl::StrAppend(out, name, "{source=\"", s->name, "\"} ", ((*s).*field).load(), "\n");
  }
}

}  // namespace

void LatencyHistogram::Observe(double seconds) {
  size_t b = 0;
  while (b < kBounds.size() && seconds > kBounds[b]) ++b;
  absl::MutexLock lock(&mu_);
  ++counts_[b];
  sum_ += seconds;
}

void LatencyHistogram::Render(const std::string& name, const std::string& help,
                              std::string* out) const {
  absl::MutexLock lock(&mu_);
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " histogram\n");
  int64_t cumulative = 0;
  for (size_t b = 0; b < kBounds.size(); ++b) {
    cumulative += counts_[b];
    absl::StrAppend(out, name, "_bucket{le=\"", kBounds[b], "\"} ", cumulative, "\n");
  }
  cumulative += counts_[kBounds.size()];
  absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n", name, "_sum ", sum_, "\n",
                  name, "_count ", cumulative, "\n");
}

DetectMetrics::DetectMetrics(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    sources.push_back(std::make_unique<SourceCounters>());
    sources.back()->name = n;
  }
}

std::string DetectMetrics::Render() const {
  std::string out;
  PerSource(&out, "fedlog_detect_lines_total", "Lines processed.", sources, &SourceCounters::lines);
  PerSource(&out, "fedlog_detect_parse_failures_total",
            "Lines whose header did not match the format.", sources,
            &SourceCounters::parse_failures);
  PerSource(&out, "fedlog_detect_new_templates_total", "Lines that matched no known template.",
            sources, &SourceCounters::new_templates);
  PerSource(&out, "fedlog_detect_alerts_total", "Alerts raised (after dedup and rate limits).",
            sources, &SourceCounters::alerts);
  Metric(&out, "fedlog_detect_lines_per_second", "gauge",
         "Lines processed per second (last interval).", lines_per_second.load());
  Metric(&out, "fedlog_detect_unscored_lines_total", "counter", "Lines processed without a model.",
         static_cast<double>(unscored_lines.load()));
  absl::StrAppend(&out,
                  "# HELP fedlog_detect_alerts_suppressed_total Alerts suppressed.\n"
                  "# TYPE fedlog_detect_alerts_suppressed_total counter\n"
                  "fedlog_detect_alerts_suppressed_total{reason=\"dedup\"} ",
                  alerts_suppressed_dedup.load(),
                  "\nfedlog_detect_alerts_suppressed_total{reason=\"rate_limit\"} ",
                  alerts_suppressed_rate.load(),
                  "\nfedlog_detect_alerts_suppressed_total{reason=\"normal_template\"} ",
                  alerts_suppressed_normal.load(),
                  "\nfedlog_detect_alerts_suppressed_total{reason=\"normal_label\"} ",
                  alerts_suppressed_label.load(), "\n");
  absl::StrAppend(&out,
                  "# HELP fedlog_detect_kind_verdicts_withheld_total Anomalous kind verdicts the alarm budget "
                  "withheld (detect.kind_alarm_budget).\n"
                  "# TYPE fedlog_detect_kind_verdicts_withheld_total counter\n"
                  "fedlog_detect_kind_verdicts_withheld_total{unit=\"line\"} ",
                  kind_verdicts_withheld_lines.load(),
                  "\nfedlog_detect_kind_verdicts_withheld_total{unit=\"session\"} ",
                  kind_verdicts_withheld_sessions.load(), "\n");
  Metric(&out, "fedlog_detect_model_version", "gauge",
         "Version of the model scoring lines (0: none).",
         static_cast<double>(model_version.load()));
  Metric(&out, "fedlog_detect_model_personalised", "gauge",
         "1 when the site's personal model scores lines, 0 for the promoted model (or none).",
         static_cast<double>(model_personalised.load()));
  Metric(&out, "fedlog_detect_model_loads_total", "counter", "Models loaded.",
         static_cast<double>(model_loads.load()));
  Metric(&out, "fedlog_detect_model_load_failures_total", "counter", "Model loads that failed.",
         static_cast<double>(model_load_failures.load()));
  Metric(&out, "fedlog_detect_queue_depth", "gauge", "Lines waiting to be scored.",
         static_cast<double>(queue_depth.load()));
  Metric(&out, "fedlog_detect_queue_capacity", "gauge", "Queue bound.",
         static_cast<double>(queue_capacity.load()));
  Metric(&out, "fedlog_detect_queue_delayed_pushes_total", "counter",
         "Lines whose reader waited for queue room (backpressure).",
         static_cast<double>(queue_delayed_pushes.load()));
  Metric(&out, "fedlog_detect_queue_delayed_seconds_total", "counter",
         "Time readers waited for queue room.", queue_delayed_seconds.load());
  Metric(&out, "fedlog_detect_files_followed", "gauge", "Files being followed.",
         static_cast<double>(files_followed.load()));
  Metric(&out, "fedlog_detect_truncations_total", "counter",
         "Files found truncated (copytruncate).", static_cast<double>(truncations.load()));
  Metric(&out, "fedlog_detect_webhook_sent_total", "counter", "Alerts delivered to the webhook.",
         static_cast<double>(webhook_sent.load()));
  Metric(&out, "fedlog_detect_webhook_retries_total", "counter",
         "Webhook attempts that failed and were retried.",
         static_cast<double>(webhook_retries.load()));
  Metric(&out, "fedlog_detect_webhook_failed_total", "counter",
         "Alerts given up on after webhook_max_attempts (still in the JSON lines file).",
         static_cast<double>(webhook_failed.load()));
  Metric(&out, "fedlog_detect_store_errors_total", "counter", "Failed local store writes.",
         static_cast<double>(store_errors.load()));
  score_latency.Render("fedlog_detect_score_latency_seconds",
                       "Per-line processing time: parse, features, score.", &out);
  end_to_end.Render("fedlog_detect_end_to_end_latency_seconds",
                    "Per-line time from reading it to its alert decision (queueing included).",
                    &out);
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, const DetectMetrics* metrics, std::function<std::string()> health) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen '", listen, "' is not host:port"));
  }
  const std::string host = listen.substr(0, colon);
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->server_ = std::make_unique<httplib::Server>();
  s->server_->Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->Render(), "text/plain; version=0.0.4");
  });
  s->server_->Get("/healthz", [health](const httplib::Request&, httplib::Response& res) {
    // "" or "ok; <notes>": healthy (200); anything else is why not (503).
    const std::string why = health();
    const bool ok = why.empty() || absl::StartsWith(why, "ok");
    res.status = ok ? 200 : 503;
    res.set_content(why.empty() ? "ok\n" : why + "\n", "text/plain");
  });
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second daemon bind the same address and the kernel
  // split scrapes between the two. SO_REUSEADDR alone (restart over TIME_WAIT) keeps the address exclusive.
  s->server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  errno = 0;
  if (port == 0) {
    s->port_ = s->server_->bind_to_any_port(host);
  } else {
    s->port_ = s->server_->bind_to_port(host, port) ? port : -1;
  }
  if (s->port_ <= 0) {
    const bool in_use = errno == EADDRINUSE;
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen, " for /metrics",
        in_use ? ": address already in use (another site daemon there? give each one its own detect.metrics_listen)"
               : ""));
  }
  httplib::Server* raw = s->server_.get();
  s->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  return s;
}

MetricsServer::~MetricsServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace fedlog::client::detect
