// PIL's Image.resize(size, BILINEAR) (libImaging/Resample.c, Pillow >= 7; what torchvision's
// Resize does to PIL images). Each output sample is a weighted mean of the input samples whose
// centres lie within `support` of its centre, mapped back into the input:
//
//   scale = in / out,  filterscale = max(scale, 1),  support = 1 * filterscale
//   centre(xx) = (xx + 0.5) * scale
//   taps: x in [trunc(centre - support + 0.5), trunc(centre + support + 0.5)) within [0, in)
//   w(x) = triangle((x - centre + 0.5) / filterscale),  triangle(t) = max(0, 1 - |t|)
//
// normalised to sum to 1. Widening the triangle by the downscale factor is the antialiasing.
// The horizontal pass runs first, then the vertical one, and each rounds to 8 bits as PIL does.
//
// The weights are computed in double, then applied as PIL applies them to 8-bit images: rounded
// to 22-bit fixed point, summed in integers, rounded half up. The weights are often simple
// fractions (0.3, 0.4, ...), so a sample lands exactly halfway between two levels in a few percent
// of cases; summing in float instead rounds those either way and differed from PIL by one level
// in 1-3% of the samples of the test images, while the fixed point gives PIL's values exactly.
#include <algorithm>
#include <cmath>

#include "io/image_pixels.h"

namespace paramscope::io {
namespace {

// The taps of every output sample along one axis, packed: output i reads inputs first[i] ...
// first[i] + (offset[i + 1] - offset[i]) - 1 with weights[offset[i] ...].
struct Taps {
  std::vector<std::int64_t> first, offset;
  std::vector<std::int32_t> weights;  // in units of 2^-kPrecision
};

// PIL's PRECISION_BITS: 8 bits of sample and 2 of headroom in a 32-bit sum.
constexpr int kPrecision = 22;

double triangle(double t) {
  t = std::fabs(t);
  return t < 1.0 ? 1.0 - t : 0.0;
}

Taps bilinear_taps(std::int64_t in_size, std::int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filterscale = std::max(scale, 1.0);
  const double support = filterscale;
  const double inverse = 1.0 / filterscale;
  Taps t;
  t.first.resize(static_cast<std::size_t>(out_size));
  t.offset.resize(static_cast<std::size_t>(out_size) + 1);
  std::vector<double> w;
  for (std::int64_t i = 0; i < out_size; ++i) {
    const double centre = (static_cast<double>(i) + 0.5) * scale;
    const std::int64_t lo = std::max<std::int64_t>(0, static_cast<std::int64_t>(centre - support + 0.5));
    const std::int64_t hi = std::min<std::int64_t>(in_size, static_cast<std::int64_t>(centre + support + 0.5));
    w.clear();
    double sum = 0.0;
    for (std::int64_t x = lo; x < hi; ++x) {
      w.push_back(triangle((static_cast<double>(x) - centre + 0.5) * inverse));
      sum += w.back();
    }
    t.first[static_cast<std::size_t>(i)] = lo;
    for (const double v : w)  // non-negative: rounding half up is rounding half away from zero
      t.weights.push_back(static_cast<std::int32_t>((sum != 0.0 ? v / sum : v) * (1 << kPrecision) + 0.5));
    t.offset[static_cast<std::size_t>(i) + 1] = static_cast<std::int64_t>(t.weights.size());
  }
  return t;
}

// acc started at half a level; the weights sum to about 1, so only rounding can leave [0, 255].
std::uint8_t to_8bit(std::int32_t acc) {
  return static_cast<std::uint8_t>(std::clamp(acc >> kPrecision, 0, 255));
}

constexpr std::int32_t kHalf = 1 << (kPrecision - 1);

Pixels resize_horizontal(const Pixels& in, std::int64_t width) {
  const Taps t = bilinear_taps(in.width, width);
  const std::size_t c = static_cast<std::size_t>(in.channels);
  Pixels out = Pixels::make(width, in.height, in.channels);
  for (std::int64_t y = 0; y < in.height; ++y) {
    const std::uint8_t* row = in.data.get() + static_cast<std::size_t>(y * in.width) * c;
    std::uint8_t* dst = out.data.get() + static_cast<std::size_t>(y * width) * c;
    for (std::size_t x = 0; x < static_cast<std::size_t>(width); ++x) {
      const std::int32_t* w = t.weights.data() + t.offset[x];
      const std::int64_t n = t.offset[x + 1] - t.offset[x];
      const std::uint8_t* src = row + static_cast<std::size_t>(t.first[x]) * c;
      for (std::size_t k = 0; k < c; ++k) {
        std::int32_t acc = kHalf;
        for (std::int64_t j = 0; j < n; ++j) acc += src[static_cast<std::size_t>(j) * c + k] * w[j];
        dst[x * c + k] = to_8bit(acc);
      }
    }
  }
  return out;
}

Pixels resize_vertical(const Pixels& in, std::int64_t height) {
  const Taps t = bilinear_taps(in.height, height);
  const std::size_t row = static_cast<std::size_t>(in.width) * static_cast<std::size_t>(in.channels);
  Pixels out = Pixels::make(in.width, height, in.channels);
  std::vector<std::int32_t> acc(row);
  for (std::size_t y = 0; y < static_cast<std::size_t>(height); ++y) {
    std::fill(acc.begin(), acc.end(), kHalf);
    for (std::int64_t j = 0; j < t.offset[y + 1] - t.offset[y]; ++j) {
      const std::int32_t w = t.weights[static_cast<std::size_t>(t.offset[y] + j)];
      const std::uint8_t* src = in.data.get() + static_cast<std::size_t>(t.first[y] + j) * row;
      for (std::size_t i = 0; i < row; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out.data.get() + y * row;
    for (std::size_t i = 0; i < row; ++i) dst[i] = to_8bit(acc[i]);
  }
  return out;
}

}  // namespace

Pixels resize_bilinear(Pixels in, std::int64_t width, std::int64_t height) {
  // As PIL, a pass runs only when its axis changes size.
  if (width != in.width) in = resize_horizontal(in, width);
  if (height != in.height) in = resize_vertical(in, height);
  return in;
}

}  // namespace paramscope::io
