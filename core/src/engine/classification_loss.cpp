#include "engine/classification_loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "paramscope/error.h"

namespace paramscope::engine {

LossTerms cross_entropy(const Array& scores, OutputKind kind, const std::optional<Array>& labels,
                        std::int64_t first_sample, bool with_seed) {
  if (scores.type() != DType::F32 || scores.rank() < 2)
    throw usage_error("the class scores must be F32 [batch, ..., classes], not " +
                      std::string(dtype_name(scores.type())) + " " + shape_string(scores.shape()));
  const std::int64_t classes = scores.shape().back();
  const std::int64_t rows = classes == 0 ? 0 : scores.size() / classes;
  const std::int64_t per_sample = rows / scores.dim(0);
  if (labels) {
    const std::vector<std::int64_t> want(scores.shape().begin(), scores.shape().end() - 1);
    if (labels->shape() != want)
      throw usage_error("labels of shape " + shape_string(labels->shape()) + " do not fit class scores " +
                        shape_string(scores.shape()) + " (expected " + shape_string(want) + ")");
  }
  LossTerms t;
  t.classes = classes;
  t.predicted.resize(static_cast<std::size_t>(rows));
  t.labels.resize(static_cast<std::size_t>(rows));
  // The seed is d(mean loss)/d(score): count the labelled positions first.
  std::int64_t labelled = rows;
  if (labels)
    labelled = std::count_if(labels->values<std::int64_t>().begin(), labels->values<std::int64_t>().end(),
                             [](std::int64_t y) { return y >= 0; });
  const double inv = labelled > 0 ? 1.0 / static_cast<double>(labelled) : 0.0;
  if (with_seed) t.seed = Array(DType::F32, scores.shape());
  const float* s = scores.data<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = s + r * classes;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best] || (std::isnan(row[best]) && !std::isnan(row[c]))) best = c;
    t.predicted[static_cast<std::size_t>(r)] = best;
    const std::int64_t y = labels ? labels->data<std::int64_t>()[r] : best;
    t.labels[static_cast<std::size_t>(r)] = y < 0 ? -1 : y;
    if (y < 0) continue;  // ignored: no loss, no gradient
    if (y >= classes)
      throw usage_error("sample " + std::to_string(first_sample + r / per_sample) + ": label " + std::to_string(y) +
                        " is not a class of the model's " + std::to_string(classes));
    ++t.positions;
    t.correct += best == y;
    std::int64_t above = 0;
    for (std::int64_t c = 0; c < classes; ++c) above += row[c] > row[y];
    t.top5 += above < 5;
    const double v = row[y];
    float* gr = with_seed ? t.seed->data<float>() + r * classes : nullptr;
    if (kind == OutputKind::Logits) {
      double m = -std::numeric_limits<double>::infinity(), sum = 0;
      for (std::int64_t c = 0; c < classes; ++c) m = std::max(m, static_cast<double>(row[c]));
      for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(row[c] - m);
      const double lse = m + std::log(sum);
      t.loss_sum -= v - lse;
      if (gr)
        for (std::int64_t c = 0; c < classes; ++c)
          gr[c] = static_cast<float>((std::exp(row[c] - lse) - (c == y ? 1.0 : 0.0)) * inv);
    } else if (kind == OutputKind::Probabilities) {
      t.loss_sum -= std::log(std::max(v, 1e-30));
      if (gr) gr[y] = static_cast<float>(-inv / std::max(v, 1e-30));
    } else {
      t.loss_sum -= v;
      if (gr) gr[y] = static_cast<float>(-inv);
    }
  }
  return t;
}

}  // namespace paramscope::engine
