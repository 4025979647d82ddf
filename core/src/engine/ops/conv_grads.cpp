// Backward rules of Conv and ConvTranspose: the forward pass's im2col / col2im and matrix products
// with the operands transposed (depthwise convolutions directly, as in the forward pass). For
// Conv, per image and group, with cols = im2col(X_g):
//   dW_g += dY_g cols^T,  dX_g = col2im(W_g^T dY_g),  dB = sum of dY over images and positions;
// ConvTranspose is Conv's adjoint, so with dcols = im2col(dY_g) over the output:
//   dW_g += X_g dcols^T,  dX_g = W_g dcols.
#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "engine/kernels/buffer.h"
#include "engine/kernels/depthwise.h"
#include "engine/kernels/gemm.h"
#include "engine/ops/conv_ops.h"
#include "engine/ops/grad_support.h"

namespace paramscope::engine {
namespace {

using kernels::ConvGeometry;
using kernels::MatRef;
using kernels::product;

// Where a task adds its share of the weight and bias gradients (nullptr: not wanted).
struct Sums {
  float* dw;
  float* db;
};

// Runs task(t, sums, split) for every image x group t. With enough tasks for the pool they run
// in one block of images per thread, each block adding into a zeroed copy of the weight and bias
// gradients (summed into `out` at the end: no two threads write the same sum); otherwise one at
// a time into `out` with split set, and each task splits its own products over the pool.
template <class Task>
void accumulate_tasks(ThreadPool& pool, std::int64_t tasks, std::int64_t task_cost, Sums out, std::int64_t wsize,
                      std::int64_t bsize, Task&& task) {
  const std::int64_t blocks = std::min<std::int64_t>(tasks, pool.threads());
  if (blocks <= 1 || tasks < pool.threads() || tasks * task_cost < (std::int64_t{1} << 16)) {
    for (std::int64_t t = 0; t < tasks; ++t) task(t, out, true);
    return;
  }
  const std::int64_t wpart = out.dw ? wsize : 0, part = wpart + (out.db ? bsize : 0);
  std::vector<float> parts(static_cast<std::size_t>(blocks * part), 0.0f);
  pool.parallel_for(static_cast<std::size_t>(blocks), 1, [&](std::size_t begin, std::size_t end) {
    for (auto blk = static_cast<std::int64_t>(begin); blk < static_cast<std::int64_t>(end); ++blk) {
      float* base = parts.data() + blk * part;
      const Sums mine{out.dw ? base : nullptr, out.db ? base + wpart : nullptr};
      for (std::int64_t t = tasks * blk / blocks; t < tasks * (blk + 1) / blocks; ++t) task(t, mine, false);
    }
  });
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const float* base = parts.data() + blk * part;
    if (out.dw)
      for (std::int64_t i = 0; i < wsize; ++i) out.dw[i] += base[i];
    if (out.db)
      for (std::int64_t i = 0; i < bsize; ++i) out.db[i] += base[wpart + i];
  }
}

// db[r] += the sum of row r of a rows x len matrix.
void add_row_sums(const float* m, std::int64_t rows, std::int64_t len, float* db) {
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = 0;
    const float* row = m + r * len;
    for (std::int64_t i = 0; i < len; ++i) s += row[i];
    db[r] += static_cast<float>(s);
  }
}

void to_columns(ThreadPool& pool, bool split, const ConvGeometry& g, const float* x, float* cols) {
  if (split)
    parallel_im2col(pool, g, x, cols);
  else
    kernels::im2col(g, x, cols);
}

// The gradient arrays a rule fills: zero-filled (col2im and the sums add into them), empty
// where not wanted.
struct ConvGrads {
  std::optional<Array> dx, dw, db;
  explicit ConvGrads(const BackwardArgs& a) {
    for (std::size_t i = 0; i < 3; ++i)
      if (wanted(a, i)) (i == 0 ? dx : i == 1 ? dw : db) = Array(DType::F32, a.in[i]->shape());
  }
  static float* ptr(std::optional<Array>& v) { return v ? v->data<float>() : nullptr; }
  Grads take(std::size_t slots) {
    Grads g(slots);
    g[0] = std::move(dx);
    g[1] = std::move(dw);
    if (slots > 2) g[2] = std::move(db);
    return g;
  }
};

// The rule for images first .. first + count - 1 of group grp at once, their column matrices
// side by side (see images_per_block): dY's planes are gathered into one mg x width matrix.
void block_backward(ThreadPool& pool, bool split, const ConvPlan& p, std::int64_t first, std::int64_t count,
                    std::int64_t grp, const float* x, const float* w, const float* dy, float* dx, Sums s) {
  const ConvGeometry& g = p.g;
  const std::int64_t mg = p.mg, cg = p.cg, k = cg * g.kernel_size(), pos = g.out_size(), isz = g.in_size();
  const std::int64_t width = count * pos;
  auto dyb = kernels::scratch(mg * width);
  for (std::int64_t i = 0; i < count; ++i) {
    const float* dyg = dy + ((first + i) * p.m + grp * mg) * pos;
    if (s.db) add_row_sums(dyg, mg, pos, s.db + grp * mg);
    for (std::int64_t j = 0; j < mg; ++j) std::copy_n(dyg + j * pos, pos, dyb.get() + j * width + i * pos);
  }
  auto cols = kernels::scratch(k * width);
  const MatRef dyr{dyb.get(), width, false};
  if (s.dw) {
    for (std::int64_t i = 0; i < count; ++i)
      kernels::im2col(g, x + ((first + i) * p.c + grp * cg) * isz, cols.get() + i * pos, width);
    product(pool, split, mg, k, width, dyr, MatRef{cols.get(), width, true}, 1.0f, s.dw + grp * mg * k, k);
  }
  if (dx) {
    product(pool, split, k, width, mg, MatRef{w + grp * mg * k, k, true}, dyr, 0.0f, cols.get(), width);
    for (std::int64_t i = 0; i < count; ++i)
      kernels::col2im(g, cols.get() + i * pos, dx + ((first + i) * p.c + grp * cg) * isz, width);
  }
}

}  // namespace

Grads conv_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const auto dyo = out_grad(ctx, a, 0, DType::F32);
  if (!dyo || !any_wanted(a)) return Grads(a.in.size());
  const ConvPlan p = plan_conv(ctx, a.in);
  const ConvGeometry& g = p.g;
  ConvGrads out(a);
  const std::int64_t mg = p.mg, cg = p.cg, k = cg * g.kernel_size(), pos = g.out_size(), isz = g.in_size();
  const float* x = p.x->data<float>();
  const float* w = p.w->data<float>();
  const float* dy = dyo->data<float>();
  float* dx = ConvGrads::ptr(out.dx);
  const bool pointwise = g.is_pointwise();  // the column matrix is X itself
  const auto depthwise = pointwise || p.group == 1 ? std::nullopt : kernels::depthwise_plane(g);
  ThreadPool& pool = ctx.pool();

  const Sums sums{ConvGrads::ptr(out.dw), ConvGrads::ptr(out.db)};
  const std::int64_t per_block = depthwise ? 1 : images_per_block(p.n, pos, k);
  const std::int64_t blocks = (p.n + per_block - 1) / per_block;
  accumulate_tasks(
      pool, blocks * p.group, per_block * mg * k * pos, sums, p.w->size(), p.m,
      [&](std::int64_t t, Sums s, bool split) {
        const std::int64_t grp = t % p.group;
        if (per_block > 1) {
          const std::int64_t first = t / p.group * per_block;
          block_backward(pool, split, p, first, std::min(per_block, p.n - first), grp, x, w, dy, dx, s);
          return;
        }
        const std::int64_t img = t / p.group;
        const float* xg = x + (img * p.c + grp * cg) * isz;
        const float* dyg = dy + (img * p.m + grp * mg) * pos;
        if (depthwise) {
          if (s.db) add_row_sums(dyg, mg, pos, s.db + grp * mg);
          float* dxg = dx ? dx + (img * p.c + grp * cg) * isz : nullptr;  // zero-filled: accumulated
          for (std::int64_t j = 0; j < mg; ++j) {
            const std::int64_t ch = grp * mg + j;
            kernels::depthwise_backward(*depthwise, xg, w + ch * k, dyg + j * pos, dxg, s.dw ? s.dw + ch * k : nullptr);
          }
          return;
        }
        std::unique_ptr<float[]> cols;
        if (!pointwise && (s.dw || dx)) cols = kernels::scratch(k * pos);
        if (s.db) add_row_sums(dyg, mg, pos, s.db + grp * mg);
        if (s.dw) {
          const float* c = xg;
          if (!pointwise) {
            to_columns(pool, split, g, xg, cols.get());
            c = cols.get();
          }
          product(pool, split, mg, k, pos, MatRef{dyg, pos, false}, MatRef{c, pos, true}, 1.0f, s.dw + grp * mg * k, k);
        }
        if (dx) {
          float* dxg = dx + (img * p.c + grp * cg) * isz;
          const MatRef wt{w + grp * mg * k, k, true}, dyr{dyg, pos, false};
          if (pointwise) {
            product(pool, split, k, pos, mg, wt, dyr, 0.0f, dxg, pos);
          } else {
            product(pool, split, k, pos, mg, wt, dyr, 0.0f, cols.get(), pos);
            if (split)
              parallel_col2im(pool, g, cols.get(), dxg);
            else
              kernels::col2im(g, cols.get(), dxg);
          }
        }
      });
  return out.take(a.in.size());
}

Grads conv_transpose_backward(const NodeContext& ctx, const BackwardArgs& a) {
  const auto dyo = out_grad(ctx, a, 0, DType::F32);
  if (!dyo || !any_wanted(a)) return Grads(a.in.size());
  const ConvPlan p = plan_conv_transpose(ctx, a.in);
  const ConvGeometry& g = p.g;  // over Y: its "output" positions are X's
  ConvGrads out(a);
  const std::int64_t cg = p.cg, mg = p.mg, k = mg * g.kernel_size(), pin = g.out_size(), pout = g.in_size();
  const float* x = p.x->data<float>();
  const float* w = p.w->data<float>();
  const float* dy = dyo->data<float>();
  float* dx = ConvGrads::ptr(out.dx);
  const bool pointwise = g.is_pointwise();  // the column matrix of dY is dY itself
  ThreadPool& pool = ctx.pool();

  const Sums sums{ConvGrads::ptr(out.dw), ConvGrads::ptr(out.db)};
  accumulate_tasks(pool, p.n * p.group, cg * k * pin, sums, p.w->size(), p.m, [&](std::int64_t t, Sums s, bool split) {
    const std::int64_t img = t / p.group, grp = t % p.group;
    const float* xg = x + (img * p.c + grp * cg) * pin;
    const float* dyg = dy + (img * p.m + grp * mg) * pout;
    if (s.db) add_row_sums(dyg, mg, pout, s.db + grp * mg);
    if (!s.dw && !dx) return;
    std::unique_ptr<float[]> cols;
    const float* dcols = dyg;
    if (!pointwise) {
      cols = kernels::scratch(k * pin);
      to_columns(pool, split, g, dyg, cols.get());
      dcols = cols.get();
    }
    if (s.dw)
      product(pool, split, cg, k, pin, MatRef{xg, pin, false}, MatRef{dcols, pin, true}, 1.0f, s.dw + grp * cg * k, k);
    if (dx)
      product(pool, split, cg, pin, k, MatRef{w + grp * cg * k, k, false}, MatRef{dcols, pin, false}, 0.0f,
              dx + (img * p.c + grp * cg) * pin, pin);
  });
  return out.take(a.in.size());
}

}  // namespace paramscope::engine
