#include "common/fl/bundle_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::fl {
namespace {

static_assert(sizeof(float) == 4, "float32 expected");

// Host order is little-endian on every platform we build for (x86-64, aarch64); assert it once.
bool IsLittleEndian() {
  const uint16_t probe = 1;
  unsigned char first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

absl::Status DecodeValues(const v1::Tensor& t, int64_t n, std::vector<float>* out) {
  const std::string& d = t.data();
  out->resize(static_cast<size_t>(n));
  switch (t.dtype()) {
    case v1::DTYPE_FLOAT32:
      if (static_cast<int64_t>(d.size()) != n * 4) break;
      std::memcpy(out->data(), d.data(), d.size());
      return absl::OkStatus();
    case v1::DTYPE_FLOAT16:
      if (static_cast<int64_t>(d.size()) != n * 2) break;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, d.data() + 2 * i, 2);
        (*out)[i] = HalfToFloat(h);
      }
      return absl::OkStatus();
    case v1::DTYPE_INT8:
      if (static_cast<int64_t>(d.size()) != n) break;
      for (int64_t i = 0; i < n; ++i) (*out)[i] = t.scale() * static_cast<int8_t>(d[i]);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(), "' has unknown dtype ", t.dtype()));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tensor '", t.name(), "' data is ", d.size(), " bytes, which does not fit ", n, " elements"));
}

}  // namespace

absl::StatusOr<std::string> EncodeBundle(const TensorBundle& bundle) {
  if (!IsLittleEndian()) return absl::UnimplementedError("big-endian hosts are not supported");
  FEDLOG_RETURN_IF_ERROR(ValidateBundle(bundle));
  v1::TensorBundle proto;
  for (const auto& t : bundle.tensors) {
    v1::Tensor* pt = proto.add_tensors();
    pt->set_name(t.name);
    pt->set_dtype(v1::DTYPE_FLOAT32);
    for (int64_t d : t.shape) pt->add_shape(d);
    pt->set_data(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
  }
  std::string out;
  if (!proto.SerializeToString(&out)) return absl::InternalError("cannot serialize tensor bundle");
  return out;
}

absl::StatusOr<TensorBundle> DecodeBundle(absl::string_view bytes) {
  if (!IsLittleEndian()) return absl::UnimplementedError("big-endian hosts are not supported");
  v1::TensorBundle proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("tensor bundle bytes do not parse");
  }
  TensorBundle bundle;
  bundle.tensors.reserve(proto.tensors_size());
  for (const auto& pt : proto.tensors()) {
    NamedTensor t;
    t.name = pt.name();
    int64_t n = 1;
    for (int64_t d : pt.shape()) {
      if (d < 0 || (d > 0 && n > (int64_t{1} << 40) / d)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", pt.name(), "' has an invalid shape"));
      }
      t.shape.push_back(d);
      n *= d;
    }
    FEDLOG_RETURN_IF_ERROR(DecodeValues(pt, n, &t.values));
    bundle.tensors.push_back(std::move(t));
  }
  FEDLOG_RETURN_IF_ERROR(ValidateBundle(bundle));
  return bundle;
}

}  // namespace fedlog::fl
