#include "common/fl/bundle_parse.h"

#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::fl::internal {
namespace {

namespace pbio = google::protobuf::io;
using google::protobuf::internal::WireFormatLite;

constexpr uint32_t kNameTag = (1 << 3) | 2;
constexpr uint32_t kDtypeTag = (2 << 3) | 0;
constexpr uint32_t kShapeTag = (3 << 3) | 0;
constexpr uint32_t kPackedShapeTag = (3 << 3) | 2;
constexpr uint32_t kDataTag = (4 << 3) | 2;
constexpr uint32_t kScaleTag = (5 << 3) | 5;

absl::Status Truncated(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("tensor bundle is malformed (", what, ")"));
}

bool KnownDtype(int dtype) {
  return dtype == v1::DTYPE_FLOAT32 || dtype == v1::DTYPE_FLOAT16 || dtype == v1::DTYPE_INT8;
}

size_t Width(int dtype) { return dtype == v1::DTYPE_FLOAT32 ? 4 : dtype == v1::DTYPE_FLOAT16 ? 2 : 1; }

// What is known of one Tensor message so far.
struct Head {
  std::string name;
  std::vector<int64_t> shape;
  int64_t elements = 1;
  int dtype = 0;
  float scale = 0;
};

// Buffers reused across tensors: one chunk of float32 values and one of raw narrow values.
struct Scratch {
  std::vector<float> values = std::vector<float>(kChunkValues);
  std::vector<unsigned char> raw = std::vector<unsigned char>(kChunkValues * 2);
};

// The checks a data field of `len` bytes must pass against the tensor's dtype and shape.
absl::Status CheckDataSize(const Head& h, uint64_t len) {
  const size_t width = Width(h.dtype);
  if (len % width != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", h.name, "' data is ", len, " bytes, which does not fit its dtype"));
  }
  if (static_cast<int64_t>(len / width) != h.elements) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", h.name, "' data holds ", len / width,
                                                   " values, which does not fit ", h.elements, " elements"));
  }
  return absl::OkStatus();
}

// Decodes `count` values of h.dtype from `in` into `sink`, kChunkValues at a time. Int8 values are multiplied by
// h.scale exactly as DecodeBundle does (float(q) * scale).
absl::Status StreamValues(pbio::CodedInputStream* in, const Head& h, size_t count, Scratch* scratch,
                          TensorSink* sink) {
  const size_t width = Width(h.dtype);
  float* out = scratch->values.data();
  for (size_t done = 0; done < count;) {
    const size_t k = std::min(count - done, kChunkValues);
    if (h.dtype == v1::DTYPE_FLOAT32) {
      if (!in->ReadRaw(out, static_cast<int>(k * 4))) return Truncated("short data");
    } else {
      const unsigned char* raw = scratch->raw.data();
      if (!in->ReadRaw(scratch->raw.data(), static_cast<int>(k * width))) return Truncated("short data");
      if (width == 2) {
        for (size_t i = 0; i < k; ++i) {
          uint16_t half;
          std::memcpy(&half, raw + 2 * i, 2);
          out[i] = HalfToFloat(half);
        }
      } else {
        for (size_t i = 0; i < k; ++i) out[i] = static_cast<float>(static_cast<int8_t>(raw[i])) * h.scale;
      }
    }
    FEDLOG_RETURN_IF_ERROR(sink->TensorValues(out, k));
    done += k;
  }
  return absl::OkStatus();
}

absl::Status ReadShape(pbio::CodedInputStream* in, uint32_t tag, Head* h) {
  int limit = -1;
  if (tag == kPackedShapeTag) {
    uint32_t len = 0;
    if (!in->ReadVarint32(&len)) return Truncated("shape");
    limit = in->PushLimit(static_cast<int>(len));
  }
  do {
    uint64_t d = 0;
    if (!in->ReadVarint64(&d)) return Truncated("shape");
    const int64_t dim = static_cast<int64_t>(d);
    if (dim < 0 || (dim > 0 && h->elements > (int64_t{1} << 40) / dim)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", h->name, "' has an invalid shape"));
    }
    h->shape.push_back(dim);
    h->elements *= dim;
  } while (limit >= 0 && in->BytesUntilLimit() > 0);
  if (limit >= 0) in->PopLimit(limit);
  return absl::OkStatus();
}

absl::Status Begin(const Head& h, std::set<std::string>* names, TensorSink* sink) {
  if (h.name.empty()) return absl::InvalidArgumentError("tensor with an empty name");
  if (!names->insert(h.name).second) {
    return absl::InvalidArgumentError(absl::StrCat("duplicate tensor '", h.name, "'"));
  }
  return sink->BeginTensor(h.name, h.shape);
}

// Parses one fedlog.v1.Tensor message (the stream is limited to it) into `sink`.
absl::Status ParseTensor(pbio::CodedInputStream* in, std::set<std::string>* names, Scratch* scratch,
                         TensorSink* sink) {
  Head h;
  bool have_data = false;
  bool streamed = false;  // the data went to the sink already
  std::string pending;    // raw data held until the message ends
  while (uint32_t tag = in->ReadTag()) {
    if (streamed && (tag == kNameTag || tag == kDtypeTag || tag == kShapeTag || tag == kPackedShapeTag)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", h.name, "' has metadata after its data"));
    }
    uint32_t len = 0;
    switch (tag) {
      case kNameTag:
        if (!in->ReadVarint32(&len) || !in->ReadString(&h.name, static_cast<int>(len))) return Truncated("name");
        break;
      case kDtypeTag: {
        uint32_t v = 0;
        if (!in->ReadVarint32(&v)) return Truncated("dtype");
        h.dtype = static_cast<int>(v);
        break;
      }
      case kShapeTag:
      case kPackedShapeTag:
        FEDLOG_RETURN_IF_ERROR(ReadShape(in, tag, &h));
        break;
      case kDataTag:
        if (have_data) return absl::InvalidArgumentError(absl::StrCat("tensor '", h.name, "' has two data fields"));
        have_data = true;
        if (!in->ReadVarint32(&len)) return Truncated("data");
        if (static_cast<int64_t>(len) > in->BytesUntilLimit()) return Truncated("data runs past its tensor");
        if (KnownDtype(h.dtype) && h.dtype != v1::DTYPE_INT8 && !h.name.empty()) {
          FEDLOG_RETURN_IF_ERROR(CheckDataSize(h, len));
          FEDLOG_RETURN_IF_ERROR(Begin(h, names, sink));
          FEDLOG_RETURN_IF_ERROR(StreamValues(in, h, len / Width(h.dtype), scratch, sink));
          streamed = true;
        } else if (!in->ReadString(&pending, static_cast<int>(len))) {
          return Truncated("data");
        }
        break;
      case kScaleTag: {
        uint32_t bits = 0;
        if (!in->ReadLittleEndian32(&bits)) return Truncated("scale");
        std::memcpy(&h.scale, &bits, 4);
        break;
      }
      default:
        if (!WireFormatLite::SkipField(in, tag)) return Truncated("unknown field");
    }
  }
  if (!in->ConsumedEntireMessage()) return Truncated("tensor");
  if (!streamed) {
    if (!KnownDtype(h.dtype)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", h.name, "' has unknown dtype ", h.dtype));
    }
    FEDLOG_RETURN_IF_ERROR(CheckDataSize(h, pending.size()));
    FEDLOG_RETURN_IF_ERROR(Begin(h, names, sink));
    pbio::CodedInputStream sub(reinterpret_cast<const uint8_t*>(pending.data()), static_cast<int>(pending.size()));
    FEDLOG_RETURN_IF_ERROR(StreamValues(&sub, h, pending.size() / Width(h.dtype), scratch, sink));
  }
  return sink->EndTensor();
}

}  // namespace

absl::Status ParseBundleStream(pbio::CodedInputStream* in, TensorSink* sink) {
  std::set<std::string> names;
  Scratch scratch;
  while (uint32_t tag = in->ReadTag()) {
    if (tag != kNameTag) {  // field 1 of TensorBundle: a Tensor message
      if (!WireFormatLite::SkipField(in, tag)) return Truncated("unknown field");
      continue;
    }
    uint32_t len = 0;
    if (!in->ReadVarint32(&len) || len > static_cast<uint32_t>(INT_MAX)) return Truncated("tensor length");
    const int limit = in->PushLimit(static_cast<int>(len));
    FEDLOG_RETURN_IF_ERROR(ParseTensor(in, &names, &scratch, sink));
    in->PopLimit(limit);
  }
  if (!in->ConsumedEntireMessage()) return Truncated("bundle");
  return absl::OkStatus();
}

}  // namespace fedlog::fl::internal
