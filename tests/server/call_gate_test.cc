// CallGate (server/call_gate.h): a peer's calls beyond its cap are refused at once while other peers are served;
// a ticket that ends (destroyed, or moved and destroyed) frees its place; refusals are counted per peer.
#include "server/call_gate.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::server {
namespace {

TEST(CallGateTest, KeysAreRoleAndIdOfTheCertificate) {
  EXPECT_EQ(CallGate::PeerKey("site", "lab-1"), "site:lab-1");
  EXPECT_NE(CallGate::PeerKey("site", "ops"), CallGate::PeerKey("admin", "ops"));
}

TEST(CallGateTest, CallsBeyondThePeersCapAreRefusedAndOthersAreServed) {
  CallGate gate(3);
  std::vector<CallGate::Ticket> held;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<CallGate::Ticket> t = gate.Enter("site:mallory");
    ASSERT_TRUE(t.ok()) << i << " " << t.status();
    held.push_back(std::move(*t));
  }
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<CallGate::Ticket> t = gate.Enter("site:mallory");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(t.status().message().find("limits.max_calls_per_peer"), std::string::npos) << t.status();
  }
  EXPECT_EQ(gate.InFlight("site:mallory"), 3);
  EXPECT_EQ(gate.Refused("site:mallory"), 5);
  // Another site, and an admin with the same id, each have their own cap.
  EXPECT_TRUE(gate.Enter("site:site-a").ok());
  EXPECT_TRUE(gate.Enter("admin:mallory").ok());
  EXPECT_EQ(gate.Refused("site:site-a"), 0);
}

TEST(CallGateTest, AnEndedCallFreesItsPlace) {
  CallGate gate(1);
  {
    absl::StatusOr<CallGate::Ticket> t = gate.Enter("site:a");
    ASSERT_TRUE(t.ok());
    EXPECT_FALSE(gate.Enter("site:a").ok());
  }
  EXPECT_EQ(gate.InFlight("site:a"), 0);
  absl::StatusOr<CallGate::Ticket> t = gate.Enter("site:a");
  ASSERT_TRUE(t.ok());
  // A moved ticket holds the place once: the moved-from one releases nothing.
  std::optional<CallGate::Ticket> moved(std::move(*t));
  EXPECT_EQ(gate.InFlight("site:a"), 1);
  t = absl::InternalError("gone");  // destroys the moved-from ticket
  EXPECT_EQ(gate.InFlight("site:a"), 1);
  moved.reset();
  EXPECT_EQ(gate.InFlight("site:a"), 0);
  // Move-assigning over a live ticket releases the place it held.
  absl::StatusOr<CallGate::Ticket> x = gate.Enter("site:a");
  ASSERT_TRUE(x.ok());
  absl::StatusOr<CallGate::Ticket> y = gate.Enter("site:b");
  ASSERT_TRUE(y.ok());
  *x = std::move(*y);
  EXPECT_EQ(gate.InFlight("site:a"), 0);
  EXPECT_EQ(gate.InFlight("site:b"), 1);
}

TEST(CallGateTest, ACapBelowOneIsOne) {
  CallGate gate(0);
  EXPECT_EQ(gate.max_per_peer(), 1);
  absl::StatusOr<CallGate::Ticket> t = gate.Enter("site:a");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(gate.Enter("site:a").ok());
}

}  // namespace
}  // namespace fedlog::server
