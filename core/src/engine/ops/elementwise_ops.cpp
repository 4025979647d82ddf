// Element-wise operators with numpy broadcasting. Math is computed in the inputs' own type
// (F32, and F64 where ONNX allows it); Add/Sub/Mul/Div also take integers, because exported
// graphs do shape arithmetic with them. Integer Div truncates toward zero (as ONNX's spec and
// ONNX Runtime do; Python's // would floor), and integer overflow wraps as two's complement.
//
// Gelu: ONNX defines it only from opset 20, beyond the opsets 9..17 that models are loaded at; it
// is registered anyway (default domain, opset-20 semantics with its `approximate` attribute) so
// that graphs written against opset 20's definition run. Microsoft's com.microsoft Gelu is not
// accepted: nodes in other domains are refused at load.
//
// The backward rules are in elementwise_grads.cpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "engine/broadcast.h"
#include "engine/kernels/vector_math.h"
#include "engine/ops/elementwise_grads.h"
#include "engine/ops/op_support.h"

namespace paramscope::engine {
namespace {

template <class T>
constexpr bool is_int = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// Integer arithmetic in the unsigned type: wraps instead of overflowing (undefined for signed).
template <class T, class F>
T wrap(T a, T b, F f) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(f(static_cast<U>(a), static_cast<U>(b))));
}

// Calls f(T{}) with T the C++ type of t, for the types in the list; false if t is not one.
template <class... Ts, class F>
bool dispatch(DType t, F&& f) {
  return ((t == dtype_of<Ts>() ? (f(Ts{}), true) : false) || ...);
}

#define PS_NUMERIC_TYPES                                                                                            \
  float, double, std::int32_t, std::int64_t, std::int8_t, std::int16_t, std::uint8_t, std::uint16_t, std::uint32_t, \
      std::uint64_t
#define PS_FLOAT_TYPES float, double

Dims broadcast_or_fail(const NodeContext& ctx, std::span<const Array* const> arrays) {
  std::vector<Dims> shapes;
  for (const Array* a : arrays) shapes.push_back(a->shape());
  const auto out = broadcast_shapes(shapes);
  if (!out) {
    std::string s;
    for (const auto& d : shapes) s += (s.empty() ? "" : ", ") + shape_string(d);
    ctx.fail("input shapes " + s + " do not broadcast");
  }
  return *out;
}

void same_types(const NodeContext& ctx, const Array& a, const Array& b) {
  if (a.type() != b.type())
    ctx.fail("inputs have different types, " + type_text(a.type()) + " and " + type_text(b.type()));
}

// out[i] = op(a[i], b[i]) over the broadcast shape (same shapes split over the pool).
template <class R, class A, class B, class Op>
Array binary_map(ThreadPool& pool, const Array& a, const Array& b, const Dims& shape, Op op) {
  Array out = Array::for_overwrite(dtype_of<R>(), shape);
  R* o = out.template data<R>();
  const A* x = a.template data<A>();
  const B* y = b.template data<B>();
  if (a.shape() == b.shape()) {
    kernels::parallel_range(pool, out.size(), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) o[i] = op(x[i], y[i]);
    });
    return out;
  }
  const Dims in[] = {a.shape(), b.shape()};
  const StridedWalker w = broadcast_walker(shape, in);
  const std::int64_t n = w.run(), sa = w.run_stride(1), sb = w.run_stride(2);
  w.for_each([&](const std::int64_t* off) {
    R* po = o + off[0];
    const A* pa = x + off[1];
    const B* pb = y + off[2];
    if (sa == 1 && sb == 1) {
      for (std::int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    } else if (sa == 0 && sb == 1) {
      const A va = *pa;
      for (std::int64_t i = 0; i < n; ++i) po[i] = op(va, pb[i]);
    } else if (sa == 1 && sb == 0) {
      const B vb = *pb;
      for (std::int64_t i = 0; i < n; ++i) po[i] = op(pa[i], vb);
    } else {
      for (std::int64_t i = 0; i < n; ++i) po[i] = op(pa[i * sa], pb[i * sb]);
    }
  });
  return out;
}

// out = block(x) over contiguous runs, split over the pool: block(const T* x, T* out, n).
template <class T, class Block>
Array unary_blocks(ThreadPool& pool, const Array& x, Block block) {
  Array out = Array::for_overwrite(x.type(), x.shape());
  const T* p = x.data<T>();
  T* o = out.data<T>();
  kernels::parallel_range(pool, x.size(), [&](std::int64_t b, std::int64_t e) { block(p + b, o + b, e - b); });
  return out;
}

template <class T, class Op>
Array unary_map(ThreadPool& pool, const Array& x, Op op) {
  return unary_blocks<T>(pool, x, [&op](const T* p, T* o, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) o[i] = op(p[i]);
  });
}

[[noreturn]] void bad_type(const NodeContext& ctx, DType t, const char* allowed) {
  ctx.unsupported("type " + type_text(t) + " is not supported (" + allowed + ")");
}

// ----------------------------------------------------------------------------- arithmetic

enum class Arith { Add, Sub, Mul, Div };

template <Arith K>
std::vector<Array> arith(const NodeContext& ctx, Inputs in) {
  const Array& a = *in[0];
  const Array& b = *in[1];
  same_types(ctx, a, b);
  const Dims shape = broadcast_or_fail(ctx, in);
  Array out;
  const bool ok = dispatch<PS_NUMERIC_TYPES>(a.type(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_int<T>) {
      if constexpr (K == Arith::Div) {
        for (const T v : b.values<T>())
          if (v == 0) ctx.fail("integer division by zero");
      }
      out = binary_map<T, T, T>(ctx.pool(), a, b, shape, [](T x, T y) -> T {
        if constexpr (K == Arith::Add) return wrap(x, y, [](auto p, auto q) { return p + q; });
        if constexpr (K == Arith::Sub) return wrap(x, y, [](auto p, auto q) { return p - q; });
        if constexpr (K == Arith::Mul) return wrap(x, y, [](auto p, auto q) { return p * q; });
        if constexpr (K == Arith::Div) {
          if constexpr (std::is_signed_v<T>)
            if (y == -1) return wrap(T(0), x, [](auto p, auto q) { return p - q; });  // MIN / -1 wraps
          return static_cast<T>(x / y);                                               // C++ truncates toward zero
        }
      });
    } else {
      out = binary_map<T, T, T>(ctx.pool(), a, b, shape, [](T x, T y) -> T {
        if constexpr (K == Arith::Add) return x + y;
        if constexpr (K == Arith::Sub) return x - y;
        if constexpr (K == Arith::Mul) return x * y;
        if constexpr (K == Arith::Div) return x / y;
      });
    }
  });
  if (!ok) bad_type(ctx, a.type(), "floating point and integer types are");
  return {std::move(out)};
}

std::vector<Array> pow_op(const NodeContext& ctx, Inputs in) {
  const Array& a = *in[0];
  const Array& b = *in[1];
  const Dims shape = broadcast_or_fail(ctx, in);
  const auto check_exponent = [&] {
    if (!dispatch<PS_NUMERIC_TYPES>(b.type(), [](auto) {})) bad_type(ctx, b.type(), "exponents are numbers");
  };
  check_exponent();
  if (a.type() == DType::F32 || a.type() == DType::F64) {
    Array out;
    dispatch<PS_FLOAT_TYPES>(a.type(), [&](auto tag) {
      using T = decltype(tag);
      const Array e = b.cast(dtype_of<T>());
      // Squares (exported LayerNorms and losses) skip the slow general pow; x * x is what pow gives.
      out = binary_map<T, T, T>(ctx.pool(), a, e, shape,
                                [](T x, T y) { return y == T(2) ? x * x : static_cast<T>(std::pow(x, y)); });
    });
    return {std::move(out)};
  }
  if (a.type() == DType::I32 || a.type() == DType::I64) {
    // Integer powers through double: exact while the result has at most 53 significant bits.
    const Array r = binary_map<double, double, double>(ctx.pool(), a.cast(DType::F64), b.cast(DType::F64), shape,
                                                       [](double x, double y) { return std::pow(x, y); });
    return {r.cast(a.type())};
  }
  bad_type(ctx, a.type(), "F32, F64, INT32 and INT64 bases are");
}

// ----------------------------------------------------------------------------- unary math

// F is a block function: F{}(const T* x, T* out, n).
template <class F>
std::vector<Array> float_unary(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  Array out;
  if (!dispatch<PS_FLOAT_TYPES>(x.type(), [&](auto tag) { out = unary_blocks<decltype(tag)>(ctx.pool(), x, F{}); }))
    bad_type(ctx, x.type(), "F32 and F64 are");
  return {std::move(out)};
}

// Operators that also take signed integers (Abs, Neg, Relu).
template <class F>
std::vector<Array> signed_unary(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  Array out;
  if (!dispatch<float, double, std::int32_t, std::int64_t, std::int8_t, std::int16_t>(
          x.type(), [&](auto tag) { out = unary_map<decltype(tag)>(ctx.pool(), x, F{}); }))
    bad_type(ctx, x.type(), "F32, F64 and signed integers are");
  return {std::move(out)};
}

// Block functions over contiguous runs; the transcendental ones go through the SIMD kernels.
struct SqrtF {
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    kernels::sqrt(x, y, n);
  }
};
struct ExpF {
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    kernels::exp(x, y, n);
  }
};
struct LogF {
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    kernels::log(x, y, n);
  }
};
struct TanhF {
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    kernels::tanh(x, y, n);
  }
};
struct ErfF {
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    kernels::erf(x, y, n);
  }
};
struct SigmoidF {
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    // Through e = exp(-|x|), which cannot overflow: 1 / (1 + e) for x >= 0, e / (1 + e) below.
    for (std::int64_t i = 0; i < n; ++i) y[i] = -std::abs(x[i]);
    kernels::exp(y, y, n);
    for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] >= T(0) ? T(1) : y[i]) / (T(1) + y[i]);
  }
};
struct HardSwishF {
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * std::max(T(0), std::min(T(1), x[i] / T(6) + T(0.5)));
  }
};
struct NegF {
  template <class T>
  T operator()(T v) const {
    if constexpr (is_int<T>)
      return wrap(T(0), v, [](auto p, auto q) { return p - q; });
    else
      return -v;
  }
};
struct AbsF {
  template <class T>
  T operator()(T v) const {
    if constexpr (is_int<T>)
      return v < 0 ? wrap(T(0), v, [](auto p, auto q) { return p - q; }) : v;
    else
      return std::abs(v);
  }
};
struct ReluF {
  template <class T>
  T operator()(T v) const {
    return v < T(0) ? T(0) : v;
  }
};

template <class Op>
std::vector<Array> float_unary_with(const NodeContext& ctx, const Array& x, Op op) {
  Array out;
  if (!dispatch<PS_FLOAT_TYPES>(x.type(), [&](auto tag) {
        using T = decltype(tag);
        out = unary_map<T>(ctx.pool(), x, [&](T v) { return static_cast<T>(op(v)); });
      }))
    bad_type(ctx, x.type(), "F32 and F64 are");
  return {std::move(out)};
}

std::vector<Array> leaky_relu(const NodeContext& ctx, Inputs in) {
  const double alpha = ctx.attr_float("alpha", 0.01f);
  return float_unary_with(ctx, *in[0], [alpha](auto v) {
    using T = decltype(v);
    return v < T(0) ? static_cast<T>(alpha) * v : v;
  });
}

std::vector<Array> hard_sigmoid(const NodeContext& ctx, Inputs in) {
  const double alpha = ctx.attr_float("alpha", 0.2f), beta = ctx.attr_float("beta", 0.5f);
  return float_unary_with(ctx, *in[0], [alpha, beta](auto v) {
    using T = decltype(v);
    return std::max(T(0), std::min(T(1), static_cast<T>(alpha) * v + static_cast<T>(beta)));
  });
}

void check_gelu(const NodeContext& ctx) {
  const std::string a = ctx.attr_string("approximate", "none");
  if (a != "none" && a != "tanh") ctx.fail("attribute 'approximate' must be \"none\" or \"tanh\", not \"" + a + "\"");
}

// 0.5 x (1 + erf(x / sqrt 2)), or with tanh(sqrt(2 / pi) (x + 0.044715 x^3)) in place of erf.
struct GeluF {
  bool tanh = false;
  template <class T>
  void operator()(const T* x, T* y, std::int64_t n) const {
    if (tanh) {
      const T k = static_cast<T>(0.7978845608028654);  // sqrt(2 / pi)
      for (std::int64_t i = 0; i < n; ++i) y[i] = k * (x[i] + T(0.044715) * x[i] * x[i] * x[i]);
      kernels::tanh(y, y, n);
    } else {
      for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * static_cast<T>(0.7071067811865476);
      kernels::erf(y, y, n);
    }
    for (std::int64_t i = 0; i < n; ++i) y[i] = T(0.5) * x[i] * (T(1) + y[i]);
  }
};

std::vector<Array> gelu(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const GeluF f{ctx.attr_string("approximate", "none") == "tanh"};
  Array out;
  if (!dispatch<PS_FLOAT_TYPES>(x.type(), [&](auto tag) { out = unary_blocks<decltype(tag)>(ctx.pool(), x, f); }))
    bad_type(ctx, x.type(), "F32 and F64 are");
  return {std::move(out)};
}

// Clip: bounds are attributes before opset 11 (floats only), optional scalar inputs from 11.
void check_clip(const NodeContext& ctx) {
  if (ctx.opset() < 11) {
    ctx.attr_float("min", 0);
    ctx.attr_float("max", 0);
  }
}

std::vector<Array> clip(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  Array out;
  const bool ok = dispatch<PS_NUMERIC_TYPES>(x.type(), [&](auto tag) {
    using T = decltype(tag);
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if (ctx.opset() < 11) {
      if constexpr (!std::is_floating_point_v<T>) bad_type(ctx, x.type(), "Clip before opset 11 takes floats");
      if (ctx.has("min")) lo = static_cast<T>(ctx.attr_float("min", 0));
      if (ctx.has("max")) hi = static_cast<T>(ctx.attr_float("max", 0));
    } else {
      for (std::size_t k = 1; k <= 2; ++k) {
        if (in.size() <= k || !in[k]) continue;
        const Array& bound = *in[k];
        if (bound.type() != x.type())
          ctx.fail(std::string(k == 1 ? "min" : "max") + " is " + type_text(bound.type()) + ", the input " +
                   type_text(x.type()));
        if (bound.size() != 1)
          ctx.fail(std::string(k == 1 ? "min" : "max") + " must be a scalar, it has shape " +
                   shape_string(bound.shape()));
        (k == 1 ? lo : hi) = bound.data<T>()[0];
      }
    }
    // min > max gives max everywhere, as the spec says.
    out = unary_map<T>(ctx.pool(), x, [lo, hi](T v) { return std::min(std::max(v, lo), hi); });
  });
  if (!ok) bad_type(ctx, x.type(), "numeric types are");
  return {std::move(out)};
}

// ----------------------------------------------------------------------------- logic

std::vector<Array> equal(const NodeContext& ctx, Inputs in) {
  const Array& a = *in[0];
  const Array& b = *in[1];
  same_types(ctx, a, b);
  const Dims shape = broadcast_or_fail(ctx, in);
  Array out;
  if (!dispatch<PS_NUMERIC_TYPES, bool>(a.type(), [&](auto tag) {
        using T = decltype(tag);
        out = binary_map<bool, T, T>(ctx.pool(), a, b, shape, [](T x, T y) { return x == y; });
      }))
    bad_type(ctx, a.type(), "numeric types and BOOL are");
  return {std::move(out)};
}

template <class T>
Array where_typed(const Array& c, const Array& x, const Array& y, const Dims& shape) {
  Array out(x.type(), shape);
  T* o = reinterpret_cast<T*>(out.bytes());
  const bool* pc = c.data<bool>();
  const T* px = reinterpret_cast<const T*>(x.bytes());
  const T* py = reinterpret_cast<const T*>(y.bytes());
  const Dims in[] = {c.shape(), x.shape(), y.shape()};
  const StridedWalker w = broadcast_walker(shape, in);
  const std::int64_t n = w.run(), sc = w.run_stride(1), sx = w.run_stride(2), sy = w.run_stride(3);
  w.for_each([&](const std::int64_t* off) {
    for (std::int64_t i = 0; i < n; ++i)
      o[off[0] + i] = pc[off[1] + i * sc] ? px[off[2] + i * sx] : py[off[3] + i * sy];
  });
  return out;
}

std::vector<Array> where(const NodeContext& ctx, Inputs in) {
  const Array& c = *in[0];
  const Array& x = *in[1];
  const Array& y = *in[2];
  if (c.type() != DType::BOOL) ctx.fail("condition must be BOOL, it is " + type_text(c.type()));
  same_types(ctx, x, y);
  const Dims shape = broadcast_or_fail(ctx, in);
  // Values are only moved, so the element size is all that matters.
  switch (elem_bytes(x.type())) {
    case 1:
      return {where_typed<std::uint8_t>(c, x, y, shape)};
    case 2:
      return {where_typed<std::uint16_t>(c, x, y, shape)};
    case 4:
      return {where_typed<std::uint32_t>(c, x, y, shape)};
    default:
      return {where_typed<std::uint64_t>(c, x, y, shape)};
  }
}

}  // namespace

void add_elementwise_ops(OpRegistry& r) {
  r.add({"Add", 2, 2, arith<Arith::Add>, nullptr, add_backward});
  r.add({"Sub", 2, 2, arith<Arith::Sub>, nullptr, sub_backward});
  r.add({"Mul", 2, 2, arith<Arith::Mul>, nullptr, mul_backward});
  r.add({"Div", 2, 2, arith<Arith::Div>, nullptr, div_backward});
  r.add({"Pow", 2, 2, pow_op, nullptr, pow_backward});
  r.add({"Sqrt", 1, 1, float_unary<SqrtF>, nullptr, sqrt_backward});
  r.add({"Exp", 1, 1, float_unary<ExpF>, nullptr, exp_backward});
  r.add({"Log", 1, 1, float_unary<LogF>, nullptr, log_backward});
  r.add({"Tanh", 1, 1, float_unary<TanhF>, nullptr, tanh_backward});
  r.add({"Erf", 1, 1, float_unary<ErfF>, nullptr, erf_backward});
  r.add({"Sigmoid", 1, 1, float_unary<SigmoidF>, nullptr, sigmoid_backward});
  r.add({"HardSwish", 1, 1, float_unary<HardSwishF>, nullptr, hard_swish_backward});
  r.add({"Neg", 1, 1, signed_unary<NegF>, nullptr, neg_backward});
  r.add({"Abs", 1, 1, signed_unary<AbsF>, nullptr, abs_backward});
  r.add({"Relu", 1, 1, signed_unary<ReluF>, nullptr, relu_backward});
  r.add({"LeakyRelu", 1, 1, leaky_relu, [](const NodeContext& c) { c.attr_float("alpha", 0); }, leaky_relu_backward});
  r.add({"HardSigmoid", 1, 1, hard_sigmoid,
         [](const NodeContext& c) {
           c.attr_float("alpha", 0);
           c.attr_float("beta", 0);
         },
         hard_sigmoid_backward});
  r.add({"Gelu", 1, 1, gelu, check_gelu, gelu_backward});
  r.add({"Clip", 1, 3, clip, check_clip, clip_backward});
  r.add({"Equal", 2, 2, equal});  // bool output: nothing to differentiate
  r.add({"Where", 3, 3, where, nullptr, where_backward});
}

}  // namespace paramscope::engine
