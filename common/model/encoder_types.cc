#include "common/model/encoder_types.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace fedlog::model {
namespace {

bool WellFormedSource(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

template <typename T>
absl::Status CheckOptionalLength(const std::vector<T>& field, int64_t n, const char* what) {
  if (!field.empty() && static_cast<int64_t>(field.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", field.size(), " entries for ", n, " lines"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateEncoderSpec(const EncoderSpec& spec) {
  if (spec.vocab_buckets <= 0 || spec.token_dim <= 0 || spec.out_dim <= 0 ||
      spec.adapter_dim <= 0 || spec.head_dim <= 0 || spec.dense_dim < 0) {
    return absl::InvalidArgumentError("encoder sizes must be positive (dense_dim may be 0)");
  }
  for (int h : spec.hidden) {
    if (h <= 0) return absl::InvalidArgumentError("encoder hidden widths must be positive");
  }
  if (!(spec.dropout >= 0.0f && spec.dropout < 1.0f)) {
    return absl::InvalidArgumentError("encoder dropout must be in [0, 1)");
  }
  std::set<std::string> seen;
  for (const std::string& s : spec.sources) {
    // Names become parameter-name components, so a dot would break the `adapter.<source>.` prefix
    // rule.
    if (!WellFormedSource(s)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad source name '", s, "' (use [A-Za-z0-9_-]+)"));
    }
    if (!seen.insert(s).second)
      return absl::InvalidArgumentError(absl::StrCat("duplicate source '", s, "'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLineSet(const EncoderSpec& spec, const LineSet& lines) {
  const int64_t n = lines.size();
  // An empty set may leave `dense` default-constructed (0 x 0), e.g. a k = 0 support set.
  if ((spec.dense_dim > 0 && n > 0) || lines.dense.rows > 0) {
    if (lines.dense.rows != n || lines.dense.cols != spec.dense_dim) {
      return absl::InvalidArgumentError(absl::StrCat("dense features are ", lines.dense.rows, "x",
                                                     lines.dense.cols, ", expected ", n, "x",
                                                     spec.dense_dim));
    }
    if (static_cast<int64_t>(lines.dense.data.size()) != n * spec.dense_dim) {
      return absl::InvalidArgumentError("dense feature matrix size does not match rows x cols");
    }
  }
  if (auto s = CheckOptionalLength(lines.sources, n, "sources"); !s.ok()) return s;
  if (auto s = CheckOptionalLength(lines.template_ids, n, "template_ids"); !s.ok()) return s;
  if (auto s = CheckOptionalLength(lines.labels, n, "labels"); !s.ok()) return s;
  std::set<std::string> known(spec.sources.begin(), spec.sources.end());
  for (const std::string& s : lines.sources) {
    if (!s.empty() && known.count(s) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("line source '", s, "' has no adapter in the encoder"));
    }
  }
  for (int label : lines.labels) {
    if (label < 0) return absl::InvalidArgumentError("labels must be >= 0");
  }
  return absl::OkStatus();
}

LineSet SelectLines(const LineSet& lines, const std::vector<int64_t>& rows) {
  LineSet out;
  out.tokens.reserve(rows.size());
  const int64_t cols = lines.dense.cols;
  if (lines.dense.rows > 0) out.dense = DenseMatrix(static_cast<int64_t>(rows.size()), cols);
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t r = rows[i];
    out.tokens.push_back(lines.tokens[r]);
    if (lines.dense.rows > 0)
      std::copy(lines.dense.Row(r), lines.dense.Row(r) + cols, out.dense.Row(i));
    if (!lines.sources.empty()) out.sources.push_back(lines.sources[r]);
    if (!lines.template_ids.empty()) out.template_ids.push_back(lines.template_ids[r]);
    if (!lines.labels.empty()) out.labels.push_back(lines.labels[r]);
  }
  return out;
}

bool HasBothClasses(const std::vector<int>& labels) {
  bool normal = false, anomalous = false;
  for (int y : labels) {
    normal |= y == 0;
    anomalous |= y > 0;
  }
  return normal && anomalous;
}

}  // namespace fedlog::model
