// Singular values and the metrics built on them, for spans and for checkpoint tensors.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "importance/spectral/gram_eigenvalues.h"
#include "paramscope/error.h"
#include "paramscope/shape.h"
#include "paramscope/spectral.h"

namespace paramscope {
namespace {

using spectral::MatrixView;

// Sum of squares in double over blocks (keeps the rounding error independent of the size);
// counts values that are NaN or infinite.
struct SquareSum {
  double sum = 0;
  std::int64_t non_finite = 0;
};

SquareSum square_sum(std::span<const float> v) {
  SquareSum s;
  constexpr std::size_t kBlock = 4096;
  for (std::size_t b = 0; b < v.size(); b += kBlock) {
    const std::size_t e = std::min(v.size(), b + kBlock);
    double part = 0;
    for (std::size_t i = b; i < e; ++i) {
      const double x = v[i];
      if (std::isfinite(x))
        part += x * x;
      else
        ++s.non_finite;
    }
    s.sum += part;
  }
  return s;
}

// Keras stores conv kernels [kh, kw, in, out], PyTorch [out, in, kh, kw]; WeightWatcher tells them
// apart by which pair of dimensions is larger (conv2D_Wmats: N + M >= imax + jmax).
bool spatial_first(const Shape& s) {
  return s.size() == 4 && s[0] + s[1] < s[2] + s[3];
}

struct Plan {
  std::vector<MatrixView> views;  // data is set from offsets once the values are read
  std::vector<std::int64_t> offsets;
  std::int64_t rows = 0, cols = 0;  // as reported: output channels first
  double eigen_scale = 1;           // applied to the eigenvalues handed to the fit
};

Plan plan_matrices(const Shape& s, ConvMatrices conv) {
  Plan p;
  auto add = [&p](std::int64_t offset, std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                  std::int64_t col_stride) {
    p.views.push_back({nullptr, rows, cols, row_stride, col_stride});
    p.offsets.push_back(offset);
  };
  if (s.size() == 4 && conv == ConvMatrices::WeightWatcher) {
    // One [out, in] matrix per kernel position; W * sqrt(1/2) as conv2d_norm does
    // (norm = sqrt(conv2d_count / 2) with conv2d_count = 1 when pooling).
    p.eigen_scale = 0.5;
    if (!spatial_first(s)) {  // [out, in, kh, kw]
      const std::int64_t positions = s[2] * s[3];
      p.rows = s[0], p.cols = s[1];
      for (std::int64_t q = 0; q < positions; ++q) add(q, s[0], s[1], s[1] * positions, positions);
    } else {  // [kh, kw, in, out]: each position is a contiguous [in, out] matrix
      const std::int64_t positions = s[0] * s[1], size = s[2] * s[3];
      p.rows = s[3], p.cols = s[2];
      for (std::int64_t q = 0; q < positions; ++q) add(q * size, s[2], s[3], s[3], 1);
    }
    return p;
  }
  if (spatial_first(s)) {
    // [kh*kw*in, out] in memory; its singular values are those of [out, in*kh*kw].
    p.rows = s[3], p.cols = s[0] * s[1] * s[2];
    add(0, p.cols, p.rows, p.rows, 1);
    return p;
  }
  p.rows = s[0], p.cols = numel(std::span<const std::int64_t>(s).subspan(1));
  add(0, p.rows, p.cols, p.cols, 1);
  return p;
}

// Everything but frobenius and the matrix sizes, from the pooled eigenvalues of W^T W.
void metrics_from_eigenvalues(std::vector<double> eigenvalues, double eigen_scale, SpectralMetrics& m) {
  std::sort(eigenvalues.begin(), eigenvalues.end(), std::greater<>());
  m.singular_values.resize(eigenvalues.size());
  double sigma_sum = 0;
  for (std::size_t i = 0; i < eigenvalues.size(); ++i) {
    m.singular_values[i] = std::sqrt(eigenvalues[i]);
    sigma_sum += m.singular_values[i];
  }
  m.spectral_norm = m.singular_values.empty() ? 0 : m.singular_values.front();
  if (m.spectral_norm > 0) m.stable_rank = m.frobenius * m.frobenius / (m.spectral_norm * m.spectral_norm);
  if (sigma_sum > 0) {
    double entropy = 0;
    for (double s : m.singular_values)
      if (s > 0) {
        const double p = s / sigma_sum;
        entropy -= p * std::log(p);
      }
    m.effective_rank = std::exp(entropy);
  }
  if (eigen_scale != 1)
    for (double& x : eigenvalues) x *= eigen_scale;
  fit_power_law(std::move(eigenvalues), m);
}

}  // namespace

std::vector<double> singular_values(std::span<const float> matrix, std::int64_t rows, std::int64_t cols) {
  const Shape shape{rows, cols};
  const auto n = checked_numel(shape);
  if (!n || static_cast<std::uint64_t>(*n) != matrix.size())
    throw usage_error("singular values: a " + std::to_string(rows) + " x " + std::to_string(cols) +
                      " matrix cannot hold " + std::to_string(matrix.size()) + " values");
  spectral::check_gram_size(rows, cols, "");
  if (const auto bad = square_sum(matrix).non_finite)
    throw usage_error("singular values: the matrix holds " + std::to_string(bad) + " NaN or infinite values");
  std::vector<double> s = spectral::gram_eigenvalues({matrix.data(), rows, cols, cols, 1});
  for (double& x : s) x = std::sqrt(x);
  return s;
}

SpectralMetrics spectral_metrics(const Tensor& tensor, const SpectralOptions& options) {
  const Shape& shape = tensor.shape();
  const std::string what = (tensor.file().empty() ? "" : tensor.file() + ": ") + "tensor '" + tensor.name() + "' ";
  if (shape.size() < 2)
    throw usage_error(what + shape_string(shape) + ": spectral metrics need a matrix (2 or more dimensions)");
  SpectralMetrics m;
  Plan p = plan_matrices(shape, options.conv);
  m.rows = p.rows, m.cols = p.cols, m.matrices = static_cast<std::int64_t>(p.views.size());
  // A matrix too large is refused before its values are read.
  for (const MatrixView& v : p.views) spectral::check_gram_size(v.rows, v.cols, what + shape_string(shape) + ": ");
  if (tensor.numel() == 0) return m;
  const std::vector<float> values = tensor.to_f32();
  const SquareSum sq = square_sum(values);
  if (sq.non_finite)
    throw usage_error(what + "holds " + std::to_string(sq.non_finite) +
                      " NaN or infinite values: its spectral metrics are undefined");
  m.frobenius = std::sqrt(sq.sum);

  std::vector<double> eigenvalues;
  for (std::size_t i = 0; i < p.views.size(); ++i) {
    p.views[i].data = values.data() + p.offsets[i];
    const std::vector<double> e = spectral::gram_eigenvalues(p.views[i]);
    eigenvalues.insert(eigenvalues.end(), e.begin(), e.end());
  }
  metrics_from_eigenvalues(std::move(eigenvalues), p.eigen_scale, m);
  return m;
}

}  // namespace paramscope
