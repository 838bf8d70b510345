// Tiny synthetic data for the `fedlog eval newsite --federated` tests (eval_newsite_federated_test_data.h).
#include "tests/tools/eval_newsite_federated_test_data.h"

#include <filesystem>
#include <string_view>

#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/logparse/synth/synth.h"
#include "gtest/gtest.h"

namespace fedlog::offline::newsite_test {

SynthText Synth(const std::string& format, int lines, uint64_t seed, double incident_rate) {
  logparse::synth::SynthOptions o;
  o.format = format;
  o.seed = seed;
  o.incident_rate = incident_rate;
  auto gen = logparse::synth::Generator::Create(o);
  EXPECT_TRUE(gen.ok()) << gen.status();
  SynthText out;
  logparse::synth::SynthLine line;
  for (int i = 0; i < lines; ++i) {
    (*gen)->Next(&line);
    out.lines.push_back(line.text);
    out.labels.push_back(line.anomalous ? 1 : 0);
  }
  return out;
}

std::vector<FederatedSite> TinyFederation(const NewsiteOptions& o) {
  std::vector<FederatedSite> sites;
  uint64_t seed = 21;
  for (const std::string format : {"OpenSSH", "Apache"}) {
    const SynthText t = Synth(format, 300, seed++, 0.05);
    const std::vector<std::string_view> views(t.lines.begin(), t.lines.end());
    RawSite raw;
    raw.name = "site-" + format;
    raw.sources = {format};
    auto set = FeaturizeSiteLines(format, format, views, t.labels);
    EXPECT_TRUE(set.ok()) << set.status();
    raw.lines = *std::move(set);
    auto site = SplitSite(raw, NewsiteFederationOptions(o), false, 0, seed);
    EXPECT_TRUE(site.ok()) << site.status();
    sites.push_back(*std::move(site));
  }
  return sites;
}

NewsiteStream TinyStream() {
  const SynthText t = Synth("HDFS", 500, 5, 0.08);
  NewsiteStream s;
  s.system = "hdfs";
  s.unit = "line";
  s.format = "HDFS";
  for (size_t i = 0; i < t.lines.size(); ++i) {
    s.lines.push_back(t.lines[i]);
    s.units.push_back({static_cast<int32_t>(i)});
    s.y.push_back(t.labels[i]);
  }
  return s;
}

NewsiteOptions TinyOptions() {
  NewsiteOptions o;
  o.shots = {2};
  o.seeds = 2;
  o.federated.enabled = true;
  o.federated.rounds = 1;
  o.federated.contrastive_steps = 3;
  o.federated.meta_iterations = 2;
  o.federated.max_train_lines = 200;
  o.federated.novelty_memory = 50;
  return o;
}

std::string BglTestLine(int i, int salt, const std::string& alert_message, const std::string& info_message) {
  const bool alert = i % 9 == 4;
  return absl::StrFormat("%s %d 2005.06.03 R%02d-M1-N0-C:J12-U11 2005-06-03-15.42.%02d.%06d R%02d-M1-N0 RAS KERNEL %s %s\n",
                         alert ? "KERNDTLB" : "-", 1117838570 + i + salt, i % 5, i % 60, i * 37 + salt, i % 5,
                         alert ? "FATAL" : "INFO", alert ? alert_message : info_message);
}

void MakeBglDirs(const std::string& root) {
  std::filesystem::remove_all(root);
  ASSERT_TRUE(MakeDirs(root + "/loghub-2k/BGL").ok());
  ASSERT_TRUE(MakeDirs(root + "/bgl-20k").ok());
}

void WriteKindStreams(const std::string& root) {
  MakeBglDirs(root);
  const auto line = [](int i, int salt) {
    return BglTestLine(i, salt, absl::StrFormat("data TLB error interrupt at 0x%x", i * 7 + salt),
                       absl::StrFormat("generating core.%d", i + salt));
  };
  std::string stream, other;
  for (int i = 0; i < 300; ++i) stream += line(i, 0);
  for (int i = 0; i < 200; ++i) other += line(i, 500000);
  ASSERT_TRUE(WriteFileAtomic(root + "/bgl-20k/BGL_20k.log", stream).ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/loghub-2k/BGL/BGL_2k.log", other).ok());
}
NewsiteStream TinySessionStream() {
  NewsiteStream s = TinyStream();
  s.unit = "block";
  std::vector<int> y((s.lines.size() + 4) / 5, 0);
  for (size_t i = 0; i < s.lines.size(); ++i) {
    const int32_t block = static_cast<int32_t>(i / 5);
    y[static_cast<size_t>(block)] |= s.y[i];
    s.units[i] = {block};
  }
  s.y = y;
  return s;
}

}  // namespace fedlog::offline::newsite_test
