// Strided views of an array: what Transpose, Expand and Slice read, and what their backward
// rules write back. Values move by element size, so every plain type works.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/broadcast.h"
#include "engine/op_registry.h"

namespace paramscope::engine {

/// Elements of a source array seen as an array of `shape`: element (i...) is at
/// offset + sum(i_d * strides[d]) (strides in elements; negative for reversed axes, 0 for
/// repeated ones).
struct StridedView {
  Dims shape;
  Dims strides;
  std::int64_t offset = 0;
};

/// A contiguous array of v.shape holding src's elements through v.
Array strided_copy(const Array& src, const StridedView& v);

/// Writes src (contiguous, of v.shape) to dst's elements through v, which must reach each
/// element at most once: the inverse of strided_copy, for gradients of views.
void strided_scatter(const Array& src, Array& dst, const StridedView& v);

}  // namespace paramscope::engine
