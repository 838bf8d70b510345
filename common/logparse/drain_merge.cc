// Drain: merging clusters into one template id (identical or equivalent templates, sibling clusters that differ
// in one word position, clusters a more general template subsumes).
#include <algorithm>
#include <string>
#include <vector>

#include "common/logparse/drain.h"
#include "common/logparse/drain_internal.h"

namespace fedlog::logparse {

using internal::kWildHash;

// Finds the position where the most clusters of `id`'s leaf differ from it (and only there); when they are
// sibling_merge_min or more, that position becomes a parameter in all of them, which makes their templates
// identical and merges their ids.
void Drain::MergeSiblings(int32_t id) {
  const int32_t leaf = clusters_[id].leaf;
  if (options_.sibling_merge_min <= 1 || leaf < 0) return;
  const size_t n = clusters_[id].hashes.size();
  std::vector<int32_t> differ_at;  // per sibling: the single differing position, or -1
  std::vector<int32_t> count(n, 0);
  const std::vector<int32_t> siblings = nodes_[leaf].clusters;
  for (int32_t s : siblings) {
    const Cluster& a = clusters_[id];
    const Cluster& b = clusters_[s];
    int32_t pos = -1;
    for (size_t i = 0; i < n && pos != -2; ++i) {
      if (a.hashes[i] == b.hashes[i]) continue;
      pos = (pos == -1 && !a.param[i] && !b.param[i]) ? static_cast<int32_t>(i) : -2;
    }
    differ_at.push_back(pos);
    if (pos >= 0) ++count[pos];
  }
  // A template must keep two literal words after the merge, or one-word events would all become "<*>".
  int literals = 0;
  for (size_t i = 0; i < n; ++i) literals += clusters_[id].param[i] ? 0 : 1;
  if (literals < 2) return;
  int32_t best = -1;
  for (size_t i = 0; i < n; ++i) {
    if (count[i] + 1 >= options_.sibling_merge_min && (best < 0 || count[i] > count[best])) best = static_cast<int32_t>(i);
  }
  if (best < 0) return;
  auto generalize = [&](int32_t c) {
    clusters_[c].tokens[best] = "<*>";
    clusters_[c].hashes[best] = kWildHash;
    clusters_[c].param[best] = 3;
  };
  generalize(id);
  for (size_t k = 0; k < siblings.size(); ++k) {
    if (differ_at[k] == best) generalize(siblings[k]);
  }
  RegisterKey(id);
  for (size_t k = 0; k < siblings.size(); ++k) {
    if (differ_at[k] == best) RegisterKey(siblings[k]);
  }
  MergeSubsumed(Find(id));
}

// Merges into `id` every cluster of its leaf that differs from it only where `id` has <*>.
void Drain::MergeSubsumed(int32_t id) {
  const int32_t leaf = clusters_[id].leaf;
  if (!options_.merge_subsumed_templates || leaf < 0 || clusters_[id].canonical != id) return;
  const Cluster& g = clusters_[id];
  if (std::find(g.hashes.begin(), g.hashes.end(), kWildHash) == g.hashes.end()) return;
  // Only a template with words of its own may absorb others; "<*>" alone would absorb every one-word event.
  if (std::count(g.param.begin(), g.param.end(), 0) < 2) return;
  const std::vector<int32_t> siblings = nodes_[leaf].clusters;
  for (int32_t s : siblings) {
    if (s == id || clusters_[s].hashes.size() != g.hashes.size()) continue;
    Cluster& c = clusters_[s];
    bool subsumed = true;
    for (size_t i = 0; i < g.hashes.size() && subsumed; ++i) {
      subsumed = g.hashes[i] == c.hashes[i] || g.hashes[i] == kWildHash ||
                 (g.param[i] == 2 && c.param[i] == 0 && KeyedHash(c.tokens[i]) == g.hashes[i]);
    }
    if (!subsumed) continue;
    c.tokens = clusters_[id].tokens;
    c.hashes = clusters_[id].hashes;
    c.param = clusters_[id].param;
    RegisterKey(s);
  }
}

// Takes a cluster merged into an identical one out of the tree: lines now reach the surviving cluster.
void Drain::Detach(int32_t id) {
  Cluster& c = clusters_[id];
  if (c.leaf < 0) return;
  auto& leaf = nodes_[c.leaf].clusters;
  leaf.erase(std::remove(leaf.begin(), leaf.end(), id), leaf.end());
  c.leaf = -1;
  LruUnlink(id);
  --live_clusters_;
}

void Drain::RegisterKey(int32_t id) {
  if (!options_.merge_equivalent_templates) return;
  const Cluster& c = clusters_[id];
  std::string key;
  bool last_param = false;
  int literals = 0;
  for (size_t i = 0; i < c.tokens.size(); ++i) {
    // <*> or a mask: "<IP>" and "<*>" are the same parameter here.
    const bool wild = c.param[i] == 1 || c.param[i] == 3;
    literals += c.param[i] == 0 ? 1 : 0;
    // Only masked values are optional; a word position learnt as <*> ("user=<*>") still tells events apart.
    if (c.param[i] == 1 && options_.literal_skeleton_merge) continue;
    if (wild && last_param && options_.collapse_parameter_runs) continue;  // a run of <*> is one parameter
    if (i > 0) key.push_back(' ');
    key += wild ? std::string_view("<*>") : std::string_view(c.tokens[i]);
    last_param = wild;
  }
  if (options_.literal_skeleton_merge && literals < 2) return;
  auto [it, inserted] = key_to_id_.emplace(std::move(key), id);
  if (inserted) return;
  const int32_t a = Find(it->second), b = Find(id);
  if (a == b) return;
  const int32_t keep = std::min(a, b), merged = std::max(a, b);
  clusters_[merged].canonical = keep;  // the older id survives, so stored ids keep resolving to it
  it->second = keep;
  if (clusters_[merged].leaf >= 0 && clusters_[merged].leaf == clusters_[keep].leaf &&
      clusters_[merged].hashes == clusters_[keep].hashes) {
    Detach(merged);
  }
}

}  // namespace fedlog::logparse
