// The 2x2 reductions a pyramid level is made of, and the rules shared by building and viewing.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace paramscope::detail {

/// ceil(n / 2^level): the cells of an axis of n elements at a level.
inline std::int64_t cells_at(std::int64_t n, int level) noexcept {
  const std::int64_t mask = (std::int64_t{1} << level) - 1;
  return (n >> level) + ((n & mask) != 0);
}

/// Max-abs of two values as a total order (|x|, then x; NaN lowest), so any grouping of a block
/// gives the same element: the pyramid's cells agree with a flat scan.
inline float pick_max_abs(float a, float b) noexcept {
  const float fa = std::fabs(a), fb = std::fabs(b);
  const bool take_b = (fb > fa) | ((fb == fa) & (b > a)) | (a != a);
  return take_b ? b : a;
}

/// dst (ceil(h/2) x ceil(w/2), row stride ds) = max-abs of the 2x2 blocks of src (h x w, stride ss).
/// Rows are combined first and then column pairs, each a branch-free loop the compiler vectorises
/// (the order does not matter: pick_max_abs is a maximum under a total order). pair needs w floats.
inline void halve_max_abs(const float* src, std::int64_t h, std::int64_t w, std::int64_t ss, float* dst,
                          std::int64_t ds, float* pair) noexcept {
  const std::int64_t pairs = w / 2;
  for (std::int64_t i = 0; 2 * i < h; ++i) {
    const float* r0 = src + 2 * i * ss;
    const float* r1 = (2 * i + 1 < h) ? r0 + ss : r0;  // an odd last row pairs with itself
    for (std::int64_t k = 0; k < w; ++k) pair[k] = pick_max_abs(r0[k], r1[k]);
    float* out = dst + i * ds;
    for (std::int64_t j = 0; j < pairs; ++j) out[j] = pick_max_abs(pair[2 * j], pair[2 * j + 1]);
    if (w % 2) out[pairs] = pair[w - 1];
  }
}

/// Means of the 2x2 blocks, weighted by the non-NaN element counts of the cells; src_count null
/// means level 0 (each non-NaN value counts 1). A block without values is NaN with count 0.
template <class Count>
void halve_mean(const float* src, const Count* src_count, std::int64_t h, std::int64_t w, std::int64_t ss, float* dst,
                Count* dst_count, std::int64_t ds) noexcept {
  for (std::int64_t i = 0; 2 * i < h; ++i) {
    const std::int64_t rows = (2 * i + 1 < h) ? 2 : 1;
    for (std::int64_t j = 0; 2 * j < w; ++j) {
      const std::int64_t cols = (2 * j + 1 < w) ? 2 : 1;
      double sum = 0, count = 0;
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
          const std::int64_t k = (2 * i + r) * ss + 2 * j + c;
          const float v = src[k];
          if (std::isnan(v)) continue;
          const double n = src_count ? static_cast<double>(src_count[k]) : 1.0;
          sum += static_cast<double>(v) * n;
          count += n;
        }
      dst[i * ds + j] = count > 0 ? static_cast<float>(sum / count) : std::numeric_limits<float>::quiet_NaN();
      dst_count[i * ds + j] = static_cast<Count>(count);
    }
  }
}

}  // namespace paramscope::detail
