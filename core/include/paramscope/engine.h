// The execution engine: runs ONNX models on the CPU.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {

/// A graph input or output as the model declares it. Dimensions without a fixed size are -1
/// (dim_names holds the symbolic name, e.g. "batch", or "" when there is none).
struct ValueInfo {
  std::string name;
  DType type = DType::F32;
  bool has_shape = false;  ///< false when the model gives no shape at all
  std::vector<std::int64_t> shape;
  std::vector<std::string> dim_names;
};

/// A node of the graph as observers and hooks see it.
struct NodeInfo {
  std::string_view name;     ///< the node's name, or "#<index> (<op_type>)" when the file gives none
  std::string_view op_type;  ///< e.g. "Relu"
  std::span<const std::string> inputs, outputs;  ///< value names; "" marks an omitted optional one
};

/// Called after each node of a forward run with its inputs (nullptr: omitted) and outputs, on
/// the thread that runs the model; e.g. to accumulate activation statistics without keeping
/// every activation.
using ForwardObserver = std::function<void(const NodeInfo& node, std::span<const Array* const> inputs,
                                           std::span<const Array> outputs)>;

/// One gradient per input slot of a node (nullopt: none flows to that input).
using Gradients = std::vector<std::optional<Array>>;

/// What a backward hook sees of a node during a backward pass.
struct BackwardNode {
  NodeInfo node;
  std::span<const Array* const> inputs;        ///< the forward inputs
  std::span<const Array> outputs;              ///< the forward outputs
  std::span<const Array* const> grad_outputs;  ///< dL/d(output); nullptr where none flows
  std::span<const bool> wants;                 ///< which inputs need a gradient
  /// The engine's own rule for this node (the vector-Jacobian product), for hooks that adjust it.
  std::function<Gradients()> default_rule;
};

/// Replaces the gradient rule of the nodes it chooses: returns one entry per input (each the
/// input's shape, F32) or nullopt to keep the engine's rule. This is how DeepLIFT's multipliers
/// replace the gradients of nonlinearities.
using BackwardHook = std::function<std::optional<Gradients>(const BackwardNode& node)>;

class Graph;  // internal: the loaded graph
class Model;
const Graph& graph_of(const Model& model) noexcept;  // internal: for the engine's own algorithms

/// A forward run that kept every value it computed, for gradients and for reading activations.
/// Refers to its Model, which must outlive it.
class Pass {
 public:
  Pass(Pass&&) noexcept;
  Pass& operator=(Pass&&) noexcept;
  ~Pass();

  /// The graph outputs, in the model's order.
  const std::vector<Array>& outputs() const noexcept;
  /// Any value of the run by name: an input, a weight, an intermediate activation.
  /// throws Error(Usage) naming the value if the graph has no such value.
  const Array& value(const std::string& name) const;

  /// Reverse-mode gradients of L = sum over seeds of <seed, value>: seeds holds dL/d(value) for
  /// graph outputs (or any other float value), wrt names the values to differentiate with
  /// respect to (inputs, weights, activations). Returns dL/d(wrt) for each, zeros where L does
  /// not depend on it. hook may replace the rule of chosen nodes.
  /// throws Error(Usage) for an unknown or non-float value, or a seed whose shape or type is not
  /// the value's; Error(Unsupported) naming the node if a gradient must pass through an operator
  /// without a backward rule; Error(Cancelled).
  std::map<std::string, Array> backward(const std::map<std::string, Array>& seeds, const std::vector<std::string>& wrt,
                                        const BackwardHook& hook = {}, const JobControl& control = {}) const;

 private:
  friend class Model;
  struct State;
  explicit Pass(std::unique_ptr<State> s);
  std::unique_ptr<State> state_;
};

class Model {
 public:
  /// Loads an ONNX model: the graph, weights from initializers (in the file or in external data
  /// files beside it) and Constant nodes. Checks every node before anything runs: an operator the
  /// engine does not implement, an opset outside 9..17 for the default domain, or a malformed
  /// node is reported here, naming the file, the node and the operator.
  /// throws Error(Io) if the file cannot be read; Error(BadInput) if it is not a valid ONNX model
  /// or the graph is inconsistent (an input nobody produces, a cycle); Error(Unsupported) for
  /// operators, opsets, domains or data types the engine does not handle.
  static Model load(const std::filesystem::path& path);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const std::filesystem::path& path() const noexcept;
  int opset() const noexcept;  ///< the default domain's opset version
  /// Graph inputs the caller feeds (initializers listed as inputs are left out).
  const std::vector<ValueInfo>& inputs() const noexcept;
  const std::vector<ValueInfo>& outputs() const noexcept;

  /// Runs the graph on the given inputs and returns the graph outputs in order. Feeds are
  /// matched by name; each must have the declared type and the declared size on every fixed
  /// dimension.
  /// throws Error(Usage) for a missing or unknown input, or a type or shape mismatch (naming the
  /// input, the expected and the given type or shape); Error(BadInput) when a node fails on the
  /// shapes it meets at run time (naming the node); Error(Cancelled).
  std::vector<Array> run(const std::map<std::string, Array>& feeds, const JobControl& control = {}) const;
  /// The same, calling observe after each node.
  std::vector<Array> run(const std::map<std::string, Array>& feeds, const ForwardObserver& observe,
                         const JobControl& control = {}) const;
  /// Runs the graph keeping every value, so that gradients can be taken. throws as run.
  Pass forward(const std::map<std::string, Array>& feeds, const JobControl& control = {}) const;

  /// The nodes in execution order.
  std::vector<NodeInfo> nodes() const;
  /// The weights (initializers and folded Constant outputs) by name.
  const std::map<std::string, Array>& weights() const noexcept;

 private:
  friend const Graph& graph_of(const Model& model) noexcept;
  explicit Model(std::unique_ptr<Graph> g);
  std::unique_ptr<Graph> graph_;
};

}  // namespace paramscope::engine
