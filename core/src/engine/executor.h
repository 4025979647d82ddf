// Runs a loaded Graph: feeds checked against the declared inputs, nodes executed in order, each
// value freed after its last use unless the caller asks to keep them all (for gradients).
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/graph.h"
#include "paramscope/array.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {

/// How many inputs node n's kernel sees: the node's, then nullptr up to the operator's
/// max_inputs for fixed-arity operators (variadic ones, max_inputs > 16, get the node's only).
std::size_t input_slots(const Node& n);

/// throws Error(Usage) naming the input for a missing or unknown feed, a type other than the
/// declared one, or a size that differs on a fixed dimension (or a rank that differs).
void check_feeds(const Graph& g, const std::map<std::string, Array>& feeds);

/// Every value a run computed, by name (inputs, weights and intermediate values included).
using ValueMap = std::unordered_map<std::string, Array>;

/// Executes the graph on checked feeds and returns the graph outputs in order. keep: when not
/// null, receives every value instead of freeing them after their last use.
/// throws Error(BadInput) or Error(Unsupported) "path: node 'n' (Op): what" when a node fails,
/// Error(Cancelled) when control's token is cancelled (checked between nodes).
std::vector<Array> execute(const Graph& g, const std::map<std::string, Array>& feeds, const JobControl& control,
                           ValueMap* keep = nullptr, const ForwardObserver* observe = nullptr);

/// The public view of a node.
NodeInfo node_info(const Node& n) noexcept;

/// Rethrows an Error (or bad_alloc) thrown by node n's kernel as one that names the file and the
/// node; Cancelled and Io errors pass unchanged. Call from a catch block.
[[noreturn]] void rethrow_for_node(const Graph& g, const Node& n);

}  // namespace paramscope::engine
