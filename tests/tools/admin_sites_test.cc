// `fedlog sites revoke` of a site id no daemon has connected with: a note that the id may be mistyped and how
// to lift it (tools/admin/admin_cli.h NeverSeenNote); nothing for a site the aggregator has seen.
#include <string>

#include "gtest/gtest.h"
#include "tools/admin/admin_cli.h"

namespace fedlog::cli::admin {
namespace {

TEST(AdminSitesTest, RevokingANeverSeenSiteSaysSo) {
  v1::SiteInfo site;
  site.set_site_id("site-nope");
  const std::string note = NeverSeenNote(site, "fedlog sites unrevoke site-nope");
  EXPECT_NE(note.find("no site 'site-nope' has connected"), std::string::npos) << note;
  EXPECT_NE(note.find("`fedlog sites unrevoke site-nope` lifts the revocation"), std::string::npos) << note;
  EXPECT_NE(note.find("`fedlog sites forget site-nope` removes the entry"), std::string::npos) << note;
}

TEST(AdminSitesTest, NoNoteForAKnownSite) {
  v1::SiteInfo site;
  site.set_site_id("site-b");
  site.set_last_seen_ms(1765000000000);
  EXPECT_EQ(NeverSeenNote(site, "fedlog sites unrevoke site-b"), "");
}

TEST(AdminSitesTest, ASiteIdIsShownSafely) {
  v1::SiteInfo site;
  site.set_site_id("bad\x1b[2Jid");
  const std::string note = NeverSeenNote(site, "x");
  EXPECT_EQ(note.find('\x1b'), std::string::npos) << note;
}

}  // namespace
}  // namespace fedlog::cli::admin
