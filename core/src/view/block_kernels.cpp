#include "view/block_kernels.h"

#include <cstring>

#include "view/block_reduce.h"

namespace paramscope::detail {

[[gnu::target_clones("avx2", "default")]] void max_abs_into(float* __restrict acc, const float* __restrict x,
                                                            std::size_t n) noexcept {
  for (std::size_t k = 0; k < n; ++k) acc[k] = pick_max_abs(acc[k], x[k]);
}

// GCC vector types, so that both clones are SIMD: plain loops with NaN tests stay scalar. A NaN
// cell must be selected away, not multiplied by a zero weight (NaN * 0 is NaN).
using v4f = float __attribute__((vector_size(16)));
using v4u = std::uint32_t __attribute__((vector_size(16)));
using v4i = std::int32_t __attribute__((vector_size(16)));
using v4l = std::int64_t __attribute__((vector_size(32)));
using v4d = double __attribute__((vector_size(32)));

[[gnu::target_clones("avx2", "default")]] void add_weighted(const float* __restrict x,
                                                            const std::uint32_t* __restrict count, std::size_t n,
                                                            double row_weight, double* __restrict sum,
                                                            double* __restrict weight) noexcept {
  const v4d rw = {row_weight, row_weight, row_weight, row_weight}, zero = {};
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    v4f v;
    std::memcpy(&v, x + k, sizeof v);
    const v4l ok = __builtin_convertvector(v == v, v4l);  // -1 where not NaN
    v4d w = rw;
    if (count) {
      v4u c;
      std::memcpy(&c, count + k, sizeof c);
      w *= __builtin_convertvector(c, v4d);
    }
    w = ok ? w : zero;
    const v4d d = ok ? __builtin_convertvector(v, v4d) : zero;
    v4d s, t;
    std::memcpy(&s, sum + k, sizeof s);
    std::memcpy(&t, weight + k, sizeof t);
    s += d * w;
    t += w;
    std::memcpy(sum + k, &s, sizeof s);
    std::memcpy(weight + k, &t, sizeof t);
  }
  for (; k < n; ++k) {
    const float v = x[k];
    if (v != v) continue;
    const double w = count ? row_weight * static_cast<double>(count[k]) : row_weight;
    sum[k] += static_cast<double>(v) * w;
    weight[k] += w;
  }
}

}  // namespace paramscope::detail
