// `fedlog synth --format F --lines N --seed S --out FILE [--incident-rate R]`: deterministic synthetic logs
// streamed to FILE with labels in FILE.labels.csv (line, label 0/1, incident kind).
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_join.h"
#include "common/logparse/synth/synth.h"
#include "tools/cli/args.h"
#include "tools/offline/verbs.h"

namespace fedlog::offline {

int RunSynth(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(argv, {{"format", "lines", "seed", "out", "incident-rate"}, {}});
  const std::string usage = "usage: fedlog synth --format " + absl::StrJoin(logparse::synth::SynthFormats(), "|") +
                            " --lines N --seed S --out FILE [--incident-rate R]\n";
  if (!args.ok() || !args->Has("format") || !args->Has("out")) {
    std::cerr << (args.ok() ? "--format and --out are required" : args.status().ToString()) << "\n" << usage;
    return 2;
  }
  logparse::synth::SynthOptions o;
  o.format = args->Get("format");
  absl::StatusOr<int64_t> lines = args->GetInt("lines", o.lines);
  absl::StatusOr<int64_t> seed = args->GetInt("seed", 1);
  absl::StatusOr<double> rate = args->GetDouble("incident-rate", o.incident_rate);
  if (!lines.ok() || !seed.ok() || !rate.ok()) {
    std::cerr << "bad number\n" << usage;
    return 2;
  }
  o.lines = *lines;
  o.seed = static_cast<uint64_t>(*seed);
  o.incident_rate = *rate;
  const std::string out = args->Get("out");
  std::ofstream log(out, std::ios::binary | std::ios::trunc);
  std::ofstream labels(out + ".labels.csv", std::ios::binary | std::ios::trunc);
  if (!log || !labels) {
    std::cerr << "cannot open " << out << " for writing\n";
    return 1;
  }
  absl::Status s = logparse::synth::WriteSynthetic(o, log, labels);
  log.close();
  labels.close();
  if (!s.ok() || !log || !labels) {
    std::cerr << (s.ok() ? "write failed" : s.ToString()) << "\n";
    std::remove(out.c_str());
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cerr << "wrote " << o.lines << " lines to " << out << " and labels to " << out << ".labels.csv\n";
  return 0;
}

}  // namespace fedlog::offline
