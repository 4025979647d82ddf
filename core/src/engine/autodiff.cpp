#include "engine/autodiff.h"

#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "engine/op_registry.h"
#include "paramscope/error.h"
#include "util/printable.h"

namespace paramscope::engine {
namespace {

bool is_float(DType t) noexcept {
  return t == DType::F32 || t == DType::F64;
}

const Array& known_value(const ValueMap& values, const std::string& name, const char* role) {
  const auto it = values.find(name);
  if (it == values.end()) throw usage_error(std::string(role) + " " + in_quotes(name) + " is not a value of the graph");
  if (!is_float(it->second.type()))
    throw usage_error(std::string(role) + " " + in_quotes(name) + " is " + std::string(dtype_name(it->second.type())) +
                      ", not a float value");
  return it->second;
}

void accumulate(std::unordered_map<std::string, Array>& grads, const std::string& name, Array g) {
  auto [it, fresh] = grads.try_emplace(name, std::move(g));
  if (fresh) return;
  Array& acc = it->second;
  // Gradients handed out by rules may share data with forward values: add into a fresh copy.
  Array sum = acc.clone();
  if (sum.type() == DType::F64) {
    double* d = sum.data<double>();
    const double* s = g.data<double>();
    for (std::int64_t i = 0; i < sum.size(); ++i) d[i] += s[i];
  } else {
    float* d = sum.data<float>();
    const float* s = g.data<float>();
    for (std::int64_t i = 0; i < sum.size(); ++i) d[i] += s[i];
  }
  acc = std::move(sum);
}

}  // namespace

std::map<std::string, Array> backward(const Graph& g, const ValueMap& values, const std::map<std::string, Array>& seeds,
                                      const std::vector<std::string>& wrt, const BackwardHook& hook,
                                      const JobControl& control) {
  std::unordered_map<std::string, Array> grads;
  for (const auto& [name, seed] : seeds) {
    const Array& v = known_value(values, name, "seed");
    if (seed.type() != v.type() || seed.shape() != v.shape())
      throw usage_error("seed for " + in_quotes(name) + ": " + std::string(dtype_name(seed.type())) + " " +
                        shape_string(seed.shape()) + " does not match the value's " +
                        std::string(dtype_name(v.type())) + " " + shape_string(v.shape()));
    grads.insert_or_assign(name, seed);
  }
  // Values that depend on a wrt value: only their producers need a backward rule.
  std::unordered_set<std::string> active;
  const std::unordered_set<std::string> targets(wrt.begin(), wrt.end());
  for (const auto& name : wrt) {
    known_value(values, name, "gradient target");
    active.insert(name);
  }
  for (const Node& n : g.nodes) {
    bool any = false;
    for (const auto& in : n.inputs) any = any || (!in.empty() && active.count(in));
    if (!any) continue;
    for (const auto& out : n.outputs)
      if (!out.empty() && is_float(values.at(out).type())) active.insert(out);
  }

  ThreadPool& pool = ThreadPool::global();
  ProgressTracker progress(control, g.nodes.size());
  std::vector<const Array*> args, grad_out;
  std::vector<Array> outs;
  for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it) {
    const Node& n = *it;
    progress.advance(0);
    bool flows = false;
    grad_out.assign(n.outputs.size(), nullptr);
    for (std::size_t k = 0; k < n.outputs.size(); ++k) {
      const auto gi = n.outputs[k].empty() ? grads.end() : grads.find(n.outputs[k]);
      if (gi != grads.end()) {
        grad_out[k] = &gi->second;
        flows = true;
      }
    }
    const std::size_t slots = input_slots(n);
    const auto wants = std::make_unique<bool[]>(slots);
    bool wanted = false;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      wants[i] = !n.inputs[i].empty() && active.count(n.inputs[i]) > 0;
      wanted = wanted || wants[i];
    }
    if (!flows || !wanted) {
      progress.advance(1);
      continue;
    }
    args.assign(slots, nullptr);
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (!n.inputs[i].empty()) args[i] = &values.at(n.inputs[i]);
    outs.clear();
    for (const auto& o : n.outputs) outs.push_back(o.empty() ? Array() : values.at(o));
    const NodeContext ctx(n, g.opset, pool);
    const BackwardArgs a{args, outs, grad_out, std::span<const bool>(wants.get(), slots)};
    const auto rule = [&]() -> Grads {
      if (!n.op->backward)
        ctx.unsupported("the gradient of " + n.op_type + " is not implemented");
      return n.op->backward(ctx, a);
    };
    Grads in_grads;
    try {
      std::optional<Grads> hooked;
      if (hook) hooked = hook(BackwardNode{node_info(n), args, outs, grad_out, a.wants, rule});
      in_grads = hooked ? std::move(*hooked) : rule();
    } catch (...) {
      rethrow_for_node(g, n);
    }
    for (std::size_t i = 0; i < n.inputs.size() && i < in_grads.size(); ++i) {
      if (!wants[i] || !in_grads[i]) continue;
      const Array& x = values.at(n.inputs[i]);
      if (in_grads[i]->shape() != x.shape() || in_grads[i]->type() != x.type())
        throw Error(Error::Kind::BadInput,
                    g.path.string() + ": node '" + n.name + "' (" + n.op_type + "): the gradient for input " +
                        in_quotes(n.inputs[i]) + " is " + std::string(dtype_name(in_grads[i]->type())) + " " +
                        shape_string(in_grads[i]->shape()) + ", the input " + std::string(dtype_name(x.type())) +
                        " " + shape_string(x.shape()));
      accumulate(grads, n.inputs[i], std::move(*in_grads[i]));
    }
    for (std::size_t k = 0; k < n.outputs.size(); ++k)  // every consumer of these has been visited
      if (grad_out[k] && !targets.count(n.outputs[k])) grads.erase(n.outputs[k]);
    progress.advance(1);
  }
  progress.finish();

  std::map<std::string, Array> result;
  for (const auto& name : wrt) {
    const auto gi = grads.find(name);
    if (gi != grads.end()) {
      result.insert_or_assign(name, gi->second);
    } else {
      const Array& v = values.at(name);
      result.insert_or_assign(name, Array(v.type(), v.shape()));
    }
  }
  return result;
}

}  // namespace paramscope::engine
