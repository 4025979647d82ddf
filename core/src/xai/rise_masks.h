// RISE's mask generator, in pieces that tests can check one by one: the random draw of mask i
// (its binary grid and its shift), and the upsampling and cropping of a grid into a mask.
#pragma once

#include <cstdint>
#include <vector>

#include "paramscope/array.h"

namespace paramscope::xai::rise_detail {

/// The geometry shared by every mask of one generator.
struct MaskGeometry {
  std::vector<std::int64_t> sizes;  ///< the mask's size per spatial axis
  std::int64_t cells = 7;           ///< s: grid cells per axis
  std::vector<std::int64_t> cell;   ///< c = ceil(size / s) per axis
  std::int64_t grid_size() const;   ///< s^axes
  std::int64_t mask_size() const;   ///< product of sizes
};

/// throws Error(Usage) for no axes, a size < 1, cells < 1, or p outside (0, 1].
MaskGeometry geometry(const std::vector<std::int64_t>& sizes, std::int64_t cells, double p);

/// What mask i is made of: s^axes grid values (0 or 1, row-major) and a shift per axis in [0, c).
struct MaskDraw {
  std::vector<float> grid;
  std::vector<std::int64_t> shift;
};

/// The draw of mask `index` for `seed`: a splitmix64 stream keyed by (seed, index) gives first
/// the grid cells in row-major order (kept when a uniform double in [0, 1) is < p), then one
/// shift per axis (floor(u * c)). Depends on nothing else, so batches and threads do not matter.
MaskDraw draw(const MaskGeometry& g, double p, std::uint64_t seed, std::int64_t index);

/// Upsamples the grid linearly per axis to (s + 1) * c samples (skimage's resize with order=1,
/// mode='reflect': half-sample centres, source position (o + 0.5) * s / ((s + 1) c) - 0.5, and
/// neighbours outside the grid mirrored about the edge cell, index -1 -> 1, s -> s - 2), then
/// crops sizes[a] samples from shift[a]: writes mask_size() floats to out.
void upsample_crop(const MaskGeometry& g, const float* grid, const std::vector<std::int64_t>& shift, float* out);

}  // namespace paramscope::xai::rise_detail
