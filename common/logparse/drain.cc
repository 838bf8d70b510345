// Drain: options, the prefix tree, cluster choice and creation, Add/Match. Tokens: drain_tokens.cc; merging
// templates: drain_merge.cc; queries, parameters, LRU and state files: drain_state.cc.
#include "common/logparse/drain.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logparse/drain_internal.h"
#include "re2/re2.h"

namespace fedlog::logparse {

using internal::kWildHash;

uint64_t TokenHash(std::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

Drain::Drain(const DrainOptions& options) : options_(options) {}
Drain::~Drain() = default;

absl::StatusOr<std::unique_ptr<Drain>> Drain::Create(const DrainOptions& options) {
  std::unique_ptr<Drain> d(new Drain(options));
  if (absl::Status s = d->Init(); !s.ok()) return s;
  return d;
}

absl::Status Drain::Init() {
  if (options_.depth < 3 || options_.depth > 32) {
    return absl::InvalidArgumentError(absl::StrCat("drain depth must be in [3, 32], got ", options_.depth));
  }
  if (!(options_.sim_threshold >= 0.0 && options_.sim_threshold <= 1.0)) {
    return absl::InvalidArgumentError("drain sim_threshold must be in [0, 1]");
  }
  if (options_.max_children < 2) return absl::InvalidArgumentError("drain max_children must be >= 2");
  if (options_.max_clusters < 0) return absl::InvalidArgumentError("drain max_clusters must be >= 0");
  for (char c : std::string_view(" \t\n\r\v\f")) delimiter_[static_cast<unsigned char>(c)] = true;
  for (char c : options_.extra_delimiters) delimiter_[static_cast<unsigned char>(c)] = true;
  for (const RegexMask& m : options_.regex_masks) {
    auto re = std::make_unique<re2::RE2>(m.pattern, re2::RE2::Quiet);
    if (!re->ok()) {
      return absl::InvalidArgumentError(absl::StrCat("bad mask regex '", m.pattern, "': ", re->error()));
    }
    regexes_.push_back(std::move(re));
  }
  nodes_.emplace_back();  // the root
  return absl::OkStatus();
}
uint64_t Drain::TreeKey(const Token& t) const { return t.kind == MaskKind::kNone ? t.hash : kWildHash; }

int32_t Drain::FindLeaf() const {
  const Node& root = nodes_[0];
  auto it = root.children.find(tokens_.size());
  if (it == root.children.end()) return -1;
  int32_t node = it->second;
  const size_t layers = std::min<size_t>(options_.depth - 3, tokens_.size());
  for (size_t k = 0; k < layers; ++k) {
    const auto& children = nodes_[node].children;
    auto c = children.find(TreeKey(tokens_[k]));
    if (c == children.end()) c = children.find(kWildHash);
    if (c == children.end()) return -1;
    node = c->second;
  }
  return node;
}

int32_t Drain::BestCluster(int32_t leaf) const {
  const size_t n = tokens_.size();
  const bool strict = options_.strict_words;
  const bool short_rule = static_cast<int>(n) <= options_.short_template_max_tokens;
  int32_t best = -1;
  double best_sim = -1.0;
  int best_params = -1;
  for (int32_t id : nodes_[leaf].clusters) {
    const Cluster& c = clusters_[id];
    int equal = 0, params = 0, literal_equal = 0, plain = 0;
    bool reject = false;
    for (size_t i = 0; i < n; ++i) {
      const Token& t = tokens_[i];
      plain += (t.kind == MaskKind::kNone || t.keyed) ? 1 : 0;
      if (c.hashes[i] == kWildHash) {
        (t.kind != MaskKind::kNone ? equal : params) += 1;
      } else if (c.hashes[i] == t.hash) {
        ++equal;
        literal_equal += c.param[i] != 1 ? 1 : 0;  // words and keyed parameters ("uid=<*>")
      } else if (c.param[i] == 1 && t.kind != MaskKind::kNone && !t.keyed) {
        ++equal;  // two masks (<IP> here, <NUM> there) differ as values do; the update makes it <*>
      } else if (c.param[i] == 2 && t.keyed_hash == c.hashes[i]) {
        ++params;  // "name=android" fits "name=<*>"
      } else if (strict || (short_rule && !c.param[i] && t.kind == MaskKind::kNone)) {
        reject = true;  // two different words are two events
        break;
      }
    }
    // A template of parameters only ("<*> <*>") would swallow every line of its length.
    if (reject || (literal_equal == 0 && plain > 0)) continue;
    // Strict: every template word matched, so rank by specificity (most equal tokens). Otherwise Drain's
    // similarity, ties to the template with more parameters.
    const double sim = n == 0 ? 1.0 : static_cast<double>(equal) / static_cast<double>(n);
    if (sim > best_sim || (sim == best_sim && (strict ? params < best_params : params > best_params))) {
      best = id;
      best_sim = sim;
      best_params = params;
    }
  }
  if (strict) return best;
  return best_sim >= options_.sim_threshold ? best : -1;
}

int32_t Drain::CreateCluster() {
  const int32_t id = static_cast<int32_t>(clusters_.size());
  clusters_.emplace_back();
  Cluster& c = clusters_.back();
  c.tokens.reserve(tokens_.size());
  for (const Token& t : tokens_) {
    if (t.kind == MaskKind::kNone || t.kind == MaskKind::kRegex) {
      c.tokens.emplace_back(t.text);
    } else if (t.kind == MaskKind::kWildcard) {
      const std::string_view suffix = t.text.substr(t.core_begin + t.core_len);
      c.tokens.push_back(absl::StrCat(absl::string_view(t.text.data(), t.core_begin), "<*>",
                                      absl::string_view(suffix.data(), suffix.size())));
    } else {
      std::string masked(t.text.substr(0, t.core_begin));
      masked += MaskPlaceholder(t.kind);
      masked += t.text.substr(t.core_begin + t.core_len);
      c.tokens.push_back(std::move(masked));
    }
    c.hashes.push_back(t.hash);
    c.param.push_back(t.kind == MaskKind::kNone ? 0 : t.keyed ? 2 : 1);
  }
  c.path.push_back(tokens_.size());
  const size_t layers = std::min<size_t>(options_.depth - 3, tokens_.size());
  for (size_t k = 0; k < layers; ++k) c.path.push_back(TreeKey(tokens_[k]));
  c.size = 1;
  c.canonical = id;
  AttachToTree(id);
  Touch(id);
  ++live_clusters_;
  RegisterKey(id);
  MergeSiblings(id);
  MergeSubsumed(id);
  EvictIfNeeded();
  return id;
}

void Drain::AttachToTree(int32_t id) {
  std::vector<uint64_t>& path = clusters_[id].path;
  int32_t node = 0;
  for (size_t k = 0; k < path.size(); ++k) {
    uint64_t key = path[k];
    auto& children = nodes_[node].children;
    auto it = children.find(key);
    if (it == children.end() && k > 0 && key != kWildHash &&
        static_cast<int>(children.size()) + 1 >= options_.max_children) {
      key = kWildHash;  // the node is full: further words share the <*> child
      path[k] = key;    // saved states replay the path actually taken
      it = children.find(key);
    }
    if (it != children.end()) {
      node = it->second;
      continue;
    }
    const int32_t child = static_cast<int32_t>(nodes_.size());
    nodes_[node].children.emplace(key, child);
    nodes_.emplace_back();
    node = child;
  }
  nodes_[node].clusters.push_back(id);
  clusters_[id].leaf = node;
}

bool Drain::UpdateTemplate(int32_t id) {
  Cluster& c = clusters_[id];
  bool changed = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (c.hashes[i] != tokens_[i].hash && c.hashes[i] != kWildHash &&
        !(c.param[i] == 2 && tokens_[i].keyed_hash == c.hashes[i])) {
      c.tokens[i] = "<*>";
      c.hashes[i] = kWildHash;
      c.param[i] = 3;
      changed = true;
    }
  }
  if (changed) {
    RegisterKey(id);
    MergeSubsumed(id);
  }
  return changed;
}

int32_t Drain::Find(int32_t id) const {
  while (clusters_[id].canonical != id) id = clusters_[id].canonical;
  return id;
}

int32_t Drain::Resolve(int32_t id) const {
  if (id < 0 || id >= static_cast<int32_t>(clusters_.size())) return -1;
  return Find(id);
}

DrainResult Drain::Add(std::string_view content) {
  Tokenize(content);
  const int32_t leaf = FindLeaf();
  const int32_t best = leaf >= 0 ? BestCluster(leaf) : -1;
  DrainResult r;
  if (best < 0) {
    last_cluster_ = CreateCluster();
    r.created = true;
  } else {
    last_cluster_ = best;
    r.changed = UpdateTemplate(best);
    ++clusters_[best].size;
    Touch(best);
  }
  r.template_id = Find(last_cluster_);
  return r;
}

DrainResult Drain::Match(std::string_view content) {
  Tokenize(content);
  const int32_t leaf = FindLeaf();
  last_cluster_ = leaf >= 0 ? BestCluster(leaf) : -1;
  DrainResult r;
  if (last_cluster_ >= 0) r.template_id = Find(last_cluster_);
  return r;
}

}  // namespace fedlog::logparse
