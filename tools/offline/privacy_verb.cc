// `fedlog privacy epsilon --sampling-rate Q --noise-multiplier S --steps T --delta D [--orders LIST]`: the
// (epsilon, delta) of T steps of the sampled Gaussian mechanism under the RDP accountant (common/privacy), for
// planning a DP run. Prints one JSON object on stdout.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/privacy/rdp_accountant.h"
#include "tools/cli/args.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
namespace {

constexpr char kUsage[] =
    "usage: fedlog privacy epsilon --sampling-rate Q --noise-multiplier S --steps T --delta D [--orders LIST]\n"
    "  LIST: comma-separated RDP orders > 1 (default 1.1,1.2,...,10.9,11..63,128,256,512,1024)\n";

int Usage(const std::string& why) {
  std::fprintf(stderr, "fedlog privacy epsilon: %s\n%s", why.c_str(), kUsage);
  return 2;
}

int RunPrivacyEpsilon(const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args =
      Args::Parse(argv, {{"sampling-rate", "noise-multiplier", "steps", "delta", "orders"}, {}});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  for (const char* required : {"sampling-rate", "noise-multiplier", "steps", "delta"}) {
    if (!args->Has(required)) return Usage(std::string("--") + required + " is required");
  }
  absl::StatusOr<double> q = args->GetDouble("sampling-rate", 0);
  absl::StatusOr<double> sigma = args->GetDouble("noise-multiplier", 0);
  absl::StatusOr<int64_t> steps = args->GetInt("steps", 0);
  absl::StatusOr<double> delta = args->GetDouble("delta", 0);
  for (const absl::Status& s : {q.status(), sigma.status(), steps.status(), delta.status()}) {
    if (!s.ok()) return Usage(std::string(s.message()));
  }
  std::vector<double> orders = privacy::DefaultOrders();
  if (args->Has("orders")) {
    orders.clear();
    for (absl::string_view part : absl::StrSplit(args->Get("orders"), ',', absl::SkipWhitespace())) {
      double a = 0;
      if (!absl::SimpleAtod(absl::StripAsciiWhitespace(part), &a)) {
        return Usage("--orders: '" + std::string(part) + "' is not a number");
      }
      orders.push_back(a);
    }
    if (orders.empty()) return Usage("--orders is empty");
  }
  absl::StatusOr<privacy::EpsilonAtOrder> e = privacy::SampledGaussianEpsilon(*q, *sigma, *steps, *delta, orders);
  if (!e.ok()) {
    if (e.status().code() == absl::StatusCode::kInvalidArgument) return Usage(std::string(e.status().message()));
    std::fprintf(stderr, "fedlog privacy epsilon: %s\n", std::string(e.status().message()).c_str());
    return 1;
  }
  char eps[64];
  if (std::isfinite(e->epsilon)) {
    std::snprintf(eps, sizeof(eps), "%.10g", e->epsilon);
  } else {
    std::snprintf(eps, sizeof(eps), "null");  // JSON has no infinity: no order gives a finite bound
  }
  std::printf("{\"epsilon\": %s, \"order\": %.10g, \"delta\": %.10g, \"sampling_rate\": %.10g, "
              "\"noise_multiplier\": %.10g, \"steps\": %lld}\n",
              eps, e->order, *delta, *q, *sigma, static_cast<long long>(*steps));
  return 0;
}

}  // namespace

void AddPrivacyVerbs(std::vector<Verb>* verbs) {
  verbs->push_back({"privacy epsilon",
                    "privacy epsilon --sampling-rate Q --noise-multiplier S --steps T --delta D [--orders LIST]",
                    "Epsilon of T steps of the sampled Gaussian mechanism (RDP accountant), as JSON.",
                    RunPrivacyEpsilon});
}

}  // namespace fedlog::cli
