// Public pre-training: an initial line-encoder model trained without privacy on public labelled log
// lines (loghub sources that are not any site's data), so that version 1 of a run already carries a
// trained encoder and a `prototypes.global` a site without anomalous labels can detect with
// (docs/MODEL.md "Public pre-training", docs/PRIVACY.md "Public pre-training"). The work is the
// federation's own local work (site_round.h's RunSiteRound: contrastive steps, then ProtoNet/MAML on
// the labelled lines, then prototypes) run as one pooled, non-private "site" with no adapters: the
// public sources are not the sites' sources, so their adapters would never be downloaded. The result
// has the shared tensors of InitialEncoderWeights(spec) plus prototypes.global, and nothing else.
// Torch-free interface. Thread-safety: reentrant, as RunSiteRound.
#ifndef FEDLOG_COMMON_MODEL_PUBLIC_PRETRAIN_H_
#define FEDLOG_COMMON_MODEL_PUBLIC_PRETRAIN_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"
#include "common/model/site_round.h"

namespace fedlog::model {

struct PublicPretrainOptions {
  // Rounds of `work`, chained (each starts from the previous one's weights, as a site's rounds do);
  // round r is seeded work.runtime.seed + r. work.line_dp is ignored: public lines need no DP.
  int rounds = 10;
  LocalWork work;
};

struct PublicPretrainResult {
  fl::TensorBundle weights;  // shared encoder tensors + head + prototypes.global
  double contrastive_loss = 0;  // the last round's
  double meta_loss = 0;         // the last round's (0: no meta-learning ran)
  int64_t lines = 0;
  int64_t anomalous_lines = 0;
  double seconds = 0;
};

// Trains from InitialEncoderWeights(spec) (spec.sources must be empty: no adapters) on `lines`,
// which must carry one label per line (0 normal, >= 1 anomaly type; -1 unlabelled) with both
// classes present, and no source names (every line's source ""; set template ids distinct per
// public source so contrastive alignment does not pair unrelated templates). InvalidArgument for
// bad options or lines.
absl::StatusOr<PublicPretrainResult> PretrainPublic(const EncoderSpec& spec, const LineSet& lines,
                                                    const PublicPretrainOptions& options);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_PUBLIC_PRETRAIN_H_
