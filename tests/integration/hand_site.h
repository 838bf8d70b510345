// Sites driven by hand in integration tests: a FederationSession that said Hello with one source, the header
// of its uploads, and a secure-aggregation transport that relays to the aggregator while recording what the
// site sent and misbehaving on request (used by adapters_test, secagg_test and secagg_adapters_test).
#ifndef FEDLOG_TESTS_INTEGRATION_HAND_SITE_H_
#define FEDLOG_TESTS_INTEGRATION_HAND_SITE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "common/secagg/wire.h"
#include "client/secagg_client.h"
#include "common/secagg/wire.h"
#include "common/fl/tensor_bundle.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/federation.pb.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"

namespace fedlog::testing {

// A site presenting `name`'s certificate from `pki` that said Hello with `sources` (declaring `declared_lines`
// lines for each; 0: none). A Hello that fails is a test failure and leaves `id` empty.
struct HandSite {
  HandSite(const std::string& pki, const std::string& name, int port, const std::vector<std::string>& sources,
           int64_t declared_lines = 0);
  HandSite(const std::string& pki, const std::string& name, int port, const std::string& source = "HDFS",
           int64_t declared_lines = 0)
      : HandSite(pki, name, port, std::vector<std::string>{source}, declared_lines) {}
  // The header of an upload for `task` claiming `samples` samples (train loss 1.0).
  static v1::UpdateHeader Header(const v1::RoundTask& task, int64_t samples = 100);
  // Long-polls for a round task (testing::WaitRoundTask).
  v1::RoundTask WaitTask();
  // Uploads `delta` with `header`, or with Header(task, samples).
  absl::Status Upload(const v1::UpdateHeader& header, const fl::TensorBundle& delta);
  absl::Status Upload(const v1::RoundTask& task, const fl::TensorBundle& delta, int64_t samples = 100) {
    return Upload(Header(task, samples), delta);
  }

  // Secure-aggregation options as the daemon sets them: this site's id, its key and the CA (its certificates
  // sign and check the round's keys, common/secagg/peer_auth.h), 500 ms polls.
  client::SecAggClientOptions SecAggOptions() const;

  std::string id;
  std::string key_file, ca_file;  // `name`.key and ca.crt of `pki`
  client::FederationSession session;
};

// The round tasks of `sites`, long-polled at once (a site that does not poll goes offline meanwhile).
std::vector<v1::RoundTask> WaitRoundTasks(const std::vector<HandSite*>& sites);

// An aggregator over mTLS on loopback with a fresh PKI, for tests whose sites are driven by hand: call
// SetUpAggregator from SetUp; TearDown shuts it down and removes its directory.
class HandAggregatorTest : public ::testing::Test {
 protected:
  // A temp dir named after `prefix`, a PKI with certificates for `sites`, the aggregator started on it.
  void SetUpAggregator(const std::string& prefix, const std::vector<std::string>& sites);
  void TearDown() override;
  // Starts a run with `plan` through the admin service (a refused start is a test failure).
  v1::RunStatus Start(const v1::RunPlan& plan);
  // Polls the run's status (testing::WaitRun) until `ready` holds; returns the last status seen.
  v1::RunStatus WaitRun(int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready);
  v1::RunStatus WaitDone(int64_t run_id);

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
};

// `like` with every value set to `v`: an update of a chosen size and sign.
fl::TensorBundle Filled(const fl::TensorBundle& like, float v);

// Relays a site's secure-aggregation steps to the aggregator. Keeps the masked input it sent (`sent`), can
// drop the site right after masking (the upload never leaves), can forge the aggregator's unmask request
// (naming the second survivor as dropped too, so both of its shares are asked for; in the set to confirm and in
// the unmask request alike) and counts the calls that reveal shares (unmask_calls) and the confirmations.
class SecAggRelay : public client::SecAggTransport {
 public:
  explicit SecAggRelay(client::FederationSession* s) : inner_(client::SessionTransport(s)) {}
  absl::Status Advertise(const v1::SecAggAdvertiseRequest& r) override { return inner_->Advertise(r); }
  absl::Status ShareKeys(const v1::SecAggShareKeysRequest& r) override { return inner_->ShareKeys(r); }
  absl::Status UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) override;
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override;
  absl::Status Unmask(const v1::SecAggUnmaskRequest& r) override {
    ++(secagg::IsConfirmation(r) ? confirm_calls : unmask_calls);
    return inner_->Unmask(r);
  }

  bool drop_after_masking = false, forge_unmask = false;
  std::string sent;
  int unmask_calls = 0, confirm_calls = 0;

 private:
  std::unique_ptr<client::SecAggTransport> inner_;
};

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_HAND_SITE_H_
