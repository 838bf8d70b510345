// File helpers that return Status instead of throwing or aborting. Thread-compatible: functions share no state.
// WriteFileAtomic is the one way state files are written: a crash leaves either the old or the new content.
#ifndef FEDLOG_COMMON_BASE_FILE_UTIL_H_
#define FEDLOG_COMMON_BASE_FILE_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedlog {

// Reads the whole file. NotFound when absent, PermissionDenied / Internal on other errors.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `data` to `path` via a temporary file in the same directory, fsync, rename, then fsyncs the directory.
// The file is created with mode 0600: state, models and updates are for the owning user only.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data);

// Removes, under `dir` (recursively), the temporary files of WriteFileAtomic calls whose process was killed
// before the rename ("<file>.tmp.<pid>.<n>" where no process <pid> exists any more); a live process's file (a
// write in progress) stays. Returns the paths removed. A directory that cannot be read removes nothing.
// Daemons call it at start on the directories they own, so a crash leaves no partial copy behind for good.
std::vector<std::string> RemoveStaleAtomicTemps(const std::string& dir);

// Opens `path` for writing with mode 0600 (owner only), truncating it, or failing when it exists and
// `exclusive` is true. Returns nullptr on failure (errno is set); the caller fcloses the result.
std::FILE* CreatePrivateFile(const std::string& path, bool exclusive);

// Creates `path` and its parents (mode 0755, or 0700 when `private_dir`). OK when it exists already.
absl::Status MakeDirs(const std::string& path, bool private_dir = false);

bool FileExists(const std::string& path);
absl::StatusOr<int64_t> FileSize(const std::string& path);

// Joins path segments with exactly one '/'.
std::string JoinPath(absl::string_view a, absl::string_view b);

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_FILE_UTIL_H_
