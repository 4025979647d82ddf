// ModelProto -> Graph: parsed with the generated onnx classes, every reference checked, nodes
// resolved to operators and sorted for execution, Constant nodes folded into the weights.
#include <algorithm>
#include <climits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <onnx/onnx_pb.h>

#include "engine/graph.h"
#include "engine/op_registry.h"
#include "engine/tensor_proto_array.h"
#include "io/onnx/external_data.h"
#include "io/onnx/onnx_types.h"
#include "paramscope/error.h"
#include "util/mapped_file.h"
#include "util/printable.h"

namespace paramscope::engine {
namespace {

namespace fs = std::filesystem;
namespace ox = io::onnx;

constexpr int kMinOpset = 9, kMaxOpset = 17;

bool default_domain(const std::string& d) {
  return d.empty() || d == "ai.onnx";
}

std::string node_label(const Node& n) {
  return "node '" + n.name + "' (" + n.op_type + ")";
}

// Errors thrown while a node is checked ("node 'x' (Op): ...") get the file in front.
[[noreturn]] void rethrow_with_file(const Error& e, const fs::path& path) {
  throw Error(e.kind() == Error::Kind::Usage ? Error::Kind::BadInput : e.kind(), path.string() + ": " + e.what());
}

ValueInfo value_info(const ::onnx::ValueInfoProto& v, const fs::path& path, const std::string& what, bool strict) {
  ValueInfo info;
  info.name = v.name();
  const std::string label = what + " " + in_quotes(v.name());
  if (!v.type().has_tensor_type()) {
    if (strict || v.type().value_case() != ::onnx::TypeProto::VALUE_NOT_SET)
      throw unsupported(path, label + " is not a tensor (sequences, maps and optionals are not supported)");
    return info;  // an output without a declared type: known when the graph runs
  }
  const auto& tt = v.type().tensor_type();
  const auto dtype = ox::dtype_from_onnx(tt.elem_type());
  if (!dtype || *dtype == DType::F8_E4M3 || *dtype == DType::F8_E5M2) {
    if (strict || tt.elem_type() != ox::UNDEFINED)
      throw unsupported(
          path, label + " has data type " + ox::onnx_type_name(tt.elem_type()) + ", which the engine does not support");
  } else {
    info.type = *dtype;
  }
  if (tt.has_shape()) {
    info.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0)
          throw bad_input(path, label + " has a negative dimension " + std::to_string(d.dim_value()));
        info.shape.push_back(d.dim_value());
        info.dim_names.emplace_back();
      } else {
        info.shape.push_back(-1);
        info.dim_names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
      }
    }
  }
  return info;
}

Attribute convert_attribute(const ::onnx::AttributeProto& a, const Node& node, const fs::path& path,
                            ox::ExternalFiles& external) {
  using AP = ::onnx::AttributeProto;
  const std::string label = node_label(node) + ": attribute " + in_quotes(a.name());
  if (!a.ref_attr_name().empty()) throw bad_input(path, label + " refers to a function attribute outside a function");
  auto type = a.type();
  if (type == AP::UNDEFINED) {  // IR version 1 models leave the type out
    type = a.has_f()          ? AP::FLOAT
           : a.has_i()        ? AP::INT
           : a.has_s()        ? AP::STRING
           : a.has_t()        ? AP::TENSOR
           : a.has_g()        ? AP::GRAPH
           : a.floats_size()  ? AP::FLOATS
           : a.ints_size()    ? AP::INTS
           : a.strings_size() ? AP::STRINGS
                              : AP::UNDEFINED;
    if (type == AP::UNDEFINED) throw bad_input(path, label + " has neither a type nor a value");
  }
  Attribute out;
  switch (type) {
    case AP::FLOAT:
      out.kind = Attribute::Kind::Float;
      out.f = a.f();
      break;
    case AP::INT:
      out.kind = Attribute::Kind::Int;
      out.i = a.i();
      break;
    case AP::STRING:
      out.kind = Attribute::Kind::String;
      out.s = a.s();
      break;
    case AP::TENSOR:
      out.kind = Attribute::Kind::Tensor;
      out.t = array_from_tensor_proto(a.t(), path, label, &external);
      break;
    case AP::FLOATS:
      out.kind = Attribute::Kind::Floats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case AP::INTS:
      out.kind = Attribute::Kind::Ints;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case AP::STRINGS:
      out.kind = Attribute::Kind::Strings;
      out.strings.assign(a.strings().begin(), a.strings().end());
      break;
    case AP::GRAPH:
    case AP::GRAPHS:
      throw unsupported(path, label + " holds a subgraph; the engine does not run subgraphs");
    default:
      throw unsupported(path, label + " is of a kind the engine does not read (sparse tensor, tensors or type protos)");
  }
  return out;
}

int default_opset(const ::onnx::ModelProto& m, const fs::path& path) {
  int opset = -1;
  for (const auto& o : m.opset_import()) {
    if (!default_domain(o.domain())) continue;
    if (opset >= 0 && opset != o.version())
      throw bad_input(path, "opset_import lists the default domain twice (" + std::to_string(opset) + " and " +
                                std::to_string(o.version()) + ")");
    if (o.version() < 0 || o.version() > INT_MAX)
      throw bad_input(path, "opset version " + std::to_string(o.version()) + " is invalid");
    opset = static_cast<int>(o.version());
  }
  if (opset < 0) {
    // Models of other domains only (training, ML) are well-formed: they are just not ours.
    std::string others;
    for (const auto& o : m.opset_import()) others += (others.empty() ? "" : ", ") + printable(o.domain(), 60);
    if (!others.empty())
      throw unsupported(path,
                        "imports only the operator domain(s) " + others + "; the engine runs the default ONNX domain");
    throw bad_input(path, "declares no opset for the default ONNX domain (opset_import)");
  }
  if (opset < kMinOpset || opset > kMaxOpset)
    throw unsupported(path, "uses opset " + std::to_string(opset) +
                                " of the default ONNX domain; the engine runs opsets " + std::to_string(kMinOpset) +
                                " to " + std::to_string(kMaxOpset));
  return opset;
}

std::string supported_list(const OpRegistry& registry) {
  std::string s;
  for (const auto n : registry.names()) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

// Kahn's algorithm, smallest file index first so that independent nodes keep the file's order.
std::vector<Node> sort_nodes(std::vector<Node> nodes, const std::unordered_set<std::string>& given,
                             const fs::path& path) {
  std::unordered_map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& o : nodes[i].outputs) {
      if (o.empty()) continue;
      if (given.count(o))
        throw bad_input(path,
                        node_label(nodes[i]) + ": output " + in_quotes(o) + " is also a graph input or initializer");
      const auto [it, fresh] = producer.emplace(o, i);
      if (!fresh)
        throw bad_input(path, "value " + in_quotes(o) + " is produced twice, by " + node_label(nodes[it->second]) +
                                  " and " + node_label(nodes[i]));
    }
  }
  std::vector<std::vector<std::size_t>> users(nodes.size());
  std::vector<std::size_t> waiting(nodes.size(), 0);
  std::vector<std::vector<std::size_t>> deps(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& in : nodes[i].inputs) {
      if (in.empty() || given.count(in)) continue;
      const auto it = producer.find(in);
      if (it == producer.end())
        throw bad_input(path, node_label(nodes[i]) + ": input " + in_quotes(in) +
                                  " is not a graph input, an initializer or any node's output");
      users[it->second].push_back(i);
      deps[i].push_back(it->second);
      ++waiting[i];
    }
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (waiting[i] == 0) ready.insert(i);
  std::vector<std::size_t> order;
  order.reserve(nodes.size());
  while (!ready.empty()) {
    const std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (const std::size_t u : users[i])
      if (--waiting[u] == 0) ready.insert(u);
  }
  if (order.size() != nodes.size()) {
    // Walk back through unfinished producers until a node repeats: that node is on a cycle.
    std::size_t i = 0;
    while (waiting[i] == 0) ++i;
    std::vector<bool> seen(nodes.size(), false);
    while (!seen[i]) {
      seen[i] = true;
      for (const std::size_t d : deps[i])
        if (waiting[d] > 0) {
          i = d;
          break;
        }
    }
    throw bad_input(path, "the graph has a cycle through " + node_label(nodes[i]));
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (const std::size_t i : order) sorted.push_back(std::move(nodes[i]));
  return sorted;
}

}  // namespace

Graph load_onnx_graph(const fs::path& path, const OpRegistry& registry) {
  const auto file = MappedFile::open(path);
  ::onnx::ModelProto m;
  if (file->size() > static_cast<std::uint64_t>(INT_MAX))
    throw unsupported(path, "is larger than protobuf's 2 GB limit (keep the weights as external data)");
  if (!parse_protobuf(file->bytes(), m))
    throw bad_input(path, "is not an ONNX model (not a valid ModelProto protobuf)");
  if (!m.has_graph()) throw bad_input(path, "is not an ONNX model (it holds no graph)");

  Graph g;
  g.path = path;
  g.opset = default_opset(m, path);
  const auto& graph = m.graph();
  ox::ExternalFiles external(path);
  ThreadPool& pool = ThreadPool::global();

  if (graph.sparse_initializer_size() > 0) throw unsupported(path, "sparse initializers are not supported");
  for (const auto& t : graph.initializer()) {
    const std::string label = "initializer " + in_quotes(t.name());
    if (t.name().empty()) throw bad_input(path, "an initializer has no name");
    if (g.initializers.count(t.name())) throw bad_input(path, label + " is listed twice");
    g.initializers.emplace(t.name(), array_from_tensor_proto(t, path, label, &external));
  }

  std::unordered_set<std::string> given;  // graph inputs and initializers
  for (const auto& [name, a] : g.initializers) given.insert(name);
  std::unordered_set<std::string> input_names;
  for (const auto& v : graph.input()) {
    if (v.name().empty()) throw bad_input(path, "a graph input has no name");
    if (!input_names.insert(v.name()).second)
      throw bad_input(path, "graph input " + in_quotes(v.name()) + " is listed twice");
    if (g.initializers.count(v.name())) continue;  // a weight with a default value, not fed by the caller
    g.inputs.push_back(value_info(v, path, "graph input", true));
    given.insert(v.name());
  }

  std::vector<Node> nodes;
  nodes.reserve(static_cast<std::size_t>(graph.node_size()));
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& np = graph.node(i);
    Node n;
    n.op_type = printable(np.op_type());
    n.name = np.name().empty() ? "#" + std::to_string(i) + " (" + n.op_type + ")" : printable(np.name());
    n.domain = default_domain(np.domain()) ? std::string() : np.domain();
    if (!n.domain.empty())
      throw unsupported(path, node_label(n) + ": domain " + in_quotes(n.domain) +
                                  " is not supported (the engine runs the default ONNX domain only)");
    n.op = registry.find(np.op_type());
    if (!n.op)
      throw unsupported(path, node_label(n) + ": operator not supported (supported: " + supported_list(registry) + ")");
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (const auto& a : np.attribute()) {
      if (n.attributes.count(a.name()))
        throw bad_input(path, node_label(n) + ": attribute " + in_quotes(a.name()) + " is given twice");
      n.attributes.emplace(a.name(), convert_attribute(a, n, path, external));
    }
    const OpDef& op = *n.op;
    const auto count = static_cast<std::int64_t>(n.inputs.size());
    std::int64_t required = 0;  // leading inputs present
    while (required < count && !n.inputs[static_cast<std::size_t>(required)].empty()) ++required;
    if (count > op.max_inputs || required < op.min_inputs) {
      const std::string takes = op.min_inputs == op.max_inputs
                                    ? std::to_string(op.min_inputs)
                                    : std::to_string(op.min_inputs) + " to " + std::to_string(op.max_inputs);
      throw bad_input(path, node_label(n) + ": the operator takes " + takes + " inputs, the node gives " +
                                (count > op.max_inputs ? std::to_string(count)
                                                       : std::to_string(required) + " (before the first omitted one)"));
    }
    if (n.outputs.empty() || n.outputs[0].empty()) throw bad_input(path, node_label(n) + ": has no output");
    try {
      const NodeContext ctx(n, g.opset, pool);
      if (op.check) op.check(ctx);
      if (n.op_type == "Constant") {
        // Folded now: its value is known, and kernels may then treat it as a weight.
        auto out = op.forward(ctx, {});
        const std::string& name = n.outputs[0];
        if (n.outputs.size() != 1 || out.size() != 1) ctx.fail("must have exactly one output");
        if (given.count(name)) ctx.fail("output " + in_quotes(name) + " is also a graph input or initializer");
        g.initializers.emplace(name, std::move(out[0]));
        given.insert(name);
        continue;
      }
    } catch (const Error& e) {
      if (e.kind() == Error::Kind::Io) throw;
      rethrow_with_file(e, path);
    }
    nodes.push_back(std::move(n));
  }
  g.nodes = sort_nodes(std::move(nodes), given, path);

  std::unordered_set<std::string> available = given;
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs) available.insert(o);
  for (const auto& v : graph.output()) {
    if (!available.count(v.name()))
      throw bad_input(path, "graph output " + in_quotes(v.name()) + " is not produced by any node");
    g.outputs.push_back(value_info(v, path, "graph output", false));
  }
  if (g.outputs.empty()) throw bad_input(path, "the graph has no outputs");
  return g;
}

}  // namespace paramscope::engine
