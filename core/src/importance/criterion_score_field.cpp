// The element scores of a criterion over a checkpoint: weights read range by range, scored by the
// criterion's per-tensor scorer.
#include <cstdint>
#include <cstring>

#include "paramscope/error.h"
#include "tensor/convert.h"
#include "paramscope/importance.h"

namespace paramscope {
namespace {

class CriterionScoreField final : public ScoreField {
 public:
  CriterionScoreField(std::vector<ScoredTensor> tensors, std::vector<const Tensor*> weights,
                      std::vector<std::unique_ptr<TensorScorer>> scorers)
      : ScoreField(std::move(tensors)), weights_(std::move(weights)), scorers_(std::move(scorers)) {
    code_table_.assign(weights_.size(), nullptr);
    for (std::size_t i = 0; i < weights_.size(); ++i) code_table_[i] = table_for(i);
  }

  std::optional<Coded> coded(std::size_t i) const override {
    if (!code_table_[i]) return std::nullopt;
    const auto raw = weights_[i]->raw_bytes();
    return Coded{{reinterpret_cast<const std::uint16_t*>(raw.data()), raw.size() / 2}, code_table_[i]};
  }

  void scores(std::size_t i, std::int64_t first, std::span<float> out) const override {
    thread_local std::vector<float> w;
    if (w.size() < out.size()) w.resize(out.size());
    const std::span<float> wv(w.data(), out.size());
    weights_[i]->read_f32(first, wv);
    scorers_[i]->score(first, wv, out);
  }
  void release(std::size_t i, std::int64_t first, std::int64_t count) const noexcept override {
    weights_[i]->release(first, count);
    scorers_[i]->release(first, count);
  }

 private:
  // The scores of all 65536 stored values of a 16-bit float tensor whose scorer looks at values
  // only and whose bytes are mapped as they are (little-endian, aligned); shared between
  // tensors with equal tables. Null otherwise.
  const std::vector<float>* table_for(std::size_t i) {
    const Tensor& w = *weights_[i];
    if ((w.dtype() != DType::BF16 && w.dtype() != DType::F16) || !scorers_[i]->value_only()) return nullptr;
    const auto raw = w.raw_bytes();
    if (raw.size() != static_cast<std::size_t>(w.numel()) * 2 || reinterpret_cast<std::uintptr_t>(raw.data()) % 2)
      return nullptr;
    std::vector<std::uint16_t> codes(65536);
    for (std::size_t c = 0; c < codes.size(); ++c) codes[c] = static_cast<std::uint16_t>(c);
    std::vector<float> values(65536), table(65536);
    convert_to_f32(w.dtype(), reinterpret_cast<const std::byte*>(codes.data()), codes.size(), values.data());
    scorers_[i]->score(0, values, table);
    for (const auto& t : tables_)
      if (std::memcmp(t->data(), table.data(), table.size() * sizeof(float)) == 0) return t.get();
    tables_.push_back(std::make_unique<std::vector<float>>(std::move(table)));
    return tables_.back().get();
  }

  std::vector<const Tensor*> weights_;
  std::vector<std::unique_ptr<TensorScorer>> scorers_;
  std::vector<std::unique_ptr<std::vector<float>>> tables_;
  std::vector<const std::vector<float>*> code_table_;
};

}  // namespace

std::vector<std::size_t> block_ranks(const Checkpoint& c) {
  std::vector<std::size_t> rank(c.tensors().size());
  const auto& blocks = c.hierarchy().blocks();
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (std::size_t t : blocks[b].tensors) rank[t] = b;
  return rank;
}

std::shared_ptr<const ScoreField> make_score_field(const Checkpoint& c, const std::vector<std::size_t>& indices,
                                                   const Criterion& criterion, const CriterionInputs& inputs) {
  if (!criterion.info().elementwise)
    throw usage_error("criterion " + criterion.info().name +
                      " gives one value per matrix, not per weight: use --granularity tensor or block");
  std::vector<ScoredTensor> tensors;
  std::vector<const Tensor*> weights;
  std::vector<std::unique_ptr<TensorScorer>> scorers;
  const auto ranks = block_ranks(c);
  for (std::size_t i : indices) {
    const Tensor& t = c.tensors().at(i);
    tensors.push_back({t.name(), t.shape(), t.numel(), c.hierarchy().place(i), ranks.at(i)});
    weights.push_back(&t);
    scorers.push_back(criterion.scorer(t, inputs));
  }
  return std::make_shared<CriterionScoreField>(std::move(tensors), std::move(weights), std::move(scorers));
}

}  // namespace paramscope
