// What the charts show, computed from core results without drawing, so that the GUI and
// `paramscope-cli render` give the same figure and tests can check the numbers alone.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "paramscope/checkpoint.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/importance.h"

namespace paramscope::figures {

struct ProfileData {
  std::vector<std::string> block_labels;
  std::vector<ProfileSeries> series;  ///< one per module kind, in order of first appearance
  std::vector<std::vector<std::string>> tensors;  ///< [series][block]: the tensor behind a value ("" none)
};

/// A score per block and module kind from per-tensor summaries (maps.tensors, reduced with r):
/// blocks in hierarchy order (only those with a scored tensor); two tensors of one kind in one
/// block (weight and bias) keep the larger score.
ProfileData profile_of(const ReducedMaps& maps, const Checkpoint& checkpoint, Reduction r);

struct HistogramData {
  std::vector<double> counts;
  double lo = 0, hi = 1;
  std::size_t nan = 0;  ///< values left out (NaN, infinite)
};

/// Counts of the finite values in `bins` equal bins over [min, max] (a constant gets [v-0.5, v+0.5]).
HistogramData histogram_of(std::span<const float> values, int bins);

/// The k-th largest finite value, k = round(fraction * finite count) (at least 1): the threshold
/// a top-fraction mask of these values keeps from.
double top_fraction_threshold(std::span<const float> values, double fraction);

}  // namespace paramscope::figures
