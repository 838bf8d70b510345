// Shared pieces of the red-team tests of secure aggregation against one bad site (redteam_secagg_site_test.cc:
// three sites; redteam_secagg_cohort_test.cc: six sites and cohorts; redteam_secagg_norm_test.cc: the norm
// bound): hand-driven sites, a transport that tampers
// with what its honest client sends, a secure run's start, one attempt run by hand, and checks on the result.
#ifndef FEDLOG_TESTS_INTEGRATION_REDTEAM_SECAGG_ENV_H_
#define FEDLOG_TESTS_INTEGRATION_REDTEAM_SECAGG_ENV_H_

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <thread>
#include "absl/strings/match.h"
#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "common/base/file_util.h"
#include "common/fl/tensor_bundle.h"
#include "common/secagg/norm_bound.h"
#include "common/secagg/peer_auth.h"
#include "common/secagg/quantize.h"
#include "common/secagg/shamir.h"
#include "common/secagg/wire.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog::redteam_secagg {

using Site = testing::HandSite;

constexpr int kOut = 8, kAdapter = 4;
constexpr double kClipRange = 4;  // the plan's secagg_clip_range (run start's default)

// What the bad site's transport does to the messages its (honest) client sends.
enum class Tamper {
  kNone, kZeroWeightLane, kZeroEncryptionKey, kSmallOrderMaskKey, kGarbageShares, kWrongReveals, kLateReveal,
  kIgnoreGivenWeight, kZeroStatedWeight, kBoostPastTheBound
};

// Relays a site's secure-aggregation calls to the aggregator, tampering as `tamper` says.
class BadRelay : public client::SecAggTransport {
 public:
  BadRelay(client::FederationSession* s, Tamper tamper) : inner_(client::SessionTransport(s)), tamper_(tamper) {}
  absl::Status Advertise(const v1::SecAggAdvertiseRequest& r) override {
    v1::SecAggAdvertiseRequest bad = r;
    if (tamper_ == Tamper::kZeroEncryptionKey) bad.set_encryption_key(std::string(32, '\0'));
    // u = 1, a point of order 4: X25519 with any clamped scalar gives zero.
    if (tamper_ == Tamper::kSmallOrderMaskKey) bad.set_mask_key(std::string(1, '\1') + std::string(31, '\0'));
    if (tamper_ == Tamper::kZeroStatedWeight) bad.set_weight(0);  // it would add nothing it could be held to
    if (tamper_ == Tamper::kBoostPastTheBound) bad.set_update_norm(stated_norm);  // a small norm, whatever it masks
    if (!key_file.empty()) ReSign(&bad);  // a bad site signs whatever keys it sends
    return inner_->Advertise(bad);
  }
  absl::Status ShareKeys(const v1::SecAggShareKeysRequest& r) override {
    v1::SecAggShareKeysRequest bad = r;
    if (tamper_ == Tamper::kGarbageShares) {
      for (v1::SecAggEncryptedShare& s : *bad.mutable_shares()) {
        std::string* c = s.mutable_ciphertext();
        (*c)[c->size() / 2] ^= 0x5a;  // well-formed, the right length and envelope; fails its tag
      }
    }
    return inner_->ShareKeys(bad);
  }
  absl::Status UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) override {
    std::string bad = bytes;
    if (tamper_ == Tamper::kZeroWeightLane) {
      // Masking is additive: subtracting the site's weight lane from its masked lane removes its weight from the
      // sum while its values keep theirs.
      const size_t at = bad.size() - lane_bytes;
      uint64_t lane = 0;
      for (size_t i = 0; i < lane_bytes; ++i) lane |= uint64_t{static_cast<uint8_t>(bad[at + i])} << (8 * i);
      lane -= weight_lane;
      for (size_t i = 0; i < lane_bytes; ++i) bad[at + i] = static_cast<char>((lane >> (8 * i)) & 0xff);
    }
    return inner_->UploadMasked(h, bad);
  }
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override {
    absl::StatusOr<v1::SecAggPollResponse> got = inner_->Poll(r);
    // The site masks the weight it stated instead of the capped one its roster gives it: values and weight
    // lane agree (the clip-range bound of the sum cannot see it), the weight is not the one the round gave.
    if (tamper_ == Tamper::kIgnoreGivenWeight && got.ok() && got->has_roster()) {
      got->mutable_roster()->set_weight(stated_weight);
    }
    // The site masks its whole update, above the norm bound the round gave every site.
    if (tamper_ == Tamper::kBoostPastTheBound && got.ok() && got->has_roster()) {
      got->mutable_roster()->set_norm_bound(0);
    }
    return got;
  }
  absl::Status Unmask(const v1::SecAggUnmaskRequest& r) override {
    v1::SecAggUnmaskRequest bad = r;
    if (tamper_ == Tamper::kWrongReveals) {  // every revealed share off its polynomial, still in the field
      for (v1::SecAggRevealedShare& s : *bad.mutable_shares()) s.set_y(0, (s.y(0) + 1) % secagg::kShamirPrime);
    }
    // An honest site that answers late, so that the liar's shares come first (the plain combination takes the
    // first t).
    if (tamper_ == Tamper::kLateReveal && !secagg::IsConfirmation(r)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
    }
    return inner_->Unmask(bad);
  }

  uint64_t weight_lane = 0;  // kZeroWeightLane: the lane the honest client puts the weight in
  size_t lane_bytes = 8;
  double stated_weight = 0;  // kIgnoreGivenWeight: the weight the site stated (and masks)
  double stated_norm = 0;    // kBoostPastTheBound: the update norm the site states
  std::string key_file;      // when set: the site's key, to sign the keys it sends after tampering with them

 private:
  void ReSign(v1::SecAggAdvertiseRequest* r) const {
    absl::StatusOr<std::string> pem = ReadFile(key_file);
    ASSERT_TRUE(pem.ok()) << pem.status();
    absl::StatusOr<std::unique_ptr<secagg::Signer>> signer = secagg::Signer::FromPem(*pem);
    ASSERT_TRUE(signer.ok()) << signer.status();
    secagg::PublicKey enc{}, mask{};
    std::copy(r->encryption_key().begin(), r->encryption_key().end(), enc.begin());
    std::copy(r->mask_key().begin(), r->mask_key().end(), mask.begin());
    absl::StatusOr<std::string> sig = (*signer)->Sign(secagg::KeysSigningText(r->session_id(), enc, mask));
    ASSERT_TRUE(sig.ok()) << sig.status();
    r->set_key_signature(*sig);
  }

  std::unique_ptr<client::SecAggTransport> inner_;
  Tamper tamper_;
};

using testing::StartSecureRun;  // test_env.h

// `model`'s shared tensors, every value `v`.
inline fl::TensorBundle Delta(const fl::TensorBundle& model, float v) {
  fl::TensorBundle d;
  for (const auto& t : model.tensors) {
    if (fl::IsOptionalTensor(t.name)) continue;
    d.tensors.push_back({t.name, t.shape, std::vector<float>(t.values.size(), v)});
  }
  return d;
}

// Runs one secure-aggregation attempt: each site i masks `deltas[i]` with weight `weights[i]` through its
// transport; returns each site's result. With `state_norms` the sites state their update norms and scale to the
// round's norm bound as the daemon does (common/secagg/norm_bound.h); without, they state none (no bound is
// then set unless one is carried).
inline std::vector<absl::Status> RunAttempt(const std::vector<Site*>& sites,
                                            const std::vector<client::SecAggTransport*>& via,
                                            const std::vector<v1::RoundTask>& tasks, const fl::TensorBundle& global,
                                            const std::vector<fl::TensorBundle>& deltas,
                                            const std::vector<double>& weights, bool state_norms = false) {
  std::vector<absl::Status> out(sites.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sites.size(); ++i) {
    threads.emplace_back([&, i] {
      int64_t clipped = 0;
      std::vector<secagg::ValueRange> ranges;
      absl::StatusOr<std::vector<float>> x =
          client::SecAggVector(tasks[i], global, deltas[i], &clipped, {}, state_norms ? &ranges : nullptr);
      if (!x.ok()) {
        out[i] = x.status();
        return;
      }
      client::SecAggClientOptions o = sites[i]->SecAggOptions();
      out[i] = client::RunSecureAggregation(via[i], o, tasks[i], *x, weights[i],
                                            Site::Header(tasks[i], static_cast<int64_t>(weights[i])), ranges);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

inline bool HasFailedAttempt(const v1::RunStatus& s) {
  for (const auto& r : s.rounds()) {
    if (r.state() == "failed") return true;
  }
  return false;
}

inline bool Finished(const v1::RunStatus& s) { return s.state() != "waiting" && s.state() != "running"; }

// Every value of `after` within the clip range of `before` (a mean of clipped deltas cannot move further).
inline void ExpectWithinClipRange(const fl::TensorBundle& before, const fl::TensorBundle& after) {
  for (const auto& t : after.tensors) {
    const fl::NamedTensor* b = before.Find(t.name);
    if (b == nullptr) continue;
    for (size_t i = 0; i < t.values.size(); ++i) {
      ASSERT_LE(std::fabs(t.values[i] - b->values[i]), kClipRange + 1e-3) << t.name << "[" << i << "]";
    }
  }
}

inline std::vector<std::string> Participants(const v1::RoundSummary& r) {
  return std::vector<std::string>(r.participants().begin(), r.participants().end());
}

// The first value of `after`'s first shared tensor minus `before`'s: how far the round moved the model.
inline double FirstShift(const fl::TensorBundle& before, const fl::TensorBundle& after) {
  for (const auto& t : before.tensors) {
    if (fl::IsOptionalTensor(t.name)) continue;
    const fl::NamedTensor* a = after.Find(t.name);
    return a == nullptr ? std::nan("") : static_cast<double>(a->values[0] - t.values[0]);
  }
  return std::nan("");
}

}  // namespace fedlog::redteam_secagg

#endif  // FEDLOG_TESTS_INTEGRATION_REDTEAM_SECAGG_ENV_H_
