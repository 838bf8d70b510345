// Constants shared by the Drain implementation files. Not part of the public API.
#ifndef FEDLOG_COMMON_LOGPARSE_DRAIN_INTERNAL_H_
#define FEDLOG_COMMON_LOGPARSE_DRAIN_INTERNAL_H_

#include <cstdint>

#include "common/logparse/drain.h"

namespace fedlog::logparse::internal {

// The hash of "<*>": template positions that hold a plain parameter.
inline const uint64_t kWildHash = TokenHash("<*>");

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace fedlog::logparse::internal

#endif  // FEDLOG_COMMON_LOGPARSE_DRAIN_INTERNAL_H_
