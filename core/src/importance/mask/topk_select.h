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
  Cut cut;                         ///< in unit positions
  std::int64_t kept = 0;           ///< min(k, non-NaN elements)
  std::int64_t ties_kept = 0;      ///< kept elements equal to the threshold
  std::optional<float> threshold;  ///< the smallest kept score (the k-th largest); none if nothing kept
};

/// The k largest scores of the unit `reader` (NaN never kept; ties at the boundary kept in unit
/// order until k is met). Memory: a few 65536-bin histograms per thread, whatever the unit size.
///
/// Pass 1 histograms the high 16 bits of the keys and finds the bin b holding the k-th largest.
/// When every key has the same low 16 bits (scores of bf16 weights, |w| of them), b holds one key
/// and that is the k-th; otherwise pass 2 histograms the low 16 bits inside b. If only some of
/// the elements equal to the k-th key are kept, the cut carries a tie budget that whoever applies
/// it spends in stream order (mask_rules.h), so no pass has to find the last kept tie.
TopkResult select_topk_streamed(const RangeReader& reader, std::int64_t chunk_elems, std::int64_t k, ThreadPool& pool,
                                StagedProgress& progress);

/// The same selection over values in memory (positions are indices into v; the cut has no
/// budget). `scratch` is reused.
TopkResult select_topk_memory(std::span<const float> v, std::int64_t k, std::vector<std::uint32_t>& scratch);

}  // namespace paramscope::mask
