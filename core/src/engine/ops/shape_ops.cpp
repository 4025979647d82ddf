// Operators that move values without computing on them (Reshape, Transpose, Slice, Gather...),
// plus Shape, Cast and the constant makers: the Shape -> Gather -> Unsqueeze -> Concat -> Reshape
// chains that torch.onnx.export writes run through these on INT64 tensors. Values are copied by
// element size, so every plain type is accepted. The backward rules are in shape_grads.cpp.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "engine/broadcast.h"
#include "engine/ops/op_support.h"
#include "engine/ops/shape_geometry.h"
#include "engine/ops/shape_grads.h"
#include "io/onnx/onnx_types.h"

namespace paramscope::engine {
namespace {

constexpr int kVariadic = 1 << 20;

std::int64_t product(const Dims& d, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to; ++i) p *= d[i];
  return p;
}

// Axes from the `axes` attribute (before `input_opset`) or the optional input k (from it).
std::vector<std::int64_t> axes_arg(const NodeContext& ctx, Inputs in, std::size_t k, int input_opset) {
  if (ctx.opset() < input_opset) return ctx.attr_ints("axes");
  if (in.size() > k && in[k]) return int_values(ctx, *in[k], "axes");
  return {};
}

std::vector<std::size_t> normalized_axes(const NodeContext& ctx, const std::vector<std::int64_t>& axes,
                                         std::size_t rank) {
  std::vector<std::size_t> out;
  for (const auto a : axes) {
    const std::size_t n = normalize_axis(ctx, a, rank);
    if (std::find(out.begin(), out.end(), n) != out.end()) ctx.fail("axis " + std::to_string(a) + " is given twice");
    out.push_back(n);
  }
  return out;
}

// ----------------------------------------------------------------------------- reshaping

std::vector<Array> reshape(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  std::vector<std::int64_t> shape = int_values(ctx, *in[1], "shape");
  const bool allowzero = ctx.opset() >= 14 && ctx.attr_int("allowzero", 0) != 0;
  std::int64_t known = 1;
  std::size_t infer = shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    std::int64_t& d = shape[i];
    if (d == 0 && !allowzero) {
      if (i >= x.rank())
        ctx.fail("shape " + shape_string(shape) + " copies dimension " + std::to_string(i) + " of an input of rank " +
                 std::to_string(x.rank()));
      d = x.dim(i);
    }
    if (d == -1) {
      if (infer != shape.size()) ctx.fail("shape " + shape_string(shape) + " has more than one -1");
      infer = i;
      continue;
    }
    if (d < 0) ctx.fail("shape " + shape_string(shape) + " has a negative dimension");
    if (d != 0 && known > std::numeric_limits<std::int64_t>::max() / d)
      ctx.fail("shape " + shape_string(shape) + " overflows");
    known *= d;
  }
  if (infer != shape.size()) {
    if (allowzero && known == 0) ctx.fail("shape " + shape_string(shape) + " has both 0 and -1 with allowzero");
    if (known == 0 || x.size() % known != 0)
      ctx.fail("cannot reshape " + shape_string(x.shape()) + " to " + shape_string(shape));
    shape[infer] = x.size() / known;
  } else if (known != x.size()) {
    ctx.fail("cannot reshape " + shape_string(x.shape()) + " (" + std::to_string(x.size()) + " values) to " +
             shape_string(shape));
  }
  return {x.reshaped(shape)};
}

std::vector<Array> flatten(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const auto r = static_cast<std::int64_t>(x.rank());
  std::int64_t axis = ctx.attr_int("axis", 1);
  if (axis < -r || axis > r)
    ctx.fail("axis " + std::to_string(axis) + " is outside [" + std::to_string(-r) + ", " + std::to_string(r) + "]");
  if (axis < 0) axis += r;
  const auto a = static_cast<std::size_t>(axis);
  return {x.reshaped({product(x.shape(), 0, a), product(x.shape(), a, x.rank())})};
}

std::vector<Array> squeeze(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const auto axes = normalized_axes(ctx, axes_arg(ctx, in, 1, 13), x.rank());
  Dims shape;
  for (std::size_t d = 0; d < x.rank(); ++d) {
    const bool listed = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (listed && x.dim(d) != 1)
      ctx.fail("cannot squeeze axis " + std::to_string(d) + " of shape " + shape_string(x.shape()) + ": it is not 1");
    if (listed || (axes.empty() && x.dim(d) == 1)) continue;
    shape.push_back(x.dim(d));
  }
  return {x.reshaped(shape)};
}

std::vector<Array> unsqueeze(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const auto raw = axes_arg(ctx, in, 1, 13);
  if (raw.empty()) ctx.fail("needs axes");
  const std::size_t rank = x.rank() + raw.size();
  const auto axes = normalized_axes(ctx, raw, rank);
  Dims shape;
  std::size_t next = 0;
  for (std::size_t d = 0; d < rank; ++d)
    shape.push_back(std::find(axes.begin(), axes.end(), d) != axes.end() ? 1 : x.dim(next++));
  return {x.reshaped(shape)};
}

std::vector<Array> transpose(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const auto axes = transpose_axes(ctx, x.rank());
  const Dims src = contiguous_strides(x.shape());
  StridedView v;
  for (const auto a : axes) {
    v.shape.push_back(x.dim(a));
    v.strides.push_back(src[a]);
  }
  return {strided_copy(x, v)};
}

std::vector<Array> expand(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const auto target = int_values(ctx, *in[1], "shape");
  const auto shape = broadcast_shapes(x.shape(), target);
  if (!shape) ctx.fail("cannot expand " + shape_string(x.shape()) + " to " + shape_string(target));
  return {strided_copy(x, {*shape, broadcast_strides(x.shape(), *shape), 0})};
}

// ----------------------------------------------------------------------------- pieces

std::vector<Array> concat(const NodeContext& ctx, Inputs in) {
  std::vector<const Array*> parts;
  for (const Array* a : in)
    if (a) parts.push_back(a);
  const Array& first = *parts.front();
  const std::size_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), first.rank());
  Dims shape = first.shape();
  shape[axis] = 0;
  for (const Array* a : parts) {
    if (a->type() != first.type())
      ctx.fail("inputs have different types, " + type_text(first.type()) + " and " + type_text(a->type()));
    bool fits = a->rank() == first.rank();
    for (std::size_t d = 0; fits && d < first.rank(); ++d) fits = d == axis || a->dim(d) == first.dim(d);
    if (!fits)
      ctx.fail("cannot concatenate " + shape_string(first.shape()) + " and " + shape_string(a->shape()) +
               " along axis " + std::to_string(axis));
    shape[axis] += a->dim(axis);
  }
  Array out = Array::for_overwrite(first.type(), shape);
  const std::size_t esize = elem_bytes(first.type());
  const std::int64_t outer = product(shape, 0, axis);
  const auto out_row = static_cast<std::size_t>(product(shape, axis, shape.size())) * esize;
  std::size_t at = 0;  // byte offset of this part inside an output row
  for (const Array* a : parts) {
    const auto row = static_cast<std::size_t>(product(a->shape(), axis, a->rank())) * esize;
    if (row == 0) continue;
    for (std::int64_t i = 0; i < outer; ++i)
      std::memcpy(out.bytes() + static_cast<std::size_t>(i) * out_row + at,
                  a->bytes() + static_cast<std::size_t>(i) * row, row);
    at += row;
  }
  return {std::move(out)};
}

std::vector<Array> split(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const std::size_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), x.rank());
  const std::vector<std::int64_t> sizes = split_sizes(ctx, in, axis);
  const std::size_t esize = elem_bytes(x.type());
  const std::int64_t outer = product(x.shape(), 0, axis);
  const auto in_row = static_cast<std::size_t>(product(x.shape(), axis, x.rank())) * esize;
  const auto inner = static_cast<std::size_t>(product(x.shape(), axis + 1, x.rank())) * esize;
  std::vector<Array> outs;
  std::size_t at = 0;
  for (const auto s : sizes) {
    Dims shape = x.shape();
    shape[axis] = s;
    Array out = Array::for_overwrite(x.type(), shape);
    const std::size_t row = static_cast<std::size_t>(s) * inner;
    if (row > 0)
      for (std::int64_t i = 0; i < outer; ++i)
        std::memcpy(out.bytes() + static_cast<std::size_t>(i) * row,
                    x.bytes() + static_cast<std::size_t>(i) * in_row + at, row);
    at += row;
    outs.push_back(std::move(out));
  }
  return outs;
}

void check_slice(const NodeContext& ctx) {
  if (ctx.opset() < 10) {
    if (!ctx.has("starts")) ctx.fail("needs the 'starts' attribute");
    ctx.attr_ints("starts");
    ctx.attr_ints("ends");
    if (!ctx.has("ends")) ctx.fail("needs the 'ends' attribute");
    ctx.attr_ints("axes");
    if (ctx.node().inputs.size() > 1) ctx.fail("takes one input before opset 10");
  } else if (ctx.node().inputs.size() < 3) {
    ctx.fail("needs the inputs data, starts and ends from opset 10");
  }
}

std::vector<Array> slice(const NodeContext& ctx, Inputs in) {
  return {strided_copy(*in[0], slice_view(ctx, in))};
}

std::vector<Array> gather(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const Array& idx = *in[1];
  if (x.rank() == 0) ctx.fail("cannot gather from a scalar");
  const std::size_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), x.rank());
  if (idx.type() != DType::I64 && idx.type() != DType::I32)
    ctx.fail("indices must be INT64 or INT32, they are " + type_text(idx.type()));
  const Array indices = idx.cast(DType::I64);
  const std::int64_t dim = x.dim(axis);
  Dims shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis));
  shape.insert(shape.end(), indices.shape().begin(), indices.shape().end());
  shape.insert(shape.end(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis) + 1, x.shape().end());
  Array out(x.type(), shape);
  const std::size_t esize = elem_bytes(x.type());
  const std::int64_t outer = product(x.shape(), 0, axis);
  const auto inner = static_cast<std::size_t>(product(x.shape(), axis + 1, x.rank())) * esize;
  const std::int64_t* ip = indices.data<std::int64_t>();
  const std::int64_t n = indices.size();
  for (std::int64_t j = 0; j < n; ++j)
    if (ip[j] < -dim || ip[j] >= dim)
      ctx.fail("index " + std::to_string(ip[j]) + " is outside [" + std::to_string(-dim) + ", " + std::to_string(dim) +
               ") on axis " + std::to_string(axis));
  std::byte* o = out.bytes();
  if (inner == 0) return {std::move(out)};
  for (std::int64_t i = 0; i < outer; ++i) {
    const std::byte* base = x.bytes() + static_cast<std::size_t>(i * dim) * inner;
    for (std::int64_t j = 0; j < n; ++j, o += inner)
      std::memcpy(o, base + static_cast<std::size_t>(ip[j] < 0 ? ip[j] + dim : ip[j]) * inner, inner);
  }
  return {std::move(out)};
}

// ----------------------------------------------------------------------------- shapes and constants

std::vector<Array> shape_op(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const auto r = static_cast<std::int64_t>(x.rank());
  std::int64_t start = 0, end = r;
  if (ctx.opset() >= 15) {
    start = ctx.attr_int("start", 0);
    end = ctx.attr_int("end", r);
  }
  // Out-of-range positions are clamped (negative ones count from the end).
  start = std::clamp<std::int64_t>(start < 0 ? start + r : start, 0, r);
  end = std::clamp<std::int64_t>(end < 0 ? end + r : end, 0, r);
  const std::int64_t n = std::max<std::int64_t>(0, end - start);
  Array out(DType::I64, {n});
  for (std::int64_t i = 0; i < n; ++i) out.data<std::int64_t>()[i] = x.dim(static_cast<std::size_t>(start + i));
  return {std::move(out)};
}

DType cast_target(const NodeContext& ctx) {
  if (!ctx.has("to")) ctx.fail("needs the 'to' attribute");
  const std::int64_t to = ctx.attr_int("to", 0);
  const auto t = to >= 0 && to <= 64 ? io::onnx::dtype_from_onnx(static_cast<std::int32_t>(to)) : std::nullopt;
  if (!t || *t == DType::F8_E4M3 || *t == DType::F8_E5M2)
    ctx.unsupported("casting to " +
                    io::onnx::onnx_type_name(static_cast<std::int32_t>(std::clamp<std::int64_t>(to, -1, 1000))) +
                    " is not supported");
  return *t;
}

std::vector<Array> cast(const NodeContext& ctx, Inputs in) {
  return {in[0]->cast(cast_target(ctx))};
}

// Constant's value, from whichever one attribute the node sets.
void check_constant(const NodeContext& ctx) {
  int given = 0;
  for (const char* a : {"value", "value_float", "value_floats", "value_int", "value_ints"}) given += ctx.has(a);
  for (const char* a : {"value_string", "value_strings", "sparse_value"})
    if (ctx.has(a)) ctx.unsupported(std::string("attribute '") + a + "' is not supported");
  if (given != 1) ctx.fail("must set exactly one value attribute, it sets " + std::to_string(given));
}

std::vector<Array> constant(const NodeContext& ctx, Inputs) {
  check_constant(ctx);
  if (const Array* t = ctx.attr_tensor("value")) return {*t};
  if (ctx.has("value_float")) return {Array::of<float>({}, {ctx.attr_float("value_float", 0)})};
  if (ctx.has("value_int")) return {Array::of<std::int64_t>({}, {ctx.attr_int("value_int", 0)})};
  if (ctx.has("value_floats")) {
    const auto v = ctx.attr_floats("value_floats");
    return {Array::of<float>({static_cast<std::int64_t>(v.size())}, std::span<const float>(v))};
  }
  const auto v = ctx.attr_ints("value_ints");
  return {Array::of<std::int64_t>({static_cast<std::int64_t>(v.size())}, std::span<const std::int64_t>(v))};
}

void check_constant_of_shape(const NodeContext& ctx) {
  if (const Array* v = ctx.attr_tensor("value"); v && v->size() != 1)
    ctx.fail("attribute 'value' must hold one element, it has shape " + shape_string(v->shape()));
}

std::vector<Array> constant_of_shape(const NodeContext& ctx, Inputs in) {
  check_constant_of_shape(ctx);
  const auto shape = int_values(ctx, *in[0], "shape");
  for (const auto d : shape)
    if (d < 0) ctx.fail("shape " + shape_string(shape) + " has a negative dimension");
  const Array* v = ctx.attr_tensor("value");
  const Array fill = v ? *v : Array::of<float>({}, {0.0f});
  Array out(fill.type(), shape);
  const std::size_t esize = elem_bytes(fill.type());
  for (std::int64_t i = 0; i < out.size(); ++i)
    std::memcpy(out.bytes() + static_cast<std::size_t>(i) * esize, fill.bytes(), esize);
  return {std::move(out)};
}

std::vector<Array> identity(const NodeContext&, Inputs in) {
  return {*in[0]};
}

std::vector<Array> dropout(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  if (ctx.opset() >= 12 && in.size() > 2 && in[2]) {
    const Array& training = *in[2];
    if (training.type() != DType::BOOL || training.size() != 1) ctx.fail("training_mode must be one BOOL");
    if (training.data<bool>()[0]) ctx.unsupported("training mode is not supported (the engine runs inference)");
  }
  std::vector<Array> out{x};
  if (ctx.node().outputs.size() > 1) {
    // Inference keeps every value. Before opset 10 the mask has the input's type.
    Array mask = Array(DType::BOOL, x.shape());
    std::memset(mask.bytes(), 1, mask.byte_size());
    out.push_back(ctx.opset() < 10 ? mask.cast(x.type()) : mask);
  }
  return out;
}

}  // namespace

std::vector<std::size_t> transpose_axes(const NodeContext& ctx, std::size_t rank) {
  std::vector<std::int64_t> perm = ctx.attr_ints("perm");
  if (perm.empty()) {
    for (std::size_t i = rank; i-- > 0;) perm.push_back(static_cast<std::int64_t>(i));
  }
  if (perm.size() != rank)
    ctx.fail("perm has " + std::to_string(perm.size()) + " entries for an input of rank " + std::to_string(rank));
  return normalized_axes(ctx, perm, rank);
}

std::vector<std::int64_t> split_sizes(const NodeContext& ctx, Inputs in, std::size_t axis) {
  const std::int64_t dim = in[0]->dim(axis);
  const std::size_t parts = ctx.node().outputs.size();
  std::vector<std::int64_t> sizes;
  if (ctx.opset() < 13)
    sizes = ctx.attr_ints("split");
  else if (in.size() > 1 && in[1])
    sizes = int_values(ctx, *in[1], "split");
  if (sizes.empty()) {
    if (dim % static_cast<std::int64_t>(parts) != 0)
      ctx.fail("cannot split dimension " + std::to_string(dim) + " into " + std::to_string(parts) + " equal parts");
    sizes.assign(parts, dim / static_cast<std::int64_t>(parts));
  }
  if (sizes.size() != parts)
    ctx.fail("split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(parts) + " outputs");
  std::int64_t total = 0;
  for (const auto s : sizes) {
    if (s < 0 || s > dim) ctx.fail("split size " + std::to_string(s) + " is outside [0, " + std::to_string(dim) + "]");
    total += s;
  }
  if (total != dim)
    ctx.fail("split sizes add up to " + std::to_string(total) + ", axis " + std::to_string(axis) + " has " +
             std::to_string(dim));
  return sizes;
}

StridedView slice_view(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attr_ints("starts");
    ends = ctx.attr_ints("ends");
    axes = ctx.attr_ints("axes");
  } else {
    starts = int_values(ctx, *in[1], "starts");
    ends = int_values(ctx, *in[2], "ends");
    if (in.size() > 3 && in[3]) axes = int_values(ctx, *in[3], "axes");
    if (in.size() > 4 && in[4]) steps = int_values(ctx, *in[4], "steps");
  }
  if (axes.empty())
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    ctx.fail("starts, ends, axes and steps have different lengths (" + std::to_string(starts.size()) + ", " +
             std::to_string(ends.size()) + ", " + std::to_string(axes.size()) + ", " + std::to_string(steps.size()) +
             ")");
  const auto norm = normalized_axes(ctx, axes, x.rank());
  const Dims src = contiguous_strides(x.shape());
  StridedView v{x.shape(), src, 0};
  for (std::size_t k = 0; k < norm.size(); ++k) {
    const std::size_t a = norm[k];
    const std::int64_t dim = x.dim(a), step = steps[k];
    if (step == 0) ctx.fail("step 0 on axis " + std::to_string(a));
    // Negative positions count from the end; then clamp as the spec says for each direction.
    std::int64_t start = starts[k] < 0 ? starts[k] + dim : starts[k];
    std::int64_t end = ends[k] < 0 ? ends[k] + dim : ends[k];
    std::int64_t count = 0;
    if (dim == 0) {
      // nothing to take
    } else if (step > 0) {
      start = std::clamp<std::int64_t>(start, 0, dim);
      end = std::clamp<std::int64_t>(end, 0, dim);
      if (end > start) count = (end - start - 1) / step + 1;
    } else {
      start = std::clamp<std::int64_t>(start, 0, dim - 1);
      end = std::clamp<std::int64_t>(end, -1, dim - 1);
      if (start > end) count = (start - end - 1) / (-step) + 1;
    }
    v.shape[a] = count;
    v.strides[a] = src[a] * step;
    if (count > 0) v.offset += start * src[a];
  }
  return v;
}

void add_shape_ops(OpRegistry& r) {
  r.add({"Reshape", 2, 2, reshape, [](const NodeContext& c) { c.attr_int("allowzero", 0); }, reshape_backward});
  r.add({"Flatten", 1, 1, flatten, [](const NodeContext& c) { c.attr_int("axis", 1); }, reshape_backward});
  r.add({"Squeeze", 1, 2, squeeze, [](const NodeContext& c) { c.attr_ints("axes"); }, reshape_backward});
  r.add({"Unsqueeze", 1, 2, unsqueeze,
         [](const NodeContext& c) {
           if (c.opset() < 13 && c.attr_ints("axes").empty()) c.fail("needs the 'axes' attribute");
           if (c.opset() >= 13 && c.node().inputs.size() < 2) c.fail("needs the axes input from opset 13");
         },
         reshape_backward});
  r.add({"Transpose", 1, 1, transpose, [](const NodeContext& c) { c.attr_ints("perm"); }, transpose_backward});
  r.add({"Expand", 2, 2, expand, nullptr, expand_backward});
  r.add({"Concat", 1, kVariadic, concat,
         [](const NodeContext& c) {
           if (!c.has("axis")) c.fail("needs the 'axis' attribute");
           c.attr_int("axis", 0);
         },
         concat_backward});
  r.add({"Split", 1, 2, split,
         [](const NodeContext& c) {
           c.attr_int("axis", 0);
           c.attr_ints("split");
         },
         split_backward});
  r.add({"Slice", 1, 5, slice, check_slice, slice_backward});
  r.add({"Gather", 2, 2, gather, [](const NodeContext& c) { c.attr_int("axis", 0); }, gather_backward});
  // Shape, Constant and ConstantOfShape: outputs that are integers or constants, no gradient.
  r.add({"Shape", 1, 1, shape_op, [](const NodeContext& c) {
           c.attr_int("start", 0);
           c.attr_int("end", 0);
         }});
  r.add({"Cast", 1, 1, cast, [](const NodeContext& c) { cast_target(c); }, cast_backward});
  r.add({"Constant", 0, 0, constant, check_constant});
  r.add({"ConstantOfShape", 1, 1, constant_of_shape, check_constant_of_shape});
  r.add({"Identity", 1, 1, identity, nullptr, reshape_backward});
  r.add({"Dropout", 1, 3, dropout, [](const NodeContext& c) { c.attr_float("ratio", 0.5f); }, reshape_backward});
}

}  // namespace paramscope::engine
