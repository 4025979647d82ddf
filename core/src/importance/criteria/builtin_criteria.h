// The built-in criteria, registered in builtin_criteria.cpp.
#pragma once

#include "paramscope/importance.h"

namespace paramscope::criteria {

void add_weight_criteria(CriterionRegistry& r);     // magnitude, magnitude-sq, delta
void add_data_criteria(CriterionRegistry& r);       // wanda, taylor, fisher, obd
void add_contrast_criterion(CriterionRegistry& r);  // contrast
void add_matrix_criteria(CriterionRegistry& r);     // frobenius, weight-norm, spectral-norm, stable-rank, ...

/// Spectral criteria run their matrices one at a time (LAPACK uses every core itself).
bool is_spectral(const Criterion& c);

}  // namespace paramscope::criteria
