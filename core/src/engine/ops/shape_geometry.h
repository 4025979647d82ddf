// What the shape operators work out from their attributes and inputs, shared by the forward
// kernels (shape_ops.cpp, where these are defined) and the backward rules (shape_grads.cpp), so
// that both read a node alike. Each fails as the forward kernel does.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/op_registry.h"
#include "engine/ops/strided_view.h"

namespace paramscope::engine {

/// Transpose's perm as axes in [0, rank) (reversed when the node sets none).
std::vector<std::size_t> transpose_axes(const NodeContext& ctx, std::size_t rank);

/// The view of input 0 that Slice outputs.
StridedView slice_view(const NodeContext& ctx, Inputs in);

/// Split's part sizes along `axis` of input 0, one per output of the node.
std::vector<std::int64_t> split_sizes(const NodeContext& ctx, Inputs in, std::size_t axis);

}  // namespace paramscope::engine
