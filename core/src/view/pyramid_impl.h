// What a TensorPyramid holds; shared by building (tensor_pyramid.cpp) and viewing (pyramid_view.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "paramscope/pyramid.h"

namespace paramscope {

namespace detail {
/// Leaves new elements uninitialised: every cell of a level is written by the build, and zeroing
/// hundreds of megabytes first is a measurable part of it.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  explicit UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace detail

/// One coarse level, row-major.
using PyramidLevel = std::vector<float, detail::UninitializedAllocator<float>>;

struct TensorPyramid::Impl {
  MatrixReader reader;
  // Tells the source that elements will not be read again soon (a tensor's mapped pages); may be empty.
  std::function<void(std::int64_t first, std::int64_t count)> release;
  std::int64_t rows = 0, cols = 0;
  int levels = 1;  // including level 0
  // Levels 1..levels-1 at index level-1, row-major level_rows x level_cols; empty if not built.
  std::vector<PyramidLevel> max_abs, mean;
  ValueStats stats;

  const std::vector<PyramidLevel>& levels_of(PyramidReduction r) const { return r == PyramidReduction::Mean ? mean : max_abs; }
  /// Reads rows [row0, row0 + n) x cols [col0, col0 + w) of level 0 into out (row stride w).
  void read_level0(std::int64_t row0, std::int64_t col0, std::int64_t n, std::int64_t w, float* out) const;
};

}  // namespace paramscope
