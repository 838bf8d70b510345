#include "common/base/file_util.h"

#include <cstdlib>
#include <filesystem>

#include "common/base/sha256.h"
#include "gtest/gtest.h"

namespace fedlog {
namespace {

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedlog_base_XXXXXX").string();
  return mkdtemp(tmpl.data());
}

TEST(FileUtilTest, AtomicWriteReplacesContentAndLeavesNoTempFiles) {
  std::string dir = TempDir();
  std::string path = JoinPath(dir, "state.bin");
  ASSERT_TRUE(WriteFileAtomic(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomic(path, std::string("sec\0ond", 7)).ok());
  EXPECT_EQ(*ReadFile(path), std::string("sec\0ond", 7));
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  std::filesystem::remove_all(dir);
}

TEST(FileUtilTest, MissingFileIsNotFound) {
  auto r = ReadFile("/nonexistent/fedlog/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/fedlog/file"), std::string::npos);
}

TEST(FileUtilTest, WriteIntoMissingDirectoryFails) {
  EXPECT_FALSE(WriteFileAtomic("/nonexistent/dir/x", "y").ok());
}

TEST(FileUtilTest, JoinPathHandlesSlashes) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "/b"), "a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

TEST(Sha256Test, KnownVectorsAndIncremental) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.FinalHex(), Sha256Hex("abc"));
}

}  // namespace
}  // namespace fedlog
