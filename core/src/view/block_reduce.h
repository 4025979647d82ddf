// The 2x2 reductions a pyramid level is made of, and the rules shared by building and viewing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "view/block_kernels.h"

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
/// Like halve_max_abs, row pairs first and then column pairs, branch-free so that it vectorises;
/// sum and weight need w doubles each.
template <class Count>
void halve_mean(const float* src, const Count* src_count, std::int64_t h, std::int64_t w, std::int64_t ss, float* dst,
                Count* dst_count, std::int64_t ds, double* sum, double* weight) noexcept {
  const std::int64_t pairs = w / 2;
  const auto n = static_cast<std::size_t>(w);
  auto add_row = [&](std::int64_t k) {
    if constexpr (std::is_same_v<Count, std::uint32_t>) {
      add_weighted(src + k, src_count ? src_count + k : nullptr, n, 1.0, sum, weight);
    } else {  // the few cells above the tiles
      for (std::size_t x = 0; x < n; ++x) {
        const float v = src[k + static_cast<std::int64_t>(x)];
        if (v != v) continue;
        const double c = src_count ? static_cast<double>(src_count[k + static_cast<std::int64_t>(x)]) : 1.0;
        sum[x] += static_cast<double>(v) * c;
        weight[x] += c;
      }
    }
  };
  for (std::int64_t i = 0; 2 * i < h; ++i) {
    std::fill_n(sum, n, 0.0);
    std::fill_n(weight, n, 0.0);
    add_row(2 * i * ss);
    if (2 * i + 1 < h) add_row((2 * i + 1) * ss);  // an odd last row stands alone
    float* out = dst + i * ds;
    Count* out_count = dst_count + i * ds;
    for (std::int64_t j = 0; j < pairs; ++j) {
      const double s = sum[2 * j] + sum[2 * j + 1], c = weight[2 * j] + weight[2 * j + 1];
      out[j] = c > 0 ? static_cast<float>(s / c) : std::numeric_limits<float>::quiet_NaN();
      out_count[j] = static_cast<Count>(c);
    }
    if (w % 2) {
      out[pairs] = weight[w - 1] > 0 ? static_cast<float>(sum[w - 1] / weight[w - 1]) : std::numeric_limits<float>::quiet_NaN();
      out_count[pairs] = static_cast<Count>(weight[w - 1]);
    }
  }
}

}  // namespace paramscope::detail
