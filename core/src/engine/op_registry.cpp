#include "engine/op_registry.h"

#include <algorithm>

#include "paramscope/error.h"

namespace paramscope::engine {
namespace {

const char* kind_name(Attribute::Kind k) noexcept {
  switch (k) {
    case Attribute::Kind::Float:
      return "a float";
    case Attribute::Kind::Int:
      return "an int";
    case Attribute::Kind::String:
      return "a string";
    case Attribute::Kind::Tensor:
      return "a tensor";
    case Attribute::Kind::Floats:
      return "floats";
    case Attribute::Kind::Ints:
      return "ints";
    case Attribute::Kind::Strings:
      return "strings";
  }
  return "?";
}

}  // namespace

const Attribute* NodeContext::find(std::string_view name) const {
  const auto it = node_.attributes.find(std::string(name));
  return it == node_.attributes.end() ? nullptr : &it->second;
}

bool NodeContext::has(std::string_view name) const {
  return find(name) != nullptr;
}

#define PARAMSCOPE_ATTR_GET(kind_enum, member)                                              \
  const Attribute* a = find(name);                                                          \
  if (!a) return fallback;                                                                  \
  if (a->kind != Attribute::Kind::kind_enum)                                                \
    fail("attribute '" + std::string(name) + "' is " + kind_name(a->kind) + ", expected " + \
         kind_name(Attribute::Kind::kind_enum));                                            \
  return a->member

std::int64_t NodeContext::attr_int(std::string_view name, std::int64_t fallback) const {
  PARAMSCOPE_ATTR_GET(Int, i);
}
float NodeContext::attr_float(std::string_view name, float fallback) const {
  PARAMSCOPE_ATTR_GET(Float, f);
}
std::string NodeContext::attr_string(std::string_view name, std::string_view fallback) const {
  const Attribute* a = find(name);
  if (!a) return std::string(fallback);
  if (a->kind != Attribute::Kind::String)
    fail("attribute '" + std::string(name) + "' is " + kind_name(a->kind) + ", expected a string");
  return a->s;
}
std::vector<std::int64_t> NodeContext::attr_ints(std::string_view name, std::vector<std::int64_t> fallback) const {
  PARAMSCOPE_ATTR_GET(Ints, ints);
}
std::vector<float> NodeContext::attr_floats(std::string_view name, std::vector<float> fallback) const {
  PARAMSCOPE_ATTR_GET(Floats, floats);
}
#undef PARAMSCOPE_ATTR_GET

const Array* NodeContext::attr_tensor(std::string_view name) const {
  const Attribute* a = find(name);
  if (!a) return nullptr;
  if (a->kind != Attribute::Kind::Tensor)
    fail("attribute '" + std::string(name) + "' is " + kind_name(a->kind) + ", expected a tensor");
  return &a->t;
}

void NodeContext::fail(const std::string& what) const {
  throw Error(Error::Kind::BadInput, "node '" + node_.name + "' (" + node_.op_type + "): " + what);
}

void NodeContext::unsupported(const std::string& what) const {
  throw Error(Error::Kind::Unsupported, "node '" + node_.name + "' (" + node_.op_type + "): " + what);
}

void OpRegistry::add(const OpDef& op) {
  if (find(op.op_type)) throw usage_error("operator " + std::string(op.op_type) + " registered twice");
  ops_.push_back(op);
}

const OpDef* OpRegistry::find(std::string_view op_type) const noexcept {
  const auto it = std::find_if(ops_.begin(), ops_.end(), [&](const OpDef& d) { return d.op_type == op_type; });
  return it == ops_.end() ? nullptr : &*it;
}

std::vector<std::string_view> OpRegistry::names() const {
  std::vector<std::string_view> out;
  for (const auto& d : ops_) out.push_back(d.op_type);
  std::sort(out.begin(), out.end());
  return out;
}

const OpRegistry& OpRegistry::builtin() {
  static const OpRegistry r = [] {
    OpRegistry reg;
    add_elementwise_ops(reg);
    add_shape_ops(reg);
    add_linear_ops(reg);
    add_conv_ops(reg);
    add_pool_ops(reg);
    add_norm_ops(reg);
    add_trilu_ops(reg);
    return reg;
  }();
  return r;
}

}  // namespace paramscope::engine
