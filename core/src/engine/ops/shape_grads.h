// Backward rules of the operators that move values (Reshape, Transpose, Slice, Gather...),
// registered beside their forward kernels in shape_ops.cpp.
#pragma once

#include "engine/op_registry.h"

namespace paramscope::engine {

/// Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout (inference): the gradient of
/// output 0 in input 0's shape.
Grads reshape_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads transpose_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads expand_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads concat_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads split_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads slice_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads gather_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads cast_backward(const NodeContext& ctx, const BackwardArgs& a);

}  // namespace paramscope::engine
