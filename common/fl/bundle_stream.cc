#include "common/fl/bundle_stream.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <unistd.h>
#include <zstd.h>

#include <climits>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_parse.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::fl {
namespace {

namespace pbio = google::protobuf::io;

constexpr size_t kIoBuffer = 1 << 16;
constexpr int kParseBlock = 1 << 18;  // the parser's read size: below the mmap threshold, so it is reused
constexpr unsigned char kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};

// The file's bytes, hashed as they are read, and unwrapped from a zstd frame when the file is one.
class FileSource : public pbio::CopyingInputStream {
 public:
  // `hash`: compute the file's digest (Finish() returns "" otherwise).
  FileSource(std::FILE* f, int64_t max_bytes, bool hash)
      : f_(f), max_bytes_(max_bytes), hash_(hash), buf_(kIoBuffer) {
    Refill();
    zstd_ = len_ >= 4 && std::memcmp(buf_.data(), kZstdMagic, 4) == 0;
    if (zstd_) ds_ = ZSTD_createDStream();
  }
  ~FileSource() override {
    if (ds_ != nullptr) ZSTD_freeDStream(ds_);
  }

  int Read(void* buffer, int size) override {
    if (!status_.ok()) return -1;
    int n = zstd_ ? ReadZstd(buffer, size) : ReadPlain(buffer, size);
    if (n > 0) {
      produced_ += n;
      if (produced_ > max_bytes_) {
        status_ = absl::InvalidArgumentError(
            absl::StrCat("bundle is larger than the limit of ", max_bytes_));
        return -1;
      }
    }
    return n;
  }

  const absl::Status& status() const { return status_; }

  // Hashes whatever the parser left unread and returns the file's digest.
  std::string Finish() {
    if (!hash_) return "";
    while (!eof_) {
      pos_ = len_;
      Refill();
    }
    return sha_.FinalHex();
  }

 private:
  void Refill() {
    pos_ = 0;
    len_ = std::fread(buf_.data(), 1, buf_.size(), f_);
    if (len_ == 0) {
      eof_ = true;
      if (std::ferror(f_)) status_ = absl::DataLossError("cannot read bundle file");
      return;
    }
    if (hash_) sha_.Update(absl::string_view(buf_.data(), len_));
  }

  int ReadPlain(void* buffer, int size) {
    if (pos_ < len_) {  // what the zstd probe read first
      const size_t n = std::min(static_cast<size_t>(size), len_ - pos_);
      std::memcpy(buffer, buf_.data() + pos_, n);
      pos_ += n;
      return static_cast<int>(n);
    }
    if (eof_) return 0;
    // Straight into the parser's buffer: one copy less than going through buf_.
    const size_t n = std::fread(buffer, 1, static_cast<size_t>(size), f_);
    if (n == 0) {
      eof_ = true;
      if (std::ferror(f_)) {
        status_ = absl::DataLossError("cannot read bundle file");
        return -1;
      }
      return 0;
    }
    if (hash_) sha_.Update(absl::string_view(static_cast<const char*>(buffer), n));
    return static_cast<int>(n);
  }

  int ReadZstd(void* buffer, int size) {
    if (ds_ == nullptr) {
      status_ = absl::InternalError("zstd: cannot create a decompression stream");
      return -1;
    }
    ZSTD_outBuffer out{buffer, static_cast<size_t>(size), 0};
    while (out.pos == 0) {
      if (pos_ == len_) {
        if (!eof_) Refill();
        if (len_ == 0 || eof_) {
          if (!status_.ok()) return -1;
          if (last_ != 0) {
            status_ = absl::InvalidArgumentError("zstd: truncated frame");
            return -1;
          }
          return 0;
        }
      }
      ZSTD_inBuffer in{buf_.data(), len_, pos_};
      const size_t ret = ZSTD_decompressStream(ds_, &out, &in);
      pos_ = in.pos;
      if (ZSTD_isError(ret)) {
        status_ = absl::InvalidArgumentError(absl::StrCat("zstd: ", ZSTD_getErrorName(ret)));
        return -1;
      }
      last_ = ret;
    }
    return static_cast<int>(out.pos);
  }

  std::FILE* f_;
  const int64_t max_bytes_;
  const bool hash_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
  bool zstd_ = false;
  ZSTD_DStream* ds_ = nullptr;
  size_t last_ = 0;  // last ZSTD_decompressStream result: 0 at a frame boundary
  int64_t produced_ = 0;
  Sha256 sha_;
  absl::Status status_;
};

// Hands each whole tensor to a TensorVisitor.
class CollectingSink : public TensorSink {
 public:
  explicit CollectingSink(const TensorVisitor& visit) : visit_(visit) {}
  absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) override {
    tensor_ = NamedTensor{name, shape, {}};
    tensor_.values.reserve(static_cast<size_t>(NumElementsOf(shape)));
    return absl::OkStatus();
  }
  absl::Status TensorValues(const float* values, size_t n) override {
    tensor_.values.insert(tensor_.values.end(), values, values + n);
    return absl::OkStatus();
  }
  absl::Status EndTensor() override { return visit_(std::move(tensor_)); }

 private:
  const TensorVisitor& visit_;
  NamedTensor tensor_;
};

// Names and shapes only.
class LayoutSink : public TensorSink {
 public:
  absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) override {
    layout.push_back({name, shape});
    return absl::OkStatus();
  }
  absl::Status TensorValues(const float*, size_t) override { return absl::OkStatus(); }
  absl::Status EndTensor() override { return absl::OkStatus(); }

  BundleLayout layout;
};

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

absl::Status ReadBundleFileChunks(const std::string& path, const BundleReadOptions& options,
                                  TensorSink* sink) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  absl::Status st;
  std::string digest;
  {
    FileSource source(f, options.max_bytes, !options.sha256.empty());
    pbio::CopyingInputStreamAdaptor adaptor(&source, kParseBlock);
    {
      pbio::CodedInputStream in(&adaptor);
      in.SetTotalBytesLimit(INT_MAX);
      st = internal::ParseBundleStream(&in, sink);
    }
    if (!source.status().ok()) st = source.status();  // the parser saw only "truncated"
    if (st.ok()) digest = source.Finish();
  }
  std::fclose(f);
  if (!st.ok()) return st;
  if (!options.sha256.empty() && digest != options.sha256) {
    return absl::DataLossError(absl::StrCat("blob '", path, "' does not match its sha256"));
  }
  return absl::OkStatus();
}

absl::Status ReadBundleFile(const std::string& path, const BundleReadOptions& options,
                            const TensorVisitor& visit) {
  CollectingSink sink(visit);
  return ReadBundleFileChunks(path, options, &sink);
}

absl::StatusOr<BundleLayout> ReadBundleLayout(const std::string& path,
                                              const BundleReadOptions& options) {
  LayoutSink sink;
  FEDLOG_RETURN_IF_ERROR(ReadBundleFileChunks(path, options, &sink));
  return std::move(sink.layout);
}

absl::StatusOr<TensorBundle> ReadBundleFileWhole(const std::string& path,
                                                 const BundleReadOptions& options) {
  TensorBundle bundle;
  FEDLOG_RETURN_IF_ERROR(ReadBundleFile(path, options, [&](NamedTensor&& t) {
    bundle.tensors.push_back(std::move(t));
    return absl::OkStatus();
  }));
  return bundle;
}

BundleFileWriter::BundleFileWriter(std::string path, std::string tmp, std::FILE* f)
    : path_(std::move(path)), tmp_(std::move(tmp)), file_(f) {}

BundleFileWriter::~BundleFileWriter() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

absl::StatusOr<std::unique_ptr<BundleFileWriter>> BundleFileWriter::Create(
    const std::string& path) {
  const uint16_t probe = 1;
  unsigned char first;
  std::memcpy(&first, &probe, 1);
  if (first != 1) return absl::UnimplementedError("big-endian hosts are not supported");
  std::string tmp = path + ".tmp";
  std::FILE* f = CreatePrivateFile(tmp, /*exclusive=*/false);  // models and updates: owner only (0600)
  if (f == nullptr) return absl::InternalError(absl::StrCat("cannot create ", tmp));
  return std::unique_ptr<BundleFileWriter>(new BundleFileWriter(path, std::move(tmp), f));
}

absl::Status BundleFileWriter::Write(const void* data, size_t n) {
  if (file_ == nullptr) return absl::FailedPreconditionError("bundle writer already finished");
  if (n == 0) return absl::OkStatus();
  if (std::fwrite(data, 1, n, file_) != n)
    return absl::InternalError(absl::StrCat("cannot write ", tmp_));
  digest_.Update(absl::string_view(static_cast<const char*>(data), n));
  size_ += static_cast<int64_t>(n);
  return absl::OkStatus();
}

absl::Status BundleFileWriter::Append(const NamedTensor& t) {
  if (t.name.empty()) return absl::InvalidArgumentError("tensor with an empty name");
  if (t.NumElements() != static_cast<int64_t>(t.values.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name, "' shape does not match its values"));
  }
  // Exactly what v1::TensorBundle::SerializeToString writes: fields in number order, empty ones
  // omitted.
  v1::Tensor header;
  header.set_name(t.name);
  header.set_dtype(v1::DTYPE_FLOAT32);
  for (int64_t d : t.shape) header.add_shape(d);
  std::string head = header.SerializeAsString();
  const uint64_t data_len = t.values.size() * sizeof(float);
  std::string data_prefix;
  if (data_len > 0) {
    data_prefix.push_back(static_cast<char>((4 << 3) | 2));
    PutVarint(data_len, &data_prefix);
  }
  std::string prefix;
  prefix.push_back(static_cast<char>((1 << 3) | 2));
  PutVarint(head.size() + data_prefix.size() + data_len, &prefix);
  FEDLOG_RETURN_IF_ERROR(Write(prefix.data(), prefix.size()));
  FEDLOG_RETURN_IF_ERROR(Write(head.data(), head.size()));
  FEDLOG_RETURN_IF_ERROR(Write(data_prefix.data(), data_prefix.size()));
  return Write(t.values.data(), data_len);
}

absl::StatusOr<BundleFileInfo> BundleFileWriter::Finish() {
  if (file_ == nullptr) return absl::FailedPreconditionError("bundle writer already finished");
  const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path_));
  }
  return BundleFileInfo{digest_.FinalHex(), size_};
}

absl::StatusOr<BundleFileInfo> WriteBundleFile(
    const std::string& path, const TensorBundle& bundle,
    const std::function<bool(const std::string&)>& keep) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<BundleFileWriter> w, BundleFileWriter::Create(path));
  for (const auto& t : bundle.tensors) {
    if (!keep || keep(t.name)) FEDLOG_RETURN_IF_ERROR(w->Append(t));
  }
  return w->Finish();
}

}  // namespace fedlog::fl
