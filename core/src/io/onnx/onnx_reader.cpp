// ONNX models (onnx.proto): tensors from the graph's initializers and from Constant nodes, found
// by walking the wire format of the mapped file (ModelProto.graph -> GraphProto.initializer /
// node -> NodeProto.attribute -> AttributeProto.t). Tensor bytes are never copied on open:
// raw_data is mapped where it lies and external data is mapped from its own file, so models with
// gigabytes of external weights open as fast as small ones. Small messages without tensor data
// (opset imports, graph inputs and outputs) are parsed with the generated onnx classes.
#include <climits>
#include <set>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "io/checkpoint_builder.h"
#include "io/onnx/onnx_types.h"
#include "io/onnx/tensor_data.h"
#include "io/onnx/tensor_proto.h"
#include "io/onnx/wire_reader.h"
#include "io/readers.h"
#include "paramscope/error.h"
#include "util/mapped_file.h"

namespace paramscope::io {
namespace {

namespace ox = paramscope::io::onnx;
using ox::Span;
using ox::WireReader;
using ox::WireType;

struct ModelFields {
  std::optional<std::int64_t> ir_version;
  std::string producer_name, producer_version, domain;
  std::optional<std::int64_t> model_version;
  std::optional<Span> graph;
  std::vector<Span> opsets, props;
  std::size_t functions = 0;
};

struct GraphFields {
  std::string name;
  std::vector<Span> nodes, initializers, sparse_initializers, inputs, outputs;
};

struct NodeFields {
  std::string name, op_type, domain;
  std::vector<std::string> outputs;
  std::vector<Span> attributes;
};

struct AttributeFields {
  std::string name;
  std::optional<Span> t;
  std::vector<Span> f, floats, i, ints;
  bool text = false, sparse = false, graphs = false;
};

ModelFields read_model(std::span<const std::byte> bytes, const std::filesystem::path& path) {
  ModelFields m;
  WireReader r(bytes, {0, bytes.size()}, path, "ModelProto");
  while (r.next()) {
    switch (r.field()) {
      case 1: m.ir_version = static_cast<std::int64_t>(r.varint()); break;
      case 2: m.producer_name = std::string(r.string()); break;
      case 3: m.producer_version = std::string(r.string()); break;
      case 4: m.domain = std::string(r.string()); break;
      case 5: m.model_version = static_cast<std::int64_t>(r.varint()); break;
      case 7:
        if (m.graph) r.fail("the model holds two graph fields");
        m.graph = r.len();
        break;
      case 8: m.opsets.push_back(r.len()); break;
      case 14: m.props.push_back(r.len()); break;
      case 25: ++m.functions; r.skip(); break;
      default: r.skip(); break;
    }
  }
  return m;
}

GraphFields read_graph(std::span<const std::byte> bytes, Span at, const std::filesystem::path& path) {
  GraphFields g;
  WireReader r(bytes, at, path, "graph");
  while (r.next()) {
    switch (r.field()) {
      case 1: g.nodes.push_back(r.len()); break;
      case 2: g.name = std::string(r.string()); break;
      case 5: g.initializers.push_back(r.len()); break;
      case 11: g.inputs.push_back(r.len()); break;
      case 12: g.outputs.push_back(r.len()); break;
      case 15: g.sparse_initializers.push_back(r.len()); break;
      default: r.skip(); break;
    }
  }
  return g;
}

NodeFields read_node(std::span<const std::byte> bytes, Span at, const std::filesystem::path& path, std::size_t index) {
  NodeFields n;
  WireReader r(bytes, at, path, "graph.node #" + std::to_string(index));
  while (r.next()) {
    switch (r.field()) {
      case 2: n.outputs.emplace_back(r.string()); break;
      case 3: n.name = std::string(r.string()); break;
      case 4: n.op_type = std::string(r.string()); break;
      case 5: n.attributes.push_back(r.len()); break;
      case 7: n.domain = std::string(r.string()); break;
      default: r.skip(); break;
    }
  }
  return n;
}

AttributeFields read_attribute(std::span<const std::byte> bytes, Span at, const std::filesystem::path& path,
                               const std::string& context) {
  AttributeFields a;
  WireReader r(bytes, at, path, context);
  while (r.next()) {
    switch (r.field()) {
      case 1: a.name = std::string(r.string()); break;
      case 2: a.f.push_back(r.elements(WireType::Fixed32)); break;
      case 3: a.i.push_back(r.elements(WireType::Varint)); break;
      case 4: case 9: a.text = true; r.skip(); break;
      case 5:
        if (a.t) r.fail("attribute holds two tensors (field t)");
        a.t = r.len();
        break;
      case 6: case 11: a.graphs = true; r.skip(); break;
      case 7: a.floats.push_back(r.elements(WireType::Fixed32)); break;
      case 8: a.ints.push_back(r.elements(WireType::Varint)); break;
      case 22: case 23: a.sparse = true; r.skip(); break;
      default: r.skip(); break;
    }
  }
  return a;
}

std::string type_text(const ::onnx::TypeProto& t) {
  if (t.has_tensor_type()) {
    const auto& tt = t.tensor_type();
    std::string s = ox::onnx_type_name(tt.elem_type());
    if (!tt.has_shape()) return s + " (shape unknown)";
    s += " [";
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto& d = tt.shape().dim(i);
      if (i) s += ", ";
      s += d.has_dim_value() ? std::to_string(d.dim_value()) : d.has_dim_param() ? d.dim_param() : "?";
    }
    return s + "]";
  }
  if (t.has_sequence_type()) return "sequence of " + type_text(t.sequence_type().elem_type());
  if (t.has_optional_type()) return "optional " + type_text(t.optional_type().elem_type());
  if (t.has_map_type()) return "map of " + ox::onnx_type_name(t.map_type().key_type()) + " to " + type_text(t.map_type().value_type());
  if (t.has_sparse_tensor_type()) return "sparse " + ox::onnx_type_name(t.sparse_tensor_type().elem_type());
  return "unknown type";
}

template <class Message>
Message parse_small(std::span<const std::byte> bytes, Span at, const std::filesystem::path& path, const std::string& what) {
  Message msg;
  if (!msg.ParseFromArray(bytes.data() + at.offset, static_cast<int>(at.size)))
    throw bad_input(path, "corrupt protobuf in " + what);
  return msg;
}

bool is_constant(const NodeFields& n) {
  return n.op_type == "Constant" && (n.domain.empty() || n.domain == "ai.onnx");
}

class Reader {
public:
  explicit Reader(std::shared_ptr<const MappedFile> file)
      : path_(file->path()), bytes_(file->bytes()), data_{file, ox::ExternalFiles(file->path())}, b_(path_, "onnx") {}

  Checkpoint read() {
    if (bytes_.empty()) throw bad_input(path_, "empty file (0 bytes), not an ONNX model");
    // A protobuf message cannot exceed 2 GiB; larger models keep their weights in external data.
    if (bytes_.size() > static_cast<std::uint64_t>(INT_MAX))
      throw bad_input(path_, "is " + std::to_string(bytes_.size()) +
                                 " bytes; an ONNX protobuf cannot exceed 2 GiB (large models use external data)");
    const ModelFields m = read_model(bytes_, path_);
    if (!m.graph) throw bad_input(path_, "has no graph (ModelProto field 7): not an ONNX model");
    const GraphFields g = read_graph(bytes_, *m.graph, path_);

    b_.add_file(path_);
    for (std::size_t i = 0; i < g.initializers.size(); ++i) add_initializer(g.initializers[i], i);
    for (std::size_t i = 0; i < g.sparse_initializers.size(); ++i) skip_sparse(g.sparse_initializers[i], i);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) add_node(g.nodes[i], i);
    for (const auto& f : data_.external.files()) b_.add_file(f);

    add_model_metadata(m);
    if (!g.name.empty()) b_.add_metadata("graph_name", g.name);
    add_values("input", g.inputs, true);
    add_values("output", g.outputs, false);
    if (!subgraph_nodes_.empty())
      b_.add_metadata("note:subgraphs", std::to_string(subgraph_nodes_.size()) + " node(s) hold subgraphs (" +
                                            subgraph_list() + "); their initializers and Constant nodes are not listed");
    if (m.functions)
      b_.add_metadata("note:functions", std::to_string(m.functions) +
                                            " model-local function(s); their Constant nodes are not listed");
    for (auto& [k, v] : skipped_) b_.add_metadata("skipped:" + k, std::move(v));
    return std::move(b_).build();
  }

private:
  void claim(const std::string& name, const std::string& context) {
    if (!names_.insert(name).second) throw bad_input(path_, context + ": the name '" + name + "' is already taken by another tensor");
  }

  void add(ox::BuiltTensor t, const std::string& name) {
    if (t.tensor) b_.add_tensor(std::move(*t.tensor));
    else skipped_.emplace_back(name, std::move(t.skipped));
  }

  void add_initializer(Span at, std::size_t index) {
    const std::string where = "initializer #" + std::to_string(index);
    const auto t = ox::read_tensor_proto(bytes_, at, path_, where);
    if (t.name.empty()) throw bad_input(path_, where + " has no name");
    const std::string context = "initializer '" + t.name + "'";
    if (!names_.insert(t.name).second) throw bad_input(path_, context + " appears twice");
    initializer_names_.insert(t.name);
    add(ox::build_tensor(data_, t, t.name, context), t.name);
  }

  // SparseTensorProto: values (field 1) is a TensorProto whose name names the sparse tensor.
  void skip_sparse(Span at, std::size_t index) {
    const std::string where = "sparse_initializer #" + std::to_string(index);
    std::string name = where;
    WireReader r(bytes_, at, path_, where);
    while (r.next()) {
      if (r.field() == 1) {
        const auto values = ox::read_tensor_proto(bytes_, r.len(), path_, where + " values");
        if (!values.name.empty()) name = values.name;
      } else {
        r.skip();
      }
    }
    claim(name, where);
    initializer_names_.insert(name);
    skipped_.emplace_back(name, "sparse initializer: sparse tensors are not supported");
  }

  void add_node(Span at, std::size_t index) {
    const NodeFields n = read_node(bytes_, at, path_, index);
    const std::string context = n.name.empty() ? "graph.node #" + std::to_string(index) : "node '" + n.name + "'";
    if (!is_constant(n)) {
      for (std::size_t i = 0; i < n.attributes.size(); ++i)
        if (read_attribute(bytes_, n.attributes[i], path_, context + " attribute #" + std::to_string(i)).graphs) {
          subgraph_nodes_.push_back(n.op_type + (n.name.empty() ? "" : " '" + n.name + "'"));
          break;
        }
      return;
    }
    if (n.outputs.size() != 1 || n.outputs[0].empty())
      throw bad_input(path_, "Constant " + context + " must have exactly one named output");
    const std::string& out = n.outputs[0];
    const std::string cctx = "Constant " + context + " (output '" + out + "')";

    std::optional<AttributeFields> value;
    int values = 0;
    for (std::size_t i = 0; i < n.attributes.size(); ++i) {
      AttributeFields a = read_attribute(bytes_, n.attributes[i], path_, cctx + " attribute #" + std::to_string(i));
      static const std::set<std::string> kValueNames{"value", "value_float", "value_floats", "value_int",
                                                     "value_ints", "value_string", "value_strings", "sparse_value"};
      if (!kValueNames.count(a.name)) continue;
      ++values;
      value = std::move(a);
    }
    if (values != 1)
      throw bad_input(path_, cctx + " has " + std::to_string(values) + " value attributes; Constant takes exactly one");
    claim(out, cctx);
    const AttributeFields& a = *value;
    if (a.name == "value") {
      if (!a.t) throw bad_input(path_, cctx + ": attribute 'value' holds no tensor");
      const auto t = ox::read_tensor_proto(bytes_, *a.t, path_, cctx + " value");
      add(ox::build_tensor(data_, t, out, cctx), out);
    } else if (a.name == "value_float" || a.name == "value_floats") {
      const bool scalar = a.name == "value_float";
      if (scalar && a.f.empty()) throw bad_input(path_, cctx + ": attribute 'value_float' holds no float");
      b_.add_tensor(ox::float_tensor(data_, scalar ? a.f : a.floats, out, scalar, cctx));
    } else if (a.name == "value_int" || a.name == "value_ints") {
      const bool scalar = a.name == "value_int";
      if (scalar && a.i.empty()) throw bad_input(path_, cctx + ": attribute 'value_int' holds no int");
      b_.add_tensor(ox::int_tensor(data_, scalar ? a.i : a.ints, out, scalar, cctx));
    } else if (a.name == "sparse_value") {
      skipped_.emplace_back(out, "Constant sparse_value: sparse tensors are not supported");
    } else {
      skipped_.emplace_back(out, "Constant " + a.name + ": text, not numbers");
    }
  }

  void add_model_metadata(const ModelFields& m) {
    if (m.ir_version) b_.add_metadata("ir_version", std::to_string(*m.ir_version));
    if (!m.producer_name.empty()) b_.add_metadata("producer_name", m.producer_name);
    if (!m.producer_version.empty()) b_.add_metadata("producer_version", m.producer_version);
    if (!m.domain.empty()) b_.add_metadata("domain", m.domain);
    if (m.model_version) b_.add_metadata("model_version", std::to_string(*m.model_version));
    for (std::size_t i = 0; i < m.opsets.size(); ++i) {
      const auto o = parse_small<::onnx::OperatorSetIdProto>(bytes_, m.opsets[i], path_, "opset_import #" + std::to_string(i));
      b_.add_metadata("opset:" + (o.domain().empty() ? std::string("ai.onnx") : o.domain()), std::to_string(o.version()));
    }
    for (std::size_t i = 0; i < m.props.size(); ++i) {
      const auto p = parse_small<::onnx::StringStringEntryProto>(bytes_, m.props[i], path_, "metadata_props #" + std::to_string(i));
      b_.add_metadata("metadata_props:" + p.key(), p.value());
    }
  }

  // Graph inputs and outputs with their types; inputs that merely repeat an initializer (older
  // exporters, keep_initializers_as_inputs) are weights, not inputs of the model.
  void add_values(const std::string& kind, const std::vector<Span>& spans, bool skip_initializers) {
    for (std::size_t i = 0; i < spans.size(); ++i) {
      const auto v = parse_small<::onnx::ValueInfoProto>(bytes_, spans[i], path_, "graph " + kind + " #" + std::to_string(i));
      if (skip_initializers && initializer_names_.count(v.name())) continue;
      b_.add_metadata(kind + ":" + v.name(), v.has_type() ? type_text(v.type()) : "type unknown");
    }
  }

  std::string subgraph_list() const {
    std::string s;
    for (std::size_t i = 0; i < subgraph_nodes_.size() && i < 5; ++i) s += (i ? ", " : "") + subgraph_nodes_[i];
    if (subgraph_nodes_.size() > 5) s += ", ...";
    return s;
  }

  std::filesystem::path path_;
  std::span<const std::byte> bytes_;
  ox::ModelData data_;
  CheckpointBuilder b_;
  std::set<std::string> names_, initializer_names_;
  std::vector<std::pair<std::string, std::string>> skipped_;
  std::vector<std::string> subgraph_nodes_;
};

}  // namespace

Checkpoint parse_onnx(std::shared_ptr<const MappedFile> file) { return Reader(std::move(file)).read(); }

Checkpoint open_onnx(const std::filesystem::path& path) { return parse_onnx(MappedFile::open(path)); }

}  // namespace paramscope::io
