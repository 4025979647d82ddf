// Reverse-mode differentiation of a graph over the values a forward run kept.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/graph.h"
#include "paramscope/engine.h"

namespace paramscope::engine {

/// dL/d(wrt) for L = sum <seed, value>, walking g's nodes backwards over `values` (every value of
/// a forward run). See Pass::backward for the contract; throws as it does.
std::map<std::string, Array> backward(const Graph& g, const ValueMap& values, const std::map<std::string, Array>& seeds,
                                      const std::vector<std::string>& wrt, const BackwardHook& hook,
                                      const JobControl& control);

}  // namespace paramscope::engine
