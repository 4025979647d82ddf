#include "engine/executor.h"

#include <algorithm>
#include <new>

#include "engine/op_registry.h"
#include "paramscope/error.h"
#include "util/printable.h"

namespace paramscope::engine {
namespace {

std::string dims_text(const ValueInfo& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.shape.size(); ++i) {
    if (i) s += ", ";
    if (v.shape[i] >= 0)
      s += std::to_string(v.shape[i]);
    else
      s += v.dim_names[i].empty() ? "?" : printable(v.dim_names[i], 40);
  }
  return s + "]";
}

}  // namespace

std::size_t input_slots(const Node& n) {
  const auto max = static_cast<std::size_t>(n.op->max_inputs);
  return max <= 16 ? std::max(max, n.inputs.size()) : n.inputs.size();
}

void check_feeds(const Graph& g, const std::map<std::string, Array>& feeds) {
  std::string names;
  for (const auto& v : g.inputs) names += (names.empty() ? "" : ", ") + in_quotes(v.name);
  for (const auto& [name, a] : feeds) {
    const auto it = std::find_if(g.inputs.begin(), g.inputs.end(), [&](const ValueInfo& v) { return v.name == name; });
    if (it == g.inputs.end())
      throw usage_error("the model has no input " + in_quotes(name) + " (its inputs: " + names + ")");
  }
  for (const auto& v : g.inputs) {
    const auto it = feeds.find(v.name);
    if (it == feeds.end())
      throw usage_error("input " + in_quotes(v.name) + " is not given (the model's inputs: " + names + ")");
    const Array& a = it->second;
    if (a.type() != v.type)
      throw usage_error("input " + in_quotes(v.name) + ": type " + std::string(dtype_name(a.type())) +
                        " does not fit the model's " + std::string(dtype_name(v.type)));
    if (!v.has_shape) continue;
    bool fits = a.rank() == v.shape.size();
    for (std::size_t d = 0; fits && d < v.shape.size(); ++d) fits = v.shape[d] < 0 || v.shape[d] == a.dim(d);
    if (!fits)
      throw usage_error("input " + in_quotes(v.name) + ": shape " + shape_string(a.shape()) +
                        " does not fit the model's " + dims_text(v));
  }
}

NodeInfo node_info(const Node& n) noexcept {
  return NodeInfo{n.name, n.op_type, n.inputs, n.outputs};
}

void rethrow_for_node(const Graph& g, const Node& n) {
  try {
    throw;
  } catch (const Error& e) {
    if (e.kind() == Error::Kind::Cancelled || e.kind() == Error::Kind::Io) throw;
    const std::string what = e.what();
    const std::string label = "node '" + n.name + "' (" + n.op_type + ")";
    // Array's own errors (a shape that overflows, a type mix-up) say nothing of the node.
    const std::string named = what.rfind("node '", 0) == 0 ? what : label + ": " + what;
    throw Error(e.kind() == Error::Kind::Unsupported ? Error::Kind::Unsupported : Error::Kind::BadInput,
                g.path.string() + ": " + named);
  } catch (const std::bad_alloc&) {
    throw Error(Error::Kind::BadInput,
                g.path.string() + ": node '" + n.name + "' (" + n.op_type + "): not enough memory for its outputs");
  }
}

std::vector<Array> execute(const Graph& g, const std::map<std::string, Array>& feeds, const JobControl& control,
                           ValueMap* keep, const ForwardObserver* observe) {
  // Uses left per value; graph outputs hold one extra use so they survive to the end.
  std::unordered_map<std::string, int> uses;
  for (const auto& n : g.nodes)
    for (const auto& in : n.inputs)
      if (!in.empty()) ++uses[in];
  for (const auto& o : g.outputs) ++uses[o.name];

  ValueMap values;
  for (const auto& [name, a] : g.initializers) values.emplace(name, a);
  for (const auto& [name, a] : feeds) values.insert_or_assign(name, a);

  ThreadPool& pool = ThreadPool::global();
  ProgressTracker progress(control, g.nodes.size());
  std::vector<const Array*> args;
  for (const Node& n : g.nodes) {
    progress.advance(0);  // polls cancellation between nodes
    args.assign(input_slots(n), nullptr);
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (!n.inputs[i].empty()) args[i] = &values.at(n.inputs[i]);
    const NodeContext ctx(n, g.opset, pool);
    std::vector<Array> out;
    try {
      out = n.op->forward(ctx, args);
      if (out.size() < n.outputs.size())
        ctx.fail("computed " + std::to_string(out.size()) + " outputs, the node lists " +
                 std::to_string(n.outputs.size()));
    } catch (...) {
      rethrow_for_node(g, n);
    }
    if (observe) (*observe)(node_info(n), args, out);
    for (std::size_t i = 0; i < n.outputs.size(); ++i) {
      const std::string& name = n.outputs[i];
      if (name.empty() || (!keep && uses.find(name) == uses.end())) continue;  // nobody reads it
      values.insert_or_assign(name, std::move(out[i]));
    }
    if (!keep)
      for (const auto& in : n.inputs)
        if (!in.empty() && --uses[in] == 0) values.erase(in);
    progress.advance(1);
  }
  progress.finish();

  std::vector<Array> result;
  result.reserve(g.outputs.size());
  for (const auto& o : g.outputs) result.push_back(values.at(o.name));
  if (keep) *keep = std::move(values);
  return result;
}

}  // namespace paramscope::engine
