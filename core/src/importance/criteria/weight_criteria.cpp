// Data-free element-wise criteria: what the weights (and a base model) say on their own.
#include <cmath>

#include "importance/criteria/builtin_criteria.h"
#include "importance/criteria/scorer_support.h"

namespace paramscope::criteria {
namespace {

class MagnitudeScorer final : public TensorScorer {
 public:
  explicit MagnitudeScorer(bool squared) : squared_(squared) {}
  void score(std::int64_t, std::span<const float> w, std::span<float> out) const override {
    if (squared_)
      for (std::size_t i = 0; i < w.size(); ++i) out[i] = w[i] * w[i];
    else
      for (std::size_t i = 0; i < w.size(); ++i) out[i] = std::fabs(w[i]);
  }
  bool value_only() const noexcept override { return true; }

 private:
  bool squared_;
};

class DeltaScorer final : public TensorScorer {
 public:
  explicit DeltaScorer(const Tensor& base) : base_(base) {}
  void score(std::int64_t first, std::span<const float> w, std::span<float> out) const override {
    auto b = scratch(0, w.size());
    read_aux(base_, first, b);
    for (std::size_t i = 0; i < w.size(); ++i) out[i] = std::fabs(w[i] - b[i]);
  }
  void release(std::int64_t first, std::int64_t count) const noexcept override { base_.release(first, count); }

 private:
  const Tensor& base_;
};

class Magnitude final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i{"magnitude",
                                 "|w|",
                                 "Han et al. 2015, Learning both weights and connections (magnitude pruning); "
                                 "Zhu & Gupta 2017 (gradual magnitude pruning)",
                                 true,
                                 false,
                                 {},
                                 {}};
    return i;
  }
  std::unique_ptr<TensorScorer> scorer(const Tensor&, const CriterionInputs&) const override {
    return std::make_unique<MagnitudeScorer>(false);
  }
};

class MagnitudeSquared final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i{
        "magnitude-sq", "w^2", "squared magnitude (the L2 form of magnitude pruning)", true, false, {}, {}};
    return i;
  }
  std::unique_ptr<TensorScorer> scorer(const Tensor&, const CriterionInputs&) const override {
    return std::make_unique<MagnitudeScorer>(true);
  }
};

class Delta final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i{"delta",
                                 "|w_ft - w_base|",
                                 "task vectors (Ilharco et al. 2023, Editing models with task arithmetic); delta-"
                                 "parameter pruning (Yu et al. 2024, DARE)",
                                 true,
                                 true,
                                 {},
                                 {}};
    return i;
  }
  std::unique_ptr<TensorScorer> scorer(const Tensor& w, const CriterionInputs& in) const override {
    return std::make_unique<DeltaScorer>(base_tensor(w, in, info().name));
  }
};

}  // namespace

void add_weight_criteria(CriterionRegistry& r) {
  r.add(std::make_unique<Magnitude>());
  r.add(std::make_unique<MagnitudeSquared>());
  r.add(std::make_unique<Delta>());
}

}  // namespace paramscope::criteria
