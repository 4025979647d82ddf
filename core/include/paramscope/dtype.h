// Element types of tensors, spelled as the safetensors spec spells them, plus GGML's block types.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace paramscope {

enum class DType : std::uint8_t {
  BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2,
  // GGML block-quantized types (GGUF files). Values are available where dtype_info().readable.
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
  IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, IQ1_M, TQ1_0, TQ2_0, MXFP4,
};

struct DTypeInfo {
  std::string_view name;      ///< "F32", "BF16", "Q8_0", ...
  std::uint32_t block_elems;  ///< elements per storage block (1 for plain types)
  std::uint32_t block_bytes;  ///< bytes per storage block
  bool is_float;              ///< floating point (or dequantizes to floating point)
  bool readable;              ///< ParamScope can convert its values to float
};

const DTypeInfo& dtype_info(DType t) noexcept;
inline std::string_view dtype_name(DType t) noexcept { return dtype_info(t).name; }

/// The safetensors spelling ("F32", "BF16", ...), or a GGML type name ("Q8_0").
std::optional<DType> dtype_from_name(std::string_view name) noexcept;

/// Bytes needed to store numel elements; nullopt if numel is not a whole number of blocks or the
/// size overflows 64 bits.
std::optional<std::uint64_t> storage_bytes(DType t, std::uint64_t numel) noexcept;

}  // namespace paramscope
