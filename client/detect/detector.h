// Detector: real-time detection at a site. Tailers follow the configured files (and stdin) into a
// bounded queue; one scoring thread takes whatever is queued (up to batch_max lines), runs each
// line through the LinePipeline (parse, template, features, score with the promoted model and the
// site's adapters), applies the threshold, dedup and rate limits, writes alerts (AlertSink), and
// commits the batch's offsets, scores, alerts and template counts to the local store in one
// transaction. A model watcher thread loads a new promoted model (or the same one with new local
// labels) off the scoring thread; the scoring thread swaps it in between two batches, so no line is
// dropped or scored twice. With the labels it reloads the operator's "whole template is normal"
// verdicts (`fedlog label`, label_verdicts.h): a line of such a template raises no alert. docs/DETECTION.md describes configuration, alerts, metrics and feedback.
// Implemented in detector.cc (threads, model, batch loop), detector_alerts.cc (admission and alert records)
// and detector_labels.cc (the configured labels, and the store's labels given to the scorers).
// Thread-safety: Run() on one thread, Stop() from any other; accessors are thread-safe.
#ifndef FEDLOG_CLIENT_DETECT_DETECTOR_H_
#define FEDLOG_CLIENT_DETECT_DETECTOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/detect/alert_sink.h"
#include "client/detect/bounded_queue.h"
#include "client/detect/detect_options.h"
#include "client/detect/detect_store.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/metrics.h"
#include "client/detect/tailer.h"
#include "common/active/normal_templates.h"

namespace fedlog::client::detect {

// <data_dir>/detect.db
std::string DetectStorePath(const std::string& data_dir);

class Detector {
 public:
  // Opens the store, restores templates and offsets, imports the labels file, starts the metrics
  // endpoint and loads the promoted model when there is one (detection waits for one otherwise).
  static absl::StatusOr<std::unique_ptr<Detector>> Create(DetectOptions options);
  ~Detector();

  // Follows and scores until Stop(); then finishes the queued lines and commits them. Returns the
  // first store or alert-file error that stopped it.
  absl::Status Run();
  void Stop();

  const DetectMetrics& metrics() const { return *metrics_; }
  int metrics_port() const { return server_ ? server_->port() : 0; }
  int64_t lines_processed() const { return lines_processed_.load(); }
  int64_t model_version() const { return metrics_->model_version.load(); }
  size_t webhook_pending() const { return sink_->webhook_pending(); }
  // "" when healthy; otherwise why not (no model, scoring thread stopped).
  std::string Health() const;
  // What an operator should know although detection works: watched paths that match no file, which
  // detector scores each source while a model is loaded (LinePipeline::choice), a revoked federation
  // (SetFederationNote). Empty when there is nothing to say. /healthz prints it after "ok".
  std::vector<std::string> Notes() const;
  // A line about the site's federation for Notes() (e.g. "revoked by the aggregator"); "" clears it.
  void SetFederationNote(const std::string& note);

 private:
  explicit Detector(DetectOptions options);
  absl::Status ImportLabelsFile();
  absl::Status ImportLabeledLogs();
  int SourceIndex(const std::string& name) const;
  void TailLoop();
  void ModelLoop();
  absl::Status TryLoadModel();
  std::string ModelSignature() const;
  absl::Status ProcessBatch(std::vector<RawLine>& batch);
  void SyncLabelFreeLabels(int64_t now_ms);
  // The alert limiter's verdict on an alert of `template_id`: true to raise it (a suppressed one
  // is counted).
  bool Admit(const std::string& source, int32_t template_id, int64_t now_ms);
  // Writes alert `a` of source index `source` to the sink, counts it and records it in `rec` (with the
  // line's encoder input, when it has one) for the store.
  absl::Status WriteAlert(const Alert& a, size_t source, std::vector<int64_t> tokens, std::vector<float> dense,
                          BatchRecord* rec);
  absl::Status HandleAlert(const RawLine& raw, const LineResult& r, int64_t now_ms,
                           BatchRecord* rec);
  absl::Status HandleSessionAlert(const RawLine& raw, const LabelFreeScorer::SessionAlert& alert,
                                  int64_t now_ms, BatchRecord* rec);
  // A line held during the label-free warm-up that alerted when the hold ended.
  absl::Status HandleHeldAlert(const LabelFreeScorer::HeldAlert& alert, int64_t now_ms,
                               BatchRecord* rec);
  // Takes the held lines' alerts from the pipeline and handles them.
  absl::Status HandleHeldAlerts(int64_t now_ms, BatchRecord* rec);
  // The template id session alerts carry (in the store and the alert): no line template.
  static constexpr int32_t kSessionAlertTemplate = -2;
  void Housekeeping(bool final);
  bool Stopping() const;
  // Copies the pipeline's detector choices (one line per source, while a model is loaded) for
  // Notes() when they changed. Scoring thread.
  void PublishChoices();
  // True when the line just processed belongs to a template the operator declared normal.
  bool DeclaredNormal(int source, int32_t template_id);

  DetectOptions options_;
  std::vector<LabelFreeScorer::SessionAlert> session_alerts_;  // scoring thread only (scratch)
  std::vector<LabelFreeScorer::HeldAlert> held_alerts_;        // scoring thread only (scratch)
  int64_t start_ms_ = 0;
  std::unique_ptr<DetectStore> store_;
  std::unique_ptr<LinePipeline> pipeline_;
  std::unique_ptr<DetectMetrics> metrics_;
  std::unique_ptr<AlertSink> sink_;
  std::unique_ptr<MetricsServer> server_;
  std::unique_ptr<Tailer> tailer_;
  BoundedQueue<RawLine> queue_;
  AlertLimiter limiter_;
  std::vector<std::vector<std::string>> context_;  // per source, last context_lines lines
  active::NormalTemplates normal_templates_;       // scoring thread only
  std::atomic<int64_t> lines_processed_{0};
  std::atomic<bool> stop_flag_{false};
  std::atomic<bool> running_{false};
  int64_t last_housekeeping_ms_ = 0, last_drain_save_ms_ = 0, last_retention_ms_ = 0;
  int64_t lines_at_last_rate_ = 0;
  int64_t last_label_sync_ms_ = -1000000, label_free_labels_version_ = -1;  // scoring thread only

  mutable absl::Mutex mu_;
  std::unique_ptr<DetectionModel> pending_model_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<active::NormalTemplates> pending_normal_ ABSL_GUARDED_BY(mu_);
  std::string model_status_ ABSL_GUARDED_BY(mu_) = "no model loaded yet";
  std::string model_signature_ ABSL_GUARDED_BY(mu_);
  std::string federation_note_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> choice_notes_ ABSL_GUARDED_BY(mu_);  // PublishChoices
  int64_t choices_published_ = -1;                              // scoring thread only
  std::vector<std::thread> readers_;
  std::thread model_thread_;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_DETECTOR_H_
