// Binary masks selected from element scores: top-k (globally, per tensor, per output row),
// N:M structured, or a threshold. Exact: the k-th value is found by histogram refinement over
// streamed chunks, never by sorting all parameters at once.
//
// The rules every scope shares:
// - k = round(fraction * n) with halves rounded up (25 % of 10 keeps 3), or the count given,
//   clamped to n; n counts every element of the scope unit, NaN included.
// - NaN scores are never kept: they sort below every number. A unit with fewer than k numbers
//   keeps all its numbers (so kept < k).
// - -0 and +0 are equal scores (ties).
// - Ties at the boundary are kept in stream order until exactly k are kept: tensor by tensor in
//   field order, row-major within a tensor (first come, first kept).
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
  Row,        ///< top-k within each output row (dim 0; the row is every other dim flattened, so a
              ///< conv weight's rows are its output channels: Wanda's comparison group). Tensors
              ///< of rank < 2 are one row.
  NM,         ///< keep the N largest of every M consecutive weights along the input dimension
              ///< (dim 1) at fixed other indices, as NVIDIA ASP's m4n2_1d: [out, in] rows are cut
              ///< into groups of M; [out, in, kh, kw] groups M input channels at each (out, kh, kw).
              ///< Ties: lower index first. Tensors that cannot be grouped (rank < 2: biases,
              ///< norms; dim 1 not a multiple of M: a first conv on 1 or 3 channels) are kept
              ///< whole and listed (MaskTensorSummary::kept_whole), as NVIDIA ASP skips them.
  Threshold,  ///< keep scores >= threshold
};

/// How many to keep. Exactly one of fraction / count applies (count when >= 0).
struct MaskSpec {
  static constexpr int kMaxGroup = 256;  ///< largest M of N:M

  MaskScope scope = MaskScope::Global;
  double fraction = 0.1;    ///< keep this fraction of each scope unit, rounded to the nearest count
  std::int64_t count = -1;  ///< keep exactly this many per scope unit (global: in total), at most all
  int n = 2, m = 4;         ///< NM scope
  double threshold = 0;     ///< Threshold scope

  /// Parses "--top" values and scopes ("global", "tensor", "row", "N:M" such as "2:4",
  /// "threshold"). top: "10%" (a percentage), "0.1" (a fraction in [0, 1]), "5000" (a whole
  /// number is a count: "1" keeps one element, "1.0" or "100%" keeps all). For "threshold", top
  /// is the threshold (any finite number); for N:M it is ignored.
  /// throws Error(Usage) with the accepted forms.
  static MaskSpec parse(std::string_view top, std::string_view scope);
  std::string describe() const;  ///< "top 10% global", "top 5000 per row", "2:4", "score >= 0.5"
};

/// Per-tensor outcome (density = kept / total).
struct MaskTensorSummary {
  std::string name;
  std::int64_t kept = 0, total = 0;
  bool kept_whole = false;  ///< N:M: not groupable (see MaskScope::NM): every non-NaN element kept
  double density() const { return total ? static_cast<double>(kept) / static_cast<double>(total) : 0; }
};

struct MaskSummary {
  std::vector<MaskTensorSummary> tensors;
  std::int64_t kept = 0, total = 0;
  /// Global scope: the k-th largest score (the smallest kept; none if nothing is kept) and how
  /// many kept elements equal it (ties at the boundary are kept in stream order, so exactly k
  /// elements are selected). Threshold scope: the threshold. Other scopes: none.
  std::optional<float> threshold;
  std::int64_t ties_kept = 0;
};

/// Selects the mask and writes it as safetensors (tensor names as in the field, dtype BOOL or U8,
/// the field's shapes; __metadata__: "paramscope.mask" = spec.describe(), the kept/total counts,
/// threshold and ties kept where they apply, N:M tensors kept whole, then `metadata`), streaming
/// with bounded memory: mask bytes are computed from scores as the file is written, and the
/// file appears under its name only when complete. The selection streams the scores two or
/// three times before writing (once for N:M, row and threshold scopes, to count what is kept).
/// throws Error(Usage) for a spec that cannot apply (N:M on a tensor whose input dimension is
/// not a multiple of M; dtype not BOOL/U8), Error(Cancelled), Error(Io).
MaskSummary write_mask(const std::filesystem::path& path, const ScoreField& field, const MaskSpec& spec, DType dtype,
                       ThreadPool& pool, const JobControl& control = {},
                       const std::vector<std::pair<std::string, std::string>>& metadata = {});

/// The same selection without writing: the summary only. throws as write_mask.
MaskSummary select_mask(const ScoreField& field, const MaskSpec& spec, ThreadPool& pool,
                        const JobControl& control = {});

}  // namespace paramscope
