// Checks on a run's initial model from a file (initial_model.h).
#include "common/model/initial_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_stream.h"

namespace fedlog::model {
namespace {

absl::Status CheckValues(const fl::NamedTensor& t) {
  for (float v : t.values) {
    if (!std::isfinite(v) || std::fabs(v) > kMaxInitialValue) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' has a value that is not finite or ",
                                                     "above ", kMaxInitialValue, " in magnitude"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileDigest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("initial model ", path, ": cannot open"));
  Sha256 digest;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    digest.Update(absl::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("initial model ", path, ": read error"));
  return digest.FinalHex();
}

}  // namespace

absl::Status CheckInitialModel(const fl::TensorBundle& reference, const fl::UpdateCheckOptions& schema,
                               const fl::TensorBundle& candidate) {
  for (const fl::NamedTensor& t : candidate.tensors) {
    if (absl::StartsWith(t.name, "adapter.")) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': an initial model carries no ",
                                                     "adapters (they enter with the sites' first updates)"));
    }
    FEDLOG_RETURN_IF_ERROR(CheckValues(t));
  }
  fl::UpdateCheckOptions options;
  options.out_dim = schema.out_dim;
  options.adapter_dim = schema.adapter_dim;
  // As an update against the untrained weights: every shared tensor present with its exact shape, optional
  // tensors only in the schema (prototypes.global here, adapters were refused above), values finite.
  return fl::CheckUpdate(reference, candidate, options);
}

absl::StatusOr<InitialModelFile> LoadInitialModel(const std::string& path, const std::string& sha256,
                                                  const fl::TensorBundle& reference,
                                                  const fl::UpdateCheckOptions& schema) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("initial model ", path, ": no such regular file"));
  }
  int64_t floats = 0;
  for (const fl::NamedTensor& t : reference.tensors) floats += t.NumElements();
  const int64_t limit = 4 * floats + kInitialModelSlackBytes;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > static_cast<std::uintmax_t>(limit)) {
    return absl::InvalidArgumentError(absl::StrCat("initial model ", path, ": larger than the ", limit,
                                                   " bytes this model spec allows"));
  }
  InitialModelFile out;
  FEDLOG_ASSIGN_OR_RETURN(out.sha256, FileDigest(path));
  if (!sha256.empty() && absl::AsciiStrToLower(sha256) != out.sha256) {
    return absl::DataLossError(absl::StrCat("initial model ", path, ": sha256 ", out.sha256, ", expected ",
                                            absl::AsciiStrToLower(sha256)));
  }
  fl::BundleReadOptions read;
  read.sha256 = out.sha256;  // the bytes decoded are the bytes digested
  read.max_bytes = limit;
  absl::StatusOr<fl::TensorBundle> bundle = fl::ReadBundleFileWhole(path, read);
  if (!bundle.ok()) {
    return absl::Status(bundle.status().code(),
                        absl::StrCat("initial model ", path, ": ", bundle.status().message()));
  }
  if (absl::Status st = CheckInitialModel(reference, schema, *bundle); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("initial model ", path, ": ", st.message()));
  }
  out.weights = *std::move(bundle);
  return out;
}

}  // namespace fedlog::model
