#include "engine/kernels/gemm.h"

#include <cblas.h>

#include <Eigen/Core>
#include <algorithm>
#include <climits>

#include "paramscope/jobs.h"
#include "util/blas_threads.h"

namespace paramscope::engine::kernels {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
using MutMap = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;

// Eigen picks its product kernel from the operands' static types, hence four instantiations.
template <class A, class B>
void product(MutMap& c, const A& a, const B& b, float alpha, float beta) {
  if (beta == 0.0f)
    c.noalias() = alpha * (a * b);
  else {
    if (beta != 1.0f) c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

// Products below this many multiply-adds run on the calling thread.
constexpr std::int64_t kParallelFlops = std::int64_t{1} << 18;
// From this many multiply-adds on, OpenBLAS's sgemm (AVX2/FMA or AVX-512 kernels chosen at run
// time) beats Eigen built for baseline x86-64 (SSE2, no FMA); below it, call overhead dominates.
constexpr std::int64_t kBlasFlops = std::int64_t{1} << 13;

bool fits_int(std::int64_t v) {
  return v >= 0 && v <= INT_MAX;
}

// OpenBLAS rejects (and skips, printing an error) leading dimensions below the stored width,
// which a caller may pass for a single row or column; such products stay with Eigen.
bool blas_ok(std::int64_t m, std::int64_t n, std::int64_t k, const MatRef& a, const MatRef& b, std::int64_t ldc) {
  const std::int64_t a_width = a.trans ? m : k, b_width = b.trans ? k : n;
  return m * n * k >= kBlasFlops && fits_int(m) && fits_int(n) && fits_int(k) && fits_int(a.ld) && fits_int(b.ld) &&
         fits_int(ldc) && a.ld >= std::max<std::int64_t>(1, a_width) && b.ld >= std::max<std::int64_t>(1, b_width) &&
         ldc >= std::max<std::int64_t>(1, n);
}

}  // namespace

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatRef a, MatRef b, float beta, float* c,
          std::int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  MutMap cm(c, m, n, Eigen::OuterStride<>(ldc));
  if (k <= 0) {
    if (beta == 0.0f)
      cm.setZero();
    else
      cm *= beta;
    return;
  }
  if (blas_ok(m, n, k, a, b, ldc)) {
    const blas::OneThread one;  // the pool's blocks are the parallelism
    cblas_sgemm(CblasRowMajor, a.trans ? CblasTrans : CblasNoTrans, b.trans ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a.data, static_cast<int>(a.ld),
                b.data, static_cast<int>(b.ld), beta, c, static_cast<int>(ldc));
    return;
  }
  // A transposed operand is the transpose of a map of the stored (k x m or n x k) matrix.
  const ConstMap am(a.data, a.trans ? k : m, a.trans ? m : k, Eigen::OuterStride<>(a.ld));
  const ConstMap bm(b.data, b.trans ? n : k, b.trans ? k : n, Eigen::OuterStride<>(b.ld));
  if (!a.trans && !b.trans)
    product(cm, am, bm, alpha, beta);
  else if (a.trans && !b.trans)
    product(cm, am.transpose(), bm, alpha, beta);
  else if (!a.trans)
    product(cm, am, bm.transpose(), alpha, beta);
  else
    product(cm, am.transpose(), bm.transpose(), alpha, beta);
}

void parallel_gemm(ThreadPool& pool, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatRef a, MatRef b,
                   float beta, float* c, std::int64_t ldc) {
  const int threads = pool.threads();
  if (threads <= 1 || m * n * std::max<std::int64_t>(k, 1) < kParallelFlops) {
    gemm(m, n, k, alpha, a, b, beta, c, ldc);
    return;
  }
  // Split the larger side into about two blocks per thread (room for uneven progress); blocks
  // of a side stay at least 16 wide so that Eigen's packed kernels keep their shape.
  const bool by_rows = m >= n;
  const std::int64_t side = by_rows ? m : n;
  const std::int64_t blocks = std::clamp<std::int64_t>(side / 16, 1, 2 * threads);
  if (blocks == 1) {
    gemm(m, n, k, alpha, a, b, beta, c, ldc);
    return;
  }
  pool.parallel_for(static_cast<std::size_t>(blocks), 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t blk = begin; blk < end; ++blk) {
      const std::int64_t lo = side * static_cast<std::int64_t>(blk) / blocks;
      const std::int64_t hi = side * static_cast<std::int64_t>(blk + 1) / blocks;
      if (by_rows) {
        MatRef ab = a;
        ab.data = a.trans ? a.data + lo : a.data + lo * a.ld;
        gemm(hi - lo, n, k, alpha, ab, b, beta, c + lo * ldc, ldc);
      } else {
        MatRef bb = b;
        bb.data = b.trans ? b.data + lo * b.ld : b.data + lo;
        gemm(m, hi - lo, k, alpha, a, bb, beta, c + lo, ldc);
      }
    }
  });
}

void product(ThreadPool& pool, bool split, std::int64_t m, std::int64_t n, std::int64_t k, MatRef a, MatRef b,
             float beta, float* c, std::int64_t ldc) {
  if (split)
    parallel_gemm(pool, m, n, k, 1.0f, a, b, beta, c, ldc);
  else
    gemm(m, n, k, 1.0f, a, b, beta, c, ldc);
}

}  // namespace paramscope::engine::kernels
