// Shared pieces of the admin verbs (admin_sites.cc, admin_runs.cc, admin_run_watch.cc, admin_models.cc;
// registered with their usage in admin_verbs.cc): error printing, deadlines, connecting with the admin
// certificate, and how text a site sent is shown. Each verb's entry point is declared here too.
#ifndef FEDLOG_TOOLS_ADMIN_ADMIN_CLI_H_
#define FEDLOG_TOOLS_ADMIN_ADMIN_CLI_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/admin/admin_client.h"
#include "tools/cli/args.h"

namespace fedlog::cli::admin {

using Stub = v1::Admin::Stub;

// Prints the error (with a hint for TLS failures and refused connections) and returns 1.
int Fail(const absl::Status& st);
// "12s-ago", "3min-ago", "2h-ago", "4d-ago" or "never".
std::string AgoShort(int64_t ms);
// The UTC time of `ms` or "never".
std::string Ago(int64_t ms);
// A client context with a deadline `seconds` from now.
std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30);
// Text from a site (a name, a source) as printed: at most 128 bytes, bytes outside printable ASCII become '?', so
// a value cannot move the cursor, recolour the terminal or forge rows.
std::string Shown(const std::string& text);
// For `sites revoke` of a site id no daemon has connected with (last seen never): a note that
// the id may be mistyped, naming the undo and `sites forget`; "" for a site the aggregator has seen.
std::string NeverSeenNote(const v1::SiteInfo& site, const std::string& undo);
// Parses the verb's args and connects; on failure prints the error, sets *rc and returns nullptr.
std::unique_ptr<Stub> Prepare(const std::vector<std::string>& argv, const ArgSpec& spec, Args* args, int* rc);
// Parses --run and connects; returns 0 with *stub and *run_id filled, or the exit code to return.
int PrepareRun(const std::vector<std::string>& argv, std::unique_ptr<Stub>* stub, int64_t* run_id);

// Streams a run's progress, one table row per completed round; 0 when the run ends done (admin_run_watch.cc).
int WatchRun(Stub* stub, int64_t run_id);

// The verbs (argv after the verb's words).
int Sites(const std::vector<std::string>& argv);           // admin_sites.cc
int Admit(const std::vector<std::string>& argv);
int Revoke(const std::vector<std::string>& argv);
int Unrevoke(const std::vector<std::string>& argv);
int Forget(const std::vector<std::string>& argv);
int RunStart(const std::vector<std::string>& argv);        // admin_runs.cc
int RunStop(const std::vector<std::string>& argv);
int RunWatch(const std::vector<std::string>& argv);        // admin_run_watch.cc
int RunStatusVerb(const std::vector<std::string>& argv);
int Models(const std::vector<std::string>& argv);          // admin_models.cc
int Promote(const std::vector<std::string>& argv);
int Rollback(const std::vector<std::string>& argv);

}  // namespace fedlog::cli::admin

#endif  // FEDLOG_TOOLS_ADMIN_ADMIN_CLI_H_
