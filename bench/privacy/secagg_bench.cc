// Cost of privacy on one core, each figure next to a baseline measured in the same run:
//  - mask expansion: ApplyMask (AES-256-CTR key stream added into uint64 lanes, and into uint32 lanes) in GB/s
//    of lanes, next to memcpy of the same bytes and a plain uint64 lane-wise sum of two vectors of the same size;
//  - a full secure-aggregation round (secagg::SiteSession x n + AggregatorSession, keys, shares, masking,
//    unmasking, decoding) for n sites x `params` float parameters, in 64-bit and in 32-bit lanes (N = n,
//    R = 1, W = 1, f the largest that cannot wrap), next to the plain weighted float sum of the same updates
//    (what FedAvg does with them), with no dropout and with one site dropping after sharing;
//  - the RDP accountant at the default orders (one epsilon for 1000 steps).
// Sites run one after another on the same core; per-site time is what each site pays when they run in parallel.
// All times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other processes on a shared machine
// distort them less; the mask expansion is also given in wall-clock time, with the load average at the start.
// usage: fedlog-bench-secagg [--params N] [--sites 8,16] [--lane-bits 64,32] [--reps R] [--mask-mb M]
//        prints one JSON object
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <stdlib.h>
#include <time.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/privacy/rdp_accountant.h"
#include "common/secagg/aggregator_session.h"
#include "common/secagg/prg.h"
#include "common/secagg/site_session.h"

namespace {

// The calling thread's CPU time; the benchmark is single-threaded.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
};
using WallClock = std::chrono::steady_clock;
using fedlog::secagg::AggregatorSession;
using fedlog::secagg::SiteSession;

double Seconds(double a, double b) { return b - a; }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

const char* Arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

struct RoundTimes {
  double site_total = 0;   // all sites' work, summed
  double site_max = 0;     // the slowest site
  double aggregator = 0;   // all aggregator calls
  double max_abs_error = 0;
};

bool Check(const absl::Status& s) {
  if (!s.ok()) std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return s.ok();
}

// One round; `drop` >= 0 names a site that shares its keys and then leaves before masking.
bool SecAggRound(int n, int lane_bits, const std::vector<std::vector<float>>& x, const std::vector<double>& w,
                 int drop, RoundTimes* t) {
  fedlog::secagg::RoundConfig c;
  c.session_id = "bench-round";
  c.threshold = n / 2 + 1;
  c.vector_length = x[0].size();
  c.quantization.clip_range = 1.0;
  c.quantization.max_weight = 1.0;
  c.quantization.max_sites = n;
  c.quantization.lane_bits = lane_bits;  // f: the largest that cannot wrap
  std::vector<double> site_time(static_cast<size_t>(n), 0.0);
  auto t0 = Clock::now();
  auto agg = AggregatorSession::Create(c);
  if (!Check(agg.status())) return false;
  t->aggregator += Seconds(t0, Clock::now());
  std::vector<std::unique_ptr<SiteSession>> sites;
  auto timed_site = [&](int i, auto fn) {
    auto a = Clock::now();
    bool ok = fn();
    site_time[static_cast<size_t>(i)] += Seconds(a, Clock::now());
    return ok;
  };
  auto timed_agg = [&](auto fn) {
    auto a = Clock::now();
    bool ok = fn();
    t->aggregator += Seconds(a, Clock::now());
    return ok;
  };
  for (int i = 0; i < n; ++i) {
    fedlog::secagg::AdvertiseKeys adv;
    if (!timed_site(i, [&] {
          fedlog::secagg::SiteOptions o;
          o.site_id = "site-" + std::to_string(100 + i);
          auto s = SiteSession::Create(o, c);
          if (!Check(s.status())) return false;
          sites.push_back(std::move(*s));
          auto a = sites.back()->Advertise();
          if (!Check(a.status())) return false;
          adv = *a;
          return true;
        }))
      return false;
    if (!timed_agg([&] { return Check((*agg)->AddAdvertisement(adv)); })) return false;
  }
  fedlog::secagg::KeyRoster roster;
  if (!timed_agg([&] {
        auto r = (*agg)->CloseAdvertising();
        if (!Check(r.status())) return false;
        roster = *r;
        return true;
      }))
    return false;
  for (int i = 0; i < n; ++i) {
    fedlog::secagg::ShareKeysMessage m;
    if (!timed_site(i, [&] {
          auto r = sites[static_cast<size_t>(i)]->ShareSecrets(roster);
          if (!Check(r.status())) return false;
          m = std::move(*r);
          return true;
        }))
      return false;
    if (!timed_agg([&] { return Check((*agg)->AddShares(m)); })) return false;
  }
  std::map<uint32_t, fedlog::secagg::ShareDelivery> del;
  if (!timed_agg([&] {
        auto r = (*agg)->CloseSharing();
        if (!Check(r.status())) return false;
        del = std::move(*r);
        return true;
      }))
    return false;
  for (int i = 0; i < n; ++i) {
    if (i == drop) continue;
    fedlog::secagg::MaskedInput m;
    SiteSession& s = *sites[static_cast<size_t>(i)];
    if (!timed_site(i, [&] {
          auto r = s.MaskInput(del.at(s.index()), x[static_cast<size_t>(i)], w[static_cast<size_t>(i)]);
          if (!Check(r.status())) return false;
          m = std::move(*r);
          return true;
        }))
      return false;
    if (!timed_agg([&] { return Check((*agg)->AddMaskedInput(m)); })) return false;
  }
  fedlog::secagg::UnmaskRequest req;
  if (!timed_agg([&] {
        auto r = (*agg)->CloseMasking();
        if (!Check(r.status())) return false;
        req = *r;
        return true;
      }))
    return false;
  for (int i = 0; i < n; ++i) {
    if (i == drop) continue;
    fedlog::secagg::UnmaskResponse resp;
    if (!timed_site(i, [&] {
          auto r = sites[static_cast<size_t>(i)]->Unmask(req);
          if (!Check(r.status())) return false;
          resp = std::move(*r);
          return true;
        }))
      return false;
    if (!timed_agg([&] { return Check((*agg)->AddUnmaskResponse(resp)); })) return false;
  }
  absl::StatusOr<fedlog::secagg::AggregateResult> result;
  if (!timed_agg([&] {
        result = (*agg)->Finish();
        return Check(result.status());
      }))
    return false;
  // Accuracy against the plain weighted sum of the included sites.
  double err = 0;
  for (size_t j = 0; j < x[0].size(); ++j) {
    double plain = 0;
    for (int i = 0; i < n; ++i) {
      if (i != drop) plain += w[static_cast<size_t>(i)] * x[static_cast<size_t>(i)][j];
    }
    err = std::max(err, std::fabs(plain - result->sum.weighted_sum[j]));
  }
  t->max_abs_error = std::max(t->max_abs_error, err);
  for (double s : site_time) {
    t->site_total += s;
    t->site_max = std::max(t->site_max, s);
  }
  return true;
}

// `reps` rounds at n sites in `lane_bits`-bit lanes, each next to the plain weighted sum; prints one JSON
// object (preceded by a comma unless `first`).
bool RoundsAt(int n, int lane_bits, int64_t params, int64_t reps, const std::vector<std::vector<float>>& x,
              const std::vector<double>& w, bool first) {
  std::vector<double> t_plain, t_all, t_site, t_agg, t_drop_agg, t_drop_all;
  double err = 0;
  for (int64_t r = 0; r < reps; ++r) {
    // Plain weighted float sum of the same updates (FedAvg's accumulation) and the division by the weights.
    auto p0 = Clock::now();
    std::vector<float> acc(static_cast<size_t>(params), 0.0f);
    double wsum = 0;
    for (int i = 0; i < n; ++i) {
      const float wi = static_cast<float>(w[static_cast<size_t>(i)]);
      const float* xi = x[static_cast<size_t>(i)].data();
      for (size_t j = 0; j < acc.size(); ++j) acc[j] += wi * xi[j];
      wsum += w[static_cast<size_t>(i)];
    }
    for (float& v : acc) v = static_cast<float>(v / wsum);
    t_plain.push_back(Seconds(p0, Clock::now()));
    if (acc[3] == 12345.f) return false;
    RoundTimes full, dropped;
    if (!SecAggRound(n, lane_bits, x, w, -1, &full) || !SecAggRound(n, lane_bits, x, w, n / 2, &dropped)) {
      return false;
    }
    t_all.push_back(full.site_total + full.aggregator);
    t_site.push_back(full.site_max);
    t_agg.push_back(full.aggregator);
    t_drop_agg.push_back(dropped.aggregator);
    t_drop_all.push_back(dropped.site_total + dropped.aggregator);
    err = std::max({err, full.max_abs_error, dropped.max_abs_error});
  }
  std::printf("%s\n  {\"sites\": %d, \"lane_bits\": %d, \"threshold\": %d, \"plain_weighted_sum_s\": %.4f,"
              " \"secagg_total_cpu_s\": %.4f, \"secagg_slowest_site_s\": %.4f, \"secagg_aggregator_s\": %.4f,"
              " \"secagg_one_dropout_aggregator_s\": %.4f, \"secagg_one_dropout_total_cpu_s\": %.4f,"
              " \"secagg_critical_path_to_plain\": %.2f, \"max_abs_error\": %.3g}",
              first ? "" : ",", n, lane_bits, n / 2 + 1, Median(t_plain), Median(t_all), Median(t_site),
              Median(t_agg), Median(t_drop_agg), Median(t_drop_all),
              (Median(t_site) + Median(t_agg)) / Median(t_plain), err);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t params = 1'000'000, reps = 3, mask_mb = 64;
  absl::SimpleAtoi(Arg(argc, argv, "--params", "1000000"), &params);
  absl::SimpleAtoi(Arg(argc, argv, "--reps", "3"), &reps);
  absl::SimpleAtoi(Arg(argc, argv, "--mask-mb", "64"), &mask_mb);
  std::vector<int> site_counts, widths;
  for (absl::string_view s : absl::StrSplit(Arg(argc, argv, "--sites", "8,16"), ',')) {
    int v = 0;
    if (absl::SimpleAtoi(s, &v) && v >= 2) site_counts.push_back(v);
  }
  for (absl::string_view s : absl::StrSplit(Arg(argc, argv, "--lane-bits", "64,32"), ',')) {
    int v = 0;
    if (absl::SimpleAtoi(s, &v) && (v == 32 || v == 64)) widths.push_back(v);
  }
  if (params < 1 || reps < 1 || mask_mb < 1 || site_counts.empty() || widths.empty()) {
    std::fprintf(stderr,
                 "usage: fedlog-bench-secagg [--params N] [--sites 8,16] [--lane-bits 64,32] [--reps R] [--mask-mb M]\n");
    return 2;
  }

  // Mask expansion vs memcpy vs a plain lane-wise sum, same bytes; the key stream added as uint64 and as uint32.
  const size_t lanes = static_cast<size_t>(mask_mb) * (1 << 20) / 8;
  std::vector<uint64_t> a(lanes, 1), b(lanes, 2), sink(lanes);
  std::vector<uint32_t> a32(2 * lanes, 1);
  auto seed = fedlog::secagg::SecretKey::Random();
  if (!seed.ok()) return 1;
  double load[1] = {0};
  getloadavg(load, 1);
  std::vector<double> t_mask, t_mask_wall, t_mask32, t_copy, t_sum;
  for (int64_t r = 0; r < reps + 1; ++r) {  // the first repetition warms pages and caches
    auto w0 = WallClock::now();
    auto t0 = Clock::now();
    if (!Check(fedlog::secagg::ApplyMask(*seed, fedlog::secagg::MaskSign::kAdd, absl::MakeSpan(a)))) return 1;
    auto t1 = Clock::now();
    const double wall = std::chrono::duration<double>(WallClock::now() - w0).count();
    std::memcpy(sink.data(), b.data(), lanes * 8);
    auto t2 = Clock::now();
    for (size_t i = 0; i < lanes; ++i) a[i] += b[i];
    auto t3 = Clock::now();
    if (!Check(fedlog::secagg::ApplyMask(*seed, fedlog::secagg::MaskSign::kAdd, absl::MakeSpan(a32)))) return 1;
    auto t4 = Clock::now();
    if (r == 0) continue;
    t_mask.push_back(Seconds(t0, t1));
    t_mask_wall.push_back(wall);
    t_copy.push_back(Seconds(t1, t2));
    t_sum.push_back(Seconds(t2, t3));
    t_mask32.push_back(Seconds(t3, t4));
  }
  if (sink[lanes / 2] == 12345 && a[7] == 3 && a32[9] == 5) return 1;  // keep the work observable
  const double bytes = static_cast<double>(lanes) * 8;
  std::printf("{\"benchmark\": \"secagg\", \"params\": %lld, \"reps\": %lld, \"loadavg_1min\": %.2f,\n",
              static_cast<long long>(params), static_cast<long long>(reps), load[0]);
  std::printf(" \"mask_expansion_gb_per_s\": %.3f, \"mask_expansion_wall_gb_per_s\": %.3f,"
              " \"mask_expansion_32bit_lanes_gb_per_s\": %.3f,"
              " \"memcpy_gb_per_s\": %.3f, \"lane_sum_gb_per_s\": %.3f, \"mask_mb\": %lld,\n",
              bytes / Median(t_mask) / 1e9, bytes / Median(t_mask_wall) / 1e9, bytes / Median(t_mask32) / 1e9,
              bytes / Median(t_copy) / 1e9, bytes / Median(t_sum) / 1e9, static_cast<long long>(mask_mb));

  // Accountant.
  auto ta = Clock::now();
  auto eps = fedlog::privacy::SampledGaussianEpsilon(0.01, 1.1, 1000, 1e-5, fedlog::privacy::DefaultOrders());
  const double t_acc = Seconds(ta, Clock::now());
  if (!eps.ok()) return 1;
  std::printf(" \"accountant_ms_default_orders\": %.3f,\n \"rounds\": [", t_acc * 1e3);

  bool first = true;
  for (const int n : site_counts) {
    std::mt19937_64 rng(42);  // update values only; keys and masks come from RAND_bytes
    std::normal_distribution<float> d(0.0f, 0.05f);
    std::vector<std::vector<float>> x(static_cast<size_t>(n), std::vector<float>(static_cast<size_t>(params)));
    std::vector<double> w(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      for (float& v : x[static_cast<size_t>(i)]) v = d(rng);
      w[static_cast<size_t>(i)] = (1.0 + i % 3) / (2.0 * n);  // uneven weights, not powers of two
    }
    for (const int bits : widths) {
      if (!RoundsAt(n, bits, params, reps, x, w, first)) return 1;
      first = false;
    }
  }
  std::printf("\n ]}\n");
  return 0;
}
