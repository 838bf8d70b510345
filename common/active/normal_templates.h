// NormalTemplates: the templates an operator declared "whole template is normal" (`fedlog label`'s
// `t` key), per source, and the test live detection applies before raising an alert. A verdict is
// kept as the template's text, because the template ids of the labelling tool's parse and of the
// running detector's Drain differ; two template texts of one source match when they have the same
// number of tokens and agree on every token where neither has a parameter (<*> or a named mask such
// as <NUM>) and share a word at least, so a template the detector has since generalised (or not
// yet) still matches, but one of parameters only matches only its own text.
// Torch-free, gRPC-free. Thread-compatible: const methods may be called concurrently.
#ifndef FEDLOG_COMMON_ACTIVE_NORMAL_TEMPLATES_H_
#define FEDLOG_COMMON_ACTIVE_NORMAL_TEMPLATES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace fedlog::active {

// True when `a` and `b` (Drain template texts: tokens joined by single spaces) match as described
// above.
bool TemplatesMatch(std::string_view a, std::string_view b);

class NormalTemplates {
 public:
  // Declares `template_text` of `source` normal (a repeated one is kept once).
  void Add(const std::string& source, const std::string& template_text);
  // True when a declared template of `source` matches `template_text`.
  bool Covers(const std::string& source, std::string_view template_text) const;
  size_t size() const;
  bool empty() const { return size() == 0; }

 private:
  // Per source, the declared texts split into tokens.
  absl::flat_hash_map<std::string, std::vector<std::vector<std::string>>> by_source_;
};

}  // namespace fedlog::active

#endif  // FEDLOG_COMMON_ACTIVE_NORMAL_TEMPLATES_H_
