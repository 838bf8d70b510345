#include "client/local_data.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/features/line_featurizer.h"

namespace fedlog::client {
namespace {

void CopyRows(const DenseMatrix& from, const std::vector<int64_t>& rows, size_t begin, size_t end,
              DenseMatrix* to) {
  *to = DenseMatrix(static_cast<int64_t>(end - begin), from.cols);
  for (size_t i = begin; i < end; ++i) {
    std::copy(from.Row(rows[i]), from.Row(rows[i]) + from.cols, to->Row(static_cast<int64_t>(i - begin)));
  }
}

}  // namespace

absl::StatusOr<std::vector<SourceLines>> ReadSources(const v1::ClientConfig& config) {
  std::vector<SourceLines> out;
  for (const auto& src : config.sources()) {
    FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(src.path()));
    SourceLines s;
    s.name = src.name();
    s.format = src.format().empty() ? src.name() : src.format();
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      s.contents.emplace_back(line);
      if (src.max_lines() > 0 && static_cast<int>(s.contents.size()) >= src.max_lines()) break;
    }
    if (s.contents.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("source '", src.name(), "' (", src.path(), ") has no lines"));
    }
    FEDLOG_LOG(INFO) << "source " << s.name << ": " << s.contents.size() << " lines from " << src.path();
    out.push_back(std::move(s));
  }
  return out;
}

LocalDataset BuildDataset(const std::vector<SourceLines>& sources, int input_dim, int holdout_percent,
                          uint64_t seed) {
  features::LineFeaturizerOptions fo;
  fo.hash_dim = std::max(1, input_dim - features::LineFeaturizer::kDenseDims);
  features::LineFeaturizer featurizer(fo);
  std::vector<std::string> all;
  std::unordered_set<std::string> distinct;
  for (const auto& s : sources) {
    for (const auto& c : s.contents) {
      all.push_back(c);
      distinct.insert(c);
    }
  }
  DenseMatrix x = featurizer.FeaturizeAll(all);
  std::vector<int64_t> rows(static_cast<size_t>(x.rows));
  std::iota(rows.begin(), rows.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(rows.begin(), rows.end(), rng);
  size_t holdout = rows.size() * static_cast<size_t>(std::clamp(holdout_percent, 0, 90)) / 100;
  LocalDataset d;
  CopyRows(x, rows, 0, holdout, &d.holdout);
  CopyRows(x, rows, holdout, rows.size(), &d.train);
  d.distinct_lines = static_cast<int64_t>(distinct.size());
  return d;
}

}  // namespace fedlog::client
