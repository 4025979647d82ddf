#include "importance/mask/mask_kernels.h"

#include "importance/mask/score_key.h"

namespace paramscope::mask::kernels {

[[gnu::target_clones("avx2", "default")]] void keys_of(const float* __restrict x, std::size_t n,
                                                       std::uint32_t* __restrict keys, KeyBits& bits) noexcept {
  for (std::size_t j = 0; j < n; ++j) keys[j] = score_key(x[j]);
  // Plain bit operations, so the loop vectorises: pos is all ones for keys of +0 and above,
  // neg for keys of numbers below -0 (NaN's key 0 is neither).
  std::uint32_t neg_all = 0xFFFFFFFFu, neg_any = 0, pos_all = 0xFFFFFFFFu, pos_any = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint32_t key = keys[j];
    const auto pos = static_cast<std::uint32_t>(static_cast<std::int32_t>(key) >> 31);
    const std::uint32_t neg = ~pos & (0u - static_cast<std::uint32_t>(key != 0));
    pos_all &= key | ~pos;
    pos_any |= key & pos;
    neg_all &= key | ~neg;
    neg_any |= key & neg;
  }
  bits.all[0] &= neg_all;
  bits.any[0] |= neg_any;
  bits.all[1] &= pos_all;
  bits.any[1] |= pos_any;
}

[[gnu::target_clones("avx2", "default")]] std::uint32_t mark_at_least(const float* __restrict x, std::size_t n,
                                                                      std::uint32_t lo,
                                                                      std::uint8_t* __restrict out) noexcept {
  std::uint32_t kept = 0;
  if (out) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint8_t keep = score_key(x[j]) >= lo;
      out[j] = keep;
      kept += keep;
    }
  } else {
    for (std::size_t j = 0; j < n; ++j) kept += score_key(x[j]) >= lo;
  }
  return kept;
}

[[gnu::target_clones("avx2", "default")]] AboveAndTies mark_ties(const float* __restrict x, std::size_t n,
                                                                 std::uint32_t key,
                                                                 std::uint8_t* __restrict out) noexcept {
  std::uint32_t above = 0, ties = 0;
  if (out) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint32_t k = score_key(x[j]);
      const auto a = static_cast<std::uint8_t>(k > key), t = static_cast<std::uint8_t>(k == key);
      out[j] = static_cast<std::uint8_t>(a | (t << 1));
      above += a;
      ties += t;
    }
  } else {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint32_t k = score_key(x[j]);
      above += k > key;
      ties += k == key;
    }
  }
  return {above, ties};
}

AboveAndTies mark_codes(const std::uint16_t* __restrict codes, std::size_t n, const std::uint8_t* __restrict lut,
                        std::uint8_t* __restrict out) noexcept {
  // A table lookup per element does not vectorise; the counts of the marks do.
  std::uint32_t above = 0, ties = 0;
  if (out) {
    for (std::size_t j = 0; j < n; ++j) out[j] = lut[codes[j]];
    const std::size_t c1 = count_byte(out, n, 1);
    return {static_cast<std::uint32_t>(c1), static_cast<std::uint32_t>(count_byte(out, n, 2))};
  }
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t m = lut[codes[j]];
    above += m & 1u;
    ties += m >> 1;
  }
  return {above, ties};
}

[[gnu::target_clones("avx2", "default")]] std::size_t count_byte(const std::uint8_t* __restrict p, std::size_t n,
                                                                 std::uint8_t v) noexcept {
  std::uint32_t c = 0;  // callers pass pieces far below 2^32 bytes
  for (std::size_t j = 0; j < n; ++j) c += p[j] == v;
  return c;
}

[[gnu::target_clones("avx2", "default")]] void replace_byte(std::uint8_t* __restrict p, std::size_t n,
                                                            std::uint8_t from, std::uint8_t to) noexcept {
  for (std::size_t j = 0; j < n; ++j) p[j] = p[j] == from ? to : p[j];
}

}  // namespace paramscope::mask::kernels
