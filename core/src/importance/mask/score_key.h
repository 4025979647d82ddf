// Order-preserving integer keys of float scores, and the keep rule every top-k selection shares
// (masks, comparisons): selection works on keys so that histograms, ties and NaN have one meaning.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>

namespace paramscope::mask {

/// A uint32 whose unsigned order is the float order. -0 and +0 share a key (they compare equal,
/// so they are ties), and NaN gets key 0, below every number: keys of non-NaN values lie in
/// [key(-inf), key(+inf)] = [0x007FFFFF, 0xFF800000], so 0 and 0xFFFFFFFF are never such keys.
/// Branch-free (selects only), so loops over it vectorise.
inline std::uint32_t score_key(float x) noexcept {
  std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  u = (u << 1) == 0 ? 0u : u;
  // Negative: all bits flipped; positive: the sign bit set.
  const std::uint32_t flip = static_cast<std::uint32_t>(static_cast<std::int32_t>(u) >> 31) | 0x80000000u;
  return nan ? 0u : u ^ flip;
}

/// The float of a non-NaN key (+0 for the key of zero).
inline float key_score(std::uint32_t k) noexcept {
  return std::bit_cast<float>((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}

/// How many elements equal to a streamed selection's k-th key are still to be kept. Writers
/// consume it in stream order, so a selection never has to find where its last tie lies.
struct TieBudget {
  std::int64_t needed = 0;
  std::int64_t left = 0;
};

/// The keep rule of one selection unit: an element is kept iff its key is above `key`, or equal
/// to it at a position <= last_tie (positions count in the unit's stream order: tensor by tensor,
/// row-major). Ties at the boundary are so kept first come, first kept, and exactly k are kept.
/// A cut with `ties` set keeps the first ties->left ties it meets in stream order instead
/// (last_tie is then unused); one budget is shared by every tensor of a global selection.
struct Cut {
  std::uint32_t key = 0xFFFFFFFFu;
  std::int64_t last_tie = -1;
  std::shared_ptr<TieBudget> ties;

  /// For cuts without a budget (in-memory selections).
  bool keeps(std::uint32_t k, std::int64_t pos) const noexcept { return k > key || (k == key && pos <= last_tie); }

  static Cut none() noexcept { return {}; }
  /// Every non-NaN element (NaN's key 0 is not above 0, and no tie is allowed).
  static Cut all() noexcept { return {0, -1, nullptr}; }
  /// Scores >= t.
  static Cut at_least(float t) noexcept { return {score_key(t), std::numeric_limits<std::int64_t>::max(), nullptr}; }
  /// The same rule seen from a sub-range that starts at unit position `offset`.
  Cut shifted(std::int64_t offset) const noexcept {
    if (ties || last_tie == std::numeric_limits<std::int64_t>::max() || last_tie < 0) return *this;
    return {key, last_tie >= offset ? last_tie - offset : -1, nullptr};
  }
};

/// k for "keep this fraction of n": the nearest count, halves rounded up (std::llround), so
/// 25 % of 10 keeps 3.
inline std::int64_t fraction_count(double fraction, std::int64_t n) noexcept {
  return static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(n)));
}

}  // namespace paramscope::mask
