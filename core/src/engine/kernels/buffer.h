// Scratch memory for kernels: uninitialised, so that a buffer that is about to be overwritten
// (a column matrix) costs no memset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace paramscope::engine::kernels {

inline std::unique_ptr<float[]> scratch(std::int64_t n) {
  return std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(n > 0 ? n : 1));
}

}  // namespace paramscope::engine::kernels
