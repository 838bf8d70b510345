#include "tests/fuzz/fuzz_aggregator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <google/protobuf/stubs/logging.h>
#include <grpc/grpc.h>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/net/tls.h"

#ifndef FEDLOG_FUZZ_SOURCE_DIR
#define FEDLOG_FUZZ_SOURCE_DIR "."
#endif

namespace fedlog::fuzz {

void Finding(const std::string& entry, const std::string& what) {
  std::fprintf(stderr, "%s fuzz finding: %s\n", entry.c_str(), what.c_str());
  std::abort();
}

uint32_t Input::U32() {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | U8();
  return v;
}

double Input::F64() {
  const uint64_t bits = U64();
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

double Input::PickF64(const std::vector<double>& values, int raw_odds) {
  const uint8_t b = U8();
  if (b < raw_odds || values.empty()) return F64();
  return values[b % values.size()];
}

std::string Input::Bytes(size_t max) {
  const size_t n = std::min<size_t>({static_cast<size_t>(U8()) * 16 + U8() % 16, max,
                                    static_cast<size_t>(end_ - std::min(p_, end_))});
  std::string s(reinterpret_cast<const char*>(p_), n);
  p_ += n;
  return s;
}

std::string Input::Ascii(size_t max) {
  std::string s = Bytes(max);
  for (char& c : s) c = static_cast<char>(c & 0x7f);
  return s;
}

void SetDeadline(grpc::ClientContext* ctx, int ms) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

namespace {

// Protobuf logs every string field with invalid UTF-8 it parses (the entries parse raw bytes into requests): that
// flood would bury the fuzzer's own output. Fatal messages still print (protobuf aborts after them).
void FatalOnly(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) std::fprintf(stderr, "%s:%d: %s\n", file, line, message.c_str());
}

}  // namespace

std::unique_ptr<FuzzAggregator> StartFuzzAggregator(const std::string& entry, const std::string& prefix,
                                                    const std::vector<std::string>& sites,
                                                    void (*tune)(v1::ServerConfig*)) {
  SetLogLevel(LogLevel::kError);  // refusals are the normal case here; keep the fuzzer's output readable
  google::protobuf::SetLogHandler(&FatalOnly);
  setenv("GRPC_DNS_RESOLVER", "native", 0);  // before gRPC starts: no c-ares (see ChannelFor)
  auto agg = std::make_unique<FuzzAggregator>();
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                         ? std::filesystem::path("/dev/shm")
                                         : std::filesystem::temp_directory_path();
  std::string tmpl = (base / (prefix + "_XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) Finding(entry, "mkdtemp");
  agg->dir = tmpl;
  agg->pki = JoinPath(agg->dir, "pki");
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  std::string cmd = absl::StrCat("bash '", JoinPath(src ? src : FEDLOG_FUZZ_SOURCE_DIR, "certs/make-dev-pki.sh"),
                                 "' '", agg->pki, "'");
  for (const std::string& s : sites) absl::StrAppend(&cmd, " ", s);
  absl::StrAppend(&cmd, " > /dev/null");
  if (std::system(cmd.c_str()) != 0) Finding(entry, absl::StrCat("make-dev-pki failed: ", cmd));
  v1::ServerConfig c;
  c.set_listen_address("127.0.0.1:0");
  c.set_data_dir(JoinPath(agg->dir, "agg"));
  c.mutable_tls()->set_ca_cert(JoinPath(agg->pki, "ca.crt"));
  c.mutable_tls()->set_cert(JoinPath(agg->pki, "aggregator.crt"));
  c.mutable_tls()->set_key(JoinPath(agg->pki, "aggregator.key"));
  c.set_heartbeat_interval_ms(200);
  c.set_site_timeout_ms(3000);
  c.set_max_poll_wait_ms(100);
  c.set_chunk_bytes(4096);
  c.set_max_update_bytes(1 << 20);
  c.mutable_model()->set_arch("mlp_autoencoder");
  c.mutable_model()->set_input_dim(38);
  c.mutable_model()->add_hidden(16);
  c.mutable_model()->add_hidden(4);
  v1::ServerLimits* l = c.mutable_limits();
  l->set_min_chunk_bytes(256);
  l->set_stream_idle_timeout_s(1);
  l->set_upload_timeout_s(3);
  l->set_download_timeout_s(3);
  l->set_max_download_variants(3);
  if (tune != nullptr) tune(&c);
  if (absl::Status st = server::FinalizeServerConfig(&c); !st.ok()) Finding(entry, st.ToString());
  auto s = server::AggregatorServer::Start(c);
  if (!s.ok()) Finding(entry, absl::StrCat("aggregator: ", s.status().ToString()));
  agg->server = std::move(*s);
  return agg;
}

std::shared_ptr<grpc::Channel> ChannelFor(const std::string& entry, const FuzzAggregator& agg,
                                          const std::string& name) {
  auto creds = net::MakeChannelCredentials(
      {JoinPath(agg.pki, "ca.crt"), JoinPath(agg.pki, name + ".crt"), JoinPath(agg.pki, name + ".key")});
  if (!creds.ok()) Finding(entry, absl::StrCat("credentials: ", creds.status().ToString()));
  // An IP target needs no resolver (c-ares keeps allocations LeakSanitizer reports as leaks).
  return net::MakeChannel(absl::StrCat("ipv4:127.0.0.1:", agg.server->port()), *creds);
}

void ShutdownFuzzAggregator(std::unique_ptr<FuzzAggregator> agg) {
  if (agg == nullptr) return;
  grpc_init();  // hold a reference so that grpc_shutdown_blocking below is the last one and joins gRPC's threads
  agg->server->Shutdown();
  const std::string dir = agg->dir;
  agg.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  grpc_shutdown_blocking();
}

std::string MutateProgram(std::string program, std::mt19937* rng) {
  const int mutations = 1 + static_cast<int>((*rng)() % 5);
  for (int m = 0; m < mutations; ++m) {
    const size_t pos = program.empty() ? 0 : (*rng)() % program.size();
    switch ((*rng)() % 5) {
      case 0:
        if (!program.empty()) program[pos] = static_cast<char>((*rng)() & 0xff);
        break;
      case 1: program.insert(pos, 1, static_cast<char>((*rng)() & 0xff)); break;
      case 2:
        for (int i = 0, n = 1 + static_cast<int>((*rng)() % 16); i < n; ++i) {
          program.push_back(static_cast<char>((*rng)() & 0xff));
        }
        break;
      case 3: program.resize(pos); break;
      default: program.insert(pos, program.substr(pos, (*rng)() % 8)); break;
    }
  }
  return program;
}

std::vector<std::string> CorpusPrograms(const std::string& name) {
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  const std::filesystem::path dir = std::filesystem::path(src ? src : FEDLOG_FUZZ_SOURCE_DIR) / "tests/fuzz/corpus" / name;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    out.push_back(bytes.str());
  }
  return out;
}

int SoakSeconds() {
  const char* s = std::getenv("FEDLOG_FUZZ_SOAK_S");
  return s == nullptr ? 0 : std::max(0, std::atoi(s));
}

}  // namespace fedlog::fuzz
