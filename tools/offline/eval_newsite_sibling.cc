// `fedlog eval newsite --federated --fed-sibling` (eval_newsite_federated.h, LoadNewsiteSibling):
// one more federation site that runs the new site's own system, with its own labels, on data the
// new site's stream does not hold. An organisation that runs many sites of the same source types
// is the case source adapters and prototypes are for; without a sibling no federation site runs
// the new site's source and its adapter stays an identity.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/labels/alert_tags.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// A line as its file holds it: the alert tag ("-" when normal) and the message.
std::string TaggedText(const labels::AlertTaggedLine& t) {
  return absl::StrCat(t.alert ? t.category : "-", " ", t.message);
}

// The BGL sibling: the lines of `sibling_path` that do not occur verbatim in `stream_path` (the new
// site's file), labelled with their alert category (1, 2, ... in name order; 0 normal) as eval
// federated's BGL sites are; the site sees "-" in place of the tag.
absl::StatusOr<RawSite> BglSibling(const std::string& sibling_path, const std::string& stream_path,
                                   std::vector<std::string>* notes) {
  for (const std::string& p : {sibling_path, stream_path}) {
    if (!FileExists(p)) return absl::NotFoundError(absl::StrCat("data file ", p, " not found (see --data)"));
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::AlertTaggedLine> mine, labels::ReadAlertTaggedLog(sibling_path));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::AlertTaggedLine> theirs, labels::ReadAlertTaggedLog(stream_path));
  std::set<std::string> stream_lines;
  for (const auto& t : theirs) stream_lines.insert(TaggedText(t));
  std::map<std::string, int> category;
  for (const auto& t : mine) {
    if (t.alert) category.emplace(t.category, 0);
  }
  int next = 1;
  for (auto& [name, id] : category) id = next++;
  std::vector<std::string> kept;
  std::vector<int> labels;
  int64_t dropped = 0, dropped_alerts = 0;
  for (const auto& t : mine) {
    if (stream_lines.count(TaggedText(t))) {
      ++dropped;
      dropped_alerts += t.alert ? 1 : 0;
      continue;
    }
    kept.push_back("- " + t.message);
    labels.push_back(t.alert ? category[t.category] : 0);
  }
  RawSite raw;
  raw.sources = {"BGL"};
  const std::vector<std::string_view> views(kept.begin(), kept.end());
  FEDLOG_ASSIGN_OR_RETURN(raw.lines, FeaturizeSiteLines("BGL", "BGL", views, labels));
  notes->push_back(absl::StrCat(
      sibling_path, ": ", kept.size(), " lines (",
      std::count_if(labels.begin(), labels.end(), [](int l) { return l > 0; }), " alerts) after leaving out ",
      dropped, " lines (", dropped_alerts, " alerts) that occur verbatim in the new site's ", stream_path));
  return raw;
}

// The HDFS sibling: the sibling's half of HDFS_2pct's blocks (LoadNewsiteStream, kSiblingHalf), one
// unit per block, each line in the unit of the first labelled block it mentions (eval federated's
// HDFS sites); its lines are labelled from their blocks by SplitSite.
absl::StatusOr<RawSite> HdfsSibling(const std::string& data_dir, std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(NewsiteStream half, LoadNewsiteStream("hdfs", data_dir, NewsitePart::kSiblingHalf));
  RawSite raw;
  raw.sources = {"HDFS"};
  std::vector<std::string_view> views;
  std::map<int32_t, size_t> unit_of_block;
  for (size_t i = 0; i < half.lines.size(); ++i) {
    if (half.units[i].empty()) continue;  // kSiblingHalf keeps none, but stay safe
    const int32_t b = half.units[i][0];
    auto [it, added] = unit_of_block.emplace(b, raw.units.size());
    if (added) {
      raw.units.emplace_back();
      raw.unit_labels.push_back(half.y[static_cast<size_t>(b)]);
    }
    raw.units[it->second].push_back(static_cast<int64_t>(views.size()));
    views.push_back(half.lines[i]);
  }
  FEDLOG_ASSIGN_OR_RETURN(raw.lines, FeaturizeSiteLines("HDFS", "HDFS", views, std::vector<int>(views.size(), 0),
                                                        &raw.templates));
  notes->insert(notes->end(), half.notes.begin(), half.notes.end());
  notes->push_back(absl::StrCat(views.size(), " lines, ", raw.units.size(), " blocks, ",
                                std::count(raw.unit_labels.begin(), raw.unit_labels.end(), 1), " anomalous"));
  return raw;
}

// The lines of the alert-tagged `system` stream (LoadNewsiteStream) less those that occur verbatim
// (tag and message) in `other_path`: the same lines BglSibling keeps, as a stream.
absl::StatusOr<NewsiteStream> BglSiblingStream(const std::string& system, const std::string& path,
                                               const std::string& other_path, const std::string& data_dir) {
  FEDLOG_ASSIGN_OR_RETURN(NewsiteStream all, LoadNewsiteStream(system, data_dir));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::AlertTaggedLine> mine, labels::ReadAlertTaggedLog(path));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::AlertTaggedLine> theirs, labels::ReadAlertTaggedLog(other_path));
  if (mine.size() != all.lines.size()) return absl::InternalError(absl::StrCat(path, ": line counts differ"));
  std::set<std::string> other;
  for (const auto& t : theirs) other.insert(TaggedText(t));
  NewsiteStream s;
  s.system = all.system;
  s.unit = all.unit;
  s.format = all.format;
  s.session_pattern = all.session_pattern;
  int64_t dropped = 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (other.count(TaggedText(mine[i]))) {
      ++dropped;
      continue;
    }
    s.units.push_back({static_cast<int32_t>(s.lines.size())});
    s.lines.push_back(all.lines[i]);
    s.y.push_back(all.y[i]);
  }
  s.notes.push_back(absl::StrCat(path, ": ", s.lines.size(), " lines after leaving out ", dropped,
                                 " that occur verbatim in ", other_path));
  return s;
}

}  // namespace

absl::StatusOr<NewsiteStream> LoadSiblingStream(const std::string& system, const std::string& data_dir) {
  const std::string bgl2k = JoinPath(data_dir, "loghub-2k/BGL/BGL_2k.log");
  const std::string bgl20k = JoinPath(data_dir, "bgl-20k/BGL_20k.log");
  if (system == "bgl") return BglSiblingStream("bgl2k", bgl2k, bgl20k, data_dir);
  if (system == "bgl2k") return BglSiblingStream("bgl", bgl20k, bgl2k, data_dir);
  if (system == "hdfs") return LoadNewsiteStream("hdfs", data_dir, NewsitePart::kSiblingHalf);
  return absl::InvalidArgumentError(absl::StrCat("--fed-sibling: no sibling data for system '", system,
                                                 "' (bgl2k, bgl, hdfs)"));
}

absl::StatusOr<FederatedSite> LoadNewsiteSibling(const std::string& system, const FederatedOptions& fo,
                                                 uint64_t split_seed, std::vector<std::string>* notes) {
  const std::string bgl2k = JoinPath(fo.data_dir, "loghub-2k/BGL/BGL_2k.log");
  const std::string bgl20k = JoinPath(fo.data_dir, "bgl-20k/BGL_20k.log");
  std::vector<std::string> mine;
  RawSite raw;
  if (system == "bgl") {
    FEDLOG_ASSIGN_OR_RETURN(raw, BglSibling(bgl2k, bgl20k, &mine));
  } else if (system == "bgl2k") {
    FEDLOG_ASSIGN_OR_RETURN(raw, BglSibling(bgl20k, bgl2k, &mine));
  } else if (system == "hdfs") {
    FEDLOG_ASSIGN_OR_RETURN(raw, HdfsSibling(fo.data_dir, &mine));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--fed-sibling: no sibling data for system '", system,
                                                   "' (bgl2k, bgl, hdfs)"));
  }
  raw.name = absl::StrCat("sibling-", system);
  FEDLOG_ASSIGN_OR_RETURN(FederatedSite site, SplitSite(raw, fo, false, 0, split_seed));
  for (const std::string& n : mine) notes->push_back(absl::StrCat(raw.name, ": ", n));
  return site;
}

}  // namespace fedlog::offline
