// What the `eval federated` tests under tests/tools share (eval_federated_test.cc,
// eval_federated_choice_test.cc): small settings (the synthetic protocol, two rounds of a few steps, one
// thread) and a synthetic line site with labelled incidents.
#ifndef FEDLOG_TESTS_TOOLS_FEDERATED_TEST_SITES_H_
#define FEDLOG_TESTS_TOOLS_FEDERATED_TEST_SITES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/logparse/synth/synth.h"
#include "gtest/gtest.h"
#include "tools/offline/eval_federated.h"

namespace fedlog::offline::testing {

inline FederatedOptions TinyFederatedOptions() {
  FederatedOptions o;
  o.protocol = "synth";
  o.rounds = 2;
  o.contrastive_steps = 3;
  o.meta_iterations = 2;
  o.batch_size = 32;
  o.shots = 5;
  o.seed = 3;
  o.threads = 1;
  return o;
}

// `lines` synthetic lines of `format` with labelled incidents (3%, seeded).
inline std::vector<logparse::synth::SynthLine> SynthLines(const std::string& format, int lines, uint64_t seed) {
  logparse::synth::SynthOptions o;
  o.format = format;
  o.seed = seed;
  o.incident_rate = 0.03;
  auto gen = logparse::synth::Generator::Create(o);
  EXPECT_TRUE(gen.ok()) << gen.status();
  std::vector<logparse::synth::SynthLine> out(static_cast<size_t>(lines));
  if (gen.ok()) {
    for (auto& l : out) (*gen)->Next(&l);
  }
  return out;
}

// A site of SynthLines; `keep_stream`: it also keeps its raw lines as the loaders do (the choice rows
// read them).
inline RawSite SynthSite(const std::string& format, int lines, uint64_t seed, bool keep_stream = false) {
  std::vector<std::string> text;
  std::vector<int> labels;
  for (const auto& line : SynthLines(format, lines, seed)) {
    text.push_back(line.text);
    labels.push_back(line.anomalous ? 1 : 0);
  }
  const std::vector<std::string_view> views(text.begin(), text.end());
  RawSite raw;
  raw.name = "site-" + format;
  raw.sources = {format};
  auto set = FeaturizeSiteLines(format, format, views, labels);
  EXPECT_TRUE(set.ok()) << set.status();
  raw.lines = *std::move(set);
  if (keep_stream) {
    raw.stream.format = format;
    raw.stream.lines = std::move(text);
  }
  return raw;
}

}  // namespace fedlog::offline::testing

#endif  // FEDLOG_TESTS_TOOLS_FEDERATED_TEST_SITES_H_
