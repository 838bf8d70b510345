// Per-update L2 clipping of a round's deltas: a fixed bound (StrategyOptions::clip_norm) and the adaptive bound
// that bounds one site's influence by default (docs/SECURITY-aggregation.md "Bounded influence").
//
// Adaptive rule: the round's reference r is the lower median (element floor((n-1)/2) of the sorted values) of
// the pool {every update's norm} plus, when given, the reference carried from the previous aggregated round of
// the run. Each update is scaled down to at most multiple x r. A minority of updates cannot raise r above an
// honest norm, whatever factor they are boosted by; with one or two updates the carried reference keeps a
// boosted update from setting r (two updates and nothing carried: r = the smaller norm). r = 0 (half the pool
// is zero) sets no adaptive bound, so a zero update cannot zero the others. The default multiple was measured
// (docs/rules/s22-normdefault.md, docs/EVALUATION.md "Session 22: a default bound on one site's update").
// Thread-compatible: pure functions.
#ifndef FEDLOG_COMMON_FL_ADAPTIVE_CLIP_H_
#define FEDLOG_COMMON_FL_ADAPTIVE_CLIP_H_

#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::fl {

// M of a plain round when the run plan leaves it at 0 (server/coordinator_admin.cc) and of `fedlog eval
// federated` unless --adaptive-clip says otherwise.
inline constexpr double kDefaultAdaptiveClipMultiple = 4;  // docs/rules/s22-normdefault.md: 2 x 1.567, rounded up

struct ClipDecision {
  std::vector<double> scales;  // per update, in (0, 1]: the factor its delta is multiplied by
  std::vector<double> ratios;  // per update, norm / reference (0 when the reference is 0)
  double reference = 0;        // r of the rule above (computed even with the adaptive bound off); carry it on
  double bound = 0;            // the L2 bound applied (the smaller of clip_norm and multiple x r); 0 = none
  int clipped = 0;             // updates whose scale is below 1
};

// Lower median of `values` (element floor((n-1)/2) once sorted); 0 for an empty vector.
double LowerMedian(std::vector<double> values);

// The clipping of a round whose updates have L2 norms `norms` (finite, >= 0). clip_norm: a fixed bound, 0 =
// none. multiple: the adaptive bound's M, 0 = off, else >= 1. carried: the previous round's reference, 0 = none.
// InvalidArgument on a negative or non-finite input or a multiple in (0, 1).
absl::StatusOr<ClipDecision> DecideClipping(const std::vector<double>& norms, double clip_norm, double multiple,
                                            double carried);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_ADAPTIVE_CLIP_H_
