// Eigenvalues of the Gram matrix of a float matrix (sigma_i^2), computed with OpenBLAS's LAPACK.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace paramscope::spectral {

/// A rows x cols matrix inside a float array: element (r, c) is data[r * row_stride + c * col_stride].
/// Covers plain row-major matrices and the per-kernel-position slices of a conv tensor.
struct MatrixView {
  const float* data = nullptr;
  std::int64_t rows = 0, cols = 0;
  std::int64_t row_stride = 0, col_stride = 1;
};

/// throws Error(Usage), its message starting with what, if gram_eigenvalues() refuses a rows x cols
/// matrix: the smaller side above 16384 (a Gram matrix of 2 GiB) or the larger above 2^31 - 1.
void check_gram_size(std::int64_t rows, std::int64_t cols, const std::string& what);

/// The min(rows, cols) eigenvalues of W^T W (or W W^T, whichever is smaller), descending and
/// clamped at 0: the squared singular values of W. The Gram matrix is accumulated in double from
/// blocks of 256 rows or columns (the float matrix is never copied whole) and diagonalised with
/// dsyevd; calls from several threads take turns, as OpenBLAS uses every core for one matrix.
/// The values must be finite (callers check).
/// throws as check_gram_size().
std::vector<double> gram_eigenvalues(const MatrixView& m);

}  // namespace paramscope::spectral
