// Anyone who can reach the aggregator's port, enrolled or not, holds a file descriptor per connection it opens.
// gRPC 1.51 has no per-peer connection cap, so the aggregator bounds how long a connection can be held without
// a finished handshake (limits.handshake_timeout_s) or without a call (limits.max_connection_idle_s), and
// fedlog-server raises its soft open-file limit to the hard one (docs/SECURITY.md "Connections"). Loopback only,
// bounded in count and time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/net/grpc_log.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kHandshakeTimeoutS = 1;
constexpr int kIdleS = 2;

class RedteamConnectionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_redteam_connections");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a"}));
    v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
    cfg.mutable_limits()->set_handshake_timeout_s(kHandshakeTimeoutS);
    cfg.mutable_limits()->set_max_connection_idle_s(kIdleS);
    server_ = testing::StartAggregatorOrFail(cfg, &port_);
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  // A plain TCP connection to the aggregator's port that never starts TLS; -1 on failure.
  int RawConnect() const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  // A channel of its own (not shared with other stubs), so its connection's state is this test's.
  std::shared_ptr<grpc::Channel> OwnChannel(const std::string& name) const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto creds = net::MakeChannelCredentials(
        {JoinPath(pki_, "ca.crt"), JoinPath(pki_, name + ".crt"), JoinPath(pki_, name + ".key")});
    return grpc::CreateCustomChannel(absl::StrCat("localhost:", port_), *creds, args);
  }
  // wait_for_ready: the call waits (within its deadline) for the channel to connect instead of failing at once.
  bool ListSitesOk(v1::Admin::Stub* admin, bool wait_for_ready = false) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.set_wait_for_ready(wait_for_ready);
    v1::ListSitesResponse r;
    return admin->ListSites(&ctx, {}, &r).ok();
  }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  int port_ = 0;
};

// Whether the peer closed `fd` (EOF or reset) within `ms`.
bool ClosedWithin(int fd, int ms) {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
    if (poll(&p, 1, std::max(left, 1)) <= 0) continue;
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return true;  // EOF or reset
  }
  return false;
}

// 64 connections that never handshake, half of them trickling one byte every 300 ms (a slow TLS ClientHello):
// every one is closed at the handshake timeout, however it trickles, and admins are served meanwhile. With
// gRPC's default (120 s) they would all still be open.
TEST_F(RedteamConnectionsTest, ConnectionsThatNeverFinishTheirHandshakeAreClosedAtTheTimeout) {
  constexpr int kConnections = 64;
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = RawConnect();
    ASSERT_GE(fd, 0) << i;
    fds.push_back(fd);
  }
  const auto opened = Clock::now();
  // TLS record header of a handshake message, sent one byte at a time on the odd connections.
  const unsigned char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
  for (size_t b = 0; b < sizeof(hello); ++b) {
    for (size_t i = 1; i < fds.size(); i += 2) send(fds[i], &hello[b], 1, MSG_NOSIGNAL);
    if (Clock::now() - opened > std::chrono::milliseconds(600)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  auto admin = v1::Admin::NewStub(OwnChannel("admin"));
  EXPECT_TRUE(ListSitesOk(admin.get())) << "an admin is served while the connections are held";
  int closed = 0;
  const auto until = opened + std::chrono::seconds(kHandshakeTimeoutS + 4);
  for (int fd : fds) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    closed += ClosedWithin(fd, static_cast<int>(std::max<int64_t>(left, 1))) ? 1 : 0;
  }
  const double took = std::chrono::duration<double>(Clock::now() - opened).count();
  std::printf("%d of %d connections without a handshake closed by the aggregator %.1f s after they opened\n",
              closed, kConnections, took);
  EXPECT_EQ(closed, kConnections);
  for (int fd : fds) close(fd);
}

// An authenticated connection with no call in flight is closed after max_connection_idle_s (GOAWAY), and its
// channel reconnects at the next call: holding idle connections costs a TLS handshake each time, and an honest
// site's next call works as before.
TEST_F(RedteamConnectionsTest, IdleAuthenticatedConnectionsAreClosedAndTheNextCallReconnects) {
  auto channel = OwnChannel("admin");
  auto admin = v1::Admin::NewStub(channel);
  ASSERT_TRUE(ListSitesOk(admin.get()));
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  const auto until = Clock::now() + std::chrono::seconds(kIdleS + 5);
  while (channel->GetState(false) == GRPC_CHANNEL_READY && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY) << "the idle connection was still open";
  EXPECT_TRUE(ListSitesOk(admin.get())) << "the next call reconnects";
  EXPECT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
}

// Out of file descriptors, gRPC 1.51's listener fails one accept and never accepts again (gRPC issues 16058,
// 20418): the aggregator would stay up but deaf until restarted. Measured before the watchdog on a real
// fedlog-server at a 256-descriptor limit: 400 idle connections held for 3 s left it refusing every admin call
// afterwards. Here the process runs out of descriptors for exactly one accept; the watchdog rebuilds the
// listener on the same port and an admin is served again.
TEST_F(RedteamConnectionsTest, AListenerThatRanOutOfDescriptorsIsRebuiltAndServesAgain) {
  net::RouteGrpcLogs();  // the hook that counts failed accepts (server/main.cc installs it)
  const int64_t failures_before = net::ListenerAcceptFailures();
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  int used = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) used += e.path().empty() ? 0 : 1;
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(used + 64);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  // Fill every free descriptor, then free one for the client's socket: the accept that follows has none.
  std::vector<int> filler;
  for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0 && filler.size() < 4096;) filler.push_back(fd);
  ASSERT_FALSE(filler.empty());
  close(filler.back());
  filler.pop_back();
  const int client = RawConnect();
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (net::ListenerAcceptFailures() == failures_before && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int fd : filler) close(fd);
  if (client >= 0) close(client);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_GT(net::ListenerAcceptFailures(), failures_before) << "the accept did not fail; nothing was tested";

  auto admin = v1::Admin::NewStub(OwnChannel("admin"));
  bool served = false;
  for (int i = 0; i < 3 && !served; ++i) served = ListSitesOk(admin.get(), /*wait_for_ready=*/true);
  EXPECT_TRUE(served) << "the aggregator no longer accepts connections";
  EXPECT_GE(server_->listener_restarts(), 1);
}

}  // namespace
}  // namespace fedlog
