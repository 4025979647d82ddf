// The inner loops of building and viewing pyramids, compiled for AVX2 and baseline x86-64.
#pragma once

#include <cstddef>
#include <cstdint>

namespace paramscope::detail {

/// acc[k] = pick_max_abs(acc[k], x[k]) for k < n.
void max_abs_into(float* acc, const float* x, std::size_t n) noexcept;

/// For k < n and x[k] not NaN: sum[k] += x[k] * w, weight[k] += w, where w = row_weight * count[k]
/// (count null: w = row_weight). The weighted sums behind pyramid means.
void add_weighted(const float* x, const std::uint32_t* count, std::size_t n, double row_weight, double* sum,
                  double* weight) noexcept;

}  // namespace paramscope::detail
