// DeepLIFT's backward rules: the multipliers that replace the gradients of nonlinear nodes in a
// backward pass over the input x, given a second forward pass over the baseline. Formulas,
// per-operator rules and sources: docs/attributions.md, section DeepLIFT.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/attribution.h"
#include "paramscope/engine.h"

namespace paramscope::engine {
struct Node;
class Graph;
}  // namespace paramscope::engine

namespace paramscope::xai {

/// The DeepLIFT hook for one backward pass over `input` (the pass on x), reading reference
/// activations by value name from `baseline` (the pass on the baseline, same batch size). Both
/// passes and the model must outlive it. Stateful (RevealCancel hands the multipliers of a
/// nonlinearity to the linear node before it): use one per backward pass.
///
/// - elementwise nonlinearities (Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Gelu,
///   Erf, Clip, Exp, Log, Sqrt, Abs, Pow by a constant): Rescale m = Δy/Δx, the gradient where
///   |Δx| <= 1e-6 max(|x|, |x0|) (or 1e-10); RevealCancel where the input is W·a (+ b) of a
///   Gemm / MatMul / Conv with constant weights, possibly through an inference BatchNorm, and
///   nothing else reads it, or a residual Add of two activations (each either such a product or
///   split by the sign of its own Δ), else Rescale;
/// - MaxPool: Captum's rule (Δout routed to the argmax of x where out >= out0, of x0 otherwise,
///   divided by Δin), exact;
/// - Softmax, LogSoftmax, LayerNormalization, and products / quotients / powers of two
///   activations: the node's gradient averaged along the straight path from the baseline inputs
///   to x's (8-point Gauss-Legendre), then corrected per sample along Δx so the node's
///   contributions sum exactly to Σ g·Δy;
/// - everything else (linear operators, shape operators): the engine's gradient, which is the
///   exact multiplier of a linear map.
class DeepLiftRules {
 public:
  DeepLiftRules(const engine::Model& model, const engine::Pass& input, const engine::Pass& baseline, DeepLiftRule rule);
  ~DeepLiftRules();
  DeepLiftRules(const DeepLiftRules&) = delete;
  DeepLiftRules& operator=(const DeepLiftRules&) = delete;

  /// The hook body (engine::BackwardHook's signature).
  std::optional<engine::Gradients> operator()(const engine::BackwardNode& b);

  /// A hook calling *this; valid while *this lives.
  engine::BackwardHook hook();

 private:
  struct Pending;
  struct Residual;
  const engine::Node& node_of(const engine::BackwardNode& b) const;
  int reads(const std::string& v) const;
  bool is_weight(const std::string& v) const;
  const engine::Node* linear_terms(const std::string& v, Pending& p, Array& dzp, Array& dzn) const;
  const engine::Node* residual_add(const std::string& z, const Array& zv) const;
  std::optional<engine::Gradients> residual_operands(const engine::BackwardNode& b, const Residual& r);
  std::optional<engine::Gradients> rescale(const engine::BackwardNode& b, const engine::Node& n);
  std::optional<engine::Gradients> reveal_cancel(const engine::BackwardNode& b, const engine::Node& n);
  std::optional<std::vector<float>> batch_norm_scale(const engine::Node& n) const;
  std::optional<engine::Gradients> reveal_linear(const engine::BackwardNode& b, const engine::Node& n,
                                                 const Pending& p);
  std::optional<engine::Gradients> max_pool(const engine::BackwardNode& b, const engine::Node& n);
  std::optional<engine::Gradients> path_average(const engine::BackwardNode& b, const engine::Node& n);

  const engine::Graph& graph_;
  const engine::Pass& input_;
  const engine::Pass& baseline_;
  const std::map<std::string, Array>& weights_;
  DeepLiftRule rule_;
  std::unordered_map<std::string, const engine::Node*> producer_;  // by output value name
  std::unordered_map<std::string, int> readers_;                   // consumers of a value (+1 for graph outputs)
  std::unordered_map<const engine::Node*, Pending> pending_;
  std::unordered_map<const engine::Node*, Residual> residuals_;
};

/// DeepLIFT multipliers on the logits z for the explained probability softmax(z)[b, class_b]
/// relative to the baseline logits z0 ([batch, K] both): the probability's gradient averaged along
/// the path z0 -> z (16-point Gauss-Legendre), corrected along the mean-free Δz so that per row
/// Σ_j m_j Δz_j = p_c(z) - p_c(z0) exactly. A row with Δz constant (the probabilities equal) gets
/// the plain average.
Array softmax_score_seed(const Array& z, const Array& z0, const std::vector<std::int64_t>& classes);

}  // namespace paramscope::xai
