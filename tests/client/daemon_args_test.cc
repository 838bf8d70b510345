// The daemons' command line (common/base/daemon_args.h, read by client/main.cc and server/main.cc): exactly one
// --config FILE; anything else is a usage error that names the argument at fault.
#include "common/base/daemon_args.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog {
namespace {

struct Argv {
  explicit Argv(std::vector<std::string> words) : words_(std::move(words)) {
    for (std::string& w : words_) ptrs_.push_back(w.data());
  }
  int argc() { return static_cast<int>(ptrs_.size()); }
  char** argv() { return ptrs_.data(); }
  std::vector<std::string> words_;
  std::vector<char*> ptrs_;
};

std::string Problem(std::vector<std::string> words) {
  Argv a(std::move(words));
  return ConfigArgsProblem(a.argc(), a.argv());
}

std::string Path(std::vector<std::string> words) {
  Argv a(std::move(words));
  return ConfigPathFromArgs(a.argc(), a.argv());
}

TEST(DaemonArgsTest, OneConfigOption) {
  EXPECT_EQ(Path({"fedlog-client", "--config", "site.yaml"}), "site.yaml");
  EXPECT_EQ(Path({"fedlog-client", "--config=site.yaml"}), "site.yaml");
  EXPECT_EQ(Problem({"fedlog-client", "--config", "site.yaml"}), "");
}

TEST(DaemonArgsTest, UsageErrorsNameTheArgument) {
  EXPECT_EQ(Problem({"fedlog-server", "--confg", "agg.yaml"}), "unknown argument '--confg'");
  EXPECT_EQ(Path({"fedlog-server", "--confg", "agg.yaml"}), "");
  EXPECT_EQ(Problem({"fedlog-server", "agg.yaml"}), "unknown argument 'agg.yaml'");
  EXPECT_EQ(Problem({"fedlog-server"}), "no --config FILE given");
  EXPECT_EQ(Problem({"fedlog-server", "--config"}), "--config needs a FILE");
  EXPECT_EQ(Problem({"fedlog-server", "--config="}), "--config needs a FILE");
  EXPECT_EQ(Problem({"fedlog-server", "--config", "a.yaml", "--config", "b.yaml"}), "--config given twice");
  EXPECT_EQ(Path({"fedlog-server", "--config", "a.yaml", "--config", "b.yaml"}), "");
  EXPECT_EQ(Problem({"fedlog-client", "--config", "a.yaml", "--detect_only"}), "unknown argument '--detect_only'");
}

}  // namespace
}  // namespace fedlog
