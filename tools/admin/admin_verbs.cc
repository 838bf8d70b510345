// Admin verbs of the `fedlog` CLI: they talk to the aggregator's Admin service with the admin certificate.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/net/tls.h"
#include "common/net/tls_check.h"
#include "tools/admin/admin_client.h"
#include "tools/admin/admin_initial_model.h"
#include "tools/admin/admin_privacy.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
namespace {

using Stub = v1::Admin::Stub;

int Fail(const absl::Status& st) {
  if (st.code() == absl::StatusCode::kUnavailable && net::LooksLikeTlsFailure(std::string(st.message()))) {
    std::cerr << "fedlog: the TLS handshake with the aggregator failed: check that --pki/--ca holds the CA that "
                 "signed the aggregator's certificate and that the aggregator trusts the CA of the admin "
                 "certificate [UNAVAILABLE]\n";
    return 1;
  }
  if (st.code() == absl::StatusCode::kUnavailable && absl::StrContains(st.message(), "Connection refused")) {
    std::cerr << "fedlog: no aggregator answers at the address given (--server or FEDLOG_SERVER; connection "
                 "refused): is fedlog-server running there? [UNAVAILABLE]\n";
    return 1;
  }
  std::cerr << "fedlog: " << st.message() << " [" << absl::StatusCodeToString(st.code()) << "]\n";
  return 1;
}

// "12 s ago", "3 min ago", "2 h ago" or "never".
std::string AgoShort(int64_t ms) {
  if (ms <= 0) return "never";
  const int64_t s = std::max<int64_t>(0, (absl::ToUnixMillis(absl::Now()) - ms) / 1000);
  if (s < 120) return absl::StrCat(s, "s-ago");
  if (s < 7200) return absl::StrCat(s / 60, "min-ago");
  if (s < 2 * 86400) return absl::StrCat(s / 3600, "h-ago");
  return absl::StrCat(s / 86400, "d-ago");
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Text from a site (a name, a source) as printed: bytes outside printable ASCII become '?', so a value cannot
// move the cursor, recolour the terminal or forge rows.
std::string Shown(const std::string& text) {
  std::string out = text.substr(0, 128);
  for (char& c : out) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return out;
}

std::string Ago(int64_t ms) {
  if (ms <= 0) return "never";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// Parses the verb's args and connects; on failure prints the error and returns nullptr.
std::unique_ptr<Stub> Prepare(const std::vector<std::string>& argv, const ArgSpec& spec, Args* args, int* rc) {
  absl::StatusOr<Args> parsed = Args::Parse(argv, WithConnectionOptions(spec));
  if (!parsed.ok()) {
    *rc = 2;
    Fail(parsed.status());
    return nullptr;
  }
  *args = *parsed;
  absl::StatusOr<std::unique_ptr<Stub>> stub = ConnectAdmin(*args);
  if (!stub.ok()) {
    *rc = 2;
    Fail(stub.status());
    return nullptr;
  }
  return std::move(*stub);
}

// Parses --run and connects; returns 0 with *stub and *run_id filled, or the exit code to return.
int PrepareRun(const std::vector<std::string>& argv, std::unique_ptr<Stub>* stub, int64_t* run_id) {
  Args args;
  int rc = 0;
  *stub = Prepare(argv, {{"run"}, {}}, &args, &rc);
  if (!*stub) return rc;
  absl::StatusOr<int64_t> run = args.GetInt("run", 0);
  if (!run.ok()) return Fail(run.status()), 2;
  *run_id = *run;
  return 0;
}

int Sites(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  v1::ListSitesResponse resp;
  grpc::Status st = stub->ListSites(Ctx().get(), {}, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  // Rounds each site declined under its privacy policy in the latest run (none before the first run).
  v1::RunStatus latest;
  v1::GetRunRequest latest_req;
  const bool have_run = stub->GetRun(Ctx().get(), latest_req, &latest).ok();
  // ONLINE stays the second column: scripts count online sites with awk '$2=="yes"'.
  std::printf("%-20s %-8s %-8s %-7s %-24s %-12s %-28s %-20s %-8s %s\n", "SITE", "ONLINE", "REVOKED", "MODEL",
              "LAST SEEN", "(AGO)", "SOURCES", "ADMITTED", "PENDING", "DECLINED");
  for (const auto& s : resp.sites()) {
    std::vector<std::string> sources, admitted, pending;
    for (const auto& src : s.sources()) {
      // A site that withholds its line counts (its privacy policy) shows "-": the aggregator has no count.
      sources.push_back(absl::StrCat(Shown(src.name()), "(", src.lines_withheld() ? "-" : absl::StrCat(src.lines()),
                                     ")"));
    }
    for (const auto& a : s.admitted_sources()) admitted.push_back(Shown(a));
    for (const auto& p : s.pending_sources()) pending.push_back(Shown(p));
    const std::string admitted_text =
        !s.admitted() ? "(not yet)" : admitted.empty() ? "-" : absl::StrJoin(admitted, ",");
    const std::string model = s.model_version() > 0 ? absl::StrCat("v", s.model_version()) : "-";
    const std::string declined = have_run ? absl::StrCat(DeclinesOf(latest, s.site_id())) : "-";
    std::printf("%-20s %-8s %-8s %-7s %-24s %-12s %-28s %-20s %-8s %s\n", Shown(s.site_id()).c_str(),
                s.online() ? "yes" : "no", s.revoked() ? "yes" : "no", model.c_str(), Ago(s.last_seen_ms()).c_str(),
                AgoShort(s.last_seen_ms()).c_str(), absl::StrJoin(sources, ",").c_str(), admitted_text.c_str(),
                pending.empty() ? "-" : absl::StrJoin(pending, ",").c_str(), declined.c_str());
  }
  return 0;
}

int Admit(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {{"sources"}, {}}, &args, &rc);
  if (!stub) return rc;
  if (args.positionals().size() != 1) {
    return Fail(absl::InvalidArgumentError("usage: sites admit SITE_ID [--sources A,B]")), 2;
  }
  v1::AdmitSourcesRequest req;
  req.set_site_id(args.positionals()[0]);
  if (args.Has("sources")) {
    for (absl::string_view name : absl::StrSplit(args.Get("sources", ""), ',', absl::SkipWhitespace())) {
      req.add_sources(std::string(name));
    }
    if (req.sources_size() == 0) return Fail(absl::InvalidArgumentError("--sources needs at least one name")), 2;
  } else {
    req.set_approve_pending(true);
  }
  v1::SiteInfo resp;
  grpc::Status st = stub->AdmitSources(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::vector<std::string> admitted, pending;
  for (const auto& a : resp.admitted_sources()) admitted.push_back(Shown(a));
  for (const auto& p : resp.pending_sources()) pending.push_back(Shown(p));
  std::printf("site %s: admitted %s; pending %s\n", Shown(resp.site_id()).c_str(),
              admitted.empty() ? "-" : absl::StrJoin(admitted, ",").c_str(),
              pending.empty() ? "-" : absl::StrJoin(pending, ",").c_str());
  return 0;
}

int Revoke(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  if (args.positionals().size() != 1) return Fail(absl::InvalidArgumentError("usage: sites revoke SITE_ID")), 2;
  v1::RevokeSiteRequest req;
  req.set_site_id(args.positionals()[0]);
  v1::SiteInfo resp;
  grpc::Status st = stub->RevokeSite(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("site %s revoked\n", Shown(resp.site_id()).c_str());
  return 0;
}

int Unrevoke(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  if (args.positionals().size() != 1) return Fail(absl::InvalidArgumentError("usage: sites unrevoke SITE_ID")), 2;
  v1::RevokeSiteRequest req;
  req.set_site_id(args.positionals()[0]);
  v1::SiteInfo resp;
  grpc::Status st = stub->UnrevokeSite(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("site %s unrevoked; restart its daemon (a revoked daemon stopped federating)\n",
              resp.site_id().c_str());
  return 0;
}

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

// Sites that have said hello and are not revoked, and how many of them are online.
absl::Status CountSites(Stub* stub, int* eligible, int* online) {
  v1::ListSitesResponse sites;
  grpc::Status st = stub->ListSites(Ctx().get(), {}, &sites);
  if (!st.ok()) return net::FromGrpc(st);
  *eligible = *online = 0;
  for (const auto& site : sites.sites()) {
    if (site.revoked()) continue;
    ++*eligible;
    if (site.online()) ++*online;
  }
  return absl::OkStatus();
}

// --min-sites: given, it must be reachable (refused above the registered sites, warned above the online ones);
// not given, the sites online now, said on stderr.
absl::StatusOr<int64_t> ChooseMinSites(Stub* stub, const Args& args, int64_t site_wait_s) {
  int eligible = 0, online = 0;
  FEDLOG_RETURN_IF_ERROR(CountSites(stub, &eligible, &online));
  if (!args.Has("min-sites")) {
    if (online == 0) {
      return absl::FailedPreconditionError(
          "no site is online; start the site daemons (fedlog sites lists them) or give --min-sites K");
    }
    std::fprintf(stderr, "--min-sites not given: using %d, the sites online now\n", online);
    return online;
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t k, args.GetInt("min-sites", 1));
  if (k < 1) return absl::InvalidArgumentError("--min-sites must be at least 1");
  if (k > eligible) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--min-sites ", k, " exceeds the ", eligible,
        " site(s) that have said hello and are not revoked; no round could ever open (fedlog sites lists them)"));
  }
  if (k > online) {
    std::fprintf(stderr, "warning: only %d of the %lld site(s) needed are online now; the run waits up to %lld s "
                 "(--site-wait-s) for the others, then fails\n", online, static_cast<long long>(k),
                 static_cast<long long>(site_wait_s));
  }
  return k;
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
}

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
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("run %lld %s: %s (%lld update(s) refused)\n", static_cast<long long>(status.run_id()),
              final_state.c_str(), status.message().c_str(), static_cast<long long>(status.refused_updates()));
  if (std::string privacy = PrivacySummary(status); !privacy.empty()) std::printf("%s\n", privacy.c_str());
  return final_state == "done" ? 0 : 1;
}

int RunStart(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  ArgSpec spec{{"rounds", "min-sites", "deadline-s", "site-wait-s", "epochs", "lr", "batch", "seed", "strategy", "trim",
                "clip-norm", "max-norm", "server-opt", "server-lr", "update-dtype", "sample-fraction",
                "contrastive-steps", "meta-iterations", "fedprox-mu", "inner-steps", "max-site-samples",
                "max-site-share", "secagg-threshold", "secagg-clip-range", "secagg-step-s"},
               {"watch", "zstd", "secure-aggregation"}};
  for (const std::string& name : PrivacyOptionNames()) spec.options.insert(name);
  for (const std::string& name : PrivacyFlagNames()) spec.flags.insert(name);
  for (const std::string& name : InitialModelOptionNames()) spec.options.insert(name);
  auto stub = Prepare(argv, spec, &args, &rc);
  if (!stub) return rc;
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  auto rounds = args.GetInt("rounds", 5);
  auto site_wait = args.GetInt("site-wait-s", 600);
  if (!site_wait.ok()) return Fail(site_wait.status()), 2;
  if (*site_wait <= 0) return Fail(absl::InvalidArgumentError("--site-wait-s must be positive")), 2;
  absl::StatusOr<int64_t> min_sites = ChooseMinSites(stub.get(), args, *site_wait);
  if (!min_sites.ok()) {
    return Fail(min_sites.status()), min_sites.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  auto deadline = args.GetInt("deadline-s", 120);
  auto epochs = args.GetInt("epochs", 1);
  auto lr = args.GetDouble("lr", 1e-3);
  auto batch = args.GetInt("batch", 64);
  auto seed = args.GetInt("seed", 1);
  // line_encoder local work (defaults: model::LocalWork in common/model/site_round.h).
  auto contrastive = args.GetInt("contrastive-steps", 30);
  auto meta = args.GetInt("meta-iterations", 10);
  auto inner = args.GetInt("inner-steps", 1);
  auto mu = args.GetDouble("fedprox-mu", 0);
  for (const absl::Status& s : {rounds.status(), min_sites.status(), deadline.status(), epochs.status(),
                                lr.status(), batch.status(), seed.status(), contrastive.status(), meta.status(),
                                inner.status(), mu.status()}) {
    if (!s.ok()) return Fail(s), 2;
  }
  if (*contrastive < 0 || *meta < 0 || *inner < 0 || !(*mu >= 0)) {
    return Fail(absl::InvalidArgumentError(
               "--contrastive-steps, --meta-iterations, --inner-steps and --fedprox-mu must not be negative")),
           2;
  }
  plan->mutable_training()->set_contrastive_steps(static_cast<int32_t>(*contrastive));
  plan->mutable_training()->set_meta_iterations(static_cast<int32_t>(*meta));
  plan->mutable_training()->set_inner_steps(static_cast<int32_t>(*inner));
  plan->mutable_training()->set_fedprox_mu(static_cast<float>(*mu));
  plan->set_rounds(static_cast<int32_t>(*rounds));
  plan->set_min_sites(static_cast<int32_t>(*min_sites));
  plan->set_round_deadline_s(static_cast<int32_t>(*deadline));
  plan->set_site_wait_s(static_cast<int32_t>(std::min<int64_t>(*site_wait, 1 << 30)));
  plan->mutable_training()->set_local_epochs(static_cast<int32_t>(*epochs));
  plan->mutable_training()->set_learning_rate(static_cast<float>(*lr));
  plan->mutable_training()->set_batch_size(static_cast<int32_t>(*batch));
  plan->mutable_training()->set_seed(static_cast<uint64_t>(*seed));
  plan->set_strategy(args.Get("strategy", "fedavg"));
  plan->set_server_optimizer(args.Get("server-opt", "none"));
  plan->set_update_dtype(args.Get("update-dtype", "float32"));
  plan->set_update_zstd(args.Has("zstd"));
  for (const auto& [flag, setter] : std::vector<std::pair<std::string, void (v1::RunPlan::*)(double)>>{
           {"trim", &v1::RunPlan::set_trim_fraction},
           {"clip-norm", &v1::RunPlan::set_clip_norm},
           {"max-norm", &v1::RunPlan::set_max_update_norm},
           {"server-lr", &v1::RunPlan::set_server_lr},
           {"sample-fraction", &v1::RunPlan::set_sample_fraction},
           {"max-site-share", &v1::RunPlan::set_max_site_weight_share}}) {
    absl::StatusOr<double> v = args.GetDouble(flag, 0);
    if (!v.ok()) return Fail(v.status()), 2;
    (plan->*setter)(*v);
  }
  absl::StatusOr<int64_t> max_site_samples = args.GetInt("max-site-samples", 0);
  if (!max_site_samples.ok()) return Fail(max_site_samples.status()), 2;
  plan->set_max_site_samples(*max_site_samples);
  // Secure aggregation (docs/PRIVACY.md); the aggregator fills the defaults and refuses incompatible settings.
  plan->set_secure_aggregation(args.Has("secure-aggregation"));
  auto threshold = args.GetInt("secagg-threshold", 0);
  auto clip_range = args.GetDouble("secagg-clip-range", 0);
  auto step_s = args.GetInt("secagg-step-s", 0);
  for (const absl::Status& s : {threshold.status(), clip_range.status(), step_s.status()}) {
    if (!s.ok()) return Fail(s), 2;
  }
  if (!plan->secure_aggregation() &&
      (args.Has("secagg-threshold") || args.Has("secagg-clip-range") || args.Has("secagg-step-s"))) {
    return Fail(absl::InvalidArgumentError("--secagg-* flags need --secure-aggregation")), 2;
  }
  if (*threshold < 0 || *threshold > (1 << 20) || *step_s < 0 || *step_s > 3600) {
    return Fail(absl::InvalidArgumentError("--secagg-threshold or --secagg-step-s out of range")), 2;
  }
  plan->set_secagg_threshold(static_cast<int32_t>(*threshold));
  plan->set_secagg_clip_range(*clip_range);
  plan->set_secagg_step_s(static_cast<int32_t>(*step_s));
  if (absl::Status st = SetPrivacyFlags(args, plan); !st.ok()) return Fail(st), 2;
  if (absl::Status st = SetInitialModelFlags(args, plan); !st.ok()) return Fail(st), 2;
  v1::RunStatus resp;
  grpc::Status st = stub->StartRun(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("run %lld started: %d round(s), min %d site(s), deadline %d s, strategy %s, updates %s%s%s\n",
              static_cast<long long>(resp.run_id()), resp.plan().rounds(), resp.plan().min_sites(),
              resp.plan().round_deadline_s(), resp.plan().strategy().c_str(),
              resp.plan().update_dtype().empty() ? "float32" : resp.plan().update_dtype().c_str(),
              resp.plan().update_zstd() ? "+zstd" : "",
              resp.plan().secure_aggregation() ? ", secure aggregation" : "");
  std::fflush(stdout);
  return args.Has("watch") ? WatchRun(stub.get(), resp.run_id()) : 0;
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
  return 0;
}

int RunStop(const std::vector<std::string>& argv) {
  std::unique_ptr<Stub> stub;
  int64_t run = 0;
  if (int rc = PrepareRun(argv, &stub, &run); rc != 0) return rc;
  v1::StopRunRequest req;
  req.set_run_id(run);
  v1::RunStatus s;
  grpc::Status st = stub->StopRun(Ctx().get(), req, &s);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("run %lld %s\n", static_cast<long long>(s.run_id()), s.state().c_str());
  return 0;
}

int Models(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  v1::ListModelsResponse resp;
  grpc::Status st = stub->ListModels(Ctx().get(), {}, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  // QUALITY: the sites' mean held-out F1 (line_encoder) or reconstruction loss (mlp_autoencoder) of the version,
  // measured when a later round started from it; "-" until one did.
  std::printf("%-8s %-8s %-4s %-5s %-8s %-6s %-9s %-10s %-13s %-12s %s\n", "VERSION", "PARENT", "RUN", "ROUND",
              "STRATEGY", "SITES", "SAMPLES", "LOSS", "QUALITY", "SHA256", "PROMOTED");
  for (const auto& m : resp.models()) {
    auto loss = m.metrics().find("mean_train_loss");
    std::string quality = "-";
    if (auto f1 = m.metrics().find("quality_holdout_f1"); f1 != m.metrics().end()) {
      quality = absl::StrFormat("f1:%.4f", f1->second);
    } else if (auto l = m.metrics().find("quality_holdout_loss"); l != m.metrics().end()) {
      quality = absl::StrFormat("loss:%.4f", l->second);
    }
    std::printf("%-8s %-8s %-4lld %-5d %-8s %-6d %-9lld %-10s %-13s %-12s %s\n", absl::StrCat("v", m.version()).c_str(),
                m.parent() ? absl::StrCat("v", m.parent()).c_str() : "-", static_cast<long long>(m.run_id()),
                m.round(), m.strategy().c_str(), m.num_sites(), static_cast<long long>(m.num_samples()),
                loss != m.metrics().end() ? absl::StrFormat("%.6f", loss->second).c_str() : "-", quality.c_str(),
                m.sha256().substr(0, 12).c_str(), m.version() == resp.promoted_version() ? "*" : "");
  }
  return 0;
}

int Promote(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {{}, {"force"}}, &args, &rc);
  if (!stub) return rc;
  int64_t version = 0;
  std::string v = args.positionals().size() == 1 ? args.positionals()[0] : "";
  if (!v.empty() && v[0] == 'v') v = v.substr(1);
  if (!absl::SimpleAtoi(v, &version) || version <= 0) {
    return Fail(absl::InvalidArgumentError("usage: models promote VERSION [--force]")), 2;
  }
  v1::PromoteModelRequest req;
  req.set_version(version);
  req.set_force(args.Has("force"));
  v1::ModelManifest m;
  grpc::Status st = stub->PromoteModel(Ctx().get(), req, &m);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("model v%lld promoted\n", static_cast<long long>(m.version()));
  return 0;
}

int Rollback(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  v1::ModelManifest m;
  grpc::Status st = stub->RollbackModel(Ctx().get(), {}, &m);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("rolled back: model v%lld is promoted\n", static_cast<long long>(m.version()));
  return 0;
}

}  // namespace

void AddAdminVerbs(std::vector<Verb>* verbs) {
  const std::string conn = " [--server ADDR] [--pki DIR | --ca F --cert F --key F]";
  verbs->push_back({"sites", "sites" + conn,
                    "list sites: online, revoked, the promoted model they have, last seen, sources (admitted, "
                    "pending), rounds of the latest run they declined (privacy policy)",
                    Sites});
  verbs->push_back({"sites revoke", "sites revoke SITE_ID" + conn,
                    "revoke a site: it is refused from now on (its own detection goes on)", Revoke});
  verbs->push_back({"sites unrevoke", "sites unrevoke SITE_ID" + conn,
                    "lift a revocation; then restart the site's daemon", Unrevoke});
  verbs->push_back({"sites admit", "sites admit SITE_ID [--sources A,B]" + conn,
                    "set the sources a site may train adapters for and receive (without --sources: approve its "
                    "pending ones)",
                    Admit});
  verbs->push_back({"run start",
                    "run start --rounds N [--min-sites K] [--site-wait-s W] [--deadline-s S] [--epochs E] [--lr LR] [--batch B] "
                    "[--seed S] [--strategy fedavg|weighted_fedavg|median|trimmed_mean] [--trim F] [--clip-norm C] "
                    "[--max-norm M] [--server-opt none|fedadam|fedyogi] [--server-lr LR] "
                    "[--update-dtype float32|float16|int8] [--zstd] [--sample-fraction F] [--contrastive-steps N] "
                    "[--meta-iterations N] [--inner-steps N] [--fedprox-mu MU] [--max-site-samples N] "
                    "[--max-site-share F] [--secure-aggregation [--secagg-threshold T] [--secagg-clip-range R] "
                    "[--secagg-step-s S]] [--dp-noise-multiplier S --dp-clip C [--dp-delta D] [--target-epsilon E] "
                    "[--dp-mode site|line [--dp-objective per_line|episodes] [--dp-contrastive] [--dp-anomalous-rate Q] "
                    "[--dp-normal-lines N] [--dp-scope adapters|all] [--dp-count-noise S] "
                    "[--dp-prototype-noise S | --dp-prototype-share F] [--dp-prototype-counts]]] "
                    "[--initial-model FILE [--initial-model-sha256 HEX]] [--watch]" + conn,
                    "start a federated run (K defaults to the sites online now)", RunStart});
  verbs->push_back({"run watch", "run watch [--run ID]" + conn, "print a row per completed round until the run ends",
                    RunWatch});
  verbs->push_back({"run status", "run status [--run ID]" + conn,
                    "show a run, its plan (on stderr) and its completed rounds", RunStatusVerb});
  verbs->push_back({"run stop", "run stop [--run ID]" + conn, "stop the active run", RunStop});
  verbs->push_back({"models", "models" + conn, "list model versions; * marks the promoted one", Models});
  verbs->push_back({"models promote", "models promote VERSION [--force]" + conn,
                    "promote a model version (--force: also an untrained initial one)", Promote});
  verbs->push_back({"models rollback", "models rollback" + conn, "promote the previously promoted version", Rollback});
}

}  // namespace fedlog::cli
