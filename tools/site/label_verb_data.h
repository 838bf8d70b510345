// The data behind `fedlog label` (label_verb.cc): a site's recent lines read from its configured
// sources, scored as live detection scores them (the label-free detector of common/novelty, and the
// site's promoted or personal model when it has one, with the labels already given as support),
// grouped by template, and ranked for labelling by common/active's selector. Verdicts are written to
// the site's labels store (<data_dir>/detect.db, the store `fedlog feedback` writes; origins in
// client/detect/label_verdicts.h), one row per verdict, each its own transaction.
// Sessions: when the site sets detect.session_pattern (a session key in each line: an HDFS block id),
// the lines are also scored per session (novelty::SessionScorer, as live detection does) and the
// sessions grouped by shape (novelty::SessionGroups); common/active's session selector proposes one
// session per group, and a verdict on it labels the session and its group (label_verdicts.h,
// "session:").
// Thread-compatible: one LabelSite per verb run.
#ifndef FEDLOG_TOOLS_SITE_LABEL_VERB_DATA_H_
#define FEDLOG_TOOLS_SITE_LABEL_VERB_DATA_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/detect/detect_options.h"
#include "client/detect/detect_store.h"
#include "common/active/normal_templates.h"
#include "common/active/selector.h"
#include "common/active/session_selector.h"
#include "common/fewshot/session_kinds.h"
#include "common/novelty/session_groups.h"
#include "common/labels/pattern_library.h"

namespace fedlog::client::detect {
class LinePipeline;
}  // namespace fedlog::client::detect

namespace fedlog::cli {

struct LabelSiteOptions {
  std::string config_path;   // the site's YAML (ClientConfig)
  std::string patterns;      // pattern library; "" = detect.label_patterns of the config
  int64_t max_lines = 20000;  // per source, the most recent lines of its files
  uint64_t seed = 0;         // the selector's tie-break seed
};

struct SiteLine {
  int source = 0;           // index into LabelSite::source_names()
  std::string file;
  int64_t line_no = 0;      // 1-based in `file`
  std::string text;
  int group = -1;           // (source, template) group; index into LabelSite::groups()
  float score = 0;          // the score live detection uses (model, else label-free)
  float threshold = 0;      // its threshold for the source, as in force after the last line
  uint32_t signals = 0;     // label-free signals that fired (novelty::FiredNames)
  bool label_free_alert = false;
  std::vector<int64_t> tokens;  // encoder input, stored with a verdict
  std::vector<float> dense;
};

struct TemplateGroup {
  int source = 0;
  std::string text;  // the template as the site's Drain parse has it
  int64_t lines = 0;
  int64_t alerts = 0;  // lines at or above their threshold
};

// A session of the lines read (a block, a container, a host stream), as live detection judged it.
struct SiteSession {
  int source = 0;
  uint64_t key = 0;            // the session key's hash
  std::vector<size_t> lines;   // indices into LabelSite::lines(), in order
  double score = 0, threshold = 0;
  bool alert = false;          // the detector alone alerted on it
  uint64_t group = 0;          // novelty::SessionScore::group
  uint32_t fired = 0;          // session signals that fired (novelty::SessionFiredNames)
  int violated = 0;            // count relations broken
  bool broken = false;         // a near-certain one among them
  int label = -1;              // a stored session verdict on it: -1 none, 0 normal, 1 anomalous
  uint64_t kind = 0;           // its key's kind at its close (fewshot::SessionKinds, template groups)
};

enum class Verdict { kAnomaly, kNormal, kTemplateNormal };

class LabelSite {
 public:
  // Reads the config, the lines and the labels store (created when absent), scores and groups the
  // lines. InvalidArgument / NotFound with the config path for a bad config, a source without
  // readable files or lines, or a bad pattern library.
  static absl::StatusOr<std::unique_ptr<LabelSite>> Load(const LabelSiteOptions& options);

  // The lines to ask about, best first (at most `count`, 0 = every uncovered group), skipping
  // groups a label or a "whole template is normal" verdict already covers.
  absl::StatusOr<std::vector<active::Pick>> Candidates(size_t count) const;
  // Stores the verdict on `line` (an index into lines()) in the labels store and covers its group.
  absl::Status Record(size_t line, Verdict verdict);

  // Whether live detection would alert on `line` now: at or above its threshold and its template
  // not declared normal.
  bool WouldAlert(const SiteLine& line) const;

  // Sessions: one per session group not yet covered by a session verdict, best first (at most
  // `count`, 0 = all); empty when no source has sessions.
  absl::StatusOr<std::vector<active::SessionPick>> SessionCandidates(size_t count) const;
  // Stores the verdict (kAnomaly or kNormal) on `session` (an index into sessions()): its last line
  // with a "session:" origin; the verdict covers its group.
  absl::Status RecordSession(size_t session, Verdict verdict);
  // Whether live detection would alert on `session` with the verdicts given now (its group's
  // verdict decides, else the detector; novelty::SessionGroups), after the unit-kind rule
  // (detect.session_kind_rule: with "exact" a normal group verdict does not silence it, a normal
  // verdict on its exact kind does; fewshot::SessionKinds).
  bool SessionWouldAlert(const SiteSession& session) const;
  // The session's shape: its templates with their counts ("3 x Receiving block <*>; ...").
  std::string SessionShape(const SiteSession& session) const;
  // Sessions of `group` among the sessions read, and of those the detector alerted on.
  std::pair<int64_t, int64_t> GroupCounts(uint64_t group) const;
  const std::vector<SiteSession>& sessions() const { return sessions_; }

  const std::vector<SiteLine>& lines() const { return lines_; }
  const std::vector<TemplateGroup>& groups() const { return groups_; }
  const std::vector<std::string>& source_names() const { return source_names_; }
  const std::string& store_path() const { return store_path_; }
  int64_t model_version() const { return model_version_; }  // 0: label-free only
  // Per source, which detector scores it and why (LinePipeline's detector choice); empty without a
  // model.
  const std::vector<std::string>& detector_notes() const { return detector_notes_; }
  double expected_alert_rate() const { return alert_rate_; }
  // Suggestions of the pattern library for `text` ("rule (anomaly type)"); empty without a library.
  std::vector<std::string> Suggestions(const std::string& text) const;
  bool has_patterns() const { return patterns_.has_value(); }
  int64_t labels_given() const { return labels_given_; }

 private:
  LabelSite() = default;
  absl::Status ReadSources(const std::vector<client::detect::SourceOptions>& sources,
                           int64_t max_lines);
  absl::Status Score(const std::vector<client::detect::SourceOptions>& sources,
                     const client::detect::DetectOptions& detect);
  void ApplyStoredLabels(std::vector<client::detect::LabeledLine> labels);
  // The stored session verdicts label the sessions that have their line, and cover their groups.
  void ApplySessionVerdicts(const std::vector<client::detect::LabeledLine>& verdicts);
  // The sessions' scores kept by `pipeline` (and, with `flush`, the sessions still open) into
  // sessions_; `open` maps (source, key) to the session collecting lines.
  void CollectSessions(client::detect::LinePipeline& pipeline, bool flush,
                       std::map<std::pair<int, uint64_t>, size_t>* open);
  absl::Status ChooseDetectors(const client::detect::DetectOptions& detect,
                               const std::vector<client::detect::LabeledLine>& labels,
                               client::detect::LinePipeline& label_free, const std::vector<float>& model_score,
                               const std::vector<float>& model_threshold, std::vector<float>* last_threshold);
  // Each session's kind: its key's template groups with their counts up to its last line.
  void IndexSessionKinds();

  std::vector<std::string> source_names_;
  std::vector<SiteLine> lines_;
  std::vector<TemplateGroup> groups_;
  std::vector<int> line_label_;  // per line: -1 none, 0 normal, 1 anomalous
  std::vector<SiteSession> sessions_;
  novelty::SessionGroups session_groups_;  // the stored session verdicts, by group
  fewshot::SessionKinds session_kinds_{1};  // the stored session verdicts, by kind (labels only)
  fewshot::KindRule kind_rule_ = fewshot::KindRule::kOff;  // detect.session_kind_rule
  std::set<uint64_t> covered_groups_;      // groups with a session verdict
  active::NormalTemplates normal_;
  std::unique_ptr<client::detect::DetectStore> store_;
  std::string store_path_;
  std::optional<labels::PatternLibrary> patterns_;
  int64_t model_version_ = 0;   // of the model, when a source is scored by it
  std::vector<bool> use_model_;  // per source: the detector choice gave it the model
  std::vector<std::string> detector_notes_;
  double alert_rate_ = 0.01;
  int64_t labels_given_ = 0;
  uint64_t seed_ = 0;
};

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_SITE_LABEL_VERB_DATA_H_
