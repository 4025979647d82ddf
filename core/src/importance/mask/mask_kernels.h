// The per-element loops of top-k selection and mask writing, built for AVX2 and for baseline
// x86-64 (picked at load time, like the conversion and statistics kernels): together they run
// over every scored weight two or three times per mask.
#pragma once

#include <cstddef>
#include <cstdint>

namespace paramscope::mask::kernels {

/// AND and OR of the keys of negative numbers ([0]) and of the others ([1]; NaN in neither).
struct KeyBits {
  std::uint32_t all[2] = {0xFFFFFFFFu, 0xFFFFFFFFu};
  std::uint32_t any[2] = {0, 0};
};

/// keys[j] = score_key(x[j]); folds the keys into bits.
void keys_of(const float* x, std::size_t n, std::uint32_t* keys, KeyBits& bits) noexcept;

/// out[j] = key(x[j]) >= lo (if out); returns the count.
std::uint32_t mark_at_least(const float* x, std::size_t n, std::uint32_t lo, std::uint8_t* out) noexcept;

struct AboveAndTies {
  std::uint32_t above = 0, ties = 0;
};
/// out[j] = 1 above key, 2 at key, else 0 (if out); returns both counts.
AboveAndTies mark_ties(const float* x, std::size_t n, std::uint32_t key, std::uint8_t* out) noexcept;

/// out[j] = lut[codes[j]] (if out; lut values 0, 1 above, 2 at the cut); returns both counts.
AboveAndTies mark_codes(const std::uint16_t* codes, std::size_t n, const std::uint8_t* lut, std::uint8_t* out) noexcept;

/// How many bytes equal v.
std::size_t count_byte(const std::uint8_t* p, std::size_t n, std::uint8_t v) noexcept;

/// Every byte equal to `from` becomes `to`.
void replace_byte(std::uint8_t* p, std::size_t n, std::uint8_t from, std::uint8_t to) noexcept;

}  // namespace paramscope::mask::kernels
