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
  std::string name;           ///< tensor name, block name, or "(all)"
  std::int64_t elements = 0;
  double spearman = 0;        ///< Spearman rank correlation (average ranks for ties); NaN if undefined
  double topk_jaccard = 0;    ///< |topk(a) ∩ topk(b)| / |topk(a) ∪ topk(b)|, top fraction per unit
};

struct CriteriaComparison {
  double top_fraction = 0.1;
  std::vector<CriteriaAgreement> tensors;  ///< in field order
  std::vector<CriteriaAgreement> blocks;   ///< per block (TensorPlace::block), in model order
  CriteriaAgreement overall;
};

/// Compares two fields over the same tensors (same names and shapes, in the same order).
/// Elements where either score is NaN are left out. Exact for every tensor size, with memory
/// bounded by the largest unit compared (block units rank all their elements together).
/// throws Error(Usage) if the fields do not match, Error(Cancelled).
CriteriaComparison compare_criteria(const ScoreField& a, const ScoreField& b, double top_fraction, ThreadPool& pool,
                                    const JobControl& control = {});

}  // namespace paramscope
