#include "common/labels/pattern_library.h"

#include <string>
#include <vector>

#include "common/labels/seed_labeled.h"
#include "gtest/gtest.h"
#include "tests/common/labels/test_data.h"

namespace fedlog::labels {
namespace {

constexpr char kYaml[] = R"(
patterns:
  - name: auth
    anomaly_type: security_anomaly
    keywords: ["Failed Password", "invalid user"]
  - name: exact_case
    anomaly_type: system_failure
    case_sensitive: true
    keywords: ["FATAL"]
  - name: oom
    anomaly_type: system_failure
    regex: 'killed process \d+'
)";

TEST(PatternLibraryTest, KeywordsRegexCaseAndOrder) {
  auto lib = PatternLibrary::FromYaml(kYaml);
  ASSERT_TRUE(lib.ok()) << lib.status();
  EXPECT_EQ(lib->rules().size(), 3u);
  EXPECT_EQ(lib->FirstMatch("failed password for root")->rule, "auth");  // keywords ignore case
  EXPECT_EQ(lib->FirstMatch("kernel: FATAL trap")->rule, "exact_case");
  EXPECT_FALSE(lib->FirstMatch("kernel: fatal trap").has_value());  // case_sensitive keyword
  EXPECT_EQ(lib->FirstMatch("Out of memory: Killed process 4242 (java)")->anomaly_type,
            "system_failure");  // regex, case-insensitive
  EXPECT_FALSE(lib->FirstMatch("Killed process x").has_value());
  // Both rules hit; the earlier one wins, AllMatches reports both in order.
  const std::string both = "FATAL: invalid user admin";
  EXPECT_EQ(lib->FirstMatch(both)->rule, "auth");
  EXPECT_EQ(lib->AllMatches(both), (std::vector<RuleMatch>{{"auth", "security_anomaly"},
                                                           {"exact_case", "system_failure"}}));
}

TEST(PatternLibraryTest, InvalidLibrariesAreRejectedWithContext) {
  struct Case {
    std::string yaml, want;
  };
  const std::string head = "patterns:\n  - name: r\n    anomaly_type: t\n";
  for (const Case& c : std::vector<Case>{
           {head + "    keyword: [x]\n", "line 4: unknown key \"keyword\""},
           {head + "    regex: '(unclosed'\n", "rule \"r\": bad regex"},
           {head + "    keywords: [x]\n  - name: r\n    anomaly_type: t\n    keywords: [y]\n",
            "rule \"r\" defined twice"},
           {"patterns:\n  - name: r\n    keywords: [x]\n", "rule \"r\" has no anomaly_type"},
           {head, "rule \"r\" needs keywords or a regex"},
           {"patterns:\n  - name: 'bad name'\n    anomaly_type: t\n    keywords: [x]\n",
            "rule name \"bad name\""},
           {head + "    keywords: x\n", "line 4: keywords must be a list"},
           {"patterns: [\n", "line "},
           {"rules: []\n", "expected a top-level \"patterns:\" list"}}) {
    auto lib = PatternLibrary::FromYaml(c.yaml);
    ASSERT_FALSE(lib.ok()) << c.yaml;
    EXPECT_EQ(lib.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(lib.status().message().find(c.want), std::string::npos)
        << "got: " << lib.status().message() << "\nwant: " << c.want;
  }
  EXPECT_EQ(PatternLibrary::FromFile("/nonexistent/patterns.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

absl::StatusOr<PatternLibrary> DefaultLibrary() {
  return PatternLibrary::FromFile(testing::SourceFile("deploy/config/label-patterns.yaml"));
}

TEST(DefaultPatternsTest, LoadsAndLabelsRepresentativeLines) {
  auto lib = DefaultLibrary();
  ASSERT_TRUE(lib.ok()) << lib.status();
  struct Case {
    const char* line;
    const char* rule;  // "" = no rule should fire
  };
  for (const Case& c : std::vector<Case>{
           {"Failed password for root from 183.62.140.253 port 54816 ssh2", "ssh_failed_login"},
           {"ciod: Error loading /p/gb1/raptor: invalid or missing program image, Permission "
            "denied",
            "missing_file_or_config"},
           {"instruction cache parity error corrected", "memory_parity_ecc"},
           {"rts panic! - stopping execution", "kernel_panic"},
           {"Exception causing close of session 0x0 due to java.io.IOException: not running",
            "java_exception"},
           {"Retrying connect to server: msra-sa-41/10.190.173.170:8030. Already tried 0 time(s)",
            "connect_retries"},
           {"Expiring session 0x14f05578bf80018, timeout of 10000ms exceeded", "timeouts"},
           {"getpeername (ftpd): Transport endpoint is not connected", "connection_failure"},
           {"node-178 not responding", "node_not_responding"},
           {"Task cleanup failed for attempt attempt_1445144423722_0020_m_000000_0", "task_failed"},
           {"write(2) failed: No space left on device", "storage_exhausted"},
           {"Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106", ""},
           {"session opened for user root by (uid=0)", ""},
           {"Verification succeeded for blk_-1547954353065580372", ""}}) {
    std::optional<RuleMatch> m = lib->FirstMatch(c.line);
    EXPECT_EQ(m.has_value() ? m->rule : "", c.rule) << c.line;
  }
}

// The weak seed labels came from keyword rules too, so the default library should broadly agree
// with them: it catches most OpenSSH lines (all labelled anomalous) and flags few HDFS lines (all
// labelled normal).
TEST(DefaultPatternsTest, BroadlyAgreesWithSeedLabels) {
  FEDLOG_REQUIRE_DATA_FILE(ssh, "seed-labeled-2k/OpenSSH_2k_labeled.csv");
  FEDLOG_REQUIRE_DATA_FILE(hdfs, "seed-labeled-2k/HDFS_2k_labeled.csv");
  auto lib = DefaultLibrary();
  ASSERT_TRUE(lib.ok());
  auto hit_rate = [&](const std::string& path) {
    auto lines = ReadSeedLabeledCsv(path);
    EXPECT_TRUE(lines.ok()) << lines.status();
    int hits = 0;
    for (const SeedLabeledLine& l : *lines) hits += lib->FirstMatch(l.content).has_value() ? 1 : 0;
    return static_cast<double>(hits) / static_cast<double>(lines->size());
  };
  EXPECT_GT(hit_rate(ssh), 0.5);
  EXPECT_LT(hit_rate(hdfs), 0.02);
}

}  // namespace
}  // namespace fedlog::labels
