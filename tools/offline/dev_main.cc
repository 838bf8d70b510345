// TEMPORARY local entry point for the offline verbs until tools/main.cc links fedlog_tools_offline.
// Delete once the lead wires `add_subdirectory(offline)` into tools/CMakeLists.txt.
#include <iostream>

#include "tools/cli/verb.h"

int main(int argc, char** argv) {
  std::vector<fedlog::cli::Verb> verbs;
  fedlog::cli::AddOfflineVerbs(&verbs);
  std::vector<std::string> words(argv + 1, argv + argc);
  const fedlog::cli::Verb* best = nullptr;
  size_t best_len = 0;
  for (const auto& v : verbs) {
    size_t n = std::count(v.name.begin(), v.name.end(), ' ') + 1;
    if (n > words.size() || n <= best_len) continue;
    std::string joined = words[0];
    for (size_t i = 1; i < n; ++i) joined += " " + words[i];
    if (joined == v.name) {
      best = &v;
      best_len = n;
    }
  }
  if (best == nullptr) {
    for (const auto& v : verbs) std::cerr << "  " << v.usage << "\n";
    return 2;
  }
  return best->run(std::vector<std::string>(words.begin() + best_len, words.end()));
}
