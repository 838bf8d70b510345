// `fedlog synth --format F --lines N [--seed S] --out FILE [--incident-rate R]`: deterministic synthetic logs
// streamed to FILE with labels in FILE.labels.csv (line, label 0/1, incident kind). The options are checked
// before either file is opened, so a refused command leaves an existing FILE as it was.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/logparse/synth/synth.h"
#include "tools/cli/args.h"
#include "tools/offline/verbs.h"

namespace fedlog::offline {
namespace {

int Usage(absl::string_view why) {
  std::cerr << "fedlog synth: " << absl::StripPrefix(why, "synth: ") << "\nusage: fedlog synth --format "
            << absl::StrJoin(logparse::synth::SynthFormats(), "|")
            << " --lines N [--seed S] --out FILE [--incident-rate R]\n";
  return 2;
}

}  // namespace

int RunSynth(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(argv, {{"format", "lines", "seed", "out", "incident-rate"}, {}});
  if (!args.ok()) return Usage(args.status().message());
  if (!args->Has("format") || !args->Has("out")) return Usage("--format and --out are required");
  logparse::synth::SynthOptions o;
  o.format = args->Get("format");
  int64_t lines = o.lines, seed = static_cast<int64_t>(o.seed);
  if (absl::Status st = args->ReadInts({{"lines", &lines}, {"seed", &seed}}); !st.ok()) {
    return Usage(st.message());
  }
  if (absl::Status st = args->ReadDoubles({{"incident-rate", &o.incident_rate}}); !st.ok()) {
    return Usage(st.message());
  }
  o.lines = lines;
  o.seed = static_cast<uint64_t>(seed);
  if (auto gen = logparse::synth::Generator::Create(o); !gen.ok()) return Usage(gen.status().message());
  const std::string out = args->Get("out");
  const std::string labels_path = out + ".labels.csv";
  std::ofstream log(out, std::ios::binary | std::ios::trunc);
  if (!log) {
    std::cerr << "fedlog synth: cannot write '" << out << "': " << std::strerror(errno) << "\n";
    return 1;
  }
  std::ofstream labels(labels_path, std::ios::binary | std::ios::trunc);
  if (!labels) {
    std::cerr << "fedlog synth: cannot write '" << labels_path << "': " << std::strerror(errno) << "\n";
    log.close();
    std::remove(out.c_str());
    return 1;
  }
  absl::Status s = logparse::synth::WriteSynthetic(o, log, labels);
  log.close();
  labels.close();
  if (!s.ok() || !log || !labels) {
    std::cerr << "fedlog synth: " << (s.ok() ? "write failed" : absl::StripPrefix(s.message(), "synth: ")) << "\n";
    std::remove(out.c_str());
    std::remove(labels_path.c_str());
    return 1;
  }
  std::cerr << "wrote " << o.lines << " lines to " << out << " and labels to " << labels_path << "\n";
  return 0;
}

}  // namespace fedlog::offline
