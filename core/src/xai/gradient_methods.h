// Internals of the gradient baselines that tests check on their own: Integrated Gradients'
// quadratures and SmoothGrad's noise.
#pragma once

#include <cstdint>
#include <vector>

#include "paramscope/attribution.h"

namespace paramscope::xai {

/// Points alpha in [0, 1] and weights of an n-point rule for the integral over [0, 1], as Captum's
/// approximation_methods.py defines them: Gauss-Legendre (numpy's leggauss(n) nodes mapped to
/// [0, 1], weights halved); Riemann left/right/middle (weights 1/n at k/n, (k+1)/n, (k+1/2)/n);
/// trapezoid: Captum's alphas linspace(0, 1, n) with the trapezoid rule's weights 1/(n - 1), the
/// first and last halved. (Captum's riemann_trapezoid weights are 1/n, halved at the ends: they
/// sum to 1 - 1/n, so its maps are (n - 1)/n times these.) throws Error(Usage) for n < 1, or
/// n < 2 for the trapezoid.
struct Quadrature {
  std::vector<double> alpha, weight;
};
Quadrature ig_quadrature(std::int64_t n, IntegratedGradientsOptions::Method method);

/// A standard normal value that depends only on its arguments: Box-Muller over two 53-bit
/// uniforms from splitmix64's mixer of (seed, sample, copy, element / 2); elements 2j and 2j + 1
/// take the cosine and the sine of the same pair.
double standard_normal(std::uint64_t seed, std::uint64_t sample, std::uint64_t copy, std::uint64_t element) noexcept;

}  // namespace paramscope::xai
