#include "stats/block_sums.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace paramscope {

// The hot loop, for blocks without NaN or Inf. Written with GCC vector types so that both
// clones (AVX2 and baseline x86-64, picked at load time) are SIMD; sums are in double so results
// match a float64 reference.
using v4f = float __attribute__((vector_size(16)));
using v4d = double __attribute__((vector_size(32)));

[[gnu::target_clones("avx2", "default")]] BlockSums sum_block(const float* x, std::int64_t n, double shift) noexcept {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const v4d sh = {shift, shift, shift, shift};
  v4d s0 = {}, s1 = {}, q0 = {}, q1 = {}, a0 = {}, a1 = {};
  v4f mn0 = {inf, inf, inf, inf}, mn1 = mn0, mx0 = -mn0, mx1 = -mn0;
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4f lo, hi;
    std::memcpy(&lo, x + i, sizeof lo);
    std::memcpy(&hi, x + i + 4, sizeof hi);
    const v4d dl = __builtin_convertvector(lo, v4d), dh = __builtin_convertvector(hi, v4d);
    a0 += dl < 0 ? -dl : dl;
    a1 += dh < 0 ? -dh : dh;
    const v4d el = dl - sh, eh = dh - sh;
    s0 += el;
    s1 += eh;
    q0 += el * el;
    q1 += eh * eh;
    mn0 = lo < mn0 ? lo : mn0;
    mn1 = hi < mn1 ? hi : mn1;
    mx0 = lo > mx0 ? lo : mx0;
    mx1 = hi > mx1 ? hi : mx1;
  }
  BlockSums r;
  for (int j = 0; j < 4; ++j) {
    r.sum += s0[j] + s1[j];
    r.sq += q0[j] + q1[j];
    r.abs += a0[j] + a1[j];
    r.min = std::min({r.min, mn0[j], mn1[j]});
    r.max = std::max({r.max, mx0[j], mx1[j]});
  }
  for (; i < n; ++i) {
    const float v = x[i];
    const double d = static_cast<double>(v) - shift;
    r.sum += d;
    r.sq += d * d;
    r.abs += std::fabs(static_cast<double>(v));
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
  }
  return r;
}

[[gnu::target_clones("avx2", "default")]] ScoreSums sum_scores(const float* x, std::int64_t n) noexcept {
  constexpr float inf = std::numeric_limits<float>::infinity();
  v4d s0 = {}, s1 = {}, q0 = {}, q1 = {};
  v4f mx0 = {-inf, -inf, -inf, -inf}, mx1 = mx0;
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4f lo, hi;
    std::memcpy(&lo, x + i, sizeof lo);
    std::memcpy(&hi, x + i + 4, sizeof hi);
    const v4d dl = __builtin_convertvector(lo, v4d), dh = __builtin_convertvector(hi, v4d);
    s0 += dl;
    s1 += dh;
    q0 += dl * dl;
    q1 += dh * dh;
    mx0 = lo > mx0 ? lo : mx0;
    mx1 = hi > mx1 ? hi : mx1;
  }
  ScoreSums r;
  for (int j = 0; j < 4; ++j) {
    r.sum += s0[j] + s1[j];
    r.sq += q0[j] + q1[j];
    r.max = std::max({r.max, mx0[j], mx1[j]});
  }
  for (; i < n; ++i) {
    const auto d = static_cast<double>(x[i]);
    r.sum += d;
    r.sq += d * d;
    r.max = std::max(r.max, x[i]);
  }
  return r;
}

}  // namespace paramscope
