// Tiny synthetic data for the `fedlog eval newsite --federated` tests (eval_newsite_federated_test.cc,
// eval_newsite_federated_kinds_test.cc): a two-site federation of other source types, an HDFS-format stream
// scored per line or in blocks, and small BGL files for the sibling and kind-verdict tests.
#ifndef FEDLOG_TESTS_TOOLS_EVAL_NEWSITE_FEDERATED_TEST_DATA_H_
#define FEDLOG_TESTS_TOOLS_EVAL_NEWSITE_FEDERATED_TEST_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline::newsite_test {

struct SynthText {
  std::vector<std::string> lines;
  std::vector<int> labels;
};

// `lines` lines of the synthetic `format` (common/logparse/synth) with their labels.
SynthText Synth(const std::string& format, int lines, uint64_t seed, double incident_rate);
// Two sites (OpenSSH, Apache) of 300 synthetic lines each, split as the federation splits them.
std::vector<FederatedSite> TinyFederation(const NewsiteOptions& o);
// An HDFS-format stream of 500 lines scored per line (the arm's line path; the source type is HDFS).
NewsiteStream TinyStream();
// Sessions: TinyStream's lines grouped into blocks of 5 lines, a block anomalous when a line is.
NewsiteStream TinySessionStream();
// One round, two seeds, k = 2: options small enough for a test.
NewsiteOptions TinyOptions();
// BGL line i of a test stream (`salt` shifts its numbers): every ninth a KERNDTLB FATAL alert with message
// `alert_message`, the others INFO with `info_message`.
std::string BglTestLine(int i, int salt, const std::string& alert_message, const std::string& info_message);
// root/bgl-20k and root/loghub-2k/BGL, empty (a fatal gtest failure when they cannot be made).
void MakeBglDirs(const std::string& root);
// The kind-verdict tests' data: a BGL-20k stream of 300 lines (every ninth a KERNDTLB FATAL alert, the others
// INFO core dumps) and a BGL sibling of 200 lines of the same two kinds with other numbers, under `root`.
void WriteKindStreams(const std::string& root);

}  // namespace fedlog::offline::newsite_test

#endif  // FEDLOG_TESTS_TOOLS_EVAL_NEWSITE_FEDERATED_TEST_DATA_H_
