// Normalisations and reductions: BatchNormalization (inference), LayerNormalization, Softmax,
// LogSoftmax, ReduceMean, ReduceSum. The backward rules are in norm_grads.cpp.
#include "engine/ops/norm_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/op_registry.h"
#include "engine/ops/op_support.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {
namespace {

[[noreturn]] void unsupported_type(const NodeContext& ctx, const Array& a, const char* implemented) {
  ctx.unsupported(ctx.node().op_type + " with " + std::string(dtype_name(a.type())) + " input (" + implemented +
                  " implemented)");
}

// ---- BatchNormalization ----------------------------------------------------------------------

void check_batch_norm(const NodeContext& ctx) {
  if (ctx.has("spatial") && ctx.attr_int("spatial", 1) != 1)
    ctx.unsupported("BatchNormalization with spatial=0 (only per-channel statistics are implemented)");
  if (ctx.attr_int("training_mode", 0) != 0)
    ctx.unsupported("BatchNormalization in training mode (training_mode=1; only inference is implemented)");
  const auto& outs = ctx.node().outputs;
  if (std::any_of(outs.begin() + std::min<std::size_t>(1, outs.size()), outs.end(),
                  [](const std::string& o) { return !o.empty(); }))
    ctx.unsupported(
        "BatchNormalization with running or saved statistics outputs (training mode; only inference is "
        "implemented)");
}

template <class T>
Array batch_norm_typed(const NodeContext& ctx, const Array& xa, Inputs in) {
  const std::int64_t c = xa.dim(1);
  const BatchNormChannels<T> per = batch_norm_channels<T>(ctx, xa, in);
  const std::vector<T>&mul = per.mul, &mean = per.mean, &add = per.add;
  Array y = Array::for_overwrite(xa.type(), xa.shape());
  const std::int64_t plane = dims_product(xa.shape(), 2, xa.rank());
  const T* x = xa.data<T>();
  T* yd = y.data<T>();
  for_rows(ctx, xa.dim(0) * c, plane, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const auto ch = static_cast<std::size_t>(r % c);
      const T m = mean[ch], s = mul[ch], a = add[ch];
      const T* xr = x + r * plane;
      T* yr = yd + r * plane;
      // (x - mean) first: no cancellation when the mean is large against the spread.
      for (std::int64_t i = 0; i < plane; ++i) yr[i] = (xr[i] - m) * s + a;
    }
  });
  return y;
}

std::vector<Array> batch_norm(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  if (x.rank() < 2) ctx.fail("input of shape " + shape_string(x.shape()) + " has no channel axis");
  // Optional outputs the node lists as "" stay empty.
  std::vector<Array> out(std::max<std::size_t>(1, ctx.node().outputs.size()));
  switch (x.type()) {
    case DType::F32:
      out[0] = batch_norm_typed<float>(ctx, x, in);
      break;
    case DType::F64:
      out[0] = batch_norm_typed<double>(ctx, x, in);
      break;
    default:
      unsupported_type(ctx, x, "F32 and F64");
  }
  return out;
}

// ---- LayerNormalization ----------------------------------------------------------------------

// For each element of a block of shape `block`, the index into `a` under unidirectional
// (numpy) broadcasting of a to block; fails when a does not broadcast.
std::vector<std::int64_t> broadcast_map(const NodeContext& ctx, const Array& a, const std::vector<std::int64_t>& block,
                                        const char* what) {
  const auto bad = [&] {
    ctx.fail(std::string(what) + " of shape " + shape_string(a.shape()) + " does not broadcast to " +
             shape_string(block));
  };
  if (a.rank() > block.size()) {
    // Leading 1s beyond the block are harmless.
    for (std::size_t d = 0; d < a.rank() - block.size(); ++d)
      if (a.dim(d) != 1) bad();
  }
  const std::size_t skip = a.rank() > block.size() ? a.rank() - block.size() : 0;
  const std::size_t lead = block.size() - (a.rank() - skip);
  std::vector<std::int64_t> stride(block.size(), 0);
  std::int64_t s = 1;
  for (std::size_t d = block.size(); d-- > lead;) {
    const std::int64_t ad = a.dim(d - lead + skip);
    if (ad != block[d] && ad != 1) bad();
    stride[d] = ad == 1 ? 0 : s;
    s *= ad;
  }
  const std::int64_t n = dims_product(block, 0, block.size());
  std::vector<std::int64_t> map(static_cast<std::size_t>(n));
  std::vector<std::int64_t> idx(block.size(), 0);
  std::int64_t at = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    map[static_cast<std::size_t>(i)] = at;
    for (std::size_t d = block.size(); d-- > 0;) {
      at += stride[d];
      if (++idx[d] < block[d]) break;
      at -= stride[d] * block[d];
      idx[d] = 0;
    }
  }
  return map;
}

void check_layer_norm(const NodeContext& ctx) {
  const std::int64_t st = ctx.attr_int("stash_type", 1);
  if (st != 1)
    ctx.unsupported("LayerNormalization with stash_type " + std::to_string(st) + " (only 1, float, is implemented)");
}

std::vector<Array> layer_norm(const NodeContext& ctx, Inputs in) {
  const Array& xa = *in[0];
  const Array* bias = in.size() > 2 ? in[2] : nullptr;
  const LayerNormPlan p = plan_layer_norm(ctx, in);
  Array y(DType::F32, xa.shape()), mean_out(DType::F32, p.stat_shape), inv_out(DType::F32, p.stat_shape);
  const float* x = xa.data<float>();
  const float* sc = in[1]->data<float>();
  const float* bi = bias ? bias->data<float>() : nullptr;
  float* yd = y.data<float>();
  float* md = mean_out.data<float>();
  float* id = inv_out.data<float>();
  const std::int64_t inner = p.inner;
  for_rows(ctx, p.outer, inner * 4, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const float* xr = x + r * inner;
      float* yr = yd + r * inner;
      float m, inv;
      layer_norm_stats(xr, inner, p.eps, m, inv);
      md[r] = m;
      id[r] = inv;
      for (std::int64_t i = 0; i < inner; ++i) {
        const auto u = static_cast<std::size_t>(i);
        yr[i] = (xr[i] - m) * inv * sc[p.smap[u]] + (bi ? bi[p.bmap[u]] : 0.0f);
      }
    }
  });
  return {y, mean_out, inv_out};
}

// ---- Softmax, LogSoftmax ---------------------------------------------------------------------

// Before opset 13 the input is flattened to 2-D at axis (default 1) and normalised over the
// second dimension; from opset 13 it is normalised along axis (default -1).
template <bool Log>
std::vector<Array> softmax(const NodeContext& ctx, Inputs in) {
  const Array& xa = *in[0];
  const auto [outer, len, inner] = softmax_layout(ctx, xa);
  Array y(DType::F32, xa.shape());
  const float* x = xa.data<float>();
  float* yd = y.data<float>();
  for_rows(ctx, outer, len * inner * 8, [&](std::int64_t b, std::int64_t e) {
    std::vector<float> mx(static_cast<std::size_t>(inner));
    std::vector<double> sum(static_cast<std::size_t>(inner));
    for (std::int64_t r = b; r < e; ++r) {
      const float* xr = x + r * len * inner;
      float* yr = yd + r * len * inner;
      std::fill(mx.begin(), mx.end(), -std::numeric_limits<float>::infinity());
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::int64_t j = 0; j < len; ++j)
        for (std::int64_t i = 0; i < inner; ++i)
          mx[static_cast<std::size_t>(i)] = std::max(mx[static_cast<std::size_t>(i)], xr[j * inner + i]);
      for (std::int64_t j = 0; j < len; ++j)
        for (std::int64_t i = 0; i < inner; ++i) {
          const float ex = std::exp(xr[j * inner + i] - mx[static_cast<std::size_t>(i)]);
          sum[static_cast<std::size_t>(i)] += ex;
          if constexpr (!Log) yr[j * inner + i] = ex;
        }
      for (std::int64_t i = 0; i < inner; ++i) {
        const auto u = static_cast<std::size_t>(i);
        if constexpr (Log) {
          // (x - max) first: max + log(sum) would round away log(sum)'s digits for large x.
          const auto log_sum = static_cast<float>(std::log(sum[u]));
          for (std::int64_t j = 0; j < len; ++j) yr[j * inner + i] = (xr[j * inner + i] - mx[u]) - log_sum;
        } else {
          const auto inv = static_cast<float>(1.0 / sum[u]);
          for (std::int64_t j = 0; j < len; ++j) yr[j * inner + i] *= inv;
        }
      }
    }
  });
  return {y};
}

// ---- ReduceMean, ReduceSum -------------------------------------------------------------------

void check_reduce(const NodeContext& ctx) {
  const std::int64_t keep = ctx.attr_int("keepdims", 1);
  if (keep != 0 && keep != 1) ctx.fail("keepdims is " + std::to_string(keep) + ", not 0 or 1");
  const std::int64_t noop = ctx.attr_int("noop_with_empty_axes", 0);
  if (noop != 0 && noop != 1) ctx.fail("noop_with_empty_axes is " + std::to_string(noop) + ", not 0 or 1");
  if (ctx.node().op_type == "ReduceSum" && ctx.opset() >= 13 && ctx.has("axes"))
    ctx.fail("axes is an input, not an attribute, from opset 13");
}

template <class T, bool Mean>
Array reduce_typed(const Array& xa, const std::vector<bool>& reduced, bool keepdims) {
  const std::size_t rank = xa.rank();
  std::vector<std::int64_t> out_shape;
  for (std::size_t d = 0; d < rank; ++d) {
    if (!reduced[d] || keepdims) out_shape.push_back(reduced[d] ? 1 : xa.dim(d));
  }
  Array y(xa.type(), out_shape);
  // Merge neighbouring axes of the same kind: the loops below then see alternating groups.
  std::vector<std::int64_t> dims;
  std::vector<bool> red;
  for (std::size_t d = 0; d < rank; ++d) {
    if (xa.dim(d) == 1) continue;
    if (!dims.empty() && red.back() == reduced[d])
      dims.back() *= xa.dim(d);
    else {
      dims.push_back(xa.dim(d));
      red.push_back(reduced[d]);
    }
  }
  // Output stride of each merged axis (0 for reduced ones).
  std::vector<std::int64_t> ostride(dims.size(), 0);
  std::int64_t s = 1;
  for (std::size_t d = dims.size(); d-- > 0;)
    if (!red[d]) {
      ostride[d] = s;
      s *= dims[d];
    }
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
  std::vector<Acc> acc(static_cast<std::size_t>(y.size()), Acc(0));
  const T* x = xa.data<T>();
  const std::int64_t n = xa.size();
  const std::int64_t inner = dims.empty() ? 1 : dims.back();
  const bool inner_reduced = !dims.empty() && red.back();
  std::vector<std::int64_t> idx(dims.size(), 0);
  std::int64_t at = 0;
  for (std::int64_t i = 0; i < n; i += inner) {
    const T* xr = x + i;
    if (inner_reduced) {
      Acc t = 0;
      for (std::int64_t j = 0; j < inner; ++j) t += static_cast<Acc>(xr[j]);
      acc[static_cast<std::size_t>(at)] += t;
    } else {
      Acc* ar = acc.data() + at;
      for (std::int64_t j = 0; j < inner; ++j) ar[j] += static_cast<Acc>(xr[j]);
    }
    for (std::size_t d = dims.size() - (dims.empty() ? 0 : 1); d-- > 0;) {  // the outer merged axes
      at += ostride[d];
      if (++idx[d] < dims[d]) break;
      at -= ostride[d] * dims[d];
      idx[d] = 0;
    }
  }
  const std::int64_t count = y.size() == 0 ? 0 : n / y.size();
  T* yd = y.data<T>();
  for (std::int64_t i = 0; i < y.size(); ++i) {
    const Acc v = acc[static_cast<std::size_t>(i)];
    if constexpr (!Mean)
      yd[i] = static_cast<T>(v);
    else if constexpr (std::is_floating_point_v<T>)
      yd[i] = static_cast<T>(static_cast<double>(v) / static_cast<double>(count));  // 0 / 0 is NaN
    else
      yd[i] = count > 0 ? static_cast<T>(v / count) : T(0);
  }
  return y;
}

template <bool Mean>
std::vector<Array> reduce(const NodeContext& ctx, Inputs in) {
  const Array& xa = *in[0];
  const auto axes = reduced_axes(ctx, in);
  if (!axes) return {xa};
  const std::vector<bool>& reduced = *axes;
  const bool keepdims = ctx.attr_int("keepdims", 1) == 1;
  switch (xa.type()) {
    case DType::F32:
      return {reduce_typed<float, Mean>(xa, reduced, keepdims)};
    case DType::F64:
      return {reduce_typed<double, Mean>(xa, reduced, keepdims)};
    case DType::I32:
      return {reduce_typed<std::int32_t, Mean>(xa, reduced, keepdims)};
    case DType::I64:
      return {reduce_typed<std::int64_t, Mean>(xa, reduced, keepdims)};
    default:
      unsupported_type(ctx, xa, "F32, F64, I32 and I64");
  }
}

}  // namespace

LayerNormPlan plan_layer_norm(const NodeContext& ctx, Inputs in) {
  const Array& xa = *in[0];
  const Array& scale = *in[1];
  const Array* bias = in.size() > 2 ? in[2] : nullptr;
  if (xa.type() != DType::F32) unsupported_type(ctx, xa, "F32");
  if (scale.type() != DType::F32) unsupported_type(ctx, scale, "F32");
  if (bias && bias->type() != DType::F32) unsupported_type(ctx, *bias, "F32");
  if (xa.rank() == 0) ctx.fail("input is a scalar");
  LayerNormPlan p;
  p.axis = normalize_axis(ctx, ctx.attr_int("axis", -1), xa.rank());
  const std::vector<std::int64_t> block(xa.shape().begin() + static_cast<std::ptrdiff_t>(p.axis), xa.shape().end());
  p.outer = dims_product(xa.shape(), 0, p.axis);
  p.inner = dims_product(xa.shape(), p.axis, xa.rank());
  p.smap = broadcast_map(ctx, scale, block, "Scale");
  if (bias) p.bmap = broadcast_map(ctx, *bias, block, "B");
  p.eps = ctx.attr_float("epsilon", 1e-5f);
  p.stat_shape.assign(xa.shape().begin(), xa.shape().begin() + static_cast<std::ptrdiff_t>(p.axis));
  p.stat_shape.resize(xa.rank(), 1);
  return p;
}

void layer_norm_stats(const float* row, std::int64_t inner, float eps, float& mean, float& inv) {
  double sum = 0;
  for (std::int64_t i = 0; i < inner; ++i) sum += row[i];
  const double mu = inner > 0 ? sum / static_cast<double>(inner) : 0.0;
  double sq = 0;
  for (std::int64_t i = 0; i < inner; ++i) sq += (row[i] - mu) * (row[i] - mu);
  const double var = inner > 0 ? sq / static_cast<double>(inner) : 0.0;
  inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
  mean = static_cast<float>(mu);
}

// Before opset 13 the input is flattened to 2-D at axis (default 1) and normalised over the
// second dimension; from opset 13 it is normalised along axis (default -1).
SoftmaxLayout softmax_layout(const NodeContext& ctx, const Array& x) {
  if (x.type() != DType::F32) unsupported_type(ctx, x, "F32");
  if (x.rank() == 0) ctx.fail("input is a scalar");
  const bool legacy = ctx.opset() < 13;
  const std::size_t axis = normalize_axis(ctx, ctx.attr_int("axis", legacy ? 1 : -1), x.rank());
  return {dims_product(x.shape(), 0, axis), legacy ? dims_product(x.shape(), axis, x.rank()) : x.dim(axis),
          legacy ? 1 : dims_product(x.shape(), axis + 1, x.rank())};
}

template <class T>
BatchNormChannels<T> batch_norm_channels(const NodeContext& ctx, const Array& x, Inputs in) {
  if (x.rank() < 2) ctx.fail("input of shape " + shape_string(x.shape()) + " has no channel axis");
  const std::int64_t c = x.dim(1);
  const char* names[] = {"scale", "B", "mean", "var"};
  std::vector<Array> p;
  for (std::size_t i = 0; i < 4; ++i) {
    const Array& a = *in[i + 1];
    if (a.size() != c || a.rank() != 1)
      ctx.fail(std::string(names[i]) + " of shape " + shape_string(a.shape()) + " does not have the input's " +
               std::to_string(c) + " channels");
    if (a.type() != DType::F32 && a.type() != DType::F64) unsupported_type(ctx, a, "F32 and F64");
    p.push_back(a.cast(x.type()));
  }
  const auto eps = static_cast<T>(ctx.attr_float("epsilon", 1e-5f));
  BatchNormChannels<T> ch;
  for (std::int64_t j = 0; j < c; ++j) {
    const T scale = p[0].data<T>()[j], var = p[3].data<T>()[j];
    ch.scale.push_back(scale);
    ch.rstd.push_back(T(1) / std::sqrt(var + eps));
    ch.mul.push_back(scale / std::sqrt(var + eps));
    ch.mean.push_back(p[2].data<T>()[j]);
    ch.add.push_back(p[1].data<T>()[j]);
  }
  return ch;
}
template BatchNormChannels<float> batch_norm_channels(const NodeContext&, const Array&, Inputs);
template BatchNormChannels<double> batch_norm_channels(const NodeContext&, const Array&, Inputs);

std::optional<std::vector<bool>> reduced_axes(const NodeContext& ctx, Inputs in) {
  const Array& xa = *in[0];
  std::vector<std::int64_t> axes;
  // ReduceSum takes its axes as an input from opset 13 (ReduceMean from 18, beyond the engine).
  const bool axes_input = ctx.node().op_type == "ReduceSum" && ctx.opset() >= 13;
  if (axes_input) {
    if (in.size() > 1 && in[1]) axes = int_values(ctx, *in[1], "axes");
  } else {
    axes = ctx.attr_ints("axes");
  }
  if (axes.empty() && axes_input && ctx.attr_int("noop_with_empty_axes", 0) == 1) return std::nullopt;
  std::vector<bool> reduced(xa.rank(), axes.empty());
  for (const std::int64_t a : axes) {
    const std::size_t d = normalize_axis(ctx, a, xa.rank(), "axes entry");
    if (reduced[d]) ctx.fail("axes " + shape_string(axes) + " names an axis twice");
    reduced[d] = true;
  }
  return reduced;
}

void add_norm_ops(OpRegistry& r) {
  r.add({"BatchNormalization", 5, 5, batch_norm, check_batch_norm, batch_norm_backward});
  r.add({"LayerNormalization", 2, 3, layer_norm, check_layer_norm, layer_norm_backward});
  r.add({"Softmax", 1, 1, softmax<false>, nullptr, softmax_backward});
  r.add({"LogSoftmax", 1, 1, softmax<true>, nullptr, log_softmax_backward});
  r.add({"ReduceMean", 1, 1, reduce<true>, check_reduce, reduce_mean_backward});
  r.add({"ReduceSum", 1, 2, reduce<false>, check_reduce, reduce_sum_backward});
}

}  // namespace paramscope::engine
