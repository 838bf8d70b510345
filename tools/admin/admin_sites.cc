// `fedlog sites`, `sites admit`, `sites revoke`, `sites unrevoke`, `sites forget`: the aggregator's view of its
// sites.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/net/tls.h"
#include "tools/admin/admin_cli.h"
#include "tools/admin/admin_privacy.h"

namespace fedlog::cli::admin {

int Sites(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  v1::ListSitesResponse resp;
  grpc::Status st = stub->ListSites(Ctx().get(), {}, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  // Rounds each site declined under its privacy policy in the latest run (none before the first run).
  v1::RunStatus latest;
  v1::GetRunRequest latest_req;
  const bool have_run = stub->GetRun(Ctx().get(), latest_req, &latest).ok();
  // ONLINE stays the second column: scripts count online sites with awk '$2=="yes"'.
  std::printf("%-20s %-8s %-8s %-7s %-24s %-12s %-28s %-20s %-8s %s\n", "SITE", "ONLINE", "REVOKED", "MODEL",
              "LAST SEEN", "(AGO)", "SOURCES", "ADMITTED", "PENDING", "DECLINED");
  for (const auto& s : resp.sites()) {
    std::vector<std::string> sources, admitted, pending;
    for (const auto& src : s.sources()) {
      // A site that withholds its line counts (its privacy policy) shows "-": the aggregator has no count.
      sources.push_back(absl::StrCat(Shown(src.name()), "(", src.lines_withheld() ? "-" : absl::StrCat(src.lines()),
                                     ")"));
    }
    for (const auto& a : s.admitted_sources()) admitted.push_back(Shown(a));
    for (const auto& p : s.pending_sources()) pending.push_back(Shown(p));
    const std::string admitted_text =
        !s.admitted() ? "(not yet)" : admitted.empty() ? "-" : absl::StrJoin(admitted, ",");
    const std::string model = s.model_version() > 0 ? absl::StrCat("v", s.model_version()) : "-";
    const std::string declined = have_run ? absl::StrCat(DeclinesOf(latest, s.site_id())) : "-";
    std::printf("%-20s %-8s %-8s %-7s %-24s %-12s %-28s %-20s %-8s %s\n", Shown(s.site_id()).c_str(),
                s.online() ? "yes" : "no", s.revoked() ? "yes" : "no", model.c_str(), Ago(s.last_seen_ms()).c_str(),
                AgoShort(s.last_seen_ms()).c_str(), absl::StrJoin(sources, ",").c_str(), admitted_text.c_str(),
                pending.empty() ? "-" : absl::StrJoin(pending, ",").c_str(), declined.c_str());
  }
  return 0;
}

int Admit(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {{"sources"}, {}}, &args, &rc);
  if (!stub) return rc;
  if (args.positionals().size() != 1) {
    return Fail(absl::InvalidArgumentError("usage: sites admit SITE_ID [--sources A,B]")), 2;
  }
  v1::AdmitSourcesRequest req;
  req.set_site_id(args.positionals()[0]);
  if (args.Has("sources")) {
    for (absl::string_view name : absl::StrSplit(args.Get("sources", ""), ',', absl::SkipWhitespace())) {
      req.add_sources(std::string(name));
    }
    if (req.sources_size() == 0) return Fail(absl::InvalidArgumentError("--sources needs at least one name")), 2;
  } else {
    req.set_approve_pending(true);
  }
  v1::SiteInfo resp;
  grpc::Status st = stub->AdmitSources(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::vector<std::string> admitted, pending;
  for (const auto& a : resp.admitted_sources()) admitted.push_back(Shown(a));
  for (const auto& p : resp.pending_sources()) pending.push_back(Shown(p));
  std::printf("site %s: admitted %s; pending %s\n", Shown(resp.site_id()).c_str(),
              admitted.empty() ? "-" : absl::StrJoin(admitted, ",").c_str(),
              pending.empty() ? "-" : absl::StrJoin(pending, ",").c_str());
  return 0;
}

int Revoke(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  if (args.positionals().size() != 1) return Fail(absl::InvalidArgumentError("usage: sites revoke SITE_ID")), 2;
  v1::RevokeSiteRequest req;
  req.set_site_id(args.positionals()[0]);
  v1::SiteInfo resp;
  grpc::Status st = stub->RevokeSite(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("site %s revoked\n", Shown(resp.site_id()).c_str());
  const std::string note = NeverSeenNote(resp, "fedlog sites unrevoke " + Shown(resp.site_id()));
  if (!note.empty()) std::fprintf(stderr, "%s\n", note.c_str());
  return 0;
}

int Unrevoke(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  if (args.positionals().size() != 1) return Fail(absl::InvalidArgumentError("usage: sites unrevoke SITE_ID")), 2;
  v1::RevokeSiteRequest req;
  req.set_site_id(args.positionals()[0]);
  v1::SiteInfo resp;
  grpc::Status st = stub->UnrevokeSite(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("site %s unrevoked; restart its daemon (a revoked daemon stopped federating)\n",
              Shown(resp.site_id()).c_str());
  return 0;
}

int Forget(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  if (args.positionals().size() != 1) return Fail(absl::InvalidArgumentError("usage: sites forget SITE_ID")), 2;
  v1::ForgetSiteRequest req;
  req.set_site_id(args.positionals()[0]);
  v1::ForgetSiteResponse resp;
  grpc::Status st = stub->ForgetSite(Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("site %s forgotten%s; it is no longer listed\n", Shown(resp.site_id()).c_str(),
              resp.was_revoked() ? " (with its revocation)" : "");
  return 0;
}

}  // namespace fedlog::cli::admin
