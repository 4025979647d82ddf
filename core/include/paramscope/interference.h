// Where fine-tuned models interfere: task vectors tau_i = theta_i - theta_base compared pairwise
// and all together, per tensor, per block and overall, streamed tensor by tensor (never a whole
// model in memory); and element maps of one tensor (TIES-style conflicts, dominant model, what a
// merge method keeps). docs/merging.md defines every metric.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "paramscope/jobs.h"
#include "paramscope/merge.h"
#include "paramscope/shape.h"

namespace paramscope {

class Checkpoint;
class ScoreField;

struct InterferenceOptions {
  /// Fraction of each tensor's entries that counts as a model's top-k (by |tau_i|, or by the
  /// model's overlap score when given), in (0, 1].
  double top_fraction = 0.2;
  /// Glob patterns on tensor names; empty: every floating-point tensor of the base.
  std::vector<std::string> include, exclude;
  /// Optional, one per fine-tuned model: the scores whose top-k the overlap (Jaccard) and the
  /// top-k conflict rates use instead of |tau_i| (any importance map). Its tensors are matched to
  /// the base's by name; a tensor missing from a field falls back to |tau_i|.
  std::vector<std::shared_ptr<const ScoreField>> overlap_scores;
};

/// Sums from which pairwise metrics are formed, so tensors add up to blocks and to the model.
struct PairSums {
  double dot = 0;            ///< sum tau_a * tau_b
  double sq_a = 0, sq_b = 0; ///< sum tau_a^2, sum tau_b^2
  double sq_diff = 0;        ///< sum (tau_a - tau_b)^2
  std::int64_t both_nonzero = 0;   ///< entries where tau_a != 0 and tau_b != 0
  std::int64_t sign_conflicts = 0; ///< ... of which the signs differ
  std::int64_t top_both = 0;            ///< entries in the top-k of a and of b
  std::int64_t top_either = 0;          ///< entries in the top-k of a or of b
  std::int64_t top_both_conflicts = 0;  ///< entries in both top-k with deltas of opposite sign

  PairSums& operator+=(const PairSums& o) noexcept;
};

/// Pairwise metrics of task vectors a and b over some set of entries.
struct PairMetrics {
  std::size_t a = 0, b = 0;  ///< model indices, a < b
  PairSums sums;
  double cosine() const noexcept;           ///< dot / (|a| |b|); NaN if either is all zero
  double l2_distance() const noexcept;      ///< |tau_a - tau_b|
  double sign_conflict() const noexcept;    ///< sign_conflicts / both_nonzero (NaN if none)
  double top_conflict() const noexcept;     ///< top_both_conflicts / top_both (NaN if none)
  double jaccard() const noexcept;          ///< top_both / top_either (NaN if both empty)
  double magnitude_ratio() const noexcept;  ///< |tau_a| / |tau_b| (inf if only b is all zero, NaN if both are)
};

/// Per-model sums over some set of entries.
struct ModelSums {
  double sq = 0;          ///< sum tau_i^2
  double abs = 0;         ///< sum |tau_i|
  std::int64_t nonzero = 0;
  std::int64_t top = 0;            ///< entries in this model's top-k
  std::int64_t top_conflicts = 0;  ///< of those, entries where another model's non-zero delta has the opposite sign

  ModelSums& operator+=(const ModelSums& o) noexcept;
};

/// All models at once over some set of entries.
struct GroupSums {
  std::int64_t entries = 0;
  std::int64_t multi_nonzero = 0;   ///< entries where two or more models have a non-zero delta
  std::int64_t sign_conflicts = 0;  ///< ... of which the non-zero deltas do not all share one sign
  /// Entries where, after each model keeps its top-k, two or more kept deltas are non-zero, and
  /// of those the ones whose kept deltas disagree in sign (the conflicts TIES resolves).
  std::int64_t top_multi = 0, top_conflicts = 0;

  GroupSums& operator+=(const GroupSums& o) noexcept;
  double sign_conflict() const noexcept;  ///< sign_conflicts / multi_nonzero (NaN if none)
  double top_conflict() const noexcept;   ///< top_conflicts / top_multi (NaN if none)
};

/// Metrics over one set of entries: a tensor, a block or the whole model.
struct InterferenceStats {
  std::string name;  ///< tensor name, block name ("" outside blocks) or "" for the model
  std::int64_t numel = 0;
  std::vector<ModelSums> models;  ///< per fine-tuned model
  std::vector<PairMetrics> pairs; ///< every pair a < b, in order (0,1), (0,2), ... (1,2), ...
  GroupSums group;

  InterferenceStats& operator+=(const InterferenceStats& o);
};

/// Histogram of log10 |tau_i| of one model over every analysed entry: bins of equal width in
/// log10 between lo and hi; entries below lo (but non-zero) go to the first bin, above hi to the
/// last; exact zeros and NaN are counted apart.
struct MagnitudeHistogram {
  double log10_lo = -8, log10_hi = 1;
  std::vector<std::int64_t> counts = std::vector<std::int64_t>(90, 0);
  std::int64_t zeros = 0, nans = 0;
};

struct InterferenceReport {
  std::vector<std::string> models;            ///< the fine-tuned checkpoints' paths
  std::string base;                           ///< the base's path
  double top_fraction = 0;
  std::vector<InterferenceStats> tensors;     ///< in the base's order
  std::vector<std::string> tensor_blocks;     ///< block of each tensor
  std::vector<InterferenceStats> blocks;      ///< in model order
  InterferenceStats overall;
  std::vector<MagnitudeHistogram> magnitudes;  ///< per fine-tuned model
};

/// Checks alignment (as check_merge_alignment) and streams every selected tensor's task vectors
/// in chunks on the pool. Memory: chunk buffers and a 65536-bin histogram per model and worker
/// (the exact top-k is found by histogram refinement over a few streamed passes), whatever the
/// tensor and model sizes.
/// The result does not depend on the number of threads.
/// throws Error(Usage) for fewer than two models, top_fraction outside (0, 1] or a selection that
/// matches nothing; Error(BadInput) for misaligned models (file and tensor named); Error(Io);
/// Error(Cancelled).
InterferenceReport analyze_interference(const Checkpoint& base, const std::vector<const Checkpoint*>& models,
                                        const InterferenceOptions& options, ThreadPool& pool,
                                        const JobControl& control);

/// Element maps of one tensor, each with the tensor's shape, row-major.
struct ElementInterference {
  std::string tensor;
  Shape shape;
  std::size_t model_count = 0;
  /// TIES-style, after each model keeps its top-k by |tau| at `density` of the preview params:
  /// the elected sign as TIES elects it (+1 where the sum of kept deltas times their weights is
  /// >= 0, mergekit's rule, so a tie elects +; -1 where it is < 0; 0 where no kept delta is
  /// non-zero) ...
  std::vector<std::int8_t> elected_sign;
  /// ... and how many models' kept non-zero deltas have the opposite sign.
  std::vector<std::uint8_t> disagree;
  /// Index of the model with the largest |tau_i| (ties: lowest index); -1 where every delta is 0.
  std::vector<std::int8_t> dominant;
  /// Bit i set: model i's delta contributes to the merged value under the preview method
  /// (survives its sparsification and, for sign-electing methods, agrees with the elected sign).
  std::vector<std::uint32_t> contributes;
  /// The merged task vector under the preview method (merged - base).
  std::vector<float> merged_delta;
};

/// Computes the element maps of `tensor` for a merge method with the given parameters (the
/// preview; per-tensor settings are resolved for `tensor`). Two to 32 models.
/// throws Error(Usage) for an unknown tensor, fewer than two or more than 32 models, bad
/// parameters or an importance_weighted preview (it needs importance maps);
/// Error(BadInput) if a model lacks the tensor or has another shape; Error(Io); Error(Cancelled).
ElementInterference element_interference(const Checkpoint& base, const std::vector<MergeInput>& models,
                                         const std::string& tensor, const MergeParams& preview,
                                         ThreadPool& pool, const JobControl& control);

}  // namespace paramscope
