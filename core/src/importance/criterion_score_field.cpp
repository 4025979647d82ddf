// The element scores of a criterion over a checkpoint: weights read range by range, scored by the
// criterion's per-tensor scorer.
#include "paramscope/error.h"
#include "paramscope/importance.h"

namespace paramscope {
namespace {

class CriterionScoreField final : public ScoreField {
 public:
  CriterionScoreField(std::vector<ScoredTensor> tensors, std::vector<const Tensor*> weights,
                      std::vector<std::unique_ptr<TensorScorer>> scorers)
      : ScoreField(std::move(tensors)), weights_(std::move(weights)), scorers_(std::move(scorers)) {}

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
  std::vector<const Tensor*> weights_;
  std::vector<std::unique_ptr<TensorScorer>> scorers_;
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
