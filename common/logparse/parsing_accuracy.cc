#include "common/logparse/parsing_accuracy.h"

#include "absl/container/flat_hash_map.h"

namespace fedlog::logparse {
namespace {

// Length of a placeholder "<NAME>" (NAME upper-case letters, digits, '_' or '*') at s[i], or 0.
size_t PlaceholderAt(std::string_view s, size_t i) {
  if (s[i] != '<') return 0;
  size_t j = i + 1;
  while (j < s.size() && ((s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9') || s[j] == '_' ||
                          s[j] == '*')) {
    ++j;
  }
  return (j > i + 1 && j < s.size() && s[j] == '>') ? j + 1 - i : 0;
}

bool IsJoiner(char c) { return c == ' ' || c == ':' || c == '.' || c == ',' || c == '/' || c == '-' || c == '_'; }

}  // namespace

double GroupingAccuracy(const std::vector<int64_t>& predicted, const std::vector<std::string>& truth) {
  if (predicted.size() != truth.size() || predicted.empty()) return 0.0;
  // A predicted group is correct iff all its lines share one truth label and that label has no other lines.
  absl::flat_hash_map<std::string_view, int64_t> truth_size;
  for (const std::string& t : truth) ++truth_size[t];
  struct Group {
    int64_t size = 0;
    std::string_view label;
    bool pure = true;
  };
  absl::flat_hash_map<int64_t, Group> groups;
  for (size_t i = 0; i < predicted.size(); ++i) {
    Group& g = groups[predicted[i]];
    if (g.size == 0) g.label = truth[i];
    else if (g.label != truth[i]) g.pure = false;
    ++g.size;
  }
  int64_t correct = 0;
  for (const auto& [id, g] : groups) {
    if (g.pure && truth_size[g.label] == g.size) correct += g.size;
  }
  return static_cast<double>(correct) / static_cast<double>(predicted.size());
}

std::string NormalizeTemplate(std::string_view t) {
  std::string out;
  out.reserve(t.size() + 3);
  auto ends_with_wild = [&out](size_t back) {  // "<*>" ends `back` characters before the end of out
    return out.size() >= 3 + back && out.compare(out.size() - 3 - back, 3, "<*>") == 0;
  };
  for (size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == ' ' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      ++i;
      continue;
    }
    if (size_t len = PlaceholderAt(t, i)) {
      // "<*> <*>", "<*><*>" and "<*>:<*>" (an address and its port) are one parameter.
      if (!out.empty() && IsJoiner(out.back()) && ends_with_wild(1)) out.pop_back();
      if (!ends_with_wild(0)) out.append("<*>");
      i += len;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

double TemplateAccuracy(const std::vector<std::string>& predicted, const std::vector<std::string>& truth) {
  if (predicted.size() != truth.size() || predicted.empty()) return 0.0;
  absl::flat_hash_map<std::string, std::string> cache;  // each template is normalised once
  auto norm = [&](const std::string& s) -> const std::string& {
    auto it = cache.find(s);
    if (it == cache.end()) it = cache.emplace(s, NormalizeTemplate(s)).first;
    return it->second;
  };
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += norm(predicted[i]) == norm(truth[i]) ? 1 : 0;
  return static_cast<double>(correct) / static_cast<double>(predicted.size());
}

}  // namespace fedlog::logparse
