// ONNX TensorProto.DataType ids (onnx.proto) and the DType each readable one becomes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "paramscope/dtype.h"

namespace paramscope::io::onnx {

/// TensorProto.DataType values ParamScope refers to by name.
enum OnnxType : std::int32_t {
  UNDEFINED = 0, FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, STRING = 8,
  BOOL = 9, FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 = 13, COMPLEX64 = 14, COMPLEX128 = 15,
  BFLOAT16 = 16, FLOAT8E4M3FN = 17, FLOAT8E4M3FNUZ = 18, FLOAT8E5M2 = 19, FLOAT8E5M2FNUZ = 20,
};

/// The DType of a data type ParamScope reads; nullopt for STRING, COMPLEX*, the FNUZ float8s,
/// 4-bit and 2-bit types, and ids ONNX does not define.
std::optional<DType> dtype_from_onnx(std::int32_t data_type) noexcept;

/// "FLOAT", "INT4", ... or "data type 99" for an id ONNX does not define (as of ONNX 1.18).
std::string onnx_type_name(std::int32_t data_type);

}  // namespace paramscope::io::onnx
