// fedlog-bench-parse: throughput of the parse pipeline (header parse + Drain + parameter extraction) next to
// the speed of merely splitting the same bytes into lines, measured in the same run.
//
//   fedlog-bench-parse [--data DIR] [--reps N] [--threads T] [--out FILE.json]
//
// Workloads: HDFS_2pct.log.gz (222,579 lines, gunzipped before timing) and the 16-source loghub-2k mix (each
// source with its own parser and Drain). Reports the median over repetitions, p99 per-line latency (a separate
// timed pass), multi-source parallel throughput and peak RSS (getrusage).
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "common/logparse/parallel.h"
#include "tools/cli/args.h"

namespace fedlog::bench {
namespace lp = ::fedlog::logparse;
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU time of the calling thread: on a shared machine it shows the work done, wall time the work plus waiting.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Source {
  std::string name;
  std::string data;
  std::unique_ptr<lp::LineParser> parser;
};

// Lines/s of splitting alone; the checksum keeps the compiler from dropping the loop.
double SplitRate(const std::vector<const Source*>& sources, int64_t* checksum) {
  const auto t0 = Clock::now();
  int64_t lines = 0;
  for (const Source* s : sources) {
    lines += lp::ForEachLine(s->data, [&](std::string_view l) { *checksum += static_cast<int64_t>(l.size()); });
  }
  return static_cast<double>(lines) / Seconds(t0, Clock::now());
}

// Lines/s of the full pipeline, a fresh Drain per source (learning from scratch, as a new site would).
double PipelineRate(const std::vector<const Source*>& sources, int64_t* checksum, double* cpu_rate) {
  std::vector<std::unique_ptr<lp::Drain>> drains;
  for (size_t i = 0; i < sources.size(); ++i) drains.push_back(*lp::Drain::Create(lp::DrainOptions{}));
  lp::ParsedLine parsed;
  std::vector<std::string_view> params;
  int64_t lines = 0;
  const double cpu0 = ThreadCpuSeconds();
  const auto t0 = Clock::now();
  for (size_t i = 0; i < sources.size(); ++i) {
    lp::Drain* drain = drains[i].get();
    const lp::LineParser* parser = sources[i]->parser.get();
    lines += lp::ForEachLine(sources[i]->data, [&](std::string_view line) {
      parser->Parse(line, &parsed);
      const lp::DrainResult r = drain->Add(parsed.content);
      drain->LastParameters(r.template_id, &params);
      *checksum += r.template_id + static_cast<int64_t>(params.size());
    });
  }
  const double wall = Seconds(t0, Clock::now());
  *cpu_rate = static_cast<double>(lines) / (ThreadCpuSeconds() - cpu0);
  return static_cast<double>(lines) / wall;
}

// p99 of per-line latency in nanoseconds (each line timed on its own).
double P99Nanos(const Source& s) {
  auto drain = *lp::Drain::Create(lp::DrainOptions{});
  lp::ParsedLine parsed;
  std::vector<std::string_view> params;
  std::vector<float> ns;
  lp::ForEachLine(s.data, [&](std::string_view line) {
    const auto t0 = Clock::now();
    s.parser->Parse(line, &parsed);
    drain->LastParameters(drain->Add(parsed.content).template_id, &params);
    ns.push_back(static_cast<float>(std::chrono::duration<double, std::nano>(Clock::now() - t0).count()));
  });
  if (ns.empty()) return 0;
  const size_t k = ns.size() * 99 / 100;
  std::nth_element(ns.begin(), ns.begin() + static_cast<int64_t>(k), ns.end());
  return ns[k];
}

double ParallelRate(const std::vector<const Source*>& sources, int threads) {
  std::vector<std::unique_ptr<lp::Drain>> drains;
  std::vector<lp::SourceJob> jobs;
  int64_t lines = 0;
  for (const Source* s : sources) {
    drains.push_back(*lp::Drain::Create(lp::DrainOptions{}));
    lp::SourceJob job;
    job.parser = s->parser.get();
    job.drain = drains.back().get();
    job.data = s->data;
    jobs.push_back(job);
  }
  const auto t0 = Clock::now();
  lp::ParseSourcesInParallel(&jobs, threads);
  const double secs = Seconds(t0, Clock::now());
  for (const lp::SourceJob& j : jobs) lines += j.stats.lines;
  return static_cast<double>(lines) / secs;
}

int64_t PeakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int Main(int argc, char** argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), {{"data", "reps", "threads", "out"}, {}});
  if (!args.ok()) {
    std::cerr << args.status() << "\nusage: fedlog-bench-parse [--data DIR] [--reps N] [--threads T] [--out F]\n";
    return 2;
  }
  const std::string data_dir = args->Get("data", "../shared/data");
  const int reps = static_cast<int>(args->GetInt("reps", 7).value_or(7));
  const int threads = static_cast<int>(
      args->GetInt("threads", std::max(1u, std::thread::hardware_concurrency())).value_or(2));
  Source hdfs{"HDFS_2pct", "", *lp::CreateLineParser("HDFS")};
  absl::StatusOr<std::string> gz = lp::ReadLogFile(JoinPath(data_dir, "hdfs-v1-2pct/HDFS_2pct.log.gz"));
  if (!gz.ok()) {
    std::cerr << gz.status() << "\n";
    return 1;
  }
  hdfs.data = *std::move(gz);
  std::vector<Source> mix;
  for (const lp::BuiltinFormat& f : lp::BuiltinFormats()) {
    absl::StatusOr<std::string> d =
        lp::ReadLogFile(JoinPath(data_dir, absl::StrFormat("loghub-2k/%s/%s_2k.log", f.name, f.name)));
    if (!d.ok()) {
      std::cerr << d.status() << "\n";
      return 1;
    }
    mix.push_back({f.name, *std::move(d), *lp::CreateLineParser(f.name)});
  }
  std::vector<const Source*> hdfs_only = {&hdfs}, mix_ptrs;
  for (const Source& s : mix) mix_ptrs.push_back(&s);
  int64_t checksum = 0;
  std::vector<double> split_h, pipe_h, cpu_h, split_m, pipe_m, cpu_m, par_m;
  double cpu_rate = 0;
  for (int r = 0; r < reps; ++r) {
    split_h.push_back(SplitRate(hdfs_only, &checksum));
    pipe_h.push_back(PipelineRate(hdfs_only, &checksum, &cpu_rate));
    cpu_h.push_back(cpu_rate);
    split_m.push_back(SplitRate(mix_ptrs, &checksum));
    pipe_m.push_back(PipelineRate(mix_ptrs, &checksum, &cpu_rate));
    cpu_m.push_back(cpu_rate);
    par_m.push_back(ParallelRate(mix_ptrs, threads));
  }
  const double p99_h = P99Nanos(hdfs);
  const std::string json = absl::StrFormat(
      "{\n  \"reps\": %d,\n  \"hdfs_2pct\": {\"lines\": %d, \"bytes\": %d, \"split_lines_per_s\": %.0f, "
      "\"pipeline_lines_per_s\": %.0f, \"pipeline_lines_per_cpu_s\": %.0f, \"pipeline_over_split\": %.4f, "
      "\"p99_line_ns\": %.0f},\n"
      "  \"loghub_2k_mix\": {\"sources\": %d, \"split_lines_per_s\": %.0f, \"pipeline_lines_per_s\": %.0f, "
      "\"pipeline_lines_per_cpu_s\": %.0f, \"pipeline_over_split\": %.4f, \"parallel_threads\": %d, "
      "\"parallel_lines_per_s\": %.0f},\n"
      "  \"peak_rss_kb\": %d,\n  \"checksum\": %d\n}\n",
      reps, lp::SplitLines(hdfs.data).size(), hdfs.data.size(), Median(split_h), Median(pipe_h), Median(cpu_h),
      Median(pipe_h) / Median(split_h), p99_h, mix.size(), Median(split_m), Median(pipe_m), Median(cpu_m),
      Median(pipe_m) / Median(split_m), threads, Median(par_m), PeakRssKb(), checksum);
  std::cout << json;
  if (args->Has("out")) {
    absl::Status s = WriteFileAtomic(args->Get("out"), json);
    if (!s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace fedlog::bench

int main(int argc, char** argv) { return fedlog::bench::Main(argc, argv); }
