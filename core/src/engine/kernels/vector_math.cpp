#include "engine/kernels/vector_math.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <unsupported/Eigen/SpecialFunctions>

namespace paramscope::engine::kernels {
namespace {

template <class T>
using In = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using Out = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

// Eigen clamps exp's argument to float's range, which gives the smallest normal number instead
// of a denormal or 0 far below it and inf just below the top: those few take libm's value.
void exp_ends(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    if (x[i] < -87.0f || x[i] > 88.0f) y[i] = std::exp(x[i]);
}

}  // namespace

void exp(const float* x, float* y, std::int64_t n) {
  // In blocks: one outside Eigen's range is computed from a copy (x may be y) and then fixed up.
  constexpr std::int64_t block = 1024;
  float saved[block];
  for (std::int64_t b = 0; b < n; b += block) {
    const std::int64_t m = std::min(block, n - b);
    const In<float> xb(x + b, m);
    if (xb.minCoeff() >= -87.0f && xb.maxCoeff() <= 88.0f) {  // false for NaN too
      Out<float>(y + b, m) = xb.exp();
      continue;
    }
    std::copy(x + b, x + b + m, saved);
    Out<float>(y + b, m) = In<float>(saved, m).exp();
    exp_ends(saved, y + b, m);
  }
}
void exp(const double* x, double* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

void log(const float* x, float* y, std::int64_t n) {
  Out<float>(y, n) = In<float>(x, n).log();
}
void log(const double* x, double* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
}

void tanh(const float* x, float* y, std::int64_t n) {
  Out<float>(y, n) = In<float>(x, n).tanh();
}
void tanh(const double* x, double* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void erf(const float* x, float* y, std::int64_t n) {
  Out<float>(y, n) = In<float>(x, n).erf();
}
void erf(const double* x, double* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::erf(x[i]);
}

// libm's: Eigen's fast-math sqrt is an approximation, and sqrt must be exact.
void sqrt(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
}
void sqrt(const double* x, double* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
}

}  // namespace paramscope::engine::kernels
