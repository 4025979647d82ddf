// Internals of the interference analysis, shared with the tests: the analysis with a chosen chunk
// size and the log10 |tau| binning of the magnitude histograms.
#pragma once

#include <cstdint>
#include <vector>

#include "paramscope/interference.h"

namespace paramscope::interference_detail {

/// Elements per task of the streamed pass (and per partial sum: results depend on it only in
/// the last bits of the doubles, never on the thread count).
inline constexpr std::int64_t kDefaultChunk = std::int64_t{1} << 16;

/// analyze_interference with `chunk` elements per task (tests use tiny ones).
InterferenceReport analyze(const Checkpoint& base, const std::vector<const Checkpoint*>& models,
                           const InterferenceOptions& options, ThreadPool& pool, const JobControl& control,
                           std::int64_t chunk);

/// Bin of |v| in a MagnitudeHistogram's layout without a log10 per value: bin = the number of
/// edges 10^(lo + (hi - lo) k / bins), k = 1 .. bins - 1, that are <= |v| (compared in double).
/// A table over the top 16 bits of the float gives the bin of the smallest value sharing them,
/// and whether an edge lies inside that range (a range spans 0.8 %); only then is |v| compared,
/// with the edge rounded up to a float, which gives the double comparison's answer.
class MagnitudeBinner {
 public:
  explicit MagnitudeBinner(const MagnitudeHistogram& layout);
  /// Adds v (a delta) to h: NaN to nans, 0 to zeros, else to its bin.
  void add(MagnitudeHistogram& h, float v) const noexcept;
  /// add() of v[0, n).
  void add(MagnitudeHistogram& h, const float* v, std::size_t n) const noexcept;
  std::size_t bin(float magnitude) const noexcept;  ///< magnitude > 0, not NaN

 private:
  static constexpr std::uint32_t kCheck = 1u << 16;
  /// The bin of |v| (a = its bits without the sign), or bins for 0, bins + 1 for NaN.
  std::size_t slot(std::uint32_t a) const noexcept {
    const std::uint32_t e = table_[a >> 16];
    return (e & kCheck) ? checked_slot(a, e & 0xFFFFu) : e;
  }
  [[gnu::noinline]] std::size_t checked_slot(std::uint32_t a, std::size_t b) const noexcept;
  std::vector<float> edges_;          // edges_[k] = lower edge of bin k rounded up to a float (edges_[0] unused)
  std::vector<std::uint32_t> table_;  // slot | kCheck (an edge inside the key's range, or 0 or inf)
};

}  // namespace paramscope::interference_detail
