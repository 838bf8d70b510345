#include "tests/client/detect/test_model.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "common/model/contrastive_trainer.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::client::detect::testing {

model::EncoderSpec SmallSpec(int dense_dim, std::vector<std::string> sources) {
  model::EncoderSpec spec;
  spec.vocab_buckets = 4096;
  spec.token_dim = 16;
  spec.dense_dim = dense_dim;
  spec.hidden = {32};
  spec.out_dim = 16;
  spec.adapter_dim = 8;
  spec.head_dim = 16;
  spec.sources = std::move(sources);
  return spec;
}

fl::TensorBundle SmallWeights(const model::EncoderSpec& spec, uint64_t seed) {
  model::EncoderSpec s = spec;
  s.init_seed = seed;
  fl::TensorBundle w = *model::InitialEncoderWeights(s);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> n(0, 1);
  // Non-zero adapters, so the adapter path matters.
  for (fl::NamedTensor& t : w.tensors) {
    if (t.name.rfind("adapter.", 0) == 0) {
      for (float& v : t.values) v = 0.2f * n(rng);
    }
  }
  fl::NamedTensor protos{"prototypes.global", {2, spec.out_dim}, {}};
  for (int c = 0; c < 2; ++c) {
    std::vector<float> p(static_cast<size_t>(spec.out_dim));
    double norm = 0;
    for (float& v : p) {
      v = n(rng);
      norm += v * v;
    }
    for (float& v : p) protos.values.push_back(static_cast<float>(v / std::sqrt(norm)));
  }
  w.tensors.push_back(std::move(protos));
  return w;
}

namespace {

// `<prefix>_model.{bundle,manifest}`, bundle first, as the site daemon writes them.
absl::Status WriteModel(const std::string& data_dir, const std::string& prefix,
                        const model::EncoderSpec& spec, const fl::TensorBundle& weights,
                        int64_t version) {
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, fl::EncodeBundle(weights));
  v1::ModelManifest m;
  m.set_version(version);
  m.set_sha256(Sha256Hex(bytes));
  m.set_size_bytes(static_cast<int64_t>(bytes.size()));
  m.mutable_spec()->set_arch("line_encoder");
  v1::LineEncoderSpec* e = m.mutable_spec()->mutable_encoder();
  e->set_vocab_buckets(spec.vocab_buckets);
  e->set_token_dim(spec.token_dim);
  e->set_dense_dim(spec.dense_dim);
  for (int h : spec.hidden) e->add_hidden(h);
  e->set_out_dim(spec.out_dim);
  e->set_adapter_dim(spec.adapter_dim);
  e->set_head_dim(spec.head_dim);
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(data_dir, prefix + "_model.bundle"), bytes));
  return WriteFileAtomic(JoinPath(data_dir, prefix + "_model.manifest"), m.SerializeAsString());
}

}  // namespace

absl::Status WritePromotedModel(const std::string& data_dir, const model::EncoderSpec& spec,
                                const fl::TensorBundle& weights, int64_t version) {
  return WriteModel(data_dir, "promoted", spec, weights, version);
}

absl::Status WritePersonalModel(const std::string& data_dir, const model::EncoderSpec& spec,
                                const fl::TensorBundle& weights, int64_t version) {
  return WriteModel(data_dir, "personal", spec, weights, version);
}

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  auto dir = std::filesystem::path(
                 tmp != nullptr ? tmp : std::filesystem::temp_directory_path().string()) /
             absl::StrCat("fedlog_detect_", name, "_", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string HdfsLine(int i) {
  switch (i % 4) {
    case 0:
      return absl::StrFormat(
          "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
          "blk_%d terminating",
          1000 + i);
    case 1:
      return absl::StrFormat(
          "081109 203807 222 INFO dfs.DataNode$PacketResponder: Received block blk_%d of size "
          "%d from /10.250.19.%d",
          2000 + i, 67108864 - i, i % 250);
    case 2:
      return absl::StrFormat(
          "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap "
          "updated: 10.251.73.%d:50010 is added to blk_%d size %d",
          i % 250, 3000 + i, 67108864);
    default:
      return absl::StrFormat(
          "081109 204106 329 WARN dfs.DataNode$DataXceiver: 10.251.30.%d:50010:Got exception "
          "while serving blk_%d to /10.251.90.%d:",
          i % 250, 4000 + i, i % 100);
  }
}

DetectOptions HdfsDetectOptions(const std::string& dir, const std::string& log) {
  DetectOptions o;
  o.data_dir = dir + "/data";
  o.sources = {{"HDFS", "HDFS", {log}}};
  o.alerts_file = dir + "/alerts.jsonl";
  o.metrics_listen = "off";
  o.poll_interval_ms = 10;
  o.expected_alert_rate = 0.01;
  return o;
}

bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return pred();
}

}  // namespace fedlog::client::detect::testing
