// The per-format line writers of the synthetic generator. Not part of the public API.
#ifndef FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_FORMATS_H_
#define FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_FORMATS_H_

#include <memory>
#include <string>
#include <vector>

#include "common/logparse/synth/synth_util.h"

namespace fedlog::logparse::synth {

class FormatWriter {
 public:
  virtual ~FormatWriter() = default;
  // Incident kinds this format can show.
  virtual std::vector<std::string> kinds() const = 0;
  // Called when a burst starts, e.g. to pick the attacker's address for all its lines.
  virtual void StartIncident(const std::string& kind, Rng* rng) = 0;
  virtual std::string Normal(int64_t ms, Rng* rng) = 0;
  virtual std::string Incident(const std::string& kind, int64_t ms, Rng* rng) = 0;
};

// nullptr for an unknown format.
std::unique_ptr<FormatWriter> NewFormatWriter(const std::string& format);
std::vector<std::string> FormatWriterNames();

}  // namespace fedlog::logparse::synth

#endif  // FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_FORMATS_H_
