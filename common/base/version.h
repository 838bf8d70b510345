// The fedlog release, printed by `--version` of the three binaries and sent by sites in Hello.
#ifndef FEDLOG_COMMON_BASE_VERSION_H_
#define FEDLOG_COMMON_BASE_VERSION_H_

namespace fedlog {

inline constexpr char kFedlogVersion[] = "0.1.0";

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_VERSION_H_
