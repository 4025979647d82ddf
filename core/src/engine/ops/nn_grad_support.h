// What the backward rules of the linear, convolution, pooling and normalisation operators share:
// which input gradients are wanted and dL/d(output) read with its shape checked.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "engine/op_registry.h"

namespace paramscope::engine {

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

}  // namespace paramscope::engine
