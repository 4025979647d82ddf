// ggml's tensor type ids as GGUF files store them (enum ggml_type in ggml.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "paramscope/dtype.h"

namespace paramscope::io::gguf {

struct GgmlType {
  std::string_view name;       ///< ggml's name, "" for ids ggml never assigned
  std::optional<DType> dtype;  ///< empty: removed from GGUF, or newer than ParamScope's DType list
};

/// The type behind id; nullopt for ids ggml does not define (as of type 41, Q1_0).
std::optional<GgmlType> ggml_type(std::uint32_t id) noexcept;

}  // namespace paramscope::io::gguf
