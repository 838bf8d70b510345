#include "common/fewshot/fewshot.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/logparse/drain.h"
#include "common/novelty/site_threshold.h"

namespace fedlog::fewshot {
namespace {

constexpr int kSimilarityFeatures = 5;

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
}

// Similarity summary of `unit` against each class of the support, without index `skip`.
void Similarities(const Unit& unit, const std::vector<Unit>& support, const std::vector<int>& labels,
                  int skip, double out[kSimilarityFeatures]) {
  double best[2] = {0, 0}, sum[2] = {0, 0};
  int n[2] = {0, 0};
  for (size_t i = 0; i < support.size(); ++i) {
    if (static_cast<int>(i) == skip) continue;
    const int c = labels[i] > 0 ? 1 : 0;
    const double s = Jaccard(unit.tokens, support[i].tokens);
    best[c] = std::max(best[c], s);
    sum[c] += s;
    ++n[c];
  }
  out[0] = best[1];
  out[1] = best[0];
  out[2] = best[1] - best[0];
  out[3] = n[1] > 0 ? sum[1] / n[1] : 0;
  out[4] = n[0] > 0 ? sum[0] / n[0] : 0;
}

}  // namespace

void AddTokens(int32_t template_id, std::string_view content, Unit* unit) {
  unit->tokens.push_back(logparse::TokenHash(absl::StrCat("T", template_id)));
  size_t i = 0;
  while (i < content.size()) {
    while (i < content.size() && !IsWordChar(content[i])) ++i;
    const size_t start = i;
    bool digit = false;
    while (i < content.size() && IsWordChar(content[i])) {
      digit = digit || std::isdigit(static_cast<unsigned char>(content[i])) != 0;
      ++i;
    }
    if (i > start && !digit) unit->tokens.push_back(logparse::TokenHash(content.substr(start, i - start)));
  }
}

void Finish(Unit* unit) {
  std::sort(unit->tokens.begin(), unit->tokens.end());
  unit->tokens.erase(std::unique(unit->tokens.begin(), unit->tokens.end()), unit->tokens.end());
}

double Jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  size_t i = 0, j = 0, both = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++both, ++i, ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  const size_t either = a.size() + b.size() - both;
  return either == 0 ? 0.0 : static_cast<double>(both) / static_cast<double>(either);
}

double Jaccard1nnScore(const Unit& unit, const std::vector<Unit>& support,
                       const std::vector<int>& labels, int skip) {
  double s[kSimilarityFeatures];
  Similarities(unit, support, labels, skip, s);
  return s[2];
}

std::vector<float> FewShotDetector::Features(const Unit& unit, int skip) const {
  double s[kSimilarityFeatures];
  Similarities(unit, support_, labels_, skip, s);
  std::vector<float> row(s, s + kSimilarityFeatures);
  for (double v : unit.signals) row.push_back(static_cast<float>(std::log1p(std::max(0.0, v))));
  return row;
}

absl::StatusOr<FewShotDetector> FewShotDetector::Fit(const std::vector<Unit>& support,
                                                     const std::vector<int>& labels,
                                                     const FewShotOptions& options) {
  if (support.size() != labels.size() || support.size() < 2) {
    return absl::InvalidArgumentError("fewshot: support and labels must match, at least 2 units");
  }
  const int positives = static_cast<int>(std::count_if(labels.begin(), labels.end(), [](int y) { return y > 0; }));
  if (positives == 0 || positives == static_cast<int>(labels.size())) {
    return absl::InvalidArgumentError("fewshot: the support needs both classes");
  }
  for (const Unit& u : support) {
    if (u.signals.size() != support[0].signals.size()) {
      return absl::InvalidArgumentError("fewshot: every unit needs the same number of signals");
    }
  }
  FewShotDetector d;
  d.support_ = support;
  for (int y : labels) d.labels_.push_back(y > 0 ? 1 : 0);
  const int64_t n = static_cast<int64_t>(support.size());
  const int64_t width = kSimilarityFeatures + static_cast<int64_t>(support[0].signals.size());
  DenseMatrix x(n, width);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> row = d.Features(support[static_cast<size_t>(i)], static_cast<int>(i));
    std::copy(row.begin(), row.end(), x.Row(i));
  }
  classic::LogisticRegressionOptions lo;
  lo.l2 = options.l2;
  d.model_ = classic::LogisticRegression(lo);
  FEDLOG_RETURN_IF_ERROR(d.model_.Fit(x, d.labels_, {}));
  // Leave-one-out scores of the support give the operating threshold.
  std::vector<double> loo(static_cast<size_t>(n), 0.5);
  for (int64_t i = 0; i < n; ++i) {
    DenseMatrix rest(n - 1, width), one(1, width);
    std::vector<int> y;
    for (int64_t r = 0, o = 0; r < n; ++r) {
      if (r == i) continue;
      std::copy(x.Row(r), x.Row(r) + width, rest.Row(o++));
      y.push_back(d.labels_[static_cast<size_t>(r)]);
    }
    std::copy(x.Row(i), x.Row(i) + width, one.Row(0));
    classic::LogisticRegression m(lo);
    if (!m.Fit(rest, y, {}).ok()) continue;  // one class left: keep the neutral 0.5
    FEDLOG_ASSIGN_OR_RETURN(std::vector<double> s, m.Score(one));
    loo[static_cast<size_t>(i)] = s[0];
  }
  if (!novelty::MaxF1Threshold(loo, d.labels_, &d.threshold_)) d.threshold_ = 0.5;
  return d;
}

double FewShotDetector::Score(const Unit& unit) const {
  const std::vector<float> row = Features(unit, -1);
  DenseMatrix x(1, static_cast<int64_t>(row.size()));
  std::copy(row.begin(), row.end(), x.Row(0));
  absl::StatusOr<std::vector<double>> s = model_.Score(x);
  return s.ok() ? (*s)[0] : 0.0;
}

}  // namespace fedlog::fewshot
