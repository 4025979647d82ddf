#include "paramscope/array.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/buffer_cache.h"
#include "paramscope/error.h"
#include "tensor/convert.h"

namespace paramscope {
namespace {

bool plain(DType t) noexcept {
  switch (t) {
    case DType::BOOL:
    case DType::U8:
    case DType::I8:
    case DType::I16:
    case DType::U16:
    case DType::I32:
    case DType::U32:
    case DType::I64:
    case DType::U64:
    case DType::F16:
    case DType::BF16:
    case DType::F32:
    case DType::F64:
      return true;
    default:
      return false;
  }
}

// Every plain type through double (exact for all but 64-bit integers beyond 2^53, which only
// integer-to-integer casts below keep exact).
double load(DType t, const std::byte* p) noexcept {
  switch (t) {
    case DType::BOOL:
      return static_cast<double>(*reinterpret_cast<const bool*>(p));
    case DType::U8:
      return *reinterpret_cast<const std::uint8_t*>(p);
    case DType::I8:
      return *reinterpret_cast<const std::int8_t*>(p);
    case DType::I16:
      return *reinterpret_cast<const std::int16_t*>(p);
    case DType::U16:
      return *reinterpret_cast<const std::uint16_t*>(p);
    case DType::I32:
      return *reinterpret_cast<const std::int32_t*>(p);
    case DType::U32:
      return *reinterpret_cast<const std::uint32_t*>(p);
    case DType::I64:
      return static_cast<double>(*reinterpret_cast<const std::int64_t*>(p));
    case DType::U64:
      return static_cast<double>(*reinterpret_cast<const std::uint64_t*>(p));
    case DType::F16:
      return f16_to_f32(*reinterpret_cast<const std::uint16_t*>(p));
    case DType::BF16:
      return bf16_to_f32(*reinterpret_cast<const std::uint16_t*>(p));
    case DType::F32:
      return *reinterpret_cast<const float*>(p);
    case DType::F64:
      return *reinterpret_cast<const double*>(p);
    default:
      return 0;
  }
}

bool is_integer(DType t) noexcept {
  return t == DType::U8 || t == DType::I8 || t == DType::I16 || t == DType::U16 || t == DType::I32 || t == DType::U32 ||
         t == DType::I64 || t == DType::U64;
}

bool is_float(DType t) noexcept {
  return t == DType::F16 || t == DType::BF16 || t == DType::F32 || t == DType::F64;
}

template <class T>
void store_int(std::byte* p, double v) noexcept {
  // ONNX's Cast leaves out-of-range float-to-integer results undefined; truncate toward zero and
  // saturate, so they are at least deterministic (NaN becomes 0).
  T out = 0;
  if (v == v) {
    const double t = std::trunc(v);
    if (t <= static_cast<double>(std::numeric_limits<T>::lowest()))
      out = std::numeric_limits<T>::lowest();
    else if (t >= static_cast<double>(std::numeric_limits<T>::max()))
      out = std::numeric_limits<T>::max();
    else
      out = static_cast<T>(t);
  }
  std::memcpy(p, &out, sizeof out);
}

void store(DType t, std::byte* p, double v) noexcept {
  switch (t) {
    case DType::BOOL:
      *reinterpret_cast<bool*>(p) = v != 0;
      break;
    case DType::U8:
      store_int<std::uint8_t>(p, v);
      break;
    case DType::I8:
      store_int<std::int8_t>(p, v);
      break;
    case DType::I16:
      store_int<std::int16_t>(p, v);
      break;
    case DType::U16:
      store_int<std::uint16_t>(p, v);
      break;
    case DType::I32:
      store_int<std::int32_t>(p, v);
      break;
    case DType::U32:
      store_int<std::uint32_t>(p, v);
      break;
    case DType::I64:
      store_int<std::int64_t>(p, v);
      break;
    case DType::U64:
      store_int<std::uint64_t>(p, v);
      break;
    case DType::F16:
      *reinterpret_cast<std::uint16_t*>(p) = f32_to_f16(static_cast<float>(v));
      break;
    case DType::BF16:
      *reinterpret_cast<std::uint16_t*>(p) = f32_to_bf16(static_cast<float>(v));
      break;
    case DType::F32:
      *reinterpret_cast<float*>(p) = static_cast<float>(v);
      break;
    case DType::F64:
      *reinterpret_cast<double*>(p) = v;
      break;
    default:
      break;
  }
}

// Integer to integer through 64 bits, so that values beyond 2^53 stay exact (two's complement
// wrap, as numpy's astype).
std::uint64_t load_bits(DType t, const std::byte* p) noexcept {
  switch (t) {
    case DType::U8:
      return *reinterpret_cast<const std::uint8_t*>(p);
    case DType::I8:
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(*reinterpret_cast<const std::int8_t*>(p)));
    case DType::I16:
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(*reinterpret_cast<const std::int16_t*>(p)));
    case DType::U16:
      return *reinterpret_cast<const std::uint16_t*>(p);
    case DType::I32:
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(*reinterpret_cast<const std::int32_t*>(p)));
    case DType::U32:
      return *reinterpret_cast<const std::uint32_t*>(p);
    case DType::I64:
      return static_cast<std::uint64_t>(*reinterpret_cast<const std::int64_t*>(p));
    case DType::U64:
      return *reinterpret_cast<const std::uint64_t*>(p);
    default:
      return 0;
  }
}

}  // namespace

std::int64_t shape_size(std::span<const std::int64_t> shape) {
  std::int64_t n = 1;
  for (const std::int64_t d : shape) {
    if (d < 0) throw usage_error("array shape " + shape_string(shape) + " has a negative dimension");
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)
      throw usage_error("array shape " + shape_string(shape) + " has more elements than fit in 64 bits");
    n *= d;
  }
  return n;
}

Array::Array() : Array(DType::F32, {}) {}

Array::Array(DType type, std::vector<std::int64_t> shape) : Array(type, std::move(shape), true) {}

Array::Array(DType type, std::vector<std::int64_t> shape, bool zero) : type_(type), shape_(std::move(shape)) {
  if (!plain(type)) throw usage_error("arrays hold plain types, not " + std::string(dtype_name(type)));
  size_ = shape_size(shape_);
  const auto esize = static_cast<std::int64_t>(dtype_info(type).block_bytes);
  if (size_ > std::numeric_limits<std::int64_t>::max() / esize)
    throw usage_error("array " + shape_string(shape_) + " needs more bytes than fit in 64 bits");
  data_ = engine::allocate_buffer(static_cast<std::size_t>(size_ * esize), zero);
}

Array Array::for_overwrite(DType type, std::vector<std::int64_t> shape) {
  return Array(type, std::move(shape), false);
}

std::size_t Array::byte_size() const noexcept {
  return static_cast<std::size_t>(size_) * dtype_info(type_).block_bytes;
}

void Array::check_type(DType t) const {
  const bool same = t == type_ || (t == DType::U16 && (type_ == DType::F16 || type_ == DType::BF16));
  if (!same)
    throw usage_error("array of " + std::string(dtype_name(type_)) + " accessed as " + std::string(dtype_name(t)));
}

void Array::throw_size_mismatch(std::size_t got) const {
  throw usage_error(std::to_string(got) + " values for an array of shape " + shape_string(shape_));
}

Array Array::reshaped(std::vector<std::int64_t> shape) const {
  if (shape_size(shape) != size_)
    throw usage_error("cannot reshape " + shape_string(shape_) + " to " + shape_string(shape));
  Array a = *this;
  a.shape_ = std::move(shape);
  return a;
}

Array Array::clone() const {
  Array a = for_overwrite(type_, shape_);
  std::memcpy(a.data_.get(), data_.get(), byte_size());
  return a;
}

Array Array::rows(std::int64_t first, std::int64_t n) const {
  if (shape_.empty() || first < 0 || n < 0 || first > shape_[0] - n)
    throw usage_error("rows " + std::to_string(first) + " + " + std::to_string(n) + " of an array of shape " +
                      shape_string(shape_));
  std::vector<std::int64_t> shape = shape_;
  shape[0] = n;
  Array out = for_overwrite(type_, std::move(shape));
  const std::size_t row = shape_[0] == 0 ? 0 : byte_size() / static_cast<std::size_t>(shape_[0]);
  if (n > 0 && row > 0)
    std::memcpy(out.data_.get(), data_.get() + static_cast<std::size_t>(first) * row,
                static_cast<std::size_t>(n) * row);
  return out;
}

Array Array::cast(DType type) const {
  if (type == type_) return *this;
  Array out = for_overwrite(type, shape_);
  const std::size_t in_size = dtype_info(type_).block_bytes, out_size = dtype_info(type).block_bytes;
  const std::byte* src = data_.get();
  std::byte* dst = out.data_.get();
  const auto n = static_cast<std::size_t>(size_);
  if (is_integer(type_) && is_integer(type)) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint64_t v = load_bits(type_, src + j * in_size);
      std::memcpy(dst + j * out_size, &v, out_size);  // little-endian: the low bytes
    }
  } else if (type_ == DType::F32 && is_float(type) && type != DType::F64) {
    convert_from_f32(type, reinterpret_cast<const float*>(src), n, dst);
  } else if (type == DType::F32 && is_float(type_) && type_ != DType::F64) {
    convert_to_f32(type_, src, n, reinterpret_cast<float*>(dst));
  } else {
    for (std::size_t j = 0; j < n; ++j) store(type, dst + j * out_size, load(type_, src + j * in_size));
  }
  return out;
}

}  // namespace paramscope
