// Backward rules of BatchNormalization (inference: every input, statistics included),
// LayerNormalization (all three outputs), Softmax, LogSoftmax, ReduceMean and ReduceSum.
#include <cmath>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/broadcast.h"
#include "engine/ops/grad_support.h"
#include "engine/ops/norm_ops.h"

namespace paramscope::engine {
namespace {

bool is_float(const Array& a) {
  return a.type() == DType::F32 || a.type() == DType::F64;
}

// A per-channel gradient in the type of the input it belongs to.
template <class T>
Array channel_grad(const std::vector<double>& v, const Array& input) {
  Array g(dtype_of<T>(), {static_cast<std::int64_t>(v.size())});
  for (std::size_t i = 0; i < v.size(); ++i) g.data<T>()[i] = static_cast<T>(v[i]);
  return g.cast(input.type());
}

// ---- BatchNormalization: y = (x - mean) * scale * rstd + B, rstd = 1 / sqrt(var + eps) ------
// dx = dy * scale * rstd; dscale = sum(dy (x - mean)) rstd; dB = sum(dy);
// dmean = -sum(dy) scale rstd; dvar = -sum(dy (x - mean)) scale rstd^3 / 2.

template <class T>
Grads batch_norm_typed(const NodeContext& ctx, const BackwardArgs& a, const Array& dya) {
  Grads g(a.in.size());
  const Array& xa = *a.in[0];
  const BatchNormChannels<T> ch = batch_norm_channels<T>(ctx, xa, a.in);
  const std::int64_t c = xa.dim(1), n = xa.dim(0), plane = dims_product(xa.shape(), 2, xa.rank());
  std::vector<double> sum_dy(static_cast<std::size_t>(c)), sum_dy_xm(static_cast<std::size_t>(c));
  std::optional<Array> dx;
  if (wanted(a, 0)) dx = Array(xa.type(), xa.shape());
  const T* x = xa.data<T>();
  const T* dy = dya.data<T>();
  T* dxd = dx ? dx->data<T>() : nullptr;
  // One channel per task: its sums need every image, and its rows of dx are its own.
  for_rows(ctx, c, n * plane * 2, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t j = b; j < e; ++j) {
      const auto u = static_cast<std::size_t>(j);
      const T mean = ch.mean[u], mul = ch.mul[u];
      double s = 0, sx = 0;
      for (std::int64_t img = 0; img < n; ++img) {
        const std::int64_t at = (img * c + j) * plane;
        for (std::int64_t i = 0; i < plane; ++i) {
          s += dy[at + i];
          sx += static_cast<double>(dy[at + i]) * static_cast<double>(x[at + i] - mean);
        }
        if (dxd)
          for (std::int64_t i = 0; i < plane; ++i) dxd[at + i] = dy[at + i] * mul;
      }
      sum_dy[u] = s;
      sum_dy_xm[u] = sx;
    }
  });
  g[0] = dx;
  std::vector<double> v(static_cast<std::size_t>(c));
  const auto fill = [&](std::size_t slot, auto&& value) {
    if (!wanted(a, slot)) return;
    for (std::size_t j = 0; j < v.size(); ++j) v[j] = value(j);
    g[slot] = channel_grad<T>(v, *a.in[slot]);
  };
  fill(1, [&](std::size_t j) { return sum_dy_xm[j] * static_cast<double>(ch.rstd[j]); });
  fill(2, [&](std::size_t j) { return sum_dy[j]; });
  fill(3, [&](std::size_t j) { return -sum_dy[j] * static_cast<double>(ch.mul[j]); });
  fill(4, [&](std::size_t j) {
    const auto r = static_cast<double>(ch.rstd[j]);
    return -0.5 * sum_dy_xm[j] * static_cast<double>(ch.scale[j]) * r * r * r;
  });
  return g;
}

// ---- Softmax, LogSoftmax: from the forward output y along each normalised group -------------
// Softmax: dx = y (dy - sum(dy y)); LogSoftmax: dx = dy - exp(y) sum(dy).

template <bool Log>
Grads softmax_typed(const NodeContext& ctx, const BackwardArgs& a) {
  Grads g(a.in.size());
  if (!wanted(a, 0)) return g;
  const auto dyo = out_grad(ctx, a, 0, DType::F32);
  if (!dyo) return g;
  const Array& xa = *a.in[0];
  const auto [outer, len, inner] = softmax_layout(ctx, xa);
  if (a.out.empty() || a.out[0].shape() != xa.shape() || a.out[0].type() != DType::F32)
    ctx.fail("the backward pass needs the forward output");
  Array dx(DType::F32, xa.shape());
  const float* y = a.out[0].data<float>();
  const float* dy = dyo->data<float>();
  float* dxd = dx.data<float>();
  for_rows(ctx, outer, len * inner * 4, [&](std::int64_t b, std::int64_t e) {
    std::vector<double> sum(static_cast<std::size_t>(inner));
    for (std::int64_t r = b; r < e; ++r) {
      const std::int64_t at = r * len * inner;
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::int64_t j = 0; j < len; ++j)
        for (std::int64_t i = 0; i < inner; ++i) {
          const std::int64_t k = at + j * inner + i;
          sum[static_cast<std::size_t>(i)] += Log ? dy[k] : static_cast<double>(dy[k]) * y[k];
        }
      for (std::int64_t j = 0; j < len; ++j)
        for (std::int64_t i = 0; i < inner; ++i) {
          const std::int64_t k = at + j * inner + i;
          const auto s = static_cast<float>(sum[static_cast<std::size_t>(i)]);
          dxd[k] = Log ? dy[k] - std::exp(y[k]) * s : y[k] * (dy[k] - s);
        }
    }
  });
  g[0] = dx;
  return g;
}

// ---- ReduceMean, ReduceSum: dy (the reduced axes kept as 1s) broadcast back over x ----------

template <class T>
Array spread(const Array& xa, const std::vector<bool>& reduced, const Array& dya, T factor) {
  std::vector<std::int64_t> kept = xa.shape();
  for (std::size_t d = 0; d < kept.size(); ++d)
    if (reduced[d]) kept[d] = 1;
  Array dx(xa.type(), xa.shape());
  const T* dy = dya.data<T>();
  T* dxd = dx.data<T>();
  const std::vector<std::int64_t> shapes[] = {kept};
  const StridedWalker w = broadcast_walker(xa.shape(), shapes);
  const std::int64_t run = w.run(), so = w.run_stride(0), si = w.run_stride(1);
  w.for_each([&](const std::int64_t* off) {
    for (std::int64_t i = 0; i < run; ++i) dxd[off[0] + i * so] = dy[off[1] + i * si] * factor;
  });
  return dx;
}

template <bool Mean>
Grads reduce_typed(const NodeContext& ctx, const BackwardArgs& a) {
  Grads g(a.in.size());  // the axes input has none
  const Array& xa = *a.in[0];
  if (!wanted(a, 0) || !is_float(xa)) return g;  // integer data is not differentiable
  const auto dy = out_grad(ctx, a, 0, xa.type());
  if (!dy) return g;
  const auto reduced = reduced_axes(ctx, a.in);
  if (!reduced) {  // the identity (noop_with_empty_axes)
    g[0] = dy->clone();
    return g;
  }
  const double count = dy->size() == 0 ? 1.0 : static_cast<double>(xa.size()) / static_cast<double>(dy->size());
  const double factor = Mean ? 1.0 / count : 1.0;
  if (xa.type() == DType::F32)
    g[0] = spread<float>(xa, *reduced, *dy, static_cast<float>(factor));
  else
    g[0] = spread<double>(xa, *reduced, *dy, factor);
  return g;
}

}  // namespace

Grads batch_norm_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const Array& x = *a.in[0];
  if (!any_wanted(a) || !is_float(x)) return Grads(a.in.size());
  const auto dy = out_grad(ctx, a, 0, x.type());
  if (!dy) return Grads(a.in.size());
  return x.type() == DType::F32 ? batch_norm_typed<float>(ctx, a, *dy) : batch_norm_typed<double>(ctx, a, *dy);
}

// ---- LayerNormalization ----------------------------------------------------------------------
// Per row, with xhat = (x - mean) inv, g = dy * scale and D the row's length:
//   dx = inv (g - mean(g) - xhat mean(g xhat)) + dMean / D - dInvStdDev inv^2 xhat / D,
//   dscale = sum over rows of dy xhat, dB = sum over rows of dy (reduced to their shapes).
Grads layer_norm_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads g(a.in.size());
  const auto dyo = out_grad(ctx, a, 0, DType::F32);
  const auto dmo = out_grad(ctx, a, 1, DType::F32);
  const auto dio = out_grad(ctx, a, 2, DType::F32);
  if (!any_wanted(a) || (!dyo && !dmo && !dio)) return g;
  const LayerNormPlan p = plan_layer_norm(ctx, a.in);
  const std::int64_t inner = p.inner;
  const auto u_inner = static_cast<std::size_t>(inner);
  const float* x = a.in[0]->data<float>();
  const float* sc = a.in[1]->data<float>();
  const float* dy = dyo ? dyo->data<float>() : nullptr;
  const float* dm = dmo ? dmo->data<float>() : nullptr;
  const float* di = dio ? dio->data<float>() : nullptr;
  for (std::size_t i = 0; i < 3; ++i)
    if (wanted(a, i)) g[i] = Array(DType::F32, a.in[i]->shape());
  float* dx = g[0] ? g[0]->data<float>() : nullptr;
  const bool sums = dy && (g[1] || g[2]);
  std::vector<double> acc_s(sums ? u_inner : 0), acc_b(sums ? u_inner : 0);
  std::mutex merge;
  const auto d = static_cast<float>(inner);
  for_rows(ctx, p.outer, inner * 8, [&](std::int64_t b, std::int64_t e) {
    std::vector<double> ls(acc_s.size()), lb(acc_b.size());
    std::vector<float> xhat(u_inner), gs(u_inner);
    for (std::int64_t r = b; r < e; ++r) {
      const float* xr = x + r * inner;
      float m, inv;
      layer_norm_stats(xr, inner, p.eps, m, inv);
      double mean_g = 0, mean_gx = 0;
      for (std::size_t i = 0; i < u_inner; ++i) {
        xhat[i] = (xr[i] - m) * inv;
        if (!dy) continue;
        const float dyi = dy[r * inner + static_cast<std::int64_t>(i)];
        gs[i] = dyi * sc[p.smap[i]];
        mean_g += gs[i];
        mean_gx += static_cast<double>(gs[i]) * xhat[i];
        if (sums) {
          ls[i] += static_cast<double>(dyi) * xhat[i];
          lb[i] += dyi;
        }
      }
      if (!dx) continue;
      const auto mg = static_cast<float>(mean_g / d), mgx = static_cast<float>(mean_gx / d);
      const float from_mean = dm ? dm[r] / d : 0.0f, from_inv = di ? di[r] * inv * inv / d : 0.0f;
      float* dxr = dx + r * inner;
      for (std::size_t i = 0; i < u_inner; ++i)
        dxr[i] = (dy ? inv * (gs[i] - mg - xhat[i] * mgx) : 0.0f) + from_mean - from_inv * xhat[i];
    }
    if (!sums) return;
    const std::lock_guard<std::mutex> lock(merge);
    for (std::size_t i = 0; i < u_inner; ++i) {
      acc_s[i] += ls[i];
      acc_b[i] += lb[i];
    }
  });
  if (sums) {
    for (std::size_t i = 0; i < u_inner; ++i) {
      if (g[1]) g[1]->data<float>()[p.smap[i]] += static_cast<float>(acc_s[i]);
      if (g[2]) g[2]->data<float>()[p.bmap[i]] += static_cast<float>(acc_b[i]);
    }
  }
  return g;
}

Grads softmax_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return softmax_typed<false>(ctx, a);
}
Grads log_softmax_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return softmax_typed<true>(ctx, a);
}
Grads reduce_mean_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return reduce_typed<true>(ctx, a);
}
Grads reduce_sum_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return reduce_typed<false>(ctx, a);
}

}  // namespace paramscope::engine
