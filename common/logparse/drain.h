// Drain: online log template mining with a fixed-depth prefix tree (He et al., ICWS 2017), plus fixes for
// known Drain/Drain3 weaknesses (docs/PARSING.md explains each and docs/EVALUATION.md measures them):
//   * tokens are masked by hand-written scanners (<IP>, <NUM>, <HEX>, <PATH>, <BLK>) and, optionally, by user
//     RE2 regexes; a token holding a digit becomes a parameter but keeps its key ("uid=0" -> "uid=<*>");
//   * strict words: different words ("VM Started" / "VM Paused") are different events; a word position
//     becomes a parameter only when enough sibling clusters differ there alone (user names);
//   * templates that are identical, identical once runs of <*> collapse (variable-length parameters), or
//     identical in their words with optional masked values share one template id: no masked duplicates.
// Template ids are assigned in order of creation and survive Save/Load, so ids stored elsewhere stay valid.
//
// Thread-compatible: a Drain is used by one thread at a time (one per log source); ParseSourcesInParallel
// (parallel.h) runs several sources on their own threads. The token buffer is reused, so learning or
// matching a line allocates nothing once the line's template exists.
#ifndef FEDLOG_COMMON_LOGPARSE_DRAIN_H_
#define FEDLOG_COMMON_LOGPARSE_DRAIN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/logparse/masks.h"

namespace re2 {
class RE2;
}

namespace fedlog::logparse {

struct RegexMask {
  std::string pattern;                 // RE2 syntax
  std::string replacement = "<*>";     // e.g. "<*>" or "<UUID>"
};

struct DrainOptions {
  int depth = 4;                       // as logparser/Drain3: root, length layer, depth-3 token layers, leaves
  double sim_threshold = 0.5;          // strict_words == false: minimum share of equal tokens to join
  int max_children = 100;              // per tree node; further tokens share the <*> child
  int max_clusters = 0;                // 0: unlimited; otherwise least recently used clusters are evicted
  std::string extra_delimiters;        // characters split on besides whitespace, e.g. "=,"
  uint32_t masks = kAllMasks;          // built-in masks (masks.h)
  std::vector<RegexMask> regex_masks;  // applied to the content before tokenising, in order
  bool parametrize_numeric_tokens = true;  // a token holding a digit is <*>
  bool quoted_values = true;               // key="a b c" is one token whose quoted value is <*>
  bool mask_dotted_names = true;           // "com.android.phone" and "key=ffffffff" values are <*>
  bool merge_equivalent_templates = true;  // identical templates share an id
  bool collapse_parameter_runs = true;     // ... also when equal after collapsing runs of <*> (variable length)
  bool literal_skeleton_merge = true;      // ... also when their words (2 or more) agree, masked values ignored
  // strict_words == false: in templates this short two different words never merge. 0 disables.
  int short_template_max_tokens = 3;
  // Strict words: a line joins a cluster only if it equals the template at every non-parameter position, so
  // different words ("GET"/"POST", "Started"/"Paused") are different events; sim_threshold then does not
  // apply. A position becomes a parameter when sibling_merge_min clusters of one tree leaf differ only there
  // (e.g. user names), and those clusters merge.
  bool strict_words = true;
  int sibling_merge_min = 5;           // 0 disables sibling merging
  // A template with <*> where a cluster of the same leaf has a word absorbs that cluster ("invalid user <*>"
  // learnt from "test9" absorbs "invalid user webmaster").
  bool merge_subsumed_templates = true;
};

// The answer for one line.
struct DrainResult {
  int32_t template_id = -1;  // -1: no template (match-only mode found none)
  bool created = false;      // a new cluster was created for this line
  bool changed = false;      // an existing template gained a <*>
};

// One template as exposed to callers.
struct TemplateInfo {
  int32_t id;
  std::string text;  // tokens joined by single spaces, parameters as <*> or a named mask
  int64_t size;      // lines assigned to it (and to templates merged into it)
};

class Drain {
 public:
  // InvalidArgument for out-of-range options or a regex RE2 rejects.
  static absl::StatusOr<std::unique_ptr<Drain>> Create(const DrainOptions& options);
  // Restores a state written by Save; the options must use the same depth.
  static absl::StatusOr<std::unique_ptr<Drain>> Load(const std::string& path, const DrainOptions& options);
  // Restores a state held in memory (the text Serialize returns).
  static absl::StatusOr<std::unique_ptr<Drain>> Restore(std::string_view state, const DrainOptions& options);
  ~Drain();
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  // Learns from one line's content (header already removed) and returns its template id.
  DrainResult Add(std::string_view content);
  // Match-only mode for live scoring: finds the template without learning; template_id -1 when none fits.
  DrainResult Match(std::string_view content);

  // Parameters of the line last given to Add/Match under `template_id` (normally the id it returned): the
  // original text at each <*> or mask position, in order. Views point into that content (or into an internal
  // buffer when regex masks rewrote it) and are valid until the next Add/Match.
  void LastParameters(int32_t template_id, std::vector<std::string_view>* params) const;

  // The template text of `id` (after merges), "" for an unknown id.
  std::string TemplateText(int32_t id) const;
  // The id `id` was merged into (itself when not merged), or -1 when unknown. Ids returned by Add are
  // already resolved; ids stored earlier may have been merged since.
  int32_t Resolve(int32_t id) const;
  // All live templates (resolved ids only), by id.
  std::vector<TemplateInfo> Templates() const;
  int64_t num_clusters() const { return live_clusters_; }

  // Writes the state with WriteFileAtomic.
  absl::Status Save(const std::string& path) const;
  std::string Serialize() const;

 private:
  struct Token {
    std::string_view text;
    uint64_t hash;  // of the masked text; kWildHash for <*>
    MaskKind kind;
    uint16_t core_begin, core_len;  // the masked part, for parameters
    bool keyed = false;             // "uid=<*>": a literal name kept before the parameter
    uint64_t keyed_hash = 0;        // a plain "key=value": the hash of "key=<*>", else 0
  };
  struct Cluster {
    std::vector<std::string> tokens;
    std::vector<uint64_t> hashes;
    // 0 literal, 1 <*> or a mask from the line, 2 a keyed parameter ("uid=<*>"), 3 a word position learnt as <*>
    std::vector<uint8_t> param;
    std::vector<uint64_t> path;  // tree keys: length, then depth-2 token keys
    int64_t size = 0;
    int32_t canonical = 0;
    int32_t leaf = -1;            // -1 when evicted
    int32_t lru_prev = -1, lru_next = -1;
  };
  struct Node {
    absl::flat_hash_map<uint64_t, int32_t> children;
    std::vector<int32_t> clusters;
  };

  explicit Drain(const DrainOptions& options);
  absl::Status Init();
  void Tokenize(std::string_view content);
  void AddToken(std::string_view text, bool quoted);
  int32_t FindLeaf() const;
  int32_t BestCluster(int32_t leaf) const;
  int32_t CreateCluster();
  bool UpdateTemplate(int32_t id);
  void AttachToTree(int32_t id);
  void RegisterKey(int32_t id);
  void MergeSiblings(int32_t id);
  void MergeSubsumed(int32_t id);
  void ParametrizeNumeric(Token* t) const;
  void ParametrizeWordValue(Token* t) const;
  void MakeKeyed(Token* t, size_t p, size_t end) const;
  static uint64_t KeyedHash(std::string_view text);
  void Detach(int32_t id);
  int32_t Find(int32_t id) const;
  void Touch(int32_t id);
  void LruUnlink(int32_t id);
  void EvictIfNeeded();
  uint64_t TreeKey(const Token& t) const;
  absl::Status Deserialize(std::string_view text);
  void AlignParameters(const Cluster& c, std::vector<std::string_view>* params) const;
  std::string_view ParamText(const Token& t, bool named_template) const;

  DrainOptions options_;
  bool delimiter_[256] = {};
  std::vector<std::unique_ptr<re2::RE2>> regexes_;
  std::string rewritten_;         // content after regex masks
  std::vector<Token> tokens_;     // the current line
  std::vector<Cluster> clusters_;  // indexed by template id
  std::vector<Node> nodes_;        // nodes_[0] is the root
  absl::flat_hash_map<std::string, int32_t> key_to_id_;
  int64_t live_clusters_ = 0;
  int32_t lru_head_ = -1, lru_tail_ = -1;  // head = most recently used
  int32_t last_cluster_ = -1;              // the cluster of the line last given to Add/Match
};

// The hash Drain uses for tokens (FNV-1a, 64 bit): stable across processes and machines.
uint64_t TokenHash(std::string_view s, uint64_t h = 0xcbf29ce484222325ull);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_DRAIN_H_
