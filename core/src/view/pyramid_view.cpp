// TensorPyramid::view(): a screen-sized image of any window of the matrix, from the coarsest
// level that still has a cell per pixel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "paramscope/error.h"
#include "paramscope/pyramid.h"
#include "view/block_kernels.h"
#include "view/block_reduce.h"
#include "view/pyramid_impl.h"

namespace paramscope {
namespace {

using detail::cells_at;

constexpr int kMaxPixels = 16384;

// Which cells of one axis each output pixel reduces: pixel i takes cells [lo[i], hi[i]).
struct AxisCells {
  std::vector<std::int64_t> lo, hi;
  std::vector<double> weight;  // elements of the block behind cell (first + k), for means
  std::int64_t first = 0, last = 0;  // all cells used lie in [first, last)
};

// Pixel i covers [b + (e - b) i / n, b + (e - b) (i + 1) / n) of level-0 coordinates. It takes the
// cells whose centres fall in that interval, so the cells are shared out among pixels without
// gaps or overlaps; the last cell's centre is that of its clipped block, so edge elements are
// never lost. A pixel that holds no centre (magnified) takes the cell under its own centre.
AxisCells map_axis(double b, double e, int n, int level, std::int64_t extent) {
  const double size = std::ldexp(1.0, level);
  const std::int64_t cells = cells_at(extent, level);
  const double last_centre = (static_cast<double>(cells - 1) * size + static_cast<double>(extent)) / 2;
  // The smallest cell whose centre is >= x (cells if none).
  auto first_at_least = [&](double x) -> std::int64_t {
    const double k = std::ceil(x / size - 0.5);
    if (k <= 0) return 0;
    if (k < static_cast<double>(cells - 1)) return static_cast<std::int64_t>(k);
    return last_centre >= x ? cells - 1 : cells;
  };
  AxisCells a;
  a.lo.resize(static_cast<std::size_t>(n));
  a.hi.resize(static_cast<std::size_t>(n));
  a.first = cells;
  for (int i = 0; i < n; ++i) {
    const double x0 = b + (e - b) * i / n, x1 = b + (e - b) * (i + 1) / n;
    std::int64_t lo = first_at_least(x0), hi = first_at_least(x1);
    if (lo >= hi) {
      const double mid = (x0 + x1) / 2;
      if (mid >= 0 && mid < static_cast<double>(extent)) {
        lo = std::min(static_cast<std::int64_t>(mid / size), cells - 1);
        hi = lo + 1;
      } else {
        lo = hi = 0;  // outside the matrix
      }
    }
    a.lo[static_cast<std::size_t>(i)] = lo;
    a.hi[static_cast<std::size_t>(i)] = hi;
    if (lo < hi) {
      a.first = std::min(a.first, lo);
      a.last = std::max(a.last, hi);
    }
  }
  if (a.first >= a.last) a.first = a.last = 0;
  const auto block = static_cast<std::int64_t>(size);
  for (std::int64_t k = a.first; k < a.last; ++k)
    a.weight.push_back(static_cast<double>(std::min(block, extent - k * block)));
  return a;
}

int floor_log2(double s) {
  int level = 0;
  while (level < 62 && std::ldexp(1.0, level + 1) <= s) ++level;
  return level;
}

}  // namespace

int TensorPyramid::view_level(double row_begin, double row_end, double col_begin, double col_end, int out_w,
                              int out_h) const noexcept {
  int level = impl_->levels - 1;
  if (impl_->rows > 1) level = std::min(level, floor_log2((row_end - row_begin) / std::max(out_h, 1)));
  if (impl_->cols > 1) level = std::min(level, floor_log2((col_end - col_begin) / std::max(out_w, 1)));
  return std::max(level, 0);
}

std::vector<float> TensorPyramid::view(double row_begin, double row_end, double col_begin, double col_end, int out_w,
                                       int out_h, PyramidReduction reduction) const {
  if (out_w < 1 || out_h < 1 || out_w > kMaxPixels || out_h > kMaxPixels)
    throw usage_error("heatmap image size " + std::to_string(out_w) + " x " + std::to_string(out_h) +
                      " is outside 1..16384");
  if (!(row_end > row_begin) || !(col_end > col_begin) || !std::isfinite(row_end - row_begin) ||
      !std::isfinite(col_end - col_begin))
    throw usage_error("heatmap window rows [" + std::to_string(row_begin) + ", " + std::to_string(row_end) +
                      ") x cols [" + std::to_string(col_begin) + ", " + std::to_string(col_end) + ") is empty");
  const int level = view_level(row_begin, row_end, col_begin, col_end, out_w, out_h);
  if (level > 0 && !has(reduction))
    throw usage_error(std::string("this pyramid has no ") + (reduction == PyramidReduction::Mean ? "mean" : "max-abs") +
                      " levels");

  const AxisCells r = map_axis(row_begin, row_end, out_h, level, impl_->rows);
  const AxisCells c = map_axis(col_begin, col_end, out_w, level, impl_->cols);
  std::vector<float> out(static_cast<std::size_t>(out_w) * static_cast<std::size_t>(out_h),
                         std::numeric_limits<float>::quiet_NaN());
  if (r.first == r.last || c.first == c.last) return out;

  // The cells the window needs: read from the source at level 0, in place above.
  const std::int64_t stride_all = level_cols(level);
  std::vector<float> read;
  const float* cells = nullptr;
  std::int64_t stride = 0;
  if (level == 0) {
    read.resize(static_cast<std::size_t>((r.last - r.first) * (c.last - c.first)));
    impl_->read_level0(r.first, c.first, r.last - r.first, c.last - c.first, read.data());
    cells = read.data();
    stride = c.last - c.first;
  } else {
    cells = impl_->levels_of(reduction)[static_cast<std::size_t>(level - 1)].data() + r.first * stride_all + c.first;
    stride = stride_all;
  }

  // Per output line: the line's rows first reduced into one row of cells (a contiguous,
  // vectorisable pass), then each pixel's few cells of that row. The same reduction as over the
  // pixel's cells directly: max-abs is a maximum under a total order, and the mean's weights
  // factor into a row part and a column part.
  const bool mean = reduction == PyramidReduction::Mean;
  const std::int64_t width = c.last - c.first;
  std::vector<float> column(static_cast<std::size_t>(width));
  std::vector<double> sum(mean ? column.size() : 0), weight(sum.size());
  for (int i = 0; i < out_h; ++i) {
    const std::int64_t r0 = r.lo[static_cast<std::size_t>(i)], r1 = r.hi[static_cast<std::size_t>(i)];
    if (r0 >= r1) continue;
    float* line = out.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(out_w);
    const float* first_row = cells + (r0 - r.first) * stride;
    if (!mean) {
      std::copy_n(first_row, width, column.data());
      for (std::int64_t y = r0 + 1; y < r1; ++y)
        detail::max_abs_into(column.data(), cells + (y - r.first) * stride, column.size());
      for (int j = 0; j < out_w; ++j) {
        const std::int64_t c0 = c.lo[static_cast<std::size_t>(j)], c1 = c.hi[static_cast<std::size_t>(j)];
        if (c0 >= c1) continue;
        float v = std::numeric_limits<float>::quiet_NaN();
        for (std::int64_t x = c0 - c.first; x < c1 - c.first; ++x) v = detail::pick_max_abs(v, column[static_cast<std::size_t>(x)]);
        line[j] = v;
      }
    } else {
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(weight.begin(), weight.end(), 0.0);
      for (std::int64_t y = r0; y < r1; ++y)
        detail::add_weighted(cells + (y - r.first) * stride, nullptr, sum.size(),
                             r.weight[static_cast<std::size_t>(y - r.first)], sum.data(), weight.data());
      for (int j = 0; j < out_w; ++j) {
        const std::int64_t c0 = c.lo[static_cast<std::size_t>(j)], c1 = c.hi[static_cast<std::size_t>(j)];
        if (c0 >= c1) continue;
        double s = 0, n = 0;
        for (std::int64_t x = c0 - c.first; x < c1 - c.first; ++x) {
          const double wx = c.weight[static_cast<std::size_t>(x)];
          s += sum[static_cast<std::size_t>(x)] * wx;
          n += weight[static_cast<std::size_t>(x)] * wx;
        }
        if (n > 0) line[j] = static_cast<float>(s / n);
      }
    }
  }
  return out;
}

}  // namespace paramscope
