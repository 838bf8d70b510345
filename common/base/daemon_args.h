// Command line of the daemons: `PROGRAM --config FILE` (or --config=FILE) and nothing else.
#ifndef FEDLOG_COMMON_BASE_DAEMON_ARGS_H_
#define FEDLOG_COMMON_BASE_DAEMON_ARGS_H_

#include <cstring>
#include <string>

namespace fedlog {

// The config path, or "" when the arguments are not exactly one --config option (print usage and exit 2).
inline std::string ConfigPathFromArgs(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc && path.empty()) {
      path = argv[++i];
    } else if (std::strncmp(argv[i], "--config=", 9) == 0 && path.empty()) {
      path = argv[i] + 9;
    } else {
      return "";
    }
  }
  return path;
}

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_DAEMON_ARGS_H_
