// "Whole template is normal" verdicts: matched by template text across two Drain parses.
#include "common/active/normal_templates.h"

#include "gtest/gtest.h"

namespace fedlog::active {
namespace {

TEST(NormalTemplatesTest, MatchesAcrossGeneralisation) {
  EXPECT_TRUE(TemplatesMatch("Receiving block <BLK> src: <IP> dest: <IP>",
                             "Receiving block <BLK> src: <IP> dest: <IP>"));
  // The detector's Drain generalised one more word (or one fewer).
  EXPECT_TRUE(TemplatesMatch("user alice logged in", "user <*> logged in"));
  EXPECT_TRUE(TemplatesMatch("user <*> logged in", "user alice logged in"));
  EXPECT_FALSE(TemplatesMatch("user alice logged in", "user alice logged out"));
  EXPECT_FALSE(TemplatesMatch("user <*> logged in", "user <*> logged in now"));
  // Parameters only: no shared word, so only its own text.
  EXPECT_TRUE(TemplatesMatch("<*> <*>", "<*> <*>"));
  EXPECT_FALSE(TemplatesMatch("<*> <*>", "disk failed"));
}

TEST(NormalTemplatesTest, CoversPerSource) {
  NormalTemplates n;
  EXPECT_TRUE(n.empty());
  n.Add("BGL", "generating core.<*>");
  n.Add("BGL", "generating core.<*>");
  n.Add("HDFS", "PacketResponder <*> for block <BLK> terminating");
  EXPECT_EQ(n.size(), 2u);
  EXPECT_TRUE(n.Covers("BGL", "generating core.<*>"));
  EXPECT_FALSE(n.Covers("HDFS", "generating core.<*>"));  // another source's verdict
  EXPECT_TRUE(n.Covers("HDFS", "PacketResponder 1 for block <BLK> terminating"));
  EXPECT_FALSE(n.Covers("BGL", "ciod: failed to read message prefix"));
}

}  // namespace
}  // namespace fedlog::active
