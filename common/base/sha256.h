// SHA-256 digests (OpenSSL EVP) for model blobs and manifests. Thread-safe.
#ifndef FEDLOG_COMMON_BASE_SHA256_H_
#define FEDLOG_COMMON_BASE_SHA256_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace fedlog {

// Lower-case hex digest of `data`.
std::string Sha256Hex(absl::string_view data);

// Incremental digest for data that arrives in chunks.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(absl::string_view data);
  std::string FinalHex();  // the object may not be updated afterwards

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_SHA256_H_
