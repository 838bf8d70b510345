#include "client/detect/detector.h"

#include <glob.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/detect/label_verdicts.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/labels/csv.h"
#include "common/logparse/line_reader.h"
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
                                      o.session_lookup_match, o.session_kind_rule));
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

// CSV with columns source,label,line: the site's own labeled lines, featurized in file order per
// source (as a stream), stored once (origin "labels_file:<row>").
absl::Status Detector::ImportLabelsFile() {
  if (options_.labels_file.empty()) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(options_.labels_file));
  FEDLOG_ASSIGN_OR_RETURN(labels::CsvTable csv, labels::ParseCsv(text));
  FEDLOG_ASSIGN_OR_RETURN(size_t src_col, csv.Column("source"));
  FEDLOG_ASSIGN_OR_RETURN(size_t label_col, csv.Column("label"));
  FEDLOG_ASSIGN_OR_RETURN(size_t line_col, csv.Column("line"));
  FEDLOG_ASSIGN_OR_RETURN(auto fresh, LinePipeline::Create(options_.sources));
  for (const labels::CsvRow& row : csv.rows) {
    int source = -1;
    for (size_t i = 0; i < options_.sources.size(); ++i) {
      if (options_.sources[i].name == row.fields[src_col]) source = static_cast<int>(i);
    }
    int label = 0;
    if (source < 0 || !absl::SimpleAtoi(row.fields[label_col], &label)) {
      return absl::InvalidArgumentError(
          absl::StrCat(options_.labels_file, ":", row.line, ": unknown source or bad label"));
    }
    LineResult r;
    fresh->Process(source, row.fields[line_col], &r);
    FEDLOG_RETURN_IF_ERROR(store_->AddLabel(
        {row.fields[src_col], row.fields[line_col], label > 0 ? 1 : 0, fresh->last_tokens(),
         fresh->last_dense(), absl::StrCat("labels_file:", row.line)},
        NowMs()));
  }
  return absl::OkStatus();
}

int Detector::SourceIndex(const std::string& name) const {
  for (size_t i = 0; i < options_.sources.size(); ++i) {
    if (options_.sources[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// The labeled lines of each labeled log, featurized as a stream (its lines in order, as training
// sees them); stored once per line (origin "labels:<path>:<line>", replaced on the next start).
absl::Status Detector::ImportLabeledLogs() {
  for (const LabeledLog& log : options_.labeled_logs) {
    const int source = SourceIndex(log.source);
    if (source < 0 || log.labels.empty()) continue;
    FEDLOG_ASSIGN_OR_RETURN(std::string text, logparse::ReadLogFile(log.path));
    const std::vector<std::string_view> lines = logparse::SplitLines(text);
    FEDLOG_ASSIGN_OR_RETURN(auto fresh, LinePipeline::Create(options_.sources));
    const int64_t last =
        std::min<int64_t>(log.labels.rbegin()->first, static_cast<int64_t>(lines.size()));
    LineResult r;
    int64_t imported = 0;
    for (int64_t k = 1; k <= last; ++k) {
      fresh->Process(source, lines[static_cast<size_t>(k - 1)], &r);
      auto it = log.labels.find(k);
      if (it == log.labels.end()) continue;
      FEDLOG_RETURN_IF_ERROR(store_->AddLabel(
          {log.source, std::string(lines[static_cast<size_t>(k - 1)]), it->second > 0 ? 1 : 0,
           fresh->last_tokens(), fresh->last_dense(), absl::StrCat("labels:", log.path, ":", k)},
          NowMs()));
      ++imported;
    }
    FEDLOG_LOG(INFO) << "detect: " << imported << " labeled line(s) of " << log.path
                     << " as support for " << log.source;
  }
  return absl::OkStatus();
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

bool Detector::DeclaredNormal(int source, int32_t template_id) {
  if (normal_templates_.empty() || template_id < 0) return false;
  return normal_templates_.Covers(options_.sources[source].name,
                                  pipeline_->TemplateText(source, template_id));
}

bool Detector::Admit(const std::string& source, int32_t template_id, int64_t now_ms) {
  switch (limiter_.Check(source, template_id, now_ms)) {
    case AlertLimiter::Verdict::kDuplicate:
      metrics_->alerts_suppressed_dedup.fetch_add(1);
      return false;
    case AlertLimiter::Verdict::kRateLimited:
      metrics_->alerts_suppressed_rate.fetch_add(1);
      return false;
    case AlertLimiter::Verdict::kAllow:
      break;
  }
  return true;
}

absl::Status Detector::HandleAlert(const RawLine& raw, const LineResult& r, int64_t now_ms,
                                   BatchRecord* rec) {
  const std::string& source = options_.sources[raw.source].name;
  if (!Admit(source, r.template_id, now_ms)) return absl::OkStatus();
  Alert a;
  a.id = AlertId(source, raw.dev, raw.ino, raw.end_offset, raw.file == "-" ? start_ms_ : 0);
  a.time_ms = r.time_ms != logparse::kNoTime ? r.time_ms : now_ms;
  a.source = source;
  a.file = raw.file;
  a.offset = raw.end_offset;
  a.line = raw.text;
  a.template_id = r.template_id;
  a.template_text = pipeline_->TemplateText(raw.source, r.template_id);
  a.parameters = pipeline_->LastParameters(raw.source, r.template_id);
  a.score = r.score;
  a.threshold = r.threshold;
  a.model_version = pipeline_->model_version();
  a.context = context_[raw.source];
  a.detector = r.model_scored ? "model" : "label-free";
  a.signals = novelty::FiredNames(r.signals);
  if (r.label_match == 1) a.signals = a.signals.empty() ? "label" : a.signals + "+label";
  if (r.label_lowered) a.signals = a.signals.empty() ? "label-threshold" : a.signals + "+label-threshold";
  if (r.kind_verdict == 1) a.signals = a.signals.empty() ? "kind" : a.signals + "+kind";
  const std::string json = AlertToJson(a);
  FEDLOG_RETURN_IF_ERROR(sink_->Write(json));
  metrics_->sources[raw.source]->alerts.fetch_add(1);
  rec->alerts.push_back({a.id, a.time_ms, source, raw.text, r.template_id, r.score, r.threshold,
                         a.model_version, pipeline_->last_tokens(), pipeline_->last_dense(), json});
  return absl::OkStatus();
}

// A session the label-free detector scored above its threshold when it went quiet (or was pushed
// out): one alert naming the session's last line, its score and the session signals that fired.
// `now_ms` is the alert's time when the session's ticks are line numbers.
absl::Status Detector::HandleSessionAlert(const RawLine& raw, const LabelFreeScorer::SessionAlert& sa,
                                          int64_t now_ms, BatchRecord* rec) {
  // Not through the per-template limiter: a session closes once, so its alert cannot repeat, and the
  // session threshold keeps them to the budget's share of sessions.
  const std::string& source = options_.sources[static_cast<size_t>(sa.source)].name;
  Alert a;
  a.id = AlertId(source, 0, sa.score.session, sa.score.last_tick, 1);
  a.time_ms = sa.timed ? sa.score.last_tick : now_ms;
  a.source = source;
  a.file = raw.source == sa.source ? raw.file : "";
  a.line = sa.last_line;
  a.template_id = kSessionAlertTemplate;
  a.template_text = absl::StrFormat("session of %lld lines, %d count relations broken",
                                    static_cast<long long>(sa.score.lines), sa.score.violated);
  a.score = static_cast<float>(sa.score.score);
  a.threshold = static_cast<float>(std::min(sa.score.threshold, 1e30));
  a.model_version = pipeline_->model_version();
  a.signals = "session:" + novelty::SessionFiredNames(sa.score.fired);
  if (sa.kind_verdict != 0) a.signals += a.signals.back() == ':' ? "kind" : "+kind";
  a.detector = "label-free";
  const std::string json = AlertToJson(a);
  FEDLOG_RETURN_IF_ERROR(sink_->Write(json));
  metrics_->sources[static_cast<size_t>(sa.source)]->alerts.fetch_add(1);
  rec->alerts.push_back({a.id, a.time_ms, source, a.line, a.template_id, a.score, a.threshold,
                         a.model_version, {}, {}, json});
  return absl::OkStatus();
}

// A line the label-free warm-up held (detect.label_free_hold_lines) that alerted when the hold ended:
// the same alert as a live line's, late by at most the hold, without file offset or context (the
// line was read before). Through the per-template limiter and the operator's normal templates.
absl::Status Detector::HandleHeldAlert(const LabelFreeScorer::HeldAlert& h, int64_t now_ms,
                                       BatchRecord* rec) {
  if (DeclaredNormal(h.source, h.template_id)) {
    metrics_->alerts_suppressed_normal.fetch_add(1);
    return absl::OkStatus();
  }
  const std::string& source = options_.sources[static_cast<size_t>(h.source)].name;
  if (!Admit(source, h.template_id, now_ms)) return absl::OkStatus();
  Alert a;
  a.id = AlertId(source, 0, static_cast<uint64_t>(h.verdict.line_index), 0, 2 + start_ms_);
  a.time_ms = h.time_ms >= 0 ? h.time_ms : now_ms;
  a.source = source;
  a.line = h.line;
  a.template_id = h.template_id;
  a.template_text = pipeline_->TemplateText(h.source, h.template_id);
  a.score = static_cast<float>(h.verdict.score);
  a.threshold = static_cast<float>(std::min(h.verdict.threshold, 1e30));
  a.model_version = pipeline_->model_version();
  const std::string fired = novelty::FiredNames(h.fired);
  a.signals = fired.empty() ? "held" : fired + "+held";
  a.detector = "label-free";
  const std::string json = AlertToJson(a);
  FEDLOG_RETURN_IF_ERROR(sink_->Write(json));
  metrics_->sources[static_cast<size_t>(h.source)]->alerts.fetch_add(1);
  rec->alerts.push_back({a.id, a.time_ms, source, a.line, a.template_id, a.score, a.threshold,
                         a.model_version, {}, {}, json});
  return absl::OkStatus();
}

absl::Status Detector::HandleHeldAlerts(int64_t now_ms, BatchRecord* rec) {
  held_alerts_.clear();
  pipeline_->TakeHeldAlerts(&held_alerts_);
  for (const LabelFreeScorer::HeldAlert& h : held_alerts_) {
    FEDLOG_RETURN_IF_ERROR(HandleHeldAlert(h, now_ms, rec));
  }
  return absl::OkStatus();
}

// The label-free threshold and the few-shot support (LiveFewShot) follow the site's labels (feedback
// verdicts, `fedlog label`, the labels file): when the store's label version changed, its labels are
// given again. Checked at most once per poll interval, on the scoring thread.
void Detector::SyncLabelFreeLabels(int64_t now_ms) {
  if (!pipeline_->label_free() || now_ms - last_label_sync_ms_ < options_.poll_interval_ms) return;
  last_label_sync_ms_ = now_ms;
  absl::StatusOr<int64_t> version = store_->LabelsVersion();
  if (!version.ok() || *version == label_free_labels_version_) return;
  absl::StatusOr<std::vector<LabeledLine>> labels = store_->LoadLabels("");
  if (!labels.ok()) return;  // retried at the next check
  std::vector<std::tuple<int, std::string, int>> given, sessions;
  for (const LabeledLine& l : *labels) {
    const int source = SourceIndex(l.source);
    if (source >= 0) (IsSessionVerdict(l) ? sessions : given).emplace_back(source, l.line, l.label);
  }
  pipeline_->SetLabelFreeLabels(given, sessions);
  label_free_labels_version_ = *version;
  FEDLOG_LOG(INFO) << "detect: label-free threshold and few-shot labels use " << given.size()
                   << " labelled line(s), the sessions " << sessions.size() << " session verdict(s)";
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
      // A session that is rare only for a template the operator declared normal is not reported;
      // one that broke a near-certain count relation still is, and so is one the federation's kind
      // verdict raised (its rarest template is not why it alerts).
      if (!sa.score.broken && sa.kind_verdict != 1 && DeclaredNormal(sa.source, sa.score.rarest_template)) {
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
