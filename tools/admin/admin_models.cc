// `fedlog models`, `models promote`, `models rollback`: the aggregator's model versions.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/net/tls.h"
#include "tools/admin/admin_cli.h"

namespace fedlog::cli::admin {

int Models(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  v1::ListModelsResponse resp;
  grpc::Status st = stub->ListModels(Ctx().get(), {}, &resp);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  // QUALITY: the sites' mean held-out F1 (line_encoder) or reconstruction loss (mlp_autoencoder) of the version,
  // measured when a later round started from it; "-" until one did. PROMOTED: "*" for the promoted version,
  // "deleted" for a version whose file the aggregator deleted past its retention (keep_model_versions).
  std::printf("%-8s %-8s %-4s %-5s %-8s %-6s %-9s %-10s %-13s %-12s %s\n", "VERSION", "PARENT", "RUN", "ROUND",
              "STRATEGY", "SITES", "SAMPLES", "LOSS", "QUALITY", "SHA256", "PROMOTED");
  for (const auto& m : resp.models()) {
    auto loss = m.metrics().find("mean_train_loss");
    std::string quality = "-";
    if (auto f1 = m.metrics().find("quality_holdout_f1"); f1 != m.metrics().end()) {
      quality = absl::StrFormat("f1:%.4f", f1->second);
    } else if (auto l = m.metrics().find("quality_holdout_loss"); l != m.metrics().end()) {
      quality = absl::StrFormat("loss:%.4f", l->second);
    }
    std::printf("%-8s %-8s %-4lld %-5d %-8s %-6d %-9lld %-10s %-13s %-12s %s\n", absl::StrCat("v", m.version()).c_str(),
                m.parent() ? absl::StrCat("v", m.parent()).c_str() : "-", static_cast<long long>(m.run_id()),
                m.round(), m.strategy().c_str(), m.num_sites(), static_cast<long long>(m.num_samples()),
                loss != m.metrics().end() ? absl::StrFormat("%.6f", loss->second).c_str() : "-", quality.c_str(),
                m.sha256().substr(0, 12).c_str(),
                m.version() == resp.promoted_version() ? "*" : m.deleted_ms() > 0 ? "deleted" : "");
  }
  return 0;
}

int Promote(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {{}, {"force"}}, &args, &rc);
  if (!stub) return rc;
  int64_t version = 0;
  std::string v = args.positionals().size() == 1 ? args.positionals()[0] : "";
  if (!v.empty() && v[0] == 'v') v = v.substr(1);
  if (!absl::SimpleAtoi(v, &version) || version <= 0) {
    return Fail(absl::InvalidArgumentError("usage: models promote VERSION [--force]")), 2;
  }
  v1::PromoteModelRequest req;
  req.set_version(version);
  req.set_force(args.Has("force"));
  v1::ModelManifest m;
  grpc::Status st = stub->PromoteModel(Ctx().get(), req, &m);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("model v%lld promoted\n", static_cast<long long>(m.version()));
  return 0;
}

int Rollback(const std::vector<std::string>& argv) {
  Args args;
  int rc = 0;
  auto stub = Prepare(argv, {}, &args, &rc);
  if (!stub) return rc;
  v1::ModelManifest m;
  grpc::Status st = stub->RollbackModel(Ctx().get(), {}, &m);
  if (!st.ok()) return Fail(net::FromGrpc(st));
  std::printf("rolled back: model v%lld is promoted\n", static_cast<long long>(m.version()));
  return 0;
}

}  // namespace fedlog::cli::admin
