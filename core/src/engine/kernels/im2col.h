// The column matrix of a convolution: every input patch a kernel window sees, laid out so that
// a convolution is one matrix product. im2col feeds Conv's forward pass; col2im, its adjoint,
// feeds ConvTranspose's forward pass (and the gradient of Conv with respect to its input).
#pragma once

#include <cstdint>
#include <vector>

namespace paramscope::engine::kernels {

/// The geometry of a convolution over n spatial dimensions (all vectors have n entries).
struct ConvGeometry {
  std::int64_t channels = 0;                        ///< input channels of one group
  std::vector<std::int64_t> in, out, kernel;        ///< spatial sizes
  std::vector<std::int64_t> stride, dilation, pad;  ///< pad: padding at the start of each axis

  std::int64_t in_size() const noexcept;      ///< product of in
  std::int64_t out_size() const noexcept;     ///< product of out
  std::int64_t kernel_size() const noexcept;  ///< product of kernel
  /// True when the column matrix is the input itself (1x1 kernel, stride 1, no padding).
  bool is_pointwise() const noexcept;
};

/// cols (channels * kernel_size rows, out_size columns, row-major, rows ld apart; ld 0 means
/// out_size): row (c, k) holds, for each output position, the input value that kernel offset k
/// of channel c meets there (0 in the padding). x holds channels * in_size values. A larger ld
/// lays several images' columns side by side.
void im2col(const ConvGeometry& g, const float* x, float* cols, std::int64_t ld = 0);

/// The adjoint: adds every entry of cols to the input position it was read from (entries that
/// fall in the padding are dropped). x must be initialised (it is accumulated into).
void col2im(const ConvGeometry& g, const float* cols, float* x, std::int64_t ld = 0);

}  // namespace paramscope::engine::kernels
