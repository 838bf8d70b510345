#include "common/base/process_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fedlog {
namespace {

uint64_t Shown(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }

}  // namespace

absl::StatusOr<OpenFileLimit> RaiseOpenFileLimit(uint64_t cap) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return absl::InternalError(absl::StrCat("cannot read the open-file limit: ", std::strerror(errno)));
  }
  OpenFileLimit out{Shown(rl.rlim_cur), Shown(rl.rlim_cur), Shown(rl.rlim_max)};
  const uint64_t target = std::min(out.hard, cap);
  if (out.before >= target) return out;
  rlimit raised = rl;
  raised.rlim_cur = static_cast<rlim_t>(target);
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    return absl::InternalError(absl::StrCat("cannot raise the open-file limit from ", out.before, " to ", target,
                                            ": ", std::strerror(errno)));
  }
  out.after = target;
  return out;
}

}  // namespace fedlog
