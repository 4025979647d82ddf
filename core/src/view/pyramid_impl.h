// What a TensorPyramid holds; shared by building (tensor_pyramid.cpp) and viewing (pyramid_view.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "paramscope/pyramid.h"

namespace paramscope {

struct TensorPyramid::Impl {
  MatrixReader reader;
  // Tells the source that elements will not be read again soon (a tensor's mapped pages); may be empty.
  std::function<void(std::int64_t first, std::int64_t count)> release;
  std::int64_t rows = 0, cols = 0;
  int levels = 1;  // including level 0
  // Levels 1..levels-1 at index level-1, row-major level_rows x level_cols; empty if not built.
  std::vector<std::vector<float>> max_abs, mean;
  ValueStats stats;

  const std::vector<std::vector<float>>& levels_of(PyramidReduction r) const { return r == PyramidReduction::Mean ? mean : max_abs; }
  /// Reads rows [row0, row0 + n) x cols [col0, col0 + w) of level 0 into out (row stride w).
  void read_level0(std::int64_t row0, std::int64_t col0, std::int64_t n, std::int64_t w, float* out) const;
};

}  // namespace paramscope
