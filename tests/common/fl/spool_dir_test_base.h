// A gtest fixture with a private temporary directory (removed after each test) and Put() to write a
// file into it atomically: the spool files of the streaming codec and aggregation tests.
#ifndef FEDLOG_TESTS_COMMON_FL_SPOOL_DIR_TEST_BASE_H_
#define FEDLOG_TESTS_COMMON_FL_SPOOL_DIR_TEST_BASE_H_

#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/base/file_util.h"
#include "gtest/gtest.h"

namespace fedlog::fl::testing {

class SpoolDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (std::filesystem::temp_directory_path() /
            (std::string("fedlog_") + info->test_suite_name() + "_" + std::to_string(::getpid())))
               .string();
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `bytes` to `name` inside the directory; returns the path.
  std::string Put(const std::string& name, const std::string& bytes) {
    std::string path = JoinPath(dir_, name);
    EXPECT_TRUE(WriteFileAtomic(path, bytes).ok());
    return path;
  }

  std::string dir_;
};

}  // namespace fedlog::fl::testing

#endif  // FEDLOG_TESTS_COMMON_FL_SPOOL_DIR_TEST_BASE_H_
