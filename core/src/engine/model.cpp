#include "paramscope/engine.h"

#include "engine/autodiff.h"
#include "engine/executor.h"
#include "engine/graph.h"
#include "engine/op_registry.h"
#include "paramscope/error.h"
#include "util/printable.h"

namespace paramscope::engine {

struct Pass::State {
  const Graph* graph = nullptr;
  ValueMap values;
  std::vector<Array> outputs;
};

Pass::Pass(std::unique_ptr<State> s) : state_(std::move(s)) {}
Pass::Pass(Pass&&) noexcept = default;
Pass& Pass::operator=(Pass&&) noexcept = default;
Pass::~Pass() = default;

const std::vector<Array>& Pass::outputs() const noexcept {
  return state_->outputs;
}

const Array& Pass::value(const std::string& name) const {
  const auto it = state_->values.find(name);
  if (it == state_->values.end()) throw usage_error("the model has no value " + in_quotes(name));
  return it->second;
}

std::map<std::string, Array> Pass::backward(const std::map<std::string, Array>& seeds,
                                            const std::vector<std::string>& wrt, const BackwardHook& hook,
                                            const JobControl& control) const {
  return engine::backward(*state_->graph, state_->values, seeds, wrt, hook, control);
}

const Graph& graph_of(const Model& model) noexcept {
  return *model.graph_;
}

Model Model::load(const std::filesystem::path& path) {
  return Model(std::make_unique<Graph>(load_onnx_graph(path, OpRegistry::builtin())));
}

Model::Model(std::unique_ptr<Graph> g) : graph_(std::move(g)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const std::filesystem::path& Model::path() const noexcept {
  return graph_->path;
}
int Model::opset() const noexcept {
  return graph_->opset;
}
const std::vector<ValueInfo>& Model::inputs() const noexcept {
  return graph_->inputs;
}
const std::vector<ValueInfo>& Model::outputs() const noexcept {
  return graph_->outputs;
}
const std::map<std::string, Array>& Model::weights() const noexcept {
  return graph_->initializers;
}

std::vector<NodeInfo> Model::nodes() const {
  std::vector<NodeInfo> out;
  out.reserve(graph_->nodes.size());
  for (const auto& n : graph_->nodes) out.push_back(node_info(n));
  return out;
}

std::vector<Array> Model::run(const std::map<std::string, Array>& feeds, const JobControl& control) const {
  check_feeds(*graph_, feeds);
  return execute(*graph_, feeds, control);
}

std::vector<Array> Model::run(const std::map<std::string, Array>& feeds, const ForwardObserver& observe,
                              const JobControl& control) const {
  check_feeds(*graph_, feeds);
  return execute(*graph_, feeds, control, nullptr, observe ? &observe : nullptr);
}

Pass Model::forward(const std::map<std::string, Array>& feeds, const JobControl& control) const {
  check_feeds(*graph_, feeds);
  auto s = std::make_unique<Pass::State>();
  s->graph = graph_.get();
  s->outputs = execute(*graph_, feeds, control, &s->values);
  return Pass(std::move(s));
}

}  // namespace paramscope::engine
