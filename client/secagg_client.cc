#include "client/secagg_client.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/aggregator_checks.h"
#include "common/base/logging.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/secagg/kind_sections.h"
#include "common/secagg/peer_auth.h"
#include "common/secagg/site_session.h"
#include "common/secagg/update_vector.h"
#include "common/secagg/weights.h"
#include "common/secagg/wire.h"

namespace fedlog::client {
namespace {

class FederationTransport : public SecAggTransport {
 public:
  explicit FederationTransport(FederationSession* session) : session_(session) {}
  absl::Status Advertise(const v1::SecAggAdvertiseRequest& r) override { return session_->SecAggAdvertise(r); }
  absl::Status ShareKeys(const v1::SecAggShareKeysRequest& r) override { return session_->SecAggShareKeys(r); }
  absl::Status UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) override {
    return session_->Upload(h, bytes);
  }
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override {
    return session_->SecAggPoll(r);
  }
  absl::Status Unmask(const v1::SecAggUnmaskRequest& r) override { return session_->SecAggUnmask(r); }

 private:
  FederationSession* session_;
};

// Long-polls until `step`'s input is ready; Aborted when the aggregator abandoned the round.
absl::StatusOr<v1::SecAggPollResponse> WaitFor(SecAggTransport* transport, const SecAggClientOptions& options,
                                               const std::string& session_id, v1::SecAggPollRequest::Step step) {
  v1::SecAggPollRequest req;
  req.set_session_id(session_id);
  req.set_step(step);
  req.set_wait_ms(options.poll_wait_ms);
  const absl::Time give_up = absl::Now() + absl::Milliseconds(options.max_wait_ms);
  while (true) {
    const absl::Time asked = absl::Now();
    FEDLOG_ASSIGN_OR_RETURN(v1::SecAggPollResponse resp, transport->Poll(req));
    if (resp.kind_case() == v1::SecAggPollResponse::kAborted) {
      return absl::AbortedError(
          absl::StrCat("secure aggregation ended by the aggregator: ", LoggableText(resp.aborted(), 256)));
    }
    if (resp.kind_case() != v1::SecAggPollResponse::kPending) return resp;
    if (absl::Now() > give_up) return absl::DeadlineExceededError("secure aggregation step never completed");
    // "Pending" faster than a long poll holds is a looping aggregator: pace it instead of spinning.
    const absl::Duration floor = absl::Milliseconds(options.min_poll_interval_ms);
    if (absl::Now() - asked < floor) absl::SleepFor(floor - (absl::Now() - asked));
  }
}

// A refusal by this site of what the aggregator sent (client/aggregator_checks.h Refusal). PermissionDenied
// (SiteSession's refusal of an unmask request that would expose one site) becomes Aborted: the daemon reads
// PermissionDenied as the aggregator revoking this site, and a hostile request must not stop the daemon.
template <typename T>
absl::StatusOr<T> Refused(absl::StatusOr<T> got) {
  if (got.ok()) return got;
  const absl::Status& st = got.status();
  if (st.code() == absl::StatusCode::kPermissionDenied) {
    return Refusal(absl::AbortedError(absl::StrCat("refused: ", st.message())));
  }
  return Refusal(st);
}

absl::Status Refused(absl::Status st) {
  if (st.ok()) return st;
  return Refused(absl::StatusOr<bool>(std::move(st))).status();
}

// The site's signing key and the checker of its peers' certificates (options.key_file, ca_file).
struct PeerAuth {
  std::unique_ptr<secagg::Signer> signer;
  std::unique_ptr<secagg::CertificateChecker> checker;
};

absl::StatusOr<PeerAuth> LoadPeerAuth(const SecAggClientOptions& options) {
  if (options.key_file.empty() || options.ca_file.empty()) {
    return absl::FailedPreconditionError(
        "secure aggregation needs the site's key and CA files (tls.key, tls.ca_cert) to sign and check keys");
  }
  PeerAuth a;
  FEDLOG_ASSIGN_OR_RETURN(const std::string key_pem, ReadFile(options.key_file));
  FEDLOG_ASSIGN_OR_RETURN(a.signer, secagg::Signer::FromPem(key_pem));
  FEDLOG_ASSIGN_OR_RETURN(const std::string ca_pem, ReadFile(options.ca_file));
  FEDLOG_ASSIGN_OR_RETURN(a.checker, secagg::CertificateChecker::FromCaPem(ca_pem));
  return a;
}

// Every roster entry's certificate chains to the CA and names the entry's site, and its key signed the entry's
// keys under this session: an aggregator cannot put keys of its own in anyone's place.
absl::Status CheckRosterSignatures(const secagg::CertificateChecker& checker, const std::string& session_id,
                                   const secagg::KeyRoster& roster) {
  for (const secagg::RosterEntry& e : roster.entries) {
    absl::Status st = checker.CheckSite(e.certificate, e.site_id);
    if (st.ok()) {
      st = secagg::VerifySignature(
          e.certificate, secagg::KeysSigningText(session_id, e.encryption_key, e.mask_key), e.key_signature);
    }
    if (!st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("roster entry ", e.index, " (site ", LoggableText(e.site_id, 64),
                                                     ") is not authentic: ", st.message()));
    }
  }
  return absl::OkStatus();
}

// A survivor set worth a signature: ascending, without repeats, naming this site as a survivor and no site both
// as survivor and as dropped (SiteSession::Unmask refuses that too; a signature must not vouch for it).
absl::Status CheckSetToConfirm(const secagg::UnmaskRequest& set, uint32_t self) {
  auto ascending = [](const std::vector<uint32_t>& v) {
    return std::adjacent_find(v.begin(), v.end(), std::greater_equal<uint32_t>()) == v.end();
  };
  if (!ascending(set.survivors) || !ascending(set.dropped)) {
    return absl::InvalidArgumentError("the survivor set to confirm is not in ascending order without repeats");
  }
  if (!std::binary_search(set.survivors.begin(), set.survivors.end(), self)) {
    return absl::InvalidArgumentError("the survivor set to confirm leaves this site out");
  }
  for (uint32_t d : set.dropped) {
    if (std::binary_search(set.survivors.begin(), set.survivors.end(), d)) {
      return absl::InvalidArgumentError("the survivor set to confirm names a site both as survivor and as dropped");
    }
  }
  return absl::OkStatus();
}

// The unmask request names exactly the set this site signed, and at least `threshold` distinct survivors signed
// it (each signature checked against the certificate of its signer's roster entry).
absl::Status CheckSurvivorSignatures(const std::string& session_id, const secagg::KeyRoster& roster, int threshold,
                                     const secagg::UnmaskRequest& confirmed, const secagg::UnmaskRequest& request) {
  if (request.survivors != confirmed.survivors || request.dropped != confirmed.dropped) {
    return absl::PermissionDeniedError("the unmask request names another survivor set than the one this site signed");
  }
  const std::string text = secagg::SurvivorsSigningText(session_id, request.survivors, request.dropped);
  std::set<uint32_t> valid;
  for (const secagg::SurvivorSignature& g : request.signatures) {
    if (!std::binary_search(request.survivors.begin(), request.survivors.end(), g.from)) continue;
    auto entry = std::find_if(roster.entries.begin(), roster.entries.end(),
                              [&](const secagg::RosterEntry& e) { return e.index == g.from; });
    if (entry == roster.entries.end()) continue;
    if (secagg::VerifySignature(entry->certificate, text, g.signature).ok()) valid.insert(g.from);
  }
  if (static_cast<int>(valid.size()) < threshold) {
    return absl::PermissionDeniedError(absl::StrCat("the unmask request carries ", valid.size(),
                                                    " valid survivor signatures, fewer than the threshold ",
                                                    threshold));
  }
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<SecAggTransport> SessionTransport(FederationSession* session) {
  return std::make_unique<FederationTransport>(session);
}

absl::StatusOr<std::vector<float>> SecAggVector(const v1::RoundTask& task, const fl::TensorBundle& global,
                                                const fl::TensorBundle& delta, int64_t* clipped,
                                                const std::vector<v1::KindCounts>& kind_counts,
                                                std::vector<secagg::ValueRange>* value_ranges) {
  FEDLOG_ASSIGN_OR_RETURN(secagg::UpdateVectorLayout layout,
                          secagg::LayoutForRound(fl::LayoutOf(global), task.spec(), task.secagg()));
  const std::vector<std::string> members(task.secagg().member_sources().begin(),
                                         task.secagg().member_sources().end());
  FEDLOG_ASSIGN_OR_RETURN(secagg::FlatUpdate flat,
                          secagg::FlattenUpdate(layout, delta, task.secagg().clip_range(), members));
  if (clipped != nullptr) *clipped = flat.clipped;
  if (value_ranges != nullptr) *value_ranges = secagg::ValueRanges(layout);
  FEDLOG_RETURN_IF_ERROR(secagg::AppendKindSections(layout, kind_counts, task.secagg().clip_range(), &flat));
  return std::move(flat.values);
}

bool MasksKindCounts(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy) {
  if (!task.secure_aggregation() || task.secagg().kind_sources_size() == 0) return false;
  if (!task.dp_mode().empty() && task.dp_mode() != "none") return false;
  return !policy.has_upload_prototypes() || policy.upload_prototypes();
}

uint64_t UnitWeightLanes(const v1::RoundTask& task) {
  return secagg::kKindSectionLength * static_cast<uint64_t>(task.secagg().kind_sources_size());
}

absl::Status RunSecureAggregation(SecAggTransport* transport, const SecAggClientOptions& options,
                                  const v1::RoundTask& task, absl::Span<const float> x, double weight,
                                  v1::UpdateHeader header, const std::vector<secagg::ValueRange>& value_ranges) {
  FEDLOG_ASSIGN_OR_RETURN(secagg::RoundConfig config, Refused(secagg::ConfigFromProto(task.secagg())));
  const std::string session_id = config.session_id;
  weight = std::clamp(weight, 0.0, config.quantization.max_weight);
  secagg::SiteOptions so;
  so.site_id = options.site_id;
  so.min_threshold = options.min_threshold;
  // Site-level DP: this site's noise share assumes dp_min_sites shares in the sum; never unmask over fewer.
  if (task.dp_mode() == "site") so.min_survivors = std::max(task.dp_min_sites(), 0);
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<secagg::SiteSession> site,
                          Refused(secagg::SiteSession::Create(so, config)));
  FEDLOG_ASSIGN_OR_RETURN(PeerAuth auth, LoadPeerAuth(options));
  // Round 0: keys, signed with the site's certificate key.
  FEDLOG_ASSIGN_OR_RETURN(secagg::AdvertiseKeys keys, site->Advertise());
  keys.weight = weight;  // stated before masking; the roster gives back the weight to mask
  FEDLOG_ASSIGN_OR_RETURN(keys.key_signature,
                          auth.signer->Sign(secagg::KeysSigningText(session_id, keys.encryption_key, keys.mask_key)));
  const bool bounded = task.secagg().norm_bounded() && !value_ranges.empty();
  if (bounded && options.report_update_norm) {
    FEDLOG_ASSIGN_OR_RETURN(const double norm, secagg::ValueNorm(x, value_ranges));
    FEDLOG_ASSIGN_OR_RETURN(keys.update_norm, secagg::ReportedNorm(norm));
  }
  FEDLOG_RETURN_IF_ERROR(transport->Advertise(secagg::AdvertiseToProto(keys, session_id)));
  // Round 1: the roster, then one encrypted share pair per peer.
  FEDLOG_ASSIGN_OR_RETURN(v1::SecAggPollResponse got,
                          WaitFor(transport, options, session_id, v1::SecAggPollRequest::ROSTER));
  if (!got.has_roster()) return Refusal(absl::InvalidArgumentError("expected the key roster"));
  FEDLOG_ASSIGN_OR_RETURN(secagg::KeyRoster roster, Refused(secagg::RosterFromProto(got.roster())));
  FEDLOG_RETURN_IF_ERROR(Refused(CheckRosterSignatures(*auth.checker, session_id, roster)));
  FEDLOG_ASSIGN_OR_RETURN(const double given, Refused(secagg::CheckGivenWeight(got.roster().weight(), weight)));
  // The round's norm bound: this site's values scaled to it (a copy of x only when they are).
  std::vector<float> scaled;
  if (bounded && got.roster().norm_bound() > 0) {
    scaled.assign(x.begin(), x.end());
    FEDLOG_ASSIGN_OR_RETURN(const bool clipped,
                            Refused(secagg::ClipValueNorm(got.roster().norm_bound(), value_ranges, &scaled)));
    if (clipped) {
      FEDLOG_LOG(INFO) << "secure aggregation: update scaled down to the round's norm bound "
                       << got.roster().norm_bound();
      x = scaled;
    }
  } else if (!std::isfinite(got.roster().norm_bound()) || got.roster().norm_bound() < 0) {
    return Refusal(absl::InvalidArgumentError("the roster's norm bound must be finite and >= 0"));
  }
  FEDLOG_ASSIGN_OR_RETURN(secagg::ShareKeysMessage shares, Refused(site->ShareSecrets(roster)));
  FEDLOG_RETURN_IF_ERROR(transport->ShareKeys(secagg::ShareKeysToProto(shares, session_id)));
  // Round 2: the shares addressed to this site, then the masked input over the upload stream.
  FEDLOG_ASSIGN_OR_RETURN(got, WaitFor(transport, options, session_id, v1::SecAggPollRequest::SHARES));
  if (!got.has_delivery()) return Refusal(absl::InvalidArgumentError("expected the share delivery"));
  FEDLOG_ASSIGN_OR_RETURN(secagg::ShareDelivery delivery, Refused(secagg::DeliveryFromProto(got.delivery())));
  FEDLOG_ASSIGN_OR_RETURN(secagg::MaskedInput masked,
                          Refused(site->MaskInput(delivery, x, given, UnitWeightLanes(task))));
  header.set_secagg_masked(true);
  header.set_secagg_session_id(session_id);
  secagg::ComplaintsToHeader(masked, &header);  // senders whose shares did not open here
  FEDLOG_RETURN_IF_ERROR(transport->UploadMasked(header, masked.lanes));  // already the wire bytes
  // Round 3: sign the survivor set, once; the aggregator needs the threshold's signatures of one set.
  FEDLOG_ASSIGN_OR_RETURN(got, WaitFor(transport, options, session_id, v1::SecAggPollRequest::CONFIRM));
  if (!got.has_unmask()) return Refusal(absl::InvalidArgumentError("expected the survivor set to confirm"));
  FEDLOG_ASSIGN_OR_RETURN(secagg::UnmaskRequest confirmed, Refused(secagg::UnmaskRequestFromProto(got.unmask())));
  if (absl::Status st = CheckSetToConfirm(confirmed, site->index()); !st.ok()) return Refusal(st);
  secagg::SurvivorSignature mine{site->index(), ""};
  FEDLOG_ASSIGN_OR_RETURN(mine.signature, auth.signer->Sign(secagg::SurvivorsSigningText(
                                              session_id, confirmed.survivors, confirmed.dropped)));
  FEDLOG_RETURN_IF_ERROR(transport->Unmask(secagg::ConfirmationToProto(mine, session_id)));
  // Round 4: reveal what the request allows, only for the set signed above with the threshold's signatures
  // (the session also refuses a request that would unmask one site).
  FEDLOG_ASSIGN_OR_RETURN(got, WaitFor(transport, options, session_id, v1::SecAggPollRequest::UNMASK));
  if (!got.has_unmask()) return Refusal(absl::InvalidArgumentError("expected the unmask request"));
  FEDLOG_ASSIGN_OR_RETURN(secagg::UnmaskRequest request, Refused(secagg::UnmaskRequestFromProto(got.unmask())));
  FEDLOG_RETURN_IF_ERROR(
      Refused(CheckSurvivorSignatures(session_id, roster, config.threshold, confirmed, request)));
  FEDLOG_ASSIGN_OR_RETURN(secagg::UnmaskResponse response, Refused(site->Unmask(request)));
  return transport->Unmask(secagg::UnmaskResponseToProto(response, session_id));
}

}  // namespace fedlog::client
