#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "paramscope/attribution.h"
#include "paramscope/error.h"
#include "xai/blur.h"

namespace paramscope::xai {

std::vector<int> spatial_axes(const std::vector<std::int64_t>& input_shape, const std::vector<int>& requested) {
  const int rank = static_cast<int>(input_shape.size());
  if (rank < 2)
    throw usage_error("an input of shape " + shape_string(input_shape) +
                      " has no axes to attribute over (a batch axis and at least one more are needed)");
  if (requested.empty()) {
    switch (rank) {
      case 2:
        return {1};
      case 3:
        return {1, 2};
      case 4:
        return {2, 3};
      default:
        return {rank - 3, rank - 2, rank - 1};
    }
  }
  std::vector<int> axes;
  for (int a : requested) {
    const int axis = a < 0 ? a + rank : a;
    if (axis <= 0 || axis >= rank || std::find(axes.begin(), axes.end(), axis) != axes.end())
      throw usage_error("axis " + std::to_string(a) + " of an input of shape " + shape_string(input_shape) +
                        ": spatial axes must be distinct and not the batch axis 0");
    axes.push_back(axis);
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

Array gaussian_blur(const Array& x, const std::vector<int>& axes, double sigma) {
  if (!(sigma > 0)) throw usage_error("blur sigma must be > 0, not " + std::to_string(sigma));
  Array cur = x.cast(DType::F32).clone();
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> w(static_cast<std::size_t>(2 * radius + 1));
  for (int i = -radius; i <= radius; ++i)
    w[static_cast<std::size_t>(i + radius)] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (int axis : axes) {
    const std::int64_t n = cur.dim(static_cast<std::size_t>(axis));
    std::int64_t inner = 1;
    for (std::size_t a = static_cast<std::size_t>(axis) + 1; a < cur.rank(); ++a) inner *= cur.dim(a);
    const std::int64_t outer = n == 0 ? 0 : cur.size() / (n * inner);
    Array next(DType::F32, cur.shape());
    const float* src = cur.data<float>();
    float* dst = next.data<float>();
    std::vector<double> line(static_cast<std::size_t>(n));
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t in = 0; in < inner; ++in) {
        const std::int64_t base = o * n * inner + in;
        for (std::int64_t i = 0; i < n; ++i) {
          double acc = 0, norm = 0;
          const std::int64_t lo = std::max<std::int64_t>(0, i - radius), hi = std::min<std::int64_t>(n - 1, i + radius);
          for (std::int64_t j = lo; j <= hi; ++j) {
            const double wj = w[static_cast<std::size_t>(j - i + radius)];
            acc += wj * src[base + j * inner];
            norm += wj;
          }
          dst[base + i * inner] = static_cast<float>(acc / norm);
        }
      }
    cur = std::move(next);
  }
  return cur;
}

Array make_baseline(const Array& x, const Baseline& b) {
  if (x.rank() == 0) throw usage_error("a baseline needs a batch, not a scalar");
  Array out(DType::F32, x.shape());
  const std::int64_t batch = x.dim(0);
  const std::int64_t per = batch == 0 ? 0 : x.size() / batch;
  std::vector<std::int64_t> sample(x.shape().begin() + 1, x.shape().end());
  switch (b.kind) {
    case Baseline::Kind::Zeros:
      return out;
    case Baseline::Kind::Constant:
      std::fill_n(out.data<float>(), out.size(), static_cast<float>(b.value));
      return out;
    case Baseline::Kind::Blur:
      return gaussian_blur(x, spatial_axes(x.shape(), b.axes), b.sigma);
    case Baseline::Kind::Mean: {
      const Array d = b.data.cast(DType::F32);
      if (d.rank() != x.rank() || d.dim(0) < 1 ||
          !std::equal(d.shape().begin() + 1, d.shape().end(), sample.begin(), sample.end()))
        throw usage_error("the mean baseline's data " + shape_string(d.shape()) + " is not a set of samples " +
                          shape_string(sample) + " like the input's");
      std::vector<double> acc(static_cast<std::size_t>(per));
      for (std::int64_t r = 0; r < d.dim(0); ++r)
        for (std::int64_t i = 0; i < per; ++i) acc[static_cast<std::size_t>(i)] += d.data<float>()[r * per + i];
      for (std::int64_t r = 0; r < batch; ++r)
        for (std::int64_t i = 0; i < per; ++i)
          out.data<float>()[r * per + i] = static_cast<float>(acc[static_cast<std::size_t>(i)] / d.dim(0));
      return out;
    }
    case Baseline::Kind::File: {
      const Array d = b.data.cast(DType::F32);
      if (d.shape() == x.shape()) return d.clone();
      const bool one =
          (d.shape() == sample) || (d.rank() == x.rank() && d.dim(0) == 1 &&
                                    std::equal(d.shape().begin() + 1, d.shape().end(), sample.begin(), sample.end()));
      if (!one)
        throw usage_error("a baseline of shape " + shape_string(d.shape()) + " fits neither one sample " +
                          shape_string(sample) + " nor the batch " + shape_string(x.shape()));
      for (std::int64_t r = 0; r < batch; ++r)
        std::memcpy(out.data<float>() + r * per, d.data<float>(), static_cast<std::size_t>(per) * sizeof(float));
      return out;
    }
  }
  return out;
}

}  // namespace paramscope::xai
