#include "engine/kernels/im2col.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

namespace paramscope::engine::kernels {
namespace {

std::int64_t product(const std::vector<std::int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::int64_t{1}, std::multiplies<>());
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Calls row(c, k_index, out_row_start, in_offset_or_-1, off) for each row of the innermost
// spatial axis: channel c, kernel offset (multi-index flattened as k_index), the output
// positions of all outer axes (flattened as out_row_start, a multiple of out.back()), and the
// input offset of that row's outer coordinates (-1 when an outer coordinate is in the padding).
// off is the innermost axis's input coordinate of output 0 for this kernel offset.
template <class Row>
void for_each_row(const ConvGeometry& g, Row&& row) {
  const std::size_t n = g.in.size();
  const std::size_t last = n - 1;
  const std::int64_t ksize = g.kernel_size();
  const std::int64_t in_w = g.in[last], out_w = g.out[last];
  const std::int64_t rows = g.out_size() / std::max<std::int64_t>(out_w, 1);
  std::vector<std::int64_t> k(n, 0), o(n, 0);
  for (std::int64_t c = 0; c < g.channels; ++c) {
    std::fill(k.begin(), k.end(), 0);
    for (std::int64_t ki = 0; ki < ksize; ++ki) {
      std::fill(o.begin(), o.end(), 0);
      for (std::int64_t r = 0; r < rows; ++r) {
        std::int64_t in_off = c;
        for (std::size_t d = 0; d < last; ++d) {
          const std::int64_t i = o[d] * g.stride[d] + k[d] * g.dilation[d] - g.pad[d];
          if (i < 0 || i >= g.in[d]) {
            in_off = -1;
            break;
          }
          in_off = in_off * g.in[d] + i;
        }
        if (in_off >= 0) in_off *= in_w;
        row(c * ksize + ki, r * out_w, in_off, k[last] * g.dilation[last] - g.pad[last]);
        for (std::size_t d = last; d-- > 0;)  // next outer output position
          if (++o[d] < g.out[d])
            break;
          else
            o[d] = 0;
      }
      for (std::size_t d = n; d-- > 0;)  // next kernel offset
        if (++k[d] < g.kernel[d])
          break;
        else
          k[d] = 0;
    }
  }
}

// Output positions o of the innermost axis whose input coordinate o * stride + off lies in [0, w).
void valid_range(std::int64_t off, std::int64_t stride, std::int64_t w, std::int64_t out_w, std::int64_t& lo,
                 std::int64_t& hi) {
  lo = std::clamp<std::int64_t>(floor_div(-off + stride - 1, stride), 0, out_w);
  hi = std::min<std::int64_t>(out_w, floor_div(w - 1 - off, stride) + 1);
  if (hi < lo) hi = lo;
}

}  // namespace

std::int64_t ConvGeometry::in_size() const noexcept {
  return product(in);
}
std::int64_t ConvGeometry::out_size() const noexcept {
  return product(out);
}
std::int64_t ConvGeometry::kernel_size() const noexcept {
  return product(kernel);
}

bool ConvGeometry::is_pointwise() const noexcept {
  for (std::size_t d = 0; d < in.size(); ++d)
    if (kernel[d] != 1 || stride[d] != 1 || pad[d] != 0 || out[d] != in[d]) return false;
  return true;
}

namespace {

// im2col over two spatial axes: the valid output range of each kernel offset is found once per
// offset rather than once per output row, which matters for small images (8 x 8 outputs).
// Small planes are first copied into a zero-bordered plane, after which every column row is a
// plain strided copy with no range checks (the digits CNN's rows are 8 wide: per-row range
// checks and fills cost more than the copy).
constexpr std::int64_t kPaddedMax = 16384;

bool im2col_2d_padded(const ConvGeometry& g, const float* x, float* cols, std::int64_t row_stride) {
  const std::int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
  const std::int64_t sh = g.stride[0], sw = g.stride[1], dh = g.dilation[0], dw = g.dilation[1];
  const std::int64_t ph = g.pad[0], pw = g.pad[1];
  // The padded plane covers every input coordinate an output reads, inside or outside.
  const std::int64_t hp = std::max(ph + ih, (oh - 1) * sh + (g.kernel[0] - 1) * dh + 1);
  const std::int64_t wp = std::max(pw + iw, (ow - 1) * sw + (g.kernel[1] - 1) * dw + 1);
  if (ph < 0 || pw < 0 || hp * wp > kPaddedMax) return false;
  thread_local std::vector<float> plane;
  plane.assign(static_cast<std::size_t>(hp * wp), 0.0f);
  float* dst = cols;
  for (std::int64_t c = 0; c < g.channels; ++c) {
    const float* xc = x + c * ih * iw;
    for (std::int64_t r = 0; r < ih; ++r) std::copy_n(xc + r * iw, iw, plane.data() + (r + ph) * wp + pw);
    for (std::int64_t ki = 0; ki < g.kernel[0]; ++ki)
      for (std::int64_t kj = 0; kj < g.kernel[1]; ++kj, dst += row_stride) {
        const float* src = plane.data() + ki * dh * wp + kj * dw;
        for (std::int64_t r = 0; r < oh; ++r) {
          const float* sr = src + r * sh * wp;
          float* d = dst + r * ow;
          if (sw == 1)
            for (std::int64_t o = 0; o < ow; ++o) d[o] = sr[o];
          else
            for (std::int64_t o = 0; o < ow; ++o) d[o] = sr[o * sw];
        }
      }
  }
  return true;
}

// The rows of a column matrix over two axes, in order: f(c, row, base, lo_h, hi_h, lo_w, hi_w)
// for channel c's plane, kernel offset row (ki, kj), with the output rows [lo_h, hi_h) and
// columns [lo_w, hi_w) whose input lies inside; output (r, o) reads input base(r) + o * stride.
template <class F>
void for_each_offset_2d(const ConvGeometry& g, F&& f) {
  const std::int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
  std::int64_t row = 0;
  for (std::int64_t c = 0; c < g.channels; ++c)
    for (std::int64_t ki = 0; ki < g.kernel[0]; ++ki) {
      const std::int64_t off_h = ki * g.dilation[0] - g.pad[0];
      std::int64_t lo_h, hi_h;
      valid_range(off_h, g.stride[0], ih, oh, lo_h, hi_h);
      for (std::int64_t kj = 0; kj < g.kernel[1]; ++kj, ++row) {
        const std::int64_t off_w = kj * g.dilation[1] - g.pad[1];
        std::int64_t lo_w, hi_w;
        valid_range(off_w, g.stride[1], iw, ow, lo_w, hi_w);
        const auto base = [&](std::int64_t r) { return c * ih * iw + (r * g.stride[0] + off_h) * iw + off_w; };
        f(row, base, lo_h, hi_h, lo_w, hi_w);
      }
    }
}

void im2col_2d(const ConvGeometry& g, const float* x, float* cols, std::int64_t row_stride) {
  if (im2col_2d_padded(g, x, cols, row_stride)) return;
  const std::int64_t oh = g.out[0], ow = g.out[1], sw = g.stride[1];
  for_each_offset_2d(
      g, [&](std::int64_t row, auto base, std::int64_t lo_h, std::int64_t hi_h, std::int64_t lo_w, std::int64_t hi_w) {
        float* dst = cols + row * row_stride;
        std::fill(dst, dst + lo_h * ow, 0.0f);
        for (std::int64_t r = lo_h; r < hi_h; ++r) {
          float* d = dst + r * ow;
          const std::int64_t b = base(r);
          std::fill(d, d + lo_w, 0.0f);
          if (sw == 1)
            for (std::int64_t o = lo_w; o < hi_w; ++o) d[o] = x[b + o];
          else
            for (std::int64_t o = lo_w; o < hi_w; ++o) d[o] = x[b + o * sw];
          std::fill(d + hi_w, d + ow, 0.0f);
        }
        std::fill(dst + hi_h * ow, dst + oh * ow, 0.0f);
      });
}

void col2im_2d(const ConvGeometry& g, const float* cols, float* x, std::int64_t row_stride) {
  const std::int64_t ow = g.out[1], sw = g.stride[1];
  for_each_offset_2d(
      g, [&](std::int64_t row, auto base, std::int64_t lo_h, std::int64_t hi_h, std::int64_t lo_w, std::int64_t hi_w) {
        for (std::int64_t r = lo_h; r < hi_h; ++r) {
          const float* s = cols + row * row_stride + r * ow;
          const std::int64_t b = base(r);
          for (std::int64_t o = lo_w; o < hi_w; ++o) x[b + o * sw] += s[o];
        }
      });
}

}  // namespace

void im2col(const ConvGeometry& g, const float* x, float* cols, std::int64_t ld) {
  if (g.in.size() == 2) {
    im2col_2d(g, x, cols, ld > 0 ? ld : g.out_size());
    return;
  }
  const std::size_t last = g.in.size() - 1;
  const std::int64_t out_w = g.out[last], in_w = g.in[last], s = g.stride[last];
  const std::int64_t row_stride = ld > 0 ? ld : g.out_size();
  for_each_row(g, [&](std::int64_t crow, std::int64_t ostart, std::int64_t in_off, std::int64_t off) {
    float* dst = cols + crow * row_stride + ostart;
    if (in_off < 0) {
      std::fill(dst, dst + out_w, 0.0f);
      return;
    }
    std::int64_t lo, hi;
    valid_range(off, s, in_w, out_w, lo, hi);
    std::fill(dst, dst + lo, 0.0f);
    const std::int64_t base = in_off + off;  // input index of output 0 (may lie before the row)
    if (s == 1)
      std::memcpy(dst + lo, x + base + lo, static_cast<std::size_t>(hi - lo) * sizeof(float));
    else
      for (std::int64_t o = lo; o < hi; ++o) dst[o] = x[base + o * s];
    std::fill(dst + hi, dst + out_w, 0.0f);
  });
}

void col2im(const ConvGeometry& g, const float* cols, float* x, std::int64_t ld) {
  if (g.in.size() == 2) {
    col2im_2d(g, cols, x, ld > 0 ? ld : g.out_size());
    return;
  }
  const std::size_t last = g.in.size() - 1;
  const std::int64_t out_w = g.out[last], in_w = g.in[last], s = g.stride[last];
  const std::int64_t row_stride = ld > 0 ? ld : g.out_size();
  for_each_row(g, [&](std::int64_t crow, std::int64_t ostart, std::int64_t in_off, std::int64_t off) {
    if (in_off < 0) return;
    const float* src = cols + crow * row_stride + ostart;
    std::int64_t lo, hi;
    valid_range(off, s, in_w, out_w, lo, hi);
    const std::int64_t base = in_off + off;
    for (std::int64_t o = lo; o < hi; ++o) x[base + o * s] += src[o];
  });
}

}  // namespace paramscope::engine::kernels
