#include "common/logparse/synth/synth.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logparse/synth/synth_formats.h"

namespace fedlog::logparse::synth {
namespace {

// Normal traffic with incident bursts: a burst lasts 20-100 incident lines, interleaved with normal lines.
class BurstGenerator : public Generator {
 public:
  BurstGenerator(const SynthOptions& o, std::unique_ptr<FormatWriter> writer)
      : options_(o), writer_(std::move(writer)), rng_(o.seed), now_ms_(o.start_ms), kinds_(writer_->kinds()) {}

  void Next(SynthLine* line) override {
    now_ms_ += static_cast<int64_t>(1 + rng_.Uniform(1500));
    if (burst_left_ == 0 && rng_.Chance(options_.incident_rate)) {
      kind_ = kinds_[rng_.Uniform(kinds_.size())];
      burst_left_ = static_cast<int>(20 + rng_.Uniform(81));
      writer_->StartIncident(kind_, &rng_);
    }
    if (burst_left_ > 0 && rng_.Chance(0.6)) {
      --burst_left_;
      now_ms_ -= static_cast<int64_t>(rng_.Uniform(1000));  // bursts are dense
      if (now_ms_ < options_.start_ms) now_ms_ = options_.start_ms;
      line->text = writer_->Incident(kind_, now_ms_, &rng_);
      line->anomalous = true;
      line->kind = kind_;
      return;
    }
    line->text = writer_->Normal(now_ms_, &rng_);
    line->anomalous = false;
    line->kind.clear();
  }

 private:
  SynthOptions options_;
  std::unique_ptr<FormatWriter> writer_;
  Rng rng_;
  int64_t now_ms_;
  std::vector<std::string> kinds_;
  std::string kind_;
  int burst_left_ = 0;
};

}  // namespace

std::vector<std::string> SynthFormats() { return FormatWriterNames(); }

absl::StatusOr<std::unique_ptr<Generator>> Generator::Create(const SynthOptions& o) {
  std::unique_ptr<FormatWriter> writer;
  for (const std::string& f : FormatWriterNames()) {
    if (absl::EqualsIgnoreCase(f, o.format)) writer = NewFormatWriter(f);
  }
  if (writer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("synth: unknown format '", o.format, "'; known: ",
                                                   absl::StrJoin(FormatWriterNames(), ", ")));
  }
  if (o.lines < 0) return absl::InvalidArgumentError("synth: lines must be >= 0");
  if (!(o.incident_rate >= 0 && o.incident_rate <= 1)) {
    return absl::InvalidArgumentError("synth: incident_rate must be in [0, 1]");
  }
  return std::unique_ptr<Generator>(new BurstGenerator(o, std::move(writer)));
}

absl::Status WriteSynthetic(const SynthOptions& options, std::ostream& log, std::ostream& labels) {
  absl::StatusOr<std::unique_ptr<Generator>> gen = Generator::Create(options);
  if (!gen.ok()) return gen.status();
  labels << "line,label,kind\n";
  SynthLine line;
  for (int64_t i = 1; i <= options.lines; ++i) {
    (*gen)->Next(&line);
    log << line.text << '\n';
    labels << i << ',' << (line.anomalous ? 1 : 0) << ',' << line.kind << '\n';
    if (!log.good() || !labels.good()) return absl::DataLossError(absl::StrCat("synth: write failed at line ", i));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::logparse::synth
