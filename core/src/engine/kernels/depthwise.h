// Depthwise convolution (one input channel per group) computed directly: each output plane is a
// few shifted, scaled copies of one input plane. Through im2col it would be a 1 x 9 by 9 x
// positions product after copying the input nine times, at a tenth of the matrix kernels' speed.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/kernels/im2col.h"

namespace paramscope::engine::kernels {

/// One channel's geometry over two spatial axes (a 1-D convolution is a 2-D one of height 1).
struct Plane2 {
  std::int64_t in_h, in_w, out_h, out_w;
  std::int64_t k_h, k_w, s_h, s_w, d_h, d_w, p_h, p_w;
};

/// The plane geometry of g when it has one input channel per group and one or two spatial axes;
/// nothing otherwise.
std::optional<Plane2> depthwise_plane(const ConvGeometry& g);

/// y (out_h x out_w) = bias + the correlation of x (in_h x in_w, zero outside) with w (k_h x
/// k_w). y is overwritten.
void depthwise_forward(const Plane2& g, const float* x, const float* w, float bias, float* y);

/// The adjoints for output gradient dy: dx += (dy correlated back through w) where dx is not
/// nullptr, dw += (dy correlated with x) where dw is not nullptr.
void depthwise_backward(const Plane2& g, const float* x, const float* w, const float* dy, float* dx, float* dw);

}  // namespace paramscope::engine::kernels
