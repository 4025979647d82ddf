// Attribution overlays through the figures library: the GUI's attribution scene, rendered headless.
// Each sample's input is split into a display image (spatial axes) and channels (the other
// axes after the batch); the map is summed over those channels when it has the input's shape
// (RISE maps already hold one value per spatial position).
#include <cstdio>
#include <functional>
#include <string>

#include "attribution_overlays.h"
#include "paramscope/error.h"
#include "paramscope/figures/attribution_scene.h"
#include "paramscope/shape.h"

namespace paramscope::cli {
namespace {

// One sample split into channels x positions (both row-major over their axes).
struct Split {
  std::int64_t channels = 1, positions = 1;
  std::vector<std::int64_t> spatial;                  // sizes of the spatial axes
  std::vector<std::int64_t> channel_of, position_of;  // per element of a sample
};

Split split_sample(const std::vector<std::int64_t>& shape, const std::vector<int>& axes) {
  Split s;
  std::vector<bool> is_spatial(shape.size(), false);
  for (int a : axes) is_spatial[static_cast<std::size_t>(a)] = true;
  for (int a : axes) s.spatial.push_back(shape[static_cast<std::size_t>(a)]);
  for (std::size_t d = 1; d < shape.size(); ++d) (is_spatial[d] ? s.positions : s.channels) *= shape[d];
  const std::int64_t n = s.channels * s.positions;
  s.channel_of.resize(static_cast<std::size_t>(n));
  s.position_of.resize(static_cast<std::size_t>(n));
  // Walk the sample's elements in order, keeping their coordinates.
  std::vector<std::int64_t> coord(shape.size(), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t c = 0, p = 0;
    for (std::size_t d = 1; d < shape.size(); ++d) {
      if (is_spatial[d])
        p = p * shape[d] + coord[d];
      else
        c = c * shape[d] + coord[d];
    }
    s.channel_of[static_cast<std::size_t>(i)] = c;
    s.position_of[static_cast<std::size_t>(i)] = p;
    for (std::size_t d = shape.size() - 1; d >= 1; --d) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return s;
}

std::string title_of(const std::string& method, const xai::Attribution& a, std::size_t b) {
  std::string t = method;
  if (b < a.classes.size()) t += ", class " + std::to_string(a.classes[b]);
  if (b < a.score.size()) {
    char buf[48];
    std::snprintf(buf, sizeof buf, " (score %.3g)", a.score[b]);
    t += buf;
  }
  return t;
}

}  // namespace

std::vector<std::string> write_attribution_overlays(const Array& x_in, const xai::Attribution& a,
                                                    const std::string& method, const std::filesystem::path& stem,
                                                    const std::vector<int>& requested) {
  const Array x = x_in.cast(DType::F32);
  const Array m = a.map.cast(DType::F32);
  const std::vector<std::int64_t>& xs = x.shape();
  const std::vector<int> axes = xai::spatial_axes(xs, requested);
  if (axes.size() > 2) {
    static bool said = false;
    if (!said)
      std::fprintf(stderr,
                   "paramscope-cli: attribute: no PNG overlays of %zu-D inputs (only images and 1-D "
                   "features); the NPY and HDF5 files hold every map\n",
                   axes.size());
    said = true;
    return {};
  }
  const Split s = split_sample(xs, axes);
  const std::int64_t batch = xs[0];

  // The map: x's shape (summed over the channels here) or [batch, *spatial sizes].
  std::vector<std::int64_t> spatial_shape{batch};
  spatial_shape.insert(spatial_shape.end(), s.spatial.begin(), s.spatial.end());
  const bool full = m.shape() == xs;
  if (!full && m.shape() != spatial_shape)
    throw usage_error("the " + method + " map " + shape_string(m.shape()) + " fits neither the input " +
                      shape_string(xs) + " nor its spatial sizes " + shape_string(spatial_shape));

  const float* xv = x.data<float>();
  const float* mv = m.data<float>();
  const std::int64_t per_sample = s.channels * s.positions;
  const std::int64_t shown_channels = s.channels == 3 ? 3 : 1;  // else the mean, in grey
  std::vector<std::string> files;
  for (std::int64_t b = 0; b < batch; ++b) {
    figures::AttributionInput input;
    input.channels = shown_channels;
    input.height = s.spatial.size() == 2 ? s.spatial[0] : 1;
    input.width = s.spatial.back();
    input.values.assign(static_cast<std::size_t>(shown_channels * s.positions), 0.0f);
    figures::AttributionMap map;
    map.height = input.height;
    map.width = input.width;
    map.values.assign(static_cast<std::size_t>(s.positions), 0.0f);

    const float* xb = xv + b * per_sample;
    for (std::int64_t i = 0; i < per_sample; ++i) {
      const auto k = static_cast<std::size_t>(i);
      const std::int64_t c = s.channel_of[k], p = s.position_of[k];
      if (shown_channels == 3)
        input.values[static_cast<std::size_t>(c * s.positions + p)] = xb[i];
      else
        input.values[static_cast<std::size_t>(p)] += xb[i] / static_cast<float>(s.channels);
    }
    if (full) {
      const float* mb = mv + b * per_sample;
      for (std::int64_t i = 0; i < per_sample; ++i)
        map.values[static_cast<std::size_t>(s.position_of[static_cast<std::size_t>(i)])] += mb[i];
    } else {
      const float* mb = mv + b * s.positions;
      map.values.assign(mb, mb + s.positions);
    }

    figures::AttributionScene scene;
    scene.set_data(std::move(input), std::move(map), title_of(method, a, static_cast<std::size_t>(b)));
    const std::string name = stem.filename().string() + (batch == 1 ? std::string() : "_" + std::to_string(b)) + ".png";
    const std::filesystem::path file = stem.parent_path() / name;
    scene.save(file);
    files.push_back(file.string());
  }
  return files;
}

}  // namespace paramscope::cli
