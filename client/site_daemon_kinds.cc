// SiteDaemon's message-kind counts (client/site_kinds.h): the labels files' lines and the operator's verdicts
// in data_dir/detect.db counted per source, and the log of what a fetched model's counts decide of the site's
// own kinds. Split from site_daemon.cc; the same thread rules (Run's thread).
#include <map>
#include <string>
#include <vector>

#include "client/detect/detector.h"
#include "client/site_daemon.h"
#include "client/site_kinds.h"
#include "client/site_verdicts.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/kinds/kind_sketch.h"

namespace fedlog::client {

absl::StatusOr<std::vector<v1::KindCounts>> SiteDaemon::SiteKindCounts() {
  // A source keyed into sessions (detect.session_pattern) counts its labelled sessions as units, as the live
  // detector judges them; the others count labelled lines. The operator's verdicts join the file's labels.
  const std::string& session_pattern = config_.detect().session_pattern();
  const std::map<std::string, std::vector<OperatorVerdict>> verdicts = OperatorVerdictsForKinds();
  static const std::vector<OperatorVerdict> kNone;
  std::vector<v1::KindCounts> out;
  VerdictMerge total;
  for (const SourceLines& s : sources_) {
    auto v = verdicts.find(s.name);
    VerdictMerge merged;
    const KindLines lines = MergeOperatorVerdicts(s.raw, s.labels, v != verdicts.end() ? v->second : kNone,
                                                  !session_pattern.empty(), &merged);
    total.added += merged.added;
    total.replaced += merged.replaced;
    total.duplicates += merged.duplicates;
    total.skipped += merged.skipped;
    FEDLOG_ASSIGN_OR_RETURN(std::optional<v1::KindCounts> k,
                            session_pattern.empty() ? SourceKindCounts(s.name, s.format, lines)
                                                    : SessionKindCounts(s.name, s.format, lines, session_pattern));
    if (k) out.push_back(*std::move(k));
  }
  if (total.added + total.replaced + total.duplicates + total.skipped > 0) {
    FEDLOG_LOG(INFO) << "kind counts: operator verdicts from detect.db: " << total.added << " labelled line(s) added, "
                     << total.replaced << " replaced a labels-file label, " << total.duplicates
                     << " older duplicate(s) and " << total.skipped << " session verdict(s) of line sources left out";
  }
  return out;
}

std::map<std::string, std::vector<OperatorVerdict>> SiteDaemon::OperatorVerdictsForKinds() {
  const std::string db = detect::DetectStorePath(config_.data_dir());
  absl::StatusOr<std::map<std::string, std::vector<OperatorVerdict>>> verdicts = ReadOperatorVerdicts(db);
  if (verdicts.ok()) return *std::move(verdicts);
  // The round goes on with the labels files' counts: a damaged verdict store must not stop the federation.
  const int unread = ++kind_verdicts_unread_;
  FEDLOG_LOG(WARNING) << verdicts.status().message()
                      << "; this round's kind counts hold the labels files only; kind_verdicts_unread=" << unread;
  return {};
}

void SiteDaemon::LogKindCoverage(const v1::ModelManifest& manifest) const {
  kinds::KindVerdictOptions options;
  if (config_.detect().kind_verdict_silence_sites() > 0) {
    options.normal_sites = static_cast<int>(config_.detect().kind_verdict_silence_sites());
  }
  if (!options.Validate().ok()) return;  // the detector refuses such a config with its own message
  for (const v1::KindCounts& counts : manifest.kind_counts()) {
    for (const SourceLines& s : sources_) {
      if (s.name != counts.source()) continue;
      absl::StatusOr<KindCoverage> c = SourceKindCoverage(s.format, s.raw, counts, options);
      if (!c.ok()) {
        FEDLOG_LOG(WARNING) << "model v" << manifest.version() << "'s kind counts for " << s.name << ": " << c.status();
        continue;
      }
      // scripts/demo.sh prints this line.
      FEDLOG_LOG(INFO) << "kind verdicts of model v" << manifest.version() << " for " << s.name << ": "
                       << c->anomalous + c->normal << " of this site's " << c->kinds << " kind(s) decided ("
                       << c->anomalous << " anomalous, " << c->normal << " normal)";
    }
  }
}

}  // namespace fedlog::client
