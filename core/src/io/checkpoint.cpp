#include "paramscope/checkpoint.h"

#include <algorithm>

#include "io/checkpoint_builder.h"
#include "paramscope/error.h"

namespace paramscope {

const Tensor* Checkpoint::find(std::string_view name) const noexcept {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [](const auto& e, std::string_view n) { return e.first < n; });
  if (it == by_name_.end() || it->first != name) return nullptr;
  return &tensors_[it->second];
}

const Tensor& Checkpoint::at(std::string_view name) const {
  if (const Tensor* t = find(name)) return *t;
  throw usage_error(path_.string() + ": no tensor named '" + std::string(name) + "'");
}

std::uint64_t Checkpoint::parameter_count() const noexcept {
  std::uint64_t n = 0;
  for (const auto& t : tensors_) n += static_cast<std::uint64_t>(t.numel());
  return n;
}

std::uint64_t Checkpoint::byte_count() const noexcept {
  std::uint64_t n = 0;
  for (const auto& t : tensors_) n += t.nbytes();
  return n;
}

CheckpointBuilder::CheckpointBuilder(std::filesystem::path path, std::string format) {
  c_.path_ = std::move(path);
  c_.format_ = std::move(format);
}

void CheckpointBuilder::add_file(const std::filesystem::path& file) {
  if (std::find(c_.files_.begin(), c_.files_.end(), file) == c_.files_.end()) c_.files_.push_back(file);
}
void CheckpointBuilder::add_tensor(Tensor tensor) { c_.tensors_.push_back(std::move(tensor)); }
void CheckpointBuilder::add_optimizer_tensor(Tensor tensor) {
  c_.optimizer_.push_back(std::move(tensor).with_role(TensorRole::Optimizer));
}
void CheckpointBuilder::add_metadata(std::string key, std::string value) {
  c_.metadata_.emplace_back(std::move(key), std::move(value));
}
void CheckpointBuilder::set_config_json(std::string text) { c_.config_json_ = std::move(text); }

Checkpoint CheckpointBuilder::build() && {
  auto& idx = c_.by_name_;
  idx.clear();
  idx.reserve(c_.tensors_.size());
  for (std::size_t i = 0; i < c_.tensors_.size(); ++i) idx.emplace_back(c_.tensors_[i].name(), i);
  std::sort(idx.begin(), idx.end());
  for (std::size_t i = 1; i < idx.size(); ++i)
    if (idx[i].first == idx[i - 1].first)
      throw bad_input(c_.path_, "tensor name '" + std::string(idx[i].first) + "' appears twice");
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  names.reserve(c_.tensors_.size());
  shapes.reserve(c_.tensors_.size());
  for (const auto& t : c_.tensors_) {
    names.push_back(t.name());
    shapes.push_back(t.shape());
  }
  c_.hierarchy_ = Hierarchy(names, shapes);
  return std::move(c_);
}

}  // namespace paramscope
