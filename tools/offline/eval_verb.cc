// `fedlog eval parsing --data DIR --out DIR [--config FILE]`
#include <iostream>

#include "common/base/file_util.h"
#include "common/logparse/drain_config.h"
#include "tools/cli/args.h"
#include "tools/offline/eval_parsing.h"
#include "tools/offline/verbs.h"

namespace fedlog::offline {

int RunEvalParsing(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(argv, {{"data", "out", "config", "dump"}, {}});
  if (!args.ok() || !args->Has("data") || !args->Has("out")) {
    std::cerr << (args.ok() ? "--data and --out are required" : args.status().ToString()) << "\n"
              << "usage: fedlog eval parsing --data DIR --out DIR [--config FILE] [--dump DIR]\n";
    return 2;
  }
  logparse::DrainConfig config;
  std::string config_name = "default (built-in DrainOptions)";
  if (args->Has("config")) {
    absl::StatusOr<logparse::DrainConfig> c = logparse::DrainConfig::LoadFile(args->Get("config"));
    if (!c.ok()) {
      std::cerr << c.status() << "\n";
      return 1;
    }
    config = *std::move(c);
    config_name = args->Get("config");
  } else {
    config = *logparse::DrainConfig::Parse("");
  }
  absl::StatusOr<ParsingReport> report = EvaluateParsing(args->Get("data"), config, args->Get("dump"));
  if (!report.ok()) {
    std::cerr << report.status() << "\n";
    return 1;
  }
  const std::string out = args->Get("out");
  absl::Status s = MakeDirs(out);
  if (s.ok()) s = WriteFileAtomic(JoinPath(out, "parsing.json"), ReportJson(*report, config_name));
  const std::string md = ReportMarkdown(*report, config_name);
  if (s.ok()) s = WriteFileAtomic(JoinPath(out, "parsing.md"), md);
  if (!s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::cout << md;
  return 0;
}

}  // namespace fedlog::offline
