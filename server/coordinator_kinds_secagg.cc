#include "server/coordinator_kinds_secagg.h"

#include <algorithm>

#include "common/base/logging.h"
#include "common/kinds/kind_sketch.h"
#include "server/coordinator_kinds.h"

namespace fedlog::server {

bool TakesKindCounts(const v1::RunPlan& plan) { return plan.dp_mode().empty() || plan.dp_mode() == "none"; }

std::map<std::string, std::vector<std::string>> KindGroups(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& declared, int threshold,
    int max_sections) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& [site, sources] : declared) {
    for (const std::string& source : sources) {
      std::vector<std::string>& members = groups[source];
      if (std::find(members.begin(), members.end(), site) == members.end()) members.push_back(site);
    }
  }
  for (auto it = groups.begin(); it != groups.end();) {
    it = static_cast<int>(it->second.size()) < threshold ? groups.erase(it) : std::next(it);
  }
  if (static_cast<int>(groups.size()) > max_sections) {
    std::vector<std::pair<size_t, std::string>> by_size;  // (size, name): largest first, then by name
    for (const auto& [source, members] : groups) by_size.emplace_back(members.size(), source);
    std::stable_sort(by_size.begin(), by_size.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = static_cast<size_t>(std::max(max_sections, 0)); i < by_size.size(); ++i) {
      groups.erase(by_size[i].second);
    }
  }
  return groups;
}

std::vector<v1::KindCounts> KindCountsFromSecAgg(const std::vector<secagg::KindSectionSum>& sums,
                                                 double suppress_below) {
  std::vector<v1::KindCounts> out;
  for (const secagg::KindSectionSum& s : sums) {
    if (!s.status.ok()) {
      FEDLOG_LOG(WARNING) << "kind counts of source '" << s.source << "' dropped this round: " << s.status.message();
      continue;
    }
    absl::StatusOr<kinds::KindSketch> sketch = kinds::KindSketch::FromCounts(s.counts);
    if (!sketch.ok()) {
      FEDLOG_LOG(WARNING) << "kind counts of source '" << s.source << "' dropped this round: " << sketch.status();
      continue;
    }
    sketch->Suppress(suppress_below);
    v1::KindCounts k = SparseKindCounts(s.source, *sketch);
    if (k.bucket_size() > 0) out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(),
            [](const v1::KindCounts& a, const v1::KindCounts& b) { return a.source() < b.source(); });
  return out;
}

void CarryForwardKindCounts(const v1::ModelManifest& parent, v1::ModelManifest* next) {
  auto has = [&](const std::string& source) {
    return std::any_of(next->kind_counts().begin(), next->kind_counts().end(),
                       [&](const v1::KindCounts& k) { return k.source() == source; });
  };
  std::vector<v1::KindCounts> carried;
  for (const v1::KindCounts& k : parent.kind_counts()) {
    if (!has(k.source())) carried.push_back(k);
  }
  if (carried.empty()) return;
  std::vector<v1::KindCounts> all(next->kind_counts().begin(), next->kind_counts().end());
  for (v1::KindCounts& k : carried) {
    next->add_kind_counts_carried(k.source());
    all.push_back(std::move(k));
  }
  std::sort(all.begin(), all.end(),
            [](const v1::KindCounts& a, const v1::KindCounts& b) { return a.source() < b.source(); });
  next->clear_kind_counts();
  for (v1::KindCounts& k : all) *next->add_kind_counts() = std::move(k);
  std::sort(next->mutable_kind_counts_carried()->begin(), next->mutable_kind_counts_carried()->end());
}

}  // namespace fedlog::server
