#include "common/logparse/drain.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace fedlog::logparse {
namespace {

const uint64_t kWildHash = TokenHash("<*>");

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Weekday and month abbreviations ("Mon", "Jun") are parts of dates and size units ("KB") parts of sizes,
// hence parameters like the numbers they come with.
// Three or more dot-separated parts of letters, digits, '_', '$' or '-', or 4+ hex digits.
bool IsDottedName(std::string_view v) {
  int dots = 0;
  bool hex_only = v.size() >= 4;
  size_t part = 0;
  for (char c : v) {
    if (c == '.') {
      if (part == 0) return false;
      ++dots;
      part = 0;
      hex_only = false;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c);
    if (!alnum && c != '_' && c != '$' && c != '-') return false;
    hex_only &= IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    ++part;
  }
  return (dots >= 2 && part > 0) || hex_only;
}

bool IsCalendarWord(std::string_view t) {
  if (t.size() > 3) return false;
  if (t == "B" || t == "KB" || t == "kB" || t == "MB" || t == "GB" || t == "TB" || t == "KiB" || t == "MiB" ||
      t == "GiB" || t == "ms" || t == "sec") {
    return true;
  }
  if (t.size() != 3) return false;
  static constexpr std::string_view kWords[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb",
                                                "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                                "Dec"};
  for (std::string_view w : kWords) {
    if (t == w) return true;
  }
  return false;
}

}  // namespace

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

void Drain::Tokenize(std::string_view content) {
  tokens_.clear();
  if (!regexes_.empty()) {
    rewritten_.assign(content.data(), content.size());
    for (size_t i = 0; i < regexes_.size(); ++i) {
      re2::RE2::GlobalReplace(&rewritten_, *regexes_[i], options_.regex_masks[i].replacement);
    }
    content = rewritten_;
  }
  const size_t n = content.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && delimiter_[static_cast<unsigned char>(content[i])]) ++i;
    const size_t start = i;
    bool quote_open = false;  // key="a value with spaces" is one token (logfmt style)
    bool quoted = false;
    while (i < n) {
      const char c = content[i];
      if (c == '"' && options_.quoted_values && i > start && (quote_open || content[i - 1] == '=')) {
        quote_open = !quote_open;
        quoted = true;
      } else if (delimiter_[static_cast<unsigned char>(c)] && (!quote_open || i - start > 256)) {
        break;
      }
      ++i;
    }
    if (i > start) AddToken(content.substr(start, i - start), quoted);
  }
}

void Drain::AddToken(std::string_view text, bool quoted) {
  // One pass computes the hash and the character classes that decide which scanners can apply.
  uint64_t h = 0xcbf29ce484222325ull;
  bool digit = false, slash = false, dot_or_eq = false;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
    digit |= IsDigit(static_cast<char>(c));
    slash |= c == '/' || c == '\\';
    dot_or_eq |= c == '.' || c == '=';
  }
  Token t{text, h, MaskKind::kNone, 0, static_cast<uint16_t>(std::min<size_t>(text.size(), 65535))};
  if (!regexes_.empty() && text.find('<') != std::string_view::npos &&
      (IsPlaceholder(text) || text.find("<*>") != std::string_view::npos)) {
    t.kind = text == "<*>" ? MaskKind::kWildcard : MaskKind::kRegex;  // masked by a user regex
  } else if (digit || slash) {
    TokenCore core = FindCore(text);
    MaskKind kind = ClassifyCore(text.substr(core.begin, core.end - core.begin), options_.masks);
    if (kind != MaskKind::kNone && core.begin < 65535 && core.end - core.begin < 65535) {
      t.kind = kind;
      t.core_begin = static_cast<uint16_t>(core.begin);
      t.core_len = static_cast<uint16_t>(core.end - core.begin);
      t.hash = TokenHash(text.substr(core.end), TokenHash(MaskPlaceholder(kind), TokenHash(text.substr(0, core.begin))));
    } else if (digit && options_.parametrize_numeric_tokens) {
      ParametrizeNumeric(&t);
    }
  } else if (options_.parametrize_numeric_tokens && text.size() <= 5 &&
             IsCalendarWord(text.substr(0, FindCore(text).end))) {
    t.kind = MaskKind::kWildcard;
    t.hash = kWildHash;
  } else if (options_.mask_dotted_names && dot_or_eq) {
    ParametrizeWordValue(&t);
  }
  if (quoted && t.kind == MaskKind::kNone) {
    // A quoted value may hold delimiters, which a template word must not: it is always the parameter.
    const size_t eq = text.find("=\"");
    if (eq != std::string_view::npos) {
      const size_t end = FindCore(text).end;
      MakeKeyed(&t, eq + 2, end > eq + 2 ? end : text.size());
    } else {
      t.kind = MaskKind::kWildcard;
      t.hash = kWildHash;
    }
  }
  if (t.kind == MaskKind::kNone && dot_or_eq) t.keyed_hash = KeyedHash(text);
  tokens_.push_back(t);
}

// Digit-free values: dotted names ("com.android.phone", "a.b.c") and, after "key=", runs of 4+ hex digits
// ("mask=ffffffff"). Dotted names are values in message text; class names live in the header's component.
void Drain::ParametrizeWordValue(Token* t) const {
  const TokenCore core = FindCore(t->text);
  size_t eq = t->text.find('=');
  if (options_.quoted_values && eq != std::string_view::npos && eq + 1 < t->text.size() && t->text[eq + 1] == '"') {
    if (eq + 2 <= core.end) MakeKeyed(t, eq + 2, core.end);  // tag="View Lock", -> tag="<*>",
    return;
  }
  size_t start = (eq != std::string_view::npos && eq < core.end) ? eq + 1 : core.begin;
  if (start >= core.end) return;
  const std::string_view value = t->text.substr(start, core.end - start);
  if (!IsDottedName(value)) return;
  if (start == 0 || start == core.begin) {
    t->kind = MaskKind::kWildcard;
    t->hash = kWildHash;
    return;
  }
  MakeKeyed(t, start, core.end);
}

// "name=android," -> hash of "name=<*>,", the form the token takes when its value is a parameter; 0 when
// the token is no key=value pair.
uint64_t Drain::KeyedHash(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) return 0;
  size_t p = eq + 1;
  if (p < text.size() && text[p] == '"') ++p;
  size_t end = FindCore(text).end;
  if (end <= p) end = text.size();
  if (end <= p) return 0;
  return TokenHash(text.substr(end), TokenHash("<*>", TokenHash(text.substr(0, p))));
}

void Drain::MakeKeyed(Token* t, size_t p, size_t end) const {
  t->kind = MaskKind::kWildcard;
  t->keyed = true;
  t->core_begin = static_cast<uint16_t>(std::min<size_t>(p, 65535));
  t->core_len = static_cast<uint16_t>(std::min<size_t>(end - p, 65535));
  t->hash = TokenHash(t->text.substr(end), TokenHash("<*>", TokenHash(t->text.substr(0, p))));
}

// "uid=0" -> "uid=<*>", "node-246" -> "node-<*>": a name before a separator stays literal, so keys of
// key=value pairs keep events apart; a token without such a name ("test9", "2005") is "<*>" whole.
void Drain::ParametrizeNumeric(Token* t) const {
  t->kind = MaskKind::kWildcard;
  t->hash = kWildHash;
  size_t p = 0;
  bool letter = false;
  while (p < t->text.size() && !IsDigit(t->text[p])) {
    const char c = t->text[p];
    letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    ++p;
  }
  if (p >= 2 && (t->text[p - 1] == '-' || t->text[p - 1] == '+') &&
      (t->text[p - 2] == '=' || t->text[p - 2] == ':')) {
    --p;  // "Translation=-5": the sign belongs to the value
  }
  const size_t eq = t->text.find('=');
  if (eq != std::string_view::npos && eq > 0 && eq < p) {
    // key=value: the whole value is the parameter ("oldVal=c0000700", "ws=WorkSource{10113}").
    p = eq + 1;
    if (p < t->text.size() && t->text[p] == '"') ++p;
    letter = false;
    for (size_t k = 0; k < eq; ++k) letter |= absl::ascii_isalpha(static_cast<unsigned char>(t->text[k]));
  }
  if (p == 0 || !letter || p > 64) return;
  const char sep = t->text[p - 1];
  if (sep == ':' && std::count(t->text.begin(), t->text.begin() + static_cast<int64_t>(p), '.') >= 2) {
    return;  // "host.example.org:5070": a host and port, a value as a whole
  }
  if (sep != '=' && sep != ':' && sep != '-' && sep != '_' && sep != '.' && sep != '#' && sep != '@') return;
  size_t end = FindCore(t->text).end;  // closing brackets and punctuation stay literal: "(uid=<*>)"
  if (end <= p) end = t->text.size();
  MakeKeyed(t, p, end);
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
