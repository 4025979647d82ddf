// What the normalisation and reduction operators' forward passes (norm_ops.cpp) and backward
// rules (norm_grads.cpp) share: how a node's attributes lay its input out, checked the same way.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/op_registry.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {

/// Product of s[from..to).
inline std::int64_t dims_product(const std::vector<std::int64_t>& s, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t d = from; d < to; ++d) p *= s[d];
  return p;
}

/// Runs body(begin, end) over [0, n) rows, split over the pool when the work is large.
template <class Body>
void for_rows(const NodeContext& ctx, std::int64_t n, std::int64_t row_cost, Body&& body) {
  if (n > 1 && n * row_cost >= (std::int64_t{1} << 15)) {
    const auto grain = static_cast<std::size_t>(
        std::max<std::int64_t>(1, (std::int64_t{1} << 13) / std::max<std::int64_t>(row_cost, 1)));
    ctx.pool().parallel_for(static_cast<std::size_t>(n), grain, [&](std::size_t b, std::size_t e) {
      body(static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
    });
  } else {
    body(0, n);
  }
}

/// BatchNormalization's per-channel values in the input's type T (F32 or F64), checked:
/// y = (x - mean) * mul + add with mul = scale / sqrt(var + epsilon) = scale * rstd.
template <class T>
struct BatchNormChannels {
  std::vector<T> scale, rstd, mul, mean, add;
};
template <class T>
BatchNormChannels<T> batch_norm_channels(const NodeContext& ctx, const Array& x, Inputs in);

/// LayerNormalization on one input: rows of `inner` elements (the axes from `axis` on), with,
/// for each element of a row, the index of its Scale and B values (numpy broadcasting).
struct LayerNormPlan {
  std::size_t axis = 0;
  std::int64_t outer = 0, inner = 0;
  std::vector<std::int64_t> smap, bmap;  // bmap empty without B
  std::vector<std::int64_t> stat_shape;  // Mean and InvStdDev: the leading axes, then 1s
  float eps = 1e-5f;
};
LayerNormPlan plan_layer_norm(const NodeContext& ctx, Inputs in);

/// The mean and 1 / sqrt(variance + eps) of one row, as the forward pass rounds them.
void layer_norm_stats(const float* row, std::int64_t inner, float eps, float& mean, float& inv);

/// Softmax and LogSoftmax normalise `len` values `inner` apart, in `outer` blocks.
struct SoftmaxLayout {
  std::int64_t outer = 0, len = 0, inner = 0;
};
SoftmaxLayout softmax_layout(const NodeContext& ctx, const Array& x);

/// ReduceMean / ReduceSum: which axes of x are reduced, or nullopt when the node is the identity
/// (empty axes with noop_with_empty_axes).
std::optional<std::vector<bool>> reduced_axes(const NodeContext& ctx, Inputs in);

// The backward rules (norm_grads.cpp).
Grads batch_norm_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads layer_norm_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads softmax_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads log_softmax_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads reduce_mean_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads reduce_sum_backward(const NodeContext& ctx, const BackwardArgs& a);

}  // namespace paramscope::engine
