#include "server/coordinator_checks.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/config/finite_numbers.h"
#include "common/fl/fedavg.h"
#include "common/fl/strategy.h"
#include "common/privacy/line_count.h"
#include "common/secagg/protocol.h"

namespace fedlog::server {
namespace {

bool Printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

absl::Status CheckText(const std::string& value, const char* field) {
  if (value.size() > kMaxHelloText || !Printable(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", kMaxHelloText, " printable ASCII characters"));
  }
  return absl::OkStatus();
}

bool ValidMetricName(const std::string& name) {
  if (name.empty() || name.size() > kMaxMetricName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

}  // namespace

absl::Status ValidateHello(const v1::HelloRequest& hello) {
  if (hello.sources_size() > kMaxHelloSources) {
    return absl::InvalidArgumentError(absl::StrCat("a site may declare at most ", kMaxHelloSources, " sources"));
  }
  std::set<std::string> names;
  for (const v1::SourceInfo& s : hello.sources()) {
    if (!fl::IsValidSourceName(s.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat("source names must be 1..", fl::kMaxSourceNameLength, " characters of [A-Za-z0-9_-]"));
    }
    if (!names.insert(s.name()).second) return absl::InvalidArgumentError("a source is declared twice");
    FEDLOG_RETURN_IF_ERROR(CheckText(s.format(), "source format"));
    if (s.lines() < 0 || s.lines() > kMaxDeclaredLines) {
      return absl::InvalidArgumentError(absl::StrCat("source lines must be in [0, ", kMaxDeclaredLines, "]"));
    }
    if (s.lines_withheld() && s.lines() != 0) {
      return absl::InvalidArgumentError("a source's lines are either withheld or declared, not both");
    }
  }
  FEDLOG_RETURN_IF_ERROR(CheckText(hello.capabilities().device(), "capabilities.device"));
  FEDLOG_RETURN_IF_ERROR(CheckText(hello.capabilities().version(), "capabilities.version"));
  if (hello.capabilities().threads() < 0 || hello.capabilities().threads() > 65536) {
    return absl::InvalidArgumentError("capabilities.threads must be in [0, 65536]");
  }
  if (hello.promoted_version() < 0) return absl::InvalidArgumentError("promoted_version must not be negative");
  return absl::OkStatus();
}

absl::Status ValidateMetrics(const google::protobuf::Map<std::string, double>& metrics) {
  if (metrics.size() > static_cast<size_t>(kMaxMetrics)) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxMetrics, " metrics"));
  }
  for (const auto& [name, value] : metrics) {
    if (!ValidMetricName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric names must be 1..", kMaxMetricName, " characters of [A-Za-z0-9._-]"));
    }
    if (!std::isfinite(value) || std::fabs(value) > kMaxMetricMagnitude) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", name, "' must be finite and at most ", kMaxMetricMagnitude, " in magnitude"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateUpdateHeader(const v1::UpdateHeader& h) {
  FEDLOG_RETURN_IF_ERROR(config::CheckFiniteNumbers(h, "update header"));
  if (h.num_samples() <= 0) return absl::InvalidArgumentError("update has no samples");
  if (h.num_samples() > fl::kMaxUpdateSamples) {
    return absl::InvalidArgumentError(absl::StrCat("num_samples must be at most ", fl::kMaxUpdateSamples));
  }
  if (!std::isfinite(h.train_loss()) || std::fabs(h.train_loss()) > kMaxTrainLoss) {
    return absl::InvalidArgumentError(
        absl::StrCat("train_loss must be finite and at most ", kMaxTrainLoss, " in magnitude"));
  }
  if (h.distinct_templates() < 0) return absl::InvalidArgumentError("distinct_templates must not be negative");
  if (h.class_sum_noise_shares() < 0 || h.class_sum_noise_shares() > secagg::kMaxSites) {
    return absl::InvalidArgumentError(
        absl::StrCat("class_sum_noise_shares must be in [0, ", secagg::kMaxSites, "] (the sites of a round)"));
  }
  if (!std::isfinite(h.imbalance_ratio()) || h.imbalance_ratio() < 0) {
    return absl::InvalidArgumentError("imbalance_ratio must be a finite non-negative number");
  }
  if (!std::isfinite(h.line_dp_epsilon()) || h.line_dp_epsilon() < 0) {
    return absl::InvalidArgumentError("line_dp_epsilon must be a finite non-negative number");
  }
  if (!(h.line_dp_count_noise() >= 0 && h.line_dp_count_noise() <= privacy::kMaxLineCountNoise)) {
    return absl::InvalidArgumentError(
        absl::StrCat("line_dp_count_noise must be in [0, ", privacy::kMaxLineCountNoise, "]"));
  }
  return ValidateMetrics(h.metrics());
}

absl::Status ValidateEvaluation(const v1::EvaluationReport& report) {
  if (report.num_samples() < 0 || report.num_samples() > kMaxDeclaredLines) {
    return absl::InvalidArgumentError(absl::StrCat("num_samples must be in [0, ", kMaxDeclaredLines, "]"));
  }
  return ValidateMetrics(report.metrics());
}

std::string PrintableText(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return out;
}

absl::Status ForSite(absl::Status status, const std::string& site_id) {
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      FEDLOG_LOG(ERROR) << "internal error serving site " << site_id << ": " << status;
      return absl::Status(status.code(), "internal error on the aggregator (logged there)");
    default:
      return status;
  }
}

std::vector<std::string> EntitledSources(const SiteRecord& site) {
  std::vector<std::string> out;
  if (!site.admitted) return out;
  for (const v1::SourceInfo& s : site.hello.sources()) {
    if (std::find(site.admitted->begin(), site.admitted->end(), s.name()) != site.admitted->end()) {
      out.push_back(s.name());
    }
  }
  return out;
}

absl::Status ValidateAdaptiveClipPlan(v1::RunPlan* plan) {
  const double m = plan->adaptive_clip_multiple();
  if (m != 0 && !(m >= 1 && m <= 1e6)) {
    return absl::InvalidArgumentError("adaptive_clip_multiple must be 0 (the default) or in [1, 1e6]");
  }
  if (plan->adaptive_clip_off() && m != 0) {
    return absl::InvalidArgumentError("adaptive clipping is off: leave adaptive_clip_multiple at 0");
  }
  if (plan->dp_mode() == "site") {
    if (m != 0) {
      return absl::InvalidArgumentError(
          "adaptive clipping is off under site-level DP (the sites clip to --dp-clip and add noise): leave "
          "--adaptive-clip out");
    }
    plan->set_adaptive_clip_off(true);
  } else if (!plan->adaptive_clip_off() && m == 0) {
    plan->set_adaptive_clip_multiple(fl::kDefaultAdaptiveClipMultiple);
  }
  return absl::OkStatus();
}

double AdaptiveClipMultiple(const v1::RunPlan& plan) {
  return plan.adaptive_clip_off() ? 0 : plan.adaptive_clip_multiple();
}

int64_t EffectiveSamples(int64_t reported, int64_t max_site_samples, int64_t declared_lines) {
  int64_t n = reported;
  if (max_site_samples > 0) n = std::min(n, max_site_samples);
  if (declared_lines > 0) n = std::min(n, declared_lines);
  return n;
}

int64_t DeclaredLines(const SiteRecord& site) {
  int64_t lines = 0;
  for (const v1::SourceInfo& s : site.hello.sources()) {
    lines += std::clamp<int64_t>(s.lines(), 0, kMaxDeclaredLines);  // <= 64 * 2^40: no overflow
  }
  return lines;
}

}  // namespace fedlog::server
