#include "common/fl/part_norms.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fl/fedavg.h"
#include "common/fl/strategy.h"

namespace fedlog::fl {
namespace {

constexpr char kSharedPart[] = "shared";

std::string HexDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%a", v);
  return buf;
}

absl::StatusOr<double> ParseSquared(const std::string& text) {
  if (text.empty()) return absl::InvalidArgumentError("part norms: empty value");
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(v) || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat("part norms: bad value '", text, "'"));
  }
  return v;
}

}  // namespace

void SquaredSum::Add(const float* values, size_t n) {
  size_t i = 0;
  // Up to the next multiple of eight values, one at a time into the lane each belongs to.
  for (; i < n && (count_ + i) % 8 != 0; ++i) {
    lane_[(count_ + i) % 8] += static_cast<double>(values[i]) * values[i];
  }
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) lane_[k] += static_cast<double>(values[i + k]) * values[i + k];
  }
  for (; i < n; ++i) lane_[(count_ + i) % 8] += static_cast<double>(values[i]) * values[i];
  count_ += n;
}

double SquaredSum::Total() const {
  return ((lane_[0] + lane_[1]) + (lane_[2] + lane_[3])) + ((lane_[4] + lane_[5]) + (lane_[6] + lane_[7]));
}

void PartNorms::Add(const std::string& name, double squared) {
  const std::string source = AdapterSource(name);
  if (source.empty()) {
    shared += squared;
  } else {
    adapters[source] += squared;
  }
}

double PartNorms::Included(const std::vector<std::string>& sources) const {
  double s = shared;
  for (const auto& [source, squared] : adapters) {
    if (std::find(sources.begin(), sources.end(), source) != sources.end()) s += squared;
  }
  return s;
}

std::string EncodePartNorms(const PartNorms& parts) {
  std::string out = absl::StrCat(kSharedPart, "=", HexDouble(parts.shared));
  for (const auto& [source, squared] : parts.adapters) absl::StrAppend(&out, ";", source, "=", HexDouble(squared));
  return out;
}

absl::StatusOr<PartNorms> DecodePartNorms(const std::string& text) {
  PartNorms parts;
  bool first = true;
  for (absl::string_view entry : absl::StrSplit(text, ';')) {
    const std::vector<std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return absl::InvalidArgumentError(absl::StrCat("part norms: bad entry '", entry, "'"));
    auto value = ParseSquared(kv[1]);
    if (!value.ok()) return value.status();
    if (first) {
      if (kv[0] != kSharedPart) return absl::InvalidArgumentError("part norms: the shared part must come first");
      parts.shared = *value;
      first = false;
      continue;
    }
    if (!IsValidSourceName(kv[0]) || !parts.adapters.emplace(kv[0], *value).second) {
      return absl::InvalidArgumentError(absl::StrCat("part norms: bad or repeated source '", kv[0], "'"));
    }
  }
  return parts;
}

absl::Status PartNormSink::BeginTensor(const std::string& name, const std::vector<int64_t>&) {
  name_ = name;
  sum_ = SquaredSum();
  return absl::OkStatus();
}

absl::Status PartNormSink::TensorValues(const float* values, size_t n) {
  sum_.Add(values, n);
  return absl::OkStatus();
}

absl::Status PartNormSink::EndTensor() {
  parts_.Add(name_, sum_.Total());
  return absl::OkStatus();
}

PartNorms PartNormsOf(const TensorBundle& bundle) {
  PartNorms parts;
  for (const NamedTensor& t : bundle.tensors) {
    SquaredSum s;
    s.Add(t.values.data(), t.values.size());
    parts.Add(t.name, s.Total());
  }
  return parts;
}

}  // namespace fedlog::fl
