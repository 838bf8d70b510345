// A raw HTTP/2 client for red-team tests: a TLS connection (OpenSSL, ALPN "h2") to the aggregator on loopback
// presenting a site's certificate, which writes frames gRPC's client never would: calls reset right after they
// are sent (HTTP/2 rapid reset, CVE-2023-44487) and PING frames without data. It reads and drops what the
// server sends (acknowledging its SETTINGS), and notices a GOAWAY or a closed connection.
// Connect ignores SIGPIPE for the whole process (a write to a connection the server closed then fails instead).
// Not thread-safe: one thread drives one client.
#ifndef FEDLOG_TESTS_INTEGRATION_RAW_H2_CLIENT_H_
#define FEDLOG_TESTS_INTEGRATION_RAW_H2_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::testing {

class RawH2Client {
 public:
  // Connects to 127.0.0.1:`port` with `name`.crt/.key from `pki`, finishes the TLS handshake and sends the
  // HTTP/2 preface and an empty SETTINGS frame.
  static absl::StatusOr<std::unique_ptr<RawH2Client>> Connect(const std::string& pki, const std::string& name,
                                                              int port);
  ~RawH2Client();
  RawH2Client(const RawH2Client&) = delete;
  RawH2Client& operator=(const RawH2Client&) = delete;

  // Opens a stream calling `path` (e.g. "/fedlog.v1.Federation/Heartbeat") with an empty message, and resets it
  // (RST_STREAM CANCEL) at once in the same write.
  absl::Status CallAndReset(const std::string& path);
  // Sends one PING frame.
  absl::Status Ping();
  // Reads whatever the server has sent so far without blocking for more; an error once the connection is closed.
  absl::Status Drain();

  bool goaway() const { return goaway_; }
  int64_t streams() const { return next_stream_ / 2; }

 private:
  struct Tls;
  explicit RawH2Client(std::unique_ptr<Tls> tls);
  absl::Status Write(const std::string& bytes);
  void OnFrame(uint8_t type, uint8_t flags);

  std::unique_ptr<Tls> tls_;
  uint32_t next_stream_ = 1;
  std::string in_;  // bytes read, not yet a whole frame
  bool goaway_ = false;
};

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_RAW_H2_CLIENT_H_
