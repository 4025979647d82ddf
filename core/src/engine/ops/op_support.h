// Small helpers shared by the operator files: axes, integer inputs, element-size copies.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/op_registry.h"

namespace paramscope::engine {

/// axis in [-rank, rank) as an index in [0, rank); fails naming `what` otherwise.
inline std::size_t normalize_axis(const NodeContext& ctx, std::int64_t axis, std::size_t rank,
                                  const char* what = "axis") {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r)
    ctx.fail(std::string(what) + " " + std::to_string(axis) + " is outside [" + std::to_string(-r) + ", " +
             std::to_string(r) + ") for rank " + std::to_string(rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

/// The values of an INT64 or INT32 tensor of rank 0 or 1 (shapes, axes, indices given as inputs).
inline std::vector<std::int64_t> int_values(const NodeContext& ctx, const Array& a, const char* what) {
  if (a.rank() > 1) ctx.fail(std::string(what) + " must be a 1-D tensor, it has shape " + shape_string(a.shape()));
  std::vector<std::int64_t> v(static_cast<std::size_t>(a.size()));
  if (a.type() == DType::I64) {
    if (!v.empty()) std::memcpy(v.data(), a.bytes(), v.size() * sizeof(std::int64_t));
  } else if (a.type() == DType::I32) {
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = a.data<std::int32_t>()[i];
  } else {
    ctx.fail(std::string(what) + " must be INT64 or INT32, it is " + std::string(dtype_name(a.type())));
  }
  return v;
}

inline std::string type_text(DType t) {
  return std::string(dtype_name(t));
}

/// Element size of a plain type in bytes.
inline std::size_t elem_bytes(DType t) {
  return dtype_info(t).block_bytes;
}

}  // namespace paramscope::engine
