// A named tensor of a checkpoint: metadata plus lazy, chunked access to its values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "paramscope/dtype.h"
#include "paramscope/shape.h"

namespace paramscope {

namespace detail {
class TensorSource;
}

/// What a tensor is to the model. Formats that cannot tell (safetensors, GGUF) say Parameter.
enum class TensorRole : std::uint8_t {
  Parameter,  ///< a weight of the model (learned, or unknown)
  Buffer,     ///< model state that is not learned (BatchNorm running statistics)
  Optimizer,  ///< optimizer state (Adam moments, step counters): not a model parameter
};

/// Values are never read when a checkpoint is opened; read_f32() converts ranges on demand from
/// the memory-mapped file, so that a tensor larger than RAM can be streamed in chunks.
class Tensor {
public:
  Tensor(std::string name, DType dtype, Shape shape, std::shared_ptr<const detail::TensorSource> source,
         TensorRole role = TensorRole::Parameter);

  const std::string& name() const noexcept { return name_; }
  DType dtype() const noexcept { return dtype_; }
  const Shape& shape() const noexcept { return shape_; }
  std::int64_t numel() const noexcept { return numel_; }
  /// Bytes the values take in storage (dtype x shape; block-quantized types count whole blocks).
  std::uint64_t nbytes() const noexcept;
  TensorRole role() const noexcept { return role_; }
  /// The file that holds the values (differs from the checkpoint's path for shards).
  const std::string& file() const noexcept;

  /// Converts the elements [first, first + out.size()) in row-major order to float.
  /// throws Error(Usage) if the range is outside the tensor,
  /// Error(Unsupported) if the dtype's values cannot be converted (GGUF Q4_K, ...),
  /// Error(Io or BadInput) if the underlying file cannot be read.
  void read_f32(std::int64_t first, std::span<float> out) const;

  /// All values as float. throws as read_f32().
  std::vector<float> to_f32() const;

  /// The stored bytes when they are one contiguous little-endian range of a mapped file (so a
  /// writer can copy them unchanged); empty otherwise (views, decoded or compressed data).
  std::span<const std::byte> raw_bytes() const noexcept;

  /// Tells the tensor that elements [first, first + count) will not be read again soon: the
  /// mapped pages behind them leave this process's resident set (they stay in the page cache).
  void release(std::int64_t first, std::int64_t count) const noexcept;

  /// Same tensor under another name or role (readers rename after discovering the hierarchy).
  Tensor renamed(std::string name) const;
  Tensor with_role(TensorRole role) const;

private:
  std::string name_;
  DType dtype_;
  Shape shape_;
  std::int64_t numel_;
  TensorRole role_;
  std::shared_ptr<const detail::TensorSource> source_;
};

}  // namespace paramscope
