// A batch sample and its attribution map as the overlay scene's data: the input split into a
// display image (its spatial axes) and channels (the other axes after the batch), the map summed
// over those channels when it has the input's shape (RISE maps already hold one value per spatial
// position). Shared by the GUI's Attributions tab and `paramscope-cli attribute`.
#pragma once

#include <cstdint>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/figures/attribution_scene.h"

namespace paramscope::figures {

struct AttributionImage {
  AttributionInput input;
  AttributionMap map;
};

/// Sample b of the batch x ([N, ...], any float type) with its map (x's shape, or [N, *spatial
/// sizes]), over the given spatial axes (one or two of x's axes, see xai::spatial_axes): three
/// channels are shown in RGB, any other number as their mean in grey; a 1-D sample becomes a
/// 1 x F strip.
/// throws Error(Usage) for more than two spatial axes, a sample out of range, or a map that fits
/// neither x's shape nor its spatial sizes.
AttributionImage attribution_image(const Array& x, const Array& map, std::int64_t b, const std::vector<int>& axes);

}  // namespace paramscope::figures
