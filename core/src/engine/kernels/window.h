// The sliding-window attributes Conv, ConvTranspose and the pooling operators share
// (kernel_shape, strides, dilations, pads, auto_pad), checked once when a model is loaded and
// resolved against the spatial sizes a run meets.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/op_registry.h"

namespace paramscope::engine::kernels {

enum class AutoPad : std::uint8_t { NotSet, SameUpper, SameLower, Valid };

struct WindowAttrs {
  AutoPad auto_pad = AutoPad::NotSet;
  /// As the node gives them; empty when absent (kernel_shape then comes from the weights).
  std::vector<std::int64_t> kernel, strides, dilations, pads;
};

/// Reads and checks the attributes: auto_pad one of the four values; every list of a length
/// that fits the others (pads twice as long); kernel sizes, strides and dilations positive;
/// pads not negative. Fails through ctx.
WindowAttrs read_window(const NodeContext& ctx);

/// A window resolved for one input: every vector has one entry per spatial axis.
struct Window {
  std::vector<std::int64_t> kernel, stride, dilation, pad_begin, pad_end, out;
};

/// Output sizes and padding for spatial input sizes `in` and kernel sizes `kernel` (the
/// attribute's, or the weights' for Conv), as ONNX's Conv and pooling operators define them:
/// explicit pads, SAME_UPPER / SAME_LOWER (out = ceil(in / stride), the odd padding unit at the
/// end / start) or VALID (no padding). ceil_mode rounds the output size up, but no window may
/// start in the end padding (as PyTorch). Fails through ctx when the input is smaller than the
/// dilated kernel or the attribute lists do not match the input's rank.
Window resolve_window(const NodeContext& ctx, const WindowAttrs& a, std::span<const std::int64_t> in,
                      std::span<const std::int64_t> kernel, bool ceil_mode);

}  // namespace paramscope::engine::kernels
