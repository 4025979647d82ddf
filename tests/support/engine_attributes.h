// Node attributes for engine tests that build nodes by hand.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/graph.h"

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

}  // namespace paramscope::test
