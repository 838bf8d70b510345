// What the aggregator fuzz entries share (federation_fuzz_entry.h, admin_fuzz_entry.h, secagg_fuzz_entry.h): an
// input decoder that turns any bytes into a valid program, an in-process aggregator over real mTLS on loopback
// with a PKI made at first use by certs/make-dev-pki.sh (in /dev/shm where there is one: every call is an SQLite commit), protobuf's
// non-fatal log lines dropped (raw requests with invalid UTF-8 would flood the output), channels that
// present a certificate of that PKI, and the shutdown that must run before OpenSSL's exit handler.
// Not thread-safe except Input (one per thread) and the stubs made from ChannelFor (gRPC's own).
#ifndef FEDLOG_TESTS_FUZZ_FUZZ_AGGREGATOR_H_
#define FEDLOG_TESTS_FUZZ_FUZZ_AGGREGATOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "fedlog/v1/config.pb.h"
#include "server/aggregator_server.h"

namespace fedlog::fuzz {

// Prints "`entry` fuzz finding: `what`" and aborts: libFuzzer and the replay tests report it.
[[noreturn]] void Finding(const std::string& entry, const std::string& what);

// Consumes the input front to back; past its end every read gives zeros, so any input is a valid program.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool done() const { return p_ >= end_; }
  uint8_t U8() { return p_ < end_ ? *p_++ : 0; }
  uint32_t U32();
  uint64_t U64() { return (uint64_t{U32()} << 32) | U32(); }
  double F64();  // any bit pattern: NaN, infinities and subnormals included
  // One of `values` (an "interesting" value table), or with `raw_odds` in 256 the next 8 bytes as a double.
  double PickF64(const std::vector<double>& values, int raw_odds = 32);
  // Up to `max` bytes, length first.
  std::string Bytes(size_t max);
  // Up to `max` characters of 7-bit ASCII (control characters included): always valid UTF-8, so a proto3
  // string field carrying it reaches the handler instead of failing gRPC's parse.
  std::string Ascii(size_t max);

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

void SetDeadline(grpc::ClientContext* ctx, int ms);

struct FuzzAggregator {
  std::string dir;  // removed at shutdown
  std::string pki;  // ca.crt, aggregator.*, admin.*, and one certificate per site named at start
  std::unique_ptr<server::AggregatorServer> server;
};

// Starts an aggregator in a fresh temp dir named after `prefix`, with a PKI for `sites`, short limits (stream
// idle 1 s, uploads and downloads 3 s), the small mlp_autoencoder model, and `tune` applied to the config before
// it is finalized. Aborts (a finding) when it cannot.
std::unique_ptr<FuzzAggregator> StartFuzzAggregator(const std::string& entry, const std::string& prefix,
                                                    const std::vector<std::string>& sites,
                                                    void (*tune)(v1::ServerConfig*));

// A channel to `agg` presenting certificate `name` ("admin" or a site named at start).
std::shared_ptr<grpc::Channel> ChannelFor(const std::string& entry, const FuzzAggregator& agg,
                                          const std::string& name);

// Shuts the aggregator down and gRPC with it (grpc_shutdown_blocking), then removes its directory: for an
// atexit handler, so that no gRPC thread holds OpenSSL state when OpenSSL's own exit handler runs.
void ShutdownFuzzAggregator(std::unique_ptr<FuzzAggregator> agg);

// For the replay tests: `program` with 1..5 mutations (byte flips, inserted or appended random bytes, a cut, a
// repeated slice), as a mutation-based fuzzer would make them.
std::string MutateProgram(std::string program, std::mt19937* rng);

// The committed seed corpus tests/fuzz/corpus/`name` (under $FEDLOG_SOURCE_DIR, else the source tree the
// binary was built from), sorted by file name; empty when the directory is missing.
std::vector<std::string> CorpusPrograms(const std::string& name);

// Seconds a replay test's random part goes on for when FEDLOG_FUZZ_SOAK_S is set (a bounded soak run of an entry
// built without clang: docs/SECURITY.md "Fuzzing the federation handlers"); 0 when it is not.
int SoakSeconds();

}  // namespace fedlog::fuzz

#endif  // FEDLOG_TESTS_FUZZ_FUZZ_AGGREGATOR_H_
