// Comparing two importance criteria on the same tensors: do they rank weights alike, and do
// their top-k sets overlap?
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "paramscope/jobs.h"
#include "paramscope/score_field.h"

namespace paramscope {

struct CriteriaAgreement {
  std::string name;           ///< tensor name, block name ("" for tensors outside any block), or "(all)"
  std::int64_t elements = 0;  ///< elements compared (both scores are numbers)
  /// Spearman rank correlation: the Pearson correlation of average ranks (ties share the mean of
  /// their ranks), as scipy.stats.spearmanr. NaN if undefined (fewer than 2 elements, or one
  /// side all equal).
  double spearman = 0;
  /// |topk(a) ∩ topk(b)| / |topk(a) ∪ topk(b)| with k = round(top_fraction * elements) and ties
  /// at the boundary kept in stream order, as masks keep them. Always exact. NaN when k = 0.
  double topk_jaccard = 0;
  /// False when spearman is approximate: a unit larger than the in-memory limit (2^25 elements)
  /// whose scores have more distinct values than its rank histograms resolve; values sharing a
  /// fine bin then get the bin's average rank as if tied. Such bins are sized to hold about
  /// elements / 2^20 values each, so ranks are off by at most that much (|error| of the
  /// correlation below 1e-6 for a 7B model). Units whose scores come from 16-bit weights are
  /// always resolved, so exact.
  bool exact = true;
};

struct CriteriaComparison {
  double top_fraction = 0.1;
  std::vector<CriteriaAgreement> tensors;  ///< in field order
  std::vector<CriteriaAgreement> blocks;   ///< per block (TensorPlace::block), in model order (block_rank)
  CriteriaAgreement overall;               ///< named "(all)"
};

/// Compares two fields over the same tensors (same names and shapes, in the same order).
/// Elements where either score is NaN are left out. A block ranks all its tensors' elements
/// together, as does the overall unit. Units up to 2^25 elements are ranked exactly in memory
/// (20 bytes per element, 640 MiB at most); larger ones with two-level rank histograms streamed
/// three or four times (see CriteriaAgreement::exact), with memory bounded whatever the model
/// size. Results do not depend on the number of threads (integer sums throughout).
/// throws Error(Usage) if the fields do not match or top_fraction is outside [0, 1],
/// Error(Cancelled), and what reading the scores throws.
CriteriaComparison compare_criteria(const ScoreField& a, const ScoreField& b, double top_fraction, ThreadPool& pool,
                                    const JobControl& control = {});

}  // namespace paramscope
