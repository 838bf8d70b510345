#include "common/fl/bundle_codec.h"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

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

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past the largest half
  if (abs < 0x38800000u) {  // subnormal half (or zero): value = mant * 2^-24
    float af;
    std::memcpy(&af, &abs, 4);
    const float scaled = af * 16777216.0f;  // exact for these magnitudes
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even.
  uint32_t h = ((abs >> 13) - ((127 - 15) << 10));
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

void EncodeValues(const NamedTensor& t, WireDType dtype, v1::Tensor* pt) {
  const size_t n = t.values.size();
  if (dtype == WireDType::kFloat16) {
    pt->set_dtype(v1::DTYPE_FLOAT16);
    std::string data(n * 2, '\0');
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = FloatToHalf(t.values[i]);
      std::memcpy(&data[2 * i], &h, 2);
    }
    pt->set_data(std::move(data));
    return;
  }
  if (dtype == WireDType::kInt8) {
    pt->set_dtype(v1::DTYPE_INT8);
    float max_abs = 0;
    for (float v : t.values) max_abs = std::max(max_abs, std::fabs(v));
    const float scale = max_abs > 0 ? max_abs / 127.0f : 1.0f;
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i) {
      long q = std::lround(t.values[i] / scale);
      data[i] = static_cast<char>(static_cast<int8_t>(std::clamp(q, -127L, 127L)));
    }
    pt->set_scale(scale);
    pt->set_data(std::move(data));
    return;
  }
  pt->set_dtype(v1::DTYPE_FLOAT32);
  pt->set_data(reinterpret_cast<const char*>(t.values.data()), n * sizeof(float));
}

constexpr unsigned char kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};

bool IsZstd(absl::string_view bytes) {
  return bytes.size() >= 4 && std::memcmp(bytes.data(), kZstdMagic, 4) == 0;
}

absl::StatusOr<std::string> Decompress(absl::string_view bytes, int64_t max_bytes) {
  unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return absl::InvalidArgumentError("zstd frame without a readable content size");
  }
  if (size > static_cast<unsigned long long>(max_bytes)) {
    return absl::InvalidArgumentError(absl::StrCat("compressed bundle expands to ", size, " bytes, over the limit"));
  }
  // The header's size is only a claim: the output grows as data really arrives (doubling from 1 MiB), so a
  // few bytes claiming gigabytes cost no more than what they actually expand to.
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (ctx == nullptr) return absl::ResourceExhaustedError("zstd: cannot create a decompression context");
  const size_t claimed = static_cast<size_t>(size);
  std::string out;
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  size_t produced = 0;
  for (;;) {
    if (produced == out.size() && out.size() < claimed) {
      out.resize(std::min(claimed, std::max<size_t>(out.size() * 2, size_t{1} << 20)));
    }
    ZSTD_outBuffer o{out.data(), out.size(), produced};
    const size_t in_before = in.pos;
    const size_t left = ZSTD_decompressStream(ctx.get(), &o, &in);
    if (ZSTD_isError(left)) return absl::InvalidArgumentError(absl::StrCat("zstd: ", ZSTD_getErrorName(left)));
    const bool progress = o.pos != produced || in.pos != in_before;
    produced = o.pos;
    if (left == 0) break;  // the frame is complete
    if (!progress) {
      return absl::InvalidArgumentError(in.pos == in.size ? "zstd: truncated frame"
                                                          : "zstd: more data than the frame's content size");
    }
  }
  if (in.pos != in.size) return absl::InvalidArgumentError("zstd: data after the frame");
  if (produced != claimed) return absl::InvalidArgumentError("zstd: short");
  return out;
}

// The data size is checked against the shape before anything is allocated: the shape is untrusted and may
// claim far more elements than the message holds.
absl::Status DecodeValues(const v1::Tensor& t, int64_t n, std::vector<float>* out) {
  const std::string& d = t.data();
  const int64_t width = t.dtype() == v1::DTYPE_FLOAT32 ? 4 : t.dtype() == v1::DTYPE_FLOAT16 ? 2 : 1;
  if (t.dtype() != v1::DTYPE_FLOAT32 && t.dtype() != v1::DTYPE_FLOAT16 && t.dtype() != v1::DTYPE_INT8) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(), "' has unknown dtype ", t.dtype()));
  }
  if (static_cast<int64_t>(d.size()) != n * width) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name(), "' data is ", d.size(), " bytes, which does not fit ", n, " elements"));
  }
  out->resize(static_cast<size_t>(n));
  switch (t.dtype()) {
    case v1::DTYPE_FLOAT32:
      if (!d.empty()) std::memcpy(out->data(), d.data(), d.size());  // empty: data() may be null
      break;
    case v1::DTYPE_FLOAT16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, d.data() + 2 * i, 2);
        (*out)[i] = HalfToFloat(h);
      }
      break;
    default:  // DTYPE_INT8
      for (int64_t i = 0; i < n; ++i) (*out)[i] = t.scale() * static_cast<int8_t>(d[i]);
      break;
  }
  return absl::OkStatus();
}

}  // namespace

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

absl::StatusOr<WireDType> ParseWireDType(const std::string& name) {
  if (name.empty() || name == "f32" || name == "float32") return WireDType::kFloat32;
  if (name == "f16" || name == "float16") return WireDType::kFloat16;
  if (name == "int8") return WireDType::kInt8;
  return absl::InvalidArgumentError(absl::StrCat("unknown update dtype '", name, "' (float32, float16, int8)"));
}

absl::StatusOr<std::string> EncodeBundle(const TensorBundle& bundle, const EncodeOptions& options) {
  if (!IsLittleEndian()) return absl::UnimplementedError("big-endian hosts are not supported");
  FEDLOG_RETURN_IF_ERROR(ValidateBundle(bundle));
  v1::TensorBundle proto;
  for (const auto& t : bundle.tensors) {
    v1::Tensor* pt = proto.add_tensors();
    pt->set_name(t.name);
    for (int64_t d : t.shape) pt->add_shape(d);
    EncodeValues(t, options.dtype, pt);
  }
  std::string out;
  if (!proto.SerializeToString(&out)) return absl::InternalError("cannot serialize tensor bundle");
  if (!options.zstd) return out;
  std::string packed(ZSTD_compressBound(out.size()), '\0');
  size_t n = ZSTD_compress(packed.data(), packed.size(), out.data(), out.size(), options.zstd_level);
  if (ZSTD_isError(n)) return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
  packed.resize(n);
  return packed;
}

absl::StatusOr<TensorBundle> DecodeBundle(absl::string_view bytes, int64_t max_bytes) {
  if (!IsLittleEndian()) return absl::UnimplementedError("big-endian hosts are not supported");
  if (IsZstd(bytes)) {
    FEDLOG_ASSIGN_OR_RETURN(std::string raw, Decompress(bytes, max_bytes));
    return DecodeBundle(raw, max_bytes);
  }
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
