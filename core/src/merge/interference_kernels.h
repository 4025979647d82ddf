// The per-element loops of the interference analysis over one chunk of one tensor, built for AVX2
// and for baseline x86-64 (picked at load time). Each runs over the chunk's arrays one metric
// family at a time so that it vectorises; the double sums keep a fixed lane order, so results do
// not depend on which build runs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "paramscope/interference.h"

namespace paramscope::interference_detail::kernels {

/// t[j] -= b[j] (x becomes tau).
void subtract(float* t, const float* b, std::size_t n) noexcept;

/// NaN entries of t become 0 (a NaN delta counts as zero).
void zero_nans(float* t, std::size_t n) noexcept;

/// |t[j]| (t holds no NaN).
void magnitudes(const float* t, std::size_t n, float* out) noexcept;

/// Adds one model's sq, abs and nonzero over t (no NaN) and the count of its top marks.
void add_model_sums(const float* t, const std::uint8_t* top, std::size_t n, ModelSums& s) noexcept;

/// Adds a pair's sums over t_a, t_b (no NaN) and their top marks (0 or 1).
void add_pair_sums(const float* a, const float* b, const std::uint8_t* top_a, const std::uint8_t* top_b, std::size_t n,
                   PairSums& s) noexcept;

/// Per entry, how many models have a positive and a negative delta, over all models and over
/// the kept (top) ones: the counters are bumped by one model's t and top marks.
struct SignCounts {
  std::uint16_t* pos;
  std::uint16_t* neg;
  std::uint16_t* top_pos;
  std::uint16_t* top_neg;
};
void count_signs(const float* t, const std::uint8_t* top, std::size_t n, const SignCounts& c) noexcept;

/// Entries where model t's kept delta meets a non-zero delta of the opposite sign.
std::int64_t top_conflicts(const float* t, const std::uint8_t* top, std::size_t n, const SignCounts& c) noexcept;

/// Adds the group sums of n entries from the finished counters.
void add_group_sums(const SignCounts& c, std::size_t n, GroupSums& g) noexcept;

}  // namespace paramscope::interference_detail::kernels
