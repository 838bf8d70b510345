// TextFeaturizer: a dense, fixed-length, human-readable description of one log line's content - its
// shape (length, token count, character ratios, entropy), the entities it mentions (IPs, hex
// values, paths, numbers), alarm keywords and the severity level. Every dimension is named by
// FeatureNames() and defined in docs/FEATURES.md; values are unscaled except the two log1p lengths,
// so standardise before distance-based models. Complements LineFeaturizer's hashed tokens: these
// features carry across log sources. Thread-safety: stateless; all methods are const or static and
// safe to call concurrently.
#ifndef FEDLOG_COMMON_FEATURES_TEXT_FEATURES_H_
#define FEDLOG_COMMON_FEATURES_TEXT_FEATURES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/base/dense_matrix.h"

namespace fedlog::features {

// Severity classes of the level one-hot block.
enum class LevelClass { kTrace, kDebug, kInfo, kWarn, kError, kFatal, kOther };

// Maps a level string to its class, case-insensitively and ignoring surrounding []<>():. Recognises
// TRACE/VERBOSE/FINEST/V, DEBUG/FINE/D, INFO/NOTICE/I, WARN/WARNING/W, ERROR/ERR/SEVERE/E,
// FATAL/CRITICAL/CRIT/EMERG/ALERT/FAILURE/PANIC/F/A; anything else (and "") is kOther.
LevelClass ClassifyLevel(absl::string_view level);

// The class of the first token among the first four of `content` that names a level, ignoring the
// one-letter forms (too ambiguous inside free text); kOther when none does.
LevelClass DetectLevel(absl::string_view content);

class TextFeaturizer {
 public:
  static constexpr int kDim = 29;

  // Names of the kDim dimensions in output order.
  static const std::vector<std::string>& FeatureNames();

  // Writes kDim floats for `content` into `out` (out.size() must be kDim). `level` is the parser's
  // level field when the format has one; when empty the level is detected from the content
  // (DetectLevel).
  void Featurize(absl::string_view content, absl::string_view level, absl::Span<float> out) const;
  std::vector<float> Featurize(absl::string_view content, absl::string_view level = "") const;

  // One row per content; levels[i], when present, is the level of contents[i] (missing ones are
  // detected).
  DenseMatrix FeaturizeAll(const std::vector<std::string>& contents,
                           const std::vector<std::string>& levels = {}) const;
};

}  // namespace fedlog::features

#endif  // FEDLOG_COMMON_FEATURES_TEXT_FEATURES_H_
