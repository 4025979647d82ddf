// The engine's view of an ONNX graph, free of protobuf types: nodes in execution order with
// their attributes, the weights, and the graph's inputs and outputs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/engine.h"

namespace paramscope::engine {

struct OpDef;

/// One attribute of a node (onnx.proto's AttributeProto, the kinds the engine reads).
struct Attribute {
  enum class Kind : std::uint8_t { Float, Int, String, Tensor, Floats, Ints, Strings };
  Kind kind = Kind::Int;
  float f = 0;
  std::int64_t i = 0;
  std::string s;
  Array t;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name;     ///< the node's name, or "#<index> (<op_type>)" when the model gives none
  std::string op_type;  ///< e.g. "Conv"
  std::string domain;   ///< "" for the default ONNX domain
  /// Value names; "" marks an omitted optional input or output.
  std::vector<std::string> inputs, outputs;
  std::map<std::string, Attribute> attributes;
  const OpDef* op = nullptr;  ///< resolved when the graph is loaded
};

class Graph {
 public:
  std::filesystem::path path;
  int opset = 0;
  std::vector<Node> nodes;                    ///< topologically sorted
  std::map<std::string, Array> initializers;  ///< weights and Constant outputs known at load
  std::vector<ValueInfo> inputs, outputs;
};

/// Parses path into a Graph, resolving every node's OpDef in `registry` order (see
/// op_registry.h). throws as Model::load.
class OpRegistry;
Graph load_onnx_graph(const std::filesystem::path& path, const OpRegistry& registry);

}  // namespace paramscope::engine
