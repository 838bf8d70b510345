// The admin verbs' shared pieces (admin_cli.h).
#include "tools/admin/admin_cli.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/net/tls.h"
#include "common/net/tls_check.h"

namespace fedlog::cli::admin {

int Fail(const absl::Status& st) {
  if (st.code() == absl::StatusCode::kUnavailable && net::LooksLikeTlsFailure(std::string(st.message()))) {
    std::cerr << "fedlog: the TLS handshake with the aggregator failed: check that --pki/--ca holds the CA that "
                 "signed the aggregator's certificate and that the aggregator trusts the CA of the admin "
                 "certificate [UNAVAILABLE] (" << st.message() << ")\n";
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

std::unique_ptr<grpc::ClientContext> Ctx(int seconds) {
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

std::string NeverSeenNote(const v1::SiteInfo& site, const std::string& undo) {
  if (site.last_seen_ms() > 0) return "";
  return absl::StrCat("note: no site '", Shown(site.site_id()), "' has connected to this aggregator yet (a typo? ",
                      "`fedlog sites` lists the known ones); `", undo, "` lifts the revocation, and `fedlog sites forget ",
                      Shown(site.site_id()), "` removes the entry");
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

}  // namespace fedlog::cli::admin
