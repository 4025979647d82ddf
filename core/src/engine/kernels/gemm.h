// Single-precision matrix products for the engine's operators (Gemm, MatMul, Conv through
// im2col). Row-major matrices with leading dimensions, so that a kernel can multiply blocks of
// a larger array in place; backward passes reuse the same entry points with the transposes.
#pragma once

#include <cstdint>

namespace paramscope {
class ThreadPool;
}

namespace paramscope::engine::kernels {

/// A row-major matrix operand: element (r, c) is data[r * ld + c], or data[c * ld + r] when
/// trans is set (the stored matrix is the transpose of the operand).
struct MatRef {
  const float* data = nullptr;
  std::int64_t ld = 0;
  bool trans = false;
};

/// c (m x n, leading dimension ldc) = alpha * a (m x k) * b (k x n) + beta * c. With beta == 0
/// c is overwritten and need not be initialised (NaN in it does not propagate).
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatRef a, MatRef b, float beta, float* c,
          std::int64_t ldc);

/// The same, split over the pool into blocks of rows (or of columns when m is small) when the
/// product is large enough to pay for it.
void parallel_gemm(ThreadPool& pool, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatRef a, MatRef b,
                   float beta, float* c, std::int64_t ldc);

/// c = a * b + beta * c through parallel_gemm when `split` (the caller is not itself one of the
/// pool's tasks, so the product may use the pool), else through gemm on the calling thread.
void product(ThreadPool& pool, bool split, std::int64_t m, std::int64_t n, std::int64_t k, MatRef a, MatRef b,
             float beta, float* c, std::int64_t ldc);

}  // namespace paramscope::engine::kernels
