#include <algorithm>

#include "paramscope/error.h"
#include "paramscope/score_field.h"

namespace paramscope {

std::uint64_t ScoreField::elements() const noexcept {
  std::uint64_t n = 0;
  for (const auto& t : tensors_) n += static_cast<std::uint64_t>(t.numel);
  return n;
}

namespace {

class MemoryScoreField final : public ScoreField {
 public:
  MemoryScoreField(std::vector<ScoredTensor> tensors, std::vector<std::vector<float>> values)
      : ScoreField(std::move(tensors)), values_(std::move(values)) {}
  void scores(std::size_t i, std::int64_t first, std::span<float> out) const override {
    std::copy_n(values_[i].begin() + first, out.size(), out.begin());
  }

 private:
  std::vector<std::vector<float>> values_;
};

}  // namespace

std::shared_ptr<const ScoreField> make_memory_score_field(std::vector<std::string> names, std::vector<Shape> shapes,
                                                          std::vector<std::vector<float>> values) {
  if (names.size() != shapes.size() || names.size() != values.size())
    throw usage_error("score field: names, shapes and values differ in count");
  std::vector<ScoredTensor> tensors;
  const Hierarchy h(names, shapes);
  std::vector<std::size_t> rank(names.size());
  for (std::size_t b = 0; b < h.blocks().size(); ++b)
    for (std::size_t t : h.blocks()[b].tensors) rank[t] = b;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto n = checked_numel(shapes[i]);
    if (!n || static_cast<std::uint64_t>(*n) != values[i].size())
      throw usage_error("score field: '" + names[i] + "' has " + std::to_string(values[i].size()) +
                        " values for shape " + shape_string(shapes[i]));
    tensors.push_back({names[i], shapes[i], *n, h.place(i), rank[i]});
  }
  return std::make_shared<MemoryScoreField>(std::move(tensors), std::move(values));
}

}  // namespace paramscope
