// Pieces shared by the criteria: finding auxiliary tensors (base weights, statistics) and reading
// them range by range alongside the weights.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "paramscope/importance.h"

namespace paramscope::criteria {

/// A per-thread scratch buffer (slot 0..3) of at least n floats.
std::span<float> scratch(int slot, std::size_t n);

/// The base model's tensor of the same name and shape. throws Error(Usage) naming both.
const Tensor& base_tensor(const Tensor& weight, const CriterionInputs& in, const std::string& criterion);

/// The statistics tensor "<weight>@<kind>" with the given shape. throws Error(Usage) if the
/// statistics file is missing, lacks it, or its shape differs.
const Tensor& stats_tensor(const Tensor& weight, const Checkpoint* stats, const std::string& kind, const std::vector<Shape>& accepted,
                           const std::string& criterion);

/// 1 / the "samples" count of a statistics file's metadata (1 when absent), to turn sums into means.
double inverse_samples(const Checkpoint& stats);

/// A criterion parameter as a number. throws Error(Usage) if it is not one.
double param_number(const CriterionInputs& in, const CriterionInfo& info, const std::string& key);
std::string param_text(const CriterionInputs& in, const CriterionInfo& info, const std::string& key);

/// Reads [first, first + out.size()) of an auxiliary tensor into out.
inline void read_aux(const Tensor& t, std::int64_t first, std::span<float> out) {
  t.read_f32(first, out);
}

}  // namespace paramscope::criteria
