// Streams of `fedlog eval newsite` (the systems' raw lines in log order, labels per unit) and the
// online scoring of one stream: LineParser -> Drain (learning as it goes) -> EventBuilder ->
// NoveltyScorer, the path a site with no labels runs.
#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/labels/alert_tags.h"
#include "common/labels/hadoop_labels.h"
#include "common/labels/hdfs_labels.h"
#include "common/labels/seed_labeled.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "common/novelty/event_builder.h"
#include "common/novelty/severity.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

absl::Status RequireData(const std::string& path) {
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat("data file ", path, " not found (see --data)"));
  return absl::OkStatus();
}

// BGL-style files: the alert tag is the label; the site sees "-" in its place, as in `eval detect`.
absl::StatusOr<NewsiteStream> LoadAlertTagged(const std::string& system, const std::string& path) {
  FEDLOG_RETURN_IF_ERROR(RequireData(path));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::AlertTaggedLine> tagged,
                          labels::ReadAlertTaggedLog(path));
  NewsiteStream s;
  s.system = system;
  s.unit = "line";
  s.format = "BGL";
  for (const auto& t : tagged) {
    s.units.push_back({static_cast<int32_t>(s.lines.size())});
    s.lines.push_back("- " + t.message);
    s.y.push_back(t.alert ? 1 : 0);
  }
  s.notes.push_back(absl::StrCat(path, ": ", s.lines.size(), " lines, ",
                                 std::count(s.y.begin(), s.y.end(), 1),
                                 " alerts; the alert tag is replaced by '-'"));
  return s;
}

// A seed-labelled loghub-2k source ("seed-<Source>"): loghub's 2,000 raw lines in log order, each its own
// unit, labelled by the seed study's keyword-derived AnomalyLabel (weak labels: a check that a change
// to the label-free detector does not hurt other kinds of log, not a quality target).
absl::StatusOr<NewsiteStream> LoadSeedLabeled(const std::string& system, const std::string& data_dir) {
  const std::string source = system.substr(std::string_view("seed-").size());
  if (logparse::FindBuiltinFormat(source) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown system '", system, "': no loghub source '", source, "'"));
  }
  const std::string csv = JoinPath(data_dir, absl::StrCat("seed-labeled-2k/", source, "_2k_labeled.csv"));
  const std::string log = JoinPath(data_dir, absl::StrCat("loghub-2k/", source, "/", source, "_2k.log"));
  FEDLOG_RETURN_IF_ERROR(RequireData(csv));
  FEDLOG_RETURN_IF_ERROR(RequireData(log));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::SeedLabeledLine> rows, labels::ReadSeedLabeledCsv(csv));
  FEDLOG_ASSIGN_OR_RETURN(std::string raw, logparse::ReadLogFile(log));
  const std::vector<std::string_view> lines = logparse::SplitLines(raw);
  if (lines.size() != rows.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat(system, ": ", lines.size(), " log lines but ", rows.size(), " labelled rows"));
  }
  NewsiteStream s;
  s.system = system;
  s.unit = "line";
  s.format = source;
  for (size_t i = 0; i < lines.size(); ++i) {
    s.units.push_back({static_cast<int32_t>(i)});
    s.lines.emplace_back(lines[i]);
    s.y.push_back(rows[i].anomalous() ? 1 : 0);
  }
  s.notes.push_back(absl::StrCat(log, ": ", s.lines.size(), " lines, ", std::count(s.y.begin(), s.y.end(), 1),
                                 " anomalous by the seed study's keyword labels (", csv, ")"));
  return s;
}

// HDFS_2pct's blocks (all, or one half: NewsitePart), units in the labels file's order.
absl::StatusOr<NewsiteStream> LoadHdfs(const std::string& data_dir, NewsitePart part) {
  const std::string log = JoinPath(data_dir, "hdfs-v1-2pct/HDFS_2pct.log.gz");
  const std::string csv = JoinPath(data_dir, "hdfs-v1-2pct/HDFS_2pct_block_labels.csv");
  FEDLOG_RETURN_IF_ERROR(RequireData(log));
  FEDLOG_RETURN_IF_ERROR(RequireData(csv));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::BlockLabel> blocks, labels::ReadHdfsBlockLabels(csv));
  FEDLOG_ASSIGN_OR_RETURN(std::string raw, logparse::ReadLogFile(log));
  NewsiteStream s;
  s.system = "hdfs";
  s.unit = "block";
  s.format = "HDFS";
  s.session_pattern = "(blk_-?[0-9]+)";
  // Every labelled block's unit in this part (-1: the other half's).
  absl::flat_hash_map<std::string, int32_t> index;
  for (const auto& b : blocks) {
    const bool in_part = part == NewsitePart::kAll || HdfsSiblingBlock(b.block_id) == (part == NewsitePart::kSiblingHalf);
    index.emplace(b.block_id, in_part ? static_cast<int32_t>(s.y.size()) : -1);
    if (in_part) s.y.push_back(b.anomalous ? 1 : 0);
  }
  int64_t unlabelled = 0, other_half = 0;
  for (std::string_view line : logparse::SplitLines(raw)) {
    std::vector<int32_t> units;
    bool first = true, mine = true;
    for (absl::string_view id : labels::ExtractBlockIds(absl::string_view(line.data(), line.size()))) {
      auto it = index.find(std::string(id.data(), id.size()));
      if (it == index.end()) {
        ++unlabelled;
        continue;
      }
      if (first) mine = it->second >= 0;  // the line's first labelled block decides its half
      first = false;
      if (it->second >= 0) units.push_back(it->second);
    }
    if (!mine || (part == NewsitePart::kSiblingHalf && units.empty())) {
      ++other_half;
      continue;
    }
    s.units.push_back(std::move(units));
    s.lines.emplace_back(line);
  }
  s.notes.push_back(absl::StrCat("HDFS_2pct: ", s.lines.size(), " lines, ", s.y.size(),
                                 " labelled blocks (", std::count(s.y.begin(), s.y.end(), 1),
                                 " anomalous); session = first block id of a line; ", unlabelled,
                                 " mentions of unlabelled blocks ignored"));
  if (part != NewsitePart::kAll) {
    s.notes.push_back(absl::StrCat(
        part == NewsitePart::kSiblingHalf ? "the federation sibling's half" : "the new site's half",
        " of HDFS_2pct's blocks (block-id hash; the other half is the ",
        part == NewsitePart::kSiblingHalf ? "new site's" : "federation's sibling site", "): ", other_half,
        " lines of the other half", part == NewsitePart::kSiblingHalf ? " or of no labelled block" : "",
        " left out"));
  }
  return s;
}

// Applications in id order (about time order), containers in name order: one site's stream.
absl::StatusOr<NewsiteStream> LoadHadoop(const std::string& data_dir) {
  const std::string root = JoinPath(data_dir, "hadoop-apps");
  FEDLOG_RETURN_IF_ERROR(RequireData(JoinPath(root, "abnormal_label.txt")));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::HadoopAppLabel> apps,
                          labels::ReadHadoopAppLabels(JoinPath(root, "abnormal_label.txt")));
  std::sort(apps.begin(), apps.end(),
            [](const auto& a, const auto& b) { return a.application_id < b.application_id; });
  NewsiteStream s;
  s.system = "hadoop";
  s.unit = "application";
  s.format = "Hadoop";
  int containers = 0;
  for (const auto& app : apps) {
    const std::filesystem::path dir = JoinPath(root, app.application_id);
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      s.notes.push_back(absl::StrCat(app.application_id, ": no log directory, skipped"));
      continue;
    }
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".log") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    const int32_t unit = static_cast<int32_t>(s.y.size());
    s.y.push_back(app.anomalous() ? 1 : 0);
    for (const std::string& file : files) {
      FEDLOG_ASSIGN_OR_RETURN(std::string raw, logparse::ReadLogFile(file));
      const uint64_t session = logparse::TokenHash(file);
      for (std::string_view line : logparse::SplitLines(raw)) {
        s.lines.emplace_back(line);
        s.units.push_back({unit});
        s.line_session.push_back(session);
      }
      ++containers;
    }
  }
  s.notes.push_back(absl::StrCat("hadoop-apps: ", s.y.size(), " applications (",
                                 std::count(s.y.begin(), s.y.end(), 1), " faulty), ", containers,
                                 " container logs, ", s.lines.size(),
                                 " lines; session = container"));
  return s;
}

// Line i's tokens and signals go to every unit it belongs to (signals: the unit's maximum).
void AddToUnits(const NewsiteStream& stream, size_t i, std::string_view content, int32_t template_id,
                const novelty::LineScore& s, ScoredStream* out) {
  for (int32_t u : stream.units[i]) {
    fewshot::Unit& unit = out->units[static_cast<size_t>(u)];
    fewshot::AddTokens(template_id, content, &unit);
    if (unit.signals.empty()) unit.signals.assign(1 + novelty::kNumSignals, 0.0);
    unit.signals[0] = std::max(unit.signals[0], s.score);
    unit.free_score = std::max(unit.free_score, 1.0 - s.p_value);
    unit.free_alert = unit.free_alert || s.alert;
    for (int k = 0; k < novelty::kNumSignals; ++k) {
      double& v = unit.signals[static_cast<size_t>(k) + 1];
      v = std::max(v, s.raw[static_cast<size_t>(k)]);
    }
    int64_t& first = out->unit_first_line[static_cast<size_t>(u)];
    if (first < 0) first = static_cast<int64_t>(i);
  }
}

// Held lines decided since the last call (NoveltyOptions::hold_lines): their score and alert replace
// the held ones, line and units alike, and their calibrated score at release counts in the units'
// free_score (a unit's alert must come with the score it alerted at: the few-shot threshold starts
// from the lowest free_score the site alerted on).
void ApplyReleased(const NewsiteStream& stream, novelty::NoveltyScorer& scorer, ScoredStream* out) {
  std::vector<novelty::HeldVerdict> released;
  scorer.TakeReleased(&released);
  for (const novelty::HeldVerdict& v : released) {
    const size_t i = static_cast<size_t>(v.line_index);
    out->fused[i] = v.score;
    out->alert[i] = v.alert ? 1 : 0;
    out->threshold[i] = v.threshold;
    out->withheld[i] = v.withheld ? 1 : 0;
    for (int32_t u : stream.units[i]) {
      fewshot::Unit& unit = out->units[static_cast<size_t>(u)];
      unit.signals[0] = std::max(unit.signals[0], v.score);
      unit.free_score = std::max(unit.free_score, 1.0 - v.p_value);
      unit.free_alert = unit.free_alert || v.alert;
    }
  }
}

// Each closed session's score and alert go to its key (maximum / any; at a whole close, which also
// judged the key's union of pieces, ShapeOptions::union_score, the key's earlier decision stands only
// while the union alerts, and its earlier score counts up to the union's), and each key's to the units its lines belong
// to (maximum / any).
void CollectSessions(const absl::flat_hash_map<uint64_t, std::vector<int32_t>>& session_units,
                     ScoredStream* out) {
  const size_t nu = out->units.size();
  out->unit_session_score.assign(nu, -1.0);
  out->unit_session_alert.assign(nu, 0);
  out->unit_session_signal.assign(novelty::kNumSessionSignals, std::vector<double>(nu, 0.0));
  out->session_units.assign(out->sessions.size(), {});
  struct KeyDecision {
    double score = -1;
    bool alert = false;
  };
  absl::flat_hash_map<uint64_t, KeyDecision> keys;
  for (const novelty::SessionScore& s : out->sessions) {
    KeyDecision& d = keys[s.session];
    // The earlier pieces' score counts up to the union's (as their alert stands only while it alerts).
    d.score = std::max(s.score, s.whole ? std::min(d.score, s.union_score) : d.score);
    d.alert = s.alert || (s.whole ? d.alert && s.union_alert : d.alert);
  }
  for (const auto& [key, d] : keys) {
    auto it = session_units.find(key);
    if (it == session_units.end()) continue;
    for (int32_t u32 : it->second) {
      const size_t u = static_cast<size_t>(u32);
      out->unit_session_score[u] = std::max(out->unit_session_score[u], d.score);
      out->unit_session_alert[u] = out->unit_session_alert[u] || d.alert ? 1 : 0;
    }
  }
  for (size_t i = 0; i < out->sessions.size(); ++i) {
    const novelty::SessionScore& s = out->sessions[i];
    auto it = session_units.find(s.session);
    if (it == session_units.end()) continue;
    out->session_units[i] = it->second;
    for (int32_t u32 : it->second) {
      const size_t u = static_cast<size_t>(u32);
      for (int k = 0; k < novelty::kNumSessionSignals; ++k) {
        double& v = out->unit_session_signal[static_cast<size_t>(k)][u];
        v = std::max(v, s.raw[static_cast<size_t>(k)]);
      }
    }
  }
}

}  // namespace

bool HdfsSiblingBlock(std::string_view block_id) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: the same split on every platform and run
  for (unsigned char c : block_id) h = (h ^ c) * 1099511628211ull;
  return (h >> 63) != 0;
}

NewsitePart NewsiteStreamPart(const NewsiteOptions& o, const std::string& system) {
  return system == "hdfs" && o.federated.sibling && WantsFederatedArm(o.federated, system) ? NewsitePart::kNewSiteHalf
                                                                                          : NewsitePart::kAll;
}

absl::StatusOr<NewsiteStream> LoadNewsiteStream(const std::string& system, const std::string& data_dir,
                                                NewsitePart part) {
  if (system == "hdfs") return LoadHdfs(data_dir, part);
  if (part != NewsitePart::kAll) {
    return absl::InvalidArgumentError(absl::StrCat("system '", system, "' has no halves (hdfs only)"));
  }
  if (system == "bgl2k") {
    return LoadAlertTagged(system, JoinPath(data_dir, "loghub-2k/BGL/BGL_2k.log"));
  }
  if (system == "bgl") return LoadAlertTagged(system, JoinPath(data_dir, "bgl-20k/BGL_20k.log"));
  if (system == "hadoop") return LoadHadoop(data_dir);
  if (absl::StartsWith(system, "seed-")) return LoadSeedLabeled(system, data_dir);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown system '", system, "' (bgl2k, bgl, hdfs, hadoop, seed-<loghub source>)"));
}

absl::StatusOr<ScoredStream> ScoreNewsiteStream(const NewsiteStream& stream,
                                                const NewsiteOptions& options) {
  FEDLOG_RETURN_IF_ERROR(options.detector.Validate());
  FEDLOG_ASSIGN_OR_RETURN(auto parser, logparse::CreateLineParser(stream.format));
  FEDLOG_ASSIGN_OR_RETURN(auto drain, logparse::Drain::Create({}));
  novelty::EventOptions eo;
  eo.session_pattern = stream.session_pattern;
  FEDLOG_ASSIGN_OR_RETURN(auto builder, novelty::EventBuilder::Create(eo, parser->field_names()));
  novelty::NoveltyScorer scorer(options.detector);
  ScoredStream out;
  const size_t n = stream.lines.size();
  out.fused.resize(n);
  out.alert.resize(n);
  out.threshold.resize(n);
  out.withheld.resize(n);
  out.fired.resize(n);
  out.severity_rule.resize(n);
  out.signal.assign(novelty::kNumSignals, std::vector<double>(n, 0.0));
  out.template_id.resize(n);
  out.units.resize(stream.y.size());
  out.unit_first_line.assign(stream.y.size(), -1);
  out.has_session.assign(n, 0);
  out.session.assign(n, 0);
  absl::flat_hash_map<uint64_t, std::vector<int32_t>> session_units;
  logparse::ParsedLine parsed;
  novelty::LineEvent event;
  for (size_t i = 0; i < n; ++i) {
    parser->Parse(logparse::StripCr(stream.lines[i]), &parsed);
    const logparse::DrainResult r = drain->Add(parsed.content);
    builder->Build(parsed, *drain, r.template_id, &event);
    if (!stream.line_session.empty()) {
      event.has_session = true;
      event.session = stream.line_session[i];
    }
    const novelty::LineScore s = scorer.ScoreAndLearn(event, static_cast<int64_t>(i));
    out.fused[i] = s.score;
    out.alert[i] = s.alert ? 1 : 0;
    out.threshold[i] = s.threshold;
    out.withheld[i] = s.withheld ? 1 : 0;
    out.fired[i] = s.fired;
    for (int k = 0; k < novelty::kNumSignals; ++k) {
      out.signal[static_cast<size_t>(k)][i] = s.raw[static_cast<size_t>(k)];
    }
    out.severity_rule[i] = novelty::HasSeverityWord(stream.lines[i]) ? 1 : 0;
    out.template_id[i] = r.template_id;
    AddToUnits(stream, i, parsed.content, r.template_id, s, &out);
    ApplyReleased(stream, scorer, &out);
    scorer.TakeSessionScores(&out.sessions);  // the sessions this line closed
    out.session_close_line.resize(out.sessions.size(), static_cast<int64_t>(i));
    out.has_session[i] = event.has_session ? 1 : 0;
    out.session[i] = event.session;
    if (event.has_session) {
      std::vector<int32_t>& su = session_units[event.session];
      for (int32_t u : stream.units[i]) {
        if (std::find(su.begin(), su.end(), u) == su.end()) su.push_back(u);
      }
    }
  }
  scorer.ReleaseHeld();
  ApplyReleased(stream, scorer, &out);
  scorer.FlushSessions();
  scorer.TakeSessionScores(&out.sessions);
  out.session_close_line.resize(out.sessions.size(), static_cast<int64_t>(n));
  CollectSessions(session_units, &out);
  out.session_stage = std::string(novelty::StageName(scorer.sessions().stage()));
  out.session_adapted_rate = scorer.sessions().adapted_rate();
  for (fewshot::Unit& u : out.units) {
    fewshot::Finish(&u);
    if (u.signals.empty()) u.signals.assign(1 + novelty::kNumSignals, 0.0);  // a unit without lines
  }
  out.final_threshold = scorer.threshold().Threshold();
  out.templates = drain->num_clusters();
  out.final_stage = std::string(novelty::StageName(scorer.threshold().stage()));
  out.adapted_rate = scorer.threshold().adapted_rate();
  return out;
}

}  // namespace fedlog::offline
