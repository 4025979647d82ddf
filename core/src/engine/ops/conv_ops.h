// What Conv's and ConvTranspose's forward passes (conv_ops.cpp) and their backward rules
// (conv_grads.cpp) share: the checked inputs and the geometry of one node on one input, and the
// ways the work is split over the pool.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kernels/im2col.h"
#include "engine/op_registry.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {

/// One Conv or ConvTranspose node on its inputs, checked.
struct ConvPlan {
  const Array* x = nullptr;
  const Array* w = nullptr;
  const Array* b = nullptr;                     ///< nullptr without bias
  std::int64_t n = 0, c = 0, m = 0, group = 1;  ///< images, input and output channels
  std::int64_t cg = 0, mg = 0;                  ///< input and output channels of one group
  /// Conv: the column matrix of X. ConvTranspose: col2im's view, whose "input" is Y and whose
  /// "output" positions are X's (channels = mg).
  kernels::ConvGeometry g;
  std::vector<std::int64_t> yshape;
};

/// Fail through ctx when the inputs and attributes do not fit the operator.
ConvPlan plan_conv(const NodeContext& ctx, Inputs in);
ConvPlan plan_conv_transpose(const NodeContext& ctx, Inputs in);

/// Runs task(t, split) for every image x group t: over the pool when there are enough of them
/// for it, otherwise in turn with split set (the task may then split its own work).
template <class Task>
void for_each_image_group(ThreadPool& pool, std::int64_t tasks, std::int64_t per_task_cost, Task&& task) {
  const bool outer = tasks >= pool.threads() && tasks * per_task_cost >= (std::int64_t{1} << 16);
  if (outer) {
    pool.parallel_for(static_cast<std::size_t>(tasks), 1, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) task(static_cast<std::int64_t>(t), false);
    });
  } else {
    for (std::int64_t t = 0; t < tasks; ++t) task(t, true);
  }
}

/// How many images' column matrices to multiply together (their columns side by side): more
/// than one when an image has few output positions (the digits CNN's 8 x 8), where one product
/// per image is too narrow for the matrix kernels' speed. k: rows of the column matrix.
std::int64_t images_per_block(std::int64_t images, std::int64_t positions, std::int64_t k);

/// im2col and col2im split over channel blocks on the pool when the column matrix is large
/// (each channel owns its rows of the column matrix and its plane of the image).
void parallel_im2col(ThreadPool& pool, const kernels::ConvGeometry& g, const float* x, float* cols);
void parallel_col2im(ThreadPool& pool, const kernels::ConvGeometry& g, const float* cols, float* x);

/// The backward rules (conv_grads.cpp).
Grads conv_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads conv_transpose_backward(const NodeContext& ctx, const BackwardArgs& a);

}  // namespace paramscope::engine
