// The public subspace of `fedlog eval federated --dp-release-subspace R` (eval_federated.h, ReleaseBasis): the
// public lines embedded under the release round's global model and their top principal directions
// (common/privacy/release_subspace.h), which the simulation puts in that round's start weights. The diagnostic
// of --dp-subspace-diagnose is eval_federated_dp_diagnose.cc.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "common/base/status_macros.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/site_round.h"
#include "common/privacy/release_subspace.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/pretrain.h"

namespace fedlog::offline {
namespace {

// The encoder tensors of `weights` for `spec`: no prototypes, no adapter of a source `spec` lacks.
fl::TensorBundle EncoderOnly(const model::EncoderSpec& spec, const fl::TensorBundle& weights) {
  fl::TensorBundle out;
  for (const fl::NamedTensor& t : weights.tensors) {
    if (t.name.find("prototypes") != std::string::npos) continue;
    if (absl::StartsWith(t.name, "adapter.") &&
        std::none_of(spec.sources.begin(), spec.sources.end(),
                     [&](const std::string& s) { return absl::StartsWith(t.name, "adapter." + s + "."); })) {
      continue;
    }
    out.tensors.push_back(t);
  }
  return out;
}

std::string SystemOf(const std::string& protocol) {
  return protocol == "hdfs" ? "HDFS" : protocol == "bgl" ? "BGL" : "";
}

}  // namespace

absl::StatusOr<DenseMatrix> EmbedUnder(const model::EncoderSpec& base, const std::vector<std::string>& sources,
                                       const fl::TensorBundle& weights, const model::LineSet& lines,
                                       const FederatedOptions& o) {
  const model::EncoderSpec spec = model::SiteSpec(base, sources);
  model::RuntimeOptions rt;
  rt.threads = o.threads;
  rt.seed = o.seed;
  return model::Embed(spec, EncoderOnly(spec, weights), lines, rt);
}

absl::StatusOr<std::string> PublicExclusion(const FederatedOptions& o) {
  const std::string system = SystemOf(o.protocol);
  if (system.empty()) return absl::InvalidArgumentError("the release subspace needs --protocol hdfs or bgl");
  return system;
}

absl::StatusOr<fl::NamedTensor> ReleaseBasis(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                             const fl::TensorBundle& global, const FederatedOptions& o,
                                             model::LineSet* cache) {
  if (cache->size() == 0) {
    FEDLOG_ASSIGN_OR_RETURN(std::string system, PublicExclusion(o));
    FEDLOG_ASSIGN_OR_RETURN(PublicLines pub, LoadPublicLines(o.data_dir, {system}));
    *cache = std::move(pub.lines);
  }
  model::LineSet lines = *cache;
  std::vector<std::string> sources;
  if (o.dp_release_basis == "adapter") {
    if (sites.empty() || sites[0].sources.empty()) {
      return absl::InvalidArgumentError("--dp-release-basis adapter: the sites run no source");
    }
    sources = {sites[0].sources[0]};
    for (std::string& s : lines.sources) s = sources[0];
  }
  FEDLOG_ASSIGN_OR_RETURN(DenseMatrix z, EmbedUnder(base, sources, global, lines, o));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> u, privacy::PrincipalBasis(z.data, base.out_dim, o.dp_release_subspace));
  return fl::NamedTensor{privacy::kReleaseBasisName, {o.dp_release_subspace, base.out_dim}, std::move(u)};
}

}  // namespace fedlog::offline
