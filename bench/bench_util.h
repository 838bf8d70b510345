// Small helpers the benchmarks share: a "--name value" flag reader, the median of a sample, and an mTLS channel
// to a local aggregator with a test PKI's credentials. Header-only; thread-safe.
#ifndef FEDLOG_BENCH_BENCH_UTIL_H_
#define FEDLOG_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/net/tls.h"

namespace fedlog::bench {

// The value after `name` in argv ("--sites 8,16"), else `fallback`.
inline std::string Arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

// The median (upper median for an even count); 0 for an empty sample.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// A channel to the aggregator on localhost:port as `who`, with pki/ca.crt, pki/<who>.crt and pki/<who>.key.
inline std::shared_ptr<grpc::Channel> Channel(const std::string& pki, const std::string& who, int port) {
  auto creds = fedlog::net::MakeChannelCredentials(
      {JoinPath(pki, "ca.crt"), JoinPath(pki, who + ".crt"), JoinPath(pki, who + ".key")});
  return fedlog::net::MakeChannel(absl::StrCat("localhost:", port), *creds);
}

}  // namespace fedlog::bench

#endif  // FEDLOG_BENCH_BENCH_UTIL_H_
