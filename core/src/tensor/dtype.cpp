#include "paramscope/dtype.h"

#include <array>
#include <limits>

namespace paramscope {
namespace {

// Block sizes of GGML's quantized types follow ggml.c's type_traits (QK_K = 256).
constexpr std::array<DTypeInfo, static_cast<std::size_t>(DType::MXFP4) + 1> kInfo{{
    {"BOOL", 1, 1, false, true},      {"U8", 1, 1, false, true},        {"I8", 1, 1, false, true},
    {"I16", 1, 2, false, true},       {"U16", 1, 2, false, true},       {"I32", 1, 4, false, true},
    {"U32", 1, 4, false, true},       {"I64", 1, 8, false, true},       {"U64", 1, 8, false, true},
    {"F16", 1, 2, true, true},        {"BF16", 1, 2, true, true},       {"F32", 1, 4, true, true},
    {"F64", 1, 8, true, true},        {"F8_E4M3", 1, 1, true, true},    {"F8_E5M2", 1, 1, true, true},
    {"Q4_0", 32, 18, true, false},    {"Q4_1", 32, 20, true, false},    {"Q5_0", 32, 22, true, false},
    {"Q5_1", 32, 24, true, false},    {"Q8_0", 32, 34, true, true},     {"Q8_1", 32, 36, true, false},
    {"Q2_K", 256, 84, true, false},   {"Q3_K", 256, 110, true, false},  {"Q4_K", 256, 144, true, false},
    {"Q5_K", 256, 176, true, false},  {"Q6_K", 256, 210, true, false},  {"Q8_K", 256, 292, true, false},
    {"IQ2_XXS", 256, 66, true, false}, {"IQ2_XS", 256, 74, true, false}, {"IQ3_XXS", 256, 98, true, false},
    {"IQ1_S", 256, 50, true, false},  {"IQ4_NL", 32, 18, true, false},  {"IQ3_S", 256, 110, true, false},
    {"IQ2_S", 256, 82, true, false},  {"IQ4_XS", 256, 136, true, false}, {"IQ1_M", 256, 56, true, false},
    {"TQ1_0", 256, 54, true, false},  {"TQ2_0", 256, 66, true, false},  {"MXFP4", 32, 17, true, false},
}};

}  // namespace

const DTypeInfo& dtype_info(DType t) noexcept { return kInfo[static_cast<std::size_t>(t)]; }

std::optional<DType> dtype_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kInfo.size(); ++i)
    if (kInfo[i].name == name) return static_cast<DType>(i);
  return std::nullopt;
}

std::optional<std::uint64_t> storage_bytes(DType t, std::uint64_t numel) noexcept {
  const auto& info = dtype_info(t);
  if (numel % info.block_elems != 0) return std::nullopt;
  const std::uint64_t blocks = numel / info.block_elems;
  if (blocks > std::numeric_limits<std::uint64_t>::max() / info.block_bytes) return std::nullopt;
  return blocks * info.block_bytes;
}

}  // namespace paramscope
