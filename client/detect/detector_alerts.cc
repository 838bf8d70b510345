// Detector's alert path (client/detect/detector.h): the per-template admission (declared-normal templates,
// the per-source rate limit) and the alert records of lines, label-free sessions and held lines, written to
// the store and the sink. Split from detector.cc, which keeps the threads, the model and the batch loop.
#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/detect/detector.h"
#include "common/base/status_macros.h"
#include "common/logparse/line_reader.h"

namespace fedlog::client::detect {

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

absl::Status Detector::WriteAlert(const Alert& a, size_t source, std::vector<int64_t> tokens,
                                  std::vector<float> dense, BatchRecord* rec) {
  // Stamped here, once, so the alerts file and detect.db's copy carry the same raised time.
  Alert stamped = a;
  if (stamped.raised_ms <= 0) stamped.raised_ms = absl::ToUnixMillis(absl::Now());
  const std::string json = AlertToJson(stamped);
  FEDLOG_RETURN_IF_ERROR(sink_->Write(json));
  metrics_->sources[source]->alerts.fetch_add(1);
  rec->alerts.push_back({a.id, a.time_ms, a.source, a.line, a.template_id, a.score, a.threshold, a.model_version,
                         std::move(tokens), std::move(dense), json});
  return absl::OkStatus();
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
  return WriteAlert(a, raw.source, pipeline_->last_tokens(), pipeline_->last_dense(), rec);
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
  // Whole-unit decisions (detect.session_whole_unit): a late alert on the key as a whole, or the
  // withdrawal of its earlier alert, written like an alert so that the operator sees it (a withdrawn
  // alert was still raised). Its own id: the session's alert at this close, if any, is another.
  if (sa.whole_unit == LabelFreeScorer::kWholeLateAlert) {
    a.signals += a.signals.back() == ':' ? "whole-unit" : "+whole-unit";
    a.template_text += "; late: the whole unit alerts";
  } else if (sa.whole_unit == LabelFreeScorer::kWholeWithdrawn) {
    a.id = AlertId(source, 0, sa.score.session, sa.score.last_tick, 3);
    a.signals = "session:resolved";
    a.template_text = absl::StrFormat("resolved: the whole unit matches a normal verdict (session of %lld lines)",
                                      static_cast<long long>(sa.score.lines));
  } else if (sa.whole_unit == LabelFreeScorer::kUnionWithdrawn) {
    // Union scoring (detect.session_union_score): the key's pieces together score below the threshold.
    a.id = AlertId(source, 0, sa.score.session, sa.score.last_tick, 4);
    a.signals = "session:resolved-union";
    a.template_text = absl::StrFormat("resolved: the key's %d pieces together score below the threshold (%.2f)",
                                      sa.score.piece, sa.score.union_score);
  }
  a.detector = "label-free";
  return WriteAlert(a, static_cast<size_t>(sa.source), {}, {}, rec);
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
  return WriteAlert(a, static_cast<size_t>(h.source), {}, {}, rec);
}

absl::Status Detector::HandleHeldAlerts(int64_t now_ms, BatchRecord* rec) {
  held_alerts_.clear();
  pipeline_->TakeHeldAlerts(&held_alerts_);
  for (const LabelFreeScorer::HeldAlert& h : held_alerts_) {
    FEDLOG_RETURN_IF_ERROR(HandleHeldAlert(h, now_ms, rec));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::client::detect
