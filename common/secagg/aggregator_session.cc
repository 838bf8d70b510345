#include "common/secagg/aggregator_session.h"

#include <algorithm>
#include <memory>
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

bool Contains(const std::vector<uint32_t>& sorted, uint32_t v) {
  return std::binary_search(sorted.begin(), sorted.end(), v);
}

absl::Status TooFew(absl::string_view what, size_t have, int t) {
  return absl::FailedPreconditionError(
      absl::StrCat("secure aggregation: ", have, " sites ", what, ", fewer than the threshold ", t));
}

}  // namespace

std::vector<float> AggregateResult::WeightedMean() const {
  std::vector<float> mean;
  if (!(sum.weight_sum > 0)) return mean;
  mean.reserve(sum.weighted_sum.size());
  for (double v : sum.weighted_sum) mean.push_back(static_cast<float>(v / sum.weight_sum));
  return mean;
}

AggregatorSession::AggregatorSession(RoundConfig config, Quantizer quantizer)
    : config_(std::move(config)), quantizer_(std::move(quantizer)) {}

absl::StatusOr<std::unique_ptr<AggregatorSession>> AggregatorSession::Create(RoundConfig config) {
  FEDLOG_RETURN_IF_ERROR(ValidateRoundConfig(config));
  FEDLOG_ASSIGN_OR_RETURN(Quantizer q, Quantizer::Create(config.quantization));
  return std::unique_ptr<AggregatorSession>(new AggregatorSession(std::move(config), std::move(q)));
}

uint32_t AggregatorSession::IndexOf(const std::string& site_id) const {
  for (const auto& [index, e] : roster_) {
    if (e.site_id == site_id) return index;
  }
  return 0;
}

absl::Status AggregatorSession::AddAdvertisement(const AdvertiseKeys& keys) {
  if (stage_ != Stage::kAdvertising) return absl::FailedPreconditionError("advertising is closed");
  if (keys.site_id.empty()) return absl::InvalidArgumentError("advertisement without a site id");
  if (advertised_.count(keys.site_id)) return absl::AlreadyExistsError("site already advertised keys");
  if (advertised_.size() >= static_cast<size_t>(config_.quantization.max_sites)) {
    return absl::ResourceExhaustedError("round already has max_sites sites");
  }
  if (keys.encryption_key == keys.mask_key) return absl::InvalidArgumentError("the two public keys must differ");
  // A key no site can agree a secret with would make every honest site fail its share or mask step: refused
  // here, so that it costs the round only the site that sent it.
  for (const PublicKey* k : {&keys.encryption_key, &keys.mask_key}) FEDLOG_RETURN_IF_ERROR(CheckX25519PublicKey(*k));
  for (const auto& [id, k] : advertised_) {
    if (k.encryption_key == keys.encryption_key || k.mask_key == keys.mask_key ||
        k.encryption_key == keys.mask_key || k.mask_key == keys.encryption_key) {
      return absl::InvalidArgumentError("public key already advertised by another site");
    }
  }
  advertised_[keys.site_id] = keys;
  return absl::OkStatus();
}

absl::StatusOr<KeyRoster> AggregatorSession::CloseAdvertising() {
  if (stage_ != Stage::kAdvertising) return absl::FailedPreconditionError("advertising already closed");
  if (advertised_.size() < static_cast<size_t>(config_.threshold)) {
    return TooFew("advertised keys", advertised_.size(), config_.threshold);
  }
  KeyRoster roster;
  uint32_t index = 0;
  for (const auto& [id, k] : advertised_) {  // std::map: site-id order
    RosterEntry e{++index, id, k.encryption_key, k.mask_key, k.certificate, k.key_signature};
    roster_[e.index] = e;
    commitments_[e.index] = k.seed_commitment;
    roster.entries.push_back(e);
  }
  stage_ = Stage::kSharing;
  return roster;
}

absl::Status AggregatorSession::AddShares(const ShareKeysMessage& m) {
  if (stage_ != Stage::kSharing) return absl::FailedPreconditionError("not collecting shares");
  if (!roster_.count(m.from)) return absl::InvalidArgumentError("shares from a site not in the roster");
  if (std::find(holders_.begin(), holders_.end(), m.from) != holders_.end()) {
    return absl::AlreadyExistsError("site already sent its shares");
  }
  if (m.shares.size() != roster_.size() - 1) return absl::InvalidArgumentError("need one share per other site");
  std::set<uint32_t> to;
  for (const EncryptedShare& e : m.shares) {
    if (e.from != m.from || e.to == m.from || !roster_.count(e.to) || !to.insert(e.to).second ||
        e.ciphertext.size() > 1024) {
      return absl::InvalidArgumentError("malformed encrypted share");
    }
  }
  for (const EncryptedShare& e : m.shares) inbox_[e.to].push_back(e);
  holders_.push_back(m.from);
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, ShareDelivery>> AggregatorSession::CloseSharing() {
  if (stage_ != Stage::kSharing) return absl::FailedPreconditionError("not collecting shares");
  if (holders_.size() < static_cast<size_t>(config_.threshold)) {
    return TooFew("shared keys", holders_.size(), config_.threshold);
  }
  std::sort(holders_.begin(), holders_.end());
  std::map<uint32_t, ShareDelivery> out;
  for (uint32_t v : holders_) {
    ShareDelivery& d = out[v];
    d.share_holders = holders_;
    for (const EncryptedShare& e : inbox_[v]) {
      if (Contains(holders_, e.from)) d.shares.push_back(e);
    }
  }
  inbox_.clear();
  // Not zero-filled: the first masked input is copied into the sum, the others added (AddMaskedInput).
  const size_t n = config_.vector_length + 1;
  if (quantizer_.lane_bits() == 32) {
    sum32_ = std::make_unique_for_overwrite<uint32_t[]>(n);
  } else {
    sum64_ = std::make_unique_for_overwrite<uint64_t[]>(n);
  }
  stage_ = Stage::kMasking;
  return out;
}

absl::Status AggregatorSession::AddMaskedInput(uint32_t from, absl::string_view lanes,
                                               absl::Span<const uint32_t> complaints) {
  if (stage_ != Stage::kMasking) return absl::FailedPreconditionError("not collecting masked inputs");
  if (!Contains(holders_, from)) return absl::InvalidArgumentError("masked input from a site that shared no keys");
  if (std::find(survivors_.begin(), survivors_.end(), from) != survivors_.end()) {
    return absl::AlreadyExistsError("site already sent its masked input");
  }
  const uint64_t expected = (config_.vector_length + 1) * quantizer_.lane_bytes();
  if (lanes.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("masked input has ", lanes.size(), " bytes, expected ",
                                                   expected, " (", config_.vector_length + 1, " lanes of ",
                                                   quantizer_.lane_bits(), " bits)"));
  }
  for (size_t i = 0; i < complaints.size(); ++i) {
    if (complaints[i] == from || !Contains(holders_, complaints[i]) || (i > 0 && complaints[i] <= complaints[i - 1])) {
      return absl::InvalidArgumentError("complaints must name other share holders, ascending, each once");
    }
  }
  // Straight from the received bytes into the running sum (mod 2^32 or 2^64); no copy of the input is kept.
  const bool first = survivors_.empty();
  if (quantizer_.lane_bits() == 32) {
    first ? CopyLanes(lanes, sum32_.get()) : AddLanes(lanes, sum32_.get());
  } else {
    first ? CopyLanes(lanes, sum64_.get()) : AddLanes(lanes, sum64_.get());
  }
  survivors_.push_back(from);
  complaints_[from].assign(complaints.begin(), complaints.end());
  for (uint32_t v : complaints) complained_about_[v].push_back(from);
  return absl::OkStatus();
}

std::vector<uint32_t> AggregatorSession::Unrecoverable(const std::vector<uint32_t>& candidates) const {
  std::vector<uint32_t> out;
  for (const auto& [v, by] : complained_about_) {
    const size_t named = static_cast<size_t>(
        std::count_if(by.begin(), by.end(), [&](uint32_t u) { return Contains(candidates, u); }));
    if (candidates.size() - named < static_cast<size_t>(config_.threshold)) out.push_back(v);
  }
  return out;
}

absl::StatusOr<UnmaskRequest> AggregatorSession::CloseMasking() {
  if (stage_ != Stage::kMasking) return absl::FailedPreconditionError("not collecting masked inputs");
  if (survivors_.size() < static_cast<size_t>(config_.threshold)) {
    return TooFew("sent masked inputs", survivors_.size(), config_.threshold);
  }
  std::sort(survivors_.begin(), survivors_.end());
  if (std::vector<uint32_t> lost = Unrecoverable(survivors_); !lost.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secure aggregation: the shares of site index ", lost.front(), " opened at fewer than the threshold ",
        config_.threshold, " of the ", survivors_.size(), " survivors; its masks cannot be removed"));
  }
  for (uint32_t v : holders_) {
    if (!Contains(survivors_, v)) dropped_.push_back(v);
  }
  stage_ = Stage::kUnmasking;
  return UnmaskRequest{survivors_, dropped_};
}

absl::Status AggregatorSession::AddUnmaskResponse(const UnmaskResponse& r) {
  if (stage_ != Stage::kUnmasking) return absl::FailedPreconditionError("not collecting unmask responses");
  if (!Contains(survivors_, r.from)) return absl::InvalidArgumentError("unmask response from a non-survivor");
  if (std::find(responders_.begin(), responders_.end(), r.from) != responders_.end()) {
    return absl::AlreadyExistsError("site already answered");
  }
  const std::vector<uint32_t>& named = complaints_[r.from];
  if (r.shares.size() != holders_.size() - named.size()) {
    return absl::InvalidArgumentError("need one share per share holder the site did not complain about");
  }
  std::set<uint32_t> owners;
  for (const RevealedShare& s : r.shares) {
    const bool survivor = Contains(survivors_, s.owner);
    const ShareKind want = survivor ? ShareKind::kSelfMaskSeed : ShareKind::kMaskPrivateKey;
    if (!Contains(holders_, s.owner) || Contains(named, s.owner) || !owners.insert(s.owner).second ||
        s.kind != want || s.share.x != r.from) {
      return absl::InvalidArgumentError("revealed share has the wrong owner, kind or point");
    }
  }
  for (const RevealedShare& s : r.shares) {
    (s.kind == ShareKind::kSelfMaskSeed ? seed_shares_ : key_shares_)[s.owner].push_back(s.share);
  }
  responders_.push_back(r.from);
  return absl::OkStatus();
}

absl::Status AggregatorSession::Reconstruct(std::map<uint32_t, SecretKey>* seeds,
                                            std::map<uint32_t, SecretKey>* keys) {
  blame_.clear();
  // Bad points by secret owner; a revealer's bad points by revealer (docs/rules/s24-secshares.md).
  std::map<uint32_t, std::vector<uint32_t>> bad_in;
  std::map<uint32_t, std::set<uint32_t>> bad_by;
  absl::Status failed;
  auto one = [&](uint32_t v, const std::vector<ShamirShare>& shares, bool seed) {
    const Commitment& commitment = commitments_[v];
    const PublicKey& mask_key = roster_[v].mask_key;
    const std::string& session = config_.session_id;
    absl::StatusOr<CheckedSecret> got = ShamirCombineChecked(shares, config_.threshold, [&](const SecretKey& k) {
      if (seed) {
        absl::StatusOr<Commitment> c = SeedCommitment(k, session);
        return c.ok() && *c == commitment;
      }
      absl::StatusOr<PublicKey> pk = X25519PublicFromPrivate(k);
      return pk.ok() && *pk == mask_key;
    });
    const char* what = seed ? "self-mask seed" : "mask key";
    if (!got.ok()) {
      // One bad revealer among more than t shares is always outvoted; failing then is the dealer's doing.
      if (shares.size() > static_cast<size_t>(config_.threshold)) {
        blame_.push_back({v, absl::StrCat("its ", what, " cannot be reconstructed from the ", shares.size(),
                                          " shares revealed (it dealt inconsistent shares)")});
      }
      if (failed.ok()) {
        failed = absl::DataLossError(absl::StrCat("the ", what, " of site index ", v, " does not reconstruct: ",
                                                  got.status().message()));
      }
      return;
    }
    for (uint32_t x : got->bad_points) {
      bad_in[v].push_back(x);
      bad_by[x].insert(v);
    }
    (seed ? *seeds : *keys)[v] = got->secret;
  };
  for (uint32_t v : survivors_) one(v, seed_shares_[v], true);
  for (uint32_t v : dropped_) one(v, key_shares_[v], false);
  for (const auto& [v, xs] : bad_in) {
    if (xs.size() >= 2) {
      blame_.push_back({v, absl::StrCat("the shares it dealt to ", xs.size(), " sites are off its polynomial")});
    } else if (bad_by[xs.front()].size() < 2) {
      FEDLOG_LOG(WARNING) << "secagg aggregator: one wrong share of site index " << v << "'s secret, revealed by "
                          << "site index " << xs.front() << "; outvoted, not attributable (dealt or revealed)";
    }
  }
  for (const auto& [x, owners] : bad_by) {
    if (owners.size() >= 2) {
      blame_.push_back({x, absl::StrCat("it revealed wrong shares of ", owners.size(), " sites' secrets")});
    }
  }
  return failed;
}

template <typename Lane>
absl::StatusOr<DecodedSum> AggregatorSession::Unmask(absl::Span<Lane> sum, const std::map<uint32_t, SecretKey>& seeds,
                                                     const std::map<uint32_t, SecretKey>& keys) {
  // Every mask to remove, in one pass over the sum (prg.h ApplyMasks): the survivors' self masks, and for each
  // site that dropped after sharing, its pairwise mask with every survivor. `pairwise` is reserved in full so
  // that the terms' pointers into it stay valid.
  std::vector<SecretKey> pairwise;
  pairwise.reserve(survivors_.size() * dropped_.size());
  std::vector<MaskTerm> terms;
  for (uint32_t v : survivors_) terms.push_back({&seeds.at(v), MaskSign::kSubtract});
  for (uint32_t v : dropped_) {
    const SecretKey& key = keys.at(v);  // checked against v's mask key (Reconstruct)
    for (uint32_t w : survivors_) {
      FEDLOG_ASSIGN_OR_RETURN(SecretKey seed, PairwiseMaskSeed(key, roster_[w].mask_key, config_.session_id));
      pairwise.push_back(seed);
      // Survivor w added PRG(s_wv) when w < v and subtracted it when w > v; undo that.
      terms.push_back({&pairwise.back(), w < v ? MaskSign::kSubtract : MaskSign::kAdd});
    }
  }
  FEDLOG_RETURN_IF_ERROR(ApplyMasks(terms, sum));
  return quantizer_.DecodeSum(absl::Span<const Lane>(sum), static_cast<int>(survivors_.size()));
}

absl::StatusOr<AggregateResult> AggregatorSession::Finish() {
  if (stage_ != Stage::kUnmasking) return absl::FailedPreconditionError("Finish out of order");
  if (responders_.size() < static_cast<size_t>(config_.threshold)) {
    return TooFew("revealed shares", responders_.size(), config_.threshold);
  }
  const size_t n = config_.vector_length + 1;
  std::map<uint32_t, SecretKey> seeds, keys;
  absl::Status rebuilt = Reconstruct(&seeds, &keys);
  seed_shares_.clear();
  key_shares_.clear();
  for (const Blame& b : blame_) {
    FEDLOG_LOG(WARNING) << "secagg aggregator: site index " << b.index << " spoiled unmasking: " << b.why;
  }
  if (!rebuilt.ok()) return rebuilt;
  absl::StatusOr<DecodedSum> decoded =
      quantizer_.lane_bits() == 32 ? Unmask(absl::MakeSpan(sum32_.get(), n), seeds, keys)
                                   : Unmask(absl::MakeSpan(sum64_.get(), n), seeds, keys);
  if (!decoded.ok()) return decoded.status();
  stage_ = Stage::kFinished;
  sum32_.reset();
  sum64_.reset();
  FEDLOG_LOG(DEBUG) << "secagg aggregator: unmasked the sum of " << survivors_.size() << " sites ("
                    << dropped_.size() << " dropped after sharing)";
  return AggregateResult{*std::move(decoded), survivors_, dropped_};
}

}  // namespace fedlog::secagg
