// ModelBlobs' start-up cleanup, download variants and model retention (server/model_blobs.h): Init removes the
// partial files a crash left; DeleteModel, which the coordinator
// calls under its lock (coordinator_retention.cc), does not wait for a variant of the model being written; the
// variant finished after the deletion is removed and its request told NotFound.
#include "server/model_blobs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>
#include <string>

#include "common/base/file_util.h"
#include "gtest/gtest.h"

namespace fedlog::server {
namespace {

bool Contains(const std::string& dir, const std::string& part) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().filename().string().find(part) != std::string::npos) return true;
  }
  return false;
}

class ModelBlobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("fedlog_model_blobs_" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

// What a killed aggregator left half written is gone at the next start; complete models stay.
TEST_F(ModelBlobsTest, InitRemovesPartialFilesACrashLeft) {
  {
    ModelBlobs first(dir_);
    ASSERT_TRUE(first.Init().ok());
    fl::TensorBundle model;
    model.tensors.push_back({"w", {3}, {1, 2, 3}});
    ASSERT_TRUE(first.WriteModel(1, model).ok());
  }
  const std::string models = JoinPath(dir_, "models");
  const std::string partial_model = JoinPath(models, "v000002.bundle.tmp");           // fl::BundleFileWriter's
  const std::string partial_state = JoinPath(models, "opt_v000002.bundle.tmp.999999999.5");  // WriteFileAtomic's
  ASSERT_TRUE(WriteFileAtomic(partial_model, "half").ok());
  ASSERT_TRUE(WriteFileAtomic(partial_state, "half").ok());
  ModelBlobs second(dir_);
  ASSERT_TRUE(second.Init().ok());
  EXPECT_FALSE(FileExists(partial_model));
  EXPECT_FALSE(FileExists(partial_state));
  EXPECT_TRUE(FileExists(JoinPath(models, "v000001.bundle")));
}

TEST_F(ModelBlobsTest, DeletingAModelDoesNotWaitForAVariantBeingWritten) {
  ModelBlobs blobs(dir_);
  ASSERT_TRUE(blobs.Init().ok());
  fl::TensorBundle model;
  model.tensors.push_back({"w", {3}, {1, 2, 3}});
  model.tensors.push_back({"adapter.HDFS.up.bias", {2}, {4, 5}});
  model.tensors.push_back({"adapter.BGL.up.bias", {2}, {6, 7}});
  auto stored = blobs.WriteModel(1, model);  // also caches its layout: the variant writer reads only the file
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto bytes = ReadFile(stored->path);
  ASSERT_TRUE(bytes.ok());
  // The model file becomes a pipe the test feeds: the variant writer (holding the write lock) waits on it.
  ASSERT_EQ(std::remove(stored->path.c_str()), 0);
  ASSERT_EQ(::mkfifo(stored->path.c_str(), 0600), 0);
  const int feed = ::open(stored->path.c_str(), O_RDWR);  // a writer end that does not wait for the reader
  ASSERT_GE(feed, 0);
  auto variant = std::async(std::launch::async, [&] { return blobs.BlobForSources(1, *stored, {"HDFS"}, false); });
  const std::string models = JoinPath(dir_, "models");
  for (int i = 0; i < 2000 && !Contains(models, ".src-"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(Contains(models, ".src-")) << "the variant writer did not start";
  auto deleted = std::async(std::launch::async, [&] { return blobs.DeleteModel(1, stored->path); });
  const bool returned = deleted.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  // Feed the writer either way, so that the test ends.
  ASSERT_EQ(::write(feed, bytes->data(), bytes->size()), static_cast<ssize_t>(bytes->size()));
  ::close(feed);
  EXPECT_TRUE(returned) << "DeleteModel waited for the variant writer";
  EXPECT_TRUE(deleted.get().ok());
  auto late = variant.get();
  EXPECT_EQ(late.status().code(), absl::StatusCode::kNotFound) << late.status();
  EXPECT_FALSE(Contains(models, ".src-")) << "the late variant was left on disk";
  EXPECT_EQ(blobs.VariantCount(), 0);
  EXPECT_FALSE(std::filesystem::exists(stored->path));
}

TEST_F(ModelBlobsTest, VariantsOfOtherVersionsAreMadeAndDeletedWithTheirModel) {
  ModelBlobs blobs(dir_);
  ASSERT_TRUE(blobs.Init().ok());
  fl::TensorBundle model;
  model.tensors.push_back({"w", {1}, {1}});
  model.tensors.push_back({"adapter.HDFS.up.bias", {1}, {2}});
  model.tensors.push_back({"adapter.BGL.up.bias", {1}, {3}});
  auto one = blobs.WriteModel(1, model);
  auto two = blobs.WriteModel(2, model);
  ASSERT_TRUE(one.ok() && two.ok());
  auto v1 = blobs.BlobForSources(1, *one, {"HDFS"}, false);
  auto v2 = blobs.BlobForSources(2, *two, {"HDFS"}, false);
  ASSERT_TRUE(v1.ok() && v2.ok()) << v1.status() << v2.status();
  EXPECT_EQ(blobs.VariantCount(), 2);
  ASSERT_TRUE(blobs.DeleteModel(1, one->path).ok());
  EXPECT_EQ(blobs.VariantCount(), 1);
  EXPECT_FALSE(std::filesystem::exists(v1->path));
  EXPECT_TRUE(std::filesystem::exists(v2->path));
  EXPECT_TRUE(blobs.Open(*v2).ok());
}

}  // namespace
}  // namespace fedlog::server
