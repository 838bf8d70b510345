// SecAggRound: the aggregator's side of one secure-aggregation round attempt over the federation protocol. It
// drives a secagg::AggregatorSession through its five steps, each closing when every expected site has posted,
// at the step's deadline, or once at least the threshold has posted and every missing site is offline:
//   advertising  participants post their public keys                (closes at the round deadline)
//   sharing      roster members post their encrypted shares         (step_ms)
//   masking      share holders upload their masked input            (step_ms, or earlier when all are in)
//   confirming   survivors sign the survivor set (version 5)        (step_ms; at least the threshold must)
//   unmasking    survivors reveal the shares the request allows     (step_ms)
// then decodes the sum and holds the weighted mean (secagg::MeanFromSum) for the coordinator to apply. Each
// site's weight is bounded before masking (docs/rules/s25-weightcap.md): it states its weight with its keys,
// the close of advertising caps the stated weights (the lines it declared, W, then the plan's share cap,
// secagg::ShareCap) and each site's roster gives it its own capped weight to mask; the close of masking fails
// the attempt when dropouts leave a survivor above the share cap, and Finish when the unmasked weight sum is
// not the sum of the survivors' given weights (secagg::CheckWeightSum). Each site's update norm is bounded too
// (common/secagg/norm_bound.h): the close of advertising sets the bound from the norms the sites stated and the
// run's carried reference and gives it with every roster, and Finish fails the attempt (spoiled) when a part of
// the unmasked sum exceeds it times its weight sum (secagg::CheckNormBound). The
// vector carries one section per adapter group and per message-kind group (common/secagg/update_vector.h);
// when fewer than the threshold of a group's members have sent their masked input at the close of masking, the
// attempt fails there, before any share is asked for, so that no section is ever unmasked as the sum of fewer
// than t sites. The kind sections' sums are checked and held apart from the mean (TakeKindSums). Masked
// inputs are added into the session's running sum as they arrive; no individual input is kept. A step that
// leaves fewer than the threshold fails the attempt (failed() with the reason); the run then retries the round.
// Against an aggregator that deviates actively (common/secagg/peer_auth.h): each advertisement's key signature
// is checked against the caller's certificate, and the certificate and signature go into the roster; each
// survivor's signature of the survivor set is checked against its certificate and sent with the unmask request.
// Thread-compatible: the Coordinator calls every method under its own lock.
#ifndef FEDLOG_SERVER_SECAGG_ROUND_H_
#define FEDLOG_SERVER_SECAGG_ROUND_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fl/adaptive_clip.h"
#include "common/fl/tensor_bundle.h"
#include "common/secagg/aggregator_session.h"
#include "common/secagg/kind_sections.h"
#include "common/secagg/update_vector.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::server {

// A site's weight bound (quantisation W) when the plan sets no max_site_samples.
inline constexpr double kDefaultMaxWeight = 1e6;

// Run-start checks of a plan with secure_aggregation (a no-op without): fills the defaults (clip range 4, step
// 30 s) and refuses, with the reason, what needs individual updates (median, trimmed_mean, weighted_fedavg,
// max_update_norm, server clip_norm), fewer than 2 min_sites, a threshold outside [2, min_sites], a clip
// range outside [1, 1e6] (the prototypes' presence lane carries a 1), and a clip range times weight bound so
// large that even 64-bit lanes would give a unit-weight site of the largest federation (secagg::kMaxSites) a
// step coarser than 2^-16 (its sites would refuse to mask).
absl::Status ValidateSecAggPlan(v1::RunPlan* plan);

// The round's fixed-point lanes (common/secagg/quantize.h) for `plan` with `participants` sites, of which
// `declared_lines` holds the lines each declared in its last Hello (0: none declared; empty: unknown):
// R = the plan's secagg_clip_range; N = participants; W and the smallest expected weight by weighting:
//  - site-level DP: W = 1 (every site's weight is 1);
//  - line-level DP: W = max_site_samples or kDefaultMaxWeight, expected weight 1 (sites weigh by a noised
//    count, which may fall to 1; the declared lines are not used);
//  - sample-weighted rounds where every participant declared lines: with c_i = min(declared_i, the plan's
//    W), W = min(the plan's W, the power of two at or above max c_i), and the expected smallest weight is the
//    power of two at or below min c_i / 4 (at least 1). A site's weight is capped at its declared lines
//    (EffectiveSamples) in the plain path too, so W never caps an honest site below what the plain mean gives
//    it; a site that trains on under a quarter of the lines it declared may get a step coarser than 2^-16
//    and then refuses to mask (docs/PRIVACY.md, "Quantisation and the modulus");
//  - otherwise W = max_site_samples or kDefaultMaxWeight, expected weight 1.
// secagg::ChooseLanes then picks 32-bit lanes when they keep the expected smallest weight's step within 2^-16,
// 64-bit lanes otherwise, each at the largest f that cannot wrap.
secagg::QuantizationOptions SecAggQuantization(const v1::RunPlan& plan, int participants,
                                               const std::vector<int64_t>& declared_lines = {});

struct SecAggRoundOptions {
  secagg::RoundConfig config;
  secagg::UpdateVectorLayout layout;
  std::vector<std::string> participants;
  // Adapter groups with a section in the vector: source -> its member participants (at least the threshold),
  // in the order of layout.adapters.
  std::map<std::string, std::vector<std::string>> adapter_groups;
  // Line DP's release round (SecAggConfig.class_sum_release): layout.release_shape is set, and every site adds its
  // noise share N(0, s^2 / threshold) to its release (docs/PRIVACY.md).
  bool class_sum_release = false;
  // Message-kind groups with a section in the vector (rounds without DP): source -> the participants that
  // declared it (at least the threshold), in the order of layout.kind_sources (common/secagg/kind_sections.h).
  std::map<std::string, std::vector<std::string>> kind_groups;
  // Bounded influence (docs/rules/s25-weightcap.md): the lines each participant declared in Hello (absent or 0:
  // none; a stated weight is capped at them, as EffectiveSamples caps a plain update's samples) and the plan's
  // max_site_weight_share (each site's share of the weight at most max(it, 1/n); 0 or 1: no cap).
  std::map<std::string, int64_t> declared_lines;
  double max_weight_share = 0;
  int64_t advertise_deadline_ms = 0;  // unix ms: the round's deadline (sites train before they advertise)
  int64_t step_ms = 30000;            // each later step's deadline after the previous one closed
  // Site-level DP: the fewest masked inputs the sum may be unmasked over (the run's min_sites, the n_min each
  // site's noise share is calibrated to); the sites refuse to unmask fewer too (secagg::SiteOptions). 0: the
  // threshold alone.
  int min_survivors = 0;
  // A cohort of a cohort attempt (server/secagg_cohorts.h): keep the checked decoded sum for TakeSum.
  bool keep_sum = false;
  // The bound on each site's update norm (common/secagg/norm_bound.h): M, 0 = none (site-level DP, or the plan's
  // adaptive clipping off), and the run's reference carried from its previous round (0 = none).
  double norm_multiple = 0;
  double carried_reference = 0;
};

// A site excluded from the round's remaining attempts for spoiling shares (docs/rules/s24-secshares.md).
struct SecAggExclusion {
  std::string site;
  std::string step;  // "key sharing" or "unmasking"
  std::string why;   // the evidence, never a share value
};

class SecAggRound {
 public:
  enum class Step { kAdvertising, kSharing, kMasking, kConfirming, kUnmasking, kDone, kFailed };

  static absl::StatusOr<std::unique_ptr<SecAggRound>> Create(SecAggRoundOptions options);

  const secagg::RoundConfig& config() const { return options_.config; }
  // The round's SecAggConfig as `site` receives it: the config, the adapter sources and group sizes, and the
  // sources whose section `site` fills.
  v1::SecAggConfig ConfigFor(const std::string& site) const;
  bool class_sum_release() const { return options_.class_sum_release; }
  // Adapter sources aggregated this round.
  std::vector<std::string> adapter_sources() const;
  // Kind sources whose counts this round sums.
  std::vector<std::string> kind_sources() const { return options_.layout.kind_sources; }
  Step step() const { return step_; }
  bool finished() const { return step_ == Step::kDone || step_ == Step::kFailed; }
  const std::string& failure() const { return failure_; }
  // Whether `site` should still be handed the round's task (a participant that has not advertised yet).
  bool WantsTask(const std::string& site) const;
  // Until when an upload of the masked input may run (unix ms).
  int64_t step_deadline_ms() const { return step_deadline_ms_; }

  // Each Post* validates the message against the step and the site (always the certificate's identity) and
  // rejects the message, not the round. PostAdvertisement also refuses a stated weight below the smallest the
  // round's lanes keep within 2^-16 (the site would refuse to mask it), and keys whose signature does not verify
  // under `certificate_pem` (the caller's certificate, from the connection).
  absl::Status PostAdvertisement(const std::string& site, const std::string& certificate_pem,
                                 const v1::SecAggAdvertiseRequest& request);
  absl::Status PostShares(const std::string& site, const v1::SecAggShareKeysRequest& request);
  // OK when `site` may upload a masked input now (a share holder that has not yet).
  absl::Status CheckMaskedUpload(const std::string& site) const;
  // Adds the masked lanes (decoded from the upload) into the sum; `samples`, `loss` and `complaints` (the
  // share holders whose shares did not open at `site`) are the header's.
  absl::Status PostMaskedInput(const std::string& site, const std::string& bytes, int64_t samples, double loss,
                               const std::vector<uint32_t>& complaints = {});
  // A survivor's confirmation (secagg::IsConfirmation) while confirming, its unmask response while unmasking.
  absl::Status PostUnmask(const std::string& site, const v1::SecAggUnmaskRequest& request);

  // The input `site` is waiting for at `step`: roster (with the weight `site` masks), its share delivery, the
  // survivor set to confirm, or the unmask request with the survivors' signatures; `pending`
  // while that step is still open, `aborted` once the round failed. FailedPrecondition for a site that has no
  // business asking (not in the round or the relevant set).
  absl::StatusOr<v1::SecAggPollResponse> Poll(const std::string& site, v1::SecAggPollRequest::Step step) const;

  // Closes the current step when it is complete or its deadline passed; `online` are the sites heard from
  // recently. While masking, fails the attempt at once when complaints leave some share holder's shares open
  // at fewer than the threshold of the share holders (its masks could never be removed). Returns true when
  // the step changed (callers wake their waiters).
  bool Advance(int64_t now_ms, const std::set<std::string>& online);

  // After kDone: the weighted mean delta (moved out: a second call returns an empty bundle), the survivors'
  // reported samples (each at most the lines its site declared) and their loss, weighed as the mean weighs them.
  fl::TensorBundle TakeMean() { return std::move(mean_); }
  // After kDone: the kind sections of the unmasked sum, each checked (secagg::KindSumsFromSum); moved out.
  std::vector<secagg::KindSectionSum> TakeKindSums() { return std::move(kind_sums_); }
  // After kDone with options.keep_sum: the decoded sum that passed MeanFromSum (moved out).
  secagg::DecodedSum TakeSum() { return std::move(sum_); }
  // Once failed: whether the unmasked sum failed its check (DataLoss at Finish: lanes out of range, values
  // disagreeing with the weight, a secret that does not reconstruct), as opposed to a timeout or dropouts.
  bool spoiled() const { return spoiled_; }
  const secagg::UpdateVectorLayout& layout() const { return options_.layout; }
  const std::vector<std::string>& participants() const { return options_.participants; }
  // Once finished (done or failed): the sites to leave out of the round's remaining attempts: those named by
  // at least 2 sites whose shares did not open, and those blamed for wrong shares at unmasking.
  const std::vector<SecAggExclusion>& exclusions() const { return exclusions_; }
  int survivors() const { return static_cast<int>(survivor_sites_.size()); }
  // The sites whose masked input is in the sum being unmasked (after masking closed).
  const std::set<std::string>& survivor_sites() const { return survivor_sites_; }
  int dropped() const { return dropped_count_; }
  int64_t samples() const { return samples_; }
  double mean_loss() const { return loss_weight_ > 0 ? loss_sum_ / loss_weight_ : 0; }
  int64_t bytes_up() const { return bytes_up_; }
  // After advertising closed: the norm bound given to every site (0 = none), its reference r, and the norms the
  // roster's sites stated (0 omitted). over_bound: how many of those are above the bound (those sites scaled
  // their values down).
  double norm_bound() const { return norm_.bound; }
  double norm_reference() const { return norm_.reference; }
  std::vector<double> stated_norms() const;
  int over_bound() const { return norm_.clipped; }
  double norm_multiple() const { return options_.norm_multiple; }
  double carried_reference() const { return options_.carried_reference; }
  // How long each step stayed open (ms; index = Step), and how long Finish took to unmask and decode; logged
  // when the round finishes, for profiling a round's cost.
  const std::array<int64_t, 5>& step_ms() const { return step_ms_; }
  int64_t finish_ms() const { return finish_ms_; }

 private:
  explicit SecAggRound(SecAggRoundOptions options, std::unique_ptr<secagg::AggregatorSession> session);
  bool IsParticipant(const std::string& site) const;
  uint32_t IndexOf(const std::string& site) const;
  void Fail(const absl::Status& why);
  void Close(int64_t now_ms);
  // OK when every adapter group has at least the threshold of members among the sites that sent masked input.
  absl::Status CheckGroupsSurvive() const;
  // A stated weight capped by W and the lines `site` declared (the plain path's EffectiveSamples).
  double EffectiveWeight(const std::string& site, double stated) const;
  // FailedPrecondition when `stated` (capped) is 0 or below what the round's lanes keep precise.
  absl::Status CheckStatedWeight(const std::string& site, double stated) const;
  // Caps the roster's stated weights into weights_ (at the close of advertising).
  void GiveWeights();
  // OK when no site that sent masked input holds more than the share cap of their weights.
  absl::Status CheckSurvivorShares() const;
  absl::Status PostConfirmation(const std::string& site, const v1::SecAggUnmaskRequest& request);
  // The sum of the weights given to the sites that sent masked input.
  double SurvivorWeight() const;
  // Sets norm_ from the roster's stated norms and the carried reference (at the close of advertising).
  void DecideNormBound();
  void Finish();
  // Fills exclusions_ from the session's complaints and blame (once the attempt ends).
  void CollectExclusions();
  std::string SiteOf(uint32_t index) const;

  SecAggRoundOptions options_;
  std::unique_ptr<secagg::AggregatorSession> session_;
  Step step_ = Step::kAdvertising;
  std::string failure_;
  int64_t step_deadline_ms_ = 0;
  std::set<std::string> advertised_, shared_, masked_, confirmed_, unmasked_;
  std::vector<secagg::SurvivorSignature> confirmations_;     // checked signatures of the survivor set
  std::map<std::string, uint32_t> index_;                    // roster indices, after advertising
  std::map<std::string, double> stated_;                     // stated weights, as advertised
  std::map<std::string, double> weights_;                    // the weight each roster site masks
  std::map<std::string, double> norms_;                      // stated update norms (> 0), as advertised
  fl::ClipDecision norm_;                                    // bound, reference, clipped: after advertising
  std::optional<secagg::KeyRoster> roster_;
  std::map<uint32_t, secagg::ShareDelivery> deliveries_;
  std::set<std::string> holders_;                            // U2 by site
  std::optional<secagg::UnmaskRequest> request_;
  std::set<std::string> survivor_sites_;                     // U3 by site
  int dropped_count_ = 0;
  int64_t samples_ = 0;
  double loss_sum_ = 0, loss_weight_ = 0;  // losses weighed as the mean weighs the sites (weights_)
  int64_t bytes_up_ = 0;
  int64_t step_opened_ms_ = 0;  // when the current step opened (unix ms)
  std::array<int64_t, 5> step_ms_{};
  int64_t finish_ms_ = 0;
  fl::TensorBundle mean_;
  secagg::DecodedSum sum_;  // with options_.keep_sum
  bool spoiled_ = false;
  std::vector<secagg::KindSectionSum> kind_sums_;
  std::vector<SecAggExclusion> exclusions_;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_SECAGG_ROUND_H_
