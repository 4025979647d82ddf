#include "io/onnx/onnx_types.h"

#include <array>
#include <string_view>

namespace paramscope::io::onnx {
namespace {

constexpr std::array<std::string_view, 27> kNames{
    "UNDEFINED",  "FLOAT",      "UINT8",        "INT8",           "UINT16",     "INT16",          "INT32",
    "INT64",      "STRING",     "BOOL",         "FLOAT16",        "DOUBLE",     "UINT32",         "UINT64",
    "COMPLEX64",  "COMPLEX128", "BFLOAT16",     "FLOAT8E4M3FN",   "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ",
    "UINT4",      "INT4",       "FLOAT4E2M1",   "FLOAT8E8M0",     "UINT2",      "INT2",
};

}  // namespace

std::optional<DType> dtype_from_onnx(std::int32_t t) noexcept {
  switch (t) {
    case FLOAT: return DType::F32;
    case UINT8: return DType::U8;
    case INT8: return DType::I8;
    case UINT16: return DType::U16;
    case INT16: return DType::I16;
    case INT32: return DType::I32;
    case INT64: return DType::I64;
    case BOOL: return DType::BOOL;
    case FLOAT16: return DType::F16;
    case DOUBLE: return DType::F64;
    case UINT32: return DType::U32;
    case UINT64: return DType::U64;
    case BFLOAT16: return DType::BF16;
    case FLOAT8E4M3FN: return DType::F8_E4M3;
    case FLOAT8E5M2: return DType::F8_E5M2;
    default: return std::nullopt;
  }
}

std::string onnx_type_name(std::int32_t t) {
  if (t >= 0 && static_cast<std::size_t>(t) < kNames.size()) return std::string(kNames[static_cast<std::size_t>(t)]);
  return "data type " + std::to_string(t);
}

}  // namespace paramscope::io::onnx
