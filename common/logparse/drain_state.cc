// Drain: template queries, parameter extraction, LRU bookkeeping and the saved state format.
//
// State file (text, one record per line; tokens never hold whitespace, so spaces separate them):
//   fedlog-drain 1 depth=<D>
//   C <TAB> id <TAB> canonical <TAB> size <TAB> attached 0|1 <TAB> path keys (hex, comma-separated)
//     <TAB> parameter flags ("0110") <TAB> template tokens joined by spaces
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/logparse/drain.h"

namespace fedlog::logparse {

std::string_view Drain::ParamText(const Token& t, bool named_template) const {
  if (named_template && t.kind != MaskKind::kNone && (t.kind != MaskKind::kWildcard || t.core_begin > 0)) {
    return t.text.substr(t.core_begin, t.core_len);
  }
  return t.text;
}

void Drain::LastParameters(int32_t template_id, std::vector<std::string_view>* params) const {
  params->clear();
  if (last_cluster_ < 0 || template_id < 0 || template_id >= static_cast<int32_t>(clusters_.size())) return;
  const Cluster& own = clusters_[last_cluster_];
  const Cluster& c = Find(last_cluster_) == template_id && own.hashes.size() == tokens_.size()
                         ? own : clusters_[template_id];
  if (c.hashes.size() != tokens_.size()) {
    AlignParameters(c, params);
    return;
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (c.param[i]) params->push_back(ParamText(tokens_[i], c.tokens[i] != "<*>"));
  }
}

// Aligns a template of a different length (merged variable-length event): literal tokens must match in order,
// a parameter takes tokens up to the next literal that matches (at least one), the last one takes the rest.
void Drain::AlignParameters(const Cluster& c, std::vector<std::string_view>* params) const {
  size_t j = 0;
  const size_t n = tokens_.size();
  for (size_t i = 0; i < c.hashes.size() && j < n; ++i) {
    if (!c.param[i]) {
      if (tokens_[j].hash != c.hashes[i]) return;  // the line does not fit; keep what was found
      ++j;
      continue;
    }
    size_t end = j + 1;
    if (i + 1 == c.hashes.size()) {
      end = n;
    } else if (!c.param[i + 1]) {
      while (end < n && tokens_[end].hash != c.hashes[i + 1]) ++end;
    }
    const char* begin = tokens_[j].text.data();
    const char* last = tokens_[end - 1].text.data() + tokens_[end - 1].text.size();
    params->push_back(end == j + 1 ? ParamText(tokens_[j], c.tokens[i] != "<*>")
                                   : std::string_view(begin, static_cast<size_t>(last - begin)));
    j = end;
  }
}

std::string Drain::TemplateText(int32_t id) const {
  const int32_t r = Resolve(id);
  if (r < 0) return "";
  return absl::StrJoin(clusters_[r].tokens, " ");
}

std::vector<TemplateInfo> Drain::Templates() const {
  std::vector<int64_t> sizes(clusters_.size(), 0);
  for (size_t id = 0; id < clusters_.size(); ++id) sizes[Find(static_cast<int32_t>(id))] += clusters_[id].size;
  std::vector<TemplateInfo> out;
  for (size_t id = 0; id < clusters_.size(); ++id) {
    if (clusters_[id].canonical != static_cast<int32_t>(id)) continue;
    out.push_back({static_cast<int32_t>(id), absl::StrJoin(clusters_[id].tokens, " "), sizes[id]});
  }
  return out;
}

void Drain::LruUnlink(int32_t id) {
  Cluster& c = clusters_[id];
  if (c.lru_prev >= 0) clusters_[c.lru_prev].lru_next = c.lru_next;
  if (c.lru_next >= 0) clusters_[c.lru_next].lru_prev = c.lru_prev;
  if (lru_head_ == id) lru_head_ = c.lru_next;
  if (lru_tail_ == id) lru_tail_ = c.lru_prev;
  c.lru_prev = c.lru_next = -1;
}

void Drain::Touch(int32_t id) {
  if (options_.max_clusters == 0 || lru_head_ == id) return;
  LruUnlink(id);
  Cluster& c = clusters_[id];
  c.lru_next = lru_head_;
  if (lru_head_ >= 0) clusters_[lru_head_].lru_prev = id;
  lru_head_ = id;
  if (lru_tail_ < 0) lru_tail_ = id;
}

// Evicted clusters leave the tree; an id stays resolvable, and a template other ids were merged into keeps its
// text, so evicting bounds the matching work while stored ids never dangle.
void Drain::EvictIfNeeded() {
  while (options_.max_clusters > 0 && live_clusters_ > options_.max_clusters && lru_tail_ >= 0) {
    Detach(lru_tail_);
  }
}

std::string Drain::Serialize() const {
  std::string out = absl::StrCat("fedlog-drain 1 depth=", options_.depth, "\n");
  for (size_t id = 0; id < clusters_.size(); ++id) {
    const Cluster& c = clusters_[id];
    std::vector<std::string> path;
    for (uint64_t k : c.path) path.push_back(absl::StrCat(absl::Hex(k)));
    std::string flags;
    for (uint8_t p : c.param) flags.push_back(static_cast<char>('0' + p));
    absl::StrAppend(&out, "C\t", id, "\t", c.canonical, "\t", c.size, "\t", c.leaf >= 0 ? 1 : 0, "\t",
                    absl::StrJoin(path, ","), "\t", flags, "\t", absl::StrJoin(c.tokens, " "), "\n");
  }
  return out;
}

absl::Status Drain::Save(const std::string& path) const {
  return Annotate(WriteFileAtomic(path, Serialize()), "saving drain state");
}

absl::StatusOr<std::unique_ptr<Drain>> Drain::Load(const std::string& path, const DrainOptions& options) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<std::unique_ptr<Drain>> d = Restore(text, options);
  if (!d.ok()) return Annotate(d.status(), "loading drain state " + path);
  return d;
}

absl::StatusOr<std::unique_ptr<Drain>> Drain::Restore(std::string_view state, const DrainOptions& options) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<Drain> d, Create(options));
  FEDLOG_RETURN_IF_ERROR(d->Deserialize(state));
  return d;
}

absl::Status Drain::Deserialize(std::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(absl::string_view(text.data(), text.size()), '\n',
                                                        absl::SkipEmpty());
  if (lines.empty() || lines[0] != absl::StrCat("fedlog-drain 1 depth=", options_.depth)) {
    return absl::InvalidArgumentError("not a drain state of this version and depth");
  }
  std::vector<int32_t> attached;
  for (size_t ln = 1; ln < lines.size(); ++ln) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[ln], '\t');
    int32_t id = 0, canonical = 0, alive = 0;
    int64_t size = 0;
    if (f.size() != 8 || f[0] != "C" || !absl::SimpleAtoi(f[1], &id) || !absl::SimpleAtoi(f[2], &canonical) ||
        !absl::SimpleAtoi(f[3], &size) || !absl::SimpleAtoi(f[4], &alive) ||
        id != static_cast<int32_t>(clusters_.size()) || canonical < 0 || canonical > id) {
      return absl::InvalidArgumentError(absl::StrCat("bad record on line ", ln + 1));
    }
    Cluster c;
    c.canonical = canonical;
    c.size = size;
    for (absl::string_view k : absl::StrSplit(f[5], ',', absl::SkipEmpty())) {
      uint64_t key = 0;
      if (!absl::SimpleHexAtoi(k, &key)) return absl::InvalidArgumentError(absl::StrCat("bad key, line ", ln + 1));
      c.path.push_back(key);
    }
    for (absl::string_view t : absl::StrSplit(f[7], ' ', absl::SkipEmpty())) c.tokens.emplace_back(t);
    if (f[6].size() != c.tokens.size() || c.path.empty() || c.path[0] != c.tokens.size()) {
      return absl::InvalidArgumentError(absl::StrCat("inconsistent template on line ", ln + 1));
    }
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      if (f[6][i] < '0' || f[6][i] > '3') return absl::InvalidArgumentError(absl::StrCat("bad flags, line ", ln + 1));
      c.param.push_back(static_cast<uint8_t>(f[6][i] - '0'));
      c.hashes.push_back(TokenHash(c.tokens[i]));
    }
    clusters_.push_back(std::move(c));
    if (alive) attached.push_back(id);
  }
  for (int32_t id : attached) {
    AttachToTree(id);
    Touch(id);
    ++live_clusters_;
  }
  for (size_t id = 0; id < clusters_.size(); ++id) RegisterKey(static_cast<int32_t>(id));
  return absl::OkStatus();
}

}  // namespace fedlog::logparse
