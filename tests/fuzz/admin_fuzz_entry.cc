#include "tests/fuzz/admin_fuzz_entry.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/net/peer_id.h"
#include "fedlog/v1/admin.grpc.pb.h"
#include "fedlog/v1/federation.grpc.pb.h"
#include "server/coordinator_checks.h"
#include "tests/fuzz/fuzz_aggregator.h"

namespace fedlog::fuzz {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr char kEntry[] = "admin";
constexpr int kCallMs = 10000;  // far above any admin call's time: a call that reaches it is a hang

[[noreturn]] void AdminFinding(const std::string& what) { Finding(kEntry, what); }

struct Admin {
  std::unique_ptr<FuzzAggregator> agg;
  std::unique_ptr<v1::Admin::Stub> admin;       // the admin certificate
  std::unique_ptr<v1::Admin::Stub> site_admin;  // a site's certificate on the admin service
  std::unique_ptr<v1::Federation::Stub> site;   // fuzz-a on the federation service
  AdminFuzzCounts counts;
};

Admin* g_admin = nullptr;

void ShutdownAtExit() {
  if (g_admin == nullptr) return;
  g_admin->admin.reset();
  g_admin->site_admin.reset();
  g_admin->site.reset();
  ShutdownFuzzAggregator(std::move(g_admin->agg));
  delete g_admin;
  g_admin = nullptr;
}

Admin* Get() {
  if (g_admin == nullptr) {
    auto* a = new Admin();
    a->agg = StartFuzzAggregator(kEntry, "fedlog_adminfuzz", {"fuzz-a", "fuzz-b"}, nullptr);
    a->admin = v1::Admin::NewStub(ChannelFor(kEntry, *a->agg, "admin"));
    a->site_admin = v1::Admin::NewStub(ChannelFor(kEntry, *a->agg, "fuzz-b"));
    a->site = v1::Federation::NewStub(ChannelFor(kEntry, *a->agg, "fuzz-a"));
    g_admin = a;  // lives for the process: libFuzzer never returns from its loop
    std::atexit(ShutdownAtExit);
  }
  return g_admin;
}

// --- Values -----------------------------------------------------------------------------------------------

int32_t FuzzI32(Input* in) {
  static const int32_t kValues[] = {0, 1, 2, 3, -1, 100000, 100001, 3600, 3601, 1 << 20, (1 << 20) + 1,
                                    std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()};
  const uint8_t b = in->U8();
  if (b < 32) return static_cast<int32_t>(in->U32());
  return kValues[b % (sizeof(kValues) / sizeof(kValues[0]))];
}

int64_t FuzzI64(Input* in, const std::vector<int64_t>& extra = {}) {
  std::vector<int64_t> values = {0, 1, 2, -1, int64_t{1} << 40, 1000000000, std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<int64_t>::min()};
  values.insert(values.end(), extra.begin(), extra.end());
  const uint8_t b = in->U8();
  if (b < 32) return static_cast<int64_t>(in->U64());
  return values[b % values.size()];
}

double FuzzF64(Input* in) {
  static const std::vector<double> kValues = {
      0, -0.0, 1, -1, 0.5, 0.1, 0.4999, 2, 4, 1e-5, 1e-300, 1e6, 1e6 + 1, 1e12, 1e300,
      std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::denorm_min()};
  return in->PickF64(kValues);
}

// One of `names` or, one time in eight, arbitrary ASCII.
std::string FuzzName(Input* in, const std::vector<std::string>& names, size_t max_ascii = 80) {
  const uint8_t b = in->U8();
  if (b % 8 == 0 || names.empty()) return in->Ascii(max_ascii);
  return names[b / 8 % names.size()];
}

std::string FuzzSiteId(Input* in) {
  return FuzzName(in, {"fuzz-a", "fuzz-b", "admin", "aggregator", "", "a", "-x", "a..b", "x/../y", "site.1",
                       std::string(64, 's'), std::string(65, 's'), "caf\xc3\xa9", std::string(9000, 'z')},
                  4000);
}

// --- Run plans --------------------------------------------------------------------------------------------

void FuzzTraining(Input* in, v1::TrainingPlan* t) {
  t->set_local_epochs(FuzzI32(in));
  t->set_learning_rate(static_cast<float>(FuzzF64(in)));
  t->set_batch_size(FuzzI32(in));
  t->set_max_samples(FuzzI32(in));
  t->set_seed(in->U64());
  t->set_contrastive_steps(FuzzI32(in));
  t->set_meta_iterations(FuzzI32(in));
  t->set_inner_steps(FuzzI32(in));
  t->set_fedprox_mu(static_cast<float>(FuzzF64(in)));
}

void FuzzSecureAndPrivate(Input* in, const std::string& dir, uint8_t flags, v1::RunPlan* p) {
  if (flags & 2) {
    p->set_secure_aggregation(true);
    p->set_secagg_threshold(FuzzI32(in));
    p->set_secagg_clip_range(FuzzF64(in));
    p->set_secagg_step_s(FuzzI32(in));
  }
  if (flags & 4) {
    p->set_dp_mode(FuzzName(in, {"", "site", "line", "SITE", "none"}));
    p->set_dp_noise_multiplier(FuzzF64(in));
    p->set_dp_clip(FuzzF64(in));
    p->set_dp_delta(FuzzF64(in));
    p->set_target_epsilon(FuzzF64(in));
    p->set_line_dp_objective(FuzzName(in, {"", "per_line", "episodes"}));
    p->set_line_dp_scope(FuzzName(in, {"", "adapters", "all"}));
    p->set_line_dp_contrastive(in->U8() % 2);
    p->set_line_dp_anomalous_rate(FuzzF64(in));
    p->set_line_dp_normal_lines(FuzzI32(in));
    p->set_line_dp_count_noise(FuzzF64(in));
    p->set_line_dp_prototype_noise(FuzzF64(in));
    p->set_line_dp_prototype_share(FuzzF64(in));
    p->set_line_dp_prototype_directions(in->U8() % 2);
  }
  if (flags & 8) {
    // Paths on the aggregator's host: missing, a directory, a device, a file that is no bundle, a long one.
    p->set_initial_model(FuzzName(in, {"", "/nonexistent/model.bundle", "/", "/dev/zero", "/proc/self/status",
                                       dir, JoinPath(dir, "pki/ca.crt"), "../../etc/passwd",
                                       std::string(4097, 'p'), absl::StrCat("/", std::string(4000, 'q'))},
                                  400));
    p->set_initial_model_sha256(FuzzName(in, {"", std::string(64, '0'), std::string(64, 'g'),
                                              std::string(63, 'a'), std::string(64, 'A')}));
  }
  if (flags & 16) {
    p->set_adaptive_clip_multiple(FuzzF64(in));
    p->set_adaptive_clip_off(in->U8() % 2);
  }
}

v1::RunPlan FuzzPlan(Input* in, const std::string& dir) {
  v1::RunPlan p;
  if (in->U8() % 8 == 0) {
    if (!p.ParseFromString(in->Bytes(1024))) p.Clear();
    return p;
  }
  const uint8_t flags = in->U8();
  // Otherwise a plan that passes, then every field fuzzed only when its flag says so.
  p.set_rounds(1000);
  p.set_min_sites(1);
  p.set_round_deadline_s(2);
  if (flags & 1) {
    p.set_rounds(FuzzI32(in));
    p.set_min_sites(FuzzI32(in));
    p.set_round_deadline_s(FuzzI32(in));
    p.set_site_wait_s(FuzzI32(in));
    FuzzTraining(in, p.mutable_training());
    p.set_strategy(FuzzName(in, {"", "fedavg", "weighted_fedavg", "median", "trimmed_mean", "FedAvg",
                                 std::string(5000, 'm')}));
    p.set_trim_fraction(FuzzF64(in));
    p.set_clip_norm(FuzzF64(in));
    p.set_max_update_norm(FuzzF64(in));
    p.set_server_optimizer(FuzzName(in, {"", "none", "fedadam", "fedyogi", "adam"}));
    p.set_server_lr(FuzzF64(in));
    p.set_update_dtype(FuzzName(in, {"", "float32", "f16", "float16", "int8", "int4"}));
    p.set_update_zstd(in->U8() % 2);
    p.set_sample_fraction(FuzzF64(in));
    p.set_max_site_samples(FuzzI64(in));
    p.set_max_site_weight_share(FuzzF64(in));
  }
  FuzzSecureAndPrivate(in, dir, flags, &p);
  return p;
}

// --- State that a refused call must leave as it was ------------------------------------------------------------

struct Snapshot {
  v1::ListSitesResponse sites;    // without online and last_seen_ms (a site's calls move them)
  v1::ListModelsResponse models;
  int64_t run_id = 0;             // the active or most recent run (0: none yet)
  v1::RunPlan plan;
};

template <typename Req, typename Resp, typename Call>
grpc::Status Unary(Call call, const Req& req, Resp* resp, int ms = kCallMs) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, ms);
  return call(&ctx, req, resp);
}

Snapshot Take(Admin* a) {
  Snapshot s;
  auto* stub = a->admin.get();
  grpc::Status st = Unary([&](auto* c, const auto& r, auto* o) { return stub->ListSites(c, r, o); },
                          v1::ListSitesRequest(), &s.sites);
  if (!st.ok()) AdminFinding(absl::StrCat("ListSites failed: ", st.error_message()));
  for (v1::SiteInfo& info : *s.sites.mutable_sites()) {
    if (!net::IsValidPeerId(info.site_id())) {
      AdminFinding(absl::StrCat("a site with an invalid id is listed (", info.site_id().size(), " bytes)"));
    }
    info.clear_online();
    info.clear_last_seen_ms();
  }
  st = Unary([&](auto* c, const auto& r, auto* o) { return stub->ListModels(c, r, o); }, v1::ListModelsRequest(),
             &s.models);
  if (!st.ok()) AdminFinding(absl::StrCat("ListModels failed: ", st.error_message()));
  v1::RunStatus run;
  st = Unary([&](auto* c, const auto& r, auto* o) { return stub->GetRun(c, r, o); }, v1::GetRunRequest(), &run);
  if (st.ok()) {
    s.run_id = run.run_id();
    s.plan = run.plan();
  } else if (st.error_code() != grpc::StatusCode::NOT_FOUND) {
    AdminFinding(absl::StrCat("GetRun failed: ", st.error_code(), " ", st.error_message()));
  }
  return s;
}

bool Same(const Snapshot& x, const Snapshot& y) {
  return x.run_id == y.run_id && MessageDifferencer::Equals(x.plan, y.plan) &&
         MessageDifferencer::Equals(x.sites, y.sites) && MessageDifferencer::Equals(x.models, y.models);
}

// A refusal of bad input is a clear status: a code that names the refusal and a message.
void CheckRefusal(const char* method, const grpc::Status& st) {
  switch (st.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::DATA_LOSS:  // an initial model whose digest is not the one given
      break;
    default:
      AdminFinding(absl::StrCat(method, " refused with status ", st.error_code(), ": '", st.error_message(), "'"));
  }
  if (st.error_message().empty()) AdminFinding(absl::StrCat(method, " refused without a message"));
}

// --- Calls ------------------------------------------------------------------------------------------------

// Methods in the order of admin.proto.
enum Method { kListSites, kStartRun, kStopRun, kGetRun, kWatchRun, kListModels, kPromote, kRollback, kRevoke,
              kAdmit, kUnrevoke, kForget, kMethods };
const char* const kNames[] = {"ListSites", "StartRun", "StopRun", "GetRun", "WatchRun", "ListModels",
                              "PromoteModel", "RollbackModel", "RevokeSite", "AdmitSources", "UnrevokeSite",
                              "ForgetSite"};

// `msg` from raw bytes when `raw`, else left as built; a parse failure leaves the default request (a proto3
// string with invalid UTF-8 would not parse at the aggregator either).
template <typename Msg>
void MaybeRaw(Input* in, bool raw, Msg* msg) {
  if (raw && !msg->ParseFromString(in->Bytes(2048))) msg->Clear();
}

// Reads a WatchRun stream for at most a few messages and a short while, then cancels it.
grpc::Status Watch(v1::Admin::Stub* stub, const v1::GetRunRequest& req, Input* in) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 300 + in->U8() * 2);
  auto reader = stub->WatchRun(&ctx, req);
  v1::RunStatus status;
  int reads = 0;
  bool ended = false;  // the aggregator ended the stream (its status is the call's)
  for (int n = 1 + in->U8() % 3; n > 0 && !ended; --n) {
    if (reader->Read(&status)) {
      ++reads;
    } else {
      ended = true;
    }
  }
  if (!ended) ctx.TryCancel();
  grpc::Status st = reader->Finish();
  if (reads > 0 && (st.error_code() == grpc::StatusCode::CANCELLED ||
                    st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    return grpc::Status::OK;  // we cut it, or our deadline did, after its first answer
  }
  return st;
}

// Calls `method` on `stub` with a request from `in`; `started` receives a run a successful StartRun started.
grpc::Status Call(Admin* a, v1::Admin::Stub* stub, Method method, bool raw, Input* in, const Snapshot& before,
                  v1::RunStatus* started) {
  const int64_t run = before.run_id;
  std::vector<int64_t> versions = {before.models.promoted_version()};
  for (const auto& m : before.models.models()) versions.push_back(m.version());
  auto call = [&](auto fn, auto req, auto resp) {
    MaybeRaw(in, raw, &req);
    return Unary([&](auto* c, const auto& r, auto* o) { return (stub->*fn)(c, r, o); }, req, &resp);
  };
  switch (method) {
    case kListSites: return call(&v1::Admin::Stub::ListSites, v1::ListSitesRequest(), v1::ListSitesResponse());
    case kStartRun: {
      v1::StartRunRequest req;
      *req.mutable_plan() = FuzzPlan(in, a->agg->dir);
      MaybeRaw(in, raw, &req);
      return Unary([&](auto* c, const auto& r, auto* o) { return stub->StartRun(c, r, o); }, req, started);
    }
    case kStopRun: {
      v1::StopRunRequest req;
      req.set_run_id(FuzzI64(in, {run, run + 1, run - 1}));
      return call(&v1::Admin::Stub::StopRun, req, v1::RunStatus());
    }
    case kGetRun: {
      v1::GetRunRequest req;
      req.set_run_id(FuzzI64(in, {run, run + 1, run - 1}));
      return call(&v1::Admin::Stub::GetRun, req, v1::RunStatus());
    }
    case kWatchRun: {
      v1::GetRunRequest req;
      req.set_run_id(FuzzI64(in, {run, run + 1, run - 1}));
      MaybeRaw(in, raw, &req);
      return Watch(stub, req, in);
    }
    case kListModels: return call(&v1::Admin::Stub::ListModels, v1::ListModelsRequest(), v1::ListModelsResponse());
    case kPromote: {
      v1::PromoteModelRequest req;
      req.set_version(FuzzI64(in, versions));
      req.set_force(in->U8() % 2);
      return call(&v1::Admin::Stub::PromoteModel, req, v1::ModelManifest());
    }
    case kRollback:
      return call(&v1::Admin::Stub::RollbackModel, v1::RollbackModelRequest(), v1::ModelManifest());
    case kRevoke:
    case kUnrevoke: {
      v1::RevokeSiteRequest req;
      req.set_site_id(FuzzSiteId(in));
      return call(method == kRevoke ? &v1::Admin::Stub::RevokeSite : &v1::Admin::Stub::UnrevokeSite, req,
                  v1::SiteInfo());
    }
    case kAdmit: {
      v1::AdmitSourcesRequest req;
      req.set_site_id(FuzzSiteId(in));
      static const int kCounts[] = {0, 1, 2, 3, 64, 65, 1000};
      const int n = kCounts[in->U8() % 7];
      const std::string name = FuzzName(in, {"HDFS", "BGL", "", "a b", std::string(65, 'n'), "n\n"});
      for (int i = 0; i < n; ++i) req.add_sources(i % 3 == 2 ? FuzzName(in, {"HDFS", "BGL"}) : name);
      req.set_approve_pending(in->U8() % 2);
      return call(&v1::Admin::Stub::AdmitSources, req, v1::SiteInfo());
    }
    case kForget:
    default: {
      v1::ForgetSiteRequest req;
      req.set_site_id(FuzzSiteId(in));
      return call(&v1::Admin::Stub::ForgetSite, req, v1::ForgetSiteResponse());
    }
  }
}

// A run a StartRun answered with: its stored plan passes the run-start checks, unchanged.
void CheckStartedRun(Admin* a, const v1::RunStatus& started) {
  ++a->counts.runs_started;
  v1::GetRunRequest req;
  req.set_run_id(started.run_id());
  v1::RunStatus stored;
  grpc::Status st = Unary([&](auto* c, const auto& r, auto* o) { return a->admin->GetRun(c, r, o); }, req, &stored);
  if (!st.ok()) AdminFinding(absl::StrCat("GetRun of the run just started failed: ", st.error_message()));
  v1::RunPlan again = stored.plan();
  if (absl::Status v = server::ValidateRunPlan(&again); !v.ok()) {
    AdminFinding(absl::StrCat("a started run's stored plan fails the run-start checks: ", v.ToString()));
  }
  if (!MessageDifferencer::Equals(again, stored.plan())) {
    AdminFinding("a started run's stored plan changes when checked again: " + again.ShortDebugString());
  }
}

void OneCall(Admin* a, Input* in) {
  const uint8_t op = in->U8();
  const Method method = static_cast<Method>(op % kMethods);
  const bool raw = op / kMethods % 8 == 1;
  const bool as_site = op / kMethods % 8 == 2;
  const Snapshot before = Take(a);
  v1::RunStatus started;
  grpc::Status st = Call(a, as_site ? a->site_admin.get() : a->admin.get(), method, raw, in, before, &started);
  if (std::getenv("FEDLOG_ADMIN_FUZZ_TRACE")) {
    std::fprintf(stderr, "%s raw=%d site=%d -> %d %.200s (%zu)\n", kNames[method], raw, as_site, st.error_code(),
                 st.error_message().c_str(), st.error_message().size());
  }
  if (as_site) {
    if (st.error_code() != grpc::StatusCode::PERMISSION_DENIED) {
      AdminFinding(absl::StrCat("a site's certificate called ", kNames[method], ": status ", st.error_code()));
    }
  } else if (st.ok()) {
    ++a->counts.ok;
    if (method == kStartRun) CheckStartedRun(a, started);
    return;
  } else {
    ++a->counts.refused;
    CheckRefusal(kNames[method], st);
  }
  if (!Same(before, Take(a))) AdminFinding(absl::StrCat("a refused ", kNames[method], " changed state"));
}

// After every input the aggregator answers its admin and its sites.
void CheckAlive(Admin* a) {
  auto answered = [](const grpc::Status& st) {
    switch (st.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::UNKNOWN:
      case grpc::StatusCode::INTERNAL:
        return false;
      default:
        return true;
    }
  };
  v1::RunStatus run;
  grpc::Status st = Unary([&](auto* c, const auto& r, auto* o) { return a->admin->GetRun(c, r, o); },
                          v1::GetRunRequest(), &run);
  if (!answered(st)) AdminFinding(absl::StrCat("GetRun after the input: ", st.error_message()));
  v1::HelloRequest hello;  // fuzz-a may be revoked (PermissionDenied) or paced (ResourceExhausted): an answer
  hello.add_sources()->set_name("HDFS");
  v1::HelloResponse resp;
  st = Unary([&](auto* c, const auto& r, auto* o) { return a->site->Hello(c, r, o); }, hello, &resp);
  if (!answered(st)) AdminFinding(absl::StrCat("Hello after the input: ", st.error_message()));
}

}  // namespace

int FuzzAdminOneInput(const uint8_t* data, size_t size) {
  Admin* a = Get();
  Input in(data, size);
  for (int op = 0; op < 8 && !in.done(); ++op) OneCall(a, &in);
  CheckAlive(a);
  return 0;
}

AdminFuzzCounts AdminCounts() { return Get()->counts; }

}  // namespace fedlog::fuzz
