#include "common/active/normal_templates.h"

#include <algorithm>


namespace fedlog::active {
namespace {

// "<*>", "<NUM>", "<IP>": a parameter position.
bool IsParameter(std::string_view token) {
  return token.size() >= 3 && token.front() == '<' && token.back() == '>';
}

std::vector<std::string_view> Tokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const size_t end = std::min(text.find(' ', i), text.size());
    if (end > i) tokens.push_back(text.substr(i, end - i));
    i = end + 1;
  }
  return tokens;
}

template <typename A, typename B>
bool TokensMatch(const std::vector<A>& a, const std::vector<B>& b) {
  if (a.size() != b.size()) return false;
  bool literal = false, same = true;
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string_view x = a[i], y = b[i];
    if (x == y) {
      literal = literal || !IsParameter(x);
      continue;
    }
    same = false;
    if (!IsParameter(x) && !IsParameter(y)) return false;
  }
  // Identical texts match; otherwise one shared word at least, so that a template of parameters
  // only ("<*> <*>") does not cover every line of its length.
  return same || literal;
}

}  // namespace

bool TemplatesMatch(std::string_view a, std::string_view b) {
  return TokensMatch(Tokens(a), Tokens(b));
}

void NormalTemplates::Add(const std::string& source, const std::string& template_text) {
  std::vector<std::string> tokens;
  for (std::string_view t : Tokens(template_text)) tokens.emplace_back(t);
  auto& list = by_source_[source];
  if (std::find(list.begin(), list.end(), tokens) == list.end()) list.push_back(std::move(tokens));
}

bool NormalTemplates::Covers(const std::string& source, std::string_view template_text) const {
  auto it = by_source_.find(source);
  if (it == by_source_.end()) return false;
  const std::vector<std::string_view> tokens = Tokens(template_text);
  for (const std::vector<std::string>& t : it->second) {
    if (TokensMatch(t, tokens)) return true;
  }
  return false;
}

size_t NormalTemplates::size() const {
  size_t n = 0;
  for (const auto& [source, list] : by_source_) n += list.size();
  return n;
}

}  // namespace fedlog::active
