// Backward rules of the operators that move values: each sends the gradient back along the
// path its values took (a view becomes a scatter, Concat a split, Split a concat, Gather a
// scatter-add). Gradients have the input's type (F32 or F64); integer inputs (shapes, indices,
// axes) get none. Gradients that only change shape share the incoming gradient's data.
#include "engine/ops/shape_grads.h"

#include <cstring>

#include "engine/ops/grad_support.h"
#include "engine/ops/op_support.h"
#include "engine/ops/shape_geometry.h"

namespace paramscope::engine {
namespace {

std::int64_t product(const Dims& d, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to; ++i) p *= d[i];
  return p;
}

// Copies `rows` rows of `row` bytes between arrays whose rows are `src_pitch` and `dst_pitch`
// bytes apart: one block of a concatenation along an axis.
void copy_rows(const std::byte* src, std::size_t src_pitch, std::byte* dst, std::size_t dst_pitch, std::int64_t rows,
               std::size_t row) {
  if (row == 0) return;
  for (std::int64_t i = 0; i < rows; ++i)
    std::memcpy(dst + static_cast<std::size_t>(i) * dst_pitch, src + static_cast<std::size_t>(i) * src_pitch, row);
}

// gx[..., idx[j], ...] += g[..., j, ...]: rows of gx hit by repeated indices get every copy.
template <class T>
Array gather_scatter_add(const NodeContext& ctx, const Array& x, const Array& indices, const Array& g,
                         std::size_t axis) {
  Array gx(x.type(), x.shape());
  const std::int64_t dim = x.dim(axis), n = indices.size();
  const std::int64_t outer = product(x.shape(), 0, axis), inner = product(x.shape(), axis + 1, x.rank());
  const std::int64_t* ip = indices.data<std::int64_t>();
  for (std::int64_t j = 0; j < n; ++j)
    if (ip[j] < -dim || ip[j] >= dim) ctx.fail("index " + std::to_string(ip[j]) + " is outside the data");
  const T* s = g.data<T>();
  T* d = gx.data<T>();
  for (std::int64_t i = 0; i < outer; ++i) {
    T* base = d + i * dim * inner;
    for (std::int64_t j = 0; j < n; ++j, s += inner) {
      T* row = base + (ip[j] < 0 ? ip[j] + dim : ip[j]) * inner;
      for (std::int64_t k = 0; k < inner; ++k) row[k] += s[k];
    }
  }
  return gx;
}

}  // namespace

Grads reshape_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  if (g && grad_type(ctx, a, 0)) r[0] = g->reshaped(a.in[0]->shape());
  return r;
}

// Output axis j is input axis axes[j]: read the gradient with its strides permuted back.
Grads transpose_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  if (!g || !grad_type(ctx, a, 0)) return r;
  const Array& x = *a.in[0];
  const auto axes = transpose_axes(ctx, x.rank());
  const Dims gs = contiguous_strides(g->shape());
  StridedView v{x.shape(), Dims(x.rank(), 0), 0};
  for (std::size_t j = 0; j < axes.size(); ++j) v.strides[axes[j]] = gs[j];
  r[0] = strided_copy(*g, v);
  return r;
}

Grads expand_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  const auto t = grad_type(ctx, a, 0);
  if (!g || !t) return r;
  const Dims& shape = a.in[0]->shape();
  r[0] = *t == DType::F32 ? reduce_to<float>(*g, shape) : reduce_to<double>(*g, shape);
  return r;
}

// Each input gets its block of the gradient along the axis; omitted inputs take no room.
Grads concat_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  if (!g) return r;
  const std::size_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), g->rank());
  const std::size_t esize = elem_bytes(g->type());
  const std::int64_t outer = product(g->shape(), 0, axis);
  const auto pitch = static_cast<std::size_t>(product(g->shape(), axis, g->rank())) * esize;
  std::size_t at = 0;  // byte offset of this input's block inside a row of the gradient
  for (std::size_t i = 0; i < a.in.size(); ++i) {
    if (!a.in[i]) continue;
    const Array& x = *a.in[i];
    const auto row = static_cast<std::size_t>(product(x.shape(), axis, x.rank())) * esize;
    if (grad_type(ctx, a, i)) {
      Array gx(x.type(), x.shape());
      copy_rows(g->bytes() + at, pitch, gx.bytes(), row, outer, row);
      r[i] = std::move(gx);
    }
    at += row;
  }
  return r;
}

// The outputs' gradients concatenated back; an output without one contributes zeros.
Grads split_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  if (!any_grad(a) || !grad_type(ctx, a, 0)) return r;
  const Array& x = *a.in[0];
  const std::size_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), x.rank());
  const auto sizes = split_sizes(ctx, a.in, axis);
  const std::size_t esize = elem_bytes(x.type());
  const std::int64_t outer = product(x.shape(), 0, axis);
  const auto pitch = static_cast<std::size_t>(product(x.shape(), axis, x.rank())) * esize;
  const auto inner = static_cast<std::size_t>(product(x.shape(), axis + 1, x.rank())) * esize;
  Array gx(x.type(), x.shape());
  std::size_t at = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const std::size_t row = static_cast<std::size_t>(sizes[k]) * inner;
    if (const Array* g = grad_of(ctx, a, k)) copy_rows(g->bytes(), row, gx.bytes() + at, pitch, outer, row);
    at += row;
  }
  r[0] = std::move(gx);
  return r;
}

// Zeros except where Slice read (a step never visits an element twice).
Grads slice_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  if (!g || !grad_type(ctx, a, 0)) return r;
  Array gx(a.in[0]->type(), a.in[0]->shape());
  strided_scatter(*g, gx, slice_view(ctx, a.in));
  r[0] = std::move(gx);
  return r;
}

Grads gather_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  const auto t = grad_type(ctx, a, 0);
  if (!g || !t) return r;
  const Array& x = *a.in[0];
  const std::size_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), x.rank());
  const Array indices = a.in[1]->cast(DType::I64);
  r[0] = *t == DType::F32 ? gather_scatter_add<float>(ctx, x, indices, *g, axis)
                          : gather_scatter_add<double>(ctx, x, indices, *g, axis);
  return r;
}

// Between float types the gradient is cast back to the input's type; a cast to an integer or
// bool type passes none (its output is piecewise constant).
Grads cast_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads r = no_grads(a);
  const Array* g = grad_of(ctx, a, 0);
  if (!g || !grad_type(ctx, a, 0)) return r;
  const DType to = g->type();
  if (to == DType::F32 || to == DType::F64 || to == DType::F16 || to == DType::BF16) r[0] = g->cast(a.in[0]->type());
  return r;
}

}  // namespace paramscope::engine
