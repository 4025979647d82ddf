// Where a tensor's values come from. Readers create sources; Tensor forwards to them after
// checking ranges, so implementations may assume [first, first + out.size()) is inside.
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
class MappedFile;
}

namespace paramscope::detail {

class TensorSource {
public:
  explicit TensorSource(std::string file) : file_(std::move(file)) {}
  virtual ~TensorSource() = default;
  virtual void read_f32(std::int64_t first, std::span<float> out) const = 0;
  virtual std::span<const std::byte> raw_bytes() const noexcept { return {}; }
  virtual void release(std::int64_t /*first*/, std::int64_t /*count*/) const noexcept {}
  const std::string& file() const noexcept { return file_; }

private:
  std::string file_;
};

/// numel contiguous elements of dtype at byte offset of a mapped file. The caller has checked
/// that the range lies inside the file. big_endian: stored most significant byte first.
std::shared_ptr<const TensorSource> make_mapped_source(std::shared_ptr<const MappedFile> file, std::uint64_t offset,
                                                       DType dtype, std::int64_t numel, bool big_endian = false);

/// A strided view into a storage of storage_numel elements at byte offset (PyTorch tensors saved
/// as views: storage_offset and strides in elements).
/// throws Error(BadInput) naming file if a strided element would fall outside the storage.
std::shared_ptr<const TensorSource> make_strided_source(std::shared_ptr<const MappedFile> file, std::uint64_t offset,
                                                        std::int64_t storage_numel, DType dtype, const Shape& shape,
                                                        const std::vector<std::int64_t>& strides,
                                                        std::int64_t storage_offset, bool big_endian = false);

/// Values decoded into memory by the reader (ONNX varint fields, small HDF5 datasets).
std::shared_ptr<const TensorSource> make_owned_source(std::vector<std::byte> bytes, DType dtype, std::string file);

}  // namespace paramscope::detail
