// cli::Args: parsing and the option tables (ReadDoubles, ReadInts, ReadSwitches) the eval verbs read
// their numeric flags with.
#include "tools/cli/args.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace fedlog::cli {
namespace {

ArgSpec Spec() {
  ArgSpec spec;
  spec.options = {"rate", "weight", "lines", "hold", "adapt", "split"};
  spec.flags = {"json"};
  return spec;
}

TEST(ArgsTest, TablesReadGivenOptionsAndKeepDefaults) {
  auto args = Args::Parse({"--rate", "0.02", "--lines=300", "--adapt", "0", "--split", "7", "--json"}, Spec());
  ASSERT_TRUE(args.ok()) << args.status();
  double rate = 0.01, weight = 0.25;
  int64_t lines = 10, hold = 256;
  bool adapt = true, split = false;
  ASSERT_TRUE(args->ReadDoubles({{"rate", &rate}, {"weight", &weight}}).ok());
  ASSERT_TRUE(args->ReadInts({{"lines", &lines}, {"hold", &hold}}).ok());
  ASSERT_TRUE(args->ReadSwitches({{"adapt", &adapt}, {"split", &split}}).ok());
  EXPECT_DOUBLE_EQ(rate, 0.02);
  EXPECT_DOUBLE_EQ(weight, 0.25);  // absent: the default stays
  EXPECT_EQ(lines, 300);
  EXPECT_EQ(hold, 256);
  EXPECT_FALSE(adapt);
  EXPECT_TRUE(split);  // any nonzero integer
  EXPECT_TRUE(args->Has("json"));
}

TEST(ArgsTest, MalformedValueNamesItsOption) {
  auto args = Args::Parse({"--rate", "0.1", "--weight", "heavy", "--lines", "1.5", "--adapt", "yes"}, Spec());
  ASSERT_TRUE(args.ok()) << args.status();
  double rate = 0, weight = 0.25;
  absl::Status st = args->ReadDoubles({{"rate", &rate}, {"weight", &weight}});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--weight"), std::string::npos) << st;
  EXPECT_DOUBLE_EQ(weight, 0.25);  // not written
  int64_t lines = 10;
  st = args->ReadInts({{"lines", &lines}});
  EXPECT_NE(st.message().find("--lines must be an integer"), std::string::npos) << st;
  EXPECT_EQ(lines, 10);
  bool adapt = true;
  st = args->ReadSwitches({{"adapt", &adapt}});
  EXPECT_NE(st.message().find("--adapt"), std::string::npos) << st;
  EXPECT_TRUE(adapt);
}

// nan and inf parse as numbers but pass range checks written as `x < lo || x > hi`: refused here, for every
// numeric flag of every verb.
TEST(ArgsTest, NonFiniteNumbersAreRefused) {
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity"}) {
    auto args = Args::Parse({"--rate", bad}, Spec());
    ASSERT_TRUE(args.ok()) << args.status();
    absl::StatusOr<double> v = args->GetDouble("rate", 0.5);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_NE(v.status().message().find("--rate must be a finite number"), std::string::npos) << v.status();
  }
  auto args = Args::Parse({"--rate", "1e300"}, Spec());
  ASSERT_TRUE(args.ok());
  EXPECT_DOUBLE_EQ(*args->GetDouble("rate", 0.5), 1e300);
}

TEST(ArgsTest, UnknownOptionIsAnError) {
  auto args = Args::Parse({"--rat", "0.1"}, Spec());
  EXPECT_FALSE(args.ok());
}

}  // namespace
}  // namespace fedlog::cli
