// Engine tests that build single nodes by hand: attributes, and running a node as the executor
// would after the loader checked it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/executor.h"
#include "engine/graph.h"
#include "engine/op_registry.h"
#include "paramscope/error.h"
#include "paramscope/jobs.h"

namespace paramscope::test {

inline engine::Attribute attr_i(std::int64_t v) {
  engine::Attribute a;
  a.kind = engine::Attribute::Kind::Int;
  a.i = v;
  return a;
}
inline engine::Attribute attr_f(float v) {
  engine::Attribute a;
  a.kind = engine::Attribute::Kind::Float;
  a.f = v;
  return a;
}
inline engine::Attribute attr_ints(std::vector<std::int64_t> v) {
  engine::Attribute a;
  a.kind = engine::Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}
inline engine::Attribute attr_s(std::string v) {
  engine::Attribute a;
  a.kind = engine::Attribute::Kind::String;
  a.s = std::move(v);
  return a;
}
inline engine::Attribute attr_t(Array v) {
  engine::Attribute a;
  a.kind = engine::Attribute::Kind::Tensor;
  a.t = std::move(v);
  return a;
}

/// Checks a node of operator `op` as the loader does (OpDef::check), then runs it with `outputs`
/// outputs listed. Absent inputs (nullopt) are omitted optional ones.
inline std::vector<Array> run_node(const std::string& op, const std::vector<std::optional<Array>>& in,
                                   const std::map<std::string, engine::Attribute>& attrs, int opset,
                                   std::size_t outputs) {
  engine::Node n;
  n.name = "t";
  n.op_type = op;
  for (std::size_t i = 0; i < in.size(); ++i) n.inputs.push_back(in[i] ? "i" + std::to_string(i) : "");
  for (std::size_t i = 0; i < outputs; ++i) n.outputs.push_back("o" + std::to_string(i));
  n.attributes = attrs;
  n.op = engine::OpRegistry::builtin().find(op);
  if (!n.op) throw usage_error("no operator " + op);
  const engine::NodeContext ctx(n, opset, ThreadPool::global());
  if (n.op->check) n.op->check(ctx);
  std::vector<const Array*> args(engine::input_slots(n), nullptr);
  for (std::size_t i = 0; i < in.size(); ++i) args[i] = in[i] ? &*in[i] : nullptr;
  return n.op->forward(ctx, args);
}

}  // namespace paramscope::test
