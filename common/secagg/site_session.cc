#include "common/secagg/site_session.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/secagg/lanes.h"
#include "common/secagg/prg.h"
#include "common/secagg/protocol.h"

namespace fedlog::secagg {
namespace {

// Quantises (x, weight) and masks it chunk by chunk into `out`: each chunk is encoded into a small buffer,
// masked there while it is in cache, and appended to the upload bytes, so the input is read once and the
// upload written once, with no zero-filled vector and no second copy for the wire. Values from `unit_from` on
// are encoded with weight 1 (MaskInput's unit_weight_lanes).
template <typename Lane>
absl::Status EncodeAndMask(const Quantizer& q, absl::Span<const float> x, double weight, size_t unit_from,
                           MaskStreams* streams, std::string* out) {
  constexpr size_t kChunk = 4096;
  alignas(64) Lane buf[kChunk];
  out->clear();
  out->reserve((x.size() + 1) * sizeof(Lane));
  absl::Status st;
  for (size_t off = 0; off < x.size() && st.ok(); off += kChunk) {
    const size_t n = std::min(kChunk, x.size() - off);
    const size_t weighted = off >= unit_from ? 0 : std::min(n, unit_from - off);
    if (weighted > 0) st = q.EncodeValues(x.subspan(off, weighted), weight, absl::MakeSpan(buf, weighted));
    if (st.ok() && weighted < n) {
      st = q.EncodeValues(x.subspan(off + weighted, n - weighted), 1.0, absl::MakeSpan(buf + weighted, n - weighted));
    }
    if (st.ok()) st = streams->Apply(absl::MakeSpan(buf, n));
    if (st.ok()) AppendLanes(buf, n, out);
  }
  if (st.ok()) {
    buf[0] = static_cast<Lane>(q.WeightLane(weight));
    st = streams->Apply(absl::MakeSpan(buf, 1));
    if (st.ok()) AppendLanes(buf, 1, out);
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  if (!st.ok()) out->clear();
  return st;
}

}  // namespace

SiteSession::SiteSession(SiteOptions options, RoundConfig config, Quantizer quantizer)
    : options_(std::move(options)), config_(std::move(config)), quantizer_(std::move(quantizer)) {}

SiteSession::~SiteSession() = default;

absl::StatusOr<std::unique_ptr<SiteSession>> SiteSession::Create(SiteOptions options, RoundConfig config) {
  FEDLOG_RETURN_IF_ERROR(ValidateRoundConfig(config));
  if (options.site_id.empty()) return absl::InvalidArgumentError("secure aggregation site needs a site id");
  if (config.threshold < std::max(options.min_threshold, 1)) {
    return absl::FailedPreconditionError(absl::StrCat("round threshold ", config.threshold,
                                                      " is below this site's minimum ", options.min_threshold));
  }
  FEDLOG_ASSIGN_OR_RETURN(Quantizer q, Quantizer::Create(config.quantization));
  return std::unique_ptr<SiteSession>(new SiteSession(std::move(options), std::move(config), std::move(q)));
}

absl::Status SiteSession::Abort(absl::Status why) {
  state_ = State::kAborted;
  held_.clear();
  FEDLOG_LOG(WARNING) << "secure aggregation round aborted by this site: " << why.message();
  return why;
}

absl::StatusOr<AdvertiseKeys> SiteSession::Advertise() {
  if (state_ != State::kNew) return absl::FailedPreconditionError("keys already advertised in this round");
  FEDLOG_ASSIGN_OR_RETURN(encryption_keys_, GenerateX25519());
  FEDLOG_ASSIGN_OR_RETURN(mask_keys_, GenerateX25519());
  // b is drawn now so that its commitment travels with the keys (the aggregator checks b's reconstruction).
  FEDLOG_ASSIGN_OR_RETURN(self_mask_seed_, SecretKey::Random());
  FEDLOG_ASSIGN_OR_RETURN(Commitment commitment, SeedCommitment(self_mask_seed_, config_.session_id));
  state_ = State::kAdvertised;
  return AdvertiseKeys{options_.site_id, encryption_keys_.public_key, mask_keys_.public_key, commitment};
}

absl::Status SiteSession::CheckRoster(const KeyRoster& roster) {
  const size_t n = roster.entries.size();
  const size_t t = static_cast<size_t>(config_.threshold);
  if (n < t) return absl::FailedPreconditionError(absl::StrCat("roster of ", n, " sites is below threshold ", t));
  if (n > static_cast<size_t>(config_.quantization.max_sites)) {
    return absl::FailedPreconditionError(absl::StrCat("roster of ", n, " sites exceeds max_sites"));
  }
  if (options_.require_majority && 2 * t <= n) {
    return absl::FailedPreconditionError(
        absl::StrCat("threshold ", t, " is not a majority of the ", n, " sites; this site requires one"));
  }
  std::set<std::string> ids;
  std::set<PublicKey> keys;
  for (const RosterEntry& e : roster.entries) {
    if (e.index < 1 || e.index > n || roster_.count(e.index)) {
      return absl::InvalidArgumentError("roster indices must be 1..n, each once");
    }
    if (!ids.insert(e.site_id).second) return absl::InvalidArgumentError("roster names a site twice");
    if (!keys.insert(e.encryption_key).second || !keys.insert(e.mask_key).second) {
      return absl::InvalidArgumentError("roster repeats a public key");
    }
    roster_[e.index] = e;
    if (e.site_id == options_.site_id) {
      if (e.encryption_key != encryption_keys_.public_key || e.mask_key != mask_keys_.public_key) {
        return absl::InvalidArgumentError("roster misstates this site's public keys");
      }
      index_ = e.index;
    }
  }
  if (index_ == 0) return absl::InvalidArgumentError("roster does not include this site");
  return absl::OkStatus();
}

absl::StatusOr<ShareKeysMessage> SiteSession::ShareSecrets(const KeyRoster& roster) {
  if (state_ != State::kAdvertised) return absl::FailedPreconditionError("ShareSecrets out of order");
  if (absl::Status s = CheckRoster(roster); !s.ok()) return Abort(s);
  std::vector<uint32_t> xs;
  for (const auto& [index, e] : roster_) xs.push_back(index);
  FEDLOG_ASSIGN_OR_RETURN(std::vector<ShamirShare> key_shares,
                          ShamirSplit(mask_keys_.private_key, config_.threshold, xs));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<ShamirShare> seed_shares,
                          ShamirSplit(self_mask_seed_, config_.threshold, xs));
  ShareKeysMessage msg;
  msg.from = index_;
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint32_t to = xs[i];
    if (to == index_) {
      held_[index_] = {key_shares[i], seed_shares[i]};
      continue;
    }
    FEDLOG_ASSIGN_OR_RETURN(SecretKey k, ShareEncryptionKey(encryption_keys_.private_key,
                                                            roster_[to].encryption_key, config_.session_id));
    std::string plain = EncodeSharePlaintext(index_, to, key_shares[i], seed_shares[i]);
    absl::StatusOr<std::string> sealed = AesGcmSeal(k, plain, ShareAad(config_.session_id, index_, to));
    Wipe(&plain);
    if (!sealed.ok()) return sealed.status();
    msg.shares.push_back({index_, to, std::move(*sealed)});
  }
  state_ = State::kShared;
  FEDLOG_LOG(DEBUG) << "secagg site " << index_ << ": shared secrets with " << msg.shares.size() << " peers";
  return msg;
}

absl::Status SiteSession::TakeShares(const ShareDelivery& delivery) {
  const std::vector<uint32_t>& u2 = delivery.share_holders;
  if (!std::is_sorted(u2.begin(), u2.end()) || std::adjacent_find(u2.begin(), u2.end()) != u2.end()) {
    return absl::InvalidArgumentError("share holders must be ascending and distinct");
  }
  for (uint32_t v : u2) {
    if (!roster_.count(v)) return absl::InvalidArgumentError("share holder not in the roster");
  }
  if (!std::binary_search(u2.begin(), u2.end(), index_)) {
    return absl::FailedPreconditionError("this site is not among the share holders");
  }
  if (u2.size() < static_cast<size_t>(config_.threshold)) {
    return absl::FailedPreconditionError(
        absl::StrCat(u2.size(), " sites shared keys, fewer than the threshold ", config_.threshold));
  }
  if (delivery.shares.size() != u2.size() - 1) return absl::InvalidArgumentError("wrong number of shares delivered");
  for (const EncryptedShare& e : delivery.shares) {
    if (e.to != index_ || e.from == index_ || !std::binary_search(u2.begin(), u2.end(), e.from) ||
        held_.count(e.from) || std::binary_search(complaints_.begin(), complaints_.end(), e.from)) {
      return absl::InvalidArgumentError("delivered share is misaddressed or repeated");
    }
    if (absl::Status st = OpenShare(e); !st.ok()) {
      // The sender's fault (or the relay's): this site goes on without that share and names the sender in its
      // masked input (MaskedInput.complaints); the aggregator counts the complaints (docs/rules/s24-secshares.md).
      std::string id = roster_[e.from].site_id;  // the aggregator's text: printed printable only
      for (char& c : id) c = (c >= 0x20 && c < 0x7f) ? c : '?';
      FEDLOG_LOG(WARNING) << "secure aggregation: the share from site " << id << " (index " << e.from
                          << ") does not open (" << st.message() << "); continuing without it and reporting it";
      complaints_.insert(std::upper_bound(complaints_.begin(), complaints_.end(), e.from), e.from);
    }
  }
  holders_ = u2;
  return absl::OkStatus();
}

absl::Status SiteSession::OpenShare(const EncryptedShare& e) {
  FEDLOG_ASSIGN_OR_RETURN(SecretKey k, ShareEncryptionKey(encryption_keys_.private_key,
                                                          roster_[e.from].encryption_key, config_.session_id));
  FEDLOG_ASSIGN_OR_RETURN(std::string plain, AesGcmOpen(k, e.ciphertext, ShareAad(config_.session_id, e.from, index_)));
  absl::StatusOr<SharePlaintext> p = DecodeSharePlaintext(plain);
  Wipe(&plain);
  if (!p.ok()) return p.status();
  if (p->from != e.from || p->to != index_ || p->key_share.x != index_ || p->seed_share.x != index_) {
    return absl::InvalidArgumentError("share content does not match its envelope");
  }
  held_[e.from] = {p->key_share, p->seed_share};
  return absl::OkStatus();
}

absl::StatusOr<MaskedInput> SiteSession::MaskInput(const ShareDelivery& delivery, absl::Span<const float> x,
                                                   double weight, uint64_t unit_weight_lanes) {
  if (state_ != State::kShared) return absl::FailedPreconditionError("MaskInput out of order");
  if (x.size() != config_.vector_length) {
    return absl::InvalidArgumentError(absl::StrCat("input has ", x.size(), " values, round expects ",
                                                   config_.vector_length));
  }
  if (unit_weight_lanes > x.size() || (unit_weight_lanes > 0 && config_.quantization.max_weight < 1)) {
    return absl::InvalidArgumentError("unit-weight lanes beyond the input, or a round whose weights stay below 1");
  }
  const size_t unit_from = x.size() - static_cast<size_t>(unit_weight_lanes);
  if (absl::Status s = TakeShares(delivery); !s.ok()) return Abort(s);
  // The lane width and fraction bits are the aggregator's choice; refuse a step too coarse for this weight.
  if (absl::Status s = quantizer_.CheckPrecision(weight); !s.ok()) return Abort(s);
  // The self mask and one pairwise mask per peer, applied in one pass (prg.h MaskStreams).
  std::vector<SecretKey> seeds;
  seeds.reserve(holders_.size());
  std::vector<MaskTerm> terms = {{&self_mask_seed_, MaskSign::kAdd}};
  for (uint32_t v : holders_) {
    if (v == index_) continue;
    FEDLOG_ASSIGN_OR_RETURN(SecretKey seed,
                            PairwiseMaskSeed(mask_keys_.private_key, roster_[v].mask_key, config_.session_id));
    seeds.push_back(seed);
    terms.push_back({&seeds.back(), index_ < v ? MaskSign::kAdd : MaskSign::kSubtract});
  }
  FEDLOG_ASSIGN_OR_RETURN(MaskStreams streams, MaskStreams::Start(terms));
  MaskedInput out;
  out.from = index_;
  out.complaints = complaints_;
  if (quantizer_.lane_bits() == 32) {
    FEDLOG_RETURN_IF_ERROR(EncodeAndMask<uint32_t>(quantizer_, x, weight, unit_from, &streams, &out.lanes));
  } else {
    FEDLOG_RETURN_IF_ERROR(EncodeAndMask<uint64_t>(quantizer_, x, weight, unit_from, &streams, &out.lanes));
  }
  state_ = State::kMasked;
  FEDLOG_LOG(DEBUG) << "secagg site " << index_ << ": masked " << x.size() << " values with "
                    << holders_.size() - 1 << " pairwise masks";
  return out;
}

absl::StatusOr<UnmaskResponse> SiteSession::Unmask(const UnmaskRequest& request) {
  if (state_ == State::kDone) {
    return Abort(absl::FailedPreconditionError(
        "already answered an unmask request in this round; a second could reveal both shares of a site"));
  }
  if (state_ != State::kMasked) return absl::FailedPreconditionError("Unmask out of order");
  std::set<uint32_t> survivors(request.survivors.begin(), request.survivors.end());
  std::set<uint32_t> dropped(request.dropped.begin(), request.dropped.end());
  for (uint32_t v : dropped) {
    if (survivors.count(v)) {
      return Abort(absl::PermissionDeniedError(absl::StrCat(
          "aggregator asked for both the self-mask share and the mask-key share of site ", v, "; refused")));
    }
  }
  if (survivors.size() != request.survivors.size() || dropped.size() != request.dropped.size()) {
    return Abort(absl::InvalidArgumentError("unmask request repeats a site"));
  }
  std::set<uint32_t> all = survivors;
  all.insert(dropped.begin(), dropped.end());
  if (all != std::set<uint32_t>(holders_.begin(), holders_.end())) {
    return Abort(absl::InvalidArgumentError("unmask request does not partition the sites that shared keys"));
  }
  if (!survivors.count(index_)) {
    return Abort(absl::FailedPreconditionError("unmask request lists this site, which sent its input, as dropped"));
  }
  if (survivors.size() < static_cast<size_t>(config_.threshold)) {
    return Abort(absl::FailedPreconditionError(absl::StrCat(survivors.size(), " survivors, fewer than threshold ",
                                                            config_.threshold, "; refusing to unmask")));
  }
  if (survivors.size() < static_cast<size_t>(std::max(options_.min_survivors, 0))) {
    return Abort(absl::FailedPreconditionError(absl::StrCat(survivors.size(), " survivors, fewer than the ",
                                                            options_.min_survivors,
                                                            " this site requires; refusing to unmask")));
  }
  UnmaskResponse r;
  r.from = index_;
  for (uint32_t v : holders_) {
    auto it = held_.find(v);
    if (it == held_.end()) continue;  // v's share did not open here (complaints_): nothing to reveal
    const HeldShares& h = it->second;
    if (survivors.count(v)) {
      r.shares.push_back({v, ShareKind::kSelfMaskSeed, h.seed_share});
    } else {
      r.shares.push_back({v, ShareKind::kMaskPrivateKey, h.key_share});
    }
  }
  held_.clear();
  state_ = State::kDone;
  FEDLOG_LOG(DEBUG) << "secagg site " << index_ << ": revealed shares for " << survivors.size() << " survivors and "
                    << dropped.size() << " dropped sites";
  return r;
}

SiteSession::Secrets SiteSession::SecretsForTesting() const {
  return {self_mask_seed_, mask_keys_.private_key, encryption_keys_.private_key};
}

}  // namespace fedlog::secagg
