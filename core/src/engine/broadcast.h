// numpy-style multidirectional broadcasting (ONNX's Broadcasting.md) and a walker that visits
// every element of an output together with the matching element of each operand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace paramscope::engine {

using Dims = std::vector<std::int64_t>;

/// The shape all of `shapes` broadcast to (dimensions aligned from the right; each either equal
/// or 1), or nullopt if two of them conflict.
std::optional<Dims> broadcast_shapes(std::span<const Dims> shapes);
std::optional<Dims> broadcast_shapes(const Dims& a, const Dims& b);

/// Row-major element strides of a contiguous array of this shape.
Dims contiguous_strides(const Dims& shape);

/// Strides (in elements) that read a contiguous array of `shape` as if it had the shape `out`
/// it broadcasts to: 0 on the dimensions it repeats. out.size() >= shape.size().
Dims broadcast_strides(const Dims& shape, const Dims& out);

/// Visits an output shape in row-major order, one run of its innermost dimension at a time,
/// with each operand's element offset at the start of the run. Dimensions that are laid out
/// alike in every operand are merged first, so the same-shape case is one long run.
class StridedWalker {
 public:
  /// strides: one vector per operand, each of shape.size() entries.
  StridedWalker(const Dims& shape, std::vector<Dims> strides);

  std::size_t operands() const noexcept { return strides_.size(); }
  /// Length of every run (0 when the shape is empty of elements).
  std::int64_t run() const noexcept { return run_; }
  /// Operand k's stride along the run.
  std::int64_t run_stride(std::size_t k) const noexcept { return run_stride_[k]; }

  /// Calls f(offsets) for each run; offsets[k] is operand k's element offset.
  template <class F>
  void for_each(F&& f) const {
    if (run_ == 0) return;
    std::vector<std::int64_t> offsets(strides_.size(), 0);
    std::vector<std::int64_t> index(outer_.size(), 0);
    for (;;) {
      f(static_cast<const std::int64_t*>(offsets.data()));
      // Odometer over the outer dimensions, innermost first.
      std::size_t d = outer_.size();
      for (;;) {
        if (d == 0) return;
        --d;
        if (++index[d] < outer_[d]) {
          for (std::size_t k = 0; k < strides_.size(); ++k) offsets[k] += strides_[k][d];
          break;
        }
        for (std::size_t k = 0; k < strides_.size(); ++k) offsets[k] -= strides_[k][d] * (outer_[d] - 1);
        index[d] = 0;
      }
    }
  }

 private:
  Dims outer_;                 // sizes of the dimensions outside the run
  std::vector<Dims> strides_;  // per operand, along outer_
  std::vector<std::int64_t> run_stride_;
  std::int64_t run_ = 0;
};

/// Sums a float32 array of shape `from` over the dimensions that broadcasting added or repeated,
/// giving `to` (the gradient of an operand that was broadcast from `to` to `from`).
/// Requires that `to` broadcasts to `from`.
void sum_to_shape(const float* src, const Dims& from, float* dst, const Dims& to);

/// A walker over `out` for an output written contiguously (operand 0) and inputs of the given
/// shapes broadcast to it (operands 1..n).
StridedWalker broadcast_walker(const Dims& out, std::span<const Dims> inputs);

}  // namespace paramscope::engine
