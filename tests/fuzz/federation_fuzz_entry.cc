#include "tests/fuzz/federation_fuzz_entry.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "fedlog/v1/admin.grpc.pb.h"
#include "fedlog/v1/federation.grpc.pb.h"
#include "server/aggregator_server.h"
#include "tests/fuzz/fuzz_aggregator.h"

namespace fedlog::fuzz {
namespace {

[[noreturn]] void Finding(const std::string& what) { fuzz::Finding("federation", what); }

void Deadline(grpc::ClientContext* ctx, int ms) { SetDeadline(ctx, ms); }

struct Federation {
  std::unique_ptr<FuzzAggregator> agg;
  std::unique_ptr<v1::Federation::Stub> sites[2];
  std::unique_ptr<v1::Federation::Stub> admin_fed;
  std::unique_ptr<v1::Admin::Stub> admin;
  std::string zero_delta;  // an all-zero update shaped like the model: a valid upload for any round
  int64_t accepted = 0;
};

void EnsureRun(Federation* f) {
  grpc::ClientContext ctx;
  Deadline(&ctx, 5000);
  v1::GetRunRequest greq;  // run 0: the active or most recent run
  v1::RunStatus current;
  if (f->admin->GetRun(&ctx, greq, &current).ok() && current.state() == "running") return;
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  plan->set_rounds(100000);
  plan->set_min_sites(1);
  plan->set_round_deadline_s(2);
  grpc::ClientContext sctx;
  Deadline(&sctx, 5000);
  v1::RunStatus status;
  grpc::Status st = f->admin->StartRun(&sctx, req, &status);
  if (!st.ok() && st.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
    Finding(absl::StrCat("cannot start a run: ", st.error_message()));
  }
}

Federation* Init() {
  auto* f = new Federation();
  f->agg = StartFuzzAggregator("federation", "fedlog_fedfuzz", {"fuzz-a", "fuzz-b"}, nullptr);
  f->sites[0] = v1::Federation::NewStub(ChannelFor("federation", *f->agg, "fuzz-a"));
  f->sites[1] = v1::Federation::NewStub(ChannelFor("federation", *f->agg, "fuzz-b"));
  f->admin_fed = v1::Federation::NewStub(ChannelFor("federation", *f->agg, "admin"));
  f->admin = v1::Admin::NewStub(ChannelFor("federation", *f->agg, "admin"));
  EnsureRun(f);
  // The model every round trains has one layout; an all-zero delta of it is a valid update for any round.
  grpc::ClientContext ctx;
  Deadline(&ctx, 10000);
  v1::DownloadRequest req;
  auto reader = f->admin_fed->DownloadModel(&ctx, req);
  v1::ModelChunk chunk;
  std::string bytes;
  while (reader->Read(&chunk)) bytes += chunk.data();
  if (!reader->Finish().ok()) Finding("cannot download the initial model");
  auto model = fl::DecodeBundle(bytes);
  if (!model.ok()) Finding(model.status().ToString());
  for (auto& t : model->tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  auto zero = fl::EncodeBundle(*model);
  if (!zero.ok()) Finding(zero.status().ToString());
  f->zero_delta = *zero;
  return f;
}

Federation* g_fed = nullptr;

// libFuzzer ends with exit(): stop the aggregator (its scheduler may be aggregating) before OpenSSL's own
// exit handler, registered earlier, tears down the library under it.
// Then gRPC's own threads are joined (grpc_shutdown_blocking holding the last reference), so no thread is left
// holding per-thread OpenSSL state when the leak check runs.
void ShutdownAtExit() {
  if (g_fed == nullptr) return;
  std::unique_ptr<FuzzAggregator> agg = std::move(g_fed->agg);
  delete g_fed;  // the stubs first; the server still holds gRPC up
  g_fed = nullptr;
  ShutdownFuzzAggregator(std::move(agg));
}

Federation* Fed() {
  if (g_fed == nullptr) {
    g_fed = Init();  // lives for the process: libFuzzer never returns from its loop
    std::atexit(ShutdownAtExit);
  }
  return g_fed;
}

v1::Federation::Stub* SiteStub(Federation* f, Input* in) {
  const uint8_t who = in->U8() % 8;
  return who == 7 ? f->admin_fed.get() : f->sites[who % 2].get();
}

void DoHello(Federation* f, Input* in) {
  v1::HelloRequest req;
  if (in->U8() % 2) {
    (void)req.ParseFromString(in->Bytes(2048));
  } else {
    const int n = in->U8() % 4;
    for (int i = 0; i < n; ++i) req.add_sources()->set_name(in->Bytes(24));
  }
  grpc::ClientContext ctx;
  Deadline(&ctx, 2000);
  v1::HelloResponse resp;
  (void)SiteStub(f, in)->Hello(&ctx, req, &resp);
}

void DoUnary(Federation* f, Input* in) {
  v1::Federation::Stub* stub = SiteStub(f, in);
  grpc::ClientContext ctx;
  Deadline(&ctx, 2000);
  switch (in->U8() % 4) {
    case 0: {
      v1::TaskRequest req;
      req.set_wait_ms(static_cast<int32_t>(in->U32() % 300) - 50);
      v1::TaskResponse resp;
      (void)stub->GetTask(&ctx, req, &resp);
      break;
    }
    case 1: {
      v1::HeartbeatRequest req;
      req.set_state(in->Bytes(16));
      v1::HeartbeatResponse resp;
      (void)stub->Heartbeat(&ctx, req, &resp);
      break;
    }
    case 2: {
      v1::EvaluationReport req;
      (void)req.ParseFromString(in->Bytes(512));
      v1::EvaluationAck resp;
      (void)stub->ReportEvaluation(&ctx, req, &resp);
      break;
    }
    default: {
      v1::DeclineRequest req;
      (void)req.ParseFromString(in->Bytes(512));
      v1::DeclineResponse resp;
      (void)stub->DeclineRound(&ctx, req, &resp);
      break;
    }
  }
}

void DoDownload(Federation* f, Input* in) {
  v1::DownloadRequest req;
  const uint8_t mode = in->U8();
  if (mode % 4 == 0) {
    (void)req.ParseFromString(in->Bytes(64));
  } else {
    req.set_version(mode % 4 == 1 ? 0 : static_cast<int64_t>(in->U32() % 8) - 1);
    req.set_chunk_bytes(static_cast<int32_t>(in->U32()));
    req.set_all_adapters(in->U8() % 2);
  }
  const int read_at_most = in->U8() % 2 ? 1 << 20 : in->U8() % 4;
  grpc::ClientContext ctx;
  Deadline(&ctx, 4000);
  auto reader = SiteStub(f, in)->DownloadModel(&ctx, req);
  v1::ModelChunk chunk;
  v1::ModelManifest manifest;
  std::string bytes;
  int reads = 0;
  bool cut = false;
  while (reader->Read(&chunk)) {
    if (reads == 0) manifest = chunk.manifest();
    bytes += chunk.data();
    if (++reads > read_at_most) {
      cut = true;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status st = reader->Finish();
  if (st.ok() && !cut && (Sha256Hex(bytes) != manifest.sha256() ||
                          static_cast<int64_t>(bytes.size()) != manifest.size_bytes())) {
    Finding("a download completed with bytes that do not match its manifest");
  }
}

// The open round's task for site fuzz-a, if one is handed out within a short wait.
bool TaskFor(Federation* f, v1::RoundTask* task) {
  grpc::ClientContext ctx;
  Deadline(&ctx, 2000);
  v1::TaskRequest req;
  req.set_wait_ms(20);
  v1::TaskResponse resp;
  if (!f->sites[0]->GetTask(&ctx, req, &resp).ok() || !resp.has_round()) return false;
  *task = resp.round();
  return true;
}

struct UploadPlan {
  v1::UpdateHeader header;
  std::string payload;
  std::vector<size_t> chunks;  // sizes; the rest of the payload goes in the last
  bool repeat_header = false;
  bool cancel = false;
  int stop_after = -1;  // chunks written before stopping (WritesDone); -1: all
};

UploadPlan PlanUpload(Federation* f, Input* in) {
  UploadPlan p;
  v1::RoundTask task;
  const bool have = TaskFor(f, &task);
  const uint8_t flags = in->U8();
  v1::UpdateHeader& h = p.header;
  h.set_run_id(have && !(flags & 1) ? task.run_id() : static_cast<int64_t>(in->U32() % 4));
  h.set_round(have && !(flags & 2) ? task.round() : static_cast<int32_t>(in->U32() % 4));
  h.set_base_version(have && !(flags & 4) ? task.model_version() : static_cast<int64_t>(in->U32() % 4));
  h.set_num_samples(flags & 8 ? static_cast<int64_t>(in->U64()) : 100);
  h.set_train_loss(flags & 16 ? in->F64() : 0.5);
  h.set_imbalance_ratio(flags & 16 ? in->F64() : 1.0);
  h.set_distinct_templates(flags & 16 ? static_cast<int64_t>(in->U64()) : 10);
  const uint8_t body = in->U8();
  p.payload = body % 4 == 0 ? in->Bytes(4096) : f->zero_delta;
  if (body % 4 == 1 && !p.payload.empty()) {  // a few byte flips in a valid update
    for (int i = 0, n = in->U8() % 4; i < n; ++i) p.payload[in->U32() % p.payload.size()] ^= (in->U8() | 1);
  }
  h.set_size_bytes(flags & 32 ? static_cast<int64_t>(in->U32() % 20000) - 10 : static_cast<int64_t>(p.payload.size()));
  h.set_sha256(flags & 64 ? in->Bytes(64) : Sha256Hex(p.payload));
  if (flags & 128) {
    for (int i = 0, n = in->U8() % 6; i < n; ++i) p.chunks.push_back(in->U32() % 3000);
  }
  const uint8_t end = in->U8();
  p.repeat_header = end % 16 == 1;
  p.cancel = end % 16 == 2;
  if (end % 16 == 3) p.stop_after = in->U8() % 3;
  return p;
}

void RunUpload(Federation* f, v1::Federation::Stub* stub, const UploadPlan& p) {
  grpc::ClientContext ctx;
  Deadline(&ctx, 4000);
  v1::UploadResponse resp;
  auto writer = stub->UploadUpdate(&ctx, &resp);
  v1::UpdateChunk first;
  *first.mutable_header() = p.header;
  bool ok = writer->Write(first);
  size_t off = 0;
  int written = 0;
  bool repeated = false;
  auto write = [&](size_t n) {
    if (!ok || (p.stop_after >= 0 && written >= p.stop_after)) return;
    v1::UpdateChunk c;
    c.set_data(p.payload.substr(off, n));
    if (p.repeat_header && written == 1) {
      *c.mutable_header() = p.header;
      repeated = true;
    }
    off = std::min(p.payload.size(), off + n);
    ok = writer->Write(c);
    ++written;
  };
  for (size_t n : p.chunks) write(n);
  while (ok && off < p.payload.size() && (p.stop_after < 0 || written < p.stop_after)) write(4096);
  if (p.cancel) ctx.TryCancel();
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (st.ok() && resp.accepted()) {
    // The one invariant an honest site relies on: only the exact bytes its header describes are accepted.
    if (off != p.payload.size() || static_cast<int64_t>(p.payload.size()) != p.header.size_bytes() ||
        Sha256Hex(p.payload) != p.header.sha256() || p.cancel || repeated) {
      Finding("an upload was accepted whose bytes do not match its header");
    }
    ++f->accepted;
  }
}

void DoUpload(Federation* f, Input* in) {
  UploadPlan p = PlanUpload(f, in);
  const uint8_t how = in->U8() % 8;
  if (how == 0) {
    // Two uploads of one site at once: at most one may be accepted, and never with the other's bytes.
    UploadPlan other = p;
    other.payload = f->zero_delta;
    other.header.set_size_bytes(static_cast<int64_t>(other.payload.size()));
    other.header.set_sha256(Sha256Hex(other.payload));
    const int64_t before = f->accepted;
    std::thread t([&] { RunUpload(f, f->sites[0].get(), other); });
    RunUpload(f, f->sites[0].get(), p);
    t.join();
    if (f->accepted - before > 1) Finding("two concurrent uploads of one site were both accepted");
    return;
  }
  RunUpload(f, how == 1 ? f->sites[1].get() : f->sites[0].get(), p);
}

}  // namespace

int FuzzFederationOneInput(const uint8_t* data, size_t size) {
  Federation* f = Fed();
  Input in(data, size);
  if (in.U8() % 32 == 0) EnsureRun(f);
  for (int op = 0; op < 6 && !in.done(); ++op) {
    switch (in.U8() % 5) {
      case 0: DoHello(f, &in); break;
      case 1: DoUnary(f, &in); break;
      case 2: DoDownload(f, &in); break;
      default: DoUpload(f, &in); break;
    }
  }
  return 0;
}

int64_t AcceptedUploads() { return Fed()->accepted; }

}  // namespace fedlog::fuzz
