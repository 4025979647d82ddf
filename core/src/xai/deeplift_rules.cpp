#include "xai/deeplift_rules.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <numbers>
#include <set>
#include <string_view>

#include "engine/executor.h"
#include "engine/graph.h"
#include "engine/op_registry.h"
#include "paramscope/error.h"
#include "paramscope/jobs.h"

namespace paramscope::xai {

using engine::BackwardNode;
using engine::Gradients;
using engine::Node;

namespace {

// Below this |Δx| a multiplier Δy/Δx is float32 noise: the gradient stands in (its contribution
// m Δx is negligible either way).
bool tiny_step(double x, double x0) {
  const double d = std::fabs(x - x0);
  return d <= 1e-10 || d <= 1e-6 * std::max(std::fabs(x), std::fabs(x0));
}

bool is_f32(const Array* a) {
  return a && a->type() == DType::F32;
}

Array zeros_like(const Array& a) {
  return Array(DType::F32, a.shape());
}

Array minus(const Array& a, const Array& b) {
  Array d(DType::F32, a.shape());
  const float *pa = a.data<float>(), *pb = b.data<float>();
  float* pd = d.data<float>();
  for (std::int64_t i = 0; i < a.size(); ++i) pd[i] = pa[i] - pb[i];
  return d;
}

// Nodes and weights of [0, 1]'s Gauss-Legendre rule of n points.
std::pair<std::vector<double>, std::vector<double>> gauss_legendre(int n) {
  std::vector<double> t(static_cast<std::size_t>(n)), w(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    double x = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5)), dp = 1;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = x;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = n * (x * p1 - p0) / (x * x - 1);
      const double dx = p1 / dp;
      x -= dx;
      if (std::fabs(dx) < 1e-15) break;
    }
    t[static_cast<std::size_t>(i)] = 0.5 * (1 - x);
    w[static_cast<std::size_t>(i)] = 1.0 / ((1 - x * x) * dp * dp);  // 2/((1-x²)P'²) halved for [0, 1]
  }
  return {t, w};
}

// Running one node of the graph on arrays of our choosing: its forward, and its vector-Jacobian
// product (the engine's rule).
std::vector<Array> node_forward(const Node& n, int opset, const std::vector<const Array*>& in) {
  const engine::NodeContext ctx(n, opset, ThreadPool::global());
  std::vector<const Array*> args(engine::input_slots(n), nullptr);
  std::copy_n(in.begin(), std::min(in.size(), args.size()), args.begin());
  return n.op->forward(ctx, args);
}

engine::Grads node_backward(const Node& n, int opset, const std::vector<const Array*>& in, std::span<const Array> out,
                            const std::vector<const Array*>& grad_out, const std::vector<std::size_t>& wanted) {
  if (!n.op->backward) {
    const engine::NodeContext ctx(n, opset, ThreadPool::global());
    ctx.unsupported("the gradient of " + n.op_type + " is not implemented");
  }
  const engine::NodeContext ctx(n, opset, ThreadPool::global());
  const std::size_t slots = engine::input_slots(n);
  std::vector<const Array*> args(slots, nullptr);
  std::copy_n(in.begin(), std::min(in.size(), slots), args.begin());
  const auto wants = std::make_unique<bool[]>(slots);
  for (std::size_t s : wanted) wants[s] = true;
  return n.op->backward(ctx, engine::BackwardArgs{args, out, grad_out, std::span<const bool>(wants.get(), slots)});
}

bool is_unary_nonlinear(std::string_view op) {
  static const std::set<std::string_view> ops{"Relu",      "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
                                              "HardSwish", "Gelu",      "Erf",     "Clip", "Exp",
                                              "Log",       "Sqrt",      "Abs",     "Pow"};
  return ops.count(op) > 0;
}

// Nodes without an exact DeepLIFT rule whose gradient is averaged along the path (when an
// activation reaches more than one input of a product, or the node is a normalisation).
bool is_path_averaged(std::string_view op, std::span<const bool> wants) {
  if (op == "Softmax" || op == "LogSoftmax" || op == "LayerNormalization") return true;
  const auto count = std::count(wants.begin(), wants.end(), true);
  if (op == "Mul" || op == "MatMul" || op == "Gemm" || op == "Pow") return count >= 2;
  if (op == "Div") return wants.size() > 1 && wants[1];
  return false;
}

// The weights of `lin` (input `slot`) with output channel m scaled by s_m, for a BatchNorm over
// axis 1 of its output (of rank out_rank): Conv's first weight axis; Gemm / MatMul's output
// features when the output is a matrix. Nothing when the layout does not match.
std::optional<Array> fold_channel_scale(const Node& lin, std::size_t slot, const Array& w, const std::vector<float>& s,
                                        std::size_t out_rank) {
  const auto m = static_cast<std::int64_t>(s.size());
  Array f = w.clone();
  float* pf = f.data<float>();
  if (lin.op_type == "Conv") {
    if (w.rank() < 1 || w.dim(0) != m) return std::nullopt;
    const std::int64_t per = w.size() / m;
    for (std::int64_t c = 0; c < m; ++c)
      for (std::int64_t i = 0; i < per; ++i) pf[c * per + i] *= s[static_cast<std::size_t>(c)];
    return f;
  }
  // Gemm / MatMul with the activation first: B is [K, N], or [N, K] for Gemm's transB.
  if (slot != 1 || w.rank() != 2 || out_rank != 2) return std::nullopt;
  const auto tb = lin.attributes.find("transB");
  const bool by_rows = lin.op_type == "Gemm" && tb != lin.attributes.end() && tb->second.i != 0;
  if ((by_rows ? w.dim(0) : w.dim(1)) != m) return std::nullopt;
  for (std::int64_t r = 0; r < w.dim(0); ++r)
    for (std::int64_t c = 0; c < w.dim(1); ++c) pf[r * w.dim(1) + c] *= s[static_cast<std::size_t>(by_rows ? r : c)];
  return f;
}

}  // namespace

struct DeepLiftRules::Residual {
  std::vector<std::pair<std::size_t, Array>> signed_operands;  // (input slot, Δu) split by sign
  Array g_pos, g_neg;                                          // g·m+ and g·m- on z
};

struct DeepLiftRules::Pending {
  Array g_pos, g_neg;  // g·m+ and g·m- on the linear node's output
  Array dpos, dneg;    // Δa split into its positive and negative parts
  Array w_pos, w_neg;  // the weight split the same way
  std::size_t act = 0, weight = 1;
};

DeepLiftRules::DeepLiftRules(const engine::Model& model, const engine::Pass& input, const engine::Pass& baseline,
                             DeepLiftRule rule)
    : graph_(engine::graph_of(model)), input_(input), baseline_(baseline), weights_(model.weights()), rule_(rule) {
  for (const Node& n : graph_.nodes) {
    for (const auto& o : n.outputs)
      if (!o.empty()) producer_[o] = &n;
    for (const auto& i : n.inputs)
      if (!i.empty()) ++readers_[i];
  }
  for (const auto& o : graph_.outputs) ++readers_[o.name];
}

DeepLiftRules::~DeepLiftRules() = default;

engine::BackwardHook DeepLiftRules::hook() {
  return [this](const BackwardNode& b) { return (*this)(b); };
}

const Node& DeepLiftRules::node_of(const BackwardNode& b) const {
  return *producer_.at(std::string(b.node.outputs[0]));
}

std::optional<Gradients> DeepLiftRules::operator()(const BackwardNode& b) {
  if (b.node.outputs.empty() || b.outputs.empty()) return std::nullopt;
  const Node& n = node_of(b);
  if (const auto p = pending_.find(&n); p != pending_.end()) {
    const Pending pend = std::move(p->second);
    pending_.erase(p);
    return reveal_linear(b, n, pend);
  }
  if (const auto r = residuals_.find(&n); r != residuals_.end()) {
    const Residual res = std::move(r->second);
    residuals_.erase(r);
    return residual_operands(b, res);
  }
  const std::string_view op = b.node.op_type;
  // Only the first output carries a multiplier here (LayerNormalization's statistics, MaxPool's
  // indices never reach the score in the models we explain; if they do, the gradient is used).
  for (std::size_t k = 1; k < b.grad_outputs.size(); ++k)
    if (b.grad_outputs[k]) return std::nullopt;
  if (!is_f32(b.grad_outputs[0]) || b.outputs[0].type() != DType::F32) return std::nullopt;
  if (is_unary_nonlinear(op)) {
    const bool first_only = !b.wants.empty() && b.wants[0] && std::count(b.wants.begin(), b.wants.end(), true) == 1;
    if (!first_only || !is_f32(b.inputs[0]) || b.inputs[0]->shape() != b.outputs[0].shape())
      return path_average(b, n);  // e.g. Pow of two activations, or a broadcasting exponent
    if (rule_ == DeepLiftRule::RevealCancel)
      if (auto g = reveal_cancel(b, n)) return g;
    return rescale(b, n);
  }
  if (op == "MaxPool") return max_pool(b, n);
  if (is_path_averaged(op, b.wants)) return path_average(b, n);
  return std::nullopt;
}

std::optional<Gradients> DeepLiftRules::rescale(const BackwardNode& b, const Node& n) {
  const Array& x = *b.inputs[0];
  const Array& y = b.outputs[0];
  const Array& x0 = baseline_.value(n.inputs[0]);
  const Array& y0 = baseline_.value(n.outputs[0]);
  const Array& g = *b.grad_outputs[0];
  // Every element is written below: no zero fill (at batch 16 fresh pages and their fills were a
  // fifth of MobileNetV2's DeepLIFT time).
  Array m = Array::for_overwrite(DType::F32, x.shape());
  const float *px = x.data<float>(), *py = y.data<float>(), *px0 = x0.data<float>(), *py0 = y0.data<float>(),
              *pg = g.data<float>();
  float* pm = m.data<float>();
  // In blocks on the pool; the elements too close to the baseline take the node's gradient,
  // which is computed (once) only if there are any, in a second pass that tests them again
  // (cheaper than a mask as large as the activation).
  constexpr std::size_t kGrain = 16384;
  const auto count = static_cast<std::size_t>(x.size());
  std::atomic<bool> any_tiny{false};
  ThreadPool& pool = ThreadPool::global();
  pool.parallel_for(count, kGrain, [&](std::size_t begin, std::size_t end) {
    bool some = false;
    for (std::size_t i = begin; i < end; ++i) {
      const bool t = tiny_step(px[i], px0[i]);
      some = some || t;
      pm[i] = t ? 0.0f
                : static_cast<float>(pg[i] *
                                     ((static_cast<double>(py[i]) - py0[i]) / (static_cast<double>(px[i]) - px0[i])));
    }
    if (some) any_tiny.store(true, std::memory_order_relaxed);
  });
  if (any_tiny.load()) {
    const Array grad = *b.default_rule().at(0);
    const float* pgrad = grad.data<float>();
    pool.parallel_for(count, kGrain, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i)
        if (tiny_step(px[i], px0[i])) pm[i] = pgrad[i];
    });
  }
  Gradients out(b.wants.size());
  out[0] = std::move(m);
  return out;
}

// s = scale / sqrt(var + epsilon) of an inference BatchNormalization whose parameters are
// constants; nothing when it is not one.
std::optional<std::vector<float>> DeepLiftRules::batch_norm_scale(const Node& n) const {
  if (n.inputs.size() != 5 || n.outputs.size() != 1) return std::nullopt;
  for (std::size_t i = 1; i < 5; ++i)
    if (!weights_.count(n.inputs[i]) || weights_.at(n.inputs[i]).type() != DType::F32) return std::nullopt;
  const auto mode = n.attributes.find("training_mode");
  if (mode != n.attributes.end() && mode->second.i != 0) return std::nullopt;
  const auto eps_attr = n.attributes.find("epsilon");
  const double eps = eps_attr == n.attributes.end() ? 1e-5 : eps_attr->second.f;
  const Array& scale = weights_.at(n.inputs[1]);
  const Array& var = weights_.at(n.inputs[4]);
  if (scale.size() != var.size()) return std::nullopt;
  std::vector<float> s(static_cast<std::size_t>(scale.size()));
  for (std::size_t c = 0; c < s.size(); ++c)
    s[c] = static_cast<float>(scale.values<float>()[c] / std::sqrt(static_cast<double>(var.values<float>()[c]) + eps));
  return s;
}

int DeepLiftRules::reads(const std::string& v) const {
  const auto it = readers_.find(v);
  return it == readers_.end() ? 0 : it->second;
}

bool DeepLiftRules::is_weight(const std::string& v) const {
  return v.empty() || weights_.count(v) > 0;
}

// The terms of value v as those of one linear node: v = W·a (+ b) of a Gemm, MatMul or Conv with
// constant weights, possibly through an inference BatchNormalization (v = s c + t per channel, as
// in exports that keep it: folded into the weights, its terms are s_m W_mj Δa_j) and a bias Add,
// each value on the way read only there. Fills p's split of Δa and of W, and adds the terms'
// positive and negative sums to dzp and dzn. Null (nothing added) when v is not such a value.
const Node* DeepLiftRules::linear_terms(const std::string& v, Pending& p, Array& dzp, Array& dzn) const {
  const auto pi = producer_.find(v);
  if (pi == producer_.end()) return nullptr;
  const Node* lin = pi->second;
  const auto& shape = dzp.shape();
  const auto passes = [&](const std::string& c) {  // read once, produced by a node, same shape
    return reads(c) == 1 && producer_.count(c) && input_.value(c).shape() == shape;
  };
  std::optional<std::vector<float>> bn_scale;
  if (lin->op_type == "BatchNormalization") {
    bn_scale = batch_norm_scale(*lin);
    const std::string& c = lin->inputs[0];
    if (!bn_scale || !passes(c)) return nullptr;
    lin = producer_.at(c);
  }
  if (lin->op_type == "Add" && lin->inputs.size() == 2) {  // a bias added after the product
    const int act = is_weight(lin->inputs[0]) ? 1 : 0;
    if (!is_weight(lin->inputs[1 - act]) || is_weight(lin->inputs[static_cast<std::size_t>(act)])) return nullptr;
    const std::string& c = lin->inputs[static_cast<std::size_t>(act)];
    if (!passes(c)) return nullptr;
    lin = producer_.at(c);
  }
  if (lin->op_type != "Gemm" && lin->op_type != "MatMul" && lin->op_type != "Conv") return nullptr;
  if (lin->inputs.size() < 2 || lin->outputs.size() != 1 || pending_.count(lin)) return nullptr;
  if (!is_weight(lin->inputs[0]) && is_weight(lin->inputs[1])) {
    p.act = 0;
    p.weight = 1;
  } else if (lin->op_type != "Conv" && is_weight(lin->inputs[0]) && !is_weight(lin->inputs[1])) {
    p.act = 1;
    p.weight = 0;
  } else {
    return nullptr;
  }
  if (lin->inputs.size() > 2 && !is_weight(lin->inputs[2])) return nullptr;
  const Array& a = input_.value(lin->inputs[p.act]);
  const Array& a0 = baseline_.value(lin->inputs[p.act]);
  const Array& stored = weights_.at(lin->inputs[p.weight]);
  if (a.type() != DType::F32 || stored.type() != DType::F32) return nullptr;
  Array folded;
  if (bn_scale) {
    auto f = fold_channel_scale(*lin, p.weight, stored, *bn_scale, shape.size());
    if (!f) return nullptr;
    folded = std::move(*f);
  }
  const Array& w = bn_scale ? folded : stored;
  p.dpos = Array(DType::F32, a.shape());
  p.dneg = Array(DType::F32, a.shape());
  for (std::int64_t i = 0; i < a.size(); ++i) {
    const float d = a.data<float>()[i] - a0.data<float>()[i];
    (d > 0 ? p.dpos : p.dneg).data<float>()[i] = d;
  }
  p.w_pos = Array(DType::F32, w.shape());
  p.w_neg = Array(DType::F32, w.shape());
  for (std::int64_t i = 0; i < w.size(); ++i) {
    const float x = w.data<float>()[i];
    (x > 0 ? p.w_pos : p.w_neg).data<float>()[i] = x;
  }
  const auto product = [&](const Array& d, const Array& wt) {
    std::vector<const Array*> in(2);
    in[p.act] = &d;
    in[p.weight] = &wt;
    return node_forward(*lin, graph_.opset, in).at(0);
  };
  const Array zpos1 = product(p.dpos, p.w_pos), zpos2 = product(p.dneg, p.w_neg);
  const Array zneg1 = product(p.dpos, p.w_neg), zneg2 = product(p.dneg, p.w_pos);
  if (zpos1.shape() != shape) return nullptr;
  for (std::int64_t i = 0; i < dzp.size(); ++i) {
    dzp.data<float>()[i] += zpos1.data<float>()[i] + zpos2.data<float>()[i];
    dzn.data<float>()[i] += zneg1.data<float>()[i] + zneg2.data<float>()[i];
  }
  return lin;
}

// A residual Add z = u + v of two activations of z's shape (no constant operand, no broadcast).
const Node* DeepLiftRules::residual_add(const std::string& z, const Array& zv) const {
  const auto pi = producer_.find(z);
  if (pi == producer_.end() || pi->second->op_type != "Add" || pi->second->inputs.size() != 2) return nullptr;
  for (const std::string& u : pi->second->inputs) {
    if (is_weight(u)) return nullptr;
    const Array& a = input_.value(u);
    if (a.type() != DType::F32 || a.shape() != zv.shape()) return nullptr;
  }
  return pi->second;
}

// RevealCancel (section 3.5.3): f's input z is a sum of terms, split into their positive and
// negative sums Δz+ and Δz-; Δy+ = ½(f(z0 + Δz+) - f(z0)) + ½(f(z) - f(z0 + Δz-)), Δy- likewise,
// m± = Δy± / Δz±. The terms: those W_ij Δa_j of the linear node that computes z (read nowhere
// else); or, when z = u + v is a residual Add, each operand's (a linear node's terms as before,
// any other activation its own Δ, split by sign, as kundajelab's deeplift splits a layer's input).
// Each term then receives g·m+ if it was positive, g·m- if negative: linear nodes through their
// pending split, the Add's other operands in residual_operands.
std::optional<Gradients> DeepLiftRules::reveal_cancel(const BackwardNode& b, const Node& n) {
  const std::string& z_name = n.inputs[0];
  if (reads(z_name) != 1) return std::nullopt;
  const Array& z = *b.inputs[0];
  Array dzp(DType::F32, z.shape()), dzn(DType::F32, z.shape());
  std::vector<std::pair<const Node*, Pending>> linear;
  const Node* add = nullptr;
  Residual residual;
  if (Pending p; const Node* lin = linear_terms(z_name, p, dzp, dzn)) {
    linear.emplace_back(lin, std::move(p));
  } else if ((add = residual_add(z_name, z)) != nullptr) {
    for (std::size_t k = 0; k < 2; ++k) {
      const std::string& u = add->inputs[k];
      Pending q;
      if (reads(u) == 1)
        if (const Node* operand_lin = linear_terms(u, q, dzp, dzn)) {
          linear.emplace_back(operand_lin, std::move(q));
          continue;
        }
      Array du = minus(input_.value(u), baseline_.value(u));
      for (std::int64_t i = 0; i < du.size(); ++i) {
        const float d = du.data<float>()[i];
        (d > 0 ? dzp : dzn).data<float>()[i] += d;
      }
      residual.signed_operands.emplace_back(k, std::move(du));
    }
  } else {
    return std::nullopt;
  }
  const Array& z0 = baseline_.value(z_name);
  Array zp(DType::F32, z.shape()), zn(DType::F32, z.shape());
  for (std::int64_t i = 0; i < z.size(); ++i) {
    zp.data<float>()[i] = z0.data<float>()[i] + dzp.data<float>()[i];
    zn.data<float>()[i] = z0.data<float>()[i] + dzn.data<float>()[i];
  }
  // f at z0 + Δz+ and z0 + Δz-, with the node's other (constant) inputs as in the run on x
  std::vector<const Array*> in(b.inputs.begin(), b.inputs.end());
  in[0] = &zp;
  const Array fp = node_forward(n, graph_.opset, in).at(0);
  in[0] = &zn;
  const Array fn = node_forward(n, graph_.opset, in).at(0);
  const Array& y = b.outputs[0];
  const Array& y0 = baseline_.value(n.outputs[0]);
  const Array& g = *b.grad_outputs[0];
  const auto rescaled = rescale(b, n);  // the Rescale multiplier, for the terms too small to divide by
  const Array& gr = *rescaled->at(0);
  Array g_pos(DType::F32, z.shape()), g_neg(DType::F32, z.shape());
  for (std::int64_t i = 0; i < z.size(); ++i) {
    const double yy = y.data<float>()[i], yy0 = y0.data<float>()[i];
    const double fpi = fp.data<float>()[i], fni = fn.data<float>()[i];
    const double dyp = 0.5 * (fpi - yy0) + 0.5 * (yy - fni);
    const double dyn = 0.5 * (fni - yy0) + 0.5 * (yy - fpi);
    const double dp = dzp.data<float>()[i], dn = dzn.data<float>()[i], zi = z.data<float>()[i];
    const double gi = g.data<float>()[i];
    g_pos.data<float>()[i] = tiny_step(zi, zi - dp) ? gr.data<float>()[i] : static_cast<float>(gi * dyp / dp);
    g_neg.data<float>()[i] = tiny_step(zi, zi - dn) ? gr.data<float>()[i] : static_cast<float>(gi * dyn / dn);
  }
  for (auto& [lin, p] : linear) {
    p.g_pos = g_pos.clone();
    p.g_neg = g_neg.clone();
    pending_.emplace(lin, std::move(p));
  }
  if (add) {
    residual.g_pos = std::move(g_pos);
    residual.g_neg = std::move(g_neg);
    residuals_.emplace(add, std::move(residual));
  }
  return rescaled;  // flows through Adds and BatchNorms to the linear nodes, which use their pending split
}

// The residual Add's backward: its incoming multiplier is the Rescale one the nonlinearity
// returned, passed on to operands that are linear nodes' terms (their pending split replaces it);
// the other operands take g·m+ where their Δ > 0, g·m- where it is < 0, Rescale's where it is 0.
std::optional<Gradients> DeepLiftRules::residual_operands(const BackwardNode& b, const Residual& r) {
  if (b.grad_outputs.empty() || !is_f32(b.grad_outputs[0])) return std::nullopt;
  const Array& gr = *b.grad_outputs[0];
  Gradients out(b.wants.size());
  for (std::size_t k = 0; k < out.size() && k < 2; ++k)
    if (b.wants[k]) out[k] = gr.clone();
  for (const auto& [k, du] : r.signed_operands) {
    if (k >= out.size() || !out[k] || du.shape() != gr.shape()) continue;
    float* pm = out[k]->data<float>();
    const float* pd = du.data<float>();
    for (std::int64_t i = 0; i < du.size(); ++i) {
      if (pd[i] > 0)
        pm[i] = r.g_pos.data<float>()[i];
      else if (pd[i] < 0)
        pm[i] = r.g_neg.data<float>()[i];
    }
  }
  return out;
}

std::optional<Gradients> DeepLiftRules::reveal_linear(const BackwardNode& b, const Node& n, const Pending& p) {
  const Array& out = b.outputs[0];
  const auto vjp = [&](const Array& wt, const Array& g) {
    std::vector<const Array*> in(2);
    in[p.act] = &p.dpos;
    in[p.weight] = &wt;
    auto grads = node_backward(n, graph_.opset, in, std::span<const Array>(&out, 1), {&g}, {p.act});
    return std::move(*grads.at(p.act));
  };
  const Array pos1 = vjp(p.w_pos, p.g_pos), pos2 = vjp(p.w_neg, p.g_neg);  // for Δa_j > 0
  const Array neg1 = vjp(p.w_neg, p.g_pos), neg2 = vjp(p.w_pos, p.g_neg);  // for Δa_j < 0
  Gradients grads = b.default_rule();  // Δa_j = 0 (no contribution): the Rescale multiplier
  grads.resize(b.wants.size());
  if (!grads[p.act]) return grads;
  Array m = grads[p.act]->clone();
  float* pm = m.data<float>();
  for (std::int64_t i = 0; i < m.size(); ++i) {
    if (p.dpos.data<float>()[i] > 0)
      pm[i] = pos1.data<float>()[i] + pos2.data<float>()[i];
    else if (p.dneg.data<float>()[i] < 0)
      pm[i] = neg1.data<float>()[i] + neg2.data<float>()[i];
  }
  grads[p.act] = std::move(m);
  return grads;
}

// Captum's rule: per window, Δout's part max(y, y0) - y0 goes to the argmax of x and
// y - max(y, y0) to the argmax of x0; divided by Δin each input's share sums exactly to Σ g Δout.
// Where Δin is 0 so is the share it receives (the max of x over a window is at least x at that
// position), and the gradient stands in.
std::optional<Gradients> DeepLiftRules::max_pool(const BackwardNode& b, const Node& n) {
  if (b.wants.empty() || !b.wants[0] || !is_f32(b.inputs[0])) return std::nullopt;
  const Array& x = *b.inputs[0];
  const Array& x0 = baseline_.value(n.inputs[0]);
  const Array& y = b.outputs[0];
  const Array& y0 = baseline_.value(n.outputs[0]);
  const Array& g = *b.grad_outputs[0];
  Array up(DType::F32, y.shape()), down(DType::F32, y.shape());
  for (std::int64_t i = 0; i < y.size(); ++i) {
    const float yi = y.data<float>()[i], y0i = y0.data<float>()[i], hi = std::max(yi, y0i);
    up.data<float>()[i] = g.data<float>()[i] * (hi - y0i);
    down.data<float>()[i] = g.data<float>()[i] * (yi - hi);
  }
  const auto route = [&](const Array& in, const Array& out, const Array& share) {
    auto grads = node_backward(n, graph_.opset, {&in}, std::span<const Array>(&out, 1), {&share}, {0});
    return std::move(*grads.at(0));
  };
  const Array u1 = route(x, y, up), u2 = route(x0, y0, down);
  Array m(DType::F32, x.shape());
  std::optional<Array> grad;
  for (std::int64_t i = 0; i < x.size(); ++i) {
    const float xi = x.data<float>()[i], x0i = x0.data<float>()[i];
    if (tiny_step(xi, x0i)) {
      if (!grad) grad = b.default_rule().at(0);
      m.data<float>()[i] = grad->data<float>()[i];
    } else {
      m.data<float>()[i] = static_cast<float>((static_cast<double>(u1.data<float>()[i]) + u2.data<float>()[i]) /
                                              (static_cast<double>(xi) - x0i));
    }
  }
  Gradients out(b.wants.size());
  out[0] = std::move(m);
  return out;
}

// No exact rule: the gradient averaged over the straight path from the baseline's inputs to x's
// (for one input this is Δy/Δx, the Rescale multiplier), then per sample the residual
// r = Σ g·Δy - Σ m·Δx spread along Δx (m += r Δx / |Δx|²) so that the node conserves the sum.
std::optional<Gradients> DeepLiftRules::path_average(const BackwardNode& b, const Node& n) {
  constexpr int kPoints = 8;
  std::vector<std::size_t> wanted;
  for (std::size_t i = 0; i < b.wants.size() && i < b.inputs.size(); ++i)
    if (b.wants[i]) {
      if (!is_f32(b.inputs[i])) return std::nullopt;
      wanted.push_back(i);
    }
  if (wanted.empty()) return std::nullopt;
  const Array& g = *b.grad_outputs[0];
  std::vector<Array> dx, acc;
  for (std::size_t i : wanted) {
    dx.push_back(minus(*b.inputs[i], baseline_.value(n.inputs[i])));
    acc.push_back(zeros_like(*b.inputs[i]));
  }
  const auto [ts, ws] = gauss_legendre(kPoints);
  std::vector<const Array*> in(b.inputs.begin(), b.inputs.end());
  std::vector<Array> at(wanted.size());
  for (int q = 0; q < kPoints; ++q) {
    const double t = ts[static_cast<std::size_t>(q)];
    for (std::size_t k = 0; k < wanted.size(); ++k) {
      const Array& x0 = baseline_.value(n.inputs[wanted[k]]);
      at[k] = Array(DType::F32, x0.shape());
      for (std::int64_t i = 0; i < x0.size(); ++i)
        at[k].data<float>()[i] = static_cast<float>(x0.data<float>()[i] + t * dx[k].data<float>()[i]);
      in[wanted[k]] = &at[k];
    }
    const std::vector<Array> outs = node_forward(n, graph_.opset, in);
    std::vector<const Array*> gout(outs.size(), nullptr);
    gout[0] = &g;
    const auto grads = node_backward(n, graph_.opset, in, outs, gout, wanted);
    for (std::size_t k = 0; k < wanted.size(); ++k) {
      if (!grads.at(wanted[k])) continue;
      const float* src = grads[wanted[k]]->data<float>();
      float* dst = acc[k].data<float>();
      for (std::int64_t i = 0; i < acc[k].size(); ++i)
        dst[i] += static_cast<float>(ws[static_cast<std::size_t>(q)] * src[i]);
    }
  }
  // per-sample correction (one correction for the whole batch if the batch axis is not shared)
  const Array& y = b.outputs[0];
  const Array& y0 = baseline_.value(n.outputs[0]);
  std::int64_t rows = y.rank() > 0 ? y.dim(0) : 1;
  for (const Array& d : dx)
    if (d.rank() == 0 || d.dim(0) != rows) rows = 1;
  std::vector<double> r(static_cast<std::size_t>(rows)), nrm(static_cast<std::size_t>(rows));
  const std::int64_t ystride = y.size() / std::max<std::int64_t>(rows, 1);
  for (std::int64_t i = 0; i < y.size(); ++i)
    r[static_cast<std::size_t>(i / ystride)] +=
        static_cast<double>(g.data<float>()[i]) * (static_cast<double>(y.data<float>()[i]) - y0.data<float>()[i]);
  for (std::size_t k = 0; k < dx.size(); ++k) {
    const std::int64_t stride = dx[k].size() / rows;
    for (std::int64_t i = 0; i < dx[k].size(); ++i) {
      const double d = dx[k].data<float>()[i];
      r[static_cast<std::size_t>(i / stride)] -= acc[k].data<float>()[i] * d;
      nrm[static_cast<std::size_t>(i / stride)] += d * d;
    }
  }
  for (std::size_t k = 0; k < dx.size(); ++k) {
    const std::int64_t stride = dx[k].size() / rows;
    for (std::int64_t i = 0; i < dx[k].size(); ++i) {
      const auto row = static_cast<std::size_t>(i / stride);
      if (nrm[row] > 0) acc[k].data<float>()[i] += static_cast<float>(r[row] * dx[k].data<float>()[i] / nrm[row]);
    }
  }
  Gradients out(b.wants.size());
  for (std::size_t k = 0; k < wanted.size(); ++k) out[wanted[k]] = std::move(acc[k]);
  return out;
}

Array softmax_score_seed(const Array& z, const Array& z0, const std::vector<std::int64_t>& classes) {
  const std::int64_t rows = z.dim(0), k = z.size() / rows;
  const auto [ts, ws] = gauss_legendre(16);
  Array m(DType::F32, z.shape());
  std::vector<double> p(static_cast<std::size_t>(k)), acc(static_cast<std::size_t>(k)), dz(static_cast<std::size_t>(k));
  const auto prob = [&](const std::vector<double>& zz, std::int64_t c) {
    double mx = -INFINITY, s = 0;
    for (double v : zz) mx = std::max(mx, v);
    for (std::int64_t j = 0; j < k; ++j)
      s += (p[static_cast<std::size_t>(j)] = std::exp(zz[static_cast<std::size_t>(j)] - mx));
    for (double& v : p) v /= s;
    return p[static_cast<std::size_t>(c)];
  };
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* zr = z.data<float>() + r * k;
    const float* z0r = z0.data<float>() + r * k;
    const std::int64_t c = classes[static_cast<std::size_t>(r) % classes.size()];
    std::fill(acc.begin(), acc.end(), 0.0);
    std::vector<double> at(static_cast<std::size_t>(k)), a(zr, zr + k), a0(z0r, z0r + k);
    for (std::int64_t j = 0; j < k; ++j)
      dz[static_cast<std::size_t>(j)] = a[static_cast<std::size_t>(j)] - a0[static_cast<std::size_t>(j)];
    for (std::size_t q = 0; q < ts.size(); ++q) {
      for (std::size_t j = 0; j < at.size(); ++j) at[j] = a0[j] + ts[q] * dz[j];
      const double pc = prob(at, c);
      for (std::size_t j = 0; j < at.size(); ++j)
        acc[j] += ws[q] * pc * ((static_cast<std::int64_t>(j) == c ? 1.0 : 0.0) - p[j]);
    }
    const double target = prob(a, c) - prob(a0, c);
    double have = 0, mean = 0;
    for (std::size_t j = 0; j < at.size(); ++j) {
      have += acc[j] * dz[j];
      mean += dz[j] / static_cast<double>(k);
    }
    double nrm = 0;
    for (std::size_t j = 0; j < at.size(); ++j) nrm += (dz[j] - mean) * (dz[j] - mean);
    float* mr = m.data<float>() + r * k;
    for (std::size_t j = 0; j < at.size(); ++j)
      mr[j] = static_cast<float>(acc[j] + (nrm > 1e-30 ? (target - have) * (dz[j] - mean) / nrm : 0.0));
  }
  return m;
}

}  // namespace paramscope::xai
