// Gemm and MatMul (float32) through the Eigen-backed kernels::gemm, forward and backward (the
// gradients are the same products with transposed operands).
#include <algorithm>
#include <string>
#include <vector>

#include "engine/broadcast.h"
#include "engine/kernels/gemm.h"
#include "engine/op_registry.h"
#include "engine/ops/grad_support.h"
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

// The product's dimensions: op(A) is M x K, op(B) is K x N.
struct GemmDims {
  bool ta, tb;
  std::int64_t m, n, k;
};

GemmDims gemm_dims(const NodeContext& ctx, const Array& a, const Array& b) {
  require_f32(ctx, a, "input A");
  require_f32(ctx, b, "input B");
  if (a.rank() != 2 || b.rank() != 2)
    ctx.fail("A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) + " are not both matrices");
  const bool ta = flag(ctx, "transA"), tb = flag(ctx, "transB");
  const std::int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const std::int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb)
    ctx.fail("A " + shape_string(a.shape()) + (ta ? " (transposed)" : "") + " and B " + shape_string(b.shape()) +
             (tb ? " (transposed)" : "") + " do not share an inner dimension");
  return {ta, tb, m, n, k};
}

std::vector<Array> gemm(const NodeContext& ctx, Inputs in) {
  const Array& a = *in[0];
  const Array& b = *in[1];
  const Array* c = in.size() > 2 ? in[2] : nullptr;
  const auto [ta, tb, m, n, k] = gemm_dims(ctx, a, b);
  if (c) require_f32(ctx, *c, "input C");
  const float alpha = ctx.attr_float("alpha", 1.0f), beta = ctx.attr_float("beta", 1.0f);
  Array y = Array::for_overwrite(DType::F32, {m, n});  // C's copy or the product writes every entry
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

// dA' = alpha dY B'^T, dB' = alpha A'^T dY (transposed back for a transposed operand: dA = alpha
// B' dY^T when transA), dC = beta dY summed over the dimensions C was broadcast along.
Grads gemm_backward(const NodeContext& ctx, const BackwardArgs& args) {
  Grads g(args.in.size());
  const Array& a = *args.in[0];
  const Array& b = *args.in[1];
  const auto dy = out_grad(ctx, args, 0, DType::F32);
  if (!dy) return g;
  const auto [ta, tb, m, n, k] = gemm_dims(ctx, a, b);
  const float alpha = ctx.attr_float("alpha", 1.0f), beta = ctx.attr_float("beta", 1.0f);
  const float* d = dy->data<float>();
  const MatRef dyr{d, n, false}, dyt{d, n, true};
  ThreadPool& pool = ctx.pool();
  if (wanted(args, 0)) {
    Array da(DType::F32, a.shape());
    if (ta)
      kernels::parallel_gemm(pool, k, m, n, alpha, MatRef{b.data<float>(), b.dim(1), tb}, dyt, 0.0f, da.data<float>(),
                             m);
    else
      kernels::parallel_gemm(pool, m, k, n, alpha, dyr, MatRef{b.data<float>(), b.dim(1), !tb}, 0.0f, da.data<float>(),
                             k);
    g[0] = da;
  }
  if (wanted(args, 1)) {
    Array db(DType::F32, b.shape());
    if (tb)
      kernels::parallel_gemm(pool, n, k, m, alpha, dyt, MatRef{a.data<float>(), a.dim(1), ta}, 0.0f, db.data<float>(),
                             k);
    else
      kernels::parallel_gemm(pool, k, n, m, alpha, MatRef{a.data<float>(), a.dim(1), !ta}, dyr, 0.0f, db.data<float>(),
                             n);
    g[1] = db;
  }
  if (wanted(args, 2)) {
    const Array& c = *args.in[2];
    require_f32(ctx, c, "input C");
    Array dc(DType::F32, c.shape());  // zero when beta is 0: C did not enter the output
    if (beta != 0.0f) {
      float* dcd = dc.data<float>();
      sum_to_shape(d, {m, n}, dcd, c.shape());
      for (std::int64_t i = 0; i < dc.size(); ++i) dcd[i] *= beta;
    }
    g[2] = dc;
  }
  return g;
}

// ---- MatMul: numpy's matmul ------------------------------------------------------------------

// The broadcast batch layout of A (.., M, K) x B (.., K, N), 1-D operands promoted to a row (A)
// or a column (B), shared by forward and backward.
struct MatMulPlan {
  std::vector<std::int64_t> as, bs;  // the promoted shapes
  std::int64_t m = 0, k = 0, n = 0;
  std::vector<std::int64_t> batch, astride, bstride;  // strides 0 along broadcast dimensions
  std::int64_t batches = 1;
  std::vector<std::int64_t> yshape;

  // Element offsets of batch t's matrices in A and B.
  void offsets(std::int64_t t, std::int64_t& ao, std::int64_t& bo) const {
    ao = bo = 0;
    for (std::size_t i = batch.size(); i-- > 0;) {
      const std::int64_t idx = t % batch[i];
      t /= batch[i];
      ao += idx * astride[i];
      bo += idx * bstride[i];
    }
  }
  // True when every batch has a matrix of its own in the operand (no broadcasting).
  static bool full(const std::vector<std::int64_t>& stride, const std::vector<std::int64_t>& dims) {
    for (std::size_t i = 0; i < stride.size(); ++i)
      if (stride[i] == 0 && dims[i] != 1) return false;
    return true;
  }
  bool a_full() const { return full(astride, batch); }
  bool b_full() const { return full(bstride, batch); }
  bool b_shared() const {
    return std::all_of(bstride.begin(), bstride.end(), [](std::int64_t s) { return s == 0; });
  }
};

MatMulPlan plan_matmul(const NodeContext& ctx, const Array& a, const Array& b) {
  require_f32(ctx, a, "input A");
  require_f32(ctx, b, "input B");
  if (a.rank() == 0 || b.rank() == 0)
    ctx.fail("A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) + " must not be scalars");
  MatMulPlan p;
  p.as = a.shape();
  p.bs = b.shape();
  if (p.as.size() == 1) p.as.insert(p.as.begin(), 1);
  if (p.bs.size() == 1) p.bs.push_back(1);
  p.m = p.as[p.as.size() - 2];
  p.k = p.as.back();
  p.n = p.bs.back();
  if (p.bs[p.bs.size() - 2] != p.k)
    ctx.fail("A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) + " do not share an inner dimension");
  // Broadcast the batch dimensions (numpy rules, aligned at the right).
  const std::size_t ab = p.as.size() - 2, bb = p.bs.size() - 2, nb = std::max(ab, bb);
  p.batch.assign(nb, 0);
  p.astride.assign(nb, 0);
  p.bstride.assign(nb, 0);
  std::int64_t sa = p.m * p.k, sb = p.k * p.n;
  for (std::size_t i = nb; i-- > 0;) {
    const std::int64_t da = i + ab >= nb ? p.as[i + ab - nb] : 1, db = i + bb >= nb ? p.bs[i + bb - nb] : 1;
    if (da != db && da != 1 && db != 1)
      ctx.fail("batch dimensions of A " + shape_string(a.shape()) + " and B " + shape_string(b.shape()) +
               " do not broadcast");
    p.batch[i] = std::max(da, db);
    if (da == 0 || db == 0) p.batch[i] = 0;
    p.astride[i] = da == 1 ? 0 : sa;
    p.bstride[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  p.yshape = p.batch;
  if (a.rank() > 1) p.yshape.push_back(p.m);
  if (b.rank() > 1) p.yshape.push_back(p.n);
  for (const std::int64_t d : p.batch) p.batches *= d;
  return p;
}

// Runs one(t, split) for every batch: over the pool when there are enough of them, else in turn
// (each then splitting its own product).
template <class One>
void for_each_batch(ThreadPool& pool, std::int64_t batches, std::int64_t cost, One&& one) {
  if (batches >= pool.threads() && batches * cost >= (std::int64_t{1} << 16)) {
    pool.parallel_for(static_cast<std::size_t>(batches), 1, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) one(static_cast<std::int64_t>(t), false);
    });
  } else {
    for (std::int64_t t = 0; t < batches; ++t) one(t, true);
  }
}

std::vector<Array> matmul(const NodeContext& ctx, Inputs in) {
  const Array& a = *in[0];
  const Array& b = *in[1];
  const MatMulPlan p = plan_matmul(ctx, a, b);
  Array y = Array::for_overwrite(DType::F32, p.yshape);
  if (y.size() == 0) return {y};
  float* yd = y.data<float>();
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  const std::int64_t m = p.m, k = p.k, n = p.n;
  ThreadPool& pool = ctx.pool();

  // B shared by every batch and A contiguous: one product of (batches * M) x K by K x N.
  if (p.b_shared() && b.rank() <= 2 && a.size() == p.batches * m * k) {
    kernels::parallel_gemm(pool, p.batches * m, n, k, 1.0f, MatRef{ad, k, false}, MatRef{bd, n, false}, 0.0f, yd, n);
    return {y};
  }
  for_each_batch(pool, p.batches, m * n * k, [&](std::int64_t t, bool split) {
    std::int64_t ao, bo;
    p.offsets(t, ao, bo);
    kernels::product(pool, split, m, n, k, MatRef{ad + ao, k, false}, MatRef{bd + bo, n, false}, 0.0f, yd + t * m * n,
                     n);
  });
  return {y};
}

// Per batch dA = dY B^T and dB = A^T dY; an operand broadcast over batches gets the sum over
// them (products into a full-size buffer, then sum_to_shape), and a B shared by every batch of a
// contiguous A gets its gradient as one product A_flat^T dY_flat.
Grads matmul_backward(const NodeContext& ctx, const BackwardArgs& args) {
  Grads g(args.in.size());
  const Array& a = *args.in[0];
  const Array& b = *args.in[1];
  const auto dyo = out_grad(ctx, args, 0, DType::F32);
  if (!dyo) return g;
  const MatMulPlan p = plan_matmul(ctx, a, b);
  const std::int64_t m = p.m, k = p.k, n = p.n;
  const float* dy = dyo->data<float>();
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  ThreadPool& pool = ctx.pool();
  const bool empty = p.batches * m * n == 0;  // then no product touches an operand: zeros
  const bool flat = p.b_shared() && p.a_full();

  // Batch t's product into dst + t * size, the batches summed down to `to` when broadcast.
  const auto per_batch = [&](bool full, std::int64_t size, const std::vector<std::int64_t>& to, float* out,
                             auto&& product) {
    if (full) {
      for_each_batch(pool, p.batches, m * n * k,
                     [&](std::int64_t t, bool split) { product(t, split, out + t * size); });
      return;
    }
    auto buf = std::vector<float>(static_cast<std::size_t>(p.batches * size));
    for_each_batch(pool, p.batches, m * n * k,
                   [&](std::int64_t t, bool split) { product(t, split, buf.data() + t * size); });
    std::vector<std::int64_t> from = p.batch;
    from.push_back(to[to.size() - 2]);
    from.push_back(to.back());
    sum_to_shape(buf.data(), from, out, to);
  };

  if (wanted(args, 0)) {
    Array da(DType::F32, a.shape());
    float* dad = da.data<float>();
    if (!empty && flat) {
      kernels::parallel_gemm(pool, p.batches * m, k, n, 1.0f, MatRef{dy, n, false}, MatRef{bd, n, true}, 0.0f, dad, k);
    } else if (!empty) {
      per_batch(p.a_full(), m * k, p.as, dad, [&](std::int64_t t, bool split, float* dst) {
        std::int64_t ao, bo;
        p.offsets(t, ao, bo);
        kernels::product(pool, split, m, k, n, MatRef{dy + t * m * n, n, false}, MatRef{bd + bo, n, true}, 0.0f, dst,
                         k);
      });
    }
    g[0] = da;
  }
  if (wanted(args, 1)) {
    Array db(DType::F32, b.shape());
    float* dbd = db.data<float>();
    if (!empty && flat) {
      kernels::parallel_gemm(pool, k, n, p.batches * m, 1.0f, MatRef{ad, k, true}, MatRef{dy, n, false}, 0.0f, dbd, n);
    } else if (!empty) {
      per_batch(p.b_full(), k * n, p.bs, dbd, [&](std::int64_t t, bool split, float* dst) {
        std::int64_t ao, bo;
        p.offsets(t, ao, bo);
        kernels::product(pool, split, k, n, m, MatRef{ad + ao, k, true}, MatRef{dy + t * m * n, n, false}, 0.0f, dst,
                         n);
      });
    }
    g[1] = db;
  }
  return g;
}

}  // namespace

void add_linear_ops(OpRegistry& r) {
  r.add({"Gemm", 2, 3, gemm, check_gemm, gemm_backward});
  r.add({"MatMul", 2, 2, matmul, nullptr, matmul_backward});
}

}  // namespace paramscope::engine
