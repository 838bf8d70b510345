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

absl::Status FewShotOptions::Validate() const {
  if (!(match > 0 && match <= 1)) return absl::InvalidArgumentError("fewshot: match must be in (0, 1]");
  if (!(label_prior > 0)) return absl::InvalidArgumentError("fewshot: label_prior must be > 0");
  return absl::OkStatus();
}

absl::StatusOr<FewShotDetector> FewShotDetector::Fit(const std::vector<Unit>& support,
                                                     const std::vector<int>& labels,
                                                     const FewShotOptions& options,
                                                     double free_threshold) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  if (support.size() != labels.size() || support.empty()) {
    return absl::InvalidArgumentError("fewshot: support and labels must match, at least 1 unit");
  }
  FewShotDetector d;
  d.options_ = options;
  d.support_ = support;
  for (int y : labels) d.labels_.push_back(y > 0 ? 1 : 0);
  d.SetThreshold(free_threshold);
  return d;
}

void FewShotDetector::SetThreshold(double free_threshold) {
  // The threshold decides unmatched units only, whose score is the label-free one: its cut comes
  // from the labelled units' label-free scores, not from their (mostly matched) few-shot scores.
  std::vector<size_t> order(support_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (labels_[a] != labels_[b]) return labels_[a] < labels_[b];
    return support_[a].tokens < support_[b].tokens;
  });
  std::vector<double> scores;
  std::vector<int> y;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const size_t prev = k > 0 ? order[k - 1] : i;
    if (k > 0 && labels_[prev] == labels_[i] && support_[prev].tokens == support_[i].tokens) {
      scores.back() = std::max(scores.back(), std::clamp(support_[i].free_score, 0.0, 1.0));
      continue;
    }
    scores.push_back(std::clamp(support_[i].free_score, 0.0, 1.0));
    y.push_back(labels_[i]);
  }
  threshold_ = free_threshold;
  double labelled = 0;
  if (novelty::MaxF1Threshold(scores, y, &labelled)) {
    const double n = static_cast<double>(scores.size());
    threshold_ = free_threshold + n / (n + options_.label_prior) * (labelled - free_threshold);
  }
}

FewShotDetector::Decision FewShotDetector::Decide(const Unit& unit) const {
  double s[kSimilarityFeatures];
  Similarities(unit, support_, labels_, -1, s);
  Decision d;
  d.near = std::max(s[0], s[1]) >= options_.match;
  if (d.near) {
    d.label = s[0] >= s[1] ? 1 : 0;
    d.similarity = std::max(s[0], s[1]);
  }
  return d;
}

double FewShotDetector::Score(const Unit& unit) const {
  const Decision d = Decide(unit);
  if (!d.near) return std::clamp(unit.free_score, 0.0, 1.0);
  return d.label == 1 ? 2.0 + d.similarity : -1.0 - d.similarity;
}

}  // namespace fedlog::fewshot
