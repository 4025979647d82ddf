#include <algorithm>
#include <cstring>
#include <vector>

#include "paramscope/error.h"
#include "paramscope/tensor.h"
#include "paramscope/writers.h"
#include "tensor/convert.h"

namespace paramscope {

TensorToWrite TensorToWrite::from_bytes(std::string name, DType dtype, Shape shape, std::span<const std::byte> bytes) {
  return {std::move(name), dtype, std::move(shape), [bytes](std::uint64_t offset, std::span<std::byte> out) {
            std::memcpy(out.data(), bytes.data() + offset, out.size());
          }};
}

TensorToWrite TensorToWrite::from_floats(std::string name, DType dtype, Shape shape, std::span<const float> values) {
  const std::uint32_t elem = dtype_info(dtype).block_bytes;
  return {std::move(name), dtype, std::move(shape), [values, dtype, elem](std::uint64_t offset, std::span<std::byte> out) {
            // Chunks always hold whole elements (the writers ask in multiples of the element size).
            convert_from_f32(dtype, values.data() + offset / elem, out.size() / elem, out.data());
          }};
}

TensorToWrite TensorToWrite::from_tensor(const Tensor& tensor, DType dtype, std::string name) {
  if (name.empty()) name = tensor.name();
  if (dtype == tensor.dtype() && !tensor.raw_bytes().empty())
    return from_bytes(std::move(name), dtype, tensor.shape(), tensor.raw_bytes());
  const std::uint32_t elem = dtype_info(dtype).block_bytes;
  return {std::move(name), dtype, tensor.shape(), [&tensor, dtype, elem](std::uint64_t offset, std::span<std::byte> out) {
            std::vector<float> buf(out.size() / elem);
            tensor.read_f32(static_cast<std::int64_t>(offset / elem), buf);
            convert_from_f32(dtype, buf.data(), buf.size(), out.data());
          }};
}

}  // namespace paramscope
