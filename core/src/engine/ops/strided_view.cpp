#include "engine/ops/strided_view.h"

#include <algorithm>

#include "engine/ops/op_support.h"

namespace paramscope::engine {
namespace {

// Calls f(T{}) with T an unsigned integer of the element size: values are only moved.
template <class F>
void by_element_size(DType t, F&& f) {
  switch (elem_bytes(t)) {
    case 1:
      return f(std::uint8_t{});
    case 2:
      return f(std::uint16_t{});
    case 4:
      return f(std::uint32_t{});
    default:
      return f(std::uint64_t{});
  }
}

}  // namespace

Array strided_copy(const Array& src, const StridedView& v) {
  Array out = Array::for_overwrite(src.type(), v.shape);
  by_element_size(src.type(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = reinterpret_cast<const T*>(src.bytes()) + v.offset;
    T* o = reinterpret_cast<T*>(out.bytes());
    const StridedWalker w(v.shape, {contiguous_strides(v.shape), v.strides});
    const std::int64_t n = w.run(), ss = w.run_stride(1);
    w.for_each([&](const std::int64_t* off) {
      if (ss == 1)
        std::copy(s + off[1], s + off[1] + n, o + off[0]);
      else
        for (std::int64_t i = 0; i < n; ++i) o[off[0] + i] = s[off[1] + i * ss];
    });
  });
  return out;
}

void strided_scatter(const Array& src, Array& dst, const StridedView& v) {
  by_element_size(src.type(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = reinterpret_cast<const T*>(src.bytes());
    T* d = reinterpret_cast<T*>(dst.bytes()) + v.offset;
    const StridedWalker w(v.shape, {contiguous_strides(v.shape), v.strides});
    const std::int64_t n = w.run(), ds = w.run_stride(1);
    w.for_each([&](const std::int64_t* off) {
      if (ds == 1)
        std::copy(s + off[0], s + off[0] + n, d + off[1]);
      else
        for (std::int64_t i = 0; i < n; ++i) d[off[1] + i * ds] = s[off[0] + i];
    });
  });
}

}  // namespace paramscope::engine
