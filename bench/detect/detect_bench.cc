// fedlog-bench-detect: live detection speed on one core. For each workload it measures, in the same
// run, a pass-through (read the file, split it into lines) and the detector's per-line path
// (client/detect LinePipeline: header parse, Drain match/learn, stream features, encoder input,
// torch-free LineScorer with the source adapter, threshold), timing every line.
//
//   fedlog-bench-detect [--data DIR] [--pretrain-steps N] [--max-lines N] [--out FILE.json]
//                       [--support-per-class N] [--kind-verdicts MODES] [--repeats N]
//
// Workloads: HDFS_2pct.log.gz (222,579 lines) and the 16-source loghub-2k mix interleaved line by
// line (32,000 lines, each source with its own parser, Drain and adapter). The model is the default
// line encoder (docs/MODEL.md: 2^15 x 64 token embeddings, hidden 256, out 128, adapters 32),
// contrastively pre-trained for --pretrain-steps steps on the workload's first 4096 lines, with
// prototypes from those lines, turned into the site's detectors by model::BuildSiteDetector. The
// stream is processed once, in order, from a cold start (templates are learnt as they appear).
// With --support-per-class N the per-line path also gets N made-up labels per class and source, i.e.
// up to 2N nearest-support prototypes per source (the daemon's cap is 64 per class) and a threshold
// no score reaches, so the made-up labels' alerts stay out of the timing; the whole-daemon run keeps
// the two prototypes. With --kind-verdicts off,on,counts the per-line path is also run --repeats times
// (default 5) in each listed mode, the modes alternating, and the medians printed with each mode's CPU rate
// next to "off"'s: off = no kind verdicts (the pipeline's default); on = line and session kind verdicts on, as
// the daemon's default detect.kind_verdicts "on" sets them, with a model that carries no kind counts (each
// line's kinds::KindSignature is then pure overhead); counts = the same with a model carrying a kind sketch
// per source (each sample line's kind counted normal 5 times: every line's verdict is looked up, and most
// are normal). Run it pinned to one core: taskset -c 1 fedlog-bench-detect.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/detect/detector.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/model_loader.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/line_input.h"
#include "fedlog/v1/model.pb.h"
#include "tools/cli/args.h"

namespace fedlog::bench {
namespace {

using Clock = std::chrono::steady_clock;
using client::detect::LinePipeline;
using client::detect::LineResult;
using client::detect::SourceOptions;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU time of the calling thread: on a shared machine wall time includes waiting for a core.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Workload {
  std::string name;
  std::vector<SourceOptions> sources;
  std::vector<std::string> raw;                         // file contents per source
  std::vector<std::pair<int, std::string_view>> lines;  // (source, line) in stream order
  double read_split_s = 0;                              // pass-through: read + split
};

absl::StatusOr<Workload> LoadWorkload(const std::string& name,
                                      const std::vector<std::string>& names,
                                      const std::vector<std::string>& paths, int64_t max_lines) {
  Workload w;
  w.name = name;
  const auto t0 = Clock::now();
  std::vector<std::vector<std::string_view>> split;
  for (size_t i = 0; i < paths.size(); ++i) {
    auto text = logparse::ReadLogFile(paths[i]);
    if (!text.ok()) return text.status();
    w.raw.push_back(std::move(*text));
  }
  for (const std::string& r : w.raw) split.push_back(logparse::SplitLines(r));
  w.read_split_s = Seconds(t0, Clock::now());
  for (size_t i = 0; i < names.size(); ++i) w.sources.push_back({names[i], names[i], {}});
  // Interleave sources line by line (a site with several logs); one source is its file in order.
  for (size_t k = 0;; ++k) {
    bool any = false;
    for (size_t s = 0; s < split.size(); ++s) {
      if (k < split[s].size()) {
        w.lines.emplace_back(static_cast<int>(s), split[s][k]);
        any = true;
      }
    }
    if (!any || (max_lines > 0 && static_cast<int64_t>(w.lines.size()) >= max_lines)) break;
  }
  if (max_lines > 0 && static_cast<int64_t>(w.lines.size()) > max_lines) w.lines.resize(max_lines);
  return w;
}

// The default encoder pre-trained on the first lines, with prototypes from them: row 0 their mean
// embedding, row 1 the embedding farthest from it.
struct TrainedModel {
  model::EncoderSpec spec;
  fl::TensorBundle weights;  // encoder + prototypes.global
  // --support-per-class N: per source, the N sample lines farthest from the mean embedding
  // labelled anomalous and the N nearest labelled normal (speed only: the labels are made up), so
  // the per-line path scores against up to 2N nearest-support prototypes per source.
  std::vector<client::detect::LabeledLine> labels;
};

// Up to `n` lines of each class per source (see TrainedModel::labels).
std::vector<client::detect::LabeledLine> SupportLabels(const model::LineSet& sample,
                                                       const DenseMatrix& emb,
                                                       const float* mean, int n) {
  std::vector<client::detect::LabeledLine> out;
  if (n <= 0) return out;
  std::map<std::string, std::vector<std::pair<double, int64_t>>> by_source;
  for (int64_t i = 0; i < emb.rows; ++i) {
    double d = 0;
    for (int64_t c = 0; c < emb.cols; ++c) d += std::pow(emb.Row(i)[c] - mean[c], 2);
    by_source[sample.sources[static_cast<size_t>(i)]].push_back({d, i});
  }
  for (auto& [source, rows] : by_source) {
    std::sort(rows.begin(), rows.end());
    const size_t take = std::min(rows.size() / 2, static_cast<size_t>(n));
    for (size_t k = 0; k < 2 * take; ++k) {
      const bool anomalous = k >= take;
      const int64_t i = anomalous ? rows[rows.size() - 1 - (k - take)].second : rows[k].second;
      client::detect::LabeledLine l;
      l.source = source;
      l.label = anomalous ? 1 : 0;
      l.tokens = sample.tokens[static_cast<size_t>(i)];
      const float* d = sample.dense.Row(i);
      l.dense.assign(d, d + sample.dense.cols);
      out.push_back(std::move(l));
    }
  }
  return out;
}

absl::StatusOr<TrainedModel> MakeModel(const Workload& w, int pretrain_steps,
                                       int support_per_class) {
  auto pipeline = LinePipeline::Create(w.sources);
  if (!pipeline.ok()) return pipeline.status();
  model::LineSet sample;
  LineResult r;
  std::vector<std::string> names;
  for (const auto& s : w.sources) names.push_back(s.name);
  for (size_t i = 0; i < std::min<size_t>(4096, w.lines.size()); ++i) {
    const auto& [src, line] = w.lines[i];
    (*pipeline)->Process(src, line, &r);
    // last_dense() is already squashed (model::SquashDense), as model::AppendLine would store it.
    const std::vector<float>& dense = (*pipeline)->last_dense();
    sample.tokens.push_back((*pipeline)->last_tokens());
    if (sample.dense.rows == 0) sample.dense.cols = static_cast<int64_t>(dense.size());
    sample.dense.data.insert(sample.dense.data.end(), dense.begin(), dense.end());
    ++sample.dense.rows;
    sample.sources.push_back(names[src]);
    sample.template_ids.push_back(r.template_id);
  }
  const model::EncoderSpec spec = model::DefaultEncoderSpec((*pipeline)->feature_dim(), names);
  auto weights = model::InitialEncoderWeights(spec);
  if (!weights.ok()) return weights.status();
  if (pretrain_steps > 0) {
    model::ContrastiveOptions co;
    co.steps = pretrain_steps;
    co.runtime.threads = 1;
    auto trained = model::PretrainContrastive(spec, *weights, sample, co);
    if (!trained.ok()) return trained.status();
    std::fprintf(stderr, "  pre-trained %d steps: loss %.3f -> %.3f (%.1f s)\n", pretrain_steps,
                 trained->initial_loss, trained->final_loss, trained->seconds);
    *weights = trained->weights;
  }
  model::RuntimeOptions rt;
  auto emb = model::Embed(spec, *weights, sample, rt);
  if (!emb.ok()) return emb.status();
  fl::NamedTensor protos{
      "prototypes.global", {2, spec.out_dim}, std::vector<float>(2 * spec.out_dim, 0)};
  for (int64_t i = 0; i < emb->rows; ++i) {
    for (int c = 0; c < spec.out_dim; ++c) protos.values[c] += emb->Row(i)[c] / emb->rows;
  }
  double best = -1;
  int64_t far = 0;
  for (int64_t i = 0; i < emb->rows; ++i) {
    double d = 0;
    for (int c = 0; c < spec.out_dim; ++c) d += std::pow(emb->Row(i)[c] - protos.values[c], 2);
    if (d > best) best = d, far = i;
  }
  for (int c = 0; c < spec.out_dim; ++c) protos.values[spec.out_dim + c] = emb->Row(far)[c];
  std::vector<client::detect::LabeledLine> labels =
      SupportLabels(sample, *emb, protos.values.data(), support_per_class);
  weights->tensors.push_back(std::move(protos));
  return TrainedModel{spec, std::move(*weights), std::move(labels)};
}

std::vector<std::string> Names(const Workload& w) {
  std::vector<std::string> names;
  for (const auto& s : w.sources) names.push_back(s.name);
  return names;
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

absl::Status WriteModel(const std::string& dir, const TrainedModel& m) {
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, fl::EncodeBundle(m.weights));
  v1::ModelManifest manifest;
  manifest.set_version(1);
  manifest.set_sha256(Sha256Hex(bytes));
  manifest.mutable_spec()->set_arch("line_encoder");
  v1::LineEncoderSpec* e = manifest.mutable_spec()->mutable_encoder();
  e->set_vocab_buckets(m.spec.vocab_buckets);
  e->set_token_dim(m.spec.token_dim);
  e->set_dense_dim(m.spec.dense_dim);
  for (int h : m.spec.hidden) e->add_hidden(h);
  e->set_out_dim(m.spec.out_dim);
  e->set_adapter_dim(m.spec.adapter_dim);
  e->set_head_dim(m.spec.head_dim);
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(client::detect::PromotedBundlePath(dir), bytes));
  return WriteFileAtomic(client::detect::PromotedManifestPath(dir), manifest.SerializeAsString());
}

// The whole daemon (tailer thread, bounded queue, scoring thread with store commits and alert
// writes, model watcher) on files holding the workload, from start to the last line committed.
// Returns {lines/s wall, lines per second of process CPU time}.
absl::StatusOr<std::pair<double, double>> RunDaemon(const Workload& w, const TrainedModel& m) {
  const std::string dir = JoinPath(std::filesystem::temp_directory_path().string(),
                                   absl::StrFormat("fedlog_bench_detect_%d", getpid()));
  std::filesystem::remove_all(dir);
  FEDLOG_RETURN_IF_ERROR(MakeDirs(JoinPath(dir, "data")));
  FEDLOG_RETURN_IF_ERROR(WriteModel(JoinPath(dir, "data"), m));
  client::detect::DetectOptions o;
  o.data_dir = JoinPath(dir, "data");
  o.alerts_file = JoinPath(dir, "alerts.jsonl");
  o.metrics_listen = "off";
  o.poll_interval_ms = 50;
  std::vector<std::string> files(w.sources.size());
  for (const auto& [src, line] : w.lines) files[src].append(line).append("\n");
  for (size_t s = 0; s < w.sources.size(); ++s) {
    const std::string path = JoinPath(dir, w.sources[s].name + ".log");
    FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(path, files[s]));
    o.sources.push_back({w.sources[s].name, w.sources[s].format, {path}});
  }
  FEDLOG_ASSIGN_OR_RETURN(auto detector, client::detect::Detector::Create(o));
  const int64_t n = static_cast<int64_t>(w.lines.size());
  absl::Status status;
  const auto t0 = Clock::now();
  const double cpu0 = ProcessCpuSeconds();
  std::thread runner([&] { status = detector->Run(); });
  while (detector->lines_processed() < n && Seconds(t0, Clock::now()) < 300) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double wall = Seconds(t0, Clock::now());
  const double cpu = ProcessCpuSeconds() - cpu0;
  detector->Stop();
  runner.join();
  FEDLOG_RETURN_IF_ERROR(status);
  if (detector->lines_processed() != n)
    return absl::DeadlineExceededError("daemon did not finish in 300 s");
  if (detector->metrics().unscored_lines.load() != 0)
    return absl::InternalError("daemon scored without a model");
  std::filesystem::remove_all(dir);
  return std::make_pair(static_cast<double>(n) / wall, static_cast<double>(n) / cpu);
}

struct Result {
  double p50_us, p99_us, p999_us, max_us, lines_per_s, lines_per_cpu_s, passthrough_lines_per_s;
  double daemon_lines_per_s, daemon_lines_per_cpu_s;  // the whole Detector on files
  int64_t lines, alerts, new_templates;
};

double Percentile(std::vector<double>& v, double q) {
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<int64_t>(k), v.end());
  return v[k];
}

// How the per-line path treats the federation's kind verdicts (--kind-verdicts; see the header comment).
enum class KindMode { kOff, kOn, kCounts };

// Per source, a sketch counting each of the workload's first 4096 lines' kind as normal 5 times (kCounts).
absl::StatusOr<std::map<std::string, kinds::KindSketch>> SampleKinds(const Workload& w) {
  std::map<std::string, kinds::KindSketch> out;
  std::vector<std::unique_ptr<logparse::LineParser>> parsers;
  for (const SourceOptions& s : w.sources) {
    FEDLOG_ASSIGN_OR_RETURN(auto parser, logparse::CreateLineParser(s.format));
    parsers.push_back(std::move(parser));
    out[s.name];
  }
  logparse::ParsedLine parsed;
  for (size_t i = 0; i < std::min<size_t>(4096, w.lines.size()); ++i) {
    const auto& [src, line] = w.lines[i];
    parsers[static_cast<size_t>(src)]->Parse(logparse::StripCr(line), &parsed);
    const std::optional<uint64_t> kind = kinds::KindSignature(parsed.content);
    if (kind) out[w.sources[static_cast<size_t>(src)].name].AddKind(*kind, 0, 5);
  }
  return out;
}

absl::StatusOr<Result> Run(const Workload& w, const TrainedModel& trained, KindMode kind_mode = KindMode::kOff) {
  FEDLOG_ASSIGN_OR_RETURN(auto model, client::detect::BuildDetectionModel(
                                          trained.spec, trained.weights, 1, Names(w),
                                          trained.labels,
                                          // made-up labels: keep their alerts out of the timing
                                          trained.labels.empty() ? 0.0f : 2.0f));
  if (kind_mode == KindMode::kCounts) {
    FEDLOG_ASSIGN_OR_RETURN(model->kinds, SampleKinds(w));
  }
  auto pipeline = LinePipeline::Create(w.sources);
  if (!pipeline.ok()) return pipeline.status();
  (*pipeline)->SetModel(std::move(model));
  if (kind_mode != KindMode::kOff) {  // as client::detect::Detector sets them up for detect.kind_verdicts "on"
    (*pipeline)->EnableKindVerdicts(true);
    (*pipeline)->SetKindVerdictOptions(kinds::KindVerdictOptions{});
    (*pipeline)->EnableSessionKindVerdicts(true);
  }
  std::vector<double> lat;
  lat.reserve(w.lines.size());
  Result res{};
  LineResult r;
  const auto start = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  for (const auto& [src, line] : w.lines) {
    const auto t0 = Clock::now();
    (*pipeline)->Process(src, line, &r);
    lat.push_back(Seconds(t0, Clock::now()) * 1e6);
    res.alerts += r.alert ? 1 : 0;
    res.new_templates += r.new_template ? 1 : 0;
  }
  const double total = Seconds(start, Clock::now());
  const double cpu = ThreadCpuSeconds() - cpu0;
  res.lines = static_cast<int64_t>(w.lines.size());
  res.lines_per_s = static_cast<double>(res.lines) / total;
  res.lines_per_cpu_s = static_cast<double>(res.lines) / cpu;
  res.passthrough_lines_per_s = static_cast<double>(res.lines) / w.read_split_s;
  res.max_us = *std::max_element(lat.begin(), lat.end());
  res.p50_us = Percentile(lat, 0.5);
  res.p99_us = Percentile(lat, 0.99);
  res.p999_us = Percentile(lat, 0.999);
  return res;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// --kind-verdicts: the per-line path `repeats` times in each of `modes`, alternating; prints the medians and
// appends them to `json`.
absl::Status RunKindModes(const Workload& w, const TrainedModel& trained,
                          const std::vector<std::pair<std::string, KindMode>>& modes, int repeats,
                          std::string* json) {
  std::vector<std::vector<double>> wall(modes.size()), cpu(modes.size()), p50(modes.size());
  for (int r = 0; r < repeats; ++r) {
    for (size_t m = 0; m < modes.size(); ++m) {
      FEDLOG_ASSIGN_OR_RETURN(Result res, Run(w, trained, modes[m].second));
      wall[m].push_back(res.lines_per_s);
      cpu[m].push_back(res.lines_per_cpu_s);
      p50[m].push_back(res.p50_us);
    }
  }
  std::printf("  %-21s %12s %12s %9s %10s\n", "kind verdicts mode", "detect/s", "detect/cpu-s", "p50 us",
              "cpu vs off");
  double off_cpu = 0;
  for (size_t m = 0; m < modes.size(); ++m) {
    if (modes[m].second == KindMode::kOff) off_cpu = Median(cpu[m]);
  }
  for (size_t m = 0; m < modes.size(); ++m) {
    const double c = Median(cpu[m]);
    const std::string vs_off =
        off_cpu > 0 ? absl::StrFormat("%+.1f%%", 100.0 * (c / off_cpu - 1.0)) : std::string("-");
    std::printf("  kind verdicts %-7s %12.0f %12.0f %9.2f %10s   (medians of %d)\n", modes[m].first.c_str(),
                Median(wall[m]), c, Median(p50[m]), vs_off.c_str(), repeats);
    absl::StrAppendFormat(json,
                          "%s{\"workload\":\"%s\",\"kind_verdicts\":\"%s\",\"repeats\":%d,"
                          "\"detect_lines_per_s\":%.0f,\"detect_lines_per_cpu_s\":%.0f,\"p50_us\":%.3f}",
                          json->size() > 1 ? "," : "", w.name, modes[m].first, repeats, Median(wall[m]), c,
                          Median(p50[m]));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, KindMode>>> ParseKindModes(const std::string& list) {
  std::vector<std::pair<std::string, KindMode>> out;
  if (list.empty()) return out;
  for (absl::string_view m : absl::StrSplit(list, ',')) {
    if (m == "off") {
      out.emplace_back("off", KindMode::kOff);
    } else if (m == "on") {
      out.emplace_back("on", KindMode::kOn);
    } else if (m == "counts") {
      out.emplace_back("counts", KindMode::kCounts);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--kind-verdicts takes a list of off, on and counts; got '", m, "'"));
    }
  }
  return out;
}

int Main(int argc, char** argv) {
  auto args = cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc),
                               {{"data", "pretrain-steps", "max-lines", "out", "support-per-class",
                                 "kind-verdicts", "repeats"},
                                {}});
  if (!args.ok()) {
    std::fprintf(stderr, "%s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  const char* env = std::getenv("FEDLOG_DATA_DIR");
  const std::string data = args->Get("data", env != nullptr ? env : "../shared/data");
  const int steps = static_cast<int>(args->GetInt("pretrain-steps", 20).value_or(20));
  const int64_t max_lines = args->GetInt("max-lines", 0).value_or(0);
  const int support = static_cast<int>(args->GetInt("support-per-class", 0).value_or(0));
  auto kind_modes = ParseKindModes(args->Get("kind-verdicts", ""));
  const int repeats = static_cast<int>(args->GetInt("repeats", 5).value_or(5));
  if (!kind_modes.ok() || repeats < 1 || repeats > 100) {
    std::fprintf(stderr, "fedlog-bench-detect: %s\n",
                 kind_modes.ok() ? "--repeats must be between 1 and 100"
                                 : std::string(kind_modes.status().message()).c_str());
    return 2;
  }
  std::vector<std::string> names, paths;
  for (const auto& f : logparse::BuiltinFormats()) {
    names.push_back(f.name);
    paths.push_back(JoinPath(data, absl::StrFormat("loghub-2k/%s/%s_2k.log", f.name, f.name)));
  }
  std::vector<absl::StatusOr<Workload>> workloads;
  workloads.push_back(LoadWorkload("HDFS_2pct", {"HDFS"},
                                   {JoinPath(data, "hdfs-v1-2pct/HDFS_2pct.log.gz")}, max_lines));
  workloads.push_back(LoadWorkload("loghub-2k mix (16 sources)", names, paths, max_lines));
  std::string json = "[";
  std::printf("%-28s %9s %12s %12s %12s %9s %9s %9s %9s %8s %12s %12s\n", "workload", "lines",
              "passthru/s", "detect/s", "detect/cpu-s", "p50 us", "p99 us", "p99.9 us", "max us",
              "alerts", "daemon/s", "daemon/cpu-s");
  for (auto& w : workloads) {
    if (!w.ok()) {
      std::fprintf(stderr, "fedlog-bench-detect: %s\n", std::string(w.status().message()).c_str());
      return 1;
    }
    std::fprintf(stderr, "%s: %zu lines\n", w->name.c_str(), w->lines.size());
    auto trained = MakeModel(*w, steps, support);
    auto r = trained.ok() ? Run(*w, *trained) : absl::StatusOr<Result>(trained.status());
    if (r.ok()) {
      auto daemon = RunDaemon(*w, *trained);
      if (!daemon.ok()) r = daemon.status();
      if (daemon.ok()) std::tie(r->daemon_lines_per_s, r->daemon_lines_per_cpu_s) = *daemon;
    }
    if (!r.ok()) {
      std::fprintf(stderr, "fedlog-bench-detect: %s\n", std::string(r.status().message()).c_str());
      return 1;
    }
    std::printf("%-28s %9lld %12.0f %12.0f %12.0f %9.2f %9.2f %9.2f %9.1f %8lld %12.0f %12.0f\n",
                w->name.c_str(), static_cast<long long>(r->lines), r->passthrough_lines_per_s,
                r->lines_per_s, r->lines_per_cpu_s, r->p50_us, r->p99_us, r->p999_us, r->max_us,
                static_cast<long long>(r->alerts), r->daemon_lines_per_s,
                r->daemon_lines_per_cpu_s);
    absl::StrAppendFormat(&json,
                          "%s{\"workload\":\"%s\",\"lines\":%d,\"passthrough_lines_per_s\":%.0f,"
                          "\"detect_lines_per_s\":%.0f,\"detect_lines_per_cpu_s\":%.0f,\"p50_us\":%"
                          ".3f,\"p99_us\":%.3f,\"p999_us\":%.3f,"
                          "\"max_us\":%.1f,\"alerts\":%d,\"new_template_lines\":%d,"
                          "\"daemon_lines_per_s\":%.0f,\"daemon_lines_per_cpu_s\":%.0f}",
                          json.size() > 1 ? "," : "", w->name, r->lines, r->passthrough_lines_per_s,
                          r->lines_per_s, r->lines_per_cpu_s, r->p50_us, r->p99_us, r->p999_us,
                          r->max_us, r->alerts, r->new_templates, r->daemon_lines_per_s,
                          r->daemon_lines_per_cpu_s);
    if (!kind_modes->empty()) {
      if (absl::Status st = RunKindModes(*w, *trained, *kind_modes, repeats, &json); !st.ok()) {
        std::fprintf(stderr, "fedlog-bench-detect: %s\n", std::string(st.message()).c_str());
        return 1;
      }
    }
  }
  json += "]\n";
  if (args->Has("out") && !WriteFileAtomic(args->Get("out"), json).ok()) return 1;
  return 0;
}

}  // namespace
}  // namespace fedlog::bench

int main(int argc, char** argv) { return fedlog::bench::Main(argc, argv); }
