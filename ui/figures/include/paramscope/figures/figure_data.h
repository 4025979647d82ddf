// What the charts show, computed from core results without drawing, so that the GUI and
// `paramscope-cli render` give the same figure and tests can check the numbers alone.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "paramscope/checkpoint.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/figures/surface_scene.h"
#include "paramscope/importance.h"
#include "paramscope/pyramid.h"

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

/// A tensor's heightfield for the 3-D view: the pyramid's whole matrix as at most max_rows x
/// max_cols grid points, each the reduction (max-abs or mean; a reduction the pyramid lacks falls
/// back to the one it has) over the elements of its cell, read from the pyramid's coarse levels
/// (no pass over the tensor). Axes "row", "column", "value" in element indices.
/// throws Error(Usage) for max_rows or max_cols outside 1..SurfaceScene::kMaxSide.
SurfaceGrid surface_of_pyramid(const TensorPyramid& pyramid, int max_rows = 512, int max_cols = 512,
                               PyramidReduction reduction = PyramidReduction::MaxAbs);

/// The module kinds (module_kind_name: "mlp.down", "attn.q", ...) that have per-neuron maps in
/// maps (granularity row, column or head), in order of first appearance; empty for other
/// granularities.
std::vector<std::string> surface_kinds(const ReducedMaps& maps, const Checkpoint& checkpoint);

/// Importance over (block, neuron) for one module kind: one grid row per block that has a map of
/// that kind (in hierarchy order, labelled like the profile's blocks), one column per neuron
/// (output neurons for row granularity, inputs for column, heads for head). Maps shorter than the
/// longest are padded with NaN; two tensors of the kind in one block (weight and bias) keep the
/// one with the larger score (maps.reduction), as profile_of() does. A grid larger than max_rows x
/// max_cols is reduced through a TensorPyramid of it (reduction per cell).
/// throws Error(Usage) for granularities without neuron maps and for a kind with no maps (naming
/// the kinds there are).
SurfaceGrid surface_of_neurons(const ReducedMaps& maps, const Checkpoint& checkpoint, std::string_view kind,
                               int max_rows = 512, int max_cols = 512,
                               PyramidReduction reduction = PyramidReduction::MaxAbs);

}  // namespace paramscope::figures
