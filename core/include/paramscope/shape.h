// Tensor shapes, row-major, outermost dimension first (as numpy and PyTorch print them).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace paramscope {

using Shape = std::vector<std::int64_t>;

/// Product of the dimensions; nullopt if a dimension is negative or the product overflows.
std::optional<std::int64_t> checked_numel(std::span<const std::int64_t> shape) noexcept;

/// Product of dimensions known to be valid (shapes held by a Tensor always are).
std::int64_t numel(std::span<const std::int64_t> shape) noexcept;

/// "[4096, 11008]"
std::string shape_string(std::span<const std::int64_t> shape);

}  // namespace paramscope
