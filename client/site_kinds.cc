#include "client/site_kinds.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/kinds/kind_tally.h"
#include "common/logparse/line_parser.h"
#include "common/novelty/event_builder.h"

namespace fedlog::client {
namespace {

// The per-bucket cap of a site's sketch: kinds::kSiteBucketCap, and never above the lines of the configured
// file, which the site declares in Hello and the aggregator bounds each bucket by (server/coordinator_kinds.h).
// Only verdicts beyond the file's lines can reach that bound; the file's labels alone cannot.
double SiteCap(const KindLines& lines) {
  const size_t declared = lines.raw != nullptr ? lines.raw->size() : 0;
  return std::min<double>(kinds::kSiteBucketCap, static_cast<double>(std::max<size_t>(1, declared)));
}

}  // namespace

absl::StatusOr<std::optional<v1::KindCounts>> SourceKindCounts(const std::string& source, const std::string& format,
                                                               const std::vector<std::string>& raw,
                                                               const std::vector<int>& labels) {
  KindLines lines;
  lines.raw = &raw;
  lines.labels = labels;
  return SourceKindCounts(source, format, lines);
}

absl::StatusOr<std::optional<v1::KindCounts>> SourceKindCounts(const std::string& source, const std::string& format,
                                                               const KindLines& lines) {
  if (lines.labels.empty()) return std::nullopt;
  if (lines.labels.size() != lines.size()) {
    return absl::InvalidArgumentError("kind counts: labels and lines differ in number");
  }
  FEDLOG_ASSIGN_OR_RETURN(auto parser, logparse::CreateLineParser(format));
  kinds::KindTally tally;
  logparse::ParsedLine parsed;
  bool any = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines.labels[i] < 0) continue;
    parser->Parse(logparse::StripCr(lines.line(i)), &parsed);
    const std::optional<uint64_t> kind = kinds::KindSignature(parsed.content);
    if (!kind) continue;
    tally.AddUnit({*kind}, lines.labels[i] >= 1);
    any = true;
  }
  if (!any) return std::nullopt;
  return SparseKindCounts(source, tally.CappedSketch(SiteCap(lines)));
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
  KindLines lines;
  lines.raw = &raw;
  lines.labels = labels;
  return SessionKindCounts(source, format, lines, session_pattern);
}

absl::StatusOr<std::optional<v1::KindCounts>> SessionKindCounts(const std::string& source, const std::string& format,
                                                                const KindLines& lines,
                                                                const std::string& session_pattern) {
  if (lines.labels.empty()) return std::nullopt;
  if (lines.labels.size() != lines.size()) {
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
  for (size_t i = 0; i < lines.size(); ++i) {
    const int label = lines.labels[i];
    parser->Parse(logparse::StripCr(lines.line(i)), &parsed);
    const std::optional<uint64_t> kind = kinds::KindSignature(parsed.content);
    uint64_t key = 0;
    if (!keys->SessionOf(parsed.content, &key)) {  // a line unit, as SourceKindCounts counts it
      if (label < 0 || !kind) continue;
      tally.AddUnit({*kind}, label >= 1);
      any = true;
      continue;
    }
    Unit& u = sessions[key];
    if (kind) u.kinds.push_back(*kind);
    if (label >= 0) u.label = std::max(u.label, label >= 1 ? 1 : 0);
  }
  for (const auto& [key, u] : sessions) {
    if (u.label < 0 || u.kinds.empty()) continue;
    tally.AddUnit(u.kinds, u.label == 1);
    any = true;
  }
  if (!any) return std::nullopt;
  return SparseKindCounts(source, tally.CappedSketch(SiteCap(lines)));
}

KindLines MergeOperatorVerdicts(const std::vector<std::string>& raw, const std::vector<int>& labels,
                                const std::vector<OperatorVerdict>& verdicts, bool session_keyed,
                                VerdictMerge* stats) {
  VerdictMerge local;
  VerdictMerge& st = stats != nullptr ? *stats : local;
  st = VerdictMerge();
  KindLines out;
  out.raw = &raw;
  out.labels = labels;
  // The newest verdict per line text (verdicts come oldest first), in the order each text was first judged.
  absl::flat_hash_map<std::string_view, size_t> newest;
  std::vector<std::string_view> order;
  for (size_t v = 0; v < verdicts.size(); ++v) {
    if (verdicts[v].label < 0 || (verdicts[v].session && !session_keyed)) {
      ++st.skipped;
      continue;
    }
    const std::string_view text = logparse::StripCr(verdicts[v].line);
    auto [it, fresh] = newest.try_emplace(text, v);
    if (fresh) {
      order.push_back(text);
    } else {
      it->second = v;
      ++st.duplicates;
    }
  }
  if (newest.empty()) return out;
  // A verdict on a line the labels file labels replaces that label (every file-labelled line of the text).
  absl::flat_hash_set<std::string_view> in_file;  // verdict texts found among the file's labelled lines
  for (size_t i = 0; i < labels.size() && i < raw.size(); ++i) {
    if (labels[i] < 0) continue;
    auto it = newest.find(logparse::StripCr(raw[i]));
    if (it == newest.end()) continue;
    out.labels[i] = verdicts[it->second].label >= 1 ? 1 : 0;
    in_file.insert(it->first);
  }
  if (out.labels.empty()) out.labels.assign(raw.size(), -1);
  for (std::string_view text : order) {
    if (in_file.contains(text)) {
      ++st.replaced;
      continue;
    }
    out.more.emplace_back(text);
    out.labels.push_back(verdicts[newest.at(text)].label >= 1 ? 1 : 0);
    ++st.added;
  }
  return out;
}

absl::StatusOr<KindCoverage> SourceKindCoverage(const std::string& format, const std::vector<std::string>& raw,
                                                const v1::KindCounts& counts,
                                                const kinds::KindVerdictOptions& options) {
  FEDLOG_ASSIGN_OR_RETURN(auto parser, logparse::CreateLineParser(format));
  FEDLOG_ASSIGN_OR_RETURN(
      kinds::KindSketch sketch,
      kinds::KindSketch::FromSparse(std::vector<uint32_t>(counts.bucket().begin(), counts.bucket().end()),
                                    std::vector<double>(counts.count().begin(), counts.count().end())));
  absl::flat_hash_set<uint64_t> seen;
  KindCoverage out;
  logparse::ParsedLine parsed;
  for (const std::string& line : raw) {
    parser->Parse(logparse::StripCr(line), &parsed);
    const std::optional<uint64_t> kind = kinds::KindSignature(parsed.content);
    if (!kind || !seen.insert(*kind).second) continue;
    ++out.kinds;
    const kinds::KindVerdict v = sketch.VerdictOf(*kind, options);
    out.anomalous += v == kinds::KindVerdict::kAnomalous ? 1 : 0;
    out.normal += v == kinds::KindVerdict::kNormal ? 1 : 0;
  }
  return out;
}

bool UploadsKindCounts(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy) {
  if (task.secure_aggregation() || !task.dp_mode().empty()) return false;
  return !policy.has_upload_prototypes() || policy.upload_prototypes();
}

}  // namespace fedlog::client
