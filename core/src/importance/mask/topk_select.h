// Exact top-k of one unit of scores. Large units are streamed twice (three times in a rare case)
// with histogram refinement, never sorted; small ones (a row, a bias) are selected in memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "importance/mask/score_key.h"
#include "importance/mask/unit_stream.h"

namespace paramscope::mask {

struct TopkResult {
  Cut cut;                                   ///< in unit positions
  std::int64_t kept = 0;                     ///< min(k, non-NaN elements)
  std::int64_t ties_kept = 0;                ///< kept elements equal to the threshold
  std::optional<float> threshold;            ///< the smallest kept score (the k-th largest); none if nothing kept
  std::vector<std::int64_t> kept_per_range;  ///< when asked for: kept elements of each range
};

/// The k largest scores of the unit `reader` (NaN never kept; ties at the boundary kept in unit
/// order until k is met). Memory: a few 65536-bin histograms per thread plus a few counters per
/// chunk, whatever the unit size.
///
/// Pass 1 histograms the high 16 bits of the keys and finds the bin b holding the k-th largest;
/// pass 2 histograms the low 16 bits inside b, which gives the exact k-th key t, and counts per
/// chunk how many elements fall in b. If only some of the elements equal to t are kept, the
/// chunk holding the last kept one is found from per-chunk tie counts (the counts of b when b
/// holds the single key t, as for scores of bf16 weights; else from pass 3 over the chunks that
/// touch b) and scanned. Pass 3 also runs when per-range counts are asked for and b holds
/// several keys.
TopkResult select_topk_streamed(const RangeReader& reader, std::int64_t chunk_elems, std::int64_t k,
                                bool per_range_counts, ThreadPool& pool, StagedProgress& progress);

/// The same selection over values in memory (positions are indices into v). `scratch` is reused.
TopkResult select_topk_memory(std::span<const float> v, std::int64_t k, std::vector<std::uint32_t>& scratch);

}  // namespace paramscope::mask
