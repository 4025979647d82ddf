// Trilu (opset 14): the upper or lower triangle of the last two axes, as exporters emit for
// causal attention masks (torch.triu / tril).
#include <cstring>
#include <string>
#include <vector>

#include "engine/op_registry.h"

namespace paramscope::engine {
namespace {

// Keeps element (i, j) of each matrix when j - i >= k (upper) or j - i <= k (lower).
bool keeps(bool upper, std::int64_t k, std::int64_t i, std::int64_t j) {
  return upper ? j - i >= k : j - i <= k;
}

std::int64_t diagonal(const NodeContext& ctx, Inputs in) {
  if (in.size() < 2 || !in[1]) return 0;
  const Array& k = *in[1];
  if (k.type() != DType::I64 || k.size() != 1)
    ctx.fail("k must be one int64, not " + std::string(dtype_name(k.type())) + " " + shape_string(k.shape()));
  return k.data<std::int64_t>()[0];
}

// Copies x with the dropped triangle zeroed (any element type: the kept ones are copied bytewise).
Array masked(const NodeContext& ctx, const Array& x, std::int64_t k) {
  if (x.rank() < 2) ctx.fail("input " + shape_string(x.shape()) + " has fewer than two dimensions");
  const bool upper = ctx.attr_int("upper", 1) != 0;
  const std::int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  Array y(x.type(), x.shape());
  const std::size_t elem = x.size() == 0 ? 0 : x.byte_size() / static_cast<std::size_t>(x.size());
  const std::int64_t matrices = rows * cols == 0 ? 0 : x.size() / (rows * cols);
  for (std::int64_t m = 0; m < matrices; ++m)
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j)
        if (keeps(upper, k, i, j)) {
          const std::size_t at = static_cast<std::size_t>((m * rows + i) * cols + j) * elem;
          std::memcpy(y.bytes() + at, x.bytes() + at, elem);
        }
  return y;
}

std::vector<Array> trilu(const NodeContext& ctx, Inputs in) {
  return {masked(ctx, *in[0], diagonal(ctx, in))};
}

// The kept elements pass their gradient; the zeroed ones get none.
Grads trilu_backward(const NodeContext& ctx, const BackwardArgs& a) {
  Grads g(a.in.size());
  if (a.wants[0] && a.grad_out[0]) g[0] = masked(ctx, *a.grad_out[0], diagonal(ctx, a.in));
  return g;
}

}  // namespace

void add_trilu_ops(OpRegistry& r) {
  r.add({"Trilu", 1, 2, trilu, [](const NodeContext& c) { c.attr_int("upper", 1); }, trilu_backward});
}

}  // namespace paramscope::engine
