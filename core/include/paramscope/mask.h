// Binary masks selected from element scores: top-k (globally, per tensor, per output row),
// N:M structured, or a threshold. Exact: the k-th value is found by histogram refinement over
// streamed chunks, never by sorting all parameters at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "paramscope/dtype.h"
#include "paramscope/jobs.h"
#include "paramscope/score_field.h"

namespace paramscope {

enum class MaskScope : std::uint8_t {
  Global,     ///< top-k over every scored element together
  Tensor,     ///< top-k within each tensor
  Row,        ///< top-k within each output row (dim 0 of the tensor; Wanda's comparison group)
  NM,         ///< keep N of every M consecutive weights along the input dimension (2:4, 4:8)
  Threshold,  ///< keep scores >= threshold
};

/// How many to keep. Exactly one of fraction / count applies (count when >= 0).
struct MaskSpec {
  MaskScope scope = MaskScope::Global;
  double fraction = 0.1;     ///< keep this fraction of each scope unit, rounded to the nearest count
  std::int64_t count = -1;   ///< keep exactly this many per scope unit (global: in total)
  int n = 2, m = 4;          ///< NM scope
  double threshold = 0;      ///< Threshold scope

  /// Parses "--top" values ("10%", "0.1", "5000") and scopes ("global", "tensor", "row", "2:4",
  /// "threshold"). throws Error(Usage) with the accepted forms.
  static MaskSpec parse(std::string_view top, std::string_view scope);
  std::string describe() const;  ///< "top 10% global", "2:4"
};

/// Per-tensor outcome (density = kept / total).
struct MaskTensorSummary {
  std::string name;
  std::int64_t kept = 0, total = 0;
  double density() const { return total ? static_cast<double>(kept) / static_cast<double>(total) : 0; }
};

struct MaskSummary {
  std::vector<MaskTensorSummary> tensors;
  std::int64_t kept = 0, total = 0;
  /// Global scope: the k-th largest score (the threshold) and how many elements equal to it were
  /// kept (ties at the boundary are kept in stream order: tensor by tensor, row-major, first
  /// come first kept, so exactly k elements are selected).
  std::optional<float> threshold;
  std::int64_t ties_kept = 0;
};

/// Selects the mask and writes it as safetensors (tensor names as in the field, dtype BOOL or U8,
/// the field's shapes; __metadata__ from `metadata` plus the spec), streaming with bounded memory.
/// NaN scores are never kept. throws Error(Usage) for a spec that cannot apply (N:M on a tensor
/// whose input dimension is not a multiple of M; dtype not BOOL/U8), Error(Cancelled), Error(Io).
MaskSummary write_mask(const std::filesystem::path& path, const ScoreField& field, const MaskSpec& spec,
                       DType dtype, ThreadPool& pool, const JobControl& control = {},
                       const std::vector<std::pair<std::string, std::string>>& metadata = {});

/// The same selection without writing: the summary plus, for small fields, nothing else.
/// (Used by comparisons and previews.) throws as write_mask.
MaskSummary select_mask(const ScoreField& field, const MaskSpec& spec, ThreadPool& pool, const JobControl& control = {});

}  // namespace paramscope
