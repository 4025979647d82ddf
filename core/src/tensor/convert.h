// Conversion of stored elements to and from float32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "paramscope/dtype.h"

namespace paramscope {

/// Converts count elements of a plain dtype (not a GGML block type) to float. BOOL gives 0 or 1;
/// integers are rounded to the nearest float. byte_swap: the elements are big-endian.
void convert_to_f32(DType dtype, const std::byte* src, std::size_t count, float* out, bool byte_swap = false) noexcept;

/// Converts count floats to dtype (F32, F64, F16, BF16: round to nearest even; integers and BOOL:
/// round, saturate). dst must hold count * element size bytes.
void convert_from_f32(DType dtype, const float* src, std::size_t count, std::byte* dst) noexcept;

float f16_to_f32(std::uint16_t h) noexcept;
float bf16_to_f32(std::uint16_t h) noexcept;
float f8e4m3_to_f32(std::uint8_t v) noexcept;  ///< OCP E4M3 "fn": no infinities, S.1111.111 is NaN
float f8e5m2_to_f32(std::uint8_t v) noexcept;  ///< IEEE-like, with infinities and NaNs
std::uint16_t f32_to_f16(float f) noexcept;
std::uint16_t f32_to_bf16(float f) noexcept;

}  // namespace paramscope
