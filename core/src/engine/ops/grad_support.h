// Small helpers shared by the backward rules: which inputs want a gradient, the incoming
// gradients checked against their outputs (as they are, or converted to the type a rule computes
// in), reduction of broadcast gradients, parallel loops.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "engine/broadcast.h"
#include "engine/kernels/vector_math.h"
#include "engine/op_registry.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {

/// One nullopt per input slot: the answer for inputs that get no gradient.
inline Grads no_grads(const BackwardArgs& a) {
  return Grads(a.in.size());
}

/// dL/d(output k), or nullptr when none flows (or the node has no such output). A gradient that
/// does not match its output is the caller's bug, reported rather than read out of bounds.
inline const Array* grad_of(const NodeContext& ctx, const BackwardArgs& a, std::size_t k) {
  if (k >= a.grad_out.size() || !a.grad_out[k]) return nullptr;
  const Array& g = *a.grad_out[k];
  if (k >= a.out.size() || g.shape() != a.out[k].shape() || g.type() != a.out[k].type())
    ctx.fail("the gradient of output " + std::to_string(k) + " is " + std::string(dtype_name(g.type())) + " " +
             shape_string(g.shape()) + ", the output " +
             (k < a.out.size() ? std::string(dtype_name(a.out[k].type())) + " " + shape_string(a.out[k].shape())
                               : std::string("does not exist")));
  return &g;
}

/// Is the gradient of input slot i needed (and is the input there at all)?
inline bool wanted(const BackwardArgs& a, std::size_t i) {
  return i < a.in.size() && a.in[i] && i < a.wants.size() && a.wants[i];
}

inline bool any_wanted(const BackwardArgs& a) {
  for (std::size_t i = 0; i < a.in.size(); ++i)
    if (wanted(a, i)) return true;
  return false;
}

/// dL/d(output k) converted to `type` (a no-op when it has it already), or nullopt when no
/// gradient flows into that output. Fails when its shape is not the forward output's.
inline std::optional<Array> out_grad(const NodeContext& ctx, const BackwardArgs& a, std::size_t k, DType type) {
  if (k >= a.grad_out.size() || !a.grad_out[k]) return std::nullopt;
  const Array& g = *a.grad_out[k];
  if (k < a.out.size() && g.shape() != a.out[k].shape())
    ctx.fail("the gradient of output " + std::to_string(k) + " has shape " + shape_string(g.shape()) + ", the output " +
             shape_string(a.out[k].shape()));
  if (g.type() != DType::F32 && g.type() != DType::F64)
    ctx.fail("the gradient of output " + std::to_string(k) + " is " + std::string(dtype_name(g.type())) +
             ", not a float");
  return g.cast(type);
}

inline bool any_grad(const BackwardArgs& a) {
  for (const Array* g : a.grad_out)
    if (g) return true;
  return false;
}

/// The type input i's gradient is computed in: F32 or F64 when it is wanted and present;
/// nullopt for integer and bool data (not differentiable) and unwanted or omitted inputs.
/// Other float types are refused rather than differentiated at the wrong precision.
inline std::optional<DType> grad_type(const NodeContext& ctx, const BackwardArgs& a, std::size_t i) {
  if (!wanted(a, i)) return std::nullopt;
  const DType t = a.in[i]->type();
  if (t == DType::F32 || t == DType::F64) return t;
  if (t == DType::F16 || t == DType::BF16)
    ctx.unsupported("the gradient of a " + std::string(dtype_name(t)) + " input is not supported (F32 and F64 are)");
  return std::nullopt;
}

/// Sums a gradient over the dimensions broadcasting added or repeated, giving `shape`;
/// returns `full` itself when nothing was broadcast.
template <class T>
Array reduce_to(Array full, const Dims& shape) {
  if (full.shape() == shape) return full;
  Array r(dtype_of<T>(), shape);
  if constexpr (std::is_same_v<T, float>) {
    sum_to_shape(full.data<float>(), full.shape(), r.data<float>(), shape);
  } else {
    // sum_to_shape is float-only: the same walk in T.
    const Dims target[] = {shape};
    const StridedWalker w = broadcast_walker(full.shape(), target);
    const T* s = full.data<T>();
    T* d = r.data<T>();
    const std::int64_t n = w.run(), ds = w.run_stride(1);
    w.for_each([&](const std::int64_t* off) {
      for (std::int64_t i = 0; i < n; ++i) d[off[1] + i * ds] += s[off[0] + i];
    });
  }
  return r;
}

/// Calls f(begin, end) over [0, n), split over the pool when n is large enough to pay for it.
template <class F>
void for_range(const NodeContext& ctx, std::int64_t n, F&& f) {
  kernels::parallel_range(ctx.pool(), n, std::forward<F>(f));
}

}  // namespace paramscope::engine
