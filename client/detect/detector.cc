#include "client/detect/detector.h"

#include <glob.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/detect/label_verdicts.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/novelty/scorer.h"

namespace fedlog::client::detect {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }
int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> SourceNames(const DetectOptions& o) {
  std::vector<std::string> names;
  for (const SourceOptions& s : o.sources) names.push_back(s.name);
  return names;
}

}  // namespace

std::string DetectStorePath(const std::string& data_dir) { return JoinPath(data_dir, "detect.db"); }

Detector::Detector(DetectOptions options)
    : options_(std::move(options)),
      queue_(static_cast<size_t>(options_.queue_capacity)),
      limiter_(options_.dedup_window_s, options_.rate_limit_per_min) {}

Detector::~Detector() {
  Stop();
  for (std::thread& t : readers_) {
    if (t.joinable()) t.join();
  }
  if (model_thread_.joinable()) model_thread_.join();
}

absl::StatusOr<std::unique_ptr<Detector>> Detector::Create(DetectOptions options) {
  if (options.sources.empty())
    return absl::InvalidArgumentError("detection needs at least one source");
  FEDLOG_RETURN_IF_ERROR(MakeDirs(options.data_dir));
  std::unique_ptr<Detector> d(new Detector(std::move(options)));
  const DetectOptions& o = d->options_;
  d->start_ms_ = NowMs();
  FEDLOG_ASSIGN_OR_RETURN(d->store_, DetectStore::Open(DetectStorePath(o.data_dir)));
  std::vector<std::string> drains;
  for (const SourceOptions& s : o.sources) {
    FEDLOG_ASSIGN_OR_RETURN(std::optional<std::string> state, d->store_->LoadDrainState(s.name));
    drains.push_back(state.value_or(""));
  }
  FEDLOG_ASSIGN_OR_RETURN(d->pipeline_, LinePipeline::Create(o.sources, drains));
  if (o.expected_alert_rate > 0) {  // sources without a model are scored label-free
    const novelty::NoveltyOptions label_free = LabelFreeRule(o);
    FEDLOG_RETURN_IF_ERROR(
        d->pipeline_->EnableLabelFree(label_free, o.session_pattern, o.fewshot_match, FewShotRule(o),
                                      o.session_lookup_match, o.session_kind_rule, o.session_whole_unit));
    d->pipeline_->KeepLabelFreeWithModel(o.label_free_with_model);
  }
  FEDLOG_RETURN_IF_ERROR(d->pipeline_->SetDetectorChoice(o.detector_choice));
  d->pipeline_->EnableKindVerdicts(o.kind_verdicts);
  kinds::KindVerdictOptions kind_options;
  kind_options.normal_sites = o.kind_verdict_silence_sites;
  FEDLOG_RETURN_IF_ERROR(kind_options.Validate());
  d->pipeline_->SetKindVerdictOptions(kind_options);
  FEDLOG_RETURN_IF_ERROR(o.kind_alarm_budget.Validate());
  d->pipeline_->SetKindAlarmBudget(o.kind_alarm_budget);
  d->pipeline_->EnableSessionKindVerdicts(o.kind_verdict_sessions);
  FEDLOG_RETURN_IF_ERROR(d->ImportLabelsFile());
  FEDLOG_RETURN_IF_ERROR(d->ImportLabeledLogs());
  d->metrics_ = std::make_unique<DetectMetrics>(SourceNames(o));
  d->metrics_->queue_capacity = o.queue_capacity;
  FEDLOG_ASSIGN_OR_RETURN(d->sink_, AlertSink::Create(o, d->metrics_.get()));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<FileOffset> offsets, d->store_->LoadOffsets());
  d->tailer_ = std::make_unique<Tailer>(o.sources, std::move(offsets),
                                        TailerOptions{o.start_at_end, o.rotate_grace_ms});
  d->context_.resize(o.sources.size());
  if (absl::Status st = d->TryLoadModel(); !st.ok()) {
    FEDLOG_LOG(INFO) << "detect: " << st.message()
                     << (o.expected_alert_rate > 0
                             ? "; lines are scored label-free until a model arrives"
                             : "; lines are parsed but not scored until a model arrives");
  }
  if (o.metrics_listen != "off") {
    Detector* raw = d.get();
    FEDLOG_ASSIGN_OR_RETURN(d->server_, MetricsServer::Start(o.metrics_listen, d->metrics_.get(), [raw] {
                              const std::string why = raw->Health();
                              const std::vector<std::string> notes = raw->Notes();
                              if (notes.empty()) return why;
                              return absl::StrCat(why.empty() ? "ok" : why, "; ", absl::StrJoin(notes, "; "));
                            }));
    FEDLOG_LOG(INFO) << "detect: /metrics and /healthz on port " << d->server_->port();
  }
  return d;
}

int Detector::SourceIndex(const std::string& name) const {
  for (size_t i = 0; i < options_.sources.size(); ++i) {
    if (options_.sources[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string Detector::ModelSignature() const {
  // Either manifest changing (a new promoted model, a personal model written or removed) reloads.
  std::string sig;
  for (const std::string& path :
       {PromotedManifestPath(options_.data_dir), PersonalManifestPath(options_.data_dir)}) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      absl::StrAppend(&sig, st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":",
                      st.st_ino);
    }
    sig += "|";
  }
  auto labels = store_->LabelsVersion();
  return absl::StrCat(sig, "/", labels.ok() ? *labels : -1);
}

absl::Status Detector::TryLoadModel() {
  const std::string sig = ModelSignature();
  FEDLOG_ASSIGN_OR_RETURN(std::vector<LabeledLine> labels, store_->LoadLabels(""));
  SplitSessionVerdicts(&labels, nullptr);  // session verdicts are not the model's support
  auto normal = std::make_unique<active::NormalTemplates>(NormalTemplatesFromLabels(labels));
  auto model =
      LoadDetectionModel(options_.data_dir, SourceNames(options_), labels, options_.threshold);
  absl::MutexLock lock(&mu_);
  pending_normal_ = std::move(normal);  // with or without a model (label-free detection)
  if (!model.ok()) {
    model_status_ = std::string(model.status().message());
    // A half-written pair is retried at the next check; other failures wait for new files.
    if (model.status().code() != absl::StatusCode::kUnavailable) model_signature_ = sig;
    if (model.status().code() != absl::StatusCode::kNotFound)
      metrics_->model_load_failures.fetch_add(1);
    return model.status();
  }
  model_signature_ = sig;
  model_status_.clear();
  FEDLOG_LOG(INFO) << "detect: model v" << (*model)->version
                   << ((*model)->personalised ? " (personal)" : " (promoted)") << " ready for "
                   << (*model)->scorers.size() << " source(s)";
  pending_model_ = std::move(*model);
  metrics_->model_loads.fetch_add(1);
  return absl::OkStatus();
}

void Detector::ModelLoop() {
  while (!Stopping()) {
    std::string current;
    {
      absl::MutexLock lock(&mu_);
      current = model_signature_;
    }
    if (ModelSignature() != current) {
      if (absl::Status st = TryLoadModel(); !st.ok()) {
        FEDLOG_LOG(WARNING) << "detect: " << st.message();
      }
    }
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_flag_.load(); };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Milliseconds(options_.poll_interval_ms));
  }
}

void Detector::TailLoop() {
  // Stops mid-file on Stop(): lines not handed over are not committed, so the next start reads
  // them.
  const EmitFn emit = [this](RawLine&& line) {
    return !Stopping() && queue_.Push(std::move(line));
  };
  while (!Stopping()) {
    if (!tailer_->Poll(emit)) break;
    metrics_->files_followed = tailer_->followed_files();
    metrics_->truncations = tailer_->counters().truncations;
    absl::SleepFor(absl::Milliseconds(options_.poll_interval_ms));
  }
}

bool Detector::Stopping() const { return stop_flag_.load(); }

void Detector::Stop() {
  absl::MutexLock lock(&mu_);  // wakes ModelLoop's wait
  stop_flag_ = true;
}

std::vector<std::string> Detector::Notes() const {
  std::vector<std::string> notes;
  for (const SourceOptions& s : options_.sources) {
    for (const std::string& pattern : s.paths) {
      if (pattern == "-") continue;
      glob_t g{};
      const bool matched = glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0;
      globfree(&g);
      if (!matched) notes.push_back(absl::StrCat("source ", s.name, ": '", pattern, "' matches no file yet"));
    }
  }
  absl::MutexLock lock(&mu_);
  notes.insert(notes.end(), choice_notes_.begin(), choice_notes_.end());
  if (!federation_note_.empty()) notes.push_back(absl::StrCat("federation: ", federation_note_));
  return notes;
}

void Detector::SetFederationNote(const std::string& note) {
  absl::MutexLock lock(&mu_);
  federation_note_ = note;
}

std::string Detector::Health() const {
  if (!running_.load()) return "scoring thread not running";
  if (metrics_->model_version.load() == 0) {
    absl::MutexLock lock(&mu_);
    return absl::StrCat("no model: ", model_status_);
  }
  return "";
}

void Detector::PublishChoices() {
  if (pipeline_->choices_version() == choices_published_) return;
  choices_published_ = pipeline_->choices_version();
  std::vector<std::string> notes;
  if (pipeline_->model() != nullptr) {
    for (size_t s = 0; s < options_.sources.size(); ++s) {
      notes.push_back(absl::StrCat("source ", options_.sources[s].name, ": scored by ",
                                   pipeline_->choice(static_cast<int>(s)).reason));
    }
  }
  absl::MutexLock lock(&mu_);
  choice_notes_ = std::move(notes);
}

absl::Status Detector::ProcessBatch(std::vector<RawLine>& batch) {
  BatchRecord rec;
  std::map<std::tuple<int, uint64_t, uint64_t>, size_t> offset_index;
  std::map<std::pair<int, int32_t>, int64_t> counts;
  const int64_t now_ms = NowMs();
  SyncLabelFreeLabels(now_ms);
  pipeline_->ReleaseHeldAfter(now_ms, options_.hold_ms);
  FEDLOG_RETURN_IF_ERROR(HandleHeldAlerts(now_ms, &rec));
  LineResult r;
  for (RawLine& raw : batch) {
    const int64_t t0 = SteadyNs();
    pipeline_->Process(raw.source, raw.text, &r);
    const int64_t t1 = SteadyNs();
    metrics_->score_latency.Observe(static_cast<double>(t1 - t0) * 1e-9);
    SourceCounters& sc = *metrics_->sources[raw.source];
    sc.lines.fetch_add(1);
    if (!r.header_matched) sc.parse_failures.fetch_add(1);
    if (r.new_template) sc.new_templates.fetch_add(1);
    const std::string& source = options_.sources[raw.source].name;
    if (r.score < 0) {
      metrics_->unscored_lines.fetch_add(1);
    } else if (options_.retention_scores > 0) {
      rec.scores.push_back({now_ms, source, r.template_id, r.score, pipeline_->model_version()});
    }
    if (r.kind_withheld) metrics_->kind_verdicts_withheld_lines.fetch_add(1);
    metrics_->kind_verdicts_withheld_sessions.store(pipeline_->kind_withheld_sessions());
    if (r.label_silenced) {  // the labels answered for the line (LiveFewShot)
      (DeclaredNormal(raw.source, r.template_id) ? metrics_->alerts_suppressed_normal
                                                 : metrics_->alerts_suppressed_label)
          .fetch_add(1);
    }
    if (r.alert && DeclaredNormal(raw.source, r.template_id)) {
      r.alert = false;
      metrics_->alerts_suppressed_normal.fetch_add(1);
    }
    if (r.alert) FEDLOG_RETURN_IF_ERROR(HandleAlert(raw, r, now_ms, &rec));
    pipeline_->TakeSessionAlerts(&session_alerts_);
    for (const LabelFreeScorer::SessionAlert& sa : session_alerts_) {
      // A session that is rare only for a template the operator declared normal is not reported
      // (LabelFreeScorer::HiddenByNormalTemplate says which are, whatever the operator declared).
      if (LabelFreeScorer::HiddenByNormalTemplate(sa, DeclaredNormal(sa.source, sa.score.rarest_template))) {
        metrics_->alerts_suppressed_normal.fetch_add(1);
        continue;
      }
      FEDLOG_RETURN_IF_ERROR(HandleSessionAlert(raw, sa, now_ms, &rec));
    }
    FEDLOG_RETURN_IF_ERROR(HandleHeldAlerts(now_ms, &rec));
    ++counts[{raw.source, r.template_id}];
    std::vector<std::string>& ctx = context_[raw.source];
    if (options_.context_lines > 0) {
      if (static_cast<int>(ctx.size()) >= options_.context_lines) ctx.erase(ctx.begin());
      ctx.push_back(raw.text);
    }
    if (raw.file != "-") {
      auto [it, added] =
          offset_index.try_emplace({raw.source, raw.dev, raw.ino}, rec.offsets.size());
      if (added) rec.offsets.push_back({source, raw.dev, raw.ino, raw.file, 0});
      rec.offsets[it->second].offset = raw.end_offset;
      rec.offsets[it->second].path = raw.file;
    }
    metrics_->end_to_end.Observe(static_cast<double>(SteadyNs() - raw.read_ns) * 1e-9);
    if (options_.on_scored) {
      options_.on_scored({source, raw.file, raw.end_offset, raw.text, r.template_id, r.score,
                          r.alert, pipeline_->model_version()});
    }
  }
  for (const auto& [key, n] : counts) {
    rec.counts.push_back({options_.sources[key.first].name, key.second, n});
  }
  lines_processed_.fetch_add(static_cast<int64_t>(batch.size()));
  PublishChoices();
  absl::Status st = store_->Commit(rec);
  if (!st.ok()) metrics_->store_errors.fetch_add(1);
  return st;
}

void Detector::Housekeeping(bool final) {
  const int64_t now = NowMs();
  if (!final && now - last_housekeeping_ms_ < 1000) return;
  const double secs = last_housekeeping_ms_ > 0 ? (now - last_housekeeping_ms_) / 1000.0 : 0;
  const int64_t lines = lines_processed_.load();
  if (secs > 0)
    metrics_->lines_per_second = static_cast<double>(lines - lines_at_last_rate_) / secs;
  lines_at_last_rate_ = lines;
  last_housekeeping_ms_ = now;
  metrics_->queue_depth = static_cast<int64_t>(queue_.size());
  metrics_->queue_delayed_pushes = queue_.delayed_pushes();
  metrics_->queue_delayed_seconds = queue_.delayed_seconds();
  if (final || now - last_retention_ms_ >= 10000) {
    last_retention_ms_ = now;
    if (!store_->ApplyRetention(options_.retention_scores, options_.retention_alerts).ok()) {
      metrics_->store_errors.fetch_add(1);
    }
  }
  if (final || now - last_drain_save_ms_ >= 30000) {
    last_drain_save_ms_ = now;
    for (size_t s = 0; s < options_.sources.size(); ++s) {
      if (!store_
               ->SaveDrainState(options_.sources[s].name,
                                pipeline_->SerializeDrain(static_cast<int>(s)))
               .ok()) {
        metrics_->store_errors.fetch_add(1);
      }
    }
  }
}

absl::Status Detector::Run() {
  running_ = true;
  model_thread_ = std::thread([this] { ModelLoop(); });
  std::atomic<int> readers_left{1};
  readers_.emplace_back([this, &readers_left] {
    TailLoop();
    readers_left.fetch_sub(1);
  });
  for (size_t s = 0; s < options_.sources.size(); ++s) {
    for (const std::string& p : options_.sources[s].paths) {
      if (p != "-") continue;
      readers_left.fetch_add(1);
      readers_.emplace_back([this, s, &readers_left] {
        ReadStdin(static_cast<int>(s), stop_flag_,
                  [this](RawLine&& l) { return queue_.Push(std::move(l)); });
        readers_left.fetch_sub(1);
      });
    }
  }
  absl::Status result;
  std::vector<RawLine> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (pending_model_) {
        metrics_->model_version = pending_model_->version;
        metrics_->model_personalised = pending_model_->personalised ? 1 : 0;
        pipeline_->SetModel(std::move(pending_model_));
        choices_published_ = -1;
      }
      if (pending_normal_) {
        normal_templates_ = std::move(*pending_normal_);
        pending_normal_.reset();
      }
    }
    PublishChoices();
    queue_.PopBatch(static_cast<size_t>(options_.batch_max), absl::Milliseconds(50), &batch);
    if (!batch.empty()) {
      result = ProcessBatch(batch);
      if (!result.ok()) break;
    }
    Housekeeping(false);
    if (Stopping() && readers_left.load() == 0 && queue_.size() == 0) break;
  }
  Stop();
  queue_.Close();
  for (std::thread& t : readers_) t.join();
  readers_.clear();
  if (model_thread_.joinable()) model_thread_.join();
  Housekeeping(true);
  sink_->Stop();
  running_ = false;
  return result;
}

}  // namespace fedlog::client::detect
