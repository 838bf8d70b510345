// fedlog-bench-kind-sessions: the federation's kind verdicts on sessions through the daemon's own path, next
// to the same path without them, on HDFS_2pct split into two sites by block id as `fedlog eval newsite
// --fed-sibling` splits it (the high bit of FNV-1a over the block id: tools/offline's HdfsSiblingBlock).
//
//   fedlog-bench-kind-sessions [--data DIR] [--label-part 0.3]
//
// 1. The sibling half (lines whose first labelled block falls on the sibling's side): each line labelled with
//    its block's label, as a block-expanded labels file would; client::SessionKindCounts with the block-id
//    session pattern makes the counts the site uploads; buckets whose classes together hold fewer than 3
//    units are zeroed, as the aggregator ships the sum; that is the new site's model's kind counts.
// 2. The new site's half (every other line) through client/detect's LinePipeline at the daemon's defaults
//    (DetectOptionsFromConfig of a config naming only the source, detect.session_pattern and
//    detect.expected_alert_rate 0.01, the documented budget that turns label-free scoring on), the source
//    label-free, once with detect.kind_verdicts "lines" (sessions untouched: the behaviour before session 18)
//    and once "on". Sessions still open at the end are closed (FlushSessions).
// A block is alerted when a session of its key alerted. Printed: F1, precision, recall and the normal-block
// alert rate over the half's labelled blocks, over its test blocks (first line after the first --label-part
// of the half's lines, as eval newsite's split), and how many blocks the session verdicts raised.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "client/detect/detect_options.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/model_loader.h"
#include "client/site_kinds.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/kinds/kind_sketch.h"
#include "common/labels/hdfs_labels.h"
#include "common/logparse/line_reader.h"
#include "common/logparse/drain.h"
#include "fedlog/v1/config.pb.h"

namespace fedlog {
namespace {

std::string Arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

// tools/offline/eval_newsite_data.cc's HdfsSiblingBlock: the same split of the blocks.
bool SiblingBlock(std::string_view block_id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : block_id) h = (h ^ c) * 1099511628211ull;
  return (h >> 63) != 0;
}

struct Half {
  std::vector<std::string> lines;
  std::vector<int> labels;  // per line: its first labelled block's label, -1 none
};

struct Metrics {
  double f1 = 0, precision = 0, recall = 0, normal_rate = 0;
  int64_t blocks = 0, anomalous = 0;
};

Metrics Measure(const std::vector<std::pair<bool, bool>>& label_alert) {
  int64_t tp = 0, fp = 0, fn = 0, normal = 0;
  Metrics m;
  for (const auto& [y, a] : label_alert) {
    ++m.blocks;
    m.anomalous += y ? 1 : 0;
    normal += y ? 0 : 1;
    tp += y && a;
    fp += !y && a;
    fn += y && !a;
  }
  m.precision = tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0;
  m.recall = tp + fn > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
  m.normal_rate = normal > 0 ? static_cast<double>(fp) / static_cast<double>(normal) : 0;
  return m;
}

// The session keys (logparse::TokenHash of the block id, as novelty::EventBuilder keys them) whose session
// alerted in a replay of `lines`, and how many session alerts the kind verdict raised.
absl::Status Replay(const client::detect::DetectOptions& o, const kinds::KindSketch& sketch, bool sessions,
                    const std::vector<std::string>& lines, absl::flat_hash_set<uint64_t>* alerted,
                    int64_t* raised) {
  FEDLOG_ASSIGN_OR_RETURN(auto p, client::detect::LinePipeline::Create(o.sources));
  FEDLOG_RETURN_IF_ERROR(p->EnableLabelFree(client::detect::LabelFreeRule(o), o.session_pattern, o.fewshot_match,
                                            client::detect::FewShotRule(o), o.session_lookup_match,
                                            o.session_kind_rule));
  FEDLOG_RETURN_IF_ERROR(p->SetDetectorChoice(o.detector_choice));
  auto model = std::make_unique<client::detect::DetectionModel>();  // kind counts only: no scorer
  model->version = 1;
  model->kinds.emplace(o.sources[0].name, sketch);
  p->SetModel(std::move(model));
  p->EnableKindVerdicts(o.kind_verdicts);
  p->EnableSessionKindVerdicts(sessions);
  client::detect::LineResult r;
  std::vector<client::detect::LabelFreeScorer::SessionAlert> a;
  auto take = [&] {
    p->TakeSessionAlerts(&a);
    for (const auto& s : a) {
      alerted->insert(s.score.session);
      *raised += s.kind_verdict == 1 ? 1 : 0;
    }
  };
  for (const std::string& line : lines) {
    p->Process(0, line, &r);
    take();
  }
  p->FlushSessions();
  take();
  return absl::OkStatus();
}

absl::Status Run(const std::string& data, double label_part) {
  FEDLOG_ASSIGN_OR_RETURN(const std::vector<labels::BlockLabel> blocks,
                          labels::ReadHdfsBlockLabels(JoinPath(data, "hdfs-v1-2pct/HDFS_2pct_block_labels.csv")));
  FEDLOG_ASSIGN_OR_RETURN(const std::string raw, logparse::ReadLogFile(JoinPath(data, "hdfs-v1-2pct/HDFS_2pct.log.gz")));
  absl::flat_hash_map<std::string, int> label;
  for (const auto& b : blocks) label.emplace(b.block_id, b.anomalous ? 1 : 0);
  Half sib, mine;
  absl::flat_hash_map<uint64_t, std::pair<int, int64_t>> block_of;  // the new site's blocks: label, first line
  for (std::string_view line : logparse::SplitLines(raw)) {
    std::string_view first;
    int y = -1;
    for (absl::string_view id : labels::ExtractBlockIds(absl::string_view(line.data(), line.size()))) {
      auto it = label.find(std::string(id));
      if (it == label.end()) continue;
      first = std::string_view(id.data(), id.size());
      y = it->second;
      break;
    }
    Half& h = !first.empty() && SiblingBlock(first) ? sib : mine;
    h.lines.emplace_back(line);
    h.labels.push_back(y);
    if (&h == &mine && !first.empty()) {
      block_of.try_emplace(logparse::TokenHash(first), y, static_cast<int64_t>(mine.lines.size()) - 1);
    }
  }
  v1::ClientConfig config;
  config.set_data_dir("/nonexistent");
  auto* d = config.mutable_detect();
  auto* src = d->add_sources();
  src->set_name("HDFS");
  src->add_paths(std::string("-"));  // (a const char* trips GCC 12 -Wrestrict)
  d->set_session_pattern(labels::kBlockIdSessionPattern);
  d->set_expected_alert_rate(0.01);  // label-free scoring on, at the documented budget
  FEDLOG_ASSIGN_OR_RETURN(const client::detect::DetectOptions o, client::detect::DetectOptionsFromConfig(config));
  FEDLOG_ASSIGN_OR_RETURN(std::optional<v1::KindCounts> counts,
                          client::SessionKindCounts("HDFS", "HDFS", sib.lines, sib.labels, o.session_pattern));
  if (!counts) return absl::FailedPreconditionError("the sibling half has no labelled kind");
  FEDLOG_ASSIGN_OR_RETURN(kinds::KindSketch sketch,
                          kinds::KindSketch::FromSparse(std::vector<uint32_t>(counts->bucket().begin(), counts->bucket().end()),
                                                        std::vector<double>(counts->count().begin(), counts->count().end())));
  sketch.Suppress(3);
  std::printf("sibling half: %zu lines; new site's half: %zu lines, %zu labelled blocks\n", sib.lines.size(),
              mine.lines.size(), block_of.size());
  const int64_t cut = static_cast<int64_t>(label_part * static_cast<double>(mine.lines.size()));
  for (bool sessions : {false, true}) {
    absl::flat_hash_set<uint64_t> alerted;
    int64_t raised = 0;
    FEDLOG_RETURN_IF_ERROR(Replay(o, sketch, sessions, mine.lines, &alerted, &raised));
    std::vector<std::pair<bool, bool>> all, test;
    for (const auto& [key, v] : block_of) {
      all.emplace_back(v.first == 1, alerted.contains(key));
      if (v.second >= cut) test.emplace_back(v.first == 1, alerted.contains(key));
    }
    for (const auto& [name, m] : {std::make_pair("all blocks", Measure(all)), std::make_pair("test blocks", Measure(test))}) {
      std::printf("kind_verdicts %-5s %-11s: %lld blocks (%lld anomalous): F1 %.3f precision %.3f recall %.3f "
                  "normal-block alert rate %.4f\n",
                  sessions ? "on" : "lines", name, static_cast<long long>(m.blocks), static_cast<long long>(m.anomalous),
                  m.f1, m.precision, m.recall, m.normal_rate);
    }
    std::printf("kind_verdicts %-5s session alerts the kind verdict raised: %lld\n", sessions ? "on" : "lines",
                static_cast<long long>(raised));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace fedlog

int main(int argc, char** argv) {
  const std::string data = fedlog::Arg(argc, argv, "--data", "../shared/data");
  const double part = std::atof(fedlog::Arg(argc, argv, "--label-part", "0.3").c_str());
  if (!(part >= 0 && part < 1)) {
    std::fprintf(stderr, "--label-part must be in [0, 1)\n");
    return 2;
  }
  const absl::Status st = fedlog::Run(data, part);
  if (!st.ok()) {
    std::fprintf(stderr, "fedlog-bench-kind-sessions: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  return 0;
}
