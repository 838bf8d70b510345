#include "client/site_kinds.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/kinds/kind_tally.h"
#include "common/logparse/line_parser.h"
#include "common/novelty/event_builder.h"

namespace fedlog::client {

absl::StatusOr<std::optional<v1::KindCounts>> SourceKindCounts(const std::string& source, const std::string& format,
                                                               const std::vector<std::string>& raw,
                                                               const std::vector<int>& labels) {
  if (labels.empty()) return std::nullopt;
  if (labels.size() != raw.size()) {
    return absl::InvalidArgumentError("kind counts: labels and lines differ in number");
  }
  FEDLOG_ASSIGN_OR_RETURN(auto parser, logparse::CreateLineParser(format));
  kinds::KindTally tally;
  logparse::ParsedLine parsed;
  bool any = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (labels[i] < 0) continue;
    parser->Parse(logparse::StripCr(raw[i]), &parsed);
    const std::optional<uint64_t> kind = kinds::KindSignature(parsed.content);
    if (!kind) continue;
    tally.AddUnit({*kind}, labels[i] >= 1);
    any = true;
  }
  if (!any) return std::nullopt;
  return SparseKindCounts(source, tally.CappedSketch(kinds::kSiteBucketCap));
}

v1::KindCounts SparseKindCounts(const std::string& source, const kinds::KindSketch& sketch) {
  v1::KindCounts out;
  out.set_source(source);
  std::vector<uint32_t> buckets;
  std::vector<double> counts;
  sketch.NonZero(&buckets, &counts);
  out.mutable_bucket()->Add(buckets.begin(), buckets.end());
  out.mutable_count()->Add(counts.begin(), counts.end());
  return out;
}

absl::StatusOr<std::optional<v1::KindCounts>> SessionKindCounts(const std::string& source, const std::string& format,
                                                                const std::vector<std::string>& raw,
                                                                const std::vector<int>& labels,
                                                                const std::string& session_pattern) {
  if (labels.empty()) return std::nullopt;
  if (labels.size() != raw.size()) {
    return absl::InvalidArgumentError("kind counts: labels and lines differ in number");
  }
  FEDLOG_ASSIGN_OR_RETURN(auto parser, logparse::CreateLineParser(format));
  novelty::EventOptions eo;
  eo.session_pattern = session_pattern;
  FEDLOG_ASSIGN_OR_RETURN(auto keys, novelty::EventBuilder::Create(eo, parser->field_names()));
  struct Unit {
    std::vector<uint64_t> kinds;  // duplicates kept (AddUnit counts each kind once)
    int label = -1;               // the highest label of its labelled lines; -1: none labelled
  };
  absl::flat_hash_map<uint64_t, Unit> sessions;  // by session key (the sketch is a sum: order is immaterial)
  kinds::KindTally tally;  // capped per kind and per bucket, as SourceKindCounts sends
  logparse::ParsedLine parsed;
  bool any = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    parser->Parse(logparse::StripCr(raw[i]), &parsed);
    const std::optional<uint64_t> kind = kinds::KindSignature(parsed.content);
    uint64_t key = 0;
    if (!keys->SessionOf(parsed.content, &key)) {  // a line unit, as SourceKindCounts counts it
      if (labels[i] < 0 || !kind) continue;
      tally.AddUnit({*kind}, labels[i] >= 1);
      any = true;
      continue;
    }
    Unit& u = sessions[key];
    if (kind) u.kinds.push_back(*kind);
    if (labels[i] >= 0) u.label = std::max(u.label, labels[i] >= 1 ? 1 : 0);
  }
  for (const auto& [key, u] : sessions) {
    if (u.label < 0 || u.kinds.empty()) continue;
    tally.AddUnit(u.kinds, u.label == 1);
    any = true;
  }
  if (!any) return std::nullopt;
  return SparseKindCounts(source, tally.CappedSketch(kinds::kSiteBucketCap));
}

bool UploadsKindCounts(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy) {
  if (task.secure_aggregation() || !task.dp_mode().empty()) return false;
  return !policy.has_upload_prototypes() || policy.upload_prototypes();
}

}  // namespace fedlog::client
