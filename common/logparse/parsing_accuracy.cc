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
  out.reserve(t.size());
  for (size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == ' ' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      ++i;
      continue;
    }
    if (size_t len = PlaceholderAt(t, i)) {
      // "<*> <*>" and "<*><*>" are one parameter of variable length.
      std::string_view tail = std::string_view(out);
      if (tail.size() >= 4 && tail.substr(tail.size() - 4) == "<*> ") out.pop_back();
      if (!(out.size() >= 3 && std::string_view(out).substr(out.size() - 3) == "<*>")) out += "<*>";
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
