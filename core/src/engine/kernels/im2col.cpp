#include "engine/kernels/im2col.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>

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

void im2col(const ConvGeometry& g, const float* x, float* cols) {
  const std::size_t last = g.in.size() - 1;
  const std::int64_t out_w = g.out[last], in_w = g.in[last], s = g.stride[last];
  const std::int64_t out_total = g.out_size();
  for_each_row(g, [&](std::int64_t crow, std::int64_t ostart, std::int64_t in_off, std::int64_t off) {
    float* dst = cols + crow * out_total + ostart;
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

void col2im(const ConvGeometry& g, const float* cols, float* x) {
  const std::size_t last = g.in.size() - 1;
  const std::int64_t out_w = g.out[last], in_w = g.in[last], s = g.stride[last];
  const std::int64_t out_total = g.out_size();
  for_each_row(g, [&](std::int64_t crow, std::int64_t ostart, std::int64_t in_off, std::int64_t off) {
    if (in_off < 0) return;
    const float* src = cols + crow * out_total + ostart;
    std::int64_t lo, hi;
    valid_range(off, s, in_w, out_w, lo, hi);
    const std::int64_t base = in_off + off;
    for (std::int64_t o = lo; o < hi; ++o) x[base + o * s] += src[o];
  });
}

}  // namespace paramscope::engine::kernels
