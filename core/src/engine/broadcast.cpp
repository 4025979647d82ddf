#include "engine/broadcast.h"

#include <algorithm>

namespace paramscope::engine {

std::optional<Dims> broadcast_shapes(std::span<const Dims> shapes) {
  std::size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Dims out(rank, 1);
  for (const auto& s : shapes) {
    const std::size_t shift = rank - s.size();
    for (std::size_t i = 0; i < s.size(); ++i) {
      std::int64_t& o = out[shift + i];
      const std::int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o != 1) return std::nullopt;
      o = d;  // includes 0: a 1 broadcasts to an empty dimension
    }
  }
  return out;
}

std::optional<Dims> broadcast_shapes(const Dims& a, const Dims& b) {
  const Dims both[] = {a, b};
  return broadcast_shapes(both);
}

Dims contiguous_strides(const Dims& shape) {
  Dims s(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

Dims broadcast_strides(const Dims& shape, const Dims& out) {
  Dims s(out.size(), 0);
  const std::size_t shift = out.size() - shape.size();
  std::int64_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    s[shift + i] = shape[i] == 1 && out[shift + i] != 1 ? 0 : stride;
    stride *= shape[i];
  }
  return s;
}

StridedWalker::StridedWalker(const Dims& shape, std::vector<Dims> strides) {
  const std::size_t n = strides.size();
  run_stride_.assign(n, 0);
  // Drop size-1 dimensions, then merge neighbours that every operand steps through alike.
  Dims dims;
  std::vector<Dims> st(n);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;  // nothing to visit: run_ stays 0
    if (shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (std::size_t k = 0; k < n && merge; ++k) merge = st[k].back() == strides[k][d] * shape[d];
    if (merge) {
      dims.back() *= shape[d];
      for (std::size_t k = 0; k < n; ++k) st[k].back() = strides[k][d];
    } else {
      dims.push_back(shape[d]);
      for (std::size_t k = 0; k < n; ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (dims.empty()) {
    run_ = 1;
  } else {
    run_ = dims.back();
    dims.pop_back();
    for (std::size_t k = 0; k < n; ++k) {
      run_stride_[k] = st[k].back();
      st[k].pop_back();
    }
  }
  outer_ = std::move(dims);
  strides_ = std::move(st);
}

void sum_to_shape(const float* src, const Dims& from, float* dst, const Dims& to) {
  std::int64_t n = 1;
  for (const auto d : to) n *= d;
  std::fill(dst, dst + n, 0.0f);
  const Dims shapes[] = {to};
  // Operand 0 is the contiguous source; operand 1 the destination read with broadcast strides.
  const StridedWalker w = broadcast_walker(from, shapes);
  const std::int64_t run = w.run(), ss = w.run_stride(0), ds = w.run_stride(1);
  w.for_each([&](const std::int64_t* off) {
    const float* s = src + off[0];
    float* d = dst + off[1];
    if (ds == 0) {
      float acc = 0;
      for (std::int64_t i = 0; i < run; ++i) acc += s[i * ss];
      *d += acc;
    } else {
      for (std::int64_t i = 0; i < run; ++i) d[i * ds] += s[i * ss];
    }
  });
}

StridedWalker broadcast_walker(const Dims& out, std::span<const Dims> inputs) {
  std::vector<Dims> strides;
  strides.reserve(inputs.size() + 1);
  strides.push_back(contiguous_strides(out));
  for (const auto& s : inputs) strides.push_back(broadcast_strides(s, out));
  return StridedWalker(out, std::move(strides));
}

}  // namespace paramscope::engine
