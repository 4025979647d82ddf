#include "paramscope/engine.h"

#include "engine/executor.h"
#include "engine/graph.h"
#include "engine/op_registry.h"

namespace paramscope::engine {

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

std::vector<Array> Model::run(const std::map<std::string, Array>& feeds, const JobControl& control) const {
  check_feeds(*graph_, feeds);
  return execute(*graph_, feeds, control);
}

}  // namespace paramscope::engine
