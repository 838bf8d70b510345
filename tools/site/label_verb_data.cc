#include "tools/site/label_verb_data.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/detect/detector.h"
#include "client/detect/label_verdicts.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/model_loader.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/config/yaml_proto.h"
#include "common/logparse/line_reader.h"
#include "common/novelty/scorer.h"
#include "fedlog/v1/config.pb.h"

namespace fedlog::cli {
namespace {

using client::detect::DetectOptions;
using client::detect::LabeledLine;
using client::detect::SourceOptions;

constexpr int kNumSignals = novelty::kNumSignals;

std::vector<std::string> Expand(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

// The detect section's sources, or else the training sources (one file each).
absl::StatusOr<DetectOptions> SiteDetectOptions(const v1::ClientConfig& config,
                                                const std::string& config_path) {
  const std::string base = std::filesystem::path(config_path).parent_path().string();
  if (config.has_detect() && config.detect().sources_size() > 0) {
    auto o = client::detect::DetectOptionsFromConfig(config, base);
    if (!o.ok()) return Annotate(o.status(), config_path);
    return o;
  }
  DetectOptions o;
  o.data_dir = config::ResolveRelative(config_path, config.data_dir());
  for (const v1::LogSourceConfig& s : config.sources()) {
    if (s.name().empty() || s.path().empty())
      return absl::InvalidArgumentError(config_path + ": a source needs a name and a path");
    o.sources.push_back({s.name(), s.format().empty() ? s.name() : s.format(),
                         {config::ResolveRelative(config_path, s.path())}});
  }
  if (o.sources.empty()) {
    return absl::InvalidArgumentError(
        config_path + ": no sources to label (neither detect.sources nor sources is set)");
  }
  return o;
}

// The (1 - rate) quantile of `scores` (the threshold before the detector has one).
float Quantile(std::vector<float> scores, double rate) {
  if (scores.empty()) return 0;
  const size_t k = std::min(scores.size() - 1,
                            static_cast<size_t>((1.0 - rate) * static_cast<double>(scores.size())));
  std::nth_element(scores.begin(), scores.begin() + k, scores.end());
  return scores[k];
}

}  // namespace

absl::StatusOr<std::unique_ptr<LabelSite>> LabelSite::Load(const LabelSiteOptions& options) {
  v1::ClientConfig config;
  FEDLOG_RETURN_IF_ERROR(config::LoadYamlFile(options.config_path, &config));
  if (config.data_dir().empty())
    return absl::InvalidArgumentError(options.config_path + ": no data_dir");
  FEDLOG_ASSIGN_OR_RETURN(DetectOptions detect, SiteDetectOptions(config, options.config_path));
  std::unique_ptr<LabelSite> site(new LabelSite());
  site->seed_ = options.seed;
  if (detect.expected_alert_rate > 0) site->alert_rate_ = detect.expected_alert_rate;
  const std::string patterns =
      !options.patterns.empty() ? options.patterns
      : config.detect().label_patterns().empty()
          ? ""
          : config::ResolveRelative(options.config_path, config.detect().label_patterns());
  if (!patterns.empty()) {
    FEDLOG_ASSIGN_OR_RETURN(labels::PatternLibrary lib, labels::PatternLibrary::FromFile(patterns));
    site->patterns_.emplace(std::move(lib));
  }
  FEDLOG_RETURN_IF_ERROR(MakeDirs(detect.data_dir));
  site->store_path_ = client::detect::DetectStorePath(detect.data_dir);
  FEDLOG_ASSIGN_OR_RETURN(site->store_, client::detect::DetectStore::Open(site->store_path_));
  for (const SourceOptions& s : detect.sources) site->source_names_.push_back(s.name);
  FEDLOG_RETURN_IF_ERROR(site->ReadSources(detect.sources, options.max_lines));
  FEDLOG_RETURN_IF_ERROR(site->Score(detect.sources, detect));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<LabeledLine> stored, site->store_->LoadLabels(""));
  site->ApplyStoredLabels(stored);
  return site;
}

absl::Status LabelSite::ReadSources(const std::vector<SourceOptions>& sources, int64_t max_lines) {
  for (size_t s = 0; s < sources.size(); ++s) {
    std::vector<SiteLine> lines;
    for (const std::string& pattern : sources[s].paths) {
      if (pattern == "-") continue;  // stdin is the daemon's, not ours to read
      for (const std::string& file : Expand(pattern)) {
        FEDLOG_ASSIGN_OR_RETURN(std::string text, logparse::ReadLogFile(file));
        int64_t no = 0;
        for (std::string_view l : logparse::SplitLines(text)) {
          ++no;
          if (l.empty()) continue;
          SiteLine line;
          line.source = static_cast<int>(s);
          line.file = file;
          line.line_no = no;
          line.text = std::string(l);
          lines.push_back(std::move(line));
        }
      }
    }
    if (max_lines > 0 && static_cast<int64_t>(lines.size()) > max_lines)
      lines.erase(lines.begin(), lines.end() - max_lines);
    for (SiteLine& l : lines) lines_.push_back(std::move(l));
  }
  if (lines_.empty()) {
    std::string paths;
    for (const SourceOptions& s : sources) {
      for (const std::string& p : s.paths) absl::StrAppend(&paths, paths.empty() ? "" : ", ", p);
    }
    return absl::NotFoundError(absl::StrCat("no log lines to label in ", paths));
  }
  return absl::OkStatus();
}

absl::Status LabelSite::Score(const std::vector<SourceOptions>& sources,
                              const DetectOptions& detect) {
  std::vector<std::string> drains;  // the running detector's templates, when it saved them
  for (const SourceOptions& s : sources) {
    FEDLOG_ASSIGN_OR_RETURN(std::optional<std::string> state, store_->LoadDrainState(s.name));
    drains.push_back(state.value_or(""));
  }
  FEDLOG_ASSIGN_OR_RETURN(auto label_free, client::detect::LinePipeline::Create(sources, drains));
  // The running detector's label-free rule (detector.cc), at this report's alert rate.
  novelty::NoveltyOptions lf_options = client::detect::LabelFreeRule(detect);
  lf_options.expected_alert_rate = alert_rate_;
  // No warm-up hold here: the report ranks every line by its score, which the hold does not change.
  lf_options.hold_lines = 0;
  // Labels near a line decide it, as in the running detector (LiveFewShot, detect.fewshot_match),
  // and session labels near a session's unit decide it (detect.session_lookup_match), or of its
  // exact kind (detect.session_kind_rule).
  // Sessions as the running detector forms them (detect.session_pattern, else the host field).
  FEDLOG_RETURN_IF_ERROR(
      label_free->EnableLabelFree(lf_options, detect.session_pattern, detect.fewshot_match,
                                  client::detect::FewShotRule(detect), detect.session_lookup_match,
                                  detect.session_kind_rule));
  label_free->KeepSessionScores();
  std::unique_ptr<client::detect::LinePipeline> with_model;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<LabeledLine> labels, store_->LoadLabels(""));
  std::vector<LabeledLine> session_verdicts;
  client::detect::SplitSessionVerdicts(&labels, &session_verdicts);
  {  // the site's labels move the label-free threshold and decide the lines near them, as they do in
     // the running detector
    std::vector<std::tuple<int, std::string, int>> given;
    for (const LabeledLine& l : labels) {
      for (size_t s = 0; s < sources.size(); ++s) {
        if (sources[s].name == l.source) given.emplace_back(static_cast<int>(s), l.line, l.label);
      }
    }
    label_free->SetLabelFreeLabels(given);
  }
  auto model = client::detect::LoadDetectionModel(detect.data_dir, source_names_, labels,
                                                  detect.threshold);
  if (model.ok()) {
    FEDLOG_ASSIGN_OR_RETURN(with_model, client::detect::LinePipeline::Create(sources, drains));
    with_model->SetModel(std::move(*model));
  }
  FEDLOG_RETURN_IF_ERROR(label_free->SetDetectorChoice(detect.detector_choice));
  std::vector<float> model_score(lines_.size(), -1), model_threshold(sources.size(), 0);
  std::vector<int32_t> template_ids(lines_.size());
  std::vector<float> last_threshold(sources.size(), 0);
  std::vector<std::vector<float>> scores(sources.size());
  client::detect::LineResult r, m;
  std::map<std::pair<int, uint64_t>, size_t> open;  // (source, session key) -> sessions_ index
  const bool by_session = !detect.session_pattern.empty();
  for (size_t i = 0; i < lines_.size(); ++i) {
    SiteLine& l = lines_[i];
    label_free->Process(l.source, l.text, &r);
    CollectSessions(*label_free, /*flush=*/false, &open);
    // Session candidates only with an explicit session key (detect.session_pattern): a host's
    // stream (the fallback key) is no unit an operator can judge at a glance.
    if (uint64_t key = 0; by_session && label_free->last_session(&key)) {
      auto [it, added] = open.try_emplace({l.source, key}, sessions_.size());
      if (added) {
        SiteSession session;
        session.source = l.source;
        session.key = key;
        sessions_.push_back(std::move(session));
      }
      sessions_[it->second].lines.push_back(i);
    }
    template_ids[i] = r.template_id;
    l.tokens = label_free->last_tokens();
    l.dense = label_free->last_dense();
    l.signals = r.signals;
    l.label_free_alert = r.alert;
    l.score = r.score;
    last_threshold[l.source] = r.threshold;
    if (with_model) {
      with_model->Process(l.source, l.text, &m);
      model_score[i] = m.score;
      if (m.score >= 0) model_threshold[l.source] = m.threshold;
    }
  }
  CollectSessions(*label_free, /*flush=*/true, &open);
  FEDLOG_RETURN_IF_ERROR(ChooseDetectors(detect, labels, *label_free, model_score, model_threshold, &last_threshold));
  for (size_t i = 0; i < lines_.size(); ++i) scores[lines_[i].source].push_back(lines_[i].score);
  kind_rule_ = detect.session_kind_rule;
  // The threshold in force now; a detector still warming up has none: the budget's quantile.
  for (size_t s = 0; s < sources.size(); ++s) {
    if (last_threshold[s] >= 1e29f) last_threshold[s] = Quantile(scores[s], alert_rate_);
  }
  std::map<std::pair<int, std::string>, int> group_of;
  for (size_t i = 0; i < lines_.size(); ++i) {
    SiteLine& l = lines_[i];
    l.threshold = last_threshold[l.source];
    const std::string& text = label_free->TemplateText(l.source, template_ids[i]);
    auto [it, added] = group_of.try_emplace({l.source, text}, static_cast<int>(groups_.size()));
    if (added) groups_.push_back({l.source, text, 0, 0});
    l.group = it->second;
    TemplateGroup& g = groups_[l.group];
    ++g.lines;
    if (l.score >= l.threshold && l.score > 0) ++g.alerts;
  }
  IndexSessionKinds();
  return absl::OkStatus();
}

// The detector choice live detection makes now (LinePipeline::SetDetectorChoice) with the whole read
// stream as the label-free window: the model, loaded again, joins the label-free pipeline after its
// lines, and the sources it is chosen for take its scores and threshold.
absl::Status LabelSite::ChooseDetectors(const client::detect::DetectOptions& detect,
                                        const std::vector<client::detect::LabeledLine>& labels,
                                        client::detect::LinePipeline& label_free,
                                        const std::vector<float>& model_score,
                                        const std::vector<float>& model_threshold,
                                        std::vector<float>* last_threshold) {
  use_model_.assign(source_names_.size(), false);
  auto model = client::detect::LoadDetectionModel(detect.data_dir, source_names_, labels, detect.threshold);
  if (!model.ok()) return absl::OkStatus();  // label-free only
  const int64_t version = (*model)->version;
  label_free.SetModel(std::move(*model));
  for (size_t s = 0; s < source_names_.size(); ++s) {
    const fewshot::Choice& c = label_free.choice(static_cast<int>(s));
    use_model_[s] = c.model;
    detector_notes_.push_back(absl::StrCat(source_names_[s], ": scored by ", c.reason));
    if (c.model) {
      model_version_ = version;
      (*last_threshold)[s] = model_threshold[s];
    }
  }
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (use_model_[static_cast<size_t>(lines_[i].source)] && model_score[i] >= 0) lines_[i].score = model_score[i];
  }
  return absl::OkStatus();
}

void LabelSite::IndexSessionKinds() {
  std::vector<size_t> order(sessions_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return sessions_[a].lines.back() < sessions_[b].lines.back(); });
  std::map<std::pair<int, uint64_t>, absl::flat_hash_map<int32_t, int64_t>> counts;  // per key so far
  for (size_t i : order) {
    SiteSession& s = sessions_[i];
    absl::flat_hash_map<int32_t, int64_t>& c = counts[{s.source, s.key}];
    for (size_t l : s.lines) ++c[lines_[l].group];
    s.kind = fewshot::SessionKinds::KindOfCounts(c);
  }
}

void LabelSite::CollectSessions(client::detect::LinePipeline& pipeline, bool flush,
                                std::map<std::pair<int, uint64_t>, size_t>* open) {
  if (flush) pipeline.FlushSessions();
  std::vector<std::pair<int, novelty::SessionScore>> closed;
  pipeline.TakeSessionScores(&closed);
  for (const auto& [source, c] : closed) {
    auto it = open->find({source, c.session});
    if (it == open->end()) continue;
    SiteSession& s = sessions_[it->second];
    s.score = c.score;
    s.threshold = c.threshold;
    s.alert = c.alert;
    s.group = c.group;
    s.fired = c.fired;
    s.violated = c.violated;
    s.broken = c.broken;
    open->erase(it);
  }
  if (!flush) return;
  // A session the scorer never judged (sessions switched off) is not a candidate.
  for (const auto& [key, index] : *open) sessions_[index].lines.clear();
  sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(),
                                 [](const SiteSession& s) { return s.lines.empty(); }),
                  sessions_.end());
}

void LabelSite::ApplyStoredLabels(std::vector<LabeledLine> labels) {
  std::vector<LabeledLine> session_verdicts;
  client::detect::SplitSessionVerdicts(&labels, &session_verdicts);
  ApplySessionVerdicts(session_verdicts);
  normal_ = client::detect::NormalTemplatesFromLabels(labels);
  std::map<std::pair<std::string, std::string>, int> by_text;
  for (const LabeledLine& l : labels) by_text[{l.source, l.line}] = l.label > 0 ? 1 : 0;
  line_label_.assign(lines_.size(), -1);
  for (size_t i = 0; i < lines_.size(); ++i) {
    auto it = by_text.find({source_names_[lines_[i].source], lines_[i].text});
    if (it != by_text.end()) line_label_[i] = it->second;
  }
  labels_given_ = static_cast<int64_t>(labels.size() + session_verdicts.size());
}

void LabelSite::ApplySessionVerdicts(const std::vector<LabeledLine>& verdicts) {
  std::map<std::pair<std::string, std::string>, int> by_text;
  for (const LabeledLine& l : verdicts) by_text[{l.source, l.line}] = l.label > 0 ? 1 : 0;
  for (SiteSession& s : sessions_) {
    for (size_t i : s.lines) {
      auto it = by_text.find({source_names_[s.source], lines_[i].text});
      if (it != by_text.end()) s.label = std::max(s.label, it->second);
    }
    if (s.label < 0) continue;
    session_groups_.Add(s.group, s.label, s.broken);
    session_kinds_.Label(s.kind, s.label);
    covered_groups_.insert(s.group);
  }
}

absl::StatusOr<std::vector<active::Pick>> LabelSite::Candidates(size_t count) const {
  active::SelectionInput in;
  in.threshold = 0;  // scores below are margins over each source's own threshold
  in.lines.reserve(lines_.size());
  for (size_t i = 0; i < lines_.size(); ++i) {
    const SiteLine& l = lines_[i];
    active::LineInfo info;
    info.template_id = l.group;
    info.score = static_cast<double>(l.score) - l.threshold;
    info.signals.resize(kNumSignals);
    for (int s = 0; s < kNumSignals; ++s) info.signals[s] = (l.signals >> s) & 1u ? 1.f : 0.f;
    // The label-free detector's verdict is the second opinion, and the anomaly probability of the
    // selector's expected corrections (as in `eval newsite`'s active rows); without a model scoring
    // it is also the decision in force.
    info.model_probability = l.label_free_alert ? 1.f : 0.f;
    if (!use_model_[static_cast<size_t>(l.source)]) info.alert = l.label_free_alert ? 1 : 0;
    info.label = line_label_[i];
    in.lines.push_back(std::move(info));
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (normal_.Covers(source_names_[groups_[g].source], groups_[g].text))
      in.normal_templates.push_back(static_cast<int32_t>(g));
  }
  active::SelectorOptions options;
  options.seed = seed_;
  options.fallback_alert_rate = std::min(0.5, alert_rate_);
  return active::SelectLines(in, options, count);
}

absl::Status LabelSite::Record(size_t line, Verdict verdict) {
  const SiteLine& l = lines_[line];
  const std::string& source = source_names_[l.source];
  const std::string& text = groups_[l.group].text;
  LabeledLine row{source, l.text, verdict == Verdict::kAnomaly ? 1 : 0, l.tokens, l.dense,
                  verdict == Verdict::kTemplateNormal
                      ? client::detect::TemplateVerdictOrigin(source, text)
                      : client::detect::LineVerdictOrigin(source, l.text)};
  FEDLOG_RETURN_IF_ERROR(store_->AddLabel(row, absl::ToUnixMillis(absl::Now())));
  line_label_[line] = row.label;
  if (verdict == Verdict::kTemplateNormal) normal_.Add(source, text);
  ++labels_given_;
  return absl::OkStatus();
}

bool LabelSite::WouldAlert(const SiteLine& line) const {
  if (!(line.score >= line.threshold && line.score > 0)) return false;
  return !normal_.Covers(source_names_[line.source], groups_[line.group].text);
}

std::vector<std::string> LabelSite::Suggestions(const std::string& text) const {
  std::vector<std::string> out;
  if (!patterns_) return out;
  for (const labels::RuleMatch& m : patterns_->AllMatches(text))
    out.push_back(absl::StrCat(m.rule, " (", m.anomaly_type, ")"));
  return out;
}

absl::StatusOr<std::vector<active::SessionPick>> LabelSite::SessionCandidates(size_t count) const {
  if (sessions_.empty()) return std::vector<active::SessionPick>{};
  std::vector<active::SessionInfo> info;
  info.reserve(sessions_.size());
  for (const SiteSession& s : sessions_) {
    active::SessionInfo in;
    in.group = s.group;
    in.score = s.score;
    in.threshold = s.threshold;
    in.alert = s.alert;
    in.label = s.label >= 0 ? s.label : covered_groups_.count(s.group) > 0 ? 0 : -1;
    info.push_back(in);
  }
  active::SessionSelectorOptions options;
  options.seed = seed_;
  return active::SelectSessions(info, options, count);
}

absl::Status LabelSite::RecordSession(size_t session, Verdict verdict) {
  SiteSession& s = sessions_[session];
  const SiteLine& l = lines_[s.lines.back()];
  const std::string& source = source_names_[s.source];
  const int y = verdict == Verdict::kAnomaly ? 1 : 0;
  LabeledLine row{source, l.text, y, l.tokens, l.dense,
                  client::detect::SessionVerdictOrigin(source, l.text)};
  FEDLOG_RETURN_IF_ERROR(store_->AddLabel(row, absl::ToUnixMillis(absl::Now())));
  s.label = y;
  session_groups_.Add(s.group, y, s.broken);
  session_kinds_.Label(s.kind, y);
  covered_groups_.insert(s.group);
  ++labels_given_;
  return absl::OkStatus();
}

bool LabelSite::SessionWouldAlert(const SiteSession& session) const {
  const novelty::GroupDecision d =
      session_groups_.Decide(session.group, session.alert, session.broken, /*keep_broken=*/false);
  bool alert = session.alert;
  if (d == novelty::GroupDecision::kRaised) alert = true;
  if (d == novelty::GroupDecision::kSuppressed && kind_rule_ != fewshot::KindRule::kExact) alert = false;
  return session_kinds_.Apply(kind_rule_, session.kind, alert);
}

std::string LabelSite::SessionShape(const SiteSession& session) const {
  std::vector<std::pair<int, int64_t>> counts;  // (template group, lines) in order of appearance
  for (size_t i : session.lines) {
    const int g = lines_[i].group;
    auto it = std::find_if(counts.begin(), counts.end(), [g](const auto& c) { return c.first == g; });
    if (it == counts.end()) {
      counts.emplace_back(g, 1);
    } else {
      ++it->second;
    }
  }
  std::string out;
  for (const auto& [g, n] : counts) {
    absl::StrAppend(&out, out.empty() ? "" : "; ", n, " x ", groups_[static_cast<size_t>(g)].text);
  }
  return out;
}

std::pair<int64_t, int64_t> LabelSite::GroupCounts(uint64_t group) const {
  int64_t n = 0, alerts = 0;
  for (const SiteSession& s : sessions_) {
    if (s.group != group) continue;
    ++n;
    alerts += s.alert ? 1 : 0;
  }
  return {n, alerts};
}

}  // namespace fedlog::cli
