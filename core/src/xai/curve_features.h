// The pieces of deletion and insertion curves that tests check on their own: which feature each
// element belongs to, the order features are changed in, how many change per step, the area.
#pragma once

#include <cstdint>
#include <vector>

namespace paramscope::xai {

/// For each element of one sample of an array of `shape` (batch first, left out), the index of
/// its feature: its position over the spatial `axes`, row-major over their sizes.
std::vector<std::int64_t> feature_ids(const std::vector<std::int64_t>& shape, const std::vector<int>& axes);

/// Feature indices by decreasing value; equal values by increasing index; NaN last.
std::vector<std::int64_t> feature_order(const float* values, std::int64_t n);

/// RISE's schedule for `features` features and `steps` requested steps: `step` =
/// ceil(features / steps) features change per step, and the curve has `points` =
/// ceil(features / step) + 1 points (at most steps + 1; fewer when steps does not divide the
/// features evenly, e.g. 64 features in 10 steps: 7 per step, 11 points, the last step 1).
/// throws Error(Usage) for steps < 1.
struct CurveSteps {
  std::int64_t step = 1, points = 1;
};
CurveSteps curve_steps(std::int64_t features, std::int64_t steps);

/// The trapezoidal area under score over fraction.
double curve_auc(const std::vector<double>& fraction, const std::vector<double>& score);

}  // namespace paramscope::xai
