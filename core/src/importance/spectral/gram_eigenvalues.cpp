#include "importance/spectral/gram_eigenvalues.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "paramscope/error.h"
#include "util/blas_threads.h"

namespace paramscope::spectral {
namespace {

constexpr std::int64_t kMaxSmallSide = 16384;  // Gram matrix of 2 GiB in double
constexpr std::int64_t kBlock = 256;           // rows (or columns) per syrk update: fits in L2, measured fastest
// From this smaller side on, OpenBLAS's threads speed one matrix up (1.8x on 2 cores at 4096);
// below it they do not (measured: 1024 x 1024 is slower on 2 threads than on 1).
constexpr std::int64_t kThreadedSide = 2048;

double at(const MatrixView& m, std::int64_t r, std::int64_t c) {
  return static_cast<double>(m.data[r * m.row_stride + c * m.col_stride]);
}

// n elements of row r from column c on, widened to double.
void copy_row(const MatrixView& m, std::int64_t r, std::int64_t c, std::int64_t n, double* dst) {
  const float* src = m.data + r * m.row_stride + c * m.col_stride;
  if (m.col_stride == 1) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<double>(src[i]);  // vectorised
  } else {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<double>(src[i * m.col_stride]);
  }
}

// Singular values squared through a full SVD of a double copy: only used if dsyevd fails.
std::vector<double> via_gesdd(const MatrixView& m) {
  const auto rows = static_cast<std::size_t>(m.rows), cols = static_cast<std::size_t>(m.cols);
  std::vector<double> a(rows * cols);  // column-major
  for (std::size_t c = 0; c < cols; ++c)
    for (std::size_t r = 0; r < rows; ++r)
      a[c * rows + r] = at(m, static_cast<std::int64_t>(r), static_cast<std::int64_t>(c));
  std::vector<double> s(std::min(rows, cols));
  const lapack_int info =
      LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(m.rows), static_cast<lapack_int>(m.cols), a.data(),
                     static_cast<lapack_int>(m.rows), s.data(), nullptr, 1, nullptr, 1);
  if (info != 0)
    throw usage_error("singular values of a " + std::to_string(m.rows) + " x " + std::to_string(m.cols) +
                      " matrix: LAPACK did not converge (dsyevd and dgesdd, info " + std::to_string(info) + ")");
  for (double& x : s) x *= x;
  return s;
}

}  // namespace

void check_gram_size(std::int64_t rows, std::int64_t cols, const std::string& what) {
  if (std::min(rows, cols) > kMaxSmallSide || std::max(rows, cols) > INT_MAX)
    throw usage_error(what + "singular values of a " + std::to_string(rows) + " x " + std::to_string(cols) +
                      " matrix: the smaller side may be at most " + std::to_string(kMaxSmallSide) +
                      " (its Gram matrix takes 8 * side^2 bytes) and the larger at most " + std::to_string(INT_MAX));
}

std::vector<double> gram_eigenvalues(const MatrixView& m) {
  const std::int64_t small = std::min(m.rows, m.cols), large = std::max(m.rows, m.cols);
  if (small <= 0) return {};
  check_gram_size(m.rows, m.cols, "");

  const bool tall = m.cols <= m.rows;  // G = W^T W (cols x cols), else G = W W^T (rows x rows)
  const auto k = static_cast<std::size_t>(small);
  std::vector<double> gram(k * k);
  std::vector<double> block(static_cast<std::size_t>(kBlock) * k);

  std::optional<blas::AllThreads> all;
  std::optional<blas::OneThread> one;
  if (small >= kThreadedSide)
    all.emplace();
  else
    one.emplace();
  // Upper triangle in row-major order is the lower triangle in column-major order, which lets
  // dsyevd run on the buffer in place (LAPACKE would transpose a row-major matrix into a copy).
  for (std::int64_t start = 0; start < large; start += kBlock) {
    const std::int64_t b = std::min(kBlock, large - start);
    if (tall) {
      // block: b rows of W, b x cols row-major; G += block^T block
      for (std::int64_t r = 0; r < b; ++r)
        copy_row(m, start + r, 0, m.cols, block.data() + static_cast<std::size_t>(r) * k);
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(k), static_cast<int>(b), 1.0, block.data(),
                  static_cast<int>(k), start == 0 ? 0.0 : 1.0, gram.data(), static_cast<int>(k));
    } else {
      // block: b columns of W, rows x b row-major; G += block block^T
      for (std::int64_t r = 0; r < m.rows; ++r)
        copy_row(m, r, start, b, block.data() + static_cast<std::size_t>(r * b));
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(k), static_cast<int>(b), 1.0, block.data(),
                  static_cast<int>(b), start == 0 ? 0.0 : 1.0, gram.data(), static_cast<int>(k));
    }
  }
  block = {};

  std::vector<double> w(k);
  const lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', static_cast<lapack_int>(k), gram.data(),
                                         static_cast<lapack_int>(k), w.data());
  if (info < 0) throw usage_error("dsyevd rejected argument " + std::to_string(-info));  // a bug of ours
  if (info > 0) {
    gram = {};
    w = via_gesdd(m);
  }
  // Rounding can leave eigenvalues of a singular Gram matrix slightly negative.
  for (double& x : w) x = std::max(x, 0.0);
  std::sort(w.begin(), w.end(), std::greater<>());
  return w;
}

}  // namespace paramscope::spectral
