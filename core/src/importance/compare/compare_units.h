// Agreement of two criteria over one unit (a tensor, a block, the whole model): exact ranks in
// memory for units that fit, two-level rank histograms for the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "importance/mask/unit_stream.h"
#include "paramscope/compare.h"

namespace paramscope::compare {

/// Sizes that trade memory for exactness and passes (tests shrink them to reach every path).
struct CompareTuning {
  std::int64_t chunk = kDefaultChunk;  ///< elements per streamed chunk
  std::int64_t memory_unit = 1 << 25;  ///< units up to this size are ranked exactly in memory (<= 2^29)
  std::int64_t fine_bins = 1 << 20;    ///< second-level rank bins per field for larger units
};

/// Reads the unit's tensors (whole, in order) of both fields.
struct UnitPair {
  mask::RangeReader a, b;
};

CriteriaAgreement memory_agreement(const UnitPair& unit, double top_fraction, ThreadPool& pool,
                                   mask::StagedProgress& progress, const CompareTuning& tuning);
CriteriaAgreement histogram_agreement(const UnitPair& unit, double top_fraction, ThreadPool& pool,
                                      mask::StagedProgress& progress, const CompareTuning& tuning);

CriteriaComparison compare_criteria(const ScoreField& a, const ScoreField& b, double top_fraction, ThreadPool& pool,
                                    const JobControl& control, const CompareTuning& tuning);

/// Streams the unit's chunks of both fields: fn(chunk of a, the same elements of b). Only the
/// listed chunks if `chunks` is not null.
void stream_pairs(const UnitPair& unit, const ChunkPlan& plan, const std::vector<std::size_t>* chunks, ThreadPool& pool,
                  const JobControl& control, const std::function<void(const Chunk&, std::span<const float>)>& fn);

}  // namespace paramscope::compare
