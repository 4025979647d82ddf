// MaxPool (with the optional Indices output), AveragePool and GlobalAveragePool over 1 to 3
// spatial axes, and their backward rules (which walk the same windows as the forward pass).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/kernels/window.h"
#include "engine/op_registry.h"
#include "engine/ops/grad_support.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {
namespace {

constexpr std::size_t kMaxAxes = 3;

bool bool_attr(const NodeContext& ctx, const char* name) {
  const std::int64_t v = ctx.attr_int(name, 0);
  if (v != 0 && v != 1) ctx.fail(std::string(name) + " is " + std::to_string(v) + ", not 0 or 1");
  return v == 1;
}

void check_pool(const NodeContext& ctx) {
  const kernels::WindowAttrs w = kernels::read_window(ctx);
  if (w.kernel.empty()) ctx.fail("kernel_shape is missing");
  if (w.kernel.size() > kMaxAxes)
    ctx.unsupported(ctx.node().op_type + " over " + std::to_string(w.kernel.size()) +
                    " spatial axes (at most 3 are implemented)");
  (void)bool_attr(ctx, "ceil_mode");
  if (ctx.node().op_type == "MaxPool") {
    (void)bool_attr(ctx, "storage_order");
  } else {
    (void)bool_attr(ctx, "count_include_pad");
  }
}

// A pooling window resolved for one input and padded to three axes (leading axes of size 1),
// with, per axis and output position, the first input coordinate and the range of kernel taps
// that land inside the input.
struct Pool3 {
  std::int64_t in[kMaxAxes], out[kMaxAxes], dil[kMaxAxes], kernel[kMaxAxes], stride[kMaxAxes];
  std::vector<std::int64_t> start[kMaxAxes], lo[kMaxAxes], hi[kMaxAxes];
  std::vector<std::int64_t> padded_taps[kMaxAxes];  // taps inside input + padding (count_include_pad)
  std::int64_t in_size = 1, out_size = 1;
};

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

Pool3 make_pool3(const NodeContext& ctx, const Array& x, std::vector<std::int64_t>* yshape) {
  if (x.rank() < 3) ctx.fail("input of shape " + shape_string(x.shape()) + " has no spatial axis");
  const std::size_t n = x.rank() - 2;
  if (n > kMaxAxes) ctx.unsupported(ctx.node().op_type + " over " + std::to_string(n) + " spatial axes");
  const kernels::WindowAttrs a = kernels::read_window(ctx);
  const std::vector<std::int64_t> in(x.shape().begin() + 2, x.shape().end());
  const kernels::Window w = kernels::resolve_window(ctx, a, in, a.kernel, ctx.attr_int("ceil_mode", 0) == 1);
  *yshape = {x.dim(0), x.dim(1)};
  yshape->insert(yshape->end(), w.out.begin(), w.out.end());
  Pool3 p;
  const std::size_t shift = kMaxAxes - n;
  for (std::size_t d = 0; d < kMaxAxes; ++d) {
    const bool real = d >= shift;
    const std::size_t r = d - shift;
    p.in[d] = real ? in[r] : 1;
    p.out[d] = real ? w.out[r] : 1;
    p.dil[d] = real ? w.dilation[r] : 1;
    const std::int64_t k = real ? w.kernel[r] : 1, s = real ? w.stride[r] : 1;
    p.kernel[d] = k;
    p.stride[d] = s;
    const std::int64_t pb = real ? w.pad_begin[r] : 0, pe = real ? w.pad_end[r] : 0;
    for (std::int64_t o = 0; o < p.out[d]; ++o) {
      const std::int64_t st = o * s - pb;
      p.start[d].push_back(st);
      p.lo[d].push_back(std::max<std::int64_t>(0, floor_div(-st + p.dil[d] - 1, p.dil[d])));
      p.hi[d].push_back(std::min<std::int64_t>(k, floor_div(p.in[d] - 1 - st, p.dil[d]) + 1));
      p.padded_taps[d].push_back(std::min<std::int64_t>(k, floor_div(p.in[d] + pe - 1 - st, p.dil[d]) + 1));
    }
    p.in_size *= p.in[d];
    p.out_size *= p.out[d];
  }
  return p;
}

// Runs plane(index) for every (image, channel) plane, split over the pool when large.
template <class Plane>
void for_each_plane(const NodeContext& ctx, std::int64_t planes, std::int64_t cost, Plane&& plane) {
  if (planes > 1 && planes * cost >= (std::int64_t{1} << 15)) {
    const auto grain =
        static_cast<std::size_t>(std::max<std::int64_t>(1, (std::int64_t{1} << 14) / std::max<std::int64_t>(cost, 1)));
    ctx.pool().parallel_for(static_cast<std::size_t>(planes), grain, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) plane(static_cast<std::int64_t>(i));
    });
  } else {
    for (std::int64_t i = 0; i < planes; ++i) plane(i);
  }
}

template <class T>
bool greater(T v, T best) {
  if constexpr (std::is_floating_point_v<T>)
    return v > best || (std::isnan(v) && !std::isnan(best));  // NaN wins, as in PyTorch
  else
    return v > best;
}

// Visits the windows of one plane in output order: begin(o, o0, o1, o2) for output position o
// (o0..o2 its coordinates), then tap(i) for every input offset i of the window that lies inside
// the input (in scan order), then end(o).
template <class Begin, class Tap, class End>
void scan_windows(const Pool3& p, Begin&& begin, Tap&& tap, End&& end) {
  std::int64_t o = 0;
  for (std::int64_t o0 = 0; o0 < p.out[0]; ++o0)
    for (std::int64_t o1 = 0; o1 < p.out[1]; ++o1)
      for (std::int64_t o2 = 0; o2 < p.out[2]; ++o2, ++o) {
        const auto u0 = static_cast<std::size_t>(o0), u1 = static_cast<std::size_t>(o1),
                   u2 = static_cast<std::size_t>(o2);
        begin(o, u0, u1, u2);
        for (std::int64_t j0 = p.lo[0][u0]; j0 < p.hi[0][u0]; ++j0) {
          const std::int64_t i0 = p.start[0][u0] + j0 * p.dil[0];
          for (std::int64_t j1 = p.lo[1][u1]; j1 < p.hi[1][u1]; ++j1) {
            const std::int64_t i1 = p.start[1][u1] + j1 * p.dil[1];
            const std::int64_t row = (i0 * p.in[1] + i1) * p.in[2] + p.start[2][u2];
            for (std::int64_t j2 = p.lo[2][u2]; j2 < p.hi[2][u2]; ++j2) tap(row + j2 * p.dil[2]);
          }
        }
        end(o);
      }
}

// Calls hit(o, at) for every output position o of one plane with the plane offset `at` of its
// window's first maximal element in scan order (-1 for a window without input elements); forward
// and backward share it, so the gradient goes where the value came from (ties: the first, as
// PyTorch).
// For one or two spatial axes with short output rows (rows_fit), the window's taps are applied
// to whole output rows (taps outside, positions inside): the inner loop runs over contiguous
// outputs, and each output still sees its taps in scan order (so its first maximum is kept).
constexpr std::int64_t kRowMax = 512;

bool rows_fit(const Pool3& p) {
  return p.out[0] == 1 && p.in[0] == 1 && p.out[2] <= kRowMax;
}

// For each output row o1: begin(o1), then for each tap in scan order tap(a, b, first) with the
// outputs [a, b) of the row whose window has the tap inside the input (output a + t reads input
// first + t * stride), then end(o1).
template <class Begin, class Tap, class End>
void for_row_taps(const Pool3& p, Begin&& begin, Tap&& tap, End&& end) {
  const std::int64_t w = p.out[2];
  const auto inside = [&](std::int64_t o2, std::int64_t j2) {
    const auto u = static_cast<std::size_t>(o2);
    return p.lo[2][u] <= j2 && j2 < p.hi[2][u];
  };
  for (std::int64_t o1 = 0; o1 < p.out[1]; ++o1) {
    const auto u1 = static_cast<std::size_t>(o1);
    begin(o1);
    for (std::int64_t j1 = p.lo[1][u1]; j1 < p.hi[1][u1]; ++j1) {
      const std::int64_t row = (p.start[1][u1] + j1 * p.dil[1]) * p.in[2];
      for (std::int64_t j2 = 0; j2 < p.kernel[2]; ++j2) {
        std::int64_t a = 0, b = w;  // a contiguous range: window starts grow with the output
        while (a < b && !inside(a, j2)) ++a;
        while (b > a && !inside(b - 1, j2)) --b;
        if (a < b) tap(a, b, row + p.start[2][static_cast<std::size_t>(a)] + j2 * p.dil[2]);
      }
    }
    end(o1);
  }
}

template <class T, class Hit>
void scan_max_rows(const T* xp, const Pool3& p, Hit& hit) {
  const std::int64_t w = p.out[2], s = p.stride[2];
  T best[kRowMax];
  std::int64_t at[kRowMax];
  for_row_taps(
      p,
      [&](std::int64_t) {
        std::fill(best, best + w, T{});
        std::fill(at, at + w, std::int64_t{-1});
      },
      [&](std::int64_t a, std::int64_t b, std::int64_t first) {
        for (std::int64_t o2 = a; o2 < b; ++o2) {
          const std::int64_t i = first + (o2 - a) * s;
          if (at[o2] < 0 || greater(xp[i], best[o2])) {
            best[o2] = xp[i];
            at[o2] = i;
          }
        }
      },
      [&](std::int64_t o1) {
        for (std::int64_t o2 = 0; o2 < w; ++o2) hit(o1 * w + o2, at[o2]);
      });
}

// MaxPool's values alone (no indices) for rows_fit shapes: no position to track, so the inner
// loop is a branch-free select. Empty windows give `lowest`, as the general path does.
template <class T>
void max_rows_values(const T* xp, const Pool3& p, T lowest, T* yp) {
  const std::int64_t w = p.out[2], s = p.stride[2];
  T* yr = yp;
  for_row_taps(
      p, [&](std::int64_t o1) { yr = std::fill_n(yp + o1 * w, w, lowest) - w; },
      [&](std::int64_t a, std::int64_t b, std::int64_t first) {
        for (std::int64_t o2 = a; o2 < b; ++o2) {
          const T v = xp[first + (o2 - a) * s];
          yr[o2] = greater(v, yr[o2]) ? v : yr[o2];
        }
      },
      [](std::int64_t) {});
}

template <class T, class Hit>
void scan_max(const T* xp, const Pool3& p, Hit&& hit) {
  if (rows_fit(p)) {
    scan_max_rows(xp, p, hit);
    return;
  }
  T best{};
  std::int64_t at = -1;
  scan_windows(
      p, [&](std::int64_t, std::size_t, std::size_t, std::size_t) { at = -1; },
      [&](std::int64_t i) {
        if (at < 0 || greater(xp[i], best)) {
          best = xp[i];
          at = i;
        }
      },
      [&](std::int64_t o) { hit(o, at); });
}

template <class T>
std::vector<Array> max_pool_typed(const NodeContext& ctx, const Array& xa, const Pool3& p,
                                  const std::vector<std::int64_t>& yshape, bool want_indices) {
  Array y = Array::for_overwrite(xa.type(), yshape);                            // every output is written
  Array idx(DType::I64, want_indices ? yshape : std::vector<std::int64_t>{0});  // empty unless wanted
  const T* x = xa.data<T>();
  T* yd = y.data<T>();
  std::int64_t* id = want_indices ? idx.data<std::int64_t>() : nullptr;
  const bool col_major = ctx.attr_int("storage_order", 0) == 1;
  const T lowest =
      std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  const bool values_only = !id && rows_fit(p);
  for_each_plane(ctx, xa.dim(0) * xa.dim(1), p.out_size * 4, [&](std::int64_t plane) {
    const T* xp = x + plane * p.in_size;
    const std::int64_t first = plane * p.out_size;
    if (values_only) {
      max_rows_values(xp, p, lowest, yd + first);
      return;
    }
    scan_max(xp, p, [&](std::int64_t o, std::int64_t at) {
      yd[first + o] = at < 0 ? lowest : xp[at];
      if (!id) return;
      std::int64_t index = std::max<std::int64_t>(at, 0);
      if (col_major && at >= 0) {
        const std::int64_t i2 = at % p.in[2], i1 = at / p.in[2] % p.in[1], i0 = at / (p.in[1] * p.in[2]);
        index = i2 * p.in[0] * p.in[1] + i1 * p.in[0] + i0;
      }
      id[first + o] = plane * p.in_size + index;
    });
  });
  if (ctx.node().outputs.size() > 1) return {y, idx};
  return {y};
}

std::vector<Array> max_pool(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  std::vector<std::int64_t> yshape;
  const Pool3 p = make_pool3(ctx, x, &yshape);
  const bool want_indices = ctx.node().outputs.size() > 1 && !ctx.node().outputs[1].empty();
  switch (x.type()) {
    case DType::F32:
      return max_pool_typed<float>(ctx, x, p, yshape, want_indices);
    case DType::F64:
      return max_pool_typed<double>(ctx, x, p, yshape, want_indices);
    case DType::U8:
      return max_pool_typed<std::uint8_t>(ctx, x, p, yshape, want_indices);
    case DType::I8:
      return max_pool_typed<std::int8_t>(ctx, x, p, yshape, want_indices);
    default:
      ctx.unsupported("MaxPool with " + std::string(dtype_name(x.type())) +
                      " input (F32, F64, U8 and I8 are implemented)");
  }
}

// The divisor of output (o0, o1, o2): the taps inside the input, or inside input + padding
// (count_include_pad).
std::int64_t window_count(const Pool3& p, bool include_pad, std::size_t o0, std::size_t o1, std::size_t o2) {
  const std::size_t o[kMaxAxes] = {o0, o1, o2};
  std::int64_t count = 1;
  for (std::size_t d = 0; d < kMaxAxes; ++d)
    count *= include_pad ? p.padded_taps[d][o[d]] : p.hi[d][o[d]] - p.lo[d][o[d]];
  return count;
}

template <class T>
Array average_pool_typed(const NodeContext& ctx, const Array& xa, const Pool3& p,
                         const std::vector<std::int64_t>& yshape) {
  Array y(xa.type(), yshape);
  const T* x = xa.data<T>();
  T* yd = y.data<T>();
  const bool include_pad = ctx.attr_int("count_include_pad", 0) == 1;
  for_each_plane(ctx, xa.dim(0) * xa.dim(1), p.out_size * 4, [&](std::int64_t plane) {
    const T* xp = x + plane * p.in_size;
    T* yp = yd + plane * p.out_size;
    double sum = 0;
    std::int64_t count = 0;
    scan_windows(
        p,
        [&](std::int64_t, std::size_t o0, std::size_t o1, std::size_t o2) {
          sum = 0;
          count = window_count(p, include_pad, o0, o1, o2);
        },
        [&](std::int64_t i) { sum += xp[i]; },
        [&](std::int64_t o) { yp[o] = count > 0 ? static_cast<T>(sum / static_cast<double>(count)) : T(0); });
  });
  return y;
}

std::vector<Array> average_pool(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  std::vector<std::int64_t> yshape;
  const Pool3 p = make_pool3(ctx, x, &yshape);
  switch (x.type()) {
    case DType::F32:
      return {average_pool_typed<float>(ctx, x, p, yshape)};
    case DType::F64:
      return {average_pool_typed<double>(ctx, x, p, yshape)};
    default:
      ctx.unsupported("AveragePool with " + std::string(dtype_name(x.type())) + " input (F32 and F64 are implemented)");
  }
}

template <class T>
Array global_average_typed(const NodeContext& ctx, const Array& xa) {
  std::vector<std::int64_t> yshape{xa.dim(0), xa.dim(1)};
  yshape.resize(xa.rank(), 1);
  Array y(xa.type(), yshape);
  const std::int64_t planes = xa.dim(0) * xa.dim(1);
  const std::int64_t plane_size = planes == 0 ? 0 : xa.size() / planes;
  const T* x = xa.data<T>();
  T* yd = y.data<T>();
  for_each_plane(ctx, planes, plane_size, [&](std::int64_t plane) {
    double sum = 0;
    const T* xp = x + plane * plane_size;
    for (std::int64_t i = 0; i < plane_size; ++i) sum += xp[i];
    yd[plane] = plane_size > 0 ? static_cast<T>(sum / static_cast<double>(plane_size)) : T(0);
  });
  return y;
}

std::vector<Array> global_average_pool(const NodeContext& ctx, Inputs in) {
  const Array& x = *in[0];
  if (x.rank() < 2) ctx.fail("input of shape " + shape_string(x.shape()) + " has no channel axis");
  switch (x.type()) {
    case DType::F32:
      return {global_average_typed<float>(ctx, x)};
    case DType::F64:
      return {global_average_typed<double>(ctx, x)};
    default:
      ctx.unsupported("GlobalAveragePool with " + std::string(dtype_name(x.type())) +
                      " input (F32 and F64 are implemented)");
  }
}

// ---- Backward: dX gathers dY over the windows; each plane of dX is written by one thread ----

// Runs rule<T>() for a float input (F32 or F64: the gradient in the input's type); integer
// inputs have no gradient.
template <template <class> class Rule>
Grads float_rule(const NodeContext& ctx, const BackwardArgs& a) {
  Grads g(a.in.size());
  const Array& x = *a.in[0];
  if (!wanted(a, 0) || (x.type() != DType::F32 && x.type() != DType::F64)) return g;
  const auto dy = out_grad(ctx, a, 0, x.type());
  if (!dy) return g;
  g[0] = x.type() == DType::F32 ? Rule<float>::run(ctx, x, *dy) : Rule<double>::run(ctx, x, *dy);
  return g;
}

template <class T>
struct MaxPoolGrad {
  static Array run(const NodeContext& ctx, const Array& xa, const Array& dya) {
    std::vector<std::int64_t> yshape;
    const Pool3 p = make_pool3(ctx, xa, &yshape);
    Array dx(xa.type(), xa.shape());
    const T* x = xa.data<T>();
    const T* dy = dya.data<T>();
    T* dxd = dx.data<T>();
    for_each_plane(ctx, xa.dim(0) * xa.dim(1), p.out_size * 4, [&](std::int64_t plane) {
      T* dxp = dxd + plane * p.in_size;
      const T* dyp = dy + plane * p.out_size;
      scan_max(x + plane * p.in_size, p, [&](std::int64_t o, std::int64_t at) {
        if (at >= 0) dxp[at] += dyp[o];
      });
    });
    return dx;
  }
};

template <class T>
struct AveragePoolGrad {
  static Array run(const NodeContext& ctx, const Array& xa, const Array& dya) {
    std::vector<std::int64_t> yshape;
    const Pool3 p = make_pool3(ctx, xa, &yshape);
    const bool include_pad = ctx.attr_int("count_include_pad", 0) == 1;
    Array dx(xa.type(), xa.shape());
    const T* dy = dya.data<T>();
    T* dxd = dx.data<T>();
    for_each_plane(ctx, xa.dim(0) * xa.dim(1), p.out_size * 4, [&](std::int64_t plane) {
      T* dxp = dxd + plane * p.in_size;
      const T* dyp = dy + plane * p.out_size;
      T share = 0;  // dY / count, the same for every tap of the window
      scan_windows(
          p,
          [&](std::int64_t o, std::size_t o0, std::size_t o1, std::size_t o2) {
            const std::int64_t count = window_count(p, include_pad, o0, o1, o2);
            share = count > 0 ? static_cast<T>(dyp[o] / static_cast<T>(count)) : T(0);
          },
          [&](std::int64_t i) { dxp[i] += share; }, [](std::int64_t) {});
    });
    return dx;
  }
};

template <class T>
struct GlobalAveragePoolGrad {
  static Array run(const NodeContext& ctx, const Array& xa, const Array& dya) {
    Array dx(xa.type(), xa.shape());
    const std::int64_t planes = xa.dim(0) * xa.dim(1);
    const std::int64_t plane_size = planes == 0 ? 0 : xa.size() / planes;
    const T* dy = dya.data<T>();
    T* dxd = dx.data<T>();
    if (plane_size == 0) return dx;
    for_each_plane(ctx, planes, plane_size, [&](std::int64_t plane) {
      const T share = dy[plane] / static_cast<T>(plane_size);
      std::fill(dxd + plane * plane_size, dxd + (plane + 1) * plane_size, share);
    });
    return dx;
  }
};

Grads max_pool_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return float_rule<MaxPoolGrad>(ctx, a);
}
Grads average_pool_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return float_rule<AveragePoolGrad>(ctx, a);
}
Grads global_average_pool_backward(const NodeContext& ctx, const BackwardArgs& a) {
  return float_rule<GlobalAveragePoolGrad>(ctx, a);
}

}  // namespace

void add_pool_ops(OpRegistry& r) {
  r.add({"MaxPool", 1, 1, max_pool, check_pool, max_pool_backward});
  r.add({"AveragePool", 1, 1, average_pool, check_pool, average_pool_backward});
  r.add({"GlobalAveragePool", 1, 1, global_average_pool, nullptr, global_average_pool_backward});
}

}  // namespace paramscope::engine
