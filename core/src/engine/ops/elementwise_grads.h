// Backward rules (vector-Jacobian products) of the element-wise operators, registered beside
// their forward kernels in elementwise_ops.cpp.
#pragma once

#include "engine/op_registry.h"

namespace paramscope::engine {

Grads add_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads sub_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads mul_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads div_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads pow_backward(const NodeContext& ctx, const BackwardArgs& a);

Grads sqrt_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads exp_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads log_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads tanh_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads erf_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads sigmoid_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads hard_swish_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads neg_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads abs_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads relu_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads leaky_relu_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads hard_sigmoid_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads gelu_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads clip_backward(const NodeContext& ctx, const BackwardArgs& a);
Grads where_backward(const NodeContext& ctx, const BackwardArgs& a);

}  // namespace paramscope::engine
