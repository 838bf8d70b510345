#include "common/labels/csv.h"

#include "gtest/gtest.h"

namespace fedlog::labels {
namespace {

TEST(CsvTest, QuotedCommasDoubledQuotesAndNewlines) {
  auto t = ParseCsv(
      "Id,Content,Tag\n"
      "1,\"a, b\",x\n"
      "2,\"say \"\"hi\"\"\",\n"
      "3,\"two\nlines\",z\n"
      "4,plain \"inner\" quote,w\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows.size(), 4u);
  EXPECT_EQ(t->rows[0].fields[1], "a, b");
  EXPECT_EQ(t->rows[1].fields[1], "say \"hi\"");
  EXPECT_EQ(t->rows[1].fields[2], "");  // trailing comma -> empty last field
  EXPECT_EQ(t->rows[2].fields[1], "two\nlines");
  EXPECT_EQ(t->rows[3].fields[1], "plain \"inner\" quote");
  EXPECT_EQ(t->rows[2].line, 4);
  EXPECT_EQ(t->rows[3].line, 6);  // the quoted newline moved it down a line
  EXPECT_EQ(*t->Column("Tag"), 2u);
  EXPECT_EQ(t->Column("Nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(CsvTest, CrlfBomAndBlankLines) {
  auto t = ParseCsv(
      "\xEF\xBB\xBF"
      "a,b\r\n\r\n1,\"2\"\r\n3,4");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->header[0], "a");
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0].fields[1], "2");
  EXPECT_EQ(t->rows[1].fields[1], "4");
  EXPECT_EQ(t->rows[1].line, 4);
}

TEST(CsvTest, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* want;
  };
  for (const Case& c : {Case{"a,b\n1,2\n3\n", "line 3: 1 fields, header has 2"},
                        Case{"a,b\n1,2\n3,\"open\n\n", "line 3: quoted field is never closed"},
                        Case{"a,b\n\"x\"y,2\n", "line 2: unexpected 'y' after a closing quote"},
                        Case{"", "CSV input is empty"}}) {
    auto t = ParseCsv(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(), c.want);
  }
}

}  // namespace
}  // namespace fedlog::labels
