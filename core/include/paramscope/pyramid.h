// A multi-resolution pyramid of a tensor shown as a 2-D matrix, so that a heatmap of any size
// can be drawn at screen resolution in milliseconds and zoomed down to single weights.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "paramscope/jobs.h"
#include "paramscope/shape.h"

namespace paramscope {

class Tensor;

/// How a block of elements becomes one value.
enum class PyramidReduction : std::uint8_t {
  MaxAbs,  ///< the element of largest |x|, with its sign (ties: the larger value)
  Mean,    ///< the mean
};

/// Reads elements [first, first + out.size()) of a row-major matrix as float. Must be thread-safe.
using MatrixReader = std::function<void(std::int64_t first, std::span<float> out)>;

/// A tensor as a matrix: rows = shape[0], cols = the product of the other dimensions
/// (a 1-D tensor is 1 x n, a scalar 1 x 1).
std::pair<std::int64_t, std::int64_t> matrix_shape(std::span<const std::int64_t> shape) noexcept;

struct PyramidOptions {
  bool max_abs = true;  ///< build the max-abs levels
  bool mean = false;    ///< build the mean levels (each reduction costs its own levels' memory)
  /// Coarse levels stop at the first one that fits in top_size x top_size.
  std::int64_t top_size = 512;
};

/// Statistics of the finite values (NaN and ±Inf are counted, not included), for colour scaling.
/// Percentiles come from a histogram with one bin per bfloat16 value (the top 16 bits of the
/// float): a percentile is the element of that rank with its mantissa truncated to 7 bits, so it
/// is exact for BF16 data and within one BF16 step (relative 2^-7, toward zero) otherwise.
class ValueStats {
public:
  std::int64_t finite = 0, nan = 0, inf = 0;
  float min = 0, max = 0;  ///< exact; 0 when there are no finite values

  /// The value of rank round(p / 100 * (finite - 1)) among the sorted finite values (p is
  /// clamped to [0, 100]), to the accuracy above; 0 when there are no finite values.
  float percentile(double p) const noexcept;
  /// The same over |x| of the finite values; nonzero_only skips zeros (for log-scale floors).
  float abs_percentile(double p, bool nonzero_only = false) const noexcept;
  /// Counts of the finite values in `bins` equal bins over [min, max] (a constant: [v-0.5, v+0.5]),
  /// placed by their BF16 value (exact for BF16 data, within one BF16 step otherwise): a histogram
  /// without another pass over the data. throws Error(Usage) for bins outside 1..100000.
  std::vector<double> histogram(int bins, double& lo, double& hi) const;
  /// Adds values; merge() adds another's counts. Used while building, and by callers with
  /// buffers of their own.
  void add(std::span<const float> values) noexcept;
  void merge(const ValueStats& other) noexcept;

private:
  std::vector<std::uint64_t> bins_;  // 65536 counts by the float's top 16 bits (order-preserving key); empty until add()
};

/// Level 0 is the matrix itself, read on demand (never copied). Level L (1..levels()-1) holds one
/// value per 2^L x 2^L block (edge blocks are smaller), by max-abs and/or mean; NaN is ignored
/// (a block of only NaN is NaN). Memory: per reduction built, the sum over L >= 1 of
/// ceil(rows / 2^L) * ceil(cols / 2^L) floats <= numel / 3 + rows + cols + levels floats.
/// Queries are const and thread-safe.
class TensorPyramid {
public:
  /// Builds the coarse levels of tensor (shown as matrix_shape(shape)) on the pool, reading the
  /// tensor once in row bands; progress counts elements.
  /// throws Error(Usage) for an empty tensor, Error(Cancelled) if control.cancel fires, and what
  /// Tensor::read_f32 throws (Unsupported for dtypes without float conversion).
  static TensorPyramid of_tensor(const Tensor& tensor, ThreadPool& pool, const JobControl& control = {},
                                 const PyramidOptions& options = {});
  /// The same over rows x cols floats held in memory (an importance map).
  /// throws Error(Usage) if values holds not rows * cols floats or the matrix is empty.
  static TensorPyramid of_values(std::shared_ptr<const std::vector<float>> values, std::int64_t rows,
                                 std::int64_t cols, ThreadPool& pool, const JobControl& control = {},
                                 const PyramidOptions& options = {});
  /// The same over any reader (a score field's tensor, say).
  static TensorPyramid of_reader(MatrixReader reader, std::int64_t rows, std::int64_t cols, ThreadPool& pool,
                                 const JobControl& control = {}, const PyramidOptions& options = {});

  TensorPyramid(TensorPyramid&&) noexcept;
  TensorPyramid& operator=(TensorPyramid&&) noexcept;
  ~TensorPyramid();

  std::int64_t rows() const noexcept;
  std::int64_t cols() const noexcept;
  /// Number of levels including level 0.
  int levels() const noexcept;
  std::int64_t level_rows(int level) const noexcept;
  std::int64_t level_cols(int level) const noexcept;
  /// Whether tile() and view() can reduce this way (always, when there is only level 0).
  bool has(PyramidReduction reduction) const noexcept;
  /// Statistics of all values (level 0).
  const ValueStats& stats() const noexcept;

  /// Values of level `level`, rows [row0, row0 + rows) x cols [col0, col0 + cols), row-major.
  /// Level 0 is read from the source (reduction does not matter there).
  /// throws Error(Usage) for a level or rectangle outside the pyramid or a reduction not built,
  /// and what reading the source throws (level 0).
  std::vector<float> tile(int level, std::int64_t row0, std::int64_t col0, std::int64_t rows, std::int64_t cols,
                          PyramidReduction reduction = PyramidReduction::MaxAbs) const;

  /// An out_h x out_w image (row-major, top row first) of the window rows [row_begin, row_end) x
  /// cols [col_begin, col_end) (fractional bounds allowed). Each pixel is the reduction over the
  /// cells of level view_level(...) whose centres fall in the pixel's source rectangle; where
  /// none does (magnified, level 0) the cell under the pixel's centre (nearest neighbour).
  /// Exact over the elements it covers; mean weights a coarse cell by the elements of its block
  /// (a cell with some NaN counts as full). Pixels outside the matrix are NaN.
  /// throws Error(Usage) for an empty window, a size outside 1..16384 or a reduction not built,
  /// and what reading the source throws.
  std::vector<float> view(double row_begin, double row_end, double col_begin, double col_end, int out_w, int out_h,
                          PyramidReduction reduction = PyramidReduction::MaxAbs) const;
  /// The level view() reads: the coarsest whose cells are no larger than a pixel along each axis
  /// (an axis of extent 1 is the same at every level and does not limit it).
  int view_level(double row_begin, double row_end, double col_begin, double col_end, int out_w,
                 int out_h) const noexcept;

  /// The exact value at (row, col), read from the source (for the hover read-out).
  /// throws Error(Usage) outside the matrix, and what reading the source throws.
  float value_at(std::int64_t row, std::int64_t col) const;

  /// The internals (opaque outside the implementation).
  struct Impl;
  explicit TensorPyramid(std::unique_ptr<Impl> impl);

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope
