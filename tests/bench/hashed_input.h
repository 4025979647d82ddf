// The benchmarks' deterministic inputs, shared with the torch side (torch_engine.py's hashed()).
#pragma once

#include <cstdint>
#include <vector>

#include "paramscope/array.h"

namespace paramscope::bench {

/// Element i of a pseudo-random array in [-1, 1): Knuth's multiplicative hash of i + salt.
inline Array hashed(const std::vector<std::int64_t>& shape, std::uint64_t salt) {
  Array a(DType::F32, shape);
  float* p = a.data<float>();
  for (std::int64_t i = 0; i < a.size(); ++i) {
    const std::uint64_t h = ((static_cast<std::uint64_t>(i) + salt) * 2654435761ULL) % 4294967296ULL;
    p[i] = static_cast<float>(static_cast<double>(h) / 4294967296.0 * 2.0 - 1.0);
  }
  return a;
}

}  // namespace paramscope::bench
