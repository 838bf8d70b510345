// Deterministic synthetic logs with labelled incidents, for tests, demos and benchmarks at any size.
// Formats: HDFS, OpenSSH, Linux (RFC 3164 syslog as in loghub's Linux source), Apache (error log), Zookeeper;
// each line parses with the built-in format of the same name. Incidents come in bursts interleaved with normal
// traffic: auth brute force, disk full, OOM kills, network timeouts, crash loops (each format has the kinds
// that make sense for it). The same options always produce the same bytes (own PRNG arithmetic, no
// std::*_distribution), and lines stream to the output, so millions of lines need no memory.
// Thread-compatible: a Generator is used by one thread.
#ifndef FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_H_
#define FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::logparse::synth {

struct SynthOptions {
  std::string format = "HDFS";  // see SynthFormats()
  int64_t lines = 10000;
  uint64_t seed = 1;
  double incident_rate = 0.002;  // chance that an incident burst starts at a given line
  int64_t start_ms = 1704067200000;  // 2024-01-01T00:00:00Z
};

// Formats the generator knows.
std::vector<std::string> SynthFormats();

struct SynthLine {
  std::string text;      // without newline
  bool anomalous = false;
  std::string kind;      // incident kind ("auth_brute_force", ...) or "" for normal lines
};

class Generator {
 public:
  // InvalidArgument for an unknown format or options out of range.
  static absl::StatusOr<std::unique_ptr<Generator>> Create(const SynthOptions& options);
  virtual ~Generator() = default;
  // The next line; lines are unbounded, the caller decides how many to take.
  virtual void Next(SynthLine* line) = 0;
};

// Writes options.lines lines to `log` and "line,label,kind" rows (1-based line numbers) to `labels`.
absl::Status WriteSynthetic(const SynthOptions& options, std::ostream& log, std::ostream& labels);

}  // namespace fedlog::logparse::synth

#endif  // FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_H_
