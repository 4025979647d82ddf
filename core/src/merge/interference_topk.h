// Every model's exact top-k of one tensor for the interference analysis, streamed: histogram
// refinement over all models at once in each pass, never a sort and no per-element memory.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "paramscope/jobs.h"

namespace paramscope::interference_detail {

/// Which entries a model keeps: keys (mask::score_key of the rank value) above `key`, and of
/// those equal to it none, all, or the ones whose tie hash (merge_detail::tie_hash with
/// `tie_key`) is <= hash_last. NaN ranks are never kept.
struct TopCut {
  enum class Ties : std::uint8_t { None, All, Hashed };
  std::uint32_t key = 0xFFFFFFFFu;  ///< the default keeps nothing
  Ties ties = Ties::None;
  std::uint64_t tie_key = 0, hash_last = 0;

  /// top[j] = whether entry first + j is kept, for rank values r of n entries; returns the count.
  /// keys is scratch of n entries.
  std::size_t mark(const float* r, std::size_t n, std::int64_t first, std::uint8_t* top) const;
};

/// Fills ranks[i] (n floats) with model i's rank values of entries [first, first + n) for every
/// model with want[i]: |tau| with NaN as 0, or the model's overlap score (NaN: never kept).
/// scratch belongs to the calling task. Called from several threads at once.
using ChunkRanks = std::function<void(std::int64_t first, std::int64_t n, const std::vector<char>& want,
                                      float* const* ranks, std::vector<float>& scratch)>;

/// Passes select_top_cuts plans per tensor (progress units: numel per pass, skipped ones included).
inline constexpr std::uint64_t kSelectionPasses = 3;

/// The cut of every model's k largest rank values among numel entries (k clamped to the non-NaN
/// ones). Ties at the k-th value are taken in the order of each model's hash of the entry index,
/// with key merge_detail::tie_key(model), so that models choose among ties independently.
/// Pass 1 histograms the keys' high 16 bits, pass 2 the low 16 bits in the bin of the k-th; when
/// only some of the entries equal to the k-th are kept, pass 3 collects their hashes near where
/// the last one kept must lie (and, should it not be there, two more passes find it exactly).
/// Throws Error(Cancelled) if the job is cancelled.
struct TieWindow {
  double sigmas = 8, extra = 64;  ///< half-width: sigmas binomial deviations plus extra ties
};
std::vector<TopCut> select_top_cuts(std::size_t models, std::int64_t numel, std::int64_t k, std::int64_t chunk,
                                    const ChunkRanks& ranks, ThreadPool& pool, ProgressTracker& tracker,
                                    const TieWindow& window = {});

}  // namespace paramscope::interference_detail
