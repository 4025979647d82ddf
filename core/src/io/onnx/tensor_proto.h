// One ONNX TensorProto, read field by field without copying its data: raw_data and the typed
// value fields are recorded as spans of the mapped file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/onnx/wire_reader.h"

namespace paramscope::io::onnx {

struct TensorProtoView {
  std::string name;
  std::optional<std::int32_t> data_type;
  std::vector<std::int64_t> dims;
  std::optional<Span> raw_data;
  // Runs of encoded elements (packed or one unpacked element each), in file order.
  std::vector<Span> float_data, int32_data, int64_data, double_data, uint64_data;
  bool has_string_data = false;
  bool has_segment = false;
  std::int64_t data_location = 0;  // 0 DEFAULT, 1 EXTERNAL
  std::vector<std::pair<std::string, std::string>> external_data;  // key, value
};

inline constexpr std::size_t kMaxRank = 64;

/// Reads the TensorProto at msg. throws Error(BadInput) naming context if its wire format is
/// corrupt, a dimension is negative or there are more than kMaxRank of them.
TensorProtoView read_tensor_proto(std::span<const std::byte> file, Span msg, const std::filesystem::path& path,
                                  const std::string& context);

}  // namespace paramscope::io::onnx
