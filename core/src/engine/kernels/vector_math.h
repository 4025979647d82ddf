// Element-wise exp, log, tanh and erf over contiguous runs through Eigen's SIMD versions, several
// times faster than libm one element at a time: exp and log are within an ulp or two of libm
// (exp goes to 0 and inf where libm does); tanh and erf are rational approximations good to a few
// ulp that saturate to +-1 where float's result already is. sqrt is libm's (exact). Double
// precision is libm's. x == y (in place) is allowed. Also the pool split that the element-wise
// kernels share.
#pragma once

#include <cstdint>

#include "paramscope/jobs.h"

namespace paramscope::engine::kernels {

void exp(const float* x, float* y, std::int64_t n);
void exp(const double* x, double* y, std::int64_t n);
void log(const float* x, float* y, std::int64_t n);
void log(const double* x, double* y, std::int64_t n);
void tanh(const float* x, float* y, std::int64_t n);
void tanh(const double* x, double* y, std::int64_t n);
void erf(const float* x, float* y, std::int64_t n);
void erf(const double* x, double* y, std::int64_t n);
void sqrt(const float* x, float* y, std::int64_t n);
void sqrt(const double* x, double* y, std::int64_t n);

/// Elements per task when element-wise work is split over the pool: below it, threads cost more
/// than they save.
constexpr std::int64_t kElementGrain = std::int64_t{1} << 15;

/// Calls f(begin, end) over [0, n), split over the pool when n is large enough to pay for it.
template <class F>
void parallel_range(ThreadPool& pool, std::int64_t n, F&& f) {
  if (n <= kElementGrain) {
    if (n > 0) f(std::int64_t{0}, n);
    return;
  }
  pool.parallel_for(
      static_cast<std::size_t>(n), static_cast<std::size_t>(kElementGrain),
      [&](std::size_t b, std::size_t e) { f(static_cast<std::int64_t>(b), static_cast<std::int64_t>(e)); });
}

}  // namespace paramscope::engine::kernels
