#include "client/detect/alert_sink.h"

#include <httplib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/logging.h"

namespace fedlog::client::detect {
namespace {

constexpr size_t kMaxPending = 100000;

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when it is not one.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// A JSON string literal of `s`; bytes that are not UTF-8 become U+FFFD, so the line stays valid
// JSON.
void Quote(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else if (c < 0x80) {
          out->push_back(static_cast<char>(c));
        } else if (const size_t n = Utf8Length(s, i); n > 0) {
          out->append(s.substr(i, n));
          i += n - 1;
        } else {
          out->append("\\ufffd");
        }
    }
  }
  out->push_back('"');
}

void QuoteList(const std::vector<std::string>& items, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    Quote(items[i], out);
  }
  out->push_back(']');
}

constexpr char kRaisedKey[] = ",\"raised\":";

std::string Rfc3339Millis(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

}  // namespace

std::string AlertToJson(const Alert& a) {
  std::string out = "{\"id\":";
  Quote(a.id, &out);
  out += ",\"time\":";
  Quote(Rfc3339Millis(a.time_ms), &out);
  if (a.raised_ms > 0) {
    out += kRaisedKey;
    Quote(Rfc3339Millis(a.raised_ms), &out);
  }
  out += ",\"source\":";
  Quote(a.source, &out);
  out += ",\"file\":";
  Quote(a.file, &out);
  absl::StrAppend(&out, ",\"offset\":", a.offset, ",\"line\":");
  Quote(a.line, &out);
  absl::StrAppend(&out, ",\"template_id\":", a.template_id, ",\"template\":");
  Quote(a.template_text, &out);
  out += ",\"parameters\":";
  QuoteList(a.parameters, &out);
  absl::StrAppendFormat(
      &out, ",\"score\":%.6g,\"threshold\":%.6g,\"model_version\":%d,\"context\":", a.score,
      a.threshold, a.model_version);
  QuoteList(a.context, &out);
  if (!a.signals.empty()) {
    out += ",\"signals\":";
    Quote(a.signals, &out);
  }
  if (!a.detector.empty()) {
    out += ",\"detector\":";
    Quote(a.detector, &out);
  }
  out += "}";
  return out;
}

std::string StampRaised(const std::string& json, int64_t now_ms) {
  if (json.size() <= 2 || json.back() != '}' || absl::StrContains(json, kRaisedKey)) return json;
  std::string out = json.substr(0, json.size() - 1);
  out += kRaisedKey;
  Quote(Rfc3339Millis(now_ms), &out);
  out += "}";
  return out;
}

std::string AlertId(const std::string& source, uint64_t dev, uint64_t ino, int64_t offset,
                    int64_t salt) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  for (unsigned char c : source) mix(c);
  mix(dev);
  mix(ino);
  mix(static_cast<uint64_t>(offset));
  mix(static_cast<uint64_t>(salt));
  return absl::StrFormat("%016x", h);
}

AlertLimiter::Verdict AlertLimiter::Check(const std::string& source, int32_t template_id,
                                          int64_t now_ms) {
  State& s = state_[absl::StrCat(source, "/", template_id)];
  if (dedup_ms_ >= 0 && s.last_ms >= 0 && now_ms - s.last_ms < dedup_ms_)
    return Verdict::kDuplicate;
  const int64_t minute = now_ms / 60000;
  if (minute != s.minute) {
    s.minute = minute;
    s.in_minute = 0;
  }
  if (rate_ >= 0 && s.in_minute >= rate_) return Verdict::kRateLimited;
  ++s.in_minute;
  s.last_ms = now_ms;
  return Verdict::kAllow;
}

AlertSink::AlertSink(const DetectOptions& options, DetectMetrics* metrics, std::FILE* file)
    : options_(options), metrics_(metrics), file_(file) {}

absl::StatusOr<std::unique_ptr<AlertSink>> AlertSink::Create(const DetectOptions& options,
                                                             DetectMetrics* metrics) {
  std::FILE* f = std::fopen(options.alerts_file.c_str(), "ae");
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open alerts file ", options.alerts_file, ": ", std::strerror(errno)));
  }
  std::unique_ptr<AlertSink> sink(new AlertSink(options, metrics, f));
  if (!options.webhook_url.empty()) {
    std::string rest = options.webhook_url.substr(std::strlen("http://"));
    const size_t slash = rest.find('/');
    sink->path_ = slash == std::string::npos ? "/" : rest.substr(slash);
    std::string hostport = rest.substr(0, slash);
    const size_t colon = hostport.rfind(':');
    sink->host_ = hostport.substr(0, colon);
    if (colon != std::string::npos && !absl::SimpleAtoi(hostport.substr(colon + 1), &sink->port_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad port in webhook_url ", options.webhook_url));
    }
    if (sink->host_.empty()) return absl::InvalidArgumentError("webhook_url has no host");
    AlertSink* raw = sink.get();
    sink->webhook_ = std::thread([raw] { raw->WebhookLoop(); });
  }
  return sink;
}

AlertSink::~AlertSink() {
  Stop();
  std::fclose(file_);
}

absl::Status AlertSink::Write(const std::string& unstamped) {
  const std::string json = StampRaised(unstamped, absl::ToUnixMillis(absl::Now()));
  if (std::fwrite(json.data(), 1, json.size(), file_) != json.size() ||
      std::fputc('\n', file_) == EOF || std::fflush(file_) != 0) {
    return absl::DataLossError(
        absl::StrCat("writing ", options_.alerts_file, ": ", std::strerror(errno)));
  }
  if (options_.alerts_stdout) {
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  if (!options_.webhook_url.empty()) {
    absl::MutexLock lock(&mu_);
    if (pending_.size() >= kMaxPending) {
      pending_.pop_front();
      metrics_->webhook_failed.fetch_add(1);
    }
    pending_.push_back(json);
  }
  return absl::OkStatus();
}

size_t AlertSink::webhook_pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

void AlertSink::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (webhook_.joinable()) webhook_.join();
}

bool AlertSink::Post(const std::string& body) {
  httplib::Client client(host_, port_);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  client.set_write_timeout(5, 0);
  auto res = client.Post(path_.c_str(), body, "application/json");
  return res && res->status >= 200 && res->status < 300;
}

void AlertSink::WebhookLoop() {
  int attempts = 0;
  int64_t backoff_ms = options_.webhook_backoff_initial_ms;
  for (;;) {
    std::string body;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !pending_.empty(); };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
      if (stop_) return;
      if (pending_.empty()) continue;
      body = pending_.front();
    }
    if (Post(body)) {
      metrics_->webhook_sent.fetch_add(1);
      attempts = 0;
      backoff_ms = options_.webhook_backoff_initial_ms;
      absl::MutexLock lock(&mu_);
      pending_.pop_front();
      continue;
    }
    if (++attempts >= options_.webhook_max_attempts) {
      FEDLOG_LOG(WARNING) << "detect: webhook gave up on an alert after " << attempts
                          << " attempts";
      metrics_->webhook_failed.fetch_add(1);
      attempts = 0;
      backoff_ms = options_.webhook_backoff_initial_ms;
      absl::MutexLock lock(&mu_);
      pending_.pop_front();
      continue;
    }
    metrics_->webhook_retries.fetch_add(1);
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Milliseconds(backoff_ms))) return;
    backoff_ms = std::min<int64_t>(backoff_ms * 2, options_.webhook_backoff_max_ms);
  }
}

}  // namespace fedlog::client::detect
