#include "common/kinds/kind_signature.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::kinds {
namespace {

TEST(KindSignatureTest, KeepsWordsDropsVariables) {
  EXPECT_EQ(KindTokens("ciod: failed to read message prefix on CioStream socket to 172.16.96.116:33569"),
            (std::vector<std::string>{"ciod", "failed", "to", "read", "message", "prefix", "on", "ciostream",
                                      "socket", "to"}));
  EXPECT_EQ(KindTokens("generating core.2275"), (std::vector<std::string>{"generating"}));
  EXPECT_EQ(KindTokens("open /home/user/file failed"), (std::vector<std::string>{"open", "failed"}));
  EXPECT_TRUE(KindTokens("12 34 /x").empty());
  EXPECT_FALSE(KindSignature("12 34 /x").has_value());
  EXPECT_FALSE(KindSignature("").has_value());
}

// Two sites see the same message with other values, or as their Drain templates print it: one kind.
TEST(KindSignatureTest, SameMessageOtherValuesOneKind) {
  const auto a = KindSignature("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010");
  const auto b = KindSignature("Receiving block blk_7503483334202473044 src: /10.251.215.16:55695 dest: /10.251.215.16:50010");
  const auto t = KindSignature("Receiving block <*> src: <*> dest: <*>");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, t);
  EXPECT_EQ(KindSignature("Data TLB error interrupt"), KindSignature("data TLB error interrupt,"));
}

TEST(KindSignatureTest, OrderAndWordsMatter) {
  EXPECT_NE(KindSignature("instruction cache parity error corrected"),
            KindSignature("data cache parity error corrected"));
  EXPECT_NE(KindSignature("error corrected"), KindSignature("corrected error"));
  // The separator keeps token boundaries: "ab c" is not "a bc".
  EXPECT_NE(KindSignature("ab c"), KindSignature("a bc"));
}

}  // namespace
}  // namespace fedlog::kinds
