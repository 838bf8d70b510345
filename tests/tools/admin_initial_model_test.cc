// `fedlog run start --initial-model FILE [--initial-model-sha256 HEX]` as the CLI turns it into a run plan
// (tools/admin/admin_initial_model.h): a local file is sent as an absolute path with its digest, a remote path as
// given, and a digest that is malformed, lacks its file or differs from the local file's is refused.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "gtest/gtest.h"
#include "tools/admin/admin_initial_model.h"

namespace fedlog::cli {
namespace {

absl::StatusOr<v1::RunPlan> PlanFrom(const std::vector<std::string>& argv) {
  ArgSpec spec;
  for (const std::string& o : InitialModelOptionNames()) spec.options.insert(o);
  absl::StatusOr<Args> args = Args::Parse(argv, spec);
  if (!args.ok()) return args.status();
  v1::RunPlan plan;
  absl::Status st = SetInitialModelFlags(*args, &plan);
  if (!st.ok()) return st;
  return plan;
}

TEST(AdminInitialModelFlags, LocalFileGoesWithItsDigestRemotePathAsGiven) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fedlog_admin_initial_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "public.bundle").string();
  ASSERT_TRUE(WriteFileAtomic(file, "bundle bytes").ok());
  const std::string digest = Sha256Hex("bundle bytes");

  absl::StatusOr<v1::RunPlan> plan = PlanFrom({"--initial-model", file});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->initial_model(), std::filesystem::absolute(file).string());
  EXPECT_EQ(plan->initial_model_sha256(), digest);

  plan = PlanFrom({"--initial-model", "/on/the/aggregator/public.bundle", "--initial-model-sha256", digest});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->initial_model(), "/on/the/aggregator/public.bundle");
  EXPECT_EQ(plan->initial_model_sha256(), digest);

  EXPECT_EQ(PlanFrom({"--initial-model", file, "--initial-model-sha256", std::string(64, 'f')}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanFrom({"--initial-model", file, "--initial-model-sha256", "abc"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanFrom({"--initial-model-sha256", digest}).status().code(), absl::StatusCode::kInvalidArgument);
  plan = PlanFrom({});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->initial_model().empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fedlog::cli
