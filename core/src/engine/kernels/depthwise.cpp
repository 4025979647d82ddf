#include "engine/kernels/depthwise.h"

#include <algorithm>

namespace paramscope::engine::kernels {
namespace {

// Output columns [lo, hi) whose input column ow * s + off lies inside [0, in_w).
void valid_columns(const Plane2& g, std::int64_t off, std::int64_t& lo, std::int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + g.s_w - 1) / g.s_w;
  const std::int64_t last = g.in_w - 1 - off;  // largest ow * s allowed
  hi = last < 0 ? 0 : std::min(g.out_w, last / g.s_w + 1);
}

// Calls f(out_row, in_row, kernel_row) for every pair of output and input rows that meet.
template <class F>
void for_row_pairs(const Plane2& g, F&& f) {
  for (std::int64_t oh = 0; oh < g.out_h; ++oh)
    for (std::int64_t kh = 0; kh < g.k_h; ++kh) {
      const std::int64_t ih = oh * g.s_h - g.p_h + kh * g.d_h;
      if (ih >= 0 && ih < g.in_h) f(oh, ih, kh);
    }
}

}  // namespace

std::optional<Plane2> depthwise_plane(const ConvGeometry& g) {
  const std::size_t n = g.in.size();
  if (g.channels != 1 || n < 1 || n > 2) return std::nullopt;
  const std::size_t w = n - 1;  // the innermost axis
  Plane2 p{};
  p.in_w = g.in[w];
  p.out_w = g.out[w];
  p.k_w = g.kernel[w];
  p.s_w = g.stride[w];
  p.d_w = g.dilation[w];
  p.p_w = g.pad[w];
  if (n == 2) {
    p.in_h = g.in[0];
    p.out_h = g.out[0];
    p.k_h = g.kernel[0];
    p.s_h = g.stride[0];
    p.d_h = g.dilation[0];
    p.p_h = g.pad[0];
  } else {
    p.in_h = p.out_h = p.k_h = p.s_h = p.d_h = 1;
    p.p_h = 0;
  }
  return p;
}

void depthwise_forward(const Plane2& g, const float* x, const float* w, float bias, float* y) {
  std::fill(y, y + g.out_h * g.out_w, bias);
  for_row_pairs(g, [&](std::int64_t oh, std::int64_t ih, std::int64_t kh) {
    float* yr = y + oh * g.out_w;
    const float* xr = x + ih * g.in_w;
    for (std::int64_t kw = 0; kw < g.k_w; ++kw) {
      const float wv = w[kh * g.k_w + kw];
      const std::int64_t off = kw * g.d_w - g.p_w;
      std::int64_t lo = 0, hi = 0;
      valid_columns(g, off, lo, hi);
      if (g.s_w == 1) {
        const float* xs = xr + off;  // unit stride: a vectorised axpy
        for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xs[ow];
      } else {
        for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * g.s_w + off];
      }
    }
  });
}

void depthwise_backward(const Plane2& g, const float* x, const float* w, const float* dy, float* dx, float* dw) {
  for_row_pairs(g, [&](std::int64_t oh, std::int64_t ih, std::int64_t kh) {
    const float* dyr = dy + oh * g.out_w;
    const float* xr = x + ih * g.in_w;
    float* dxr = dx ? dx + ih * g.in_w : nullptr;
    for (std::int64_t kw = 0; kw < g.k_w; ++kw) {
      const std::int64_t off = kw * g.d_w - g.p_w, s = g.s_w;
      std::int64_t lo = 0, hi = 0;
      valid_columns(g, off, lo, hi);
      if (dxr) {
        const float wv = w[kh * g.k_w + kw];
        for (std::int64_t ow = lo; ow < hi; ++ow) dxr[ow * s + off] += wv * dyr[ow];
      }
      if (dw) {
        float sum = 0.0f;
        for (std::int64_t ow = lo; ow < hi; ++ow) sum += dyr[ow] * xr[ow * s + off];
        dw[kh * g.k_w + kw] += sum;
      }
    }
  });
}

}  // namespace paramscope::engine::kernels
