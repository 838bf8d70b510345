// The site against an aggregator that deviates actively in secure aggregation (protocol version 5,
// common/secagg/peer_auth.h; docs/PRIVACY.md "An aggregator that deviates"). A real aggregator over real mTLS on
// loopback runs the round; site-a's transport (AggregatorInTheMiddle) changes what the aggregator tells site-a,
// as a compromised aggregator process would, to learn site-a's or another site's individual input:
//  - a roster entry with keys of the aggregator's own (to know site-a's pairwise masks and read its shares),
//    whatever certificate it puts beside them: site-b's own, the aggregator's, one for "site-b" from another CA,
//    or site-c's;
//  - an unmask request for another survivor set than the one site-a signed;
//  - a split view: site-a is shown site-c as dropped (to get site-c's mask-key share from site-a) while site-b
//    and site-c signed the set where site-c survived (to get its self-mask shares from them).
// site-a refuses each before it sends a share or reveals one, as a refusal (client/aggregator_checks.h
// IsRefusal); where the other sites still meet the threshold, the round completes without it.
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "client/aggregator_checks.h"
#include "client/secagg_client.h"
#include "common/base/file_util.h"
#include "common/fl/tensor_bundle.h"
#include "common/secagg/crypto.h"
#include "common/secagg/peer_auth.h"
#include "common/secagg/wire.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using testing::HandSite;

// What site-a's transport changes in what the aggregator sends it.
class AggregatorInTheMiddle : public client::SecAggTransport {
 public:
  explicit AggregatorInTheMiddle(client::FederationSession* s) : inner_(client::SessionTransport(s)) {}
  absl::Status Advertise(const v1::SecAggAdvertiseRequest& r) override {
    session_id = r.session_id();
    return inner_->Advertise(r);
  }
  absl::Status ShareKeys(const v1::SecAggShareKeysRequest& r) override {
    ++share_calls;
    return inner_->ShareKeys(r);
  }
  absl::Status UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) override {
    return inner_->UploadMasked(h, bytes);
  }
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override {
    absl::StatusOr<v1::SecAggPollResponse> got = inner_->Poll(r);
    if (!got.ok()) return got;
    if (got->has_roster() && on_roster) on_roster(got->mutable_roster());
    if (got->has_unmask() && r.step() == v1::SecAggPollRequest::CONFIRM && on_confirm_set) {
      on_confirm_set(got->mutable_unmask());
    }
    if (got->has_unmask() && r.step() == v1::SecAggPollRequest::UNMASK && on_unmask) on_unmask(got->mutable_unmask());
    return got;
  }
  absl::Status Unmask(const v1::SecAggUnmaskRequest& r) override {
    if (secagg::IsConfirmation(r)) {
      if (keep_confirmation) {  // taken by the aggregator, never shown to the real round
        confirmation = r;
        return absl::OkStatus();
      }
      return inner_->Unmask(r);
    }
    ++unmask_calls;
    return inner_->Unmask(r);
  }

  std::function<void(v1::SecAggRoster*)> on_roster;
  std::function<void(v1::SecAggUnmaskList*)> on_confirm_set, on_unmask;
  bool keep_confirmation = false;
  v1::SecAggUnmaskRequest confirmation;
  std::string session_id;
  int share_calls = 0, unmask_calls = 0;

 private:
  std::unique_ptr<client::SecAggTransport> inner_;
};

// A fresh X25519 public key as roster bytes: a key whose private half the aggregator holds.
std::string AggregatorsKey() {
  absl::StatusOr<secagg::X25519KeyPair> k = secagg::GenerateX25519();
  EXPECT_TRUE(k.ok()) << k.status();
  return k.ok() ? std::string(k->public_key.begin(), k->public_key.end()) : std::string(32, '\1');
}

// `entry`'s keys signed with the private key in `key_file` under `session_id`.
std::string SignKeys(const std::string& key_file, const std::string& session_id, const v1::SecAggRosterEntry& entry) {
  absl::StatusOr<std::string> pem = ReadFile(key_file);
  EXPECT_TRUE(pem.ok()) << pem.status();
  absl::StatusOr<std::unique_ptr<secagg::Signer>> signer = secagg::Signer::FromPem(pem.value_or(""));
  EXPECT_TRUE(signer.ok()) << signer.status();
  if (!signer.ok()) return "";
  secagg::PublicKey enc{}, mask{};
  std::copy(entry.encryption_key().begin(), entry.encryption_key().end(), enc.begin());
  std::copy(entry.mask_key().begin(), entry.mask_key().end(), mask.begin());
  absl::StatusOr<std::string> sig = (*signer)->Sign(secagg::KeysSigningText(session_id, enc, mask));
  EXPECT_TRUE(sig.ok()) << sig.status();
  return sig.value_or("");
}

v1::SecAggRosterEntry* EntryOf(v1::SecAggRoster* roster, const std::string& site) {
  for (v1::SecAggRosterEntry& e : *roster->mutable_entries()) {
    if (e.site_id() == site) return &e;
  }
  ADD_FAILURE() << site << " is not in the roster";
  return roster->add_entries();
}

class HostileSecAggTest : public testing::AggregatorTest {
 protected:
  void SetUp() override {
    StartAggregator("fedlog_hostile_secagg", {"site-a", "site-b", "site-c"},
                    [](v1::ServerConfig* c) { ASSERT_TRUE(testing::UseTinyLineEncoder(c, 8, 4)); });
    ASSERT_NE(server_, nullptr);
    port_ = server_->port();
    admin_ = Admin();
    for (const char* name : {"site-a", "site-b", "site-c"}) {
      sites_.push_back(std::make_unique<HandSite>(pki_, name, port_));
    }
  }

  // One secure round of a fresh run (3 sites, threshold 2, steps of 2 s): site-a through `a`, the others honest.
  // Returns each site's result and sets `state` to the run's state once it stopped running.
  std::vector<absl::Status> Round(AggregatorInTheMiddle* a, std::string* state) {
    const int64_t run = testing::StartSecureRun(admin_.get(), 1, 3, 30);
    std::vector<HandSite*> all;
    for (auto& s : sites_) all.push_back(s.get());
    std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(all);
    std::vector<absl::Status> results(sites_.size());
    std::vector<std::unique_ptr<client::SecAggTransport>> honest;
    std::vector<std::thread> threads;
    for (size_t i = 0; i < sites_.size(); ++i) {
      client::SecAggTransport* via = a;
      if (i > 0) {
        honest.push_back(client::SessionTransport(&sites_[i]->session));
        via = honest.back().get();
      }
      threads.emplace_back([&, i, via] {
        absl::StatusOr<client::DownloadedModel> global = sites_[i]->session.Download(tasks[i].model_version());
        if (!global.ok()) {
          results[i] = global.status();
          return;
        }
        fl::TensorBundle delta = testing::Filled(global->bundle, 0.01f * static_cast<float>(i + 1));
        absl::StatusOr<std::vector<float>> x = client::SecAggVector(tasks[i], global->bundle, delta, nullptr);
        if (!x.ok()) {
          results[i] = x.status();
          return;
        }
        results[i] = client::RunSecureAggregation(via, sites_[i]->SecAggOptions(), tasks[i], *x, 100,
                                                  HandSite::Header(tasks[i], 100));
      });
    }
    for (auto& t : threads) t.join();
    v1::RunStatus s =
        testing::WaitRun(admin_.get(), run, [](const v1::RunStatus& r) { return r.state() != "running"; });
    *state = s.state();
    return results;
  }

  int port_ = 0;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::vector<std::unique_ptr<HandSite>> sites_;
};

// site-a's refusal of a forged roster entry: InvalidArgument naming the entry, a refusal, and no share sent.
void ExpectRosterRefused(const absl::Status& st, const AggregatorInTheMiddle& a, const std::string& why) {
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "(site site-b) is not authentic")) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), why)) << st;
  EXPECT_TRUE(client::IsRefusal(st)) << st;
  EXPECT_EQ(a.share_calls, 0) << "site-a sent shares under a forged roster";
}

TEST_F(HostileSecAggTest, KeysOfTheAggregatorsOwnInARosterAreRefusedWhateverCertificateGoesWithThem) {
  const std::string rogue = JoinPath(dir_, "rogue");  // another CA, with a certificate for "site-b"
  ASSERT_TRUE(testing::MakePki(rogue, {"site-b"}));
  struct Case {
    const char* what;
    const char* why;  // in site-a's refusal
    std::function<void(AggregatorInTheMiddle*, v1::SecAggRoster*)> forge;
  };
  // site-b's entry with keys of the aggregator's own, signed (when `pem` is given) under `pem`.crt / .key.
  auto own_keys = [](AggregatorInTheMiddle* a, v1::SecAggRoster* r, const std::string& pem) {
    v1::SecAggRosterEntry* b = EntryOf(r, "site-b");
    b->set_encryption_key(AggregatorsKey());
    b->set_mask_key(AggregatorsKey());
    if (pem.empty()) return;  // site-b's certificate and signature kept
    b->set_certificate(ReadFile(pem + ".crt").value_or(""));
    b->set_key_signature(SignKeys(pem + ".key", a->session_id, *b));
  };
  const std::vector<Case> cases = {
      {"site-b's certificate and signature kept", "signature does not verify",
       [&](AggregatorInTheMiddle* a, v1::SecAggRoster* r) { own_keys(a, r, ""); }},
      {"signed with the aggregator's own certificate", "not a site's",
       [&](AggregatorInTheMiddle* a, v1::SecAggRoster* r) { own_keys(a, r, JoinPath(pki_, "aggregator")); }},
      {"signed under a certificate for site-b from another CA", "does not verify against the CA",
       [&](AggregatorInTheMiddle* a, v1::SecAggRoster* r) { own_keys(a, r, JoinPath(rogue, "site-b")); }},
      {"site-c's signed entry under site-b's name", "names another site",
       [](AggregatorInTheMiddle*, v1::SecAggRoster* r) {
         v1::SecAggRosterEntry* b = EntryOf(r, "site-b");
         const uint32_t index = b->index();
         *b = *EntryOf(r, "site-c");  // keys, certificate and signature
         b->set_index(index);
         b->set_site_id("site-b");
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    AggregatorInTheMiddle a(&sites_[0]->session);
    a.on_roster = [&](v1::SecAggRoster* r) { c.forge(&a, r); };
    std::string state;
    std::vector<absl::Status> st = Round(&a, &state);
    ExpectRosterRefused(st[0], a, c.why);
    EXPECT_TRUE(st[1].ok() && st[2].ok()) << st[1] << st[2];
    EXPECT_EQ(state, "done");  // site-b and site-c meet the threshold of 2 without site-a
  }
}

TEST_F(HostileSecAggTest, AnUnmaskRequestForAnotherSetThanTheOneSignedIsRefused) {
  AggregatorInTheMiddle a(&sites_[0]->session);
  // site-a signs the real set; the request it then gets names site-c as dropped, with the real signatures.
  a.on_unmask = [](v1::SecAggUnmaskList* u) {
    ASSERT_EQ(u->survivors_size(), 3);
    const uint32_t c = u->survivors(2);
    u->mutable_survivors()->RemoveLast();
    u->add_dropped(c);
  };
  std::string state;
  std::vector<absl::Status> st = Round(&a, &state);
  EXPECT_EQ(st[0].code(), absl::StatusCode::kAborted) << st[0];  // not PermissionDenied: that reads as revocation
  EXPECT_TRUE(absl::StrContains(st[0].message(), "another survivor set than the one this site signed")) << st[0];
  EXPECT_TRUE(client::IsRefusal(st[0])) << st[0];
  EXPECT_EQ(a.unmask_calls, 0) << "site-a revealed shares for a set it did not sign";
  EXPECT_TRUE(st[1].ok() && st[2].ok()) << st[1] << st[2];
  EXPECT_EQ(state, "done");  // site-b and site-c meet the threshold of 2
}

TEST_F(HostileSecAggTest, ASplitViewWithoutTheThresholdsSignaturesIsRefused) {
  AggregatorInTheMiddle a(&sites_[0]->session);
  // site-a alone is told that site-c dropped; its signature of that set stays with the aggregator, which then
  // sends the same set with every signature it holds: site-a's and those of the real set by site-b and site-c.
  auto drop_c = [](v1::SecAggUnmaskList* u) {
    ASSERT_EQ(u->survivors_size(), 3);
    const uint32_t c = u->survivors(2);
    u->mutable_survivors()->RemoveLast();
    u->add_dropped(c);
  };
  a.on_confirm_set = drop_c;
  a.keep_confirmation = true;
  a.on_unmask = [&](v1::SecAggUnmaskList* u) {
    drop_c(u);
    v1::SecAggSurvivorSignature* mine = u->add_signatures();
    mine->set_from(a.confirmation.from());
    mine->set_signature(a.confirmation.survivors_signature());
  };
  std::string state;
  std::vector<absl::Status> st = Round(&a, &state);
  EXPECT_EQ(st[0].code(), absl::StatusCode::kAborted) << st[0];
  EXPECT_TRUE(absl::StrContains(st[0].message(), "1 valid survivor signatures, fewer than the threshold 2")) << st[0];
  EXPECT_TRUE(client::IsRefusal(st[0])) << st[0];
  EXPECT_EQ(a.unmask_calls, 0) << "site-a revealed site-c's mask-key share";
  EXPECT_TRUE(st[1].ok() && st[2].ok()) << st[1] << st[2];
  EXPECT_EQ(state, "done");
}

// Not an attack, but found by the tests above: an admin's StopRun that arrived while the aggregator was applying
// a secure round's sum (it releases its lock meanwhile) ended the run under it; the round's result then landed
// after the stop, under a model version the next run's start took too ("cannot write v000002.bundle",
// "UNIQUE constraint failed: models.version"). StopRun now lets that round finish first. Each iteration stops
// the run right after the sites' last step returns; the next run must start and complete, and every stored
// model version must download whole.
TEST_F(HostileSecAggTest, StoppingARunWhileItsSumIsAppliedLeavesTheNextRunWhole) {
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const int64_t run = testing::StartSecureRun(admin_.get(), 2, 3, 30);
    ASSERT_GT(run, 0);
    std::vector<HandSite*> all;
    for (auto& s : sites_) all.push_back(s.get());
    std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(all);
    std::vector<absl::Status> results(sites_.size());
    std::vector<std::thread> threads;
    for (size_t k = 0; k < sites_.size(); ++k) {
      threads.emplace_back([&, k] {
        absl::StatusOr<client::DownloadedModel> global = sites_[k]->session.Download(tasks[k].model_version());
        if (!global.ok()) {
          results[k] = global.status();
          return;
        }
        absl::StatusOr<std::vector<float>> x =
            client::SecAggVector(tasks[k], global->bundle, testing::Filled(global->bundle, 0.01f), nullptr);
        if (!x.ok()) {
          results[k] = x.status();
          return;
        }
        auto via = client::SessionTransport(&sites_[k]->session);
        results[k] = client::RunSecureAggregation(via.get(), sites_[k]->SecAggOptions(), tasks[k], *x, 100,
                                                  HandSite::Header(tasks[k], 100));
      });
    }
    for (auto& t : threads) t.join();
    for (const absl::Status& r : results) ASSERT_TRUE(r.ok()) << r;
    grpc::ClientContext ctx;
    v1::StopRunRequest stop;
    stop.set_run_id(run);
    v1::RunStatus stopped;
    ASSERT_TRUE(admin_->StopRun(&ctx, stop, &stopped).ok());
    EXPECT_EQ(stopped.state(), "stopped");  // 1 of its 2 rounds done
    EXPECT_EQ(stopped.rounds_size(), 1);
  }
  // Every version stored downloads whole (its digest checked by the download), and a last run completes.
  grpc::ClientContext ctx;
  v1::ListModelsResponse models;
  ASSERT_TRUE(admin_->ListModels(&ctx, v1::ListModelsRequest(), &models).ok());
  EXPECT_GE(models.models_size(), 4);  // the initial model and one per stopped run
  for (const v1::ModelManifest& m : models.models()) {
    EXPECT_TRUE(sites_[0]->session.Download(m.version()).ok()) << "v" << m.version();
  }
  AggregatorInTheMiddle a(&sites_[0]->session);
  std::string state;
  std::vector<absl::Status> st = Round(&a, &state);
  for (const absl::Status& r : st) EXPECT_TRUE(r.ok()) << r;
  EXPECT_EQ(state, "done");
}

}  // namespace
}  // namespace fedlog
