// Alert delivery: every alert is appended (and flushed) to the JSON lines file first, which is the
// durable record, optionally printed to stdout, then queued for the HTTP webhook, which a thread of
// its own delivers in order with retries and exponential backoff. A webhook that is down delays
// only the webhook; nothing in the file is lost. AlertLimiter holds the per-template dedup and rate
// limits applied before an alert is written.
// Thread-safety: AlertSink is thread-safe; AlertLimiter is thread-compatible.
#ifndef FEDLOG_CLIENT_DETECT_ALERT_SINK_H_
#define FEDLOG_CLIENT_DETECT_ALERT_SINK_H_

#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/detect/detect_options.h"
#include "client/detect/metrics.h"

namespace fedlog::client::detect {

// The alert's fields (docs/DETECTION.md lists the JSON keys).
struct Alert {
  std::string id;
  int64_t time_ms = 0;  // the line's own time, else when it was read
  // Wall time the alert was raised (written); 0: not stamped yet, and AlertSink::Write stamps the record with
  // the time it writes it. Alert files of older versions have no such key.
  int64_t raised_ms = 0;
  std::string source;
  std::string file;
  int64_t offset = 0;
  std::string line;
  int32_t template_id = -1;
  std::string template_text;
  std::vector<std::string> parameters;
  float score = 0;
  float threshold = 0;
  int64_t model_version = 0;
  std::vector<std::string> context;  // the lines of the same source before it, oldest first
  // label-free scoring: the signals that fired ("template+severity"), "+label" (or "label") when a
  // labelled anomalous line near it decided the alert (LiveFewShot); "" otherwise
  std::string signals;
  // Which detector scored the line: "model" or "label-free" (LinePipeline's detector choice); "":
  // not said (left out of the JSON).
  std::string detector;
};

std::string AlertToJson(const Alert& alert);
// `json` (one alert object as AlertToJson writes it) with a "raised" key of `now_ms` appended when it has none;
// unchanged when it has one. AlertToJson escapes every quote inside a string, so the key is found exactly.
std::string StampRaised(const std::string& json, int64_t now_ms);
// A stable id for the line at (source, file identity, end offset): a line re-read after a crash
// gets the same id.
std::string AlertId(const std::string& source, uint64_t dev, uint64_t ino, int64_t offset,
                    int64_t salt);

class AlertLimiter {
 public:
  AlertLimiter(int dedup_window_s, int rate_limit_per_min)
      : dedup_ms_(dedup_window_s < 0 ? -1 : int64_t{dedup_window_s} * 1000),
        rate_(rate_limit_per_min) {}
  enum class Verdict { kAllow, kDuplicate, kRateLimited };
  // Decides for an alert of (source, template) at wall time `now_ms` and records it when allowed.
  Verdict Check(const std::string& source, int32_t template_id, int64_t now_ms);

 private:
  struct State {
    int64_t last_ms = -1;
    int64_t minute = -1;
    int in_minute = 0;
  };
  int64_t dedup_ms_;
  int rate_;
  absl::flat_hash_map<std::string, State> state_;
};

class AlertSink {
 public:
  static absl::StatusOr<std::unique_ptr<AlertSink>> Create(const DetectOptions& options,
                                                           DetectMetrics* metrics);
  ~AlertSink();

  // Appends `json` to the file (flushed), stdout when enabled, and queues it for the webhook, stamped with the
  // time it is written (StampRaised) when it carries no "raised" key.
  absl::Status Write(const std::string& json);
  // Alerts not yet delivered to the webhook.
  size_t webhook_pending() const;
  // Stops the webhook thread (undelivered alerts stay in the file only).
  void Stop();

 private:
  AlertSink(const DetectOptions& options, DetectMetrics* metrics, std::FILE* file);
  void WebhookLoop();
  bool Post(const std::string& body);

  const DetectOptions options_;
  DetectMetrics* metrics_;
  std::FILE* file_;
  std::string host_, path_;
  int port_ = 80;
  mutable absl::Mutex mu_;
  std::deque<std::string> pending_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread webhook_;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_ALERT_SINK_H_
