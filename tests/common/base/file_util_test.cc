#include "common/base/file_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

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

// A pid that no process has now: a child that has exited and been reaped.
pid_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(FileUtilTest, StaleAtomicTempsOfDeadWritersGoOthersStay) {
  const std::string dir = TempDir();
  ASSERT_TRUE(MakeDirs(JoinPath(dir, "sub")).ok());
  const pid_t dead = DeadPid();
  const std::string stale = JoinPath(dir, absl::StrCat("ledger.txt.tmp.", dead, ".2599110956"));
  const std::string stale_sub = JoinPath(dir, absl::StrCat("sub/model.bundle.tmp.", dead, ".7"));
  const std::string live = JoinPath(dir, "ledger.txt.tmp.1.42");  // pid 1 exists: a write in progress
  const std::string own = JoinPath(dir, absl::StrCat("x.tmp.", ::getpid(), ".1"));
  const std::string other = JoinPath(dir, "notes.tmp");          // not WriteFileAtomic's name
  const std::string odd = JoinPath(dir, "y.tmp.12ab.3");
  for (const std::string& p : {stale, stale_sub, live, own, other, odd}) ASSERT_TRUE(WriteFileAtomic(p, "x").ok());
  std::vector<std::string> removed = RemoveStaleAtomicTemps(dir);
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> want = {stale, stale_sub};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(removed, want);
  for (const std::string& p : want) EXPECT_FALSE(FileExists(p)) << p;
  for (const std::string& p : {live, own, other, odd}) EXPECT_TRUE(FileExists(p)) << p;
  EXPECT_TRUE(RemoveStaleAtomicTemps(JoinPath(dir, "missing")).empty());
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
