#include "common/logparse/line_parser.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace fedlog::logparse {
namespace {

struct FormatCase {
  const char* format;
  const char* line;
  int64_t time_ms;
  const char* level;
  const char* component;
  const char* content;
};

// One hand-written line per built-in format, shaped like the loghub source; times computed independently
// (Python calendar.timegm); sources without a year use default_year 2024.
const FormatCase kCases[] = {
    {"Android", "03-17 16:13:38.811  1702  2395 D WindowManager: freezing display wtoken = abc", 1710692018811,
     "D", "WindowManager", "freezing display wtoken = abc"},
    {"Apache", "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/x.properties", 1133671664000,
     "notice", "", "workerEnv.init() ok /etc/x.properties"},
    {"BGL",
     "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL "
     "INFO cache parity error corrected",
     1117813370675, "INFO", "KERNEL", "cache parity error corrected"},
    {"HDFS", "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_3 terminating",
     1226262975000, "INFO", "dfs.DataNode$PacketResponder", "PacketResponder 1 for block blk_3 terminating"},
    {"HPC", "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: x",
     1077804742000, "", "unix.hw", "Component State Change: x"},
    {"Hadoop", "2015-10-18 18:01:47,978 INFO [main] org.apache.App: Created MRAppMaster for app_1", 1445191307978,
     "INFO", "org.apache.App", "Created MRAppMaster for app_1"},
    {"HealthApp", "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", 1514067329606, "",
     "Step_LSC", "onStandStepChanged 3579"},
    {"Linux", "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown", 1718378161000, "",
     "sshd(pam_unix)", "check pass; user unknown"},
    {"Mac", "Jul  1 09:00:55 calvisitor-10 kernel[0]: Thunderbolt HPD packet", 1719824455000, "", "kernel",
     "Thunderbolt HPD packet"},
    {"OpenSSH", "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 1.2.3.4", 1733813746000, "",
     "sshd", "Invalid user webmaster from 1.2.3.4"},
    {"OpenStack",
     "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.wsgi.server [req-1 - -] "
     "10.11.10.1 \"GET /v2\" status: 200",
     1494892800008, "INFO", "nova.wsgi.server", "10.11.10.1 \"GET /v2\" status: 200"},
    {"Proxifier", "[10.30 16:49:06] chrome.exe - proxy.example.org:5070 open through proxy HTTPS", 1730306946000,
     "", "chrome.exe", "proxy.example.org:5070 open through proxy HTTPS"},
    {"Spark", "17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn", 1497039040000, "INFO",
     "spark.SecurityManager", "Changing view acls to: yarn"},
    {"Thunderbird",
     "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for root",
     1131537661000, "", "crond(pam_unix)", "session closed for root"},
    {"Windows", "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1", 1475037030000,
     "Info", "CBS", "Loaded Servicing Stack v6.1"},
    {"Zookeeper",
     "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:2181:FastLeaderElection@774] - Notification time out",
     1438191704747, "INFO", "0:2181:FastLeaderElection", "Notification time out"},
};

class BuiltinFormatTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(BuiltinFormatTest, ParsesHeaderTimeAndContent) {
  const FormatCase& c = GetParam();
  ParserOptions options;
  options.default_year = 2024;
  absl::StatusOr<std::unique_ptr<LineParser>> parser = CreateLineParser(c.format, options);
  ASSERT_TRUE(parser.ok()) << parser.status();
  ParsedLine p;
  (*parser)->Parse(c.line, &p);
  EXPECT_TRUE(p.matched);
  EXPECT_EQ(p.time_ms, c.time_ms);
  EXPECT_EQ(p.level, c.level);
  EXPECT_EQ(p.component, c.component);
  EXPECT_EQ(p.content, c.content);
  EXPECT_EQ(p.num_fields, static_cast<int>((*parser)->field_names().size()));
  // CRLF input parses to the same content.
  std::string crlf = std::string(c.line) + "\r";
  ParsedLine q;
  (*parser)->Parse(crlf, &q);
  EXPECT_EQ(q.content, c.content);
}

INSTANTIATE_TEST_SUITE_P(AllSources, BuiltinFormatTest, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) { return std::string(param_info.param.format); });

TEST(LineParserTest, EveryBuiltinHasACase) {
  std::set<std::string> tested;
  for (const FormatCase& c : kCases) tested.insert(c.format);
  for (const BuiltinFormat& f : BuiltinFormats()) EXPECT_TRUE(tested.count(f.name)) << f.name;
  EXPECT_EQ(BuiltinFormats().size(), 16u);
}

TEST(LineParserTest, LookupIsCaseInsensitiveAndUnknownIsNotFound) {
  EXPECT_NE(FindBuiltinFormat("hdfs"), nullptr);
  EXPECT_TRUE(CreateLineParser("openssh").ok());
  absl::StatusOr<std::unique_ptr<LineParser>> bad = CreateLineParser("NoSuchFormat");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find("HDFS"), std::string::npos);  // the message lists known names
}

TEST(LineParserTest, UnmatchedLineIsKeptWholeAndCounted) {
  auto parser = *CreateLineParser("HDFS");
  ParsedLine p;
  ParseStats stats;
  parser->Parse("this is not an hdfs line", &p);
  stats.Add(p);
  EXPECT_FALSE(p.matched);
  EXPECT_EQ(p.content, "this is not an hdfs line");
  EXPECT_EQ(p.time_ms, kNoTime);
  parser->Parse("081109 203615 148 INFO dfs.X: ok", &p);
  stats.Add(p);
  EXPECT_EQ(stats.lines, 2);
  EXPECT_EQ(stats.unmatched, 1);
}

TEST(LineParserTest, CustomFormatWithTimePattern) {
  ParserOptions o;
  o.time_pattern = "yyyy-MM-dd HH:mm:ss.SSS";
  auto parser = CreateLineParser("format:<Date> <Time> [<Level>] <Component> - <Content>", o);
  ASSERT_TRUE(parser.ok()) << parser.status();
  ParsedLine p;
  (*parser)->Parse("2024-01-02 03:04:05.678 [WARN] db.pool - connection slow", &p);
  ASSERT_TRUE(p.matched);
  EXPECT_EQ(p.time_ms, 1704164645678);
  EXPECT_EQ(p.level, "WARN");
  EXPECT_EQ(p.component, "db.pool");
  EXPECT_EQ(p.content, "connection slow");
}

TEST(LineParserTest, OptionalGroupPresentAndAbsent) {
  auto parser = *CreateLineParser("Linux");
  ParsedLine p;
  parser->Parse("Jun 14 15:16:01 combo kernel: no pid here", &p);
  ASSERT_TRUE(p.matched);
  EXPECT_EQ(p.component, "kernel");
  EXPECT_EQ(p.content, "no pid here");
}

TEST(LineParserTest, BadCustomFormatsAreInvalidArgument) {
  for (const char* f : {"format:<A><B>", "format:<A", "format:(<A> <Content>", "format:no fields",
                        "format:<A> <A>"}) {
    absl::StatusOr<std::unique_ptr<LineParser>> p = CreateLineParser(f);
    ASSERT_FALSE(p.ok()) << f;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << f;
  }
  ParserOptions o;
  o.time_pattern = "yyyy-QQ";
  EXPECT_FALSE(CreateLineParser("format:<Time> <Content>", o).ok());
}

TEST(SyslogTest, Rfc3164WithPriAndPid) {
  ParserOptions o;
  o.default_year = 2024;
  auto parser = *CreateLineParser("syslog", o);
  ParsedLine p;
  parser->Parse("<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick", &p);
  ASSERT_TRUE(p.matched);
  EXPECT_EQ(p.time_ms, 1728684855000);
  EXPECT_EQ(p.level, "crit");  // 34 = facility 4, severity 2
  EXPECT_EQ(p.component, "su");
  EXPECT_EQ(p.fields[4], "230");
  EXPECT_EQ(p.content, "'su root' failed for lonvick");
}

TEST(SyslogTest, Rfc3164WithoutPriAsWrittenByRsyslog) {
  ParserOptions o;
  o.default_year = 2024;
  auto parser = *CreateLineParser("rfc3164", o);
  ParsedLine p;
  parser->Parse("Jun  4 01:02:03 host CRON[99]: (root) CMD (run-parts)", &p);
  ASSERT_TRUE(p.matched);
  EXPECT_EQ(p.component, "CRON");
  EXPECT_EQ(p.content, "(root) CMD (run-parts)");
}

TEST(SyslogTest, Rfc5424WithStructuredData) {
  auto parser = *CreateLineParser("syslog");
  ParsedLine p;
  parser->Parse("<165>1 2003-10-11T22:14:15.003Z host.example.com evntslog - ID47 "
                "[exampleSDID@32473 iut=\"3\" eventID=\"10]11\"] An application event", &p);
  ASSERT_TRUE(p.matched);
  EXPECT_EQ(p.time_ms, 1065910455003);
  EXPECT_EQ(p.level, "notice");
  EXPECT_EQ(p.component, "evntslog");
  EXPECT_EQ(p.fields[4], "");  // PROCID "-"
  EXPECT_EQ(p.content, "An application event");
  parser->Parse("<165>1 2003-10-11T22:14:15.003Z host app 1 - [unterminated", &p);
  EXPECT_FALSE(p.matched);
  auto only5424 = *CreateLineParser("rfc5424");
  only5424->Parse("<34>Oct 11 22:14:15 mymachine su: x", &p);
  EXPECT_FALSE(p.matched);
}

TEST(JsonLinesTest, FieldsEscapesAndTimes) {
  auto parser = *CreateLineParser("jsonl");
  ParsedLine p;
  parser->Parse(R"({"ts": 1704164645.678, "level":"error", "nested": {"a": [1, "}"]}, )"
                R"("msg": "disk \"sda\" full\n\u00e9", "logger": "fs"})", &p);
  ASSERT_TRUE(p.matched);
  EXPECT_EQ(p.time_ms, 1704164645678);
  EXPECT_EQ(p.level, "error");
  EXPECT_EQ(p.component, "fs");
  EXPECT_EQ(p.content, "disk \"sda\" full\n\xc3\xa9");
  parser->Parse(R"({"time": "2024-01-02T03:04:05.678+02:00", "message": "x"})", &p);
  EXPECT_EQ(p.time_ms, 1704157445678);
  parser->Parse(R"({"time": 1704164645678, "message": "ms"})", &p);
  EXPECT_EQ(p.time_ms, 1704164645678);
}

TEST(JsonLinesTest, ConfigurableKeysAndInvalidJson) {
  ParserOptions o;
  o.json_message_fields = {"text"};
  auto parser = *CreateLineParser("jsonl", o);
  ParsedLine p;
  parser->Parse(R"({"message": "ignored", "text": "used"})", &p);
  EXPECT_EQ(p.content, "used");
  parser->Parse(R"({"text": "unterminated)", &p);
  EXPECT_FALSE(p.matched);
  EXPECT_EQ(p.content, R"({"text": "unterminated)");
  parser->Parse(R"({"text": "a"} trailing)", &p);
  EXPECT_FALSE(p.matched);
}

}  // namespace
}  // namespace fedlog::logparse
