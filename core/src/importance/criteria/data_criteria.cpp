// Data-driven element-wise criteria: weights combined with statistics gathered on calibration
// data (activation norms, accumulated gradients and squared gradients).
#include <cmath>

#include "importance/criteria/builtin_criteria.h"
#include "importance/criteria/scorer_support.h"
#include "paramscope/error.h"

namespace paramscope::criteria {
namespace {

// Wanda: |W_ij| * ||X_j||_2, X_j the j-th input feature over all calibration tokens. For a conv
// weight [out, in, kh, kw] the input feature is the input channel, shared by its kernel taps.
// The norms broadcast against the weight's first two axes: [d1] (one per input column, the
// [out, in] layout), [d0, 1] (weights stored [in, out], as ONNX MatMul), or [d0, d1] (grouped
// convolutions, where each output channel reads its own group's channels).
class WandaScorer final : public TensorScorer {
 public:
  WandaScorer(std::vector<float> norms, std::int64_t rows_step, std::int64_t cols, std::int64_t col_step,
              std::int64_t inner)
      : norms_(std::move(norms)), rows_step_(rows_step), cols_(cols), col_step_(col_step), inner_(inner) {}
  void score(std::int64_t first, std::span<const float> w, std::span<float> out) const override {
    std::int64_t row = first / (inner_ * cols_), j = (first / inner_) % cols_, k = first % inner_;
    for (std::size_t i = 0; i < w.size(); ++i) {
      out[i] = std::fabs(w[i]) * norms_[static_cast<std::size_t>(row * rows_step_ + j * col_step_)];
      if (++k == inner_) {
        k = 0;
        if (++j == cols_) {
          j = 0;
          ++row;
        }
      }
    }
  }

 private:
  std::vector<float> norms_;
  std::int64_t rows_step_, cols_, col_step_;  // norm index = row * rows_step + column * col_step
  std::int64_t inner_;  // elements per input feature within a row (kh * kw; 1 for Linear)
};

enum class GradForm { Taylor, Fisher, Obd };

class GradScorer final : public TensorScorer {
 public:
  GradScorer(const Tensor& g, GradForm form, float scale) : g_(g), form_(form), scale_(scale) {}
  void score(std::int64_t first, std::span<const float> w, std::span<float> out) const override {
    auto g = scratch(0, w.size());
    read_aux(g_, first, g);
    switch (form_) {
      case GradForm::Taylor:
        for (std::size_t i = 0; i < w.size(); ++i) out[i] = std::fabs(w[i] * g[i]);
        break;
      case GradForm::Fisher:
        for (std::size_t i = 0; i < w.size(); ++i) out[i] = g[i] * scale_;
        break;
      case GradForm::Obd:
        for (std::size_t i = 0; i < w.size(); ++i) out[i] = 0.5f * w[i] * w[i] * g[i] * scale_;
        break;
    }
  }
  void release(std::int64_t first, std::int64_t count) const noexcept override { g_.release(first, count); }

 private:
  const Tensor& g_;
  GradForm form_;
  float scale_;
};

class Wanda final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i{"wanda",
                                 "|W_ij| * ||X_j||_2  (compare within each output row)",
                                 "Sun et al. 2024, A simple and effective pruning approach for large language models",
                                 true,
                                 false,
                                 {"act_l2"},
                                 {}};
    return i;
  }
  std::unique_ptr<TensorScorer> scorer(const Tensor& w, const CriterionInputs& in) const override {
    if (w.shape().size() < 2) throw usage_error("criterion wanda: '" + w.name() + "' has no input dimension");
    const std::int64_t d0 = w.shape()[0], d1 = w.shape()[1];
    const Tensor& a = stats_tensor(w, in.stats, "act_l2", {{d1}, {d0, 1}, {d0, d1}}, info().name);
    std::int64_t inner = 1;
    for (std::size_t d = 2; d < w.shape().size(); ++d) inner *= w.shape()[d];
    const bool per_row = a.shape().size() == 2, per_col = a.shape().back() == d1;
    return std::make_unique<WandaScorer>(a.to_f32(), per_row ? a.shape()[1] : 0, d1, per_col ? 1 : 0, inner);
  }
};

template <GradForm Form>
class GradCriterion final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i = [] {
      switch (Form) {
        case GradForm::Taylor:
          return CriterionInfo{"taylor",
                               "|w * g|  (g: accumulated gradient of the loss)",
                               "Molchanov et al. 2019, Importance estimation for neural network pruning; Lee et al. "
                               "2019, SNIP",
                               true,
                               false,
                               {"grad"},
                               {}};
        case GradForm::Fisher:
          return CriterionInfo{"fisher",
                               "E[g^2]  (diagonal empirical Fisher: grad_sq / samples)",
                               "Kirkpatrick et al. 2017, Overcoming catastrophic forgetting (EWC)",
                               true,
                               false,
                               {"grad_sq"},
                               {}};
        case GradForm::Obd:
          return CriterionInfo{"obd",
                               "1/2 * w^2 * F_ii  (F_ii = grad_sq / samples)",
                               "LeCun et al. 1990, Optimal brain damage",
                               true,
                               false,
                               {"grad_sq"},
                               {}};
      }
      return CriterionInfo{};
    }();
    return i;
  }
  std::unique_ptr<TensorScorer> scorer(const Tensor& w, const CriterionInputs& in) const override {
    const bool taylor = Form == GradForm::Taylor;
    const Tensor& g = stats_tensor(w, in.stats, taylor ? "grad" : "grad_sq", {w.shape()}, info().name);
    const float scale = taylor ? 1.0f : static_cast<float>(inverse_samples(*in.stats));
    return std::make_unique<GradScorer>(g, Form, scale);
  }
};

}  // namespace

void add_data_criteria(CriterionRegistry& r) {
  r.add(std::make_unique<Wanda>());
  r.add(std::make_unique<GradCriterion<GradForm::Taylor>>());
  r.add(std::make_unique<GradCriterion<GradForm::Fisher>>());
  r.add(std::make_unique<GradCriterion<GradForm::Obd>>());
}

}  // namespace paramscope::criteria
