// cli::FindVerb and ClosestName (common/base/suggest.h): a mistyped verb, subcommand or option is refused with the nearest name,
// and a mistyped subcommand of a group verb ("sites revok") never runs the group verb itself.
#include "tools/cli/dispatch.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/cli/args.h"
#include "common/base/suggest.h"

namespace fedlog::cli {
namespace {

std::vector<Verb> Verbs() {
  std::vector<Verb> verbs;
  for (const char* name : {"sites", "sites revoke", "sites unrevoke", "sites admit", "run start", "run watch",
                           "run status", "run stop", "models", "models promote", "parse", "synth",
                           "model pretrain"}) {
    verbs.push_back({name, name, "", [](const std::vector<std::string>&) { return 0; }});
  }
  return verbs;
}

std::string Message(const std::vector<std::string>& words) {
  const std::vector<Verb> verbs = Verbs();
  auto found = FindVerb(verbs, words);
  EXPECT_FALSE(found.ok()) << "found " << (found.ok() ? found->verb->name : "");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(found.status().message());
}

TEST(DispatchTest, LongestNameWins) {
  const std::vector<Verb> verbs = Verbs();
  auto found = FindVerb(verbs, {"sites", "revoke", "site-b"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->verb->name, "sites revoke");
  EXPECT_EQ(found->words, 2u);
  found = FindVerb(verbs, {"sites", "--server", "localhost:7443"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->verb->name, "sites");
  EXPECT_EQ(found->words, 1u);
  found = FindVerb(verbs, {"parse", "--format", "HDFS", "x.log"});  // a positional of a verb without a group
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->verb->name, "parse");
}

TEST(DispatchTest, MistypedSubcommandOfAGroupVerbIsRefusedNotRun) {
  const std::string m = Message({"sites", "revok", "site-b"});
  EXPECT_NE(m.find("'sites' has no subcommand 'revok' (did you mean 'revoke'?)"), std::string::npos) << m;
  EXPECT_NE(m.find("revoke, unrevoke, admit"), std::string::npos) << m;
  EXPECT_NE(Message({"sites", "list"}).find("no subcommand 'list'"), std::string::npos);
}

TEST(DispatchTest, GroupWithoutOrWithUnknownSubcommand) {
  std::string m = Message({"run", "strat", "--rounds", "3"});
  EXPECT_NE(m.find("'run' has no subcommand 'strat' (did you mean 'start'?)"), std::string::npos) << m;
  EXPECT_NE(m.find("start, watch, status, stop"), std::string::npos) << m;
  m = Message({"run"});
  EXPECT_NE(m.find("'run' needs a subcommand: start, watch, status, stop"), std::string::npos) << m;
  m = Message({"model", "--out", "x"});
  EXPECT_NE(m.find("'model' needs a subcommand: pretrain"), std::string::npos) << m;
}

TEST(DispatchTest, UnknownVerbNamesTheNearest) {
  std::string m = Message({"runn", "start"});
  EXPECT_NE(m.find("unknown verb 'runn' (did you mean 'run'?)"), std::string::npos) << m;
  EXPECT_NE(m.find("fedlog help"), std::string::npos) << m;
  m = Message({"frobnicate"});
  EXPECT_EQ(m.find("did you mean"), std::string::npos) << m;
}

TEST(SuggestTest, NearestNameWithinReach) {
  const std::vector<std::string> names = {"rounds", "min-sites", "deadline-s", "seed", "secure-aggregation"};
  EXPECT_EQ(ClosestName("rouns", names), "rounds");
  EXPECT_EQ(ClosestName("min-stes", names), "min-sites");
  EXPECT_EQ(ClosestName("sede", names), "seed");  // a swapped pair is one edit
  EXPECT_EQ(ClosestName("secure-aggregaton", names), "secure-aggregation");
  EXPECT_EQ(ClosestName("watch", names), "");  // nothing near
  EXPECT_EQ(ClosestName("", names), "");
  // Two names equally near: no guess.
  EXPECT_EQ(ClosestName("cat", {"bat", "hat"}), "");
}

TEST(SuggestTest, UnknownOptionSaysWhichWasMeant) {
  ArgSpec spec;
  spec.options = {"rounds", "min-sites"};
  spec.flags = {"watch"};
  auto args = Args::Parse({"--rouns", "3"}, spec);
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().message(), "unknown option --rouns (did you mean '--rounds'?)");
  args = Args::Parse({"--wacth"}, spec);
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().message(), "unknown option --wacth (did you mean '--watch'?)");
  args = Args::Parse({"--verbose"}, spec);
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().message(), "unknown option --verbose");
}

}  // namespace
}  // namespace fedlog::cli
