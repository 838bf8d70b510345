// The daemons' configs: the shipped examples load, defaults are filled, and bad configs get clear errors.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "client/site_daemon.h"
#include "common/base/file_util.h"
#include "common/features/stream_featurizer.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"

namespace fedlog {
namespace {

std::string SourceDir() {
  const char* s = std::getenv("FEDLOG_SOURCE_DIR");
  return s ? s : ".";
}

std::string Write(const std::string& name, const std::string& text) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedlog_cfg_XXXXXX").string();
  std::string path = JoinPath(mkdtemp(tmpl.data()), name);
  std::ofstream(path) << text;
  return path;
}

TEST(ServerConfigTest, ShippedExampleLoads) {
  auto c = server::LoadServerConfig(JoinPath(SourceDir(), "deploy/config/aggregator.example.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_address(), "0.0.0.0:7443");
  // The example trains what the site example's detect section needs (issue 15: examples that work together).
  EXPECT_EQ(c->model().arch(), "line_encoder");
}

TEST(ServerConfigTest, DefaultsAndRelativePaths) {
  std::string path = Write("agg.yaml", "data_dir: state\ntls: {ca_cert: ca.crt, cert: a.crt, key: a.key}\n");
  auto c = server::LoadServerConfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_address(), "127.0.0.1:7443");
  EXPECT_EQ(c->data_dir(), JoinPath(std::filesystem::path(path).parent_path().string(), "state"));
  EXPECT_EQ(c->site_timeout_ms(), 15000);
  EXPECT_EQ(c->keep_model_versions(), 20);
  // Without a model section the aggregator trains the line encoder (what live detection scores with).
  EXPECT_EQ(c->model().arch(), "line_encoder");
  EXPECT_EQ(c->model().encoder().out_dim(), 128);
  EXPECT_EQ(c->model().hidden_size(), 0);
}

TEST(ServerConfigTest, LineEncoderDefaultsFollowTheStreamFeaturizer) {
  std::string path = Write("agg.yaml",
                           "data_dir: s\ntls: {ca_cert: a, cert: b, key: c}\nmax_concurrent_downloads: 2\n"
                           "model: {arch: line_encoder, encoder: {out_dim: 64}}\n");
  auto c = server::LoadServerConfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  const v1::LineEncoderSpec& e = c->model().encoder();
  auto featurizer = features::StreamFeaturizer::Create();
  ASSERT_TRUE(featurizer.ok());
  EXPECT_EQ(e.dense_dim(), featurizer->dim());
  EXPECT_EQ(e.out_dim(), 64);  // given
  EXPECT_EQ(e.vocab_buckets(), 32768);
  EXPECT_EQ(e.token_dim(), 64);
  ASSERT_EQ(e.hidden_size(), 1);
  EXPECT_EQ(e.hidden(0), 256);
  EXPECT_FLOAT_EQ(e.dropout(), 0.1f);
  EXPECT_EQ(e.adapter_dim(), 32);
  EXPECT_EQ(e.head_dim(), 128);
  EXPECT_EQ(c->model().init_seed(), 42u);
  EXPECT_EQ(c->max_concurrent_downloads(), 2);
  auto bad = server::LoadServerConfig(
      Write("agg.yaml", "data_dir: s\ntls: {ca_cert: a, cert: b, key: c}\nmodel: {arch: line_encoder, "
                        "encoder: {dropout: 1.5}}\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("dropout"), std::string::npos) << bad.status();
}

TEST(ServerConfigTest, LimitsHaveDocumentedDefaultsAndMapFromYaml) {
  auto c = server::LoadServerConfig(Write("agg.yaml",
                                          "data_dir: s\ntls: {ca_cert: a, cert: b, key: c}\nmax_update_bytes: 5000\n"
                                          "limits: {max_downloads_per_site: 3, stream_idle_timeout_s: 7}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  const v1::ServerLimits& l = c->limits();
  EXPECT_EQ(l.max_downloads_per_site(), 3);  // given
  EXPECT_EQ(l.stream_idle_timeout_s(), 7);
  EXPECT_EQ(l.max_uploads_per_site(), 1);
  EXPECT_EQ(l.max_polls_per_site(), 2);
  EXPECT_EQ(l.max_streams(), 64);
  EXPECT_EQ(l.download_timeout_s(), 1800);
  EXPECT_EQ(l.upload_timeout_s(), 1800);
  EXPECT_EQ(l.min_chunk_bytes(), 65536);
  EXPECT_EQ(l.max_spool_bytes_per_site(), 5000);  // follows max_update_bytes
  EXPECT_EQ(l.max_spool_bytes(), int64_t{8} << 30);
  EXPECT_EQ(l.max_download_variants(), 8);
  EXPECT_EQ(l.max_server_threads(), 256);
  EXPECT_EQ(l.handshake_timeout_s(), 10);
  EXPECT_EQ(l.max_connection_idle_s(), 60);
  EXPECT_EQ(l.max_calls_per_peer(), 16);
  EXPECT_EQ(l.max_streams_per_connection(), 16);  // follows max_calls_per_peer
  const std::string base = "data_dir: s\ntls: {ca_cert: a, cert: b, key: c}\n";
  for (const auto& [yaml, fragment] : std::vector<std::pair<std::string, std::string>>{
           {base + "limits: {max_streams: -1}", "limits.max_streams must not be negative"},
           {base + "chunk_bytes: 4096\nlimits: {min_chunk_bytes: 8192}", "min_chunk_bytes"},
           {base + "limits: {max_server_threads: 4}", "max_server_threads"},
           {base + "limits: {handshake_timeout_s: 121}", "handshake_timeout_s must be <= 120"},
           {base + "heartbeat_interval_ms: 5000\nlimits: {max_connection_idle_s: 5}", "must exceed heartbeat_interval_ms"},
           {base + "limits: {max_calls_per_peer: 5}", "max_calls_per_peer (5) must be in [6, 128]"},
           {base + "limits: {max_calls_per_peer: 129}", "max_calls_per_peer (129) must be in [6, 128]"},
           {base + "limits: {max_streams_per_connection: 5}", "max_streams_per_connection (5) must be in [6, 256]"},
           {base + "limits: {max_streams_per_connection: 257}", "max_streams_per_connection"},
           {base + "limits: {max_polls_per_site: 20}", "max_calls_per_peer (16) must be in [24, 128]"},
           {base + "limits: {max_sockets: 4}", "unknown key"}}) {
    auto r = server::LoadServerConfig(Write("bad.yaml", yaml));
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  }
}

// The call caps' defaults follow the thread quota: one certificate never gets more than half of it.
TEST(ServerConfigTest, CallLimitsFollowTheThreadQuota) {
  auto c = server::LoadServerConfig(
      Write("agg.yaml", "data_dir: s\ntls: {ca_cert: a, cert: b, key: c}\nlimits: {max_server_threads: 16}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits().max_calls_per_peer(), 8);
  EXPECT_EQ(c->limits().max_streams_per_connection(), 8);
  c = server::LoadServerConfig(Write("agg.yaml", "data_dir: s\ntls: {ca_cert: a, cert: b, key: c}\n"
                                                 "limits: {max_calls_per_peer: 40, max_streams_per_connection: 10}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits().max_calls_per_peer(), 40);
  EXPECT_EQ(c->limits().max_streams_per_connection(), 10);
}

TEST(ServerConfigTest, ErrorsNameTheProblem) {
  struct Case {
    std::string yaml, fragment;
  } cases[] = {
      {"tls: {ca_cert: a, cert: b, key: c}", "data_dir is required"},
      {"data_dir: x", "mTLS is always on"},
      {"data_dir: x\ntls: {ca_cert: a, cert: b, key: c}\nmodel: {arch: gpt}", "model.arch 'gpt' is unknown"},
      {"data_dir: x\ntls: {ca_cert: a, cert: b, key: c}\nmodel: {input_dim: 38, hidden: [16, 4]}",
       "belong to arch mlp_autoencoder"},
      {"data_dir: x\ntls: {ca_cert: a, cert: b, key: c}\nchunk_bytes: 99999999", "chunk_bytes"},
      {"data_dir: x\ntls: {ca_cert: a, cert: b, key: c}\nlisten_address: 127.0.0.1:99999", "port '99999'"},
      {"data_dir: x\ntls: {ca_cert: a, cert: b, key: c}\nlisten_address: 127.0.0.1", "has no port"},
      {"data_dir: x\ntls: {ca_cert: a, cert: b, key: c}\nkeep_model_versions: -3", "keep_model_versions"},
      {"data_dir: [x", "invalid YAML"},
  };
  for (const auto& c : cases) {
    std::string path = Write("bad.yaml", c.yaml);
    auto r = server::LoadServerConfig(path);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << "error should name the file";
  }
}

TEST(ClientConfigTest, ShippedExampleLoads) {
  auto c = client::LoadClientConfig(JoinPath(SourceDir(), "deploy/config/site.example.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sources_size(), 1);
  EXPECT_EQ(c->device(), "auto");
  EXPECT_FALSE(c->sources(0).labels().empty());
  EXPECT_EQ(c->detect().sources_size(), 1);
  EXPECT_EQ(c->detect().metrics_listen(), "127.0.0.1:9464");
}

TEST(ClientConfigTest, ErrorsNameTheProblem) {
  const std::string base = "data_dir: d\ntls: {ca_cert: a, cert: b, key: c}\n";
  struct Case {
    std::string yaml, fragment;
  } cases[] = {
      {base, "at least one entry in sources"},
      {base + "sources: [{name: HDFS}]", "sources[0] needs a name and a path"},
      {base + "sources: [{name: HDFS, path: p, max_lines: -1}]", "max_lines"},
      {base + "sources: [{name: HDFS, path: p}]\nholdout_percent: 95", "holdout_percent"},
      {base + "sources: [{name: HDFS, path: p, colour: red}]", "sources[0].colour: unknown key"},
      {base + "sources: [{name: HDFS, path: p}]\naggregator_address: agg.example.org", "has no port"},
  };
  for (const auto& c : cases) {
    auto r = client::LoadClientConfig(Write("bad.yaml", c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().message();
  }
}

TEST(ClientConfigTest, MissingLogFileIsAClearError) {
  auto c = client::LoadClientConfig(
      Write("s.yaml", "data_dir: d\ntls: {ca_cert: a, cert: b, key: c}\nsources: [{name: X, path: /no/such.log}]"));
  ASSERT_TRUE(c.ok());
  auto d = client::SiteDaemon::Create(*c);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("/no/such.log"), std::string::npos);
}

}  // namespace
}  // namespace fedlog
