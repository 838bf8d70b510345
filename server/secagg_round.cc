#include "server/secagg_round.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/secagg/norm_bound.h"
#include "common/secagg/peer_auth.h"
#include "common/secagg/protocol.h"
#include "common/secagg/weights.h"
#include "common/secagg/wire.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {
namespace {

absl::Status WrongStep(const char* what) {
  return absl::FailedPreconditionError(absl::StrCat("secure aggregation is not accepting ", what, " now"));
}

// The round's fraction bits f (a config that leaves them 0 means the largest that cannot wrap).
int FractionalBits(const secagg::QuantizationOptions& q) {
  return q.fractional_bits != 0 ? q.fractional_bits : secagg::MaxFractionalBits(q, q.lane_bits);
}

}  // namespace

absl::Status ValidateSecAggPlan(v1::RunPlan* plan) {
  if (!plan->secure_aggregation()) return absl::OkStatus();
  auto refuse = [](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation gives the aggregator only the sum of the updates, so ", what,
        " cannot be used with it (docs/PRIVACY.md)"));
  };
  if (plan->strategy() != "fedavg") {
    return refuse(absl::StrCat("strategy '", plan->strategy(), "' (it needs individual updates; use fedavg)"));
  }
  if (plan->max_update_norm() > 0) return refuse("max_update_norm (a per-update refusal)");
  if (plan->clip_norm() > 0) return refuse("the server's clip_norm (a per-update clip; the sites clip instead)");
  if (plan->min_sites() < 2) return absl::InvalidArgumentError("secure aggregation needs min_sites of at least 2");
  if (plan->secagg_threshold() != 0 &&
      (plan->secagg_threshold() < 2 || plan->secagg_threshold() > plan->min_sites())) {
    return absl::InvalidArgumentError(absl::StrCat("secagg_threshold ", plan->secagg_threshold(),
                                                   " must be in [2, min_sites = ", plan->min_sites(), "]"));
  }
  if (plan->secagg_clip_range() == 0) plan->set_secagg_clip_range(4.0);
  if (!(plan->secagg_clip_range() >= 1 && plan->secagg_clip_range() <= 1e6)) {
    return absl::InvalidArgumentError("secagg_clip_range must be in [1, 1e6]");
  }
  // The fixed-point range must hold the largest federation's sum (common/secagg/quantize.h).
  secagg::QuantizationOptions q;
  q.clip_range = plan->secagg_clip_range();
  q.max_weight = plan->max_site_samples() > 0 ? static_cast<double>(plan->max_site_samples()) : kDefaultMaxWeight;
  q.max_sites = secagg::kMaxSites;
  if (!secagg::Quantizer::Create(q).ok() || secagg::MaxFractionalBits(q, 64) < secagg::kSitePrecisionBits) {
    return absl::InvalidArgumentError(
        "secagg_clip_range times max_site_samples is too large for secure aggregation's fixed-point range");
  }
  if (plan->secagg_step_s() == 0) plan->set_secagg_step_s(30);
  if (plan->secagg_step_s() < 1 || plan->secagg_step_s() > 3600) {
    return absl::InvalidArgumentError("secagg_step_s must be in [1, 3600]");
  }
  return absl::OkStatus();
}

namespace {

// Powers of two around x >= 1 (so that W and f reveal only the bit lengths of the declared line counts).
double Pow2AtOrAbove(double x) { return std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(std::max(x, 1.0))))); }
double Pow2AtOrBelow(double x) { return std::ldexp(1.0, static_cast<int>(std::floor(std::log2(std::max(x, 1.0))))); }

}  // namespace

secagg::QuantizationOptions SecAggQuantization(const v1::RunPlan& plan, int participants,
                                               const std::vector<int64_t>& declared_lines) {
  secagg::QuantizationOptions q;
  q.clip_range = plan.secagg_clip_range();
  q.max_sites = participants;
  if (SiteLevelDp(plan)) {
    q.max_weight = 1.0;  // the site daemon weighs every update 1 under site-level DP
    return secagg::ChooseLanes(q);
  }
  const double plan_w =
      plan.max_site_samples() > 0 ? static_cast<double>(plan.max_site_samples()) : kDefaultMaxWeight;
  q.max_weight = plan_w;
  const bool all_declared =
      plan.dp_mode().empty() && !declared_lines.empty() &&
      std::all_of(declared_lines.begin(), declared_lines.end(), [](int64_t n) { return n > 0; });
  if (!all_declared) return secagg::ChooseLanes(q);
  double most = 0, least = plan_w;
  for (int64_t n : declared_lines) {
    const double c = std::min(static_cast<double>(n), plan_w);
    most = std::max(most, c);
    least = std::min(least, c);
  }
  q.max_weight = std::min(plan_w, Pow2AtOrAbove(most));
  return secagg::ChooseLanes(q, Pow2AtOrBelow(least / 4));
}

SecAggRound::SecAggRound(SecAggRoundOptions options, std::unique_ptr<secagg::AggregatorSession> session)
    : options_(std::move(options)), session_(std::move(session)) {
  step_deadline_ms_ = options_.advertise_deadline_ms;
  step_opened_ms_ = absl::ToUnixMillis(absl::Now());
}

absl::StatusOr<std::unique_ptr<SecAggRound>> SecAggRound::Create(SecAggRoundOptions options) {
  if (options.layout.length() != options.config.vector_length) {
    return absl::InvalidArgumentError("secure aggregation: the config's vector length does not match the layout");
  }
  if (options.adapter_groups.size() != options.layout.adapters.size()) {
    return absl::InvalidArgumentError("secure aggregation: one adapter section per adapter group is needed");
  }
  size_t i = 0;
  for (const auto& [source, members] : options.adapter_groups) {
    if (options.layout.adapters[i++].source != source ||
        static_cast<int>(members.size()) < options.config.threshold) {
      return absl::InvalidArgumentError(absl::StrCat("secure aggregation: adapter group '", source,
                                                     "' does not match the layout or is below the threshold"));
    }
  }
  std::vector<std::string> kind_sources;
  for (const auto& [source, members] : options.kind_groups) {
    if (static_cast<int>(members.size()) < options.config.threshold) {
      return absl::InvalidArgumentError(absl::StrCat("secure aggregation: kind group '", source,
                                                     "' is below the threshold"));
    }
    kind_sources.push_back(source);
  }
  if (kind_sources != options.layout.kind_sources) {
    return absl::InvalidArgumentError("secure aggregation: one kind section per kind group is needed");
  }
  if (options.class_sum_release == options.layout.release_shape.empty()) {
    return absl::InvalidArgumentError("secure aggregation: a release round needs the release section, and only it");
  }
  if (static_cast<int>(options.participants.size()) < options.config.threshold) {
    return absl::FailedPreconditionError("secure aggregation: fewer participants than the threshold");
  }
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<secagg::AggregatorSession> session,
                          secagg::AggregatorSession::Create(options.config));
  return std::unique_ptr<SecAggRound>(new SecAggRound(std::move(options), std::move(session)));
}

v1::SecAggConfig SecAggRound::ConfigFor(const std::string& site) const {
  v1::SecAggConfig c = secagg::ConfigToProto(options_.config);
  c.set_class_sum_release(options_.class_sum_release);
  c.set_norm_bounded(options_.norm_multiple > 0);
  for (const auto& [source, members] : options_.adapter_groups) {
    c.add_adapter_sources(source);
    c.add_adapter_group_sizes(static_cast<int32_t>(members.size()));
    if (std::find(members.begin(), members.end(), site) != members.end()) c.add_member_sources(source);
  }
  for (const auto& [source, members] : options_.kind_groups) {
    c.add_kind_sources(source);
    c.add_kind_group_sizes(static_cast<int32_t>(members.size()));
  }
  return c;
}

std::vector<std::string> SecAggRound::adapter_sources() const {
  std::vector<std::string> out;
  for (const auto& [source, members] : options_.adapter_groups) out.push_back(source);
  return out;
}

absl::Status SecAggRound::CheckGroupsSurvive() const {
  for (const auto* groups : {&options_.adapter_groups, &options_.kind_groups}) {
    const char* what = groups == &options_.adapter_groups ? "adapter" : "kind";
    for (const auto& [source, members] : *groups) {
      const int alive = static_cast<int>(
          std::count_if(members.begin(), members.end(), [&](const std::string& m) { return masked_.count(m) > 0; }));
      if (alive < options_.config.threshold) {
        return absl::FailedPreconditionError(absl::StrCat(
            "secure aggregation: only ", alive, " of the ", members.size(), " sites of ", what, " group '", source,
            "' sent masked inputs, fewer than the threshold ", options_.config.threshold,
            "; the sum is not unmasked (docs/PRIVACY.md)"));
      }
    }
  }
  return absl::OkStatus();
}

bool SecAggRound::IsParticipant(const std::string& site) const {
  return std::find(options_.participants.begin(), options_.participants.end(), site) != options_.participants.end();
}

uint32_t SecAggRound::IndexOf(const std::string& site) const {
  auto it = index_.find(site);
  return it == index_.end() ? 0 : it->second;
}

bool SecAggRound::WantsTask(const std::string& site) const {
  return step_ == Step::kAdvertising && IsParticipant(site) && !advertised_.count(site);
}

absl::Status SecAggRound::PostAdvertisement(const std::string& site, const std::string& certificate_pem,
                                            const v1::SecAggAdvertiseRequest& request) {
  if (step_ != Step::kAdvertising) return WrongStep("keys");
  if (!IsParticipant(site)) return absl::PermissionDeniedError("site is not a participant of this round");
  FEDLOG_ASSIGN_OR_RETURN(secagg::AdvertiseKeys keys, secagg::AdvertiseFromProto(request, site));
  // The other sites check this signature against the certificate in the roster; a bad one would spoil it.
  if (absl::Status st = secagg::VerifySignature(
          certificate_pem,
          secagg::KeysSigningText(options_.config.session_id, keys.encryption_key, keys.mask_key),
          keys.key_signature);
      !st.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the keys' signature does not verify under the site's certificate: ", st.message()));
  }
  keys.certificate = certificate_pem;
  FEDLOG_RETURN_IF_ERROR(CheckStatedWeight(site, keys.weight));
  const double max_norm = secagg::MaxReportedNorm(options_.config.quantization.clip_range,
                                                  options_.config.vector_length);
  if (keys.update_norm > max_norm) {
    return absl::InvalidArgumentError(absl::StrCat("stated update norm ", keys.update_norm, " exceeds ", max_norm,
                                                   ", the most the round's clip range allows"));
  }
  FEDLOG_RETURN_IF_ERROR(session_->AddAdvertisement(keys));
  advertised_.insert(site);
  stated_[site] = keys.weight;
  // A norm stated in a round without a bound is not used.
  if (options_.norm_multiple > 0 && keys.update_norm > 0) norms_[site] = keys.update_norm;
  return absl::OkStatus();
}

std::vector<double> SecAggRound::stated_norms() const {
  std::vector<double> out;
  for (const auto& [site, index] : index_) {
    if (auto it = norms_.find(site); it != norms_.end()) out.push_back(it->second);
  }
  return out;
}

void SecAggRound::DecideNormBound() {
  if (options_.norm_multiple <= 0) return;
  const std::vector<double> norms = stated_norms();
  absl::StatusOr<fl::ClipDecision> d =
      fl::DecideClipping(norms, 0, options_.norm_multiple, std::max(options_.carried_reference, 0.0));
  if (!d.ok()) {  // the norms were validated at advertising; this is a bug, not a site's doing
    FEDLOG_LOG(ERROR) << "secure aggregation " << options_.config.session_id.substr(0, 8)
                      << "...: no norm bound: " << d.status();
    return;
  }
  norm_ = *std::move(d);
  FEDLOG_LOG(INFO) << "secure aggregation " << options_.config.session_id.substr(0, 8) << "...: norm bound "
                   << norm_.bound << " (" << options_.norm_multiple << " x reference " << norm_.reference << " from "
                   << norms.size() << " stated norms of " << index_.size() << " sites"
                   << (options_.carried_reference > 0 ? " and the carried reference" : "") << "); " << norm_.clipped
                   << " stated above it";
}

double SecAggRound::EffectiveWeight(const std::string& site, double stated) const {
  double w = std::min(stated, options_.config.quantization.max_weight);
  auto it = options_.declared_lines.find(site);
  if (it != options_.declared_lines.end() && it->second > 0) w = std::min(w, static_cast<double>(it->second));
  return w;
}

absl::Status SecAggRound::CheckStatedWeight(const std::string& site, double stated) const {
  const double w = EffectiveWeight(site, stated);
  FEDLOG_ASSIGN_OR_RETURN(secagg::Quantizer q, secagg::Quantizer::Create(options_.config.quantization));
  absl::Status precise = q.CheckPrecision(w);
  if (w > 0 && precise.ok()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "stated weight ", stated, " (", w, " after the round's caps) is below the smallest weight the round's lanes "
      "keep within 2^-", secagg::kSitePrecisionBits, "; the site could not mask it"));
}

void SecAggRound::GiveWeights() {
  std::vector<double> w;
  for (const auto& [site, index] : index_) {
    auto it = stated_.find(site);
    w.push_back(EffectiveWeight(site, it == stated_.end() ? 0 : it->second));
  }
  const double cap = secagg::ShareCap(w, options_.max_weight_share);
  size_t i = 0, capped = 0;
  for (const auto& [site, index] : index_) {
    weights_[site] = std::min(w[i], cap);
    if (w[i++] > cap) ++capped;
  }
  if (capped > 0) {
    FEDLOG_LOG(INFO) << "secure aggregation " << options_.config.session_id.substr(0, 8) << "...: the weights of "
                     << capped << " of " << index_.size() << " sites capped by the share cap "
                     << options_.max_weight_share << " (docs/rules/s25-weightcap.md)";
  }
}

double SecAggRound::SurvivorWeight() const {
  double sum = 0;
  for (const std::string& site : masked_) {
    auto it = weights_.find(site);
    if (it != weights_.end()) sum += it->second;
  }
  return sum;
}

absl::Status SecAggRound::CheckSurvivorShares() const {
  std::vector<std::string> sites(masked_.begin(), masked_.end());
  std::vector<double> w;
  for (const std::string& site : sites) {
    auto it = weights_.find(site);
    w.push_back(it == weights_.end() ? 0 : it->second);
  }
  const std::optional<size_t> over = secagg::FirstOverShare(w, options_.max_weight_share);
  if (!over) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "secure aggregation: with ", sites.size(), " of ", index_.size(), " sites' masked inputs in, ", sites[*over],
      " would hold ", w[*over] / SurvivorWeight(), " of the weight, above the share cap ",
      std::max(options_.max_weight_share, 1.0 / static_cast<double>(sites.size())),
      "; the sum is not unmasked and the round is tried again (docs/rules/s25-weightcap.md)"));
}

absl::Status SecAggRound::PostShares(const std::string& site, const v1::SecAggShareKeysRequest& request) {
  if (step_ != Step::kSharing) return WrongStep("shares");
  const uint32_t index = IndexOf(site);
  if (index == 0) return absl::PermissionDeniedError("site is not in the round's key roster");
  if (shared_.count(site)) return absl::AlreadyExistsError("shares already received");
  FEDLOG_ASSIGN_OR_RETURN(secagg::ShareKeysMessage message, secagg::ShareKeysFromProto(request));
  // The sender is the certificate's site: a message claiming another index is refused.
  if (message.from != index) return absl::PermissionDeniedError("shares sent under another site's index");
  FEDLOG_RETURN_IF_ERROR(session_->AddShares(message));
  shared_.insert(site);
  return absl::OkStatus();
}

absl::Status SecAggRound::CheckMaskedUpload(const std::string& site) const {
  if (step_ != Step::kMasking) return WrongStep("masked inputs");
  if (!holders_.count(site)) return absl::PermissionDeniedError("site's shares are not held by the round");
  if (masked_.count(site)) return absl::AlreadyExistsError("masked input already received");
  return absl::OkStatus();
}

absl::Status SecAggRound::PostMaskedInput(const std::string& site, const std::string& bytes, int64_t samples,
                                          double loss, const std::vector<uint32_t>& complaints) {
  FEDLOG_RETURN_IF_ERROR(CheckMaskedUpload(site));
  // Added into the running sum straight from the upload's bytes (size checked there); nothing is kept.
  FEDLOG_RETURN_IF_ERROR(session_->AddMaskedInput(IndexOf(site), bytes, complaints));
  if (!complaints.empty()) {
    FEDLOG_LOG(WARNING) << "secure aggregation: " << site << " could not open the shares of "
                        << complaints.size() << " site(s), first " << SiteOf(complaints.front());
  }
  masked_.insert(site);
  if (samples > 0 && std::isfinite(loss)) {
    // The header's numbers weigh nothing: the samples are counted at most at the lines the site declared, and
    // the loss weighed by the weight the round gave the site.
    int64_t counted = samples;
    const auto declared = options_.declared_lines.find(site);
    if (declared != options_.declared_lines.end() && declared->second > 0) {
      counted = std::min(samples, declared->second);
    }
    samples_ += counted;
    const auto given = weights_.find(site);
    const double w = given == weights_.end() ? 0 : given->second;
    loss_sum_ += loss * w;
    loss_weight_ += w;
  }
  bytes_up_ += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::Status SecAggRound::PostConfirmation(const std::string& site, const v1::SecAggUnmaskRequest& request) {
  if (step_ != Step::kConfirming) return WrongStep("confirmations");
  if (!survivor_sites_.count(site)) return absl::PermissionDeniedError("site is not a survivor of this round");
  if (confirmed_.count(site)) return absl::AlreadyExistsError("confirmation already received");
  FEDLOG_ASSIGN_OR_RETURN(secagg::SurvivorSignature confirmation, secagg::ConfirmationFromProto(request));
  if (confirmation.from != IndexOf(site)) return absl::PermissionDeniedError("confirmation sent under another index");
  const std::string text =
      secagg::SurvivorsSigningText(options_.config.session_id, request_->survivors, request_->dropped);
  // The certificate the roster carries for this site (the one its keys were signed under).
  auto entry = std::find_if(roster_->entries.begin(), roster_->entries.end(),
                            [&](const secagg::RosterEntry& e) { return e.index == confirmation.from; });
  if (entry == roster_->entries.end()) return absl::PermissionDeniedError("site is not in the roster");
  if (absl::Status st = secagg::VerifySignature(entry->certificate, text, confirmation.signature); !st.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the survivor set's signature does not verify under the site's certificate: ", st.message()));
  }
  confirmations_.push_back(std::move(confirmation));
  confirmed_.insert(site);
  return absl::OkStatus();
}

absl::Status SecAggRound::PostUnmask(const std::string& site, const v1::SecAggUnmaskRequest& request) {
  if (secagg::IsConfirmation(request)) return PostConfirmation(site, request);
  if (step_ != Step::kUnmasking) return WrongStep("unmask responses");
  if (!survivor_sites_.count(site)) return absl::PermissionDeniedError("site is not a survivor of this round");
  if (unmasked_.count(site)) return absl::AlreadyExistsError("unmask response already received");
  FEDLOG_ASSIGN_OR_RETURN(secagg::UnmaskResponse response, secagg::UnmaskResponseFromProto(request));
  if (response.from != IndexOf(site)) return absl::PermissionDeniedError("response sent under another index");
  FEDLOG_RETURN_IF_ERROR(session_->AddUnmaskResponse(response));
  unmasked_.insert(site);
  return absl::OkStatus();
}

absl::StatusOr<v1::SecAggPollResponse> SecAggRound::Poll(const std::string& site,
                                                        v1::SecAggPollRequest::Step step) const {
  v1::SecAggPollResponse resp;
  if (step_ == Step::kFailed) {
    resp.set_aborted(failure_);
    return resp;
  }
  switch (step) {
    case v1::SecAggPollRequest::ROSTER:
      if (!advertised_.count(site)) return absl::FailedPreconditionError("site did not advertise keys");
      if (!roster_) {
        resp.set_pending(true);
      } else {
        *resp.mutable_roster() = secagg::RosterToProto(*roster_);
        auto it = weights_.find(site);  // this site's own weight only (0: not in the roster, which it refuses)
        resp.mutable_roster()->set_weight(it == weights_.end() ? 0 : it->second);
        resp.mutable_roster()->set_norm_bound(norm_.bound);
      }
      return resp;
    case v1::SecAggPollRequest::SHARES: {
      if (!shared_.count(site)) return absl::FailedPreconditionError("site did not send shares");
      if (step_ == Step::kSharing) {
        resp.set_pending(true);
        return resp;
      }
      auto it = deliveries_.find(IndexOf(site));
      if (it == deliveries_.end()) return absl::FailedPreconditionError("no shares for this site");
      *resp.mutable_delivery() = secagg::DeliveryToProto(it->second);
      return resp;
    }
    case v1::SecAggPollRequest::CONFIRM:
      if (!masked_.count(site)) return absl::FailedPreconditionError("site did not send a masked input");
      if (!request_) {
        resp.set_pending(true);
      } else {
        secagg::UnmaskRequest to_sign = *request_;
        to_sign.signatures.clear();  // the set alone (it holds the signatures once confirming closed)
        *resp.mutable_unmask() = secagg::UnmaskRequestToProto(to_sign);
      }
      return resp;
    case v1::SecAggPollRequest::UNMASK:
      if (!masked_.count(site)) return absl::FailedPreconditionError("site did not send a masked input");
      if (!request_ || step_ == Step::kConfirming) {
        resp.set_pending(true);
      } else {
        *resp.mutable_unmask() = secagg::UnmaskRequestToProto(*request_);
      }
      return resp;
    default:
      return absl::InvalidArgumentError("unknown secure aggregation step");
  }
}

std::string SecAggRound::SiteOf(uint32_t index) const {
  for (const auto& [site, i] : index_) {
    if (i == index) return site;
  }
  return absl::StrCat("index ", index);
}

void SecAggRound::CollectExclusions() {
  if (!session_) return;
  for (const auto& [v, by] : session_->complained_about()) {
    if (by.size() < 2) continue;  // one complaint may be the complainer's lie (docs/rules/s24-secshares.md)
    std::vector<std::string> names;
    for (uint32_t u : by) names.push_back(SiteOf(u));
    exclusions_.push_back({SiteOf(v), "key sharing",
                           absl::StrCat("its shares did not open at ", by.size(), " sites (",
                                        absl::StrJoin(names, ", "), ")")});
  }
  for (const secagg::Blame& b : session_->blame()) {
    if (std::any_of(exclusions_.begin(), exclusions_.end(),
                    [&](const SecAggExclusion& e) { return e.site == SiteOf(b.index); })) {
      continue;
    }
    exclusions_.push_back({SiteOf(b.index), "unmasking", b.why});
  }
  for (const SecAggExclusion& e : exclusions_) {
    FEDLOG_LOG(WARNING) << "secure aggregation " << options_.config.session_id.substr(0, 8) << "...: site " << e.site
                        << " spoiled " << e.step << ": " << e.why << "; excluded from the round's remaining attempts";
  }
}

void SecAggRound::Fail(const absl::Status& why) {
  CollectExclusions();
  session_.reset();
  step_ = Step::kFailed;
  failure_ = std::string(why.message());
  FEDLOG_LOG(WARNING) << "secure aggregation " << options_.config.session_id.substr(0, 8) << "... failed: " << failure_;
}

bool SecAggRound::Advance(int64_t now_ms, const std::set<std::string>& online) {
  if (finished()) return false;
  // The sites the current step waits for, and those that have posted.
  std::set<std::string> expected;
  const std::set<std::string>* posted = nullptr;
  switch (step_) {
    case Step::kAdvertising:
      expected.insert(options_.participants.begin(), options_.participants.end());
      posted = &advertised_;
      break;
    case Step::kSharing:
      for (const auto& [site, index] : index_) expected.insert(site);
      posted = &shared_;
      break;
    case Step::kMasking: {
      expected = holders_;
      posted = &masked_;
      // Doomed: some holder's shares opened at too few sites for its masks ever to come off the sum.
      const std::vector<uint32_t> lost = session_->Unrecoverable(session_->share_holders());
      if (!lost.empty()) {
        step_ms_[static_cast<size_t>(step_)] = now_ms - step_opened_ms_;
        Fail(absl::FailedPreconditionError(absl::StrCat(
            "secure aggregation: the shares of site ", SiteOf(lost.front()), " did not open at enough sites for "
            "the threshold ", options_.config.threshold, "; the attempt cannot be unmasked")));
        return true;
      }
      break;
    }
    case Step::kConfirming:
      expected = survivor_sites_;
      posted = &confirmed_;
      break;
    case Step::kUnmasking:
      expected = survivor_sites_;
      posted = &unmasked_;
      break;
    default:
      return false;
  }
  bool waiting_on_online = false;
  for (const std::string& site : expected) {
    if (!posted->count(site) && online.count(site)) waiting_on_online = true;
  }
  // Complete when everyone posted; sites that went offline never block a step once the threshold is in.
  const bool complete = posted->size() == expected.size() ||
                        (!waiting_on_online && static_cast<int>(posted->size()) >= options_.config.threshold);
  if (!complete && now_ms < step_deadline_ms_) return false;
  Close(now_ms);
  return true;
}

void SecAggRound::Close(int64_t now_ms) {
  step_deadline_ms_ = now_ms + options_.step_ms;
  if (static_cast<size_t>(step_) < step_ms_.size()) step_ms_[static_cast<size_t>(step_)] = now_ms - step_opened_ms_;
  step_opened_ms_ = now_ms;
  switch (step_) {
    case Step::kAdvertising: {
      absl::StatusOr<secagg::KeyRoster> roster = session_->CloseAdvertising();
      if (!roster.ok()) return Fail(roster.status());
      for (const secagg::RosterEntry& e : roster->entries) index_[e.site_id] = e.index;
      roster_ = *std::move(roster);
      GiveWeights();
      DecideNormBound();
      step_ = Step::kSharing;
      return;
    }
    case Step::kSharing: {
      absl::StatusOr<std::map<uint32_t, secagg::ShareDelivery>> deliveries = session_->CloseSharing();
      if (!deliveries.ok()) return Fail(deliveries.status());
      deliveries_ = *std::move(deliveries);
      for (const auto& [site, index] : index_) {
        if (deliveries_.count(index)) holders_.insert(site);
      }
      step_ = Step::kMasking;
      return;
    }
    case Step::kMasking: {
      // Before the unmask request exists: once sites reveal shares, every section of the sum can be decoded.
      if (absl::Status st = CheckGroupsSurvive(); !st.ok()) return Fail(st);
      if (absl::Status st = CheckSurvivorShares(); !st.ok()) return Fail(st);
      if (static_cast<int>(masked_.size()) < options_.min_survivors) {
        return Fail(absl::FailedPreconditionError(absl::StrCat(
            "secure aggregation: ", masked_.size(), " sites sent masked inputs, fewer than the ",
            options_.min_survivors, " whose noise shares the run's site-level DP needs in the sum")));
      }
      absl::StatusOr<secagg::UnmaskRequest> request = session_->CloseMasking();
      if (!request.ok()) return Fail(request.status());
      request_ = *std::move(request);
      survivor_sites_ = masked_;
      dropped_count_ = static_cast<int>(request_->dropped.size());
      deliveries_.clear();
      step_ = Step::kConfirming;
      return;
    }
    case Step::kConfirming: {
      // Sites reveal shares only with the threshold's signatures of the one set (peer_auth.h).
      if (static_cast<int>(confirmed_.size()) < options_.config.threshold) {
        return Fail(absl::FailedPreconditionError(absl::StrCat(
            "secure aggregation: ", confirmed_.size(), " survivors confirmed the survivor set, fewer than the "
            "threshold ", options_.config.threshold)));
      }
      std::sort(confirmations_.begin(), confirmations_.end(),
                [](const secagg::SurvivorSignature& a, const secagg::SurvivorSignature& b) {
                  return a.from < b.from;
                });
      request_->signatures = confirmations_;
      step_ = Step::kUnmasking;
      return;
    }
    case Step::kUnmasking:
      return Finish();
    default:
      return;
  }
}

void SecAggRound::Finish() {
  const absl::Time started = absl::Now();
  absl::StatusOr<secagg::AggregateResult> result = session_->Finish();
  // DataLoss here and below: the unmasked sum failed its check (the coordinator's cohort trigger).
  if (!result.ok()) {
    spoiled_ = absl::IsDataLoss(result.status());
    return Fail(result.status());
  }
  CollectExclusions();  // wrong shares outvoted: the sum is right, the liar still counted
  // Each survivor masked the weight its roster gave it, or the mean would weigh it otherwise.
  if (absl::Status st = secagg::CheckWeightSum(result->sum, SurvivorWeight(), static_cast<int>(masked_.size()),
                                               FractionalBits(options_.config.quantization));
      !st.ok()) {
    spoiled_ = absl::IsDataLoss(st);  // a weight lane other than the given one spoils the sum like bad lanes
    return Fail(st);
  }
  // Each survivor scaled its values to the norm bound, or the sum's parts would exceed it (norm_bound.h).
  if (absl::Status st = secagg::CheckNormBound(options_.layout, result->sum, norm_.bound); !st.ok()) {
    spoiled_ = absl::IsDataLoss(st);
    return Fail(st);
  }
  // DecodeSum has checked every lane against what the survivors' clipped inputs can produce.
  absl::StatusOr<fl::TensorBundle> mean = secagg::MeanFromSum(options_.layout, result->sum);
  if (!mean.ok()) {
    spoiled_ = absl::IsDataLoss(mean.status());
    return Fail(mean.status());
  }
  mean_ = *std::move(mean);
  kind_sums_ = secagg::KindSumsFromSum(options_.layout, result->sum, static_cast<int>(survivor_sites_.size()),
                                       options_.config.quantization.clip_range,
                                       options_.config.quantization.fractional_bits);
  if (options_.keep_sum) sum_ = std::move(result->sum);
  session_.reset();
  step_ = Step::kDone;
  finish_ms_ = absl::ToInt64Milliseconds(absl::Now() - started);
  FEDLOG_LOG(INFO) << "secure aggregation " << options_.config.session_id.substr(0, 8) << "...: steps advertising "
                   << step_ms_[0] << " ms, sharing " << step_ms_[1] << " ms, masking " << step_ms_[2]
                   << " ms, confirming " << step_ms_[3] << " ms, unmasking " << step_ms_[4]
                   << " ms; unmask and decode " << finish_ms_ << " ms";
}

}  // namespace fedlog::server
