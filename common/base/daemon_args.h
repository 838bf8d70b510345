// Command line of the daemons: `PROGRAM --config FILE` (or --config=FILE) and nothing else.
#ifndef FEDLOG_COMMON_BASE_DAEMON_ARGS_H_
#define FEDLOG_COMMON_BASE_DAEMON_ARGS_H_

#include <cstring>
#include <string>

namespace fedlog {

// Why the arguments are not exactly one --config option, for the usage error ("unknown argument '--confg'"), or
// "" when they are.
inline std::string ConfigArgsProblem(int argc, char** argv) {
  bool seen = false;
  for (int i = 1; i < argc; ++i) {
    const bool joined = std::strncmp(argv[i], "--config=", 9) == 0;
    if (std::strcmp(argv[i], "--config") != 0 && !joined) {
      return std::string("unknown argument '") + argv[i] + "'";
    }
    if (seen) return "--config given twice";
    if (!joined && i + 1 >= argc) return "--config needs a FILE";
    if ((joined ? argv[i][9] : argv[i + 1][0]) == '\0') return "--config needs a FILE";
    seen = true;
    if (!joined) ++i;
  }
  return seen ? "" : "no --config FILE given";
}

// The config path, or "" when the arguments are not exactly one --config option (print usage and exit 2).
inline std::string ConfigPathFromArgs(int argc, char** argv) {
  if (!ConfigArgsProblem(argc, argv).empty()) return "";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0) return argv[i + 1];
    if (std::strncmp(argv[i], "--config=", 9) == 0) return argv[i] + 9;
  }
  return "";
}

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_DAEMON_ARGS_H_
