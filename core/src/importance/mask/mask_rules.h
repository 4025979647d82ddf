// What decides each element of a mask: one rule per tensor, applied to any range of the tensor
// to count kept elements or to produce the mask bytes as a writer asks for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "importance/mask/score_key.h"
#include "jobs/chunk_stream.h"
#include "paramscope/jobs.h"
#include "paramscope/score_field.h"

namespace paramscope::mask {

/// Sizes that trade memory for passes (tests shrink them to reach every path with small data).
struct MaskTuning {
  std::int64_t chunk = kDefaultChunk;  ///< elements per streamed chunk
  std::int64_t memory_unit = 1 << 20;  ///< top-k units (tensors, rows) up to this size are selected in memory
};

enum class RuleKind : std::uint8_t {
  Cut,      ///< one cut for the whole tensor (global, per tensor, threshold, N:M's kept-whole tensors)
  Rows,     ///< top row_k of each row, selected in memory whenever the row is read (rows <= memory_unit)
  RowCuts,  ///< one stored cut per row (rows too long to select in memory)
  NM,       ///< N of every M along dim 1
};

struct TensorRule {
  RuleKind kind = RuleKind::Cut;
  Cut cut;                    ///< Cut: positions within the tensor
  std::int64_t row_len = 0;   ///< Rows, RowCuts
  std::int64_t row_k = 0;     ///< Rows
  std::vector<Cut> row_cuts;  ///< RowCuts: positions within the row
  std::int64_t stride = 0;    ///< NM: distance between neighbours along dim 1 (product of dims 2..)
  int n = 0, m = 0;           ///< NM
};

/// Applies tensor i's rule to elements [begin, end): writes 0/1 bytes to out[0, end - begin) if
/// out is not null, returns how many are kept, and advances tracker (if any) by end - begin.
/// Runs in parallel on the pool with memory bounded by the rule's unit (a row, an N:M slab).
/// Spends the tie budgets of the rule's cuts: apply rules to a unit's elements once each, in
/// stream order (tensor by tensor, ranges in order), after reset_tie_budgets.
std::int64_t apply_rule(const ScoreField& field, std::size_t i, const TensorRule& rule, std::int64_t begin,
                        std::int64_t end, std::byte* out, ThreadPool& pool, ProgressTracker* tracker);

/// Refills every tie budget of the rules, so that they can be applied again from the start.
void reset_tie_budgets(std::vector<TensorRule>& rules);

}  // namespace paramscope::mask
