// Gemm and MatMul (float32) through the Eigen-backed kernels::gemm.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/op_registry.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {
namespace {

using kernels::MatRef;

void require_f32(const NodeContext& ctx, const Array& a, const char* what) {
  if (a.type() != DType::F32)
    ctx.unsupported(ctx.node().op_type + " with " + std::string(dtype_name(a.type())) + " " + what +
                    " (only F32 is implemented)");
}

bool flag(const NodeContext& ctx, const char* name) {
  const std::int64_t v = ctx.attr_int(name, 0);
  if (v != 0 && v != 1) ctx.fail(std::string(name) + " is " + std::to_string(v) + ", not 0 or 1");
  return v == 1;
}

// ---- Gemm: Y = alpha * A' * B' + beta * C ----------------------------------------------------

void check_gemm(const NodeContext& ctx) {
  (void)flag(ctx, "transA");
  (void)flag(ctx, "transB");
  const auto& ins = ctx.node().inputs;
  if (ctx.opset() < 11 && (ins.size() < 3 || ins[2].empty())) ctx.fail("input C is required before opset 11");
}

std::vector<Array> gemm(const NodeContext& ctx, Inputs in) {
  const Array& a = *in[0];
  const Array& b = *in[1];
  const Array* c = in.size() > 2 ? in[2] : nullptr;
  require_f32(ctx, a, "input A");
  require_f32(ctx, b, "input B");
  if (c) require_f32(ctx, *c, "input C");
  if (a.rank() != 2 || b.rank() != 2)
    ctx.fail("A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) + " are not both matrices");
  const bool ta = flag(ctx, "transA"), tb = flag(ctx, "transB");
  const std::int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const std::int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb)
    ctx.fail("A " + shape_string(a.shape()) + (ta ? " (transposed)" : "") + " and B " + shape_string(b.shape()) +
             (tb ? " (transposed)" : "") + " do not share an inner dimension");
  const float alpha = ctx.attr_float("alpha", 1.0f), beta = ctx.attr_float("beta", 1.0f);
  Array y(DType::F32, {m, n});
  float* yd = y.data<float>();
  const bool use_c = c && beta != 0.0f;
  if (use_c) {
    // C broadcasts to (M, N) unidirectionally: [], [N], [1], [M, 1], [1, N], [M, N].
    const auto& cs = c->shape();
    if (cs.size() > 2) ctx.fail("C " + shape_string(cs) + " has more than two dimensions");
    const std::int64_t cm = cs.size() == 2 ? cs[0] : 1, cn = cs.empty() ? 1 : cs.back();
    if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
      ctx.fail("C " + shape_string(cs) + " does not broadcast to [" + std::to_string(m) + ", " + std::to_string(n) +
               "]");
    const float* cd = c->data<float>();
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) yd[i * n + j] = beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
  }
  kernels::parallel_gemm(ctx.pool(), m, n, k, alpha, MatRef{a.data<float>(), a.dim(1), ta},
                         MatRef{b.data<float>(), b.dim(1), tb}, use_c ? 1.0f : 0.0f, yd, n);
  return {y};
}

// ---- MatMul: numpy's matmul ------------------------------------------------------------------

std::vector<Array> matmul(const NodeContext& ctx, Inputs in) {
  const Array& a = *in[0];
  const Array& b = *in[1];
  require_f32(ctx, a, "input A");
  require_f32(ctx, b, "input B");
  if (a.rank() == 0 || b.rank() == 0)
    ctx.fail("A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) + " must not be scalars");
  // 1-D operands become a row (A) or a column (B); the added dimension is dropped afterwards.
  std::vector<std::int64_t> as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const std::int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k)
    ctx.fail("A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) + " do not share an inner dimension");
  // Broadcast the batch dimensions (numpy rules, aligned at the right).
  const std::size_t ab = as.size() - 2, bb = bs.size() - 2, nb = std::max(ab, bb);
  std::vector<std::int64_t> batch(nb), astride(nb, 0), bstride(nb, 0);
  std::int64_t sa = m * k, sb = k * n;
  for (std::size_t i = nb; i-- > 0;) {
    const std::int64_t da = i + ab >= nb ? as[i + ab - nb] : 1, db = i + bb >= nb ? bs[i + bb - nb] : 1;
    if (da != db && da != 1 && db != 1)
      ctx.fail("batch dimensions of A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) +
               " do not broadcast");
    batch[i] = std::max(da, db);
    if (da == 0 || db == 0) batch[i] = 0;
    astride[i] = da == 1 ? 0 : sa;
    bstride[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  std::vector<std::int64_t> yshape = batch;
  if (a.rank() > 1) yshape.push_back(m);
  if (b.rank() > 1) yshape.push_back(n);
  Array y(DType::F32, yshape);
  if (y.size() == 0) return {y};
  float* yd = y.data<float>();
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  std::int64_t batches = 1;
  for (const std::int64_t d : batch) batches *= d;
  ThreadPool& pool = ctx.pool();

  // B shared by every batch and A contiguous: one product of (batches * M) x K by K x N.
  if (std::all_of(bstride.begin(), bstride.end(), [](std::int64_t s) { return s == 0; }) && b.rank() <= 2 &&
      a.size() == batches * m * k) {
    kernels::parallel_gemm(pool, batches * m, n, k, 1.0f, MatRef{ad, k, false}, MatRef{bd, n, false}, 0.0f, yd, n);
    return {y};
  }
  const auto offsets = [&](std::int64_t t, std::int64_t& ao, std::int64_t& bo) {
    ao = bo = 0;
    for (std::size_t i = nb; i-- > 0;) {
      const std::int64_t idx = t % batch[i];
      t /= batch[i];
      ao += idx * astride[i];
      bo += idx * bstride[i];
    }
  };
  const auto one = [&](std::int64_t t, bool split) {
    std::int64_t ao, bo;
    offsets(t, ao, bo);
    const MatRef ar{ad + ao, k, false}, br{bd + bo, n, false};
    if (split)
      kernels::parallel_gemm(pool, m, n, k, 1.0f, ar, br, 0.0f, yd + t * m * n, n);
    else
      kernels::gemm(m, n, k, 1.0f, ar, br, 0.0f, yd + t * m * n, n);
  };
  if (batches >= pool.threads() && batches * m * n * k >= (std::int64_t{1} << 16)) {
    pool.parallel_for(static_cast<std::size_t>(batches), 1, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) one(static_cast<std::int64_t>(t), false);
    });
  } else {
    for (std::int64_t t = 0; t < batches; ++t) one(t, true);
  }
  return {y};
}

}  // namespace

void add_linear_ops(OpRegistry& r) {
  r.add({"Gemm", 2, 3, gemm, check_gemm});
  r.add({"MatMul", 2, 2, matmul, nullptr});
}

}  // namespace paramscope::engine
