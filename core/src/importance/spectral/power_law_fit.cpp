// WeightWatcher's default power-law fit (weightwatcher/WW_powerlaw.py, class WWFit, used since
// 0.7 when pl_package='ww' and xmax=None), ported: same candidates, estimator, distance and
// tie-breaking. It differs from the powerlaw package's Fit (Alstott et al.), which tries only
// unique values as xmin and measures D against the empirical CDF on both sides of each step.
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "paramscope/spectral.h"

namespace paramscope {
namespace {

// D for the candidate xmin = x[i]: max over the tail of |theoretical CDF - k/n|, with the
// theoretical CDF 1 - (x/xmin)^(1-alpha) written through logarithms (x/xmin == 1 gives 0 for
// every alpha, including the infinite one of an all-equal tail, as numpy's 1.0**-inf == 1 does).
double ks_distance(const std::vector<double>& logs, std::size_t i, double alpha) {
  const std::size_t count = logs.size() - i;
  const double n = static_cast<double>(count), exponent = 1.0 - alpha, li = logs[i];
  double d = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const double dl = logs[i + k] - li;
    const double cdf = dl == 0 ? 0.0 : 1.0 - std::exp(exponent * dl);
    d = std::max(d, std::fabs(cdf - static_cast<double>(k) / n));
  }
  return d;
}

}  // namespace

void fit_power_law(std::vector<double> ev, SpectralMetrics& out) {
  out.alpha = out.xmin = out.ks_distance = out.alpha_weighted = 0;
  out.tail_size = 0;

  // WeightWatcher fits evals[evals > EVALS_THRESH]; NaN and infinities have no place in a fit.
  std::erase_if(ev, [](double x) { return !(x > kPowerLawEigenvalueFloor) || !std::isfinite(x); });
  if (ev.size() < 2) return;
  std::sort(ev.begin(), ev.end());
  const std::size_t size = ev.size(), candidates = size - 1;  // the largest value is never xmin

  std::vector<double> logs(size);
  for (std::size_t i = 0; i < size; ++i) logs[i] = std::log(ev[i]);
  // Suffix sums of the logarithms in extended precision: sum(ln x) - n ln xmin cancels badly when
  // the tail is narrow.
  std::vector<long double> suffix(size + 1, 0.0L);
  for (std::size_t i = size; i-- > 0;) suffix[i] = suffix[i + 1] + static_cast<long double>(logs[i]);

  std::vector<double> alphas(candidates), distances(candidates, 1.0);  // WWFit starts every D at 1
  for (std::size_t i = 0; i < candidates; ++i) {
    const long double n = static_cast<long double>(size - i);
    // An all-equal tail divides by zero: alpha is +inf there, as numpy computes it.
    if (logs[i] == logs.back()) {
      alphas[i] = std::numeric_limits<double>::infinity();
      continue;
    }
    const long double denominator = suffix[i] - n * static_cast<long double>(logs[i]);
    alphas[i] = static_cast<double>(1.0L + n / denominator);
  }
  // The distances are O(size^2): candidates are independent, so they are spread over the pool.
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, candidates, 64), [&](const tbb::blocked_range<std::size_t>& r) {
    for (std::size_t i = r.begin(); i != r.end(); ++i)
      if (alphas[i] > 1) distances[i] = ks_distance(logs, i, alphas[i]);
  });

  const std::size_t best =
      static_cast<std::size_t>(std::min_element(distances.begin(), distances.end()) - distances.begin());
  if (!std::isfinite(alphas[best])) return;
  out.alpha = alphas[best];
  out.xmin = ev[best];
  out.ks_distance = distances[best];
  out.alpha_weighted = out.alpha * std::log10(ev.back());
  // Every eigenvalue >= xmin, as WeightWatcher counts num_pl_spikes (equal values below index best too).
  out.tail_size = static_cast<std::int64_t>(ev.end() - std::lower_bound(ev.begin(), ev.end(), out.xmin));
}

}  // namespace paramscope
