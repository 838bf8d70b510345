#include "tests/fuzz/secagg_fuzz_entry.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "common/base/file_util.h"
#include "fedlog/v1/admin.grpc.pb.h"
#include "tests/fuzz/fuzz_aggregator.h"

namespace fedlog::fuzz {
namespace {

constexpr char kEntry[] = "secagg";
constexpr int kRoundSites = 3;  // fuzz-a (driven by the input), fuzz-b and fuzz-c (honest)
constexpr int kOutsider = 3;    // fuzz-d: never says hello, so never online and no participant of any round
const char* const kSiteNames[] = {"fuzz-a", "fuzz-b", "fuzz-c", "fuzz-d"};

[[noreturn]] void SecAggFinding(const std::string& what) { Finding(kEntry, what); }

struct SecAgg {
  std::unique_ptr<FuzzAggregator> agg;
  std::unique_ptr<v1::Admin::Stub> admin;
  std::unique_ptr<client::FederationSession> sites[4];
  int64_t model_version = 0;  // of `model`
  fl::TensorBundle model;
  SecAggFuzzCounts counts;
};

SecAgg* g_secagg = nullptr;

void ShutdownAtExit() {
  if (g_secagg == nullptr) return;
  g_secagg->admin.reset();
  for (auto& s : g_secagg->sites) s.reset();
  ShutdownFuzzAggregator(std::move(g_secagg->agg));
  delete g_secagg;
  g_secagg = nullptr;
}

// Refused calls do not make a site present (docs/SECURITY.md "Presence"), so the outsider's refused messages do
// not draft it into the next round; sites that stop calling are offline after this.
constexpr int kSiteTimeoutMs = 1500;

void Tune(v1::ServerConfig* c) { c->set_site_timeout_ms(kSiteTimeoutMs); }

void Hello(client::FederationSession* session) {
  v1::HelloRequest hello;
  hello.add_sources()->set_name("HDFS");
  (void)session->Hello(hello);  // paced or refused: the round then goes without it
}

SecAgg* Get() {
  if (g_secagg == nullptr) {
    auto* s = new SecAgg();
    s->agg = StartFuzzAggregator(kEntry, "fedlog_secaggfuzz", {"fuzz-a", "fuzz-b", "fuzz-c", "fuzz-d"}, Tune);
    s->admin = v1::Admin::NewStub(ChannelFor(kEntry, *s->agg, "admin"));
    for (int i = 0; i < 4; ++i) {
      s->sites[i] = std::make_unique<client::FederationSession>(ChannelFor(kEntry, *s->agg, kSiteNames[i]), 4096);
      if (i < kRoundSites) Hello(s->sites[i].get());
    }
    g_secagg = s;  // lives for the process: libFuzzer never returns from its loop
    std::atexit(ShutdownAtExit);
  }
  return g_secagg;
}

void EnsureSecureRun(SecAgg* s) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 10000);
  v1::RunStatus current;
  if (s->admin->GetRun(&ctx, v1::GetRunRequest(), &current).ok() &&
      (current.state() == "running" || current.state() == "waiting")) {
    return;
  }
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  plan->set_rounds(100000);
  plan->set_min_sites(kRoundSites);
  plan->set_round_deadline_s(3);  // also how long the advertising step waits for a silent participant
  plan->set_secure_aggregation(true);
  plan->set_secagg_threshold(2);
  plan->set_secagg_step_s(2);
  // A round fuzz-a declined, or spoiled shares in, goes on without it: below min_sites, so the run fails after
  // this wait and the next input starts a fresh one (the default 600 s would stall the fuzzer).
  plan->set_site_wait_s(4);
  grpc::ClientContext sctx;
  SetDeadline(&sctx, 10000);
  v1::RunStatus started;
  grpc::Status st = s->admin->StartRun(&sctx, req, &started);
  if (!st.ok() && st.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
    SecAggFinding(absl::StrCat("cannot start a secure run: ", st.error_message()));
  }
}

// --- Mutations ------------------------------------------------------------------------------------------------

uint32_t FuzzIndex(Input* in, uint32_t own) {
  static const uint32_t kValues[] = {0, 1, 2, 3, 4, 100, std::numeric_limits<uint32_t>::max()};
  const uint8_t b = in->U8();
  if (b % 8 == 7) return own + 1;
  return kValues[b % 7];
}

std::string FuzzSession(Input* in, const std::string& real) {
  switch (in->U8() % 6) {
    case 0: return "";
    case 1: return real + "x";
    case 2: return real.empty() ? real : real.substr(0, real.size() - 1);
    case 3: return in->Ascii(80);
    case 4: return std::string(5000, 's');
    default: return real;  // other fields carry the mutation
  }
}

std::string FuzzKey(Input* in, const std::string& key) {
  static const size_t kSizes[] = {0, 1, 31, 33, 64, 100000};
  switch (in->U8() % 4) {
    case 0: return std::string(32, '\0');  // the all-zero point: X25519 gives an all-zero shared secret
    case 1: return std::string(kSizes[in->U8() % 6], '\x5a');
    case 2: {
      std::string k = key;
      if (!k.empty()) k[in->U8() % k.size()] ^= static_cast<char>(in->U8() | 1);
      return k;
    }
    default: return in->Bytes(64);
  }
}

// Parses raw bytes into `msg` (a failed parse leaves it cleared) and keeps the real session id half the time.
template <typename Msg>
void Raw(Input* in, const std::string& session, Msg* msg) {
  if (!msg->ParseFromString(in->Bytes(512))) msg->Clear();
  if (in->U8() % 2) msg->set_session_id(session);
}

// A signature (protocol version 5) a peer might send instead of a valid one: none, oversized, one bit off, or
// bytes of its own.
std::string FuzzSignature(Input* in, const std::string& sig) {
  static const size_t kSizes[] = {0, 1, 1025, 100000};
  switch (in->U8() % 3) {
    case 0: return std::string(kSizes[in->U8() % 4], '\x30');
    case 1: {
      std::string s = sig;
      if (!s.empty()) s[in->U8() % s.size()] ^= static_cast<char>(in->U8() | 1);
      return s;
    }
    default: return in->Bytes(80);
  }
}

void Mutate(Input* in, v1::SecAggAdvertiseRequest* m) {
  // Stated update norms (protocol version 4): not numbers, negative, zero, tiny, beyond any update, ordinary.
  static const double kNorms[] = {std::nan(""), INFINITY, -1, 0, 1e-300, 1e300, 3.0};
  switch (in->U8() % 9) {
    case 0: m->set_session_id(FuzzSession(in, m->session_id())); break;
    case 1: m->set_encryption_key(FuzzKey(in, m->encryption_key())); break;
    case 2: m->set_mask_key(FuzzKey(in, m->mask_key())); break;
    case 3: m->set_seed_commitment(FuzzKey(in, m->seed_commitment())); break;
    case 4: m->set_mask_key(m->encryption_key()); break;
    case 5: Raw(in, m->session_id(), m); break;
    case 6: m->set_update_norm(kNorms[in->U8() % (sizeof(kNorms) / sizeof(kNorms[0]))]); break;
    case 7: m->set_key_signature(FuzzSignature(in, m->key_signature())); break;  // keys it did not sign
    default: break;  // an exact replay
  }
}

void MutateShare(Input* in, v1::SecAggEncryptedShare* e) {
  switch (in->U8() % 4) {
    case 0: e->set_to(FuzzIndex(in, e->to())); break;
    case 1: e->set_from(FuzzIndex(in, e->from())); break;
    case 2: e->mutable_ciphertext()->resize(in->U8() % 2 ? in->U8() : e->ciphertext().size() + 1 + in->U8()); break;
    default:
      if (!e->ciphertext().empty()) (*e->mutable_ciphertext())[in->U8() % e->ciphertext().size()] ^= 1;
      break;
  }
}

void Mutate(Input* in, v1::SecAggShareKeysRequest* m) {
  const int n = m->shares_size();
  switch (in->U8() % 8) {
    case 0: m->set_session_id(FuzzSession(in, m->session_id())); break;
    case 1: m->set_from(FuzzIndex(in, m->from())); break;
    case 2: if (n > 0) m->mutable_shares()->DeleteSubrange(in->U8() % n, 1); break;
    case 3: if (n > 0) *m->add_shares() = m->shares(in->U8() % n); break;
    case 4: if (n > 0) MutateShare(in, m->mutable_shares(in->U8() % n)); break;
    case 5:  // a flood of one share: the aggregator must bound what one message may hold
      for (int i = 0; n > 0 && i < 2000; ++i) *m->add_shares() = m->shares(0);
      break;
    case 6: Raw(in, m->session_id(), m); break;
    default: break;
  }
}

void Mutate(Input* in, v1::SecAggUnmaskRequest* m) {
  const int n = m->shares_size();
  v1::SecAggRevealedShare* r = n > 0 ? m->mutable_shares(in->U8() % n) : nullptr;
  static const uint64_t kY[] = {0, (uint64_t{1} << 61) - 1, uint64_t{1} << 61, std::numeric_limits<uint64_t>::max()};
  switch (in->U8() % 10) {
    case 0: m->set_session_id(FuzzSession(in, m->session_id())); break;
    case 1: m->set_from(FuzzIndex(in, m->from())); break;
    case 2: if (r) r->set_owner(FuzzIndex(in, r->owner())); break;
    case 3:
      if (r) r->set_kind(r->kind() == v1::SecAggRevealedShare::SELF_MASK_SEED ? v1::SecAggRevealedShare::MASK_PRIVATE_KEY
                                                                             : v1::SecAggRevealedShare::SELF_MASK_SEED);
      break;
    case 4: if (r) r->set_x(FuzzIndex(in, r->x())); break;
    case 5:
      if (r && in->U8() % 2) {
        r->mutable_y()->Resize(in->U8() % 2 ? 4 : 6, 0);
      } else if (r && r->y_size() > 0) {
        r->set_y(in->U8() % r->y_size(), kY[in->U8() % 4]);
      }
      break;
    case 6: if (r) *m->add_shares() = *r; break;
    case 7: Raw(in, m->session_id(), m); break;
    case 8:  // the consistency step (protocol version 5): a signature of another set, or shares with it
      if (m->survivors_signature().empty() || in->U8() % 2) {
        m->set_survivors_signature(FuzzSignature(in, m->survivors_signature()));
      } else {
        m->add_shares()->set_owner(FuzzIndex(in, 1));
      }
      break;
    default: break;
  }
}

void Mutate(Input* in, v1::UpdateHeader* h, std::string* bytes) {
  switch (in->U8() % 6) {
    case 0: h->set_secagg_session_id(FuzzSession(in, h->secagg_session_id())); break;
    case 1: h->add_secagg_complaints(FuzzIndex(in, 0)); break;
    case 2: bytes->resize(in->U8() % 2 ? bytes->size() / 2 : bytes->size() + 8); break;
    case 3: h->set_secagg_masked(false); break;
    case 4: h->set_num_samples(static_cast<int64_t>(in->U64())); break;
    default: break;  // a second upload of the same bytes
  }
}

// --- The driven site ------------------------------------------------------------------------------------------

enum Step { kAdvertise, kShareKeys, kUpload, kUnmask, kPollRoster, kPollShares, kPollUnmask, kSteps };

// What fuzz-a does at one step, decoded before the round (the transport runs on the site's thread).
struct StepPlan {
  int inject = 0;       // 0: none; 1: a mutated copy before the honest message; 2: after it; 3: instead of it
  bool drop = false;    // drop out here: send nothing and fail the step
  bool out_of_order = false;  // also send a mutated message of another step
  int decline = 0;      // 1: DeclineRound with the true run and round (a legitimate drop-out); 2: mutated ids
  std::string bytes;    // what the mutations read
};

// Outcome of everything fuzz-a sent besides its honest messages.
struct Extra {
  absl::Mutex mu;
  int sent = 0, refused = 0;
  bool accepted_state_change = false;  // a non-poll extra message was accepted
};

// A refusal of bad input names itself: not UNKNOWN or INTERNAL, and a message.
void CheckRefusal(const char* what, const absl::Status& st, bool poll) {
  if (st.ok()) return;
  const bool unclear = st.code() == absl::StatusCode::kUnknown || st.code() == absl::StatusCode::kInternal ||
                       st.message().empty() ||
                       (!poll && st.code() == absl::StatusCode::kDeadlineExceeded);
  if (unclear) SecAggFinding(absl::StrCat(what, " refused unclearly: ", st.ToString()));
}

class FuzzTransport : public client::SecAggTransport {
 public:
  FuzzTransport(client::FederationSession* session, const v1::RoundTask& task, std::vector<StepPlan> plans,
                Extra* extra)
      : session_(session), inner_(client::SessionTransport(session)), task_(task), plans_(std::move(plans)),
        extra_(extra) {}

  absl::Status Advertise(const v1::SecAggAdvertiseRequest& r) override {
    advertised_ = r;
    return Relay(kAdvertise, r, [&](const auto& m) { return inner_->Advertise(m); });
  }
  absl::Status ShareKeys(const v1::SecAggShareKeysRequest& r) override {
    shared_ = r;
    return Relay(kShareKeys, r, [&](const auto& m) { return inner_->ShareKeys(m); });
  }
  absl::Status Unmask(const v1::SecAggUnmaskRequest& r) override {
    return Relay(kUnmask, r, [&](const auto& m) { return inner_->Unmask(m); });
  }
  absl::Status UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) override {
    StepPlan& p = plans_[kUpload];
    Input in(reinterpret_cast<const uint8_t*>(p.bytes.data()), p.bytes.size());
    auto extra = [&] {
      v1::UpdateHeader mh = h;
      std::string mb = bytes;
      Mutate(&in, &mh, &mb);
      return Record("UploadUpdate (masked)", inner_->UploadMasked(mh, mb), false);
    };
    return Around(kUpload, &in, extra, [&] { return inner_->UploadMasked(h, bytes); });
  }
  absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& r) override {
    const Step step = r.step() == v1::SecAggPollRequest::ROSTER   ? kPollRoster
                      : r.step() == v1::SecAggPollRequest::SHARES ? kPollShares
                                                                  : kPollUnmask;  // CONFIRM too
    if (!polled_[step - kPollRoster]) {
      polled_[step - kPollRoster] = true;
      StepPlan& p = plans_[step];
      Input in(reinterpret_cast<const uint8_t*>(p.bytes.data()), p.bytes.size());
      if (p.drop) return absl::UnavailableError("the fuzzed site dropped out");
      if (p.inject != 0) {
        v1::SecAggPollRequest m = r;
        if (in.U8() % 2) {
          Raw(&in, r.session_id(), &m);
        } else {
          m.set_session_id(FuzzSession(&in, r.session_id()));
          m.set_wait_ms(static_cast<int32_t>(in.U32()));
        }
        CheckRefusal("SecAggPoll", session_->SecAggPoll(m).status(), true);
      }
    }
    return inner_->Poll(r);
  }

 private:
  // Sends the step's extra messages around the honest one (`honest`), or drops out or replaces it.
  template <typename Msg, typename Send>
  absl::Status Relay(Step step, const Msg& honest, Send send) {
    StepPlan& p = plans_[step];
    Input in(reinterpret_cast<const uint8_t*>(p.bytes.data()), p.bytes.size());
    auto extra = [&] {
      Msg m = honest;
      Mutate(&in, &m);
      return Record(Msg::descriptor()->name().c_str(), send(m), false);
    };
    return Around(step, &in, extra, [&] { return send(honest); });
  }

  template <typename Extra_, typename Honest>
  absl::Status Around(Step step, Input* in, Extra_ extra, Honest honest) {
    StepPlan& p = plans_[step];
    if (p.out_of_order) OutOfOrder(in);
    if (p.decline != 0) Decline(in, p.decline == 1);
    if (p.drop) return absl::UnavailableError("the fuzzed site dropped out");
    switch (p.inject) {
      case 1: {
        (void)extra();
        return honest();
      }
      case 2: {
        absl::Status st = honest();
        (void)extra();
        return st;
      }
      case 3: return extra();
      default: return honest();
    }
  }

  absl::Status Record(const char* what, const absl::Status& st, bool poll) {
    CheckRefusal(what, st, poll);
    absl::MutexLock lock(&extra_->mu);
    ++extra_->sent;
    if (st.ok()) {
      if (std::getenv("FEDLOG_SECAGG_FUZZ_TRACE")) std::fprintf(stderr, "secagg fuzz: %s accepted\n", what);
      extra_->accepted_state_change = true;
    } else {
      ++extra_->refused;
    }
    return st;
  }

  // A message of an earlier or later step than the one the site is at, from what it has sent so far.
  void OutOfOrder(Input* in) {
    switch (in->U8() % 3) {
      case 0: {
        v1::SecAggAdvertiseRequest m = advertised_;
        m.set_session_id(task_.secagg().session_id());
        Mutate(in, &m);
        (void)Record("SecAggAdvertise (out of order)", session_->SecAggAdvertise(m), false);
        break;
      }
      case 1: {
        v1::SecAggShareKeysRequest m = shared_;
        m.set_session_id(task_.secagg().session_id());
        Mutate(in, &m);
        (void)Record("SecAggShareKeys (out of order)", session_->SecAggShareKeys(m), false);
        break;
      }
      default: {
        v1::SecAggUnmaskRequest m;
        m.set_session_id(task_.secagg().session_id());
        m.set_from(FuzzIndex(in, 1));
        v1::SecAggRevealedShare* r = m.add_shares();
        r->set_owner(FuzzIndex(in, 1));
        r->set_x(FuzzIndex(in, 1));
        for (int i = 0; i < 5; ++i) r->add_y(in->U64());
        (void)Record("SecAggUnmask (out of order)", session_->SecAggUnmask(m), false);
      }
    }
  }

  void Decline(Input* in, bool true_ids) {
    const int64_t run = true_ids ? task_.run_id() : static_cast<int64_t>(in->U64());
    const int32_t round = true_ids ? task_.round() : static_cast<int32_t>(in->U32());
    absl::Status st = session_->DeclineRound(run, round, in->Ascii(300));
    if (true_ids) {
      CheckRefusal("DeclineRound", st, false);
    } else {
      (void)Record("DeclineRound (mutated ids)", st, false);
    }
  }

  client::FederationSession* session_;
  std::unique_ptr<client::SecAggTransport> inner_;
  v1::RoundTask task_;
  std::vector<StepPlan> plans_;
  Extra* extra_;
  v1::SecAggAdvertiseRequest advertised_;
  v1::SecAggShareKeysRequest shared_;
  bool polled_[3] = {false, false, false};
};

std::vector<StepPlan> DecodePlans(Input* in) {
  std::vector<StepPlan> plans(kSteps);
  for (StepPlan& p : plans) {
    const uint8_t c = in->U8();
    p.inject = c % 4;
    p.drop = c / 4 % 16 == 15;
    p.out_of_order = c / 64 == 1;
    p.decline = c / 64 == 2 ? 1 + in->U8() % 2 : 0;
    p.bytes = in->Bytes(256);
  }
  return plans;
}

// Messages of fuzz-d, no participant, with the round's session id: every one must be refused.
// Returns whether it sent any.
bool RunOutsider(SecAgg* s, const v1::RoundTask& task, const std::string& bytes) {
  Input in(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  client::FederationSession* d = s->sites[kOutsider].get();
  const std::string& session = task.secagg().session_id();
  const int n = in.U8() % 4;
  for (int i = 0; i < n; ++i) {
    absl::Status st;
    const char* what = "";
    switch (in.U8() % 3) {
      case 0: {
        v1::SecAggAdvertiseRequest m;
        m.set_session_id(session);
        m.set_encryption_key(in.Bytes(40));
        m.set_mask_key(in.Bytes(40));
        m.set_seed_commitment(in.Bytes(40));
        what = "an outsider's SecAggAdvertise";
        st = d->SecAggAdvertise(m);
        break;
      }
      case 1: {
        v1::SecAggShareKeysRequest m;
        Raw(&in, session, &m);
        what = "an outsider's SecAggShareKeys";
        st = d->SecAggShareKeys(m);
        break;
      }
      default: {
        v1::SecAggUnmaskRequest m;
        Raw(&in, session, &m);
        what = "an outsider's SecAggUnmask";
        st = d->SecAggUnmask(m);
      }
    }
    if (st.ok()) SecAggFinding(absl::StrCat(what, " was accepted"));
    CheckRefusal(what, st, false);
    ++s->counts.injected;
    ++s->counts.injected_refused;
  }
  return n > 0;
}

// The three sites' tasks of one round (same session id), if handed out within a few seconds.
bool RoundTasks(SecAgg* s, v1::RoundTask tasks[kRoundSites]) {
  std::thread threads[kRoundSites];
  bool got[kRoundSites] = {false, false, false};
  for (int i = 0; i < kRoundSites; ++i) {
    threads[i] = std::thread([&, i] {
      for (int tries = 0; tries < 40 && !got[i]; ++tries) {
        absl::StatusOr<v1::TaskResponse> t = s->sites[i]->GetTask(200);
        if (t.ok() && t->has_round() && t->round().secure_aggregation()) {
          tasks[i] = t->round();
          got[i] = true;
        } else if (!t.ok() && t.status().code() == absl::StatusCode::kFailedPrecondition) {
          Hello(s->sites[i].get());  // a site the aggregator no longer counts as connected
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kRoundSites; ++i) {
    if (!got[i] || tasks[i].secagg().session_id() != tasks[0].secagg().session_id()) return false;
  }
  return true;
}

bool Global(SecAgg* s, int64_t version) {
  if (s->model_version == version) return true;
  absl::StatusOr<client::DownloadedModel> m = s->sites[1]->Download(version);
  if (!m.ok()) return false;
  s->model = std::move(m->bundle);
  s->model_version = version;
  return true;
}

// Whether the round of `task` is done within `ms`; `why` receives the run's state and message and the round's
// attempts when it is not.
bool RoundDone(SecAgg* s, const v1::RoundTask& task, int ms, std::string* why) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  do {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 5000);
    v1::GetRunRequest req;
    req.set_run_id(task.run_id());
    v1::RunStatus st;
    if (s->admin->GetRun(&ctx, req, &st).ok()) {
      *why = absl::StrCat("run ", st.state(), " (", st.message(), ")");
      for (const auto& r : st.rounds()) {
        if (r.round() != task.round()) continue;
        if (r.state() == "done") return true;
        absl::StrAppend(why, "; attempt ", r.attempt(), " ", r.state(), ", ", r.participants_size(),
                        " participants, ", r.uploaded_size(), " uploaded, ", r.declined(), " declined");
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

void OneRound(SecAgg* s, Input* in) {
  std::vector<StepPlan> plans = DecodePlans(in);
  const std::string outsider = in->Bytes(512);
  v1::RoundTask tasks[kRoundSites];
  if (!RoundTasks(s, tasks) || !Global(s, tasks[0].model_version())) {
    if (std::getenv("FEDLOG_SECAGG_FUZZ_TRACE")) {
      grpc::ClientContext ctx;
      SetDeadline(&ctx, 5000);
      v1::RunStatus run;
      (void)s->admin->GetRun(&ctx, v1::GetRunRequest(), &run);
      std::fprintf(stderr, "secagg fuzz: no round: run %s (%s)\n", run.state().c_str(), run.message().c_str());
    }
    return;
  }
  ++s->counts.rounds;
  fl::TensorBundle zero = s->model;
  for (auto& t : zero.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  Extra extra;
  absl::Status results[kRoundSites];
  std::thread threads[kRoundSites];
  for (int i = 0; i < kRoundSites; ++i) {
    threads[i] = std::thread([&, i] {
      int64_t clipped = 0;
      std::vector<secagg::ValueRange> ranges;  // as the daemon: norms stated and bounded
      absl::StatusOr<std::vector<float>> x = client::SecAggVector(tasks[i], s->model, zero, &clipped, {}, &ranges);
      if (!x.ok()) {
        results[i] = x.status();
        return;
      }
      client::SecAggClientOptions o;
      o.site_id = kSiteNames[i];
      o.key_file = fedlog::JoinPath(s->agg->pki, std::string(kSiteNames[i]) + ".key");
      o.ca_file = fedlog::JoinPath(s->agg->pki, "ca.crt");
      o.poll_wait_ms = 200;
      o.max_wait_ms = 8000;  // above the advertising step's 3 s and the other steps' 2 s
      o.min_poll_interval_ms = 20;
      v1::UpdateHeader h;
      h.set_run_id(tasks[i].run_id());
      h.set_round(tasks[i].round());
      h.set_base_version(tasks[i].model_version());
      h.set_num_samples(100);
      h.set_train_loss(0.5);
      std::unique_ptr<client::SecAggTransport> transport =
          i == 0 ? std::make_unique<FuzzTransport>(s->sites[0].get(), tasks[0], plans, &extra)
                 : client::SessionTransport(s->sites[i].get());
      results[i] = client::RunSecureAggregation(transport.get(), o, tasks[i], *x, 100.0, h, ranges);
    });
  }
  RunOutsider(s, tasks[0], outsider);
  for (auto& t : threads) t.join();
  s->counts.injected += extra.sent;
  s->counts.injected_refused += extra.refused;
  std::string why;
  const bool done = RoundDone(s, tasks[0], results[1].ok() && results[2].ok() ? 4000 : 0, &why);
  if (done) ++s->counts.rounds_done;
  if (extra.accepted_state_change) return;  // fuzz-a deviated in a way the aggregator accepted: no promise left
  // A round of four (an outsider drafted by an accepted call) has a threshold that needs fuzz-a as well. No
  // promise about fuzz-a's refusals there.
  if (tasks[0].secagg().threshold() > kRoundSites - 1) return;
  if (!results[1].ok() || !results[2].ok() || !done) {
    SecAggFinding(absl::StrCat("refused messages of one site failed the round for the others: fuzz-b ",
                               results[1].ToString(), "; fuzz-c ", results[2].ToString(), "; round ",
                               done ? "done" : "not done", "; fuzz-a ", results[0].ToString(), "; ", why));
  }
}

void CheckAlive(SecAgg* s) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 10000);
  v1::RunStatus run;
  grpc::Status st = s->admin->GetRun(&ctx, v1::GetRunRequest(), &run);
  if (!st.ok()) SecAggFinding(absl::StrCat("GetRun after the input: ", st.error_message()));
  v1::HelloRequest hello;  // fuzz-b: a participant, so that the outsider stays out of every round
  hello.add_sources()->set_name("HDFS");
  absl::StatusOr<v1::HelloResponse> h = s->sites[1]->Hello(hello);
  if (!h.ok() && (h.status().code() == absl::StatusCode::kUnavailable ||
                  h.status().code() == absl::StatusCode::kDeadlineExceeded ||
                  h.status().code() == absl::StatusCode::kInternal)) {
    SecAggFinding(absl::StrCat("Hello after the input: ", h.status().ToString()));
  }
}

}  // namespace

int FuzzSecAggOneInput(const uint8_t* data, size_t size) {
  SecAgg* s = Get();
  Input in(data, size);
  EnsureSecureRun(s);
  OneRound(s, &in);
  CheckAlive(s);
  return 0;
}

SecAggFuzzCounts SecAggCounts() { return Get()->counts; }

}  // namespace fedlog::fuzz
