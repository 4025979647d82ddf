// Writers for tensors: safetensors, NPY and HDF5. All write to a temporary file beside the
// target and rename it into place, so a reader never sees a half-written file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "paramscope/dtype.h"
#include "paramscope/shape.h"

namespace paramscope {

class Tensor;

/// Fills out with the tensor's stored bytes starting at byte_offset; called in order, in chunks.
using ByteFiller = std::function<void(std::uint64_t byte_offset, std::span<std::byte> out)>;

struct TensorToWrite {
  std::string name;
  DType dtype;  ///< plain types only (no GGML block types)
  Shape shape;
  ByteFiller fill;

  /// Bytes copied from a buffer the caller keeps alive until the write returns.
  static TensorToWrite from_bytes(std::string name, DType dtype, Shape shape, std::span<const std::byte> bytes);
  /// Floats converted to dtype (F32, F16, BF16 or F64) on the fly.
  static TensorToWrite from_floats(std::string name, DType dtype, Shape shape, std::span<const float> values);
  /// A checkpoint tensor, copied byte for byte when its dtype is kept and the bytes are mapped,
  /// otherwise converted through float in chunks.
  static TensorToWrite from_tensor(const Tensor& tensor, DType dtype, std::string name = {});
};

/// Writes a safetensors file as the reference implementation does: 8-byte little-endian header
/// size, compact JSON ("__metadata__" first) padded with spaces to a multiple of 8, then the
/// tensors contiguous, ordered by descending dtype alignment and then name. Fillers are called
/// tensor by tensor in the order of `tensors`, each tensor's bytes in order.
/// throws Error(Usage) for duplicate names or non-plain dtypes, Error(Io) if writing fails.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata = {});

/// Writes one array as NPY version 1.0 (2.0 when the header needs it), C order.
/// throws Error(Usage) for dtypes numpy lacks (F8_*, GGML types), Error(Io) if writing fails.
void write_npy(const std::filesystem::path& path, const TensorToWrite& tensor);

/// Writes text (a report, a summary, an index) atomically. throws Error(Io) if writing fails.
void write_text_file(const std::filesystem::path& path, std::string_view text);

/// A value stored as an HDF5 attribute.
struct Hdf5Attribute {
  std::string name;
  std::string text;  ///< written as a string when is_number is false
  double number = 0;
  bool is_number = false;
};

struct Hdf5Dataset {
  std::string path;  ///< "group/sub/name"; groups are created as needed
  TensorToWrite data;
  std::vector<Hdf5Attribute> attributes;
};

/// Writes datasets (contiguous, so readers can map them; plain dtypes) and root attributes into a
/// new HDF5 file.
/// throws Error(Usage) for bad dataset paths or dtypes, Error(Io) if writing fails.
void write_hdf5(const std::filesystem::path& path, const std::vector<Hdf5Dataset>& datasets,
                const std::vector<Hdf5Attribute>& root_attributes = {});

}  // namespace paramscope
