// The gradient baselines: gradient x input, Integrated Gradients (with Captum's quadratures) and
// SmoothGrad (with a counter-based Gaussian generator, so that the noise does not depend on the
// batch size, the thread count or the platform's standard library). Formulas: docs/attributions.md.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "engine/classifier_run.h"
#include "paramscope/attribution.h"
#include "paramscope/error.h"
#include "xai/gradient_methods.h"
#include "xai/padded_runs.h"
#include "xai/target_score.h"

namespace paramscope::xai {

namespace {

// Inner runs poll cancellation but leave progress to the method (the engine would report nodes).
JobControl cancel_only(const JobControl& control) {
  return JobControl{control.cancel, {}};
}

Array batch_f32(const Array& x, const char* what) {
  if (x.rank() < 2 || x.dim(0) < 1 || x.size() == 0)
    throw usage_error(std::string(what) + " needs a batch of samples [batch, ...], not " + shape_string(x.shape()));
  return x.cast(DType::F32);
}

// a stacked over b along the first axis (same sample shape).
Array stack(const Array& a, const Array& b) {
  std::vector<std::int64_t> shape = a.shape();
  shape[0] += b.dim(0);
  Array out(DType::F32, shape);
  std::memcpy(out.bytes(), a.bytes(), a.byte_size());
  std::memcpy(out.bytes() + a.byte_size(), b.bytes(), b.byte_size());
  return out;
}

// Per sample of x, the sum over its `copies` modified copies of add(sample, copy, dscore/dcopy):
// make(sample, copy, row) writes a copy. The copies run as rows of batches in parallel, and their
// gradients are added in row order, so the sums do not depend on the batch size or the threads.
std::vector<double> sum_copy_gradients(
    const engine::Model& model, const ResolvedTarget& t, const Array& x, std::int64_t copies,
    const std::vector<std::int64_t>& classes, std::int64_t batch_rows, std::int64_t fixed, const JobControl& control,
    const std::function<void(std::int64_t, std::int64_t, float*)>& make,
    const std::function<void(std::int64_t, std::int64_t, const float*, double*)>& add) {
  const std::int64_t batch = x.dim(0), per = x.size() / batch, rows = batch * copies;
  const JobControl inner = cancel_only(control);
  std::vector<double> sums(static_cast<std::size_t>(batch * per));
  std::vector<Array> grads(static_cast<std::size_t>((rows + batch_rows - 1) / batch_rows));
  engine::for_each_batch(
      rows, batch_rows, control,
      [&](std::int64_t index, std::int64_t first, std::int64_t count) {
        std::vector<std::int64_t> shape = x.shape();
        shape[0] = count;
        Array in(DType::F32, shape);
        std::vector<std::int64_t> cls(static_cast<std::size_t>(count));
        for (std::int64_t r = 0; r < count; ++r) {
          const std::int64_t b = (first + r) / copies;
          cls[static_cast<std::size_t>(r)] = classes[static_cast<std::size_t>(b)];
          make(b, (first + r) % copies, in.data<float>() + r * per);
        }
        grads[static_cast<std::size_t>(index)] = input_gradient_padded(model, t, in, cls, fixed, inner);
      },
      [&](std::int64_t index) {
        const Array g = std::move(grads[static_cast<std::size_t>(index)]);
        grads[static_cast<std::size_t>(index)] = Array();
        const std::int64_t first = index * batch_rows;
        for (std::int64_t r = 0; r < g.dim(0); ++r) {
          const std::int64_t b = (first + r) / copies;
          add(b, (first + r) % copies, g.data<float>() + r * per, sums.data() + b * per);
        }
      });
  return sums;
}

// splitmix64's output function (Steele, Lea, Flood 2014) on state + the golden gamma.
constexpr std::uint64_t mix(std::uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Quadrature ig_quadrature(std::int64_t n, IntegratedGradientsOptions::Method method) {
  using M = IntegratedGradientsOptions::Method;
  const std::int64_t least = method == M::RiemannTrapezoid ? 2 : 1;
  if (n < least)
    throw usage_error("Integrated Gradients needs at least " + std::to_string(least) + " steps" +
                      (least == 2 ? " for the trapezoid rule" : "") + ", not " + std::to_string(n));
  Quadrature q;
  q.alpha.resize(static_cast<std::size_t>(n));
  q.weight.resize(static_cast<std::size_t>(n));
  const auto nd = static_cast<double>(n);
  if (method == M::GaussLegendre) {
    // The roots of P_n by Newton's method from Tricomi's estimates, as numpy's leggauss gives
    // them (ascending on [-1, 1], weights summing to 2), then mapped to [0, 1] (weights halved).
    const std::int64_t half = (n + 1) / 2;
    for (std::int64_t i = 0; i < half; ++i) {
      double z = std::cos(std::numbers::pi * (static_cast<double>(i) + 0.75) / (nd + 0.5));
      double dp = 1;
      for (int iter = 0; iter < 100; ++iter) {
        double p1 = 1, p0 = 0;
        for (std::int64_t j = 1; j <= n; ++j) {
          const double pm = p0;
          p0 = p1;
          const auto jd = static_cast<double>(j);
          p1 = ((2 * jd - 1) * z * p0 - (jd - 1) * pm) / jd;
        }
        dp = nd * (z * p1 - p0) / (z * z - 1);
        const double z1 = z;
        z = z1 - p1 / dp;
        if (std::fabs(z - z1) <= 1e-15) break;
      }
      // one more derivative at the converged root for the weight
      double p1 = 1, p0 = 0;
      for (std::int64_t j = 1; j <= n; ++j) {
        const double pm = p0;
        p0 = p1;
        const auto jd = static_cast<double>(j);
        p1 = ((2 * jd - 1) * z * p0 - (jd - 1) * pm) / jd;
      }
      dp = nd * (z * p1 - p0) / (z * z - 1);
      const double w = 2 / ((1 - z * z) * dp * dp);
      const auto lo = static_cast<std::size_t>(i), hi = static_cast<std::size_t>(n - 1 - i);
      q.alpha[lo] = 0.5 * (1 - z);
      q.alpha[hi] = 0.5 * (1 + z);
      q.weight[lo] = q.weight[hi] = 0.5 * w;
    }
    return q;
  }
  for (std::int64_t k = 0; k < n; ++k) {
    const auto kd = static_cast<double>(k);
    const auto i = static_cast<std::size_t>(k);
    q.weight[i] = method == M::RiemannTrapezoid ? 1 / (nd - 1) : 1 / nd;
    switch (method) {
      case M::RiemannTrapezoid:
        q.alpha[i] = kd / (nd - 1);
        break;  // linspace(0, 1, n)
      case M::RiemannLeft:
        q.alpha[i] = kd / nd;
        break;  // linspace(0, 1 - 1/n, n)
      case M::RiemannMiddle:
        q.alpha[i] = (kd + 0.5) / nd;
        break;  // linspace(1/2n, 1 - 1/2n, n)
      case M::RiemannRight:
        q.alpha[i] = (kd + 1) / nd;
        break;  // linspace(1/n, 1, n)
      case M::GaussLegendre:
        break;
    }
  }
  if (method == M::RiemannTrapezoid) {
    q.weight.front() /= 2;
    q.weight.back() /= 2;
  }
  return q;
}

double standard_normal(std::uint64_t seed, std::uint64_t sample, std::uint64_t copy, std::uint64_t element) noexcept {
  // Elements 2j and 2j + 1 share one Box-Muller pair drawn from the key (seed, sample, copy, j).
  const std::uint64_t key = mix(mix(mix(mix(seed) ^ sample) ^ copy) ^ (element >> 1));
  const std::uint64_t h1 = mix(key), h2 = mix(key ^ 0xd1b54a32d192ed03ULL);
  const double u1 = static_cast<double>((h1 >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(h2 >> 11) * 0x1.0p-53;        // [0, 1)
  const double r = std::sqrt(-2 * std::log(u1));
  const double angle = 2 * std::numbers::pi * u2;
  return (element & 1) ? r * std::sin(angle) : r * std::cos(angle);
}

Attribution gradient_x_input(const engine::Model& model, const Array& x_in, const Target& target,
                             const JobControl& control) {
  const ResolvedTarget t = resolve_target(model, target);
  const Array x = batch_f32(x_in, "gradient x input");
  const std::int64_t batch = x.dim(0);
  ProgressTracker progress(control, 1);
  const JobControl inner = cancel_only(control);
  const std::int64_t fixed = declared_batch(model, t);
  Attribution a;
  Array g;
  if (fixed <= 0 || fixed == batch) {  // one pass: the classes come from its forward run
    const engine::Pass pass = model.forward({{t.input, x}}, inner);
    const Array& out = pass.outputs()[t.output];
    a.classes = choose_classes(out, batch, t);
    a.score = scores(out, a.classes, t);
    g = std::move(pass.backward({{t.output_name, score_seed(out, a.classes, t)}}, {t.input}, {}, inner).at(t.input));
  } else {
    const Array out = run_scores_padded(model, t, x, fixed, inner);
    a.classes = choose_classes(out, batch, t);
    a.score = scores(out, a.classes, t);
    g = input_gradient_padded(model, t, x, a.classes, fixed, inner);
  }
  a.map = Array(DType::F32, x.shape());
  const float* xp = x.data<float>();
  const float* gp = g.data<float>();
  float* mp = a.map.data<float>();
  for (std::int64_t i = 0; i < x.size(); ++i) mp[i] = xp[i] * gp[i];
  progress.advance(1);
  progress.finish();
  return a;
}

Attribution integrated_gradients(const engine::Model& model, const Array& x_in, const Array& baseline_in,
                                 const Target& target, const IntegratedGradientsOptions& options,
                                 const JobControl& control) {
  const Quadrature q = ig_quadrature(options.steps, options.method);
  if (options.batch < 1) throw usage_error("the batch size must be at least 1, not " + std::to_string(options.batch));
  const ResolvedTarget t = resolve_target(model, target);
  const Array x = batch_f32(x_in, "Integrated Gradients");
  Baseline given;
  given.kind = Baseline::Kind::File;
  given.data = baseline_in;
  const Array x0 = make_baseline(x, given);  // one sample repeated, or one per sample
  const std::int64_t batch = x.dim(0), per = x.size() / batch, steps = options.steps;
  const JobControl inner = cancel_only(control);

  // f(x) and f(x0) in one run; the class is chosen on x.
  const std::int64_t fixed = declared_batch(model, t);
  const Array out = run_scores_padded(model, t, stack(x, x0), fixed, inner);
  classes_of(out, 2 * batch, t);
  Attribution a;
  a.classes = choose_classes(out.rows(0, batch), batch, t);
  a.score = scores(out.rows(0, batch), a.classes, t);
  a.baseline_score = scores(out.rows(batch, batch), a.classes, t);

  const float* xp = x.data<float>();
  const float* bp = x0.data<float>();
  const std::vector<double> acc = sum_copy_gradients(
      model, t, x, steps, a.classes, options.batch, fixed, control,
      [&](std::int64_t b, std::int64_t k, float* dst) {
        const auto alpha = static_cast<float>(q.alpha[static_cast<std::size_t>(k)]);
        for (std::int64_t i = 0; i < per; ++i) {
          const float lo = bp[b * per + i];
          dst[i] = lo + alpha * (xp[b * per + i] - lo);
        }
      },
      [&](std::int64_t, std::int64_t k, const float* g, double* sums) {
        const double w = q.weight[static_cast<std::size_t>(k)];
        for (std::int64_t i = 0; i < per; ++i) sums[i] += w * g[i];
      });

  a.map = Array(DType::F32, x.shape());
  float* mp = a.map.data<float>();
  a.delta.resize(static_cast<std::size_t>(batch));
  for (std::int64_t b = 0; b < batch; ++b) {
    double sum = 0;
    for (std::int64_t i = 0; i < per; ++i) {
      const std::int64_t e = b * per + i;
      mp[e] = static_cast<float>((static_cast<double>(xp[e]) - bp[e]) * acc[static_cast<std::size_t>(e)]);
      sum += mp[e];
    }
    const auto s = static_cast<std::size_t>(b);
    a.delta[s] = sum - (a.score[s] - a.baseline_score[s]);
  }
  return a;
}

Attribution smoothgrad(const engine::Model& model, const Array& x_in, const Target& target,
                       const SmoothGradOptions& options, const JobControl& control) {
  if (options.samples < 1)
    throw usage_error("SmoothGrad needs at least 1 noisy sample, not " + std::to_string(options.samples));
  if (!(options.noise >= 0) || !std::isfinite(options.noise))
    throw usage_error("the SmoothGrad noise level must be a finite number >= 0, not " + std::to_string(options.noise));
  if (options.batch < 1) throw usage_error("the batch size must be at least 1, not " + std::to_string(options.batch));
  const ResolvedTarget t = resolve_target(model, target);
  const Array x = batch_f32(x_in, "SmoothGrad");
  const std::int64_t batch = x.dim(0), per = x.size() / batch, copies = options.samples;
  const JobControl inner = cancel_only(control);

  const std::int64_t fixed = declared_batch(model, t);
  const Array out = run_scores_padded(model, t, x, fixed, inner);
  Attribution a;
  a.classes = choose_classes(out, batch, t);
  a.score = scores(out, a.classes, t);

  const float* xp = x.data<float>();
  std::vector<double> sigma(static_cast<std::size_t>(batch));
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto [lo, hi] = std::minmax_element(xp + b * per, xp + (b + 1) * per);
    sigma[static_cast<std::size_t>(b)] = options.noise * (static_cast<double>(*hi) - *lo);
  }

  const std::vector<double> acc = sum_copy_gradients(
      model, t, x, copies, a.classes, options.batch, fixed, control,
      [&](std::int64_t b, std::int64_t s, float* dst) {
        const double sd = sigma[static_cast<std::size_t>(b)];
        for (std::int64_t i = 0; i < per; ++i) {
          const double n = sd == 0 ? 0
                                   : sd * standard_normal(options.seed, static_cast<std::uint64_t>(b),
                                                          static_cast<std::uint64_t>(s), static_cast<std::uint64_t>(i));
          dst[i] = static_cast<float>(xp[b * per + i] + n);
        }
      },
      [&](std::int64_t, std::int64_t, const float* g, double* sums) {
        if (options.squared)
          for (std::int64_t i = 0; i < per; ++i) sums[i] += static_cast<double>(g[i]) * g[i];
        else
          for (std::int64_t i = 0; i < per; ++i) sums[i] += g[i];
      });

  a.map = Array(DType::F32, x.shape());
  float* mp = a.map.data<float>();
  for (std::int64_t e = 0; e < x.size(); ++e) {
    double v = acc[static_cast<std::size_t>(e)] / static_cast<double>(copies);
    if (options.times_input) v *= xp[e];
    mp[e] = static_cast<float>(v);
  }
  return a;
}

}  // namespace paramscope::xai
