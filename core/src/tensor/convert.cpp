#include "tensor/convert.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace paramscope {
namespace {

inline float bits_f32(std::uint32_t b) noexcept { return std::bit_cast<float>(b); }
inline std::uint32_t f32_bits(float f) noexcept { return std::bit_cast<std::uint32_t>(f); }

template <class T>
inline T load(const std::byte* p, bool swap) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if (swap && sizeof(T) > 1) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    std::memcpy(&v, b, sizeof(T));
  }
  return v;
}

template <class T>
void convert_plain(const std::byte* src, std::size_t n, float* out, bool swap) noexcept {
  if (!swap) {
    for (std::size_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, src + i * sizeof(T), sizeof(T));
      out[i] = static_cast<float>(v);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load<T>(src + i * sizeof(T), true));
  }
}

template <class T>
void store_saturated(const float* src, std::size_t n, std::byte* dst) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const double r = std::nearbyint(static_cast<double>(src[i]));
    T v;
    if (std::isnan(r)) v = 0;
    else if (r <= static_cast<double>(std::numeric_limits<T>::lowest())) v = std::numeric_limits<T>::lowest();
    else if (r >= static_cast<double>(std::numeric_limits<T>::max())) v = std::numeric_limits<T>::max();
    else v = static_cast<T>(r);
    std::memcpy(dst + i * sizeof(T), &v, sizeof(T));
  }
}

// Branch-free IEEE half conversion after Marat Dukhan's FP16 library (exact for subnormals,
// infinities and NaNs, and it vectorises).
[[gnu::always_inline]] inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t w = static_cast<std::uint32_t>(h) << 16;
  const std::uint32_t sign = w & 0x80000000u;
  const std::uint32_t two_w = w + w;
  const float normalized = bits_f32((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  const float denormalized = bits_f32((two_w >> 17) | (126u << 23)) - 0.5f;
  const std::uint32_t result = sign | (two_w < (1u << 27) ? f32_bits(denormalized) : f32_bits(normalized));
  return bits_f32(result);
}

[[gnu::always_inline]] inline float brain_to_float(std::uint16_t h) noexcept {
  return bits_f32(static_cast<std::uint32_t>(h) << 16);
}

}  // namespace

float f16_to_f32(std::uint16_t h) noexcept { return half_to_float(h); }

std::uint16_t f32_to_f16(float f) noexcept {
  float base = (std::fabs(f) * 0x1.0p+112f) * 0x1.0p-110f;
  const std::uint32_t w = f32_bits(f);
  const std::uint32_t shl1_w = w + w;
  const std::uint32_t sign = w & 0x80000000u;
  std::uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = bits_f32((bias >> 1) + 0x07800000u) + base;
  const std::uint32_t bits = f32_bits(base);
  const std::uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const std::uint32_t mantissa_bits = bits & 0x00000FFFu;
  const std::uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<std::uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

float bf16_to_f32(std::uint16_t h) noexcept { return brain_to_float(h); }

std::uint16_t f32_to_bf16(float f) noexcept {
  const std::uint32_t b = f32_bits(f);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((b >> 16) | 0x0040u);  // quiet NaN
  const std::uint32_t rounded = b + 0x7FFFu + ((b >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

float f8e4m3_to_f32(std::uint8_t v) noexcept {
  const float sign = (v & 0x80u) ? -1.0f : 1.0f;
  const unsigned exp = (v >> 3) & 0xFu;
  const unsigned man = v & 0x7u;
  if (exp == 0xF && man == 0x7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * std::ldexp(static_cast<float>(man) / 8.0f, -6);
  return sign * std::ldexp(1.0f + static_cast<float>(man) / 8.0f, static_cast<int>(exp) - 7);
}

float f8e5m2_to_f32(std::uint8_t v) noexcept { return half_to_float(static_cast<std::uint16_t>(v << 8)); }

// The streaming hot path: built for AVX2 and for baseline x86-64, picked at load time.
[[gnu::target_clones("avx2", "default")]] void convert_to_f32(DType dtype, const std::byte* src, std::size_t n, float* out, bool swap) noexcept {
  if (n == 0) return;
  switch (dtype) {
    case DType::F32:
      if (!swap) std::memcpy(out, src, n * 4);
      else convert_plain<float>(src, n, out, true);
      return;
    case DType::F64: convert_plain<double>(src, n, out, swap); return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) out[i] = half_to_float(load<std::uint16_t>(src + 2 * i, swap));
      return;
    case DType::BF16:
      if (!swap) {
        for (std::size_t i = 0; i < n; ++i) {
          std::uint16_t h;
          std::memcpy(&h, src + 2 * i, 2);
          out[i] = brain_to_float(h);
        }
      } else {
        for (std::size_t i = 0; i < n; ++i) out[i] = brain_to_float(load<std::uint16_t>(src + 2 * i, true));
      }
      return;
    case DType::F8_E4M3:
      for (std::size_t i = 0; i < n; ++i) out[i] = f8e4m3_to_f32(static_cast<std::uint8_t>(src[i]));
      return;
    case DType::F8_E5M2:
      for (std::size_t i = 0; i < n; ++i) out[i] = f8e5m2_to_f32(static_cast<std::uint8_t>(src[i]));
      return;
    case DType::BOOL:
      for (std::size_t i = 0; i < n; ++i) out[i] = src[i] != std::byte{0} ? 1.0f : 0.0f;
      return;
    case DType::U8: convert_plain<std::uint8_t>(src, n, out, false); return;
    case DType::I8: convert_plain<std::int8_t>(src, n, out, false); return;
    case DType::I16: convert_plain<std::int16_t>(src, n, out, swap); return;
    case DType::U16: convert_plain<std::uint16_t>(src, n, out, swap); return;
    case DType::I32: convert_plain<std::int32_t>(src, n, out, swap); return;
    case DType::U32: convert_plain<std::uint32_t>(src, n, out, swap); return;
    case DType::I64: convert_plain<std::int64_t>(src, n, out, swap); return;
    case DType::U64: convert_plain<std::uint64_t>(src, n, out, swap); return;
    default:
      // Block types are decoded by their readers; reaching here is a programming error, not input.
      std::memset(out, 0, n * sizeof(float));
      return;
  }
}

void convert_from_f32(DType dtype, const float* src, std::size_t n, std::byte* dst) noexcept {
  if (n == 0) return;
  switch (dtype) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) {
        const double d = src[i];
        std::memcpy(dst + 8 * i, &d, 8);
      }
      return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t h = f32_to_f16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case DType::BOOL:
      for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] != 0.0f ? std::byte{1} : std::byte{0};
      return;
    case DType::U8: store_saturated<std::uint8_t>(src, n, dst); return;
    case DType::I8: store_saturated<std::int8_t>(src, n, dst); return;
    case DType::I16: store_saturated<std::int16_t>(src, n, dst); return;
    case DType::U16: store_saturated<std::uint16_t>(src, n, dst); return;
    case DType::I32: store_saturated<std::int32_t>(src, n, dst); return;
    case DType::U32: store_saturated<std::uint32_t>(src, n, dst); return;
    case DType::I64: store_saturated<std::int64_t>(src, n, dst); return;
    case DType::U64: store_saturated<std::uint64_t>(src, n, dst); return;
    default: std::memset(dst, 0, n * dtype_info(dtype).block_bytes); return;
  }
}

}  // namespace paramscope
