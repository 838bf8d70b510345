#include "common/config/yaml_proto.h"
#include "fedlog/v1/config.pb.h"
#include "gtest/gtest.h"

namespace fedlog::config {
namespace {

TEST(YamlProtoTest, MapsNestedFieldsListsAndNumbers) {
  v1::ClientConfig c;
  absl::Status st = ParseYamlToMessage(R"(
aggregator_address: localhost:7443
tls: {ca_cert: ca.crt, cert: s.crt, key: s.key}
threads: 4
sources:
  - name: HDFS
    path: /var/log/hdfs.log
    max_lines: 1000
  - {name: BGL, path: bgl.log}
)", &c);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(c.aggregator_address(), "localhost:7443");
  EXPECT_EQ(c.tls().key(), "s.key");
  EXPECT_EQ(c.threads(), 4);
  ASSERT_EQ(c.sources_size(), 2);
  EXPECT_EQ(c.sources(0).max_lines(), 1000);
  EXPECT_EQ(c.sources(1).name(), "BGL");
}

struct BadCase {
  const char* yaml;
  const char* expected_fragment;
};

class BadYamlTest : public testing::TestWithParam<BadCase> {};

TEST_P(BadYamlTest, IsRejectedWithThePath) {
  v1::ServerConfig c;
  absl::Status st = ParseYamlToMessage(GetParam().yaml, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(GetParam().expected_fragment), std::string::npos) << st.message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadYamlTest,
    testing::Values(BadCase{"listen_address: [unclosed", "invalid YAML"},
                    BadCase{"listn_address: x", "listn_address: unknown key (did you mean 'listen_address'?)"},
                    BadCase{"tls: {ca_crt: x}", "tls.ca_crt: unknown key (did you mean 'ca_cert'?)"},
                    BadCase{"colour: blue", "colour: unknown key"},
                    BadCase{"heartbeat_interval_ms: often", "heartbeat_interval_ms: expected an integer"},
                    BadCase{"heartbeat_interval_ms: 99999999999", "out of range"},
                    BadCase{"tls: [a, b]", "tls: expected a map"},
                    BadCase{"model: {hidden: 64}", "model.hidden: expected a list"},
                    BadCase{"model: {hidden: [64, x]}", "model.hidden[1]: expected an integer"},
                    BadCase{"- just a list", "expected a map"}));

TEST(YamlProtoTest, EmptyDocumentGivesDefaults) {
  v1::ServerConfig c;
  EXPECT_TRUE(ParseYamlToMessage("", &c).ok());
  EXPECT_EQ(c.listen_address(), "");
}

TEST(YamlProtoTest, MissingFileNamesThePath) {
  v1::ServerConfig c;
  absl::Status st = LoadYamlFile("/nonexistent/server.yaml", &c);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(st.message().find("/nonexistent/server.yaml"), std::string::npos);
}

TEST(YamlProtoTest, ResolveRelative) {
  EXPECT_EQ(ResolveRelative("/etc/fedlog/site.yaml", "certs/ca.crt"), "/etc/fedlog/certs/ca.crt");
  EXPECT_EQ(ResolveRelative("/etc/fedlog/site.yaml", "/abs/ca.crt"), "/abs/ca.crt");
}

}  // namespace
}  // namespace fedlog::config
