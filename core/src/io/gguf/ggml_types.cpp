#include "io/gguf/ggml_types.h"

#include <array>

namespace paramscope::io::gguf {
namespace {

// Index = ggml type id. Gaps are ids ggml retired (Q4_2, Q4_3, the repacked Q4_0_x_y and
// IQ4_NL_x_y layouts, which never belong in files) and types DType does not list yet.
constexpr std::array<GgmlType, 42> kTypes{{
    {"F32", DType::F32},         {"F16", DType::F16},         {"Q4_0", DType::Q4_0},
    {"Q4_1", DType::Q4_1},       {"Q4_2", {}},                {"Q4_3", {}},
    {"Q5_0", DType::Q5_0},       {"Q5_1", DType::Q5_1},       {"Q8_0", DType::Q8_0},
    {"Q8_1", DType::Q8_1},       {"Q2_K", DType::Q2_K},       {"Q3_K", DType::Q3_K},
    {"Q4_K", DType::Q4_K},       {"Q5_K", DType::Q5_K},       {"Q6_K", DType::Q6_K},
    {"Q8_K", DType::Q8_K},       {"IQ2_XXS", DType::IQ2_XXS}, {"IQ2_XS", DType::IQ2_XS},
    {"IQ3_XXS", DType::IQ3_XXS}, {"IQ1_S", DType::IQ1_S},     {"IQ4_NL", DType::IQ4_NL},
    {"IQ3_S", DType::IQ3_S},     {"IQ2_S", DType::IQ2_S},     {"IQ4_XS", DType::IQ4_XS},
    {"I8", DType::I8},           {"I16", DType::I16},         {"I32", DType::I32},
    {"I64", DType::I64},         {"F64", DType::F64},         {"IQ1_M", DType::IQ1_M},
    {"BF16", DType::BF16},       {"Q4_0_4_4", {}},            {"Q4_0_4_8", {}},
    {"Q4_0_8_8", {}},            {"TQ1_0", DType::TQ1_0},     {"TQ2_0", DType::TQ2_0},
    {"IQ4_NL_4_4", {}},          {"IQ4_NL_4_8", {}},          {"IQ4_NL_8_8", {}},
    {"MXFP4", DType::MXFP4},     {"NVFP4", {}},               {"Q1_0", {}},
}};

}  // namespace

std::optional<GgmlType> ggml_type(std::uint32_t id) noexcept {
  if (id >= kTypes.size()) return std::nullopt;
  return kTypes[id];
}

}  // namespace paramscope::io::gguf
