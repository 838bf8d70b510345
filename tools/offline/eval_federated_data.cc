// Data side of `fedlog eval federated`: raw logs -> each site's own LineParser, Drain and
// StreamFeaturizer (FeaturizeLog) -> model::LineSet through line_input, then the sites of each
// protocol and their train / validation / test split.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/features/batch_featurizer.h"
#include "common/labels/alert_tags.h"
#include "common/labels/hdfs_labels.h"
#include "common/labels/seed_labeled.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "common/model/line_input.h"
#include "tools/offline/eval_detect.h"
#include "tools/offline/eval_federated.h"

namespace fedlog::offline {
namespace {

// FNV-1a: a split that depends on the block id only, identical on every platform.
uint64_t StableHash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

int NumSites(const FederatedOptions& options, int fallback) {
  return options.sites > 0 ? options.sites : fallback;
}

// Units of `raw`: its sessions, or one unit per line.
std::vector<std::vector<int64_t>> Units(const RawSite& raw, std::vector<int>* labels) {
  if (!raw.units.empty()) {
    *labels = raw.unit_labels;
    return raw.units;
  }
  std::vector<std::vector<int64_t>> units;
  labels->clear();
  for (int64_t i = 0; i < raw.lines.size(); ++i) {
    units.push_back({i});
    labels->push_back(raw.lines.labels[static_cast<size_t>(i)] > 0 ? 1 : 0);
  }
  return units;
}

// Rows of `units[chosen]` (in unit order) and the chosen units re-indexed into those rows; `rows_out`
// (optional) receives each row's index in `lines`.
SitePart MakePart(const model::LineSet& lines, const std::vector<std::vector<int64_t>>& units,
                  const std::vector<int>& unit_labels, std::vector<size_t> chosen, bool sessions,
                  std::vector<int64_t>* rows_out = nullptr) {
  std::sort(chosen.begin(), chosen.end());
  SitePart part;
  std::vector<int64_t> rows;
  for (size_t u : chosen) {
    std::vector<int64_t> local;
    for (int64_t r : units[u]) {
      local.push_back(static_cast<int64_t>(rows.size()));
      rows.push_back(r);
    }
    if (sessions) {
      part.units.push_back(std::move(local));
      part.unit_labels.push_back(unit_labels[u]);
    }
  }
  part.lines = model::SelectLines(lines, rows);
  if (rows_out != nullptr) *rows_out = std::move(rows);
  return part;
}

// The stream's indices for the choice rows: each line's unit, the training lines' rows, the test units.
absl::Status IndexStream(const RawSite& raw, const std::vector<std::vector<int64_t>>& units,
                         std::vector<size_t> test_units, FederatedSite* site) {
  SiteStream& st = site->stream;
  if (st.lines.empty()) return absl::OkStatus();
  if (st.lines.size() != static_cast<size_t>(raw.lines.size())) {
    return absl::InvalidArgumentError(absl::StrCat(raw.name, ": ", st.lines.size(), " stream lines but ",
                                                   raw.lines.size(), " featurized lines"));
  }
  st.line_unit.assign(st.lines.size(), -1);
  for (size_t u = 0; u < units.size(); ++u) {
    for (int64_t r : units[u]) st.line_unit[static_cast<size_t>(r)] = static_cast<int32_t>(u);
  }
  std::sort(test_units.begin(), test_units.end());  // MakePart's order
  st.test_units = std::move(test_units);
  return absl::OkStatus();
}

// Session sites have block labels only. A line is anomalous when its block is and its template
// never occurs in a normal training block; every other line is normal. Only training blocks
// decide, so no test label leaks into the training lines.
std::vector<int> SessionLineLabels(const RawSite& raw, const std::vector<int32_t>& templates,
                                   const std::vector<size_t>& train_units) {
  std::set<int32_t> normal;
  for (size_t u : train_units) {
    if (raw.unit_labels[u] != 0) continue;
    for (int64_t r : raw.units[u]) normal.insert(templates[static_cast<size_t>(r)]);
  }
  std::vector<int> labels(static_cast<size_t>(raw.lines.size()), 0);
  for (size_t u = 0; u < raw.units.size(); ++u) {
    if (raw.unit_labels[u] == 0) continue;
    for (int64_t r : raw.units[u]) {
      labels[static_cast<size_t>(r)] = normal.count(templates[static_cast<size_t>(r)]) ? 0 : 1;
    }
  }
  return labels;
}

// Keeps at most `keep` anomalous labels of `lines` (a sample seeded by `seed`, drawn from its own
// generator so the split's draws stay as without it); the others become -1 (unlabelled).
void ThinAnomalousLabels(int keep, uint64_t seed, model::LineSet* lines,
                         std::vector<std::string>* notes, const std::string& name) {
  std::vector<size_t> anomalous;
  for (size_t i = 0; i < lines->labels.size(); ++i) {
    if (lines->labels[i] > 0) anomalous.push_back(i);
  }
  if (anomalous.size() <= static_cast<size_t>(keep)) return;
  std::mt19937_64 rng(seed ^ 0x5eed7a11u);
  std::shuffle(anomalous.begin(), anomalous.end(), rng);
  for (size_t j = static_cast<size_t>(keep); j < anomalous.size(); ++j)
    lines->labels[anomalous[j]] = -1;
  notes->push_back(absl::StrCat(name, ": ", keep, " of ", anomalous.size(),
                                " anomalous training labels kept (--max-anomalous-labels)"));
}

}  // namespace

absl::StatusOr<model::LineSet> FeaturizeSiteLines(std::string_view format,
                                                  const std::string& source,
                                                  const std::vector<std::string_view>& lines,
                                                  const std::vector<int>& labels,
                                                  std::vector<int32_t>* resolved_templates) {
  if (!labels.empty() && labels.size() != lines.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", lines.size(), " lines but ", labels.size(), " labels"));
  }
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<logparse::LineParser> parser,
                          logparse::CreateLineParser(format));
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<logparse::Drain> drain, logparse::Drain::Create({}));
  FEDLOG_ASSIGN_OR_RETURN(features::StreamFeaturizer featurizer,
                          features::StreamFeaturizer::Create());
  features::FeaturizedBatch batch;
  FEDLOG_RETURN_IF_ERROR(
      features::FeaturizeLog(*parser, drain.get(), &featurizer, source, lines, &batch));
  if (resolved_templates != nullptr) {
    resolved_templates->clear();
    for (int32_t id : batch.template_ids) resolved_templates->push_back(drain->Resolve(id));
  }
  return model::FromBatch(batch, source, labels);
}

absl::StatusOr<FederatedSite> SplitSite(const RawSite& raw, const FederatedOptions& options,
                                        bool held_out, int join_round, uint64_t seed) {
  if (raw.lines.size() == 0) return absl::InvalidArgumentError(raw.name + ": no lines");
  const bool sessions = !raw.units.empty();
  std::vector<int> unit_labels;
  const std::vector<std::vector<int64_t>> units = Units(raw, &unit_labels);
  std::mt19937_64 rng(seed);
  std::vector<size_t> train_u, val_u, test_u;
  for (int cls : {0, 1}) {
    std::vector<size_t> members;
    for (size_t u = 0; u < units.size(); ++u) {
      if (unit_labels[u] == cls) members.push_back(u);
    }
    std::shuffle(members.begin(), members.end(), rng);
    const size_t n = members.size(), n_train = n / 2, n_val = n / 5;
    train_u.insert(train_u.end(), members.begin(), members.begin() + n_train);
    val_u.insert(val_u.end(), members.begin() + n_train, members.begin() + n_train + n_val);
    test_u.insert(test_u.end(), members.begin() + n_train + n_val, members.end());
  }
  RawSite labeled = raw;
  if (sessions) {
    if (raw.templates.size() != static_cast<size_t>(raw.lines.size())) {
      return absl::InvalidArgumentError(raw.name + ": session site without per-line templates");
    }
    labeled.lines.labels = SessionLineLabels(raw, raw.templates, train_u);
  }
  FederatedSite site;
  site.name = raw.name;
  site.sources = raw.sources;
  site.labeled = !held_out;
  site.join_round = join_round;
  site.stream = raw.stream;
  std::vector<int64_t> train_rows;
  SitePart train = MakePart(labeled.lines, units, unit_labels, train_u, false, &train_rows);
  if (train.lines.size() > options.max_train_lines) {
    std::vector<int64_t> rows(static_cast<size_t>(train.lines.size()));
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(static_cast<size_t>(options.max_train_lines));
    std::sort(rows.begin(), rows.end());
    site.notes.push_back(absl::StrCat(raw.name, ": ", train.lines.size(),
                                      " training lines subsampled to ", rows.size()));
    train.lines = model::SelectLines(train.lines, rows);
    std::vector<int64_t> kept;
    for (int64_t r : rows) kept.push_back(train_rows[static_cast<size_t>(r)]);
    train_rows = std::move(kept);
  }
  if (!site.stream.lines.empty()) site.stream.train_rows = train_rows;
  if (options.max_anomalous_labels > 0 && !held_out) {
    ThinAnomalousLabels(options.max_anomalous_labels, seed, &train.lines, &site.notes, raw.name);
  }
  // Support: k lines of each class of each source among the labelled training lines (a site runs
  // one detector per source, client/detect).
  std::vector<int64_t> support_rows;
  for (const std::string& source : raw.sources) {
    for (int cls : {0, 1}) {
      std::vector<int64_t> members;
      for (int64_t i = 0; i < train.lines.size(); ++i) {
        const size_t row = static_cast<size_t>(i);
        const int y = train.lines.labels[row];
        if (train.lines.sources[row] == source && y >= 0 && (y > 0 ? 1 : 0) == cls) {
          members.push_back(i);
        }
      }
      std::shuffle(members.begin(), members.end(), rng);
      members.resize(std::min<size_t>(members.size(), static_cast<size_t>(options.shots)));
      support_rows.insert(support_rows.end(), members.begin(), members.end());
    }
  }
  std::sort(support_rows.begin(), support_rows.end());
  site.support = model::SelectLines(train.lines, support_rows);
  site.train = std::move(train.lines);
  if (held_out) {
    // Only the support lines keep their labels (-1: unlabeled for RunSiteRound); they are also
    // the only lines to calibrate on.
    std::vector<int> labels(site.train.labels.size(), -1);
    for (int64_t r : support_rows)
      labels[static_cast<size_t>(r)] = site.train.labels[static_cast<size_t>(r)];
    site.train.labels = std::move(labels);
    site.validation.lines = site.support;
  } else {
    site.validation = MakePart(labeled.lines, units, unit_labels, val_u, sessions);
  }
  site.test = MakePart(labeled.lines, units, unit_labels, test_u, sessions);
  FEDLOG_RETURN_IF_ERROR(IndexStream(raw, units, test_u, &site));
  return site;
}

absl::Status WithholdAnomalousLabels(int index, std::vector<FederatedSite>* sites) {
  if (index < 0 || static_cast<size_t>(index) >= sites->size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--withhold-anomalous-labels must name a site in 0..", sites->size() - 1));
  }
  FederatedSite& site = (*sites)[static_cast<size_t>(index)];
  int64_t withheld = 0;
  for (int& y : site.train.labels) {
    if (y > 0) {
      y = -1;
      ++withheld;
    }
  }
  std::vector<int64_t> normal;
  for (int64_t i = 0; i < site.support.size(); ++i) {
    if (site.support.labels[static_cast<size_t>(i)] == 0) normal.push_back(i);
  }
  site.support = model::SelectLines(site.support, normal);
  site.notes.push_back(absl::StrCat(site.name, ": ", withheld,
                                    " anomalous training labels withheld (--withhold-anomalous-labels)"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FederatedSite>> LoadSourcesSites(const FederatedOptions& options) {
  // Every source is one log with its own pipeline (a site runs one pipeline per source).
  std::map<std::string, model::LineSet> per_source;
  std::map<std::string, std::set<int>> classes;
  for (const logparse::BuiltinFormat& f : logparse::BuiltinFormats()) {
    const std::string src = f.name;
    std::string raw;
    std::vector<std::string_view> lines;
    std::vector<labels::SeedLabeledLine> rows;
    FEDLOG_RETURN_IF_ERROR(ReadSeedLabeledSource(options.data_dir, src, &raw, &lines, &rows));
    std::vector<int> labels;
    for (const auto& r : rows) {
      labels.push_back(r.anomaly_label);
      classes[src].insert(r.anomalous() ? 1 : 0);
    }
    FEDLOG_ASSIGN_OR_RETURN(per_source[src], FeaturizeSiteLines(src, src, lines, labels));
  }
  // Sources dealt round-robin (seeded order) into sites + 1 groups, each with both classes.
  const int groups = NumSites(options, 5) + 1;
  std::vector<std::string> names;
  for (const auto& [name, unused] : per_source) names.push_back(name);
  if (groups < 2 || groups > static_cast<int>(names.size()) / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sites must leave 2..", names.size() / 2, " groups of sources"));
  }
  std::vector<std::vector<std::string>> grouping;
  for (uint64_t attempt = 0; attempt < 100 && grouping.empty(); ++attempt) {
    std::mt19937_64 rng(options.seed + attempt);
    std::shuffle(names.begin(), names.end(), rng);
    std::vector<std::vector<std::string>> g(static_cast<size_t>(groups));
    for (size_t i = 0; i < names.size(); ++i) g[i % g.size()].push_back(names[i]);
    bool ok = true;
    for (auto& members : g) {
      std::set<int> seen;
      for (const auto& m : members) seen.insert(classes[m].begin(), classes[m].end());
      ok = ok && seen.size() == 2;
      std::sort(members.begin(), members.end());
    }
    if (ok) grouping = std::move(g);
  }
  if (grouping.empty()) return absl::InternalError("no grouping gives every site both classes");
  std::vector<FederatedSite> sites;
  for (size_t g = 0; g < grouping.size(); ++g) {
    const bool held_out = g + 1 == grouping.size();
    RawSite raw;
    raw.name = held_out ? "site-new" : absl::StrCat("site-", g);
    raw.sources = grouping[g];
    for (const auto& src : grouping[g]) model::AppendLineSet(per_source[src], &raw.lines);
    FEDLOG_ASSIGN_OR_RETURN(
        FederatedSite site,
        SplitSite(raw, options, held_out, held_out ? options.rounds / 2 : 0, options.seed + g));
    sites.push_back(std::move(site));
  }
  return sites;
}

absl::StatusOr<std::vector<FederatedSite>> LoadBglSites(const FederatedOptions& options) {
  const std::string path = JoinPath(options.data_dir, "bgl-20k/BGL_20k.log");
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(path));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::AlertTaggedLine> tagged,
                          labels::ReadAlertTaggedLog(path));
  std::map<std::string, int> category;  // alert category -> anomaly type 1, 2, ...
  for (const auto& t : tagged) {
    if (t.alert) category.emplace(t.category, 0);
  }
  int next = 1;
  for (auto& [name, id] : category) id = next++;
  const int k = NumSites(options, 4);
  if (k < 1 || static_cast<size_t>(k) * 100 > tagged.size()) {
    return absl::InvalidArgumentError("--sites must be between 1 and lines/100 for bgl");
  }
  std::vector<FederatedSite> sites;
  for (int s = 0; s < k; ++s) {
    // Contiguous slice s; the alert tag is replaced by "-" so the site never sees it.
    const size_t begin = tagged.size() * static_cast<size_t>(s) / static_cast<size_t>(k);
    const size_t end = tagged.size() * static_cast<size_t>(s + 1) / static_cast<size_t>(k);
    std::vector<std::string> untagged;
    std::vector<int> labels;
    for (size_t i = begin; i < end; ++i) {
      untagged.push_back("- " + tagged[i].message);
      labels.push_back(tagged[i].alert ? category[tagged[i].category] : 0);
    }
    const std::vector<std::string_view> views(untagged.begin(), untagged.end());
    RawSite raw;
    raw.name = absl::StrCat("site-", s);
    raw.sources = {"BGL"};
    FEDLOG_ASSIGN_OR_RETURN(raw.lines, FeaturizeSiteLines("BGL", "BGL", views, labels));
    raw.stream.format = "BGL";
    raw.stream.lines = std::move(untagged);
    FEDLOG_ASSIGN_OR_RETURN(FederatedSite site,
                            SplitSite(raw, options, false, 0, options.seed + s));
    site.notes.push_back(absl::StrCat(
        raw.name, ": BGL lines ", begin + 1, "-", end, ", ",
        std::count_if(labels.begin(), labels.end(), [](int l) { return l > 0; }), " alerts"));
    sites.push_back(std::move(site));
  }
  return sites;
}

absl::StatusOr<std::vector<FederatedSite>> LoadHdfsSites(const FederatedOptions& options) {
  const std::string log = JoinPath(options.data_dir, "hdfs-v1-2pct/HDFS_2pct.log.gz");
  const std::string csv = JoinPath(options.data_dir, "hdfs-v1-2pct/HDFS_2pct_block_labels.csv");
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(log));
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(csv));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::BlockLabel> blocks, labels::ReadHdfsBlockLabels(csv));
  FEDLOG_ASSIGN_OR_RETURN(std::string raw_log, logparse::ReadLogFile(log));
  const std::vector<std::string_view> lines = logparse::SplitLines(raw_log);
  const int k = NumSites(options, 5);
  if (k < 1 || k > 50) return absl::InvalidArgumentError("--sites must be in 1..50 for hdfs");
  // Normal blocks spread evenly by hash; anomalous blocks by the same hash over shares 0.6^i, so
  // the anomaly rate falls from site 0 to site k-1 (non-IID).
  std::vector<double> cumulative;
  double total = 0;
  for (int s = 0; s < k; ++s) cumulative.push_back(total += std::pow(0.6, s));
  absl::flat_hash_map<std::string_view, size_t> index;
  std::vector<int> block_site(blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    index.emplace(blocks[b].block_id, b);
    const uint64_t h = StableHash(blocks[b].block_id);
    if (!blocks[b].anomalous) {
      block_site[b] = static_cast<int>(h % static_cast<uint64_t>(k));
    } else {
      const double u = static_cast<double>(h % 1000000) / 1e6 * total;
      block_site[b] = static_cast<int>(std::upper_bound(cumulative.begin(), cumulative.end(), u) -
                                       cumulative.begin());
      block_site[b] = std::min(block_site[b], k - 1);
    }
  }
  // Each line goes to the site of the first labelled block it mentions.
  std::vector<std::vector<std::string_view>> site_lines(static_cast<size_t>(k));
  std::vector<std::vector<size_t>> site_line_block(static_cast<size_t>(k));
  int64_t dropped = 0;
  for (std::string_view line : lines) {
    size_t block = blocks.size();
    for (absl::string_view id :
         labels::ExtractBlockIds(absl::string_view(line.data(), line.size()))) {
      auto it = index.find(std::string_view(id.data(), id.size()));
      if (it != index.end()) {
        block = it->second;
        break;
      }
    }
    if (block == blocks.size()) {
      ++dropped;
      continue;
    }
    site_lines[static_cast<size_t>(block_site[block])].push_back(line);
    site_line_block[static_cast<size_t>(block_site[block])].push_back(block);
  }
  std::vector<FederatedSite> sites;
  for (int s = 0; s < k; ++s) {
    RawSite raw;
    raw.name = absl::StrCat("site-", s);
    raw.sources = {"HDFS"};
    FEDLOG_ASSIGN_OR_RETURN(
        raw.lines, FeaturizeSiteLines("HDFS", "HDFS", site_lines[s],
                                      std::vector<int>(site_lines[s].size(), 0), &raw.templates));
    raw.stream.format = "HDFS";
    raw.stream.session_pattern = labels::kBlockIdSessionPattern;
    raw.stream.lines.assign(site_lines[s].begin(), site_lines[s].end());
    std::map<size_t, size_t> unit_of_block;
    for (size_t i = 0; i < site_line_block[s].size(); ++i) {
      const size_t b = site_line_block[s][i];
      auto [it, added] = unit_of_block.emplace(b, raw.units.size());
      if (added) {
        raw.units.emplace_back();
        raw.unit_labels.push_back(blocks[b].anomalous ? 1 : 0);
      }
      raw.units[it->second].push_back(static_cast<int64_t>(i));
    }
    const int64_t anomalous = std::count(raw.unit_labels.begin(), raw.unit_labels.end(), 1);
    FEDLOG_ASSIGN_OR_RETURN(FederatedSite site,
                            SplitSite(raw, options, false, 0, options.seed + s));
    site.notes.push_back(absl::StrCat(raw.name, ": ", site_lines[s].size(), " lines, ",
                                      raw.units.size(), " blocks, ", anomalous, " anomalous"));
    if (s == 0) {
      site.notes.push_back(
          absl::StrCat(dropped, " lines mention no labelled block and are dropped"));
    }
    sites.push_back(std::move(site));
  }
  return sites;
}

}  // namespace fedlog::offline
