// The selection behind write_mask / select_mask: one rule per tensor plus the summary.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "importance/mask/mask_rules.h"
#include "importance/mask/unit_stream.h"
#include "paramscope/mask.h"

namespace paramscope::mask {

struct MaskPlan {
  std::vector<TensorRule> rules;
  MaskSummary summary;  ///< kept/total overall always; per tensor only if tensor_counts
  bool tensor_counts = false;
};

/// Streaming passes a spec usually takes before writing (for the progress total).
std::uint64_t planned_passes(const MaskSpec& spec);

/// throws Error(Usage) for a spec out of range or one that cannot apply to a tensor of the field.
void check_spec(const ScoreField& field, const MaskSpec& spec);

/// Streams what the spec needs (see topk_select.h) and returns the rules. Per-tensor counts of a
/// global top-k cost one more pass over part of the scores when asked for and not free; the
/// writer asks not, and counts as it writes.
MaskPlan plan_mask(const ScoreField& field, const MaskSpec& spec, ThreadPool& pool, StagedProgress& progress,
                   const MaskTuning& tuning, bool need_tensor_counts);

MaskSummary select_mask(const ScoreField& field, const MaskSpec& spec, ThreadPool& pool, const JobControl& control,
                        const MaskTuning& tuning);

MaskSummary write_mask(const std::filesystem::path& path, const ScoreField& field, const MaskSpec& spec, DType dtype,
                       ThreadPool& pool, const JobControl& control,
                       const std::vector<std::pair<std::string, std::string>>& metadata, const MaskTuning& tuning);

}  // namespace paramscope::mask
