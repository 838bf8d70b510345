#include "common/base/suggest.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fedlog {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string ClosestName(absl::string_view word, const std::vector<std::string>& names) {
  if (word.empty() || word.size() > 64) return "";
  const size_t limit = std::clamp<size_t>(word.size() / 3, 1, 2);
  std::string best;
  size_t best_distance = limit + 1;
  bool tie = false;
  for (const std::string& name : names) {
    if (name.size() > 64) continue;
    const size_t distance = EditDistance(word, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
      tie = false;
    } else if (distance == best_distance && name != best) {
      tie = true;
    }
  }
  return best_distance <= limit && !tie ? best : "";
}

std::string DidYouMean(absl::string_view word, const std::vector<std::string>& names, absl::string_view prefix) {
  const std::string name = ClosestName(word, names);
  return name.empty() ? "" : absl::StrCat(" (did you mean '", prefix, name, "'?)");
}

}  // namespace fedlog
