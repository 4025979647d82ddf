// A dense, row-major n-dimensional array: what the execution engine computes with and what
// `paramscope-cli run` reads from and writes to NPY files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "paramscope/dtype.h"
#include "paramscope/shape.h"

namespace paramscope {

/// The C++ type stored for a plain DType (BOOL as bool, F16/BF16 as their 16-bit codes).
template <class T>
constexpr DType dtype_of() noexcept;
template <>
constexpr DType dtype_of<float>() noexcept {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() noexcept {
  return DType::F64;
}
template <>
constexpr DType dtype_of<std::int64_t>() noexcept {
  return DType::I64;
}
template <>
constexpr DType dtype_of<std::int32_t>() noexcept {
  return DType::I32;
}
template <>
constexpr DType dtype_of<std::int16_t>() noexcept {
  return DType::I16;
}
template <>
constexpr DType dtype_of<std::int8_t>() noexcept {
  return DType::I8;
}
template <>
constexpr DType dtype_of<std::uint64_t>() noexcept {
  return DType::U64;
}
template <>
constexpr DType dtype_of<std::uint32_t>() noexcept {
  return DType::U32;
}
template <>
constexpr DType dtype_of<std::uint16_t>() noexcept {
  return DType::U16;
}
template <>
constexpr DType dtype_of<std::uint8_t>() noexcept {
  return DType::U8;
}
template <>
constexpr DType dtype_of<bool>() noexcept {
  return DType::BOOL;
}

/// Element count of a shape; throws Error(Usage) if a dimension is negative or the count
/// overflows int64.
std::int64_t shape_size(std::span<const std::int64_t> shape);

// shape_string() ("[2, 3, 4]") comes from paramscope/shape.h.

class Array {
 public:
  /// An F32 scalar 0.
  Array();
  /// A zero-filled array. throws Error(Usage) if type is not a plain type (no GGML blocks, no
  /// float8) or the shape is invalid (see shape_size).
  Array(DType type, std::vector<std::int64_t> shape);
  /// An array whose values are unspecified (a reused buffer's): for a writer that sets every
  /// element before anything reads it, which saves zero-filling. Same throws as the constructor.
  static Array for_overwrite(DType type, std::vector<std::int64_t> shape);

  /// An array holding values (values.size() must equal the shape's size, else Error(Usage)).
  template <class T>
  static Array of(std::vector<std::int64_t> shape, std::span<const T> values) {
    Array a(dtype_of<T>(), std::move(shape));
    if (values.size() != static_cast<std::size_t>(a.size())) a.throw_size_mismatch(values.size());
    std::copy(values.begin(), values.end(), a.data<T>());
    return a;
  }
  template <class T>
  static Array of(std::vector<std::int64_t> shape, std::initializer_list<T> values) {
    return of<T>(std::move(shape), std::span<const T>(values.begin(), values.size()));
  }

  DType type() const noexcept { return type_; }
  const std::vector<std::int64_t>& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.size(); }
  std::int64_t dim(std::size_t axis) const noexcept { return shape_[axis]; }
  std::int64_t size() const noexcept { return size_; }
  std::size_t byte_size() const noexcept;

  /// Typed access. throws Error(Usage) if T is not the array's type. Copies of an Array share
  /// its data: only write arrays you have just created.
  template <class T>
  T* data() {
    check_type(dtype_of<T>());
    return reinterpret_cast<T*>(data_.get());
  }
  template <class T>
  const T* data() const {
    check_type(dtype_of<T>());
    return reinterpret_cast<const T*>(data_.get());
  }
  template <class T>
  std::span<const T> values() const {
    return {data<T>(), static_cast<std::size_t>(size_)};
  }
  std::byte* bytes() noexcept { return data_.get(); }
  const std::byte* bytes() const noexcept { return data_.get(); }

  /// The same data under another shape of equal size (throws Error(Usage) otherwise).
  Array reshaped(std::vector<std::int64_t> shape) const;
  /// A copy with its own data.
  Array clone() const;
  /// A copy of rows [first, first + n) of the first axis (samples of a batch). throws
  /// Error(Usage) for a scalar or a range outside the first axis.
  Array rows(std::int64_t first, std::int64_t n) const;
  /// Values converted to another plain type (float to integer truncates toward zero, as ONNX's
  /// Cast; to BOOL is "!= 0"). Returns *this when the type is already `type`.
  Array cast(DType type) const;

 private:
  Array(DType type, std::vector<std::int64_t> shape, bool zero);
  void check_type(DType t) const;
  [[noreturn]] void throw_size_mismatch(std::size_t got) const;

  DType type_ = DType::F32;
  std::vector<std::int64_t> shape_;
  std::int64_t size_ = 1;
  std::shared_ptr<std::byte[]> data_;
};

}  // namespace paramscope
