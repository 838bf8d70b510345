#include "common/logparse/drain.h"

#include <cstdlib>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedlog::logparse {
namespace {

using ::testing::ElementsAre;

std::unique_ptr<Drain> NewDrain(DrainOptions o = {}) {
  absl::StatusOr<std::unique_ptr<Drain>> d = Drain::Create(o);
  EXPECT_TRUE(d.ok()) << d.status();
  return std::move(d).value();
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return JoinPath(dir != nullptr ? dir : "/tmp", absl::StrCat(name, "_", ::getpid()));
}

TEST(DrainTest, GroupsLinesDifferingInNumbersAndMasksThem) {
  auto d = NewDrain();
  DrainResult a = d->Add("Received block blk_123 of size 67108864 from 10.0.0.1");
  DrainResult b = d->Add("Received block blk_-987 of size 1024 from 10.0.0.2:50010");
  EXPECT_TRUE(a.created);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(a.template_id, b.template_id);
  EXPECT_EQ(d->TemplateText(a.template_id), "Received block <BLK> of size <NUM> from <IP>");
  std::vector<std::string_view> params;
  d->LastParameters(b.template_id, &params);
  EXPECT_THAT(params, ElementsAre("blk_-987", "1024", "10.0.0.2:50010"));
}

TEST(DrainTest, DifferentWordsInShortTemplatesStayApart) {
  auto d = NewDrain();
  const int32_t started = d->Add("VM Started (Lifecycle Event)").template_id;
  const int32_t paused = d->Add("VM Paused (Lifecycle Event)").template_id;
  EXPECT_NE(started, paused);
  EXPECT_EQ(d->Add("VM Started (Lifecycle Event)").template_id, started);
  // The same holds with Drain's classic similarity once the template is short.
  DrainOptions classic;
  classic.strict_words = false;
  auto c = NewDrain(classic);
  EXPECT_NE(c->Add("VM Started").template_id, c->Add("VM Paused").template_id);
}

TEST(DrainTest, ClassicModeGeneralisesLongTemplates) {
  DrainOptions o;
  o.strict_words = false;
  auto d = NewDrain(o);
  const int32_t a = d->Add("session opened for user root by admin").template_id;
  DrainResult b = d->Add("session opened for user alice by admin");
  EXPECT_EQ(a, b.template_id);
  EXPECT_TRUE(b.changed);
  EXPECT_EQ(d->TemplateText(a), "session opened for user <*> by admin");
}

TEST(DrainTest, ManySiblingsDifferingInOneWordMerge) {
  auto d = NewDrain();  // sibling_merge_min = 5
  std::vector<int32_t> ids;
  for (const char* user : {"alice", "bob", "carol", "dave"}) {
    ids.push_back(d->Add(absl::StrCat("Invalid user ", user, " from 10.0.0.1 port 22")).template_id);
  }
  EXPECT_NE(d->Resolve(ids[0]), d->Resolve(ids[1]));  // four users: still separate
  const int32_t fifth = d->Add("Invalid user erin from 10.0.0.9 port 22").template_id;
  for (int32_t id : ids) EXPECT_EQ(d->Resolve(id), fifth);
  EXPECT_EQ(d->TemplateText(fifth), "Invalid user <*> from <IP> port <NUM>");
  EXPECT_EQ(d->Add("Invalid user frank from 10.0.0.3 port 22").template_id, fifth);
}

TEST(DrainTest, VariableLengthParameterKeepsOneTemplate) {
  auto d = NewDrain();
  const int32_t a = d->Add("connect from 10.0.0.1 size 12 KB done").template_id;
  const int32_t b = d->Add("connect from 10.0.0.2 size 12345 done").template_id;
  EXPECT_EQ(d->Resolve(a), d->Resolve(b));
  std::vector<std::string_view> params;
  d->Add("connect from 10.0.0.3 size 7 MB done");
  d->LastParameters(d->Resolve(a), &params);
  EXPECT_EQ(params.size(), 3u);
}

TEST(DrainTest, KeyValueTokensKeepTheirKeys) {
  auto d = NewDrain();
  const int32_t uid = d->Add("login ok uid=0 session=17").template_id;
  const int32_t euid = d->Add("login ok euid=0 session=17").template_id;
  EXPECT_NE(uid, euid);
  EXPECT_EQ(d->TemplateText(uid), "login ok uid=<*> session=<*>");
  std::vector<std::string_view> params;
  d->Add("login ok uid=-5 session=99");
  d->LastParameters(uid, &params);
  EXPECT_THAT(params, ElementsAre("-5", "99"));
}

TEST(DrainTest, QuotedValuesAndDottedNamesAreParameters) {
  for (bool dotted : {true, false}) {
    DrainOptions o;
    o.mask_dotted_names = dotted;
    auto d = NewDrain(o);
    const int32_t a = d->Add("acquire tag=\"View Lock\", name=com.android.systemui ok").template_id;
    const int32_t b = d->Add("acquire tag=\"Alarm Manager Wake\", name=com.android.phone ok").template_id;
    if (dotted) {
      EXPECT_EQ(a, b);
      EXPECT_EQ(d->TemplateText(a), "acquire tag=\"<*>\", name=<*> ok");
    }
    std::vector<std::string_view> params;
    d->LastParameters(b, &params);
    ASSERT_FALSE(params.empty());
    EXPECT_EQ(params[0], "Alarm Manager Wake");
    // Unclosed quotes and quoted values that look like paths or numbers (found by the fuzzer).
    d->Add("x =\"a b 1/2 c");
    d->Add("k=\"/path with space 1 and more");
    d->Add("q=\"12 34\" end");
    // Templates never hold a space, so the state survives a round trip in both modes.
    absl::StatusOr<std::unique_ptr<Drain>> restored = Drain::Restore(d->Serialize(), o);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ((*restored)->Serialize(), d->Serialize());
  }
}

TEST(DrainTest, MatchOnlyModeDoesNotLearn) {
  auto d = NewDrain();
  const int32_t id = d->Add("disk sda is full").template_id;
  EXPECT_EQ(d->Match("disk sda is full").template_id, id);
  EXPECT_EQ(d->Match("network link down").template_id, -1);
  EXPECT_EQ(d->Templates().size(), 1u);
  EXPECT_EQ(d->Templates()[0].size, 1);
}

TEST(DrainTest, ExtraDelimitersAndRegexMasks) {
  DrainOptions o;
  o.extra_delimiters = ",";
  o.regex_masks.push_back({"req-[0-9a-f-]+", "<REQ>"});
  auto d = NewDrain(o);
  const int32_t a = d->Add("request req-ab12-cd done,ok").template_id;
  const int32_t b = d->Add("request req-ffff-00 done,ok").template_id;
  EXPECT_EQ(a, b);
  EXPECT_EQ(d->TemplateText(a), "request <REQ> done ok");
  o.regex_masks = {{"(unclosed", "<*>"}};
  EXPECT_EQ(Drain::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DrainTest, InvalidOptionsAreRejected) {
  DrainOptions o;
  o.depth = 2;
  EXPECT_FALSE(Drain::Create(o).ok());
  o = {};
  o.sim_threshold = 1.5;
  EXPECT_FALSE(Drain::Create(o).ok());
  o = {};
  o.max_children = 1;
  EXPECT_FALSE(Drain::Create(o).ok());
}

TEST(DrainTest, MaxClustersEvictsLeastRecentlyUsedButIdsResolve) {
  DrainOptions o;
  o.max_clusters = 2;
  auto d = NewDrain(o);
  const int32_t a = d->Add("alpha event happened here").template_id;
  const int32_t b = d->Add("beta thing occurred there now").template_id;
  d->Add("alpha event happened here");  // a is now more recent than b
  const int32_t c = d->Add("gamma case x y z w").template_id;
  EXPECT_EQ(d->num_clusters(), 2);
  EXPECT_EQ(d->Match("alpha event happened here").template_id, a);
  EXPECT_EQ(d->Match("beta thing occurred there now").template_id, -1);  // evicted
  EXPECT_EQ(d->TemplateText(b), "beta thing occurred there now");       // but still resolvable
  EXPECT_EQ(d->Match("gamma case x y z w").template_id, c);
}

TEST(DrainTest, SaveAndLoadKeepTemplateIdsStable) {
  auto d = NewDrain();
  std::mt19937 rng(42);
  std::vector<std::string> lines;
  const char* kEvents[] = {"worker %d started job %d", "worker %d failed: timeout after %d ms",
                           "cache hit ratio %d percent", "user %d logged in from 10.0.%d.1"};
  for (int i = 0; i < 200; ++i) {
    char buf[128];
    std::snprintf(buf, sizeof(buf), kEvents[rng() % 4], static_cast<int>(rng() % 1000),
                  static_cast<int>(rng() % 255));
    lines.push_back(buf);
  }
  std::vector<int32_t> ids;
  for (const std::string& l : lines) ids.push_back(d->Add(l).template_id);
  const std::string path = TempPath("drain_state");
  ASSERT_TRUE(d->Save(path).ok());
  absl::StatusOr<std::unique_ptr<Drain>> restored = Drain::Load(path, DrainOptions{});
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ((*restored)->Serialize(), d->Serialize());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ((*restored)->Match(lines[i]).template_id, d->Resolve(ids[i])) << lines[i];
  }
  DrainOptions other_depth;
  other_depth.depth = 5;
  EXPECT_FALSE(Drain::Load(path, other_depth).ok());
  EXPECT_FALSE(Drain::Load(path + ".missing", DrainOptions{}).ok());
  std::remove(path.c_str());
}

TEST(DrainTest, CorruptStateIsAnErrorNotACrash) {
  const std::string path = TempPath("drain_bad");
  for (const char* text : {"", "garbage\n", "fedlog-drain 1 depth=4\nC\t0\t5\t1\t1\t1\t0\tx\n",
                           "fedlog-drain 1 depth=4\nC\t0\t0\t1\t1\tzz\t0\tx\n",
                           "fedlog-drain 1 depth=4\nC\t0\t0\t1\t1\t2\t0\tx\n"}) {
    ASSERT_TRUE(WriteFileAtomic(path, text).ok());
    EXPECT_FALSE(Drain::Load(path, DrainOptions{}).ok()) << text;
  }
  std::remove(path.c_str());
}

TEST(DrainTest, EmptyContentHasATemplate) {
  auto d = NewDrain();
  const int32_t a = d->Add("").template_id;
  EXPECT_GE(a, 0);
  EXPECT_EQ(d->Add("   ").template_id, a);
  EXPECT_EQ(d->TemplateText(a), "");
}

}  // namespace
}  // namespace fedlog::logparse
