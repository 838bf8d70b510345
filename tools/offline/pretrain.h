// `fedlog model pretrain`: public pre-training of an initial line-encoder model (common/model/public_pretrain.h)
// on the seed-labeled loghub-2k sources (seed-labeled-2k/ labels over loghub-2k/ logs) other than the excluded
// systems, written as a bundle file a run can start from (`fedlog run start --initial-model`, `fedlog eval
// federated --initial-model`) plus FILE.json describing it. Internal to tools/offline. Thread-compatible.
#ifndef FEDLOG_TOOLS_OFFLINE_PRETRAIN_H_
#define FEDLOG_TOOLS_OFFLINE_PRETRAIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/encoder_types.h"

namespace fedlog::offline {

// The public lines: every seed-labeled source except `exclude` (case-insensitive source names; each must name a
// built-in source, so a typo cannot leave a system in), each source through its own parser, Drain and featurizer
// as a site's stream would be, pooled with no source name (no adapter) and template ids made distinct per
// source. Labels: 0 normal, 1..6 the seed-labeled anomaly type.
struct PublicLines {
  model::LineSet lines;
  std::vector<std::string> sources;   // used, in order
  std::vector<std::string> excluded;  // canonical names
};
absl::StatusOr<PublicLines> LoadPublicLines(const std::string& data_dir,
                                            const std::vector<std::string>& exclude);

// Reads FILE.json next to an initial-model FILE written by `fedlog model pretrain` and returns its excluded
// systems; NotFound when there is none (a bundle from elsewhere).
absl::StatusOr<std::vector<std::string>> PretrainExcludedSystems(const std::string& model_path);

int RunModelPretrain(const std::vector<std::string>& args);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_PRETRAIN_H_
