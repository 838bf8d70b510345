// The data behind `fedlog label` (label_verb.cc): a site's recent lines read from its configured
// sources, scored as live detection scores them (the label-free detector of common/novelty, and the
// site's promoted or personal model when it has one, with the labels already given as support),
// grouped by template, and ranked for labelling by common/active's selector. Verdicts are written to
// the site's labels store (<data_dir>/detect.db, the store `fedlog feedback` writes; origins in
// client/detect/label_verdicts.h), one row per verdict, each its own transaction.
// Thread-compatible: one LabelSite per verb run.
#ifndef FEDLOG_TOOLS_SITE_LABEL_VERB_DATA_H_
#define FEDLOG_TOOLS_SITE_LABEL_VERB_DATA_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/detect/detect_options.h"
#include "client/detect/detect_store.h"
#include "common/active/normal_templates.h"
#include "common/active/selector.h"
#include "common/labels/pattern_library.h"

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

  const std::vector<SiteLine>& lines() const { return lines_; }
  const std::vector<TemplateGroup>& groups() const { return groups_; }
  const std::vector<std::string>& source_names() const { return source_names_; }
  const std::string& store_path() const { return store_path_; }
  int64_t model_version() const { return model_version_; }  // 0: label-free only
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
  void ApplyStoredLabels(const std::vector<client::detect::LabeledLine>& labels);

  std::vector<std::string> source_names_;
  std::vector<SiteLine> lines_;
  std::vector<TemplateGroup> groups_;
  std::vector<int> line_label_;  // per line: -1 none, 0 normal, 1 anomalous
  active::NormalTemplates normal_;
  std::unique_ptr<client::detect::DetectStore> store_;
  std::string store_path_;
  std::optional<labels::PatternLibrary> patterns_;
  int64_t model_version_ = 0;
  double alert_rate_ = 0.01;
  int64_t labels_given_ = 0;
  uint64_t seed_ = 0;
};

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_SITE_LABEL_VERB_DATA_H_
