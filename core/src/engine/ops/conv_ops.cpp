// Conv and ConvTranspose (float32, 1 to 3 or more spatial axes): im2col / col2im and one matrix
// product per image and group; depthwise convolutions over one or two axes directly. The backward rules are in
// conv_grads.cpp.
#include "engine/ops/conv_ops.h"

#include <algorithm>
#include <string>

#include "engine/kernels/buffer.h"
#include "engine/kernels/depthwise.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/window.h"

namespace paramscope::engine {
namespace {

using kernels::ConvGeometry;
using kernels::MatRef;

void require_f32(const NodeContext& ctx, const Array& a, const char* what) {
  if (a.type() != DType::F32)
    ctx.unsupported(ctx.node().op_type + " with " + std::string(dtype_name(a.type())) + " " + what +
                    " (only F32 is implemented)");
}

std::int64_t read_group(const NodeContext& ctx) {
  const std::int64_t group = ctx.attr_int("group", 1);
  if (group < 1 || group > (std::int64_t{1} << 30)) ctx.fail("group " + std::to_string(group) + " is not positive");
  return group;
}

void check_conv(const NodeContext& ctx) {
  (void)kernels::read_window(ctx);
  (void)read_group(ctx);
}

void check_conv_transpose(const NodeContext& ctx) {
  (void)kernels::read_window(ctx);
  (void)read_group(ctx);
  for (const char* name : {"output_padding", "output_shape"}) {
    const auto v = ctx.attr_ints(name);
    for (const std::int64_t x : v)
      if (x < 0 || x > (std::int64_t{1} << 30))
        ctx.fail(std::string(name) + " " + shape_string(v) + " has a value out of [0, 2^30]");
  }
}

// The input checks both operators share: X [N, C, spatial...], W of the same rank, B [M].
struct ConvInputs {
  const Array& x;
  const Array& w;
  const Array* b;
  std::int64_t n, c, group;
  std::vector<std::int64_t> in, kernel;
};

ConvInputs conv_inputs(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  const Array& w = *in[1];
  const Array* b = in.size() > 2 ? in[2] : nullptr;
  require_f32(ctx, x, "input");
  require_f32(ctx, w, "weights");
  if (b) require_f32(ctx, *b, "bias");
  if (x.rank() < 3) ctx.fail("input of shape " + shape_string(x.shape()) + " has no spatial axis");
  if (w.rank() != x.rank())
    ctx.fail("weights of shape " + shape_string(w.shape()) + " do not match the input's rank (" +
             shape_string(x.shape()) + ")");
  ConvInputs r{x, w, b, x.dim(0), x.dim(1), read_group(ctx), {}, {}};
  r.in.assign(x.shape().begin() + 2, x.shape().end());
  r.kernel.assign(w.shape().begin() + 2, w.shape().end());
  for (const std::int64_t kd : r.kernel)
    if (kd < 1) ctx.fail("weights of shape " + shape_string(w.shape()) + " have an empty kernel");
  const auto attr_kernel = ctx.attr_ints("kernel_shape");
  if (!attr_kernel.empty() && attr_kernel != r.kernel)
    ctx.fail("kernel_shape " + shape_string(attr_kernel) + " does not match the weights' " + shape_string(w.shape()));
  if (r.c % r.group != 0)
    ctx.fail("input channels " + std::to_string(r.c) + " are not a multiple of group " + std::to_string(r.group));
  return r;
}

void add_bias(float* y, const float* bias, std::int64_t channels, std::int64_t plane) {
  for (std::int64_t m = 0; m < channels; ++m) {
    const float v = bias[m];
    float* row = y + m * plane;
    for (std::int64_t p = 0; p < plane; ++p) row[p] += v;
  }
}

std::vector<Array> conv(const NodeContext& ctx, Inputs in) {
  const ConvPlan p = plan_conv(ctx, in);
  const ConvGeometry& g = p.g;
  Array y = Array::for_overwrite(DType::F32, p.yshape);  // every product writes its block
  const std::int64_t mg = p.mg, cg = p.cg, k = cg * g.kernel_size(), pos = g.out_size(), isz = g.in_size();
  if (y.size() == 0) return {y};
  const float* x = p.x->data<float>();
  const float* w = p.w->data<float>();
  const float* bias = p.b ? p.b->data<float>() : nullptr;
  float* out = y.data<float>();
  const bool pointwise = g.is_pointwise();
  // One input channel with group 1 (a grayscale first layer) is left to the matrix product,
  // which computes all output channels at once.
  const auto depthwise = pointwise || p.group == 1 ? std::nullopt : kernels::depthwise_plane(g);
  ThreadPool& pool = ctx.pool();

  const std::int64_t per_block = depthwise ? 1 : images_per_block(p.n, pos, k);
  const std::int64_t blocks = (p.n + per_block - 1) / per_block;
  for_each_image_group(pool, blocks * p.group, per_block * mg * k * pos, [&](std::int64_t t, bool split) {
    const std::int64_t blk = t / p.group, grp = t % p.group;
    const float* wg = w + grp * mg * k;
    const float* bg = bias ? bias + grp * mg : nullptr;
    if (per_block > 1) {
      // cols holds the images' column matrices side by side; the product's rows are split back
      // into the images' output planes.
      const std::int64_t first = blk * per_block, count = std::min(per_block, p.n - first), width = count * pos;
      auto cols = kernels::scratch(k * width);
      for (std::int64_t i = 0; i < count; ++i)
        kernels::im2col(g, x + ((first + i) * p.c + grp * cg) * isz, cols.get() + i * pos, width);
      auto prod = kernels::scratch(mg * width);
      const MatRef wa{wg, k, false}, xb{cols.get(), width, false};
      kernels::product(pool, split, mg, width, k, wa, xb, 0.0f, prod.get(), width);
      for (std::int64_t i = 0; i < count; ++i) {
        float* yg = out + ((first + i) * p.m + grp * mg) * pos;
        for (std::int64_t j = 0; j < mg; ++j) std::copy_n(prod.get() + j * width + i * pos, pos, yg + j * pos);
        if (bg) add_bias(yg, bg, mg, pos);
      }
      return;
    }
    const std::int64_t img = blk;
    const float* xg = x + (img * p.c + grp * cg) * isz;
    float* yg = out + (img * p.m + grp * mg) * pos;
    if (depthwise) {
      for (std::int64_t j = 0; j < mg; ++j)
        kernels::depthwise_forward(*depthwise, xg, wg + j * k, bg ? bg[j] : 0.0f, yg + j * pos);
      return;
    }
    std::unique_ptr<float[]> cols;
    const float* b = xg;
    if (!pointwise) {
      cols = kernels::scratch(k * pos);
      if (split)
        parallel_im2col(pool, g, xg, cols.get());
      else
        kernels::im2col(g, xg, cols.get());
      b = cols.get();
    }
    const MatRef wa{wg, k, false}, xb{b, pos, false};
    kernels::product(pool, split, mg, pos, k, wa, xb, 0.0f, yg, pos);
    if (bg) add_bias(yg, bg, mg, pos);
  });
  return {y};
}

std::vector<Array> conv_transpose(const NodeContext& ctx, Inputs in) {
  const ConvPlan p = plan_conv_transpose(ctx, in);
  const ConvGeometry& g = p.g;
  Array y(DType::F32, p.yshape);
  if (y.size() == 0) return {y};
  const std::int64_t cg = p.cg, mg = p.mg, k = mg * g.kernel_size(), pin = g.out_size(), pout = g.in_size();
  const float* x = p.x->data<float>();
  const float* w = p.w->data<float>();
  const float* bias = p.b ? p.b->data<float>() : nullptr;
  float* yd = y.data<float>();
  ThreadPool& pool = ctx.pool();

  for_each_image_group(pool, p.n * p.group, cg * k * pin, [&](std::int64_t t, bool split) {
    const std::int64_t img = t / p.group, grp = t % p.group;
    const float* xg = x + (img * p.c + grp * cg) * pin;
    float* yg = yd + (img * p.m + grp * mg) * pout;
    auto cols = kernels::scratch(k * pin);
    // cols (mg * kernel x positions) = W_g^T (W_g is cg x mg * kernel) * X_g (cg x positions).
    const MatRef wa{w + grp * cg * k, k, true}, xb{xg, pin, false};
    kernels::product(pool, split, k, pin, cg, wa, xb, 0.0f, cols.get(), pin);
    if (split)
      parallel_col2im(pool, g, cols.get(), yg);
    else
      kernels::col2im(g, cols.get(), yg);
    if (bias) add_bias(yg, bias + grp * mg, mg, pout);
  });
  return {y};
}

}  // namespace

ConvPlan plan_conv(const NodeContext& ctx, Inputs in) {
  const ConvInputs ci = conv_inputs(ctx, in);
  const std::int64_t m = ci.w.dim(0), cg = ci.c / ci.group;
  if (ci.w.dim(1) != cg)
    ctx.fail("weights of shape " + shape_string(ci.w.shape()) + " need " + std::to_string(ci.w.dim(1) * ci.group) +
             " input channels with group " + std::to_string(ci.group) + ", the input has " + std::to_string(ci.c));
  if (m % ci.group != 0)
    ctx.fail("output channels " + std::to_string(m) + " are not a multiple of group " + std::to_string(ci.group));
  if (ci.b && (ci.b->rank() != 1 || ci.b->dim(0) != m))
    ctx.fail("bias of shape " + shape_string(ci.b->shape()) + " does not have the " + std::to_string(m) +
             " output channels");
  const kernels::Window win = kernels::resolve_window(ctx, kernels::read_window(ctx), ci.in, ci.kernel, false);
  ConvPlan p{&ci.x,        &ci.w,
             ci.b,         ci.n,
             ci.c,         m,
             ci.group,     cg,
             m / ci.group, ConvGeometry{cg, ci.in, win.out, win.kernel, win.stride, win.dilation, win.pad_begin},
             {ci.n, m}};
  p.yshape.insert(p.yshape.end(), win.out.begin(), win.out.end());
  return p;
}

ConvPlan plan_conv_transpose(const NodeContext& ctx, Inputs in) {
  const ConvInputs ci = conv_inputs(ctx, in);
  if (ci.w.dim(0) != ci.c)
    ctx.fail("weights of shape " + shape_string(ci.w.shape()) + " do not have the input's " + std::to_string(ci.c) +
             " channels first");
  const std::int64_t cg = ci.c / ci.group, mg = ci.w.dim(1), m = mg * ci.group;
  if (ci.b && (ci.b->rank() != 1 || ci.b->dim(0) != m))
    ctx.fail("bias of shape " + shape_string(ci.b->shape()) + " does not have the " + std::to_string(m) +
             " output channels");
  const kernels::WindowAttrs a = kernels::read_window(ctx);
  const std::size_t n = ci.in.size();
  const auto list = [&](const char* name, const std::vector<std::int64_t>& v, std::size_t len, std::int64_t fill) {
    if (v.empty()) return std::vector<std::int64_t>(len, fill);
    if (v.size() != len)
      ctx.fail(std::string(name) + " " + shape_string(v) + " does not have " + std::to_string(len) + " entries");
    return v;
  };
  const auto stride = list("strides", a.strides, n, 1);
  const auto dilation = list("dilations", a.dilations, n, 1);
  const auto out_pad = list("output_padding", ctx.attr_ints("output_padding"), n, 0);
  auto out_shape = ctx.attr_ints("output_shape");
  if (out_shape.size() == n + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);  // N, C given too
  if (!out_shape.empty()) out_shape = list("output_shape", out_shape, n, 0);
  if (!a.kernel.empty() && a.kernel.size() != n)
    ctx.fail("kernel_shape " + shape_string(a.kernel) + " does not have " + std::to_string(n) + " entries");
  if (!a.pads.empty() && a.pads.size() != 2 * n)
    ctx.fail("pads " + shape_string(a.pads) + " does not have " + std::to_string(2 * n) + " entries");

  std::vector<std::int64_t> pad_begin(n, 0), out(n, 0);
  for (std::size_t d = 0; d < n; ++d) {
    // The size the transposed convolution covers before any padding is cut off.
    const std::int64_t full = stride[d] * (ci.in[d] - 1) + out_pad[d] + (ci.kernel[d] - 1) * dilation[d] + 1;
    const bool same = a.auto_pad == kernels::AutoPad::SameUpper || a.auto_pad == kernels::AutoPad::SameLower;
    if (!out_shape.empty() || same) {
      out[d] = out_shape.empty() ? ci.in[d] * stride[d] : out_shape[d];
      // An output larger than the full one gets its extra positions at the end (bias only), as
      // onnxruntime; SAME_UPPER puts the smaller half of the padding first, others the larger.
      const std::int64_t total = std::max<std::int64_t>(0, full - out[d]);
      pad_begin[d] = a.auto_pad == kernels::AutoPad::SameUpper ? total / 2 : total - total / 2;
    } else if (a.auto_pad == kernels::AutoPad::Valid || a.pads.empty()) {
      out[d] = full;
    } else {
      pad_begin[d] = a.pads[d];
      out[d] = full - a.pads[d] - a.pads[d + n];
    }
    if (out[d] < 0) ctx.fail("the output would have a negative size on spatial axis " + std::to_string(d));
  }
  ConvPlan p{&ci.x,    &ci.w,    ci.b, ci.n, ci.c,
             m,        ci.group, cg,   mg,   ConvGeometry{mg, out, ci.in, ci.kernel, stride, dilation, pad_begin},
             {ci.n, m}};
  p.yshape.insert(p.yshape.end(), out.begin(), out.end());
  return p;
}

namespace {

// Runs kernel on channel blocks of g over the pool when the column matrix is large.
template <class Kernel>
void by_channel_blocks(ThreadPool& pool, const ConvGeometry& g, Kernel&& kernel) {
  const std::int64_t per_channel = g.kernel_size() * g.out_size();
  if (g.channels < 2 || per_channel * g.channels < (std::int64_t{1} << 16) || pool.threads() <= 1) {
    kernel(g, 0);
    return;
  }
  pool.parallel_for(static_cast<std::size_t>(g.channels), 1, [&](std::size_t begin, std::size_t end) {
    ConvGeometry part = g;
    part.channels = static_cast<std::int64_t>(end - begin);
    kernel(part, static_cast<std::int64_t>(begin));
  });
}

}  // namespace

std::int64_t images_per_block(std::int64_t images, std::int64_t positions, std::int64_t k) {
  constexpr std::int64_t kNarrow = 256, kColumns = 1024, kMaxColsBytes = std::int64_t{8} << 20;
  if (images <= 1 || positions >= kNarrow || positions == 0) return 1;
  const std::int64_t by_bytes = std::max<std::int64_t>(1, kMaxColsBytes / (4 * k * positions));
  return std::clamp<std::int64_t>(std::min(kColumns / positions, by_bytes), 1, images);
}

void parallel_im2col(ThreadPool& pool, const ConvGeometry& g, const float* x, float* cols) {
  const std::int64_t per_channel = g.kernel_size() * g.out_size(), isz = g.in_size();
  by_channel_blocks(pool, g, [&](const ConvGeometry& part, std::int64_t first) {
    kernels::im2col(part, x + first * isz, cols + first * per_channel);
  });
}

void parallel_col2im(ThreadPool& pool, const ConvGeometry& g, const float* cols, float* x) {
  const std::int64_t per_channel = g.kernel_size() * g.out_size(), isz = g.in_size();
  by_channel_blocks(pool, g, [&](const ConvGeometry& part, std::int64_t first) {
    kernels::col2im(part, cols + first * per_channel, x + first * isz);
  });
}

void add_conv_ops(OpRegistry& r) {
  r.add({"Conv", 2, 3, conv, check_conv, conv_backward});
  r.add({"ConvTranspose", 2, 3, conv_transpose, check_conv_transpose, conv_transpose_backward});
}

}  // namespace paramscope::engine
