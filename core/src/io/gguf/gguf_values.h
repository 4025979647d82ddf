// GGUF metadata values: validated against the remaining bytes and rendered as text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/byte_reader.h"

namespace paramscope::io::gguf {

/// gguf_metadata_value_type ids.
enum class ValueType : std::uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

/// "uint8", ..., "float64", or "" for an unknown id.
std::string_view value_type_name(std::uint32_t id) noexcept;

/// A GGUF string (uint64 length, bytes) checked against the bytes left.
std::string_view read_gguf_string(ByteReader& r, std::string_view what);

/// Reads one value of type id at r and returns it as text: numbers in decimal (floats in their
/// shortest round-trip form), strings as they are, arrays of up to kShownArrayElems elements in
/// full ("[1, 2]", strings quoted) and longer ones summarised ("[array of 32000 string]").
/// throws Error(BadInput) naming what if the value is malformed or runs past the end.
std::string read_value(ByteReader& r, std::uint32_t type, std::string_view what);

inline constexpr std::uint64_t kShownArrayElems = 16;
inline constexpr int kMaxArrayDepth = 8;

}  // namespace paramscope::io::gguf
