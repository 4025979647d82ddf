// The SIMD kernel behind statistics and score reductions: sums of a block of floats in
// float64 lanes.
#pragma once

#include <cstdint>
#include <limits>

namespace paramscope {

struct BlockSums {
  double sum = 0, sq = 0, abs = 0;  // sum and sq are of (x - shift)
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
};

/// Sums of x[0, n) around `shift`. Meant for blocks without NaN or Inf: a NaN or Inf anywhere makes
/// sum or sq non-finite (in float64, sums of up to 2^16 finite floats cannot overflow), which is
/// how callers find the blocks to redo element by element. The lanes are fixed, so results do
/// not depend on threads.
BlockSums sum_block(const float* x, std::int64_t n, double shift) noexcept;

struct ScoreSums {
  double sum = 0, sq = 0;
  float max = -std::numeric_limits<float>::infinity();
};

/// sum_block without the shift, |x| and min, which score reductions do not use: about half the
/// work per element. Same lanes, so sum and sq equal sum_block's (shift 0) bit for bit; same NaN
/// and Inf rule.
ScoreSums sum_scores(const float* x, std::int64_t n) noexcept;

}  // namespace paramscope
