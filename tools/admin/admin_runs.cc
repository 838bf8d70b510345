// `fedlog run start` and `run stop`: a run's plan from the command line (the privacy flags in admin_privacy.cc,
// the initial model's in admin_initial_model.cc); the aggregator fills defaults and refuses what it cannot run.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/net/tls.h"
#include "tools/admin/admin_cli.h"
#include "tools/admin/admin_initial_model.h"
#include "tools/admin/admin_privacy.h"

namespace fedlog::cli::admin {
namespace {

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

// The sites' local work per round (defaults: model::LocalWork in common/model/site_round.h) and the run's shape
// (rounds, deadline, strategy, update encoding).
absl::Status SetTrainingFlags(const Args& args, v1::RunPlan* plan) {
  FEDLOG_ASSIGN_OR_RETURN(int64_t rounds, args.GetInt("rounds", 5));
  FEDLOG_ASSIGN_OR_RETURN(int64_t deadline, args.GetInt("deadline-s", 120));
  FEDLOG_ASSIGN_OR_RETURN(int64_t epochs, args.GetInt("epochs", 1));
  FEDLOG_ASSIGN_OR_RETURN(double lr, args.GetDouble("lr", 1e-3));
  FEDLOG_ASSIGN_OR_RETURN(int64_t batch, args.GetInt("batch", 64));
  FEDLOG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 1));
  FEDLOG_ASSIGN_OR_RETURN(int64_t contrastive, args.GetInt("contrastive-steps", 30));
  FEDLOG_ASSIGN_OR_RETURN(int64_t meta, args.GetInt("meta-iterations", 10));
  FEDLOG_ASSIGN_OR_RETURN(int64_t inner, args.GetInt("inner-steps", 1));
  FEDLOG_ASSIGN_OR_RETURN(double mu, args.GetDouble("fedprox-mu", 0));
  if (contrastive < 0 || meta < 0 || inner < 0 || !(mu >= 0)) {
    return absl::InvalidArgumentError(
        "--contrastive-steps, --meta-iterations, --inner-steps and --fedprox-mu must not be negative");
  }
  v1::TrainingPlan* t = plan->mutable_training();
  t->set_contrastive_steps(static_cast<int32_t>(contrastive));
  t->set_meta_iterations(static_cast<int32_t>(meta));
  t->set_inner_steps(static_cast<int32_t>(inner));
  t->set_fedprox_mu(static_cast<float>(mu));
  t->set_local_epochs(static_cast<int32_t>(epochs));
  t->set_learning_rate(static_cast<float>(lr));
  t->set_batch_size(static_cast<int32_t>(batch));
  t->set_seed(static_cast<uint64_t>(seed));
  plan->set_rounds(static_cast<int32_t>(rounds));
  plan->set_round_deadline_s(static_cast<int32_t>(deadline));
  plan->set_strategy(args.Get("strategy", "fedavg"));
  plan->set_server_optimizer(args.Get("server-opt", "none"));
  plan->set_update_dtype(args.Get("update-dtype", "float32"));
  plan->set_update_zstd(args.Has("zstd"));
  return absl::OkStatus();
}

// How updates are combined and bounded: trimming, clipping, the server optimizer's rate, sampling and the caps
// on one site's weight.
absl::Status SetAggregationFlags(const Args& args, v1::RunPlan* plan) {
  for (const auto& [flag, setter] : std::vector<std::pair<std::string, void (v1::RunPlan::*)(double)>>{
           {"trim", &v1::RunPlan::set_trim_fraction},
           {"clip-norm", &v1::RunPlan::set_clip_norm},
           {"max-norm", &v1::RunPlan::set_max_update_norm},
           {"server-lr", &v1::RunPlan::set_server_lr},
           {"sample-fraction", &v1::RunPlan::set_sample_fraction},
           {"max-site-share", &v1::RunPlan::set_max_site_weight_share}}) {
    FEDLOG_ASSIGN_OR_RETURN(double v, args.GetDouble(flag, 0));
    (plan->*setter)(v);
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t max_site_samples, args.GetInt("max-site-samples", 0));
  plan->set_max_site_samples(max_site_samples);
  // Adaptive clipping: on by default (the aggregator fills in M); "off" or a multiple M >= 1.
  if (args.Has("adaptive-clip")) {
    if (args.Get("adaptive-clip") == "off") {
      plan->set_adaptive_clip_off(true);
    } else {
      FEDLOG_ASSIGN_OR_RETURN(double m, args.GetDouble("adaptive-clip", 0));
      if (!(m >= 1)) return absl::InvalidArgumentError("--adaptive-clip must be off or a multiple >= 1");
      plan->set_adaptive_clip_multiple(m);
    }
  }
  return absl::OkStatus();
}

// Secure aggregation (docs/PRIVACY.md); the aggregator fills the defaults and refuses incompatible settings.
absl::Status SetSecureAggregationFlags(const Args& args, v1::RunPlan* plan) {
  plan->set_secure_aggregation(args.Has("secure-aggregation"));
  FEDLOG_ASSIGN_OR_RETURN(int64_t threshold, args.GetInt("secagg-threshold", 0));
  FEDLOG_ASSIGN_OR_RETURN(double clip_range, args.GetDouble("secagg-clip-range", 0));
  FEDLOG_ASSIGN_OR_RETURN(int64_t step_s, args.GetInt("secagg-step-s", 0));
  if (!plan->secure_aggregation() &&
      (args.Has("secagg-threshold") || args.Has("secagg-clip-range") || args.Has("secagg-step-s"))) {
    return absl::InvalidArgumentError("--secagg-* flags need --secure-aggregation");
  }
  if (threshold < 0 || threshold > (1 << 20) || step_s < 0 || step_s > 3600) {
    return absl::InvalidArgumentError("--secagg-threshold or --secagg-step-s out of range");
  }
  plan->set_secagg_threshold(static_cast<int32_t>(threshold));
  plan->set_secagg_clip_range(clip_range);
  plan->set_secagg_step_s(static_cast<int32_t>(step_s));
  return absl::OkStatus();
}

}  // namespace

int RunStart(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  ArgSpec spec{{"rounds", "min-sites", "deadline-s", "site-wait-s", "epochs", "lr", "batch", "seed", "strategy", "trim",
                "clip-norm", "max-norm", "server-opt", "server-lr", "update-dtype", "sample-fraction",
                "contrastive-steps", "meta-iterations", "fedprox-mu", "inner-steps", "max-site-samples",
                "max-site-share", "adaptive-clip", "secagg-threshold", "secagg-clip-range", "secagg-step-s"},
               {"watch", "zstd", "secure-aggregation"}};
  for (const std::string& name : PrivacyOptionNames()) spec.options.insert(name);
  for (const std::string& name : PrivacyFlagNames()) spec.flags.insert(name);
  for (const std::string& name : InitialModelOptionNames()) spec.options.insert(name);
  auto stub = Prepare(argv, spec, &args, &rc);
  if (!stub) return rc;
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  auto site_wait = args.GetInt("site-wait-s", 600);
  if (!site_wait.ok()) return Fail(site_wait.status()), 2;
  if (*site_wait <= 0) return Fail(absl::InvalidArgumentError("--site-wait-s must be positive")), 2;
  absl::StatusOr<int64_t> min_sites = ChooseMinSites(stub.get(), args, *site_wait);
  if (!min_sites.ok()) {
    return Fail(min_sites.status()), min_sites.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  plan->set_min_sites(static_cast<int32_t>(*min_sites));
  plan->set_site_wait_s(static_cast<int32_t>(std::min<int64_t>(*site_wait, 1 << 30)));
  for (auto set : {SetTrainingFlags, SetAggregationFlags, SetSecureAggregationFlags, SetPrivacyFlags,
                   SetInitialModelFlags}) {
    if (absl::Status st = set(args, plan); !st.ok()) return Fail(st), 2;
  }
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

}  // namespace fedlog::cli::admin
