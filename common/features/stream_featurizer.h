// StreamFeaturizer: the per-line feature vector shared by training and live scoring. It is fed one
// parsed line at a time, together with the line's Drain template, and keeps a little state per log
// source (template counts, the last few lines), so a line's features depend only on the lines of
// its own source that came before it. Training code runs the same object over a recorded log
// (FeaturizeBatch, batch_featurizer.h); the site detector runs it on the live stream: both see
// identical vectors for identical input.
//
// Each line yields
//   * `dense`: dim() floats in five named blocks (template, text, window statistics over the last
//   5/10/20/50
//     lines of the source, temporal); every dimension is named by feature_names() and defined in
//     docs/FEATURES.md. Values are unscaled: fit a StandardScaler (scaler.h) on training rows only.
//   * `tokens`: the sparse semantic input of the learned encoder: hashed word and bigram ids of the
//   masked
//     content, each in [1, token_buckets) (0 is left free for padding).
//
// Thread-compatible: Featurize mutates per-source state; use one featurizer per thread (or lock
// around it).
#ifndef FEDLOG_COMMON_FEATURES_STREAM_FEATURIZER_H_
#define FEDLOG_COMMON_FEATURES_STREAM_FEATURIZER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/features/text_features.h"
#include "common/logparse/time_parse.h"

namespace fedlog::features {

struct StreamFeaturizerOptions {
  // Window lengths in lines (of the same source, the current line included); each adds kWindowStats
  // dims.
  std::vector<int> windows = {5, 10, 20, 50};
  // Semantic token ids are in [1, token_buckets).
  int token_buckets = 1 << 16;
  // At most this many word tokens per line are hashed (bigrams come on top), so long lines stay
  // cheap.
  int max_words = 64;
  bool bigrams = true;
  // Two consecutive lines at most this many seconds apart count as a burst (window stat
  // `burst_rate`).
  double burst_gap_s = 1.0;
};

// One line as the featurizer sees it. Views must stay valid for the duration of Featurize only.
struct LineEvent {
  std::string_view source;   // log source / file / host: the key of the per-source state
  std::string_view content;  // ParsedLine::content
  std::string_view level;    // ParsedLine::level; empty: detected from the content
  int64_t time_ms = logparse::kNoTime;
  int32_t template_id = -1;        // DrainResult::template_id; -1 when the line has no template
  std::string_view template_text;  // Drain::TemplateText(template_id) at this point of the stream
};

struct LineFeatures {
  std::vector<float> dense;     // dim() values, in feature_names() order
  std::vector<int32_t> tokens;  // semantic bucket ids, words then bigrams, in order of appearance
};

class StreamFeaturizer {
 public:
  static constexpr int kTemplateDims = 8;
  static constexpr int kWindowStats = 8;
  static constexpr int kTemporalDims = 6;

  // InvalidArgument for an empty or non-positive window list, token_buckets < 2 or max_words < 1.
  static absl::StatusOr<StreamFeaturizer> Create(StreamFeaturizerOptions options = {});

  int dim() const { return static_cast<int>(names_.size()); }
  const std::vector<std::string>& feature_names() const { return names_; }
  const StreamFeaturizerOptions& options() const { return options_; }

  // Computes the features of `event` into `out` (resized to dim()), then records the line in the
  // state of its source. Lines must arrive in stream order per source; sources may interleave
  // freely.
  void Featurize(const LineEvent& event, LineFeatures* out);

  // Forgets every source's state (e.g. between cross-validation folds).
  void Reset() { sources_.clear(); }
  int num_sources() const { return static_cast<int>(sources_.size()); }

  // Semantic tokens of `content` alone (no state): what Featurize puts in LineFeatures::tokens.
  std::vector<int32_t> HashTokens(std::string_view content) const;

 private:
  struct Recent {
    int32_t template_id;
    bool error;
    bool novel;
    float rarity;
    int64_t time_ms;
  };
  struct SourceState {
    absl::flat_hash_map<int32_t, int64_t> template_counts;
    int64_t lines = 0;
    int64_t last_time_ms = logparse::kNoTime;
    std::deque<Recent> recent;  // newest at the back, at most max(windows) entries
  };

  explicit StreamFeaturizer(StreamFeaturizerOptions options);
  void TemplateBlock(const LineEvent& event, SourceState& state, float* out, Recent* now) const;
  void WindowBlock(const SourceState& state, float* out) const;
  void TemporalBlock(const LineEvent& event, const SourceState& state, float* out) const;

  StreamFeaturizerOptions options_;
  std::vector<std::string> names_;
  size_t max_window_ = 0;
  int level_error_col_ = 0;  // dense columns of the text block's level_error / level_fatal one-hot
  int level_fatal_col_ = 0;
  TextFeaturizer text_;
  absl::flat_hash_map<std::string, SourceState> sources_;
};

}  // namespace fedlog::features

#endif  // FEDLOG_COMMON_FEATURES_STREAM_FEATURIZER_H_
