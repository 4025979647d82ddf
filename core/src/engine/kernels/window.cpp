#include "engine/kernels/window.h"

#include <string>

#include "paramscope/array.h"

namespace paramscope::engine::kernels {
namespace {

// Bounded so that products such as (kernel - 1) * dilation cannot overflow.
constexpr std::int64_t kMaxWindowValue = std::int64_t{1} << 30;

void check_list(const NodeContext& ctx, const char* name, const std::vector<std::int64_t>& v, std::int64_t min) {
  for (const std::int64_t x : v) {
    if (x < min) ctx.fail(std::string(name) + " " + shape_string(v) + " has a value below " + std::to_string(min));
    if (x > kMaxWindowValue) ctx.fail(std::string(name) + " " + shape_string(v) + " has a value above 2^30");
  }
}

std::vector<std::int64_t> or_ones(const std::vector<std::int64_t>& v, std::size_t n) {
  return v.empty() ? std::vector<std::int64_t>(n, 1) : v;
}

}  // namespace

WindowAttrs read_window(const NodeContext& ctx) {
  WindowAttrs a;
  const std::string pad = ctx.attr_string("auto_pad", "NOTSET");
  if (pad == "NOTSET")
    a.auto_pad = AutoPad::NotSet;
  else if (pad == "SAME_UPPER")
    a.auto_pad = AutoPad::SameUpper;
  else if (pad == "SAME_LOWER")
    a.auto_pad = AutoPad::SameLower;
  else if (pad == "VALID")
    a.auto_pad = AutoPad::Valid;
  else
    ctx.fail("auto_pad '" + pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  a.kernel = ctx.attr_ints("kernel_shape");
  a.strides = ctx.attr_ints("strides");
  a.dilations = ctx.attr_ints("dilations");
  a.pads = ctx.attr_ints("pads");
  check_list(ctx, "kernel_shape", a.kernel, 1);
  check_list(ctx, "strides", a.strides, 1);
  check_list(ctx, "dilations", a.dilations, 1);
  check_list(ctx, "pads", a.pads, 0);
  // Every list that is given must agree on the number of spatial axes.
  std::size_t n = a.kernel.size();
  const auto agree = [&](const char* name, std::size_t len) {
    if (len == 0) return;
    if (n == 0) n = len;
    if (len != n)
      ctx.fail(std::string(name) + " has " + std::to_string(len) + " entries for " + std::to_string(n) +
               " spatial axes");
  };
  agree("strides", a.strides.size());
  agree("dilations", a.dilations.size());
  if (a.pads.size() % 2 != 0) ctx.fail("pads has an odd number of entries (" + std::to_string(a.pads.size()) + ")");
  agree("pads (half of it)", a.pads.size() / 2);
  return a;
}

Window resolve_window(const NodeContext& ctx, const WindowAttrs& a, std::span<const std::int64_t> in,
                      std::span<const std::int64_t> kernel, bool ceil_mode) {
  const std::size_t n = in.size();
  const auto fits = [&](const char* name, std::size_t len) {
    if (len != 0 && len != n)
      ctx.fail(std::string(name) + " has " + std::to_string(len) + " entries for an input with " + std::to_string(n) +
               " spatial axes");
  };
  fits("kernel_shape", kernel.size());
  if (kernel.size() != n) ctx.fail("kernel_shape is missing");
  fits("strides", a.strides.size());
  fits("dilations", a.dilations.size());
  fits("pads (half of it)", a.pads.size() / 2);
  Window w;
  w.kernel.assign(kernel.begin(), kernel.end());
  w.stride = or_ones(a.strides, n);
  w.dilation = or_ones(a.dilations, n);
  w.pad_begin.assign(n, 0);
  w.pad_end.assign(n, 0);
  w.out.assign(n, 0);
  for (std::size_t d = 0; d < n; ++d) {
    const std::int64_t s = w.stride[d];
    const std::int64_t extent = (w.kernel[d] - 1) * w.dilation[d] + 1;  // the dilated kernel
    if (a.auto_pad == AutoPad::SameUpper || a.auto_pad == AutoPad::SameLower) {
      w.out[d] = (in[d] + s - 1) / s;
      const std::int64_t total = std::max<std::int64_t>(0, (w.out[d] - 1) * s + extent - in[d]);
      const std::int64_t small = total / 2, large = total - small;
      w.pad_begin[d] = a.auto_pad == AutoPad::SameUpper ? small : large;
      w.pad_end[d] = total - w.pad_begin[d];
      continue;
    }
    if (a.auto_pad == AutoPad::NotSet && !a.pads.empty()) {
      w.pad_begin[d] = a.pads[d];
      w.pad_end[d] = a.pads[d + n];
    }
    const std::int64_t span = in[d] + w.pad_begin[d] + w.pad_end[d] - extent;
    if (span < 0)
      ctx.fail("the (dilated) kernel of " + std::to_string(extent) + " is larger than the padded input of " +
               std::to_string(in[d] + w.pad_begin[d] + w.pad_end[d]) + " on spatial axis " + std::to_string(d));
    w.out[d] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (w.out[d] - 1) * s >= in[d] + w.pad_begin[d]) --w.out[d];
  }
  return w;
}

}  // namespace paramscope::engine::kernels
