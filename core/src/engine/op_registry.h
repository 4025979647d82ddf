// Operators: what a kernel sees of its node, and the table of implemented operators. A new
// operator is one function in core/src/engine/ops/ and one line in its file's add_*_ops().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/graph.h"
#include "paramscope/array.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {

/// A node as its kernel sees it: attributes with ONNX's defaults, the opset, errors that name
/// the node.
class NodeContext {
 public:
  NodeContext(const Node& node, int opset, ThreadPool& pool) : node_(node), opset_(opset), pool_(pool) {}

  const Node& node() const noexcept { return node_; }
  int opset() const noexcept { return opset_; }
  /// The pool for kernels that split their work (GEMM, convolution); kernels may ignore it.
  ThreadPool& pool() const noexcept { return pool_; }

  bool has(std::string_view name) const;
  /// Attribute values; the default when the node does not set it. throws Error(BadInput) (via
  /// fail) if it is set with another kind.
  std::int64_t attr_int(std::string_view name, std::int64_t fallback) const;
  float attr_float(std::string_view name, float fallback) const;
  std::string attr_string(std::string_view name, std::string_view fallback) const;
  std::vector<std::int64_t> attr_ints(std::string_view name, std::vector<std::int64_t> fallback = {}) const;
  std::vector<float> attr_floats(std::string_view name, std::vector<float> fallback = {}) const;
  /// nullptr when absent.
  const Array* attr_tensor(std::string_view name) const;

  /// throws Error(BadInput) "node 'NAME' (OP): what".
  [[noreturn]] void fail(const std::string& what) const;
  /// throws Error(Unsupported) "node 'NAME' (OP): what".
  [[noreturn]] void unsupported(const std::string& what) const;

 private:
  const Attribute* find(std::string_view name) const;
  const Node& node_;
  int opset_;
  ThreadPool& pool_;
};

/// Inputs in the node's order; nullptr for an omitted optional input (and for trailing ones the
/// node does not list, up to max_inputs).
using Inputs = std::span<const Array* const>;

/// Computes a node's outputs (as many as the node lists; "" outputs may be left empty Arrays).
/// Throws through ctx.fail() when the inputs do not fit the operator.
using ForwardFn = std::vector<Array> (*)(const NodeContext& ctx, Inputs in);

/// Checks a node when the model is loaded (attributes, input counts); may be null.
using CheckFn = void (*)(const NodeContext& ctx);

/// What a backward rule sees of one node after the forward pass.
struct BackwardArgs {
  Inputs in;                               ///< the forward inputs (nullptr: omitted optional)
  std::span<const Array> out;              ///< the forward outputs, in the node's order
  std::span<const Array* const> grad_out;  ///< dL/d(output k); nullptr where no gradient flows
  std::span<const bool> wants;             ///< per input slot: is its gradient needed
};

/// One entry per input slot: dL/d(input) in the input's shape and type, or nullopt where the
/// input is not differentiable (indices, shapes, integer data) or not wanted.
using Grads = std::vector<std::optional<Array>>;

/// The vector-Jacobian product of a node: given dL/d(outputs), dL/d(inputs). Rules may skip
/// inputs whose `wants` is false. Throws through ctx.fail() like forward.
using BackwardFn = Grads (*)(const NodeContext& ctx, const BackwardArgs& a);

struct OpDef {
  std::string_view op_type;
  int min_inputs = 1, max_inputs = 1;
  ForwardFn forward = nullptr;
  CheckFn check = nullptr;
  /// null: the operator has no gradient (a run that needs one is refused, naming the node).
  BackwardFn backward = nullptr;
};

class OpRegistry {
 public:
  void add(const OpDef& op);
  /// nullptr if the default domain has no such operator here.
  const OpDef* find(std::string_view op_type) const noexcept;
  std::vector<std::string_view> names() const;

  /// Every operator the engine implements.
  static const OpRegistry& builtin();

 private:
  std::vector<OpDef> ops_;
};

// One per file under core/src/engine/ops/.
void add_elementwise_ops(OpRegistry& r);  // Add Sub Mul Div Pow Sqrt Neg Abs Exp Log Relu ... Equal Where Clip Erf Gelu
void add_shape_ops(OpRegistry& r);        // Reshape Transpose Concat Split Slice Squeeze Unsqueeze Gather Expand ...
void add_linear_ops(OpRegistry& r);       // Gemm MatMul
void add_conv_ops(OpRegistry& r);         // Conv ConvTranspose
void add_pool_ops(OpRegistry& r);         // MaxPool AveragePool GlobalAveragePool
void add_trilu_ops(OpRegistry& r);  // Trilu
void add_norm_ops(OpRegistry& r);  // BatchNormalization LayerNormalization Softmax LogSoftmax ReduceMean ReduceSum

}  // namespace paramscope::engine
