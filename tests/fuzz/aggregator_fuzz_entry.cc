#include "tests/fuzz/aggregator_fuzz_entry.h"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "absl/status/status.h"
#include "client/aggregator_checks.h"
#include "common/fl/bundle_codec.h"
#include "common/model/site_model.h"
#include "common/secagg/wire.h"
#include "fedlog/v1/federation.pb.h"
#include "google/protobuf/stubs/logging.h"

namespace fedlog::fuzz {
namespace {

constexpr int64_t kLimit = int64_t{2} << 20;
int64_t accepted = 0;

v1::ModelSpec Spec() {
  v1::ModelSpec spec;
  spec.set_arch("mlp_autoencoder");
  spec.set_input_dim(12);
  spec.add_hidden(4);
  return spec;
}

[[noreturn]] void Fail(const std::string& why) {
  std::cerr << "aggregator fuzz invariant broken: " << why << "\n";
  std::abort();
}

// A refusal must be marked and printable; OK counts as accepted.
bool Refused(const absl::Status& st) {
  if (st.ok()) {
    ++accepted;
    return false;
  }
  if (!client::IsRefusal(st)) Fail("an unmarked refusal: " + st.ToString());
  for (char c : st.message()) {
    if (c < 0x20 || c >= 0x7f) Fail("a refusal with a non-printable byte");
  }
  return true;
}

void CheckTask(const v1::RoundTask& t) {
  if (Refused(client::CheckRoundTask(t, kLimit))) return;
  const v1::TrainingPlan& p = t.plan();
  if (p.local_epochs() > client::kMaxLocalEpochs || p.batch_size() > client::kMaxBatchSize ||
      p.meta_iterations() > client::kMaxLocalSteps || !std::isfinite(p.learning_rate()) || t.model_version() <= 0) {
    Fail("a round task past its bounds passed");
  }
}

void CheckBundle(const std::string& bytes) {
  absl::StatusOr<fl::TensorBundle> bundle = fl::DecodeBundle(bytes, kLimit);
  if (!bundle.ok()) return;
  if (Refused(client::CheckDownloadedBundle(Spec(), *bundle, {"HDFS"}))) return;
  for (const fl::NamedTensor& t : bundle->tensors) {
    for (float v : t.values) {
      if (!std::isfinite(v)) Fail("a bundle with a non-finite value passed");
    }
  }
}

void CheckPoll(const v1::SecAggPollResponse& r) {
  // The decoders secagg_client.cc applies; their errors become refusals there (Refused), so only no crash here.
  if (r.has_roster()) (void)secagg::RosterFromProto(r.roster());
  if (r.has_delivery()) (void)secagg::DeliveryFromProto(r.delivery());
  if (r.has_unmask()) (void)secagg::UnmaskRequestFromProto(r.unmask());
}

// Protobuf logs every string field with invalid UTF-8 it parses (most mutated inputs): that flood, thousands of
// lines a second, would bury libFuzzer's own output. Fatal messages still print (protobuf aborts after them).
void FatalOnly(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) std::cerr << file << ":" << line << ": " << message << "\n";
}

}  // namespace

int FuzzAggregatorMessageOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (google::protobuf::SetLogHandler(&FatalOnly), true);
  (void)quiet;
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      v1::HelloResponse m;
      if (m.ParseFromString(body) && !Refused(client::CheckHelloResponse(m)) &&
          (m.max_poll_wait_ms() < 0 || m.max_poll_wait_ms() > client::kMaxAggregatorIntervalMs)) {
        Fail("a hello past its bounds passed");
      }
      break;
    }
    case 1: {
      v1::TaskResponse m;
      if (m.ParseFromString(body) && m.has_round()) CheckTask(m.round());
      break;
    }
    case 2: {
      v1::ModelManifest m;
      if (m.ParseFromString(body) && !Refused(client::CheckManifest(m, 0, kLimit)) &&
          (m.size_bytes() <= 0 || m.size_bytes() > kLimit)) {
        Fail("a manifest past max_model_bytes passed");
      }
      break;
    }
    case 3: {
      v1::SecAggPollResponse m;
      if (m.ParseFromString(body)) CheckPoll(m);
      break;
    }
    default:
      CheckBundle(body);
  }
  return 0;
}

int64_t AggregatorMessagesAccepted() { return accepted; }

std::string AggregatorSeed(int selector) {
  std::string out(1, static_cast<char>(selector));
  switch (selector) {
    case 0: {
      v1::HelloResponse m;
      m.set_site_id("site-a");
      m.set_heartbeat_interval_ms(2000);
      m.set_max_poll_wait_ms(10000);
      return out + m.SerializeAsString();
    }
    case 1: {
      v1::TaskResponse m;
      v1::RoundTask* t = m.mutable_round();
      t->set_run_id(3);
      t->set_round(2);
      t->set_model_version(5);
      t->mutable_plan()->set_local_epochs(2);
      t->mutable_plan()->set_learning_rate(0.01f);
      t->mutable_plan()->set_batch_size(64);
      *t->mutable_spec() = Spec();
      return out + m.SerializeAsString();
    }
    case 2: {
      v1::ModelManifest m;
      m.set_version(5);
      m.set_sha256(std::string(64, 'a'));
      m.set_size_bytes(4096);
      *m.mutable_spec() = Spec();
      v1::KindCounts* k = m.add_kind_counts();
      k->set_source("HDFS");
      k->add_bucket(3);
      k->add_count(2);
      return out + m.SerializeAsString();
    }
    case 3: {
      v1::SecAggPollResponse m;
      v1::SecAggRosterEntry* e = m.mutable_roster()->add_entries();
      e->set_index(1);
      e->set_site_id("site-a");
      e->set_encryption_key(std::string(32, 'k'));
      e->set_mask_key(std::string(32, 'm'));
      return out + m.SerializeAsString();
    }
    default: {
      absl::StatusOr<std::unique_ptr<model::SiteModel>> m = model::CreateSiteModel(Spec());
      if (!m.ok()) return out;
      absl::StatusOr<fl::TensorBundle> w = (*m)->InitialWeights();
      return out + (w.ok() ? fl::EncodeBundle(*w).value_or("") : "");
    }
  }
}

}  // namespace fedlog::fuzz
