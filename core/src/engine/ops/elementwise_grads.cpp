// Backward rules of the element-wise operators. Gradients are computed in the input's float type
// (F32 or F64); integer and bool inputs get none. Broadcast operands get their gradient summed
// back to their own shape. Values at kinks follow PyTorch's autograd, so that attributions match
// what users get from torch.
#include "engine/ops/elementwise_grads.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "engine/kernels/vector_math.h"
#include "engine/ops/grad_support.h"

namespace paramscope::engine {
namespace {

// ----------------------------------------------------------------------------- unary

// dx over contiguous runs split over the pool: block(x, y, g, dx, n) sees the input, the forward
// output and dL/dy.
template <class T, class Block>
Array unary_grad_blocks(const NodeContext& ctx, const Array& x, const Array& y, const Array& g, Block block) {
  Array dx(dtype_of<T>(), x.shape());
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  const T* pg = g.data<T>();
  T* pd = dx.data<T>();
  for_range(ctx, x.size(), [&](std::int64_t b, std::int64_t e) { block(px + b, py + b, pg + b, pd + b, e - b); });
  return dx;
}

// dx[i] = deriv(x[i], y[i], g[i]).
template <class T, class D>
Array unary_grad(const NodeContext& ctx, const Array& x, const Array& y, const Array& g, D deriv) {
  return unary_grad_blocks<T>(ctx, x, y, g, [&deriv](const T* px, const T* py, const T* pg, T* pd, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) pd[i] = deriv(px[i], py[i], pg[i]);
  });
}

// The rule for input 0 of a unary operator, from a block function generic in its float type.
template <class Block>
Grads unary_block_rule(const NodeContext& ctx, const BackwardArgs& a, Block block) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  const auto t = grad_type(ctx, a, 0);
  if (!g || !t) return r;
  if (*t == DType::F32)
    r[0] = unary_grad_blocks<float>(ctx, *a.in[0], a.out[0], *g, block);
  else
    r[0] = unary_grad_blocks<double>(ctx, *a.in[0], a.out[0], *g, block);
  return r;
}

template <class D>
Grads unary_rule(const NodeContext& ctx, const BackwardArgs& a, D deriv) {
  return unary_block_rule(ctx, a, [&deriv](const auto* x, const auto* y, const auto* g, auto* d, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) d[i] = deriv(x[i], y[i], g[i]);
  });
}

// ----------------------------------------------------------------------------- binary

// d[i] = f(x, y, out, g) over the broadcast output, x and y read with broadcast strides.
template <class T, class F>
Array binary_partial(const NodeContext& ctx, const Array& x, const Array& y, const Array& out, const Array& g, F f) {
  Array d(dtype_of<T>(), out.shape());
  T* pd = d.data<T>();
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  const T* po = out.data<T>();
  const T* pg = g.data<T>();
  if (x.shape() == out.shape() && y.shape() == out.shape()) {
    for_range(ctx, out.size(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) pd[i] = f(px[i], py[i], po[i], pg[i]);
    });
    return d;
  }
  const Dims shapes[] = {x.shape(), y.shape()};
  const StridedWalker w = broadcast_walker(out.shape(), shapes);
  const std::int64_t n = w.run(), sx = w.run_stride(1), sy = w.run_stride(2);
  w.for_each([&](const std::int64_t* off) {
    for (std::int64_t i = 0; i < n; ++i)
      pd[off[0] + i] = f(px[off[1] + i * sx], py[off[2] + i * sy], po[off[0] + i], pg[off[0] + i]);
  });
  return d;
}

// Which of the two operands want a gradient, and in which type. Add/Sub/Mul/Div have operands of
// one type (forward checks it); Pow's exponent may differ and is handled by pow_backward.
struct BinaryWants {
  bool x = false, y = false;
  DType type = DType::F32;
};

std::optional<BinaryWants> binary_wants(const NodeContext& ctx, const BackwardArgs& a) {
  const auto tx = grad_type(ctx, a, 0), ty = grad_type(ctx, a, 1);
  if ((!tx && !ty) || !grad_of(ctx, a, 0)) return std::nullopt;
  return BinaryWants{tx.has_value(), ty.has_value(), tx ? *tx : *ty};
}

// Gradients of x and y from their partials fx and fy (each (x, y, out, g) -> contribution).
template <class T, class FX, class FY>
Grads binary_rule(const NodeContext& ctx, const BackwardArgs& a, const Array& y, BinaryWants w, FX fx, FY fy) {
  Grads r = no_grads(a);
  const Array& x = *a.in[0];
  const Array& g = *a.grad_out[0];
  if (w.x) r[0] = reduce_to<T>(binary_partial<T>(ctx, x, y, a.out[0], g, fx), x.shape());
  if (w.y) r[1] = reduce_to<T>(binary_partial<T>(ctx, x, y, a.out[0], g, fy), y.shape());
  return r;
}

template <class T>
Array negated(const NodeContext& ctx, Array v) {
  Array r(v.type(), v.shape());
  const T* s = v.data<T>();
  T* d = r.data<T>();
  for_range(ctx, v.size(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) d[i] = -s[i];
  });
  return r;
}

// Add and Sub: the incoming gradient itself, reduced to each operand's shape (and negated for
// Sub's second operand).
template <class T>
Grads add_sub(const NodeContext& ctx, const BackwardArgs& a, BinaryWants w, bool sub) {
  Grads r = no_grads(a);
  const Array& g = *a.grad_out[0];
  if (w.x) r[0] = reduce_to<T>(g, a.in[0]->shape());
  if (w.y) {
    Array gy = reduce_to<T>(g, a.in[1]->shape());
    r[1] = sub ? negated<T>(ctx, std::move(gy)) : std::move(gy);
  }
  return r;
}

// Calls rule(T{}) with T the C++ type of `t` (F32 or F64).
template <class R>
Grads by_type(DType t, R&& rule) {
  return t == DType::F32 ? rule(float{}) : rule(double{});
}

// ----------------------------------------------------------------------------- Clip and Where

// Clip's bounds in T; an absent bound does not mask the gradient (as torch.clamp with None).
template <class T>
std::pair<T, T> clip_bounds(const NodeContext& ctx, const BackwardArgs& a) {
  T lo = -std::numeric_limits<T>::infinity(), hi = std::numeric_limits<T>::infinity();
  if (ctx.opset() < 11) {
    if (ctx.has("min")) lo = static_cast<T>(ctx.attr_float("min", 0));
    if (ctx.has("max")) hi = static_cast<T>(ctx.attr_float("max", 0));
    return {lo, hi};
  }
  for (std::size_t k = 1; k <= 2 && k < a.in.size(); ++k) {
    if (!a.in[k]) continue;
    if (a.in[k]->type() != dtype_of<T>() || a.in[k]->size() != 1)
      ctx.fail(std::string(k == 1 ? "min" : "max") + " must be a scalar of the input's type");
    (k == 1 ? lo : hi) = a.in[k]->data<T>()[0];
  }
  return {lo, hi};
}

// g where cond == pick, else 0, over the output's shape (cond read with broadcast strides).
template <class T>
Array where_partial(const Array& cond, const Array& g, bool pick) {
  Array d(dtype_of<T>(), g.shape());
  T* pd = d.data<T>();
  const T* pg = g.data<T>();
  const bool* pc = cond.data<bool>();
  const Dims shapes[] = {cond.shape()};
  const StridedWalker w = broadcast_walker(g.shape(), shapes);
  const std::int64_t n = w.run(), sc = w.run_stride(1);
  w.for_each([&](const std::int64_t* off) {
    for (std::int64_t i = 0; i < n; ++i) pd[off[0] + i] = pc[off[1] + i * sc] == pick ? pg[off[0] + i] : T(0);
  });
  return d;
}

}  // namespace

// ----------------------------------------------------------------------------- arithmetic

Grads add_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const auto w = binary_wants(ctx, a);
  if (!w) return no_grads(a);
  return by_type(w->type, [&](auto tag) { return add_sub<decltype(tag)>(ctx, a, *w, false); });
}

Grads sub_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const auto w = binary_wants(ctx, a);
  if (!w) return no_grads(a);
  return by_type(w->type, [&](auto tag) { return add_sub<decltype(tag)>(ctx, a, *w, true); });
}

Grads mul_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const auto w = binary_wants(ctx, a);
  if (!w) return no_grads(a);
  return by_type(w->type, [&](auto tag) {
    using T = decltype(tag);
    return binary_rule<T>(
        ctx, a, *a.in[1], *w, [](T, T y, T, T g) { return g * y; }, [](T x, T, T, T g) { return g * x; });
  });
}

Grads div_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const auto w = binary_wants(ctx, a);
  if (!w) return no_grads(a);
  return by_type(w->type, [&](auto tag) {
    using T = decltype(tag);
    return binary_rule<T>(
        ctx, a, *a.in[1], *w, [](T, T y, T, T g) { return g / y; }, [](T x, T y, T, T g) { return -g * x / (y * y); });
  });
}

// As torch: no gradient to the base where the exponent is 0, none to the exponent where the base
// is 0 and the exponent >= 0 (else 0 * log 0 would be NaN); d/dexponent = out * log(base).
Grads pow_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const Array* g = grad_of(ctx, a, 0);
  const auto tx = grad_type(ctx, a, 0);
  const auto te = grad_type(ctx, a, 1);
  // The output has the base's type: only a float base lets any gradient flow.
  const DType base = a.in[0]->type();
  if (!g || (!tx && !te) || (base != DType::F32 && base != DType::F64)) return no_grads(a);
  return by_type(base, [&](auto tag) {
    using T = decltype(tag);
    const Array e = a.in[1]->cast(dtype_of<T>());
    Grads r = binary_rule<T>(
        ctx, a, e, BinaryWants{tx.has_value(), te.has_value(), base},
        [](T x, T y, T, T gv) { return y == T(2)   ? gv * T(2) * x
                                       : y == T(0) ? T(0)
                                                   : gv * y * std::pow(x, y - T(1)); },
        [](T x, T y, T out, T gv) { return x == T(0) && y >= T(0) ? T(0) : gv * out * std::log(x); });
    if (r[1]) r[1] = r[1]->cast(a.in[1]->type());  // an F64 exponent of an F32 base
    return r;
  });
}

// ----------------------------------------------------------------------------- unary math

Grads sqrt_backward(const NodeContext& ctx, const BackwardArgs& a) {
  // g / (2 sqrt x): inf at x = 0, as torch.
  return unary_rule(ctx, a, [](auto, auto y, auto g) { return g / (decltype(y)(2) * y); });
}

Grads exp_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto, auto y, auto g) { return g * y; });
}

Grads log_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto x, auto, auto g) { return g / x; });
}

Grads tanh_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto, auto y, auto g) { return g * (decltype(y)(1) - y * y); });
}

// 2 / sqrt(pi) exp(-x^2), the exponential through the SIMD kernel.
Grads erf_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_block_rule(ctx, a, [](const auto* x, const auto*, const auto* g, auto* d, std::int64_t n) {
    using T = std::remove_cvref_t<decltype(*x)>;
    for (std::int64_t i = 0; i < n; ++i) d[i] = -x[i] * x[i];
    kernels::exp(d, d, n);
    for (std::int64_t i = 0; i < n; ++i) d[i] *= g[i] * static_cast<T>(1.1283791670955126);
  });
}

Grads sigmoid_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto, auto y, auto g) { return g * y * (decltype(y)(1) - y); });
}

// As torch: 0 below -3, x/3 + 1/2 on [-3, 3] (both ends included), 1 above.
Grads hard_swish_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto x, auto, auto g) {
    using T = decltype(x);
    return x < T(-3) ? T(0) : x <= T(3) ? g * (x / T(3) + T(0.5)) : g;
  });
}

Grads neg_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto, auto, auto g) { return -g; });
}

// Abs'(0) = 0, as torch (sign(0) = 0).
Grads abs_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto x, auto, auto g) {
    using T = decltype(x);
    return x > T(0) ? g : x < T(0) ? -g : T(0);
  });
}

// Relu'(0) = 0: torch masks on the output being <= 0.
Grads relu_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return unary_rule(ctx, a, [](auto, auto y, auto g) { return y <= decltype(y)(0) ? decltype(y)(0) : g; });
}

// The slope at 0 is alpha, as torch (x > 0 takes 1).
Grads leaky_relu_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const double alpha = ctx.attr_float("alpha", 0.01f);
  return unary_rule(ctx, a, [alpha](auto x, auto, auto g) {
    using T = decltype(x);
    return x > T(0) ? g : g * static_cast<T>(alpha);
  });
}

// alpha strictly inside the linear part, 0 at its ends (torch's hardsigmoid: -3 < x < 3).
Grads hard_sigmoid_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const double alpha = ctx.attr_float("alpha", 0.2f), beta = ctx.attr_float("beta", 0.5f);
  return unary_rule(ctx, a, [alpha, beta](auto x, auto, auto g) {
    using T = decltype(x);
    const T v = static_cast<T>(alpha) * x + static_cast<T>(beta);
    return v > T(0) && v < T(1) ? g * static_cast<T>(alpha) : T(0);
  });
}

// Exact: Phi(x) + x phi(x) (Phi, phi: the standard normal's distribution and density). With
// tanh: d/dx of 0.5 x (1 + t), t = tanh(u), u = k (x + c x^3). In blocks small enough for the stack,
// the transcendental parts through the SIMD kernels.
Grads gelu_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const bool tanh = ctx.attr_string("approximate", "none") == "tanh";
  return unary_block_rule(ctx, a, [tanh](const auto* x, const auto*, const auto* g, auto* d, std::int64_t n) {
    using T = std::remove_cvref_t<decltype(*x)>;
    constexpr std::int64_t block = 512;
    T t[block];
    const T k = static_cast<T>(0.7978845608028654), c = static_cast<T>(0.044715);  // sqrt(2 / pi)
    for (std::int64_t b = 0; b < n; b += block) {
      const std::int64_t m = std::min(block, n - b);
      const T* xb = x + b;
      T* db = d + b;
      if (tanh) {
        for (std::int64_t i = 0; i < m; ++i) t[i] = k * (xb[i] + c * xb[i] * xb[i] * xb[i]);
        kernels::tanh(t, t, m);
        for (std::int64_t i = 0; i < m; ++i)
          db[i] =
              T(0.5) * (T(1) + t[i]) + T(0.5) * xb[i] * (T(1) - t[i] * t[i]) * k * (T(1) + T(3) * c * xb[i] * xb[i]);
      } else {
        for (std::int64_t i = 0; i < m; ++i) {
          t[i] = xb[i] * static_cast<T>(0.7071067811865476);
          db[i] = T(-0.5) * xb[i] * xb[i];
        }
        kernels::erf(t, t, m);
        kernels::exp(db, db, m);
        for (std::int64_t i = 0; i < m; ++i)
          db[i] = T(0.5) * (T(1) + t[i]) + xb[i] * static_cast<T>(0.3989422804014327) * db[i];
      }
      for (std::int64_t i = 0; i < m; ++i) db[i] *= g[b + i];
    }
  });
}

// Passes the gradient where min <= x <= max (bounds included, as torch.clamp); min and max get
// none (torch differentiates tensor bounds, but exporters write them as constants).
Grads clip_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const auto t = grad_type(ctx, a, 0);
  if (!t || !grad_of(ctx, a, 0)) return no_grads(a);
  return by_type(*t, [&](auto tag) {
    using T = decltype(tag);
    const std::pair<T, T> bounds = clip_bounds<T>(ctx, a);
    const T lo = bounds.first, hi = bounds.second;
    Grads r = no_grads(a);
    r[0] = unary_grad<T>(ctx, *a.in[0], a.out[0], *a.grad_out[0],
                         [lo, hi](T x, T, T g) { return x >= lo && x <= hi ? g : T(0); });
    return r;
  });
}

// X gets the gradient where cond holds, Y where it does not; cond gets none.
Grads where_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const Array* g = grad_of(ctx, a, 0);
  const auto tx = grad_type(ctx, a, 1), ty = grad_type(ctx, a, 2);
  if (!g || (!tx && !ty)) return no_grads(a);
  return by_type(tx ? *tx : *ty, [&](auto tag) {
    using T = decltype(tag);
    Grads r = no_grads(a);
    if (tx) r[1] = reduce_to<T>(where_partial<T>(*a.in[0], *g, true), a.in[1]->shape());
    if (ty) r[2] = reduce_to<T>(where_partial<T>(*a.in[0], *g, false), a.in[2]->shape());
    return r;
  });
}

}  // namespace paramscope::engine
