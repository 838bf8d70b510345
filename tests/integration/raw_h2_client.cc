#include "tests/integration/raw_h2_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"

namespace fedlog::testing {
namespace {

constexpr uint8_t kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4, kPing = 6, kGoaway = 7;
constexpr uint8_t kEndStream = 1, kAck = 1, kEndHeaders = 4;

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  const uint32_t n = static_cast<uint32_t>(payload.size());
  std::string f = {static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n),
                   static_cast<char>(type), static_cast<char>(flags),
                   static_cast<char>((stream >> 24) & 0x7f), static_cast<char>(stream >> 16),
                   static_cast<char>(stream >> 8), static_cast<char>(stream)};
  return f + payload;
}

// An HPACK integer with an N-bit prefix (RFC 7541, 5.1) whose first byte carries `high` above the prefix.
std::string HpackInt(int prefix_bits, uint8_t high, uint32_t v) {
  const uint32_t max = (1u << prefix_bits) - 1;
  if (v < max) return std::string(1, static_cast<char>(high | v));
  std::string out(1, static_cast<char>(high | max));
  for (v -= max; v >= 128; v /= 128) out.push_back(static_cast<char>(0x80 | (v % 128)));
  out.push_back(static_cast<char>(v));
  return out;
}

// A string literal without Huffman coding (RFC 7541, 5.2).
std::string HpackString(const std::string& s) { return HpackInt(7, 0, static_cast<uint32_t>(s.size())) + s; }

// The request headers of a gRPC call to `path`: static-table entries (RFC 7541, Appendix A) where there are
// some, literals without indexing otherwise, so the block does not depend on the server's dynamic table.
std::string RequestHeaders(const std::string& path, int port) {
  std::string h;
  h += static_cast<char>(0x83);  // :method POST
  h += static_cast<char>(0x87);  // :scheme https
  h += HpackInt(4, 0, 4) + HpackString(path);                              // :path
  h += HpackInt(4, 0, 1) + HpackString(absl::StrCat("localhost:", port));  // :authority
  h += HpackInt(4, 0, 31) + HpackString("application/grpc");              // content-type
  h += std::string(1, '\0') + HpackString("te") + HpackString("trailers");
  return h;
}

std::string OpenSslError(const std::string& what) {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  return absl::StrCat(what, ": ", buf);
}

}  // namespace

struct RawH2Client::Tls {
  ~Tls() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) close(fd);
  }
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  int port = 0;
};

absl::StatusOr<std::unique_ptr<RawH2Client>> RawH2Client::Connect(const std::string& pki, const std::string& name,
                                                                   int port) {
  // A write to a connection the server closed must fail, not kill the test binary with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  auto tls = std::make_unique<Tls>();
  tls->port = port;
  tls->ctx = SSL_CTX_new(TLS_client_method());
  if (tls->ctx == nullptr) return absl::InternalError(OpenSslError("SSL_CTX_new"));
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  if (SSL_CTX_use_certificate_chain_file(tls->ctx, JoinPath(pki, name + ".crt").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(tls->ctx, JoinPath(pki, name + ".key").c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(tls->ctx, JoinPath(pki, "ca.crt").c_str(), nullptr) != 1 ||
      SSL_CTX_set_alpn_protos(tls->ctx, kAlpn, sizeof(kAlpn)) != 0) {
    return absl::InternalError(OpenSslError("client TLS setup"));
  }
  SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_PEER, nullptr);
  tls->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (tls->fd < 0) return absl::InternalError("socket failed");
  // A server that stops reading must not hang the test: a write blocked this long fails.
  timeval timeout{2, 0};
  setsockopt(tls->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(tls->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError("connect failed");
  }
  tls->ssl = SSL_new(tls->ctx);
  if (tls->ssl == nullptr || SSL_set_fd(tls->ssl, tls->fd) != 1) return absl::InternalError(OpenSslError("SSL_new"));
  SSL_set_tlsext_host_name(tls->ssl, "localhost");
  if (SSL_connect(tls->ssl) != 1) return absl::UnavailableError(OpenSslError("TLS handshake"));
  std::unique_ptr<RawH2Client> c(new RawH2Client(std::move(tls)));
  absl::Status st = c->Write(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + Frame(kSettings, 0, 0, ""));
  if (!st.ok()) return st;
  return c;
}

RawH2Client::RawH2Client(std::unique_ptr<Tls> tls) : tls_(std::move(tls)) {}
RawH2Client::~RawH2Client() = default;

absl::Status RawH2Client::Write(const std::string& bytes) {
  if (SSL_write(tls_->ssl, bytes.data(), static_cast<int>(bytes.size())) != static_cast<int>(bytes.size())) {
    return absl::UnavailableError("write failed (connection closed or not read)");
  }
  return absl::OkStatus();
}

absl::Status RawH2Client::CallAndReset(const std::string& path) {
  const uint32_t s = next_stream_;
  next_stream_ += 2;
  const std::string message(5, '\0');     // an uncompressed empty protobuf message
  const std::string cancel = {0, 0, 0, 8};  // CANCEL
  return Write(Frame(kHeaders, kEndHeaders, s, RequestHeaders(path, tls_->port)) +
               Frame(kData, kEndStream, s, message) + Frame(kRstStream, 0, s, cancel));
}

absl::Status RawH2Client::Ping() { return Write(Frame(kPing, 0, 0, std::string(8, 'p'))); }

void RawH2Client::OnFrame(uint8_t type, uint8_t flags) {
  if (type == kSettings && (flags & kAck) == 0) Write(Frame(kSettings, kAck, 0, "")).IgnoreError();
  if (type == kGoaway) goaway_ = true;
}

absl::Status RawH2Client::Drain() {
  char buf[16384];
  while (true) {
    pollfd p{tls_->fd, POLLIN, 0};
    if (SSL_pending(tls_->ssl) == 0 && poll(&p, 1, 0) <= 0) break;
    const int n = SSL_read(tls_->ssl, buf, sizeof(buf));
    if (n <= 0) return absl::UnavailableError("connection closed by the server");
    in_.append(buf, static_cast<size_t>(n));
    while (in_.size() >= 9) {
      const size_t len = (static_cast<uint8_t>(in_[0]) << 16) | (static_cast<uint8_t>(in_[1]) << 8) |
                         static_cast<uint8_t>(in_[2]);
      if (in_.size() < 9 + len) break;
      OnFrame(static_cast<uint8_t>(in_[3]), static_cast<uint8_t>(in_[4]));
      in_.erase(0, 9 + len);
    }
  }
  return absl::OkStatus();
}

}  // namespace fedlog::testing
