#include "common/logparse/csv.h"
#include "common/logparse/parsing_accuracy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedlog::logparse {
namespace {

using ::testing::ElementsAre;

TEST(CsvTest, QuotedFieldsWithCommasQuotesAndNewlines) {
  absl::StatusOr<std::vector<CsvRow>> rows =
      ParseCsv("LineId,Content,EventId\r\n1,\"a, b\",E1\n2,\"say \"\"hi\"\"\",E2\n3,\"two\nlines\",\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_THAT((*rows)[0], ElementsAre("LineId", "Content", "EventId"));
  EXPECT_THAT((*rows)[1], ElementsAre("1", "a, b", "E1"));
  EXPECT_THAT((*rows)[2], ElementsAre("2", "say \"hi\"", "E2"));
  EXPECT_THAT((*rows)[3], ElementsAre("3", "two\nlines", ""));
}

TEST(CsvTest, UnterminatedQuoteIsAnError) {
  EXPECT_FALSE(ParseCsv("a,\"b\n").ok());
}

TEST(CsvTest, EscapeRoundTrips) {
  const std::string fields[] = {"plain", "a,b", "q\"uote", "new\nline", ""};
  std::string line;
  for (const std::string& f : fields) {
    if (&f != &fields[0]) line.push_back(',');
    line.append(CsvEscape(f));
  }
  absl::StatusOr<std::vector<CsvRow>> rows = ParseCsv(line);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_THAT((*rows)[0], ElementsAre("plain", "a,b", "q\"uote", "new\nline", ""));
}

TEST(GroupingAccuracyTest, LoghubDefinition) {
  // Truth: {0,1} A, {2,3} B, {4} C.
  const std::vector<std::string> truth = {"A", "A", "B", "B", "C"};
  EXPECT_DOUBLE_EQ(GroupingAccuracy({1, 1, 2, 2, 3}, truth), 1.0);
  EXPECT_DOUBLE_EQ(GroupingAccuracy({7, 7, 7, 7, 3}, truth), 0.2);      // A and B merged: only C right
  EXPECT_DOUBLE_EQ(GroupingAccuracy({1, 9, 2, 2, 3}, truth), 0.6);      // A split
  EXPECT_DOUBLE_EQ(GroupingAccuracy({1, 1, 2, 3, 3}, truth), 0.4);      // B split, one B merged with C
  EXPECT_DOUBLE_EQ(GroupingAccuracy({1, 1}, truth), 0.0);               // size mismatch
}

TEST(TemplateAccuracyTest, NormalisesPlaceholdersAndSpaces) {
  EXPECT_EQ(NormalizeTemplate("Received  block <BLK> of size <NUM>"), "Received block <*> of size <*>");
  EXPECT_EQ(NormalizeTemplate("a <*> <*> b"), "a <*> b");
  EXPECT_EQ(NormalizeTemplate("x <*><*> "), "x <*>");
  EXPECT_EQ(NormalizeTemplate("keep <lowercase> tags"), "keep <lowercase> tags");
  EXPECT_EQ(NormalizeTemplate("from <*>:<*> to <IP>"), "from <*> to <*>");
  EXPECT_EQ(NormalizeTemplate("(<*>) x"), "(<*>) x");
  EXPECT_DOUBLE_EQ(TemplateAccuracy({"a <IP>", "b <*>"}, {"a <*>", "b c"}), 0.5);
}

}  // namespace
}  // namespace fedlog::logparse
