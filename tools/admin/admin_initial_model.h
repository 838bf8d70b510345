// `fedlog run start --initial-model FILE [--initial-model-sha256 HEX]`: a run that starts from a bundle file
// (e.g. `fedlog model pretrain`'s public pre-trained model, docs/MODEL.md "Public pre-training") instead of the
// untrained weights. The aggregator reads FILE on its own host and checks it (common/model/initial_model.h).
// Thread-compatible: stateless helpers of the CLI.
#ifndef FEDLOG_TOOLS_ADMIN_ADMIN_INITIAL_MODEL_H_
#define FEDLOG_TOOLS_ADMIN_ADMIN_INITIAL_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fedlog/v1/admin.pb.h"
#include "tools/cli/args.h"

namespace fedlog::cli {

// The options above ("initial-model", "initial-model-sha256").
std::vector<std::string> InitialModelOptionNames();
// Sets RunPlan.initial_model / initial_model_sha256. A FILE readable here is sent as an absolute path with its
// SHA-256 (unless --initial-model-sha256 is given), so the aggregator starts from exactly this file when it shares
// the file system; a FILE not readable here is sent as given (a path on the aggregator's host). InvalidArgument
// for --initial-model-sha256 without --initial-model or not 64 hex digits, or a local file whose digest differs
// from it.
absl::Status SetInitialModelFlags(const Args& args, v1::RunPlan* plan);

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_ADMIN_ADMIN_INITIAL_MODEL_H_
