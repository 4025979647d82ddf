// The execution engine: runs ONNX models on the CPU.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
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

class Graph;  // internal: the loaded graph

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

 private:
  explicit Model(std::unique_ptr<Graph> g);
  std::unique_ptr<Graph> graph_;
};

}  // namespace paramscope::engine
