// `run start --initial-model` (admin_initial_model.h).
#include "tools/admin/admin_initial_model.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"

namespace fedlog::cli {
namespace {

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isxdigit(c); });
}

// The digest of a local regular file; "" when it cannot be read here.
std::string LocalDigest(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  Sha256 digest;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    digest.Update(absl::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return in.bad() ? "" : digest.FinalHex();
}

}  // namespace

std::vector<std::string> InitialModelOptionNames() { return {"initial-model", "initial-model-sha256"}; }

absl::Status SetInitialModelFlags(const Args& args, v1::RunPlan* plan) {
  const std::string sha = absl::AsciiStrToLower(args.Get("initial-model-sha256"));
  if (!args.Has("initial-model")) {
    if (args.Has("initial-model-sha256")) {
      return absl::InvalidArgumentError("--initial-model-sha256 needs --initial-model");
    }
    return absl::OkStatus();
  }
  std::string path = args.Get("initial-model");
  if (path.empty()) return absl::InvalidArgumentError("--initial-model is empty");
  if (args.Has("initial-model-sha256") && !IsHex64(sha)) {
    return absl::InvalidArgumentError("--initial-model-sha256 must be 64 hex digits");
  }
  const std::string local = LocalDigest(path);
  if (!local.empty()) {
    if (!sha.empty() && sha != local) {
      return absl::InvalidArgumentError(
          absl::StrCat("--initial-model ", path, " has sha256 ", local, ", not the --initial-model-sha256 given"));
    }
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    if (!ec) path = absolute.string();
  }
  plan->set_initial_model(path);
  plan->set_initial_model_sha256(sha.empty() ? local : sha);
  return absl::OkStatus();
}

}  // namespace fedlog::cli
