// Locates the shared evaluation data for tests: $FEDLOG_DATA_DIR, else
// $FEDLOG_SOURCE_DIR/../shared/data. Tests that need a file call FEDLOG_REQUIRE_DATA_FILE, which
// skips (with the path in the message) when the data is absent, so checkouts without ../shared/data
// still pass.
#ifndef FEDLOG_TESTS_COMMON_LABELS_TEST_DATA_H_
#define FEDLOG_TESTS_COMMON_LABELS_TEST_DATA_H_

#include <cstdlib>
#include <string>

#include "common/base/file_util.h"

namespace fedlog::testing {

inline std::string DataDir() {
  if (const char* dir = std::getenv("FEDLOG_DATA_DIR"); dir != nullptr && *dir != '\0') return dir;
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  return std::string(src != nullptr && *src != '\0' ? src : ".") + "/../shared/data";
}

inline std::string DataFile(const std::string& relative) { return DataDir() + "/" + relative; }

inline std::string SourceFile(const std::string& relative) {
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  return std::string(src != nullptr && *src != '\0' ? src : ".") + "/" + relative;
}

}  // namespace fedlog::testing

// Declares `var` as the full path of data file `relative`, or skips the test when it does not
// exist.
#define FEDLOG_REQUIRE_DATA_FILE(var, relative)                                                  \
  const std::string var = ::fedlog::testing::DataFile(relative);                                 \
  if (!::fedlog::FileExists(var)) {                                                              \
    GTEST_SKIP() << "shared data file " << var << " not found; set FEDLOG_DATA_DIR to run this"; \
  }

#endif  // FEDLOG_TESTS_COMMON_LABELS_TEST_DATA_H_
