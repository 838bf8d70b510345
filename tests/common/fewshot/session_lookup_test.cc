// fewshot::SessionLookup: session units gathered line by line, labels given as a whole, and the
// decision for a closing session's unit (docs/DETECTION.md "Sessions with labels").
#include "common/fewshot/session_lookup.h"

#include "gtest/gtest.h"

namespace fedlog::fewshot {
namespace {

// A write (template 1 and 2) and, for `replicated`, a replication line (template 3).
void Write(SessionLookup* l, uint64_t key, bool replicated) {
  l->AddLine(key, 1, "Receiving block blk_123 src /10.0.0.1:50010");
  l->AddLine(key, 2, "PacketResponder 1 for block blk_123 terminating");
  if (replicated) l->AddLine(key, 3, "ask 10.0.0.2:50010 to replicate blk_123 to datanode(s)");
}

TEST(SessionLookupTest, ALabelledUnitDecidesAnIdenticalOneOnly) {
  absl::StatusOr<SessionLookup> l = SessionLookup::Create(1.0);
  ASSERT_TRUE(l.ok()) << l.status();
  Write(&*l, 7, /*replicated=*/true);
  Write(&*l, 8, /*replicated=*/true);
  Write(&*l, 9, /*replicated=*/false);
  EXPECT_FALSE(l->Decide(8).has_value());  // no labels yet
  l->Label(7, 0);
  l->Label(404, 1);  // a key never seen: ignored
  l->Fit();
  EXPECT_EQ(l->labels(), 1u);
  const auto d = l->Decide(8);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->label, 0);
  EXPECT_DOUBLE_EQ(d->similarity, 1.0);
  EXPECT_FALSE(l->Decide(9).has_value());  // shares most tokens, not all: the session detector decides
  EXPECT_FALSE(l->Decide(10).has_value());  // unknown key
}

TEST(SessionLookupTest, ALowerBarDecidesNearUnitsAndTiesDecideNothing) {
  absl::StatusOr<SessionLookup> l = SessionLookup::Create(0.5);
  ASSERT_TRUE(l.ok());
  Write(&*l, 1, true);
  Write(&*l, 2, false);
  Write(&*l, 3, false);
  l->Label(1, 1);
  l->Fit();
  const auto d = l->Decide(2);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->label, 1);
  EXPECT_LT(d->similarity, 1.0);
  // The same tokens labelled both ways: no verdict.
  l->ClearLabels();
  l->Label(2, 1);
  l->Label(3, 0);
  l->Fit();
  EXPECT_FALSE(l->Decide(2).has_value());
  // Labels given again replace the old ones; none: nothing decides.
  l->ClearLabels();
  l->Fit();
  EXPECT_FALSE(l->Decide(1).has_value());
}

TEST(SessionLookupTest, ALabelledKeyKeepsItsTokensAfterTheyAreForgotten) {
  absl::StatusOr<SessionLookup> l = SessionLookup::Create(1.0, /*max_keys=*/2);
  ASSERT_TRUE(l.ok());
  Write(&*l, 1, true);
  l->Label(1, 0);
  l->Fit();
  Write(&*l, 2, false);
  Write(&*l, 3, true);  // pushes key 1 out
  EXPECT_EQ(l->keys(), 2u);
  // Labels given again (the store changed): key 1's tokens come from its last label.
  l->ClearLabels();
  l->Label(1, 0);
  l->Fit();
  ASSERT_TRUE(l->Decide(3).has_value());
  EXPECT_EQ(l->Decide(3)->label, 0);
  // A key no longer labelled is forgotten at Fit.
  l->ClearLabels();
  l->Fit();
  l->Label(1, 0);
  l->Fit();
  EXPECT_EQ(l->labels(), 0u);
}

TEST(SessionLookupTest, RejectsABadBar) {
  EXPECT_FALSE(SessionLookup::Create(0).ok());
  EXPECT_FALSE(SessionLookup::Create(1.5).ok());
  EXPECT_FALSE(SessionLookup::Create(0.9, 0).ok());
}

}  // namespace
}  // namespace fedlog::fewshot
