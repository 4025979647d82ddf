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
/// A table over the top 16 bits of the float gives the bin of the smallest value sharing them;
/// one comparison fixes values past an edge inside that range (a range spans 0.8 %, a bin 10^0.1).
class MagnitudeBinner {
 public:
  explicit MagnitudeBinner(const MagnitudeHistogram& layout);
  /// Adds v (a delta) to h: NaN to nans, 0 to zeros, else to its bin.
  void add(MagnitudeHistogram& h, float v) const noexcept;
  std::size_t bin(float magnitude) const noexcept;  ///< magnitude > 0, not NaN

 private:
  std::vector<double> edges_;  // edges_[k] = lower edge of bin k (edges_[0] unused)
  std::vector<std::uint16_t> table_;
};

}  // namespace paramscope::interference_detail
