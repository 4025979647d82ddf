#include "io/gguf/gguf_values.h"

#include <array>
#include <string>

#include <fmt/format.h>

namespace paramscope::io::gguf {
namespace {

constexpr std::array<std::string_view, 13> kNames{"uint8", "int8",  "uint16", "int16", "uint32", "int32", "float32",
                                                  "bool",  "string", "array", "uint64", "int64", "float64"};

// Smallest encoding of one element of the type: what an array of n of them needs at least.
std::uint64_t min_size(ValueType t) noexcept {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;   // the length
    case ValueType::ARRAY: return 12;   // element type and count
  }
  return 1;
}

bool fixed_size(ValueType t) noexcept { return t != ValueType::STRING && t != ValueType::ARRAY && t != ValueType::BOOL; }

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string read_any(ByteReader& r, std::uint32_t type, std::string_view what, int depth, bool in_array);

std::string read_array(ByteReader& r, std::string_view what, int depth) {
  if (depth >= kMaxArrayDepth)
    r.fail(std::string(what) + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
  const auto elem = r.read<std::uint32_t>(std::string(what) + " array element type");
  const auto name = value_type_name(elem);
  if (name.empty()) r.fail(std::string(what) + ": unknown array element type " + std::to_string(elem));
  const auto n = r.read<std::uint64_t>(std::string(what) + " array length");
  const auto et = static_cast<ValueType>(elem);
  // Check the count against the bytes left before looping, so a huge count cannot spin or allocate.
  if (n > r.remaining() / min_size(et))
    r.fail(std::string(what) + ": array of " + std::to_string(n) + " " + std::string(name) + " cannot fit in the " +
           std::to_string(r.remaining()) + " bytes left");
  if (n > kShownArrayElems) {
    if (fixed_size(et)) {
      r.skip(n * min_size(et), what);
    } else {
      for (std::uint64_t i = 0; i < n; ++i) read_any(r, elem, what, depth + 1, true);
    }
    return "[array of " + std::to_string(n) + " " + std::string(name) + "]";
  }
  std::string out = "[";
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += read_any(r, elem, what, depth + 1, true);
  }
  return out + "]";
}

std::string read_any(ByteReader& r, std::uint32_t type, std::string_view what, int depth, bool in_array) {
  switch (static_cast<ValueType>(type)) {
    case ValueType::UINT8: return std::to_string(r.read<std::uint8_t>(what));
    case ValueType::INT8: return std::to_string(r.read<std::int8_t>(what));
    case ValueType::UINT16: return std::to_string(r.read<std::uint16_t>(what));
    case ValueType::INT16: return std::to_string(r.read<std::int16_t>(what));
    case ValueType::UINT32: return std::to_string(r.read<std::uint32_t>(what));
    case ValueType::INT32: return std::to_string(r.read<std::int32_t>(what));
    case ValueType::UINT64: return std::to_string(r.read<std::uint64_t>(what));
    case ValueType::INT64: return std::to_string(r.read<std::int64_t>(what));
    case ValueType::FLOAT32: return fmt::format("{}", r.read<float>(what));
    case ValueType::FLOAT64: return fmt::format("{}", r.read<double>(what));
    case ValueType::BOOL: {
      const auto b = r.read<std::uint8_t>(what);
      // The spec: "anything else is invalid".
      if (b > 1) r.fail(std::string(what) + ": bool value " + std::to_string(b) + " is neither 0 nor 1");
      return b ? "true" : "false";
    }
    case ValueType::STRING: {
      const auto s = read_gguf_string(r, what);
      return in_array ? quoted(s) : std::string(s);
    }
    case ValueType::ARRAY: return read_array(r, what, depth);
  }
  r.fail(std::string(what) + ": unknown value type " + std::to_string(type));
}

}  // namespace

std::string_view value_type_name(std::uint32_t id) noexcept { return id < kNames.size() ? kNames[id] : ""; }

std::string_view read_gguf_string(ByteReader& r, std::string_view what) {
  const auto n = r.read<std::uint64_t>(std::string(what) + " length");
  if (n > r.remaining())
    r.fail(std::string(what) + ": string of " + std::to_string(n) + " bytes runs past the end of the file (" +
           std::to_string(r.remaining()) + " bytes left)");
  return r.read_string(n, what);
}

std::string read_value(ByteReader& r, std::uint32_t type, std::string_view what) {
  return read_any(r, type, what, 0, false);
}

}  // namespace paramscope::io::gguf
