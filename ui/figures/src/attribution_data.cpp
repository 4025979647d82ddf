#include "paramscope/figures/attribution_data.h"

#include <string>

#include "paramscope/error.h"
#include "paramscope/shape.h"

namespace paramscope::figures {
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

}  // namespace

AttributionImage attribution_image(const Array& x_in, const Array& map_in, std::int64_t b,
                                   const std::vector<int>& axes) {
  // Cast only what is not F32 already: the CLI calls this once per sample of a batch.
  const Array x_cast = x_in.type() == DType::F32 ? Array() : x_in.cast(DType::F32);
  const Array m_cast = map_in.type() == DType::F32 ? Array() : map_in.cast(DType::F32);
  const Array& x = x_in.type() == DType::F32 ? x_in : x_cast;
  const Array& m = map_in.type() == DType::F32 ? map_in : m_cast;
  const std::vector<std::int64_t>& xs = x.shape();
  if (axes.empty() || axes.size() > 2)
    throw usage_error("an overlay needs one or two spatial axes, not " + std::to_string(axes.size()));
  for (int a : axes)
    if (a < 1 || static_cast<std::size_t>(a) >= xs.size())
      throw usage_error("spatial axis " + std::to_string(a) + " is outside the input " + shape_string(xs));
  if (b < 0 || b >= xs[0]) throw usage_error("sample " + std::to_string(b) + " of a batch of " + std::to_string(xs[0]));
  const Split s = split_sample(xs, axes);
  const std::int64_t batch = xs[0];

  // The map: x's shape (summed over the channels here) or [batch, *spatial sizes].
  std::vector<std::int64_t> spatial_shape{batch};
  spatial_shape.insert(spatial_shape.end(), s.spatial.begin(), s.spatial.end());
  const bool full = m.shape() == xs;
  if (!full && m.shape() != spatial_shape)
    throw usage_error("the map " + shape_string(m.shape()) + " fits neither the input " + shape_string(xs) +
                      " nor its spatial sizes " + shape_string(spatial_shape));

  const std::int64_t per_sample = s.channels * s.positions;
  const std::int64_t shown_channels = s.channels == 3 ? 3 : 1;  // else the mean, in grey
  AttributionImage out;
  AttributionInput& input = out.input;
  input.channels = shown_channels;
  input.height = s.spatial.size() == 2 ? s.spatial[0] : 1;
  input.width = s.spatial.back();
  input.values.assign(static_cast<std::size_t>(shown_channels * s.positions), 0.0f);
  AttributionMap& map = out.map;
  map.height = input.height;
  map.width = input.width;
  map.values.assign(static_cast<std::size_t>(s.positions), 0.0f);

  const float* xb = x.data<float>() + b * per_sample;
  for (std::int64_t i = 0; i < per_sample; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const std::int64_t c = s.channel_of[k], p = s.position_of[k];
    if (shown_channels == 3)
      input.values[static_cast<std::size_t>(c * s.positions + p)] = xb[i];
    else
      input.values[static_cast<std::size_t>(p)] += xb[i] / static_cast<float>(s.channels);
  }
  if (full) {
    const float* mb = m.data<float>() + b * per_sample;
    for (std::int64_t i = 0; i < per_sample; ++i)
      map.values[static_cast<std::size_t>(s.position_of[static_cast<std::size_t>(i)])] += mb[i];
  } else {
    const float* mb = m.data<float>() + b * s.positions;
    map.values.assign(mb, mb + s.positions);
  }
  return out;
}

}  // namespace paramscope::figures
