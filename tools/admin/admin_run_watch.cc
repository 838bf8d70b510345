// `fedlog run watch` and `run status`: a run's rounds as a table (stdout) and its plan and privacy summary
// (stderr); WatchRun also serves `run start --watch` (admin_runs.cc).
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/net/tls.h"
#include "tools/admin/admin_cli.h"
#include "tools/admin/admin_privacy.h"

namespace fedlog::cli::admin {
namespace {

// The open round of `s` on one line: who has uploaded, who is awaited, when it closes (with_deadline); "" when
// none is open.
std::string OpenRoundLine(const v1::RunStatus& s, bool with_deadline = true) {
  for (const auto& r : s.rounds()) {
    if (r.state() != "open" || r.deadline_ms() == 0) continue;
    std::vector<std::string> waiting;
    for (const auto& p : r.participants()) {
      if (std::find(r.uploaded().begin(), r.uploaded().end(), p) == r.uploaded().end()) waiting.push_back(p);
    }
    const int64_t left_s = std::max<int64_t>(0, (r.deadline_ms() - absl::ToUnixMillis(absl::Now())) / 1000);
    return absl::StrCat("round ", r.round(), " open: ", r.uploaded_size(), "/", r.participants_size(),
                        " uploaded (", r.uploaded().empty() ? "none" : absl::StrJoin(r.uploaded(), ","),
                        "), waiting for ", waiting.empty() ? "none" : absl::StrJoin(waiting, ","),
                        with_deadline ? absl::StrCat("; deadline in ", left_s, " s") : std::string());
  }
  return "";
}

// Under DP the table has privacy columns at its end (admin_privacy.h).
void PrintRoundHeader(const v1::RunPlan& plan) {
  std::printf("%6s %6s %9s %12s %7s %8s %9s %9s %12s%s\n", "round", "sites", "samples", "mean_loss", "model",
              "seconds", "up_kb", "down_kb", "eval", PrivacyColumnHeader(plan).c_str());
}

// Mean over sites of the held-out metric they reported for the round's input model: F1 for line_encoder runs,
// reconstruction loss for mlp_autoencoder runs ("-" when none reported).
std::string EvalColumn(const v1::RoundSummary& r) {
  for (const char* key : {"holdout_f1", "holdout_loss"}) {
    double sum = 0;
    int n = 0;
    for (const auto& e : r.evaluations()) {
      auto it = e.metrics().find(key);
      if (it == e.metrics().end()) continue;
      sum += it->second;
      ++n;
    }
    if (n > 0) return absl::StrFormat("%s:%.4f", key[8] == 'f' ? "f1" : "loss", sum / n);
  }
  return "-";
}

void PrintRound(const v1::RunPlan& plan, const v1::RoundSummary& r) {
  std::printf("%6d %6d %9lld %12.6f %7s %8.2f %9.1f %9.1f %12s%s\n", r.round(), r.sites(),
              static_cast<long long>(r.samples()), r.mean_train_loss(), absl::StrCat("v", r.model_version()).c_str(),
              r.seconds(), static_cast<double>(r.bytes_up()) / 1024.0, static_cast<double>(r.bytes_down()) / 1024.0,
              EvalColumn(r).c_str(), PrivacyColumn(plan, r).c_str());
  std::fflush(stdout);
}

// The run's strategy and the sites' local work per round, on stderr: stdout keeps the status line and the round
// table that scripts parse (tests/e2e/kill_test.sh).
void PrintPlan(const v1::RunPlan& p) {
  const v1::TrainingPlan& t = p.training();
  std::fflush(stdout);
  std::fprintf(stderr, "plan: strategy %s, server optimizer %s, updates %s%s\n", p.strategy().c_str(),
               p.server_optimizer().empty() ? "none" : p.server_optimizer().c_str(),
               p.update_dtype().empty() ? "float32" : p.update_dtype().c_str(), p.update_zstd() ? "+zstd" : "");
  std::fprintf(stderr,
               "local work: epochs %d, lr %g, batch %d, seed %llu, contrastive steps %d, meta iterations %d, "
               "inner steps %d, fedprox mu %g\n",
               t.local_epochs(), t.learning_rate(), t.batch_size(), static_cast<unsigned long long>(t.seed()),
               t.contrastive_steps(), t.meta_iterations(), t.inner_steps(), t.fedprox_mu());
  std::fprintf(stderr, "clipping: adaptive %s, clip norm %s\n",
               p.adaptive_clip_off() || p.adaptive_clip_multiple() <= 0
                   ? "off"
                   : absl::StrFormat("%g x the round's reference norm", p.adaptive_clip_multiple()).c_str(),
               p.clip_norm() > 0 ? absl::StrFormat("%g", p.clip_norm()).c_str() : "off");
}

// Rounds that scaled updates down (RoundSummary clipped_updates / clip_bound) and rounds completed by disjoint
// cohorts after a spoiled secure sum (secagg_cohorts / secagg_cohorts_dropped), on stderr like the plan.
void PrintRoundNotes(const v1::RunStatus& s) {
  std::fflush(stdout);
  for (const auto& r : s.rounds()) {
    if (r.state() == "done" && r.clipped_updates() > 0) {
      std::fprintf(stderr, "round %d: clipped %d update(s) to L2 norm %g\n", r.round(), r.clipped_updates(),
                   r.clip_bound());
    }
    if (r.state() == "done" && r.secagg_cohorts() > 0) {
      std::fprintf(stderr, "round %d: secure aggregation in %d cohorts, %d dropped (a sum failed its check)\n",
                   r.round(), r.secagg_cohorts(), r.secagg_cohorts_dropped());
    }
  }
}


}  // namespace

bool Finished(const std::string& state) { return state == "done" || state == "stopped" || state == "failed"; }

// Streams the run's progress, printing one table row per completed round. Exit 0 when the run is done.
int WatchRun(Stub* stub, int64_t run_id) {
  grpc::ClientContext ctx;
  v1::GetRunRequest req;
  req.set_run_id(run_id);
  auto reader = stub->WatchRun(&ctx, req);
  v1::RunStatus status;
  std::set<int> printed;
  std::string last_message;
  bool header = false;
  std::string final_state;
  while (reader->Read(&status)) {
    if (!header) {
      std::printf("run %lld: %d round(s), min %d site(s)\n", static_cast<long long>(status.run_id()),
                  status.plan().rounds(), status.plan().min_sites());
      if (std::string privacy = PrivacySummary(status); !privacy.empty()) {
        std::fprintf(stderr, "%s\n", privacy.c_str());
      }
      PrintRoundHeader(status.plan());
      std::fflush(stdout);
      header = true;
    }
    for (const auto& r : status.rounds()) {
      if (r.state() == "done" && printed.insert(r.round()).second) PrintRound(status.plan(), r);
      if (r.state() == "failed" && printed.insert(-r.round() * 1000 - r.attempt()).second) {
        std::printf("%6d  attempt %d failed (too few updates before the deadline)\n", r.round(), r.attempt());
      }
    }
    // A line when the uploads change, not every time the seconds to the deadline do.
    const std::string open = OpenRoundLine(status, /*with_deadline=*/false);
    const std::string message = open.empty() ? status.message() : open;
    if (message != last_message && !Finished(status.state())) {
      std::fprintf(stderr, "  [%s] %s\n", status.state().c_str(),
                   open.empty() ? message.c_str() : OpenRoundLine(status).c_str());
      last_message = message;
    }
    final_state = status.state();
  }
  grpc::Status st = reader->Finish();
  if (!st.ok() && header && !Finished(final_state) &&
      (st.error_code() == grpc::StatusCode::UNAVAILABLE || st.error_code() == grpc::StatusCode::CANCELLED)) {
    // The stream ended under a watch that was running: the aggregator stopped (or the network dropped). gRPC's
    // own text ("Cancelling all calls") says nothing an admin can act on.
    std::fflush(stdout);
    std::fprintf(stderr,
                 "fedlog: lost the aggregator while watching run %lld (%s): it stopped, or the connection dropped. "
                 "A restarted aggregator resumes the run; `fedlog run watch` follows it again [%s]\n",
                 static_cast<long long>(run_id != 0 ? run_id : status.run_id()), st.error_message().c_str(),
                 absl::StatusCodeToString(net::FromGrpc(st).code()).c_str());
    return 1;
  }
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("run %lld %s: %s (%lld update(s) refused)\n", static_cast<long long>(status.run_id()),
              final_state.c_str(), status.message().c_str(), static_cast<long long>(status.refused_updates()));
  if (std::string privacy = PrivacySummary(status); !privacy.empty()) std::printf("%s\n", privacy.c_str());
  return final_state == "done" ? 0 : 1;
}

int RunWatch(const std::vector<std::string>& argv) {
  std::unique_ptr<Stub> stub;
  int64_t run = 0;
  if (int rc = PrepareRun(argv, &stub, &run); rc != 0) return rc;
  return WatchRun(stub.get(), run);
}

int RunStatusVerb(const std::vector<std::string>& argv) {
  std::unique_ptr<Stub> stub;
  int64_t run = 0;
  if (int rc = PrepareRun(argv, &stub, &run); rc != 0) return rc;
  v1::GetRunRequest req;
  req.set_run_id(run);
  v1::RunStatus s;
  grpc::Status st = stub->GetRun(Ctx().get(), req, &s);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("run %lld %s (round %d/%d): %s\n", static_cast<long long>(s.run_id()), s.state().c_str(),
              s.current_round(), s.plan().rounds(), s.message().c_str());
  PrintPlan(s.plan());
  if (std::string privacy = PrivacySummary(s); !privacy.empty()) {
    std::fprintf(stderr, "%s\n", privacy.c_str());
    for (const std::string& line : DeclineLines(s)) std::fprintf(stderr, "%s\n", line.c_str());
  }
  PrintRoundHeader(s.plan());
  for (const auto& r : s.rounds()) {
    if (r.state() == "done") PrintRound(s.plan(), r);
  }
  if (std::string open = OpenRoundLine(s); !open.empty()) std::printf("%s\n", open.c_str());
  PrintRoundNotes(s);
  return 0;
}

}  // namespace fedlog::cli::admin
