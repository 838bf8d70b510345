// Connection options shared by the admin verbs: where the aggregator is and which admin certificate to present.
#ifndef FEDLOG_TOOLS_ADMIN_ADMIN_CLIENT_H_
#define FEDLOG_TOOLS_ADMIN_ADMIN_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fedlog/v1/admin.grpc.pb.h"
#include "tools/cli/args.h"

namespace fedlog::cli {

// Adds --server, --pki, --ca, --cert, --key to a verb's spec.
ArgSpec WithConnectionOptions(ArgSpec spec);

// Builds an Admin stub from the options; defaults: --server $FEDLOG_SERVER or localhost:7443,
// --pki $FEDLOG_PKI (ca.crt, admin.crt, admin.key inside), or explicit --ca/--cert/--key.
absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> ConnectAdmin(const Args& args);

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_ADMIN_ADMIN_CLIENT_H_
