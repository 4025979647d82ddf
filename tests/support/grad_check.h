// Checks an operator's backward rule against central finite differences of its forward pass:
// L = sum_k <seed_k, output_k> with fixed pseudo-random seeds, so dL/d(input) from the backward
// rule must equal (L(x + h e_i) - L(x - h e_i)) / 2h for every element i of the checked inputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine_node.h"

namespace paramscope::test {

struct GradCheck {
  std::string op;
  std::vector<std::optional<Array>> in;
  std::map<std::string, engine::Attribute> attrs = {};
  int opset = 13;
  std::size_t outputs = 1;
  std::vector<std::size_t> check = {0};  ///< input slots (float32) whose gradients are compared
  double eps = 1e-3;                     ///< step relative to max(1, |x_i|)
  double rtol = 1e-2, atol = 1e-3;
};

/// A deterministic array of values in [lo, hi).
inline Array pseudo_random(std::vector<std::int64_t> shape, std::uint32_t seed, float lo = -1, float hi = 1) {
  Array a(DType::F32, std::move(shape));
  std::uint32_t s = seed * 2654435761u + 12345u;
  float* d = a.data<float>();
  for (std::int64_t i = 0; i < a.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    d[i] = lo + (hi - lo) * static_cast<float>(s >> 8) / 16777216.0f;
  }
  return a;
}

namespace detail {

inline double objective(const std::vector<Array>& out, const std::vector<std::optional<Array>>& seeds) {
  double l = 0;
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    if (!seeds[k]) continue;
    const auto o = out[k].values<float>();
    const auto s = seeds[k]->values<float>();
    for (std::size_t i = 0; i < o.size(); ++i) l += static_cast<double>(o[i]) * s[i];
  }
  return l;
}

}  // namespace detail

/// The backward rule's gradients for c (one per input slot), with the seeds used.
inline engine::Grads run_backward(const GradCheck& c, std::vector<Array>& out, std::vector<std::optional<Array>>& seeds) {
  engine::Node n;
  n.name = "t";
  n.op_type = c.op;
  for (std::size_t i = 0; i < c.in.size(); ++i) n.inputs.push_back(c.in[i] ? "i" + std::to_string(i) : "");
  for (std::size_t i = 0; i < c.outputs; ++i) n.outputs.push_back("o" + std::to_string(i));
  n.attributes = c.attrs;
  n.op = engine::OpRegistry::builtin().find(c.op);
  if (!n.op) throw usage_error("no operator " + c.op);
  if (!n.op->backward) throw usage_error(c.op + " has no backward rule");
  out = run_node(c.op, c.in, c.attrs, c.opset, c.outputs);
  seeds.clear();
  for (std::size_t k = 0; k < c.outputs; ++k)
    seeds.push_back(out[k].type() == DType::F32
                        ? std::optional<Array>(pseudo_random(out[k].shape(), static_cast<std::uint32_t>(101 + k)))
                        : std::nullopt);
  const engine::NodeContext ctx(n, c.opset, ThreadPool::global());
  std::vector<const Array*> args(engine::input_slots(n), nullptr);
  for (std::size_t i = 0; i < c.in.size(); ++i) args[i] = c.in[i] ? &*c.in[i] : nullptr;
  std::vector<const Array*> gout;
  for (const auto& s : seeds) gout.push_back(s ? &*s : nullptr);
  // std::vector<bool> is not contiguous, so the flags live in a unique_ptr<bool[]>.
  const auto wants = std::make_unique<bool[]>(args.size());
  for (const auto i : c.check) wants[i] = true;
  const engine::BackwardArgs a{args, out, gout, std::span<const bool>(wants.get(), args.size())};
  return n.op->backward(ctx, a);
}

/// "" when every checked gradient matches finite differences, else the first mismatch.
inline std::string grad_check(const GradCheck& c) {
  std::vector<Array> out;
  std::vector<std::optional<Array>> seeds;
  const engine::Grads g = run_backward(c, out, seeds);
  std::ostringstream err;
  for (const auto slot : c.check) {
    if (slot >= g.size() || !g[slot]) return "no gradient for input " + std::to_string(slot);
    const Array& x = *c.in.at(slot);
    const Array& gx = *g[slot];
    if (gx.shape() != x.shape() || gx.type() != DType::F32)
      return "gradient of input " + std::to_string(slot) + " has shape " + shape_string(gx.shape()) + ", input " +
             shape_string(x.shape());
    for (std::int64_t i = 0; i < x.size(); ++i) {
      auto probe = c.in;
      Array moved = x.clone();
      probe[slot] = moved;
      float* v = moved.data<float>();
      const float x0 = v[i];
      const auto h = static_cast<float>(c.eps * std::max(1.0, std::fabs(static_cast<double>(x0))));
      v[i] = x0 + h;
      const double lp = detail::objective(run_node(c.op, probe, c.attrs, c.opset, c.outputs), seeds);
      v[i] = x0 - h;
      const double lm = detail::objective(run_node(c.op, probe, c.attrs, c.opset, c.outputs), seeds);
      const double num = (lp - lm) / (2.0 * static_cast<double>(h));
      const double ana = gx.values<float>()[static_cast<std::size_t>(i)];
      if (!(std::fabs(num - ana) <= c.atol + c.rtol * std::max(std::fabs(num), std::fabs(ana)))) {
        err << c.op << ": d/d input " << slot << "[" << i << "] backward " << ana << ", finite difference " << num;
        return err.str();
      }
    }
  }
  return {};
}

}  // namespace paramscope::test
