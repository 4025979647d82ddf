#include "xai/target_score.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/classifier_run.h"
#include "paramscope/error.h"

namespace paramscope::xai {

ResolvedTarget resolve_target(const engine::Model& model, const Target& target) {
  engine::ClassifierOptions o;
  o.input = target.input;
  o.output = target.output;
  const engine::ClassifierPorts p = engine::resolve_ports(model, o);
  ResolvedTarget t;
  t.input = p.input;
  t.output = p.output;
  t.output_name = model.outputs()[p.output].name;
  t.softmax = target.softmax;
  t.fixed = target.classes;
  for (const auto& in : model.inputs())
    if (in.name == t.input && in.type != DType::F32)
      throw usage_error(model.path().string() + ": input '" + t.input + "' is " + std::string(dtype_name(in.type)) +
                        "; attributions need a float (F32) input");
  return t;
}

std::int64_t classes_of(const Array& out, std::int64_t batch, const ResolvedTarget& t) {
  if (out.type() != DType::F32 || out.rank() < 1 || out.dim(0) != batch || batch < 1 || out.size() % batch != 0 ||
      out.size() / batch < 1)
    throw usage_error("output '" + t.output_name + "' is " + std::string(dtype_name(out.type())) + " " +
                      shape_string(out.shape()) + "; attributions need F32 class scores [" + std::to_string(batch) +
                      ", classes]");
  return out.size() / batch;
}

std::vector<std::int64_t> choose_classes(const Array& out, std::int64_t batch, const ResolvedTarget& t) {
  const std::int64_t k = classes_of(out, batch, t);
  std::vector<std::int64_t> c(static_cast<std::size_t>(batch));
  if (!t.fixed.empty() && t.fixed.size() != 1 && static_cast<std::int64_t>(t.fixed.size()) != batch)
    throw usage_error(std::to_string(t.fixed.size()) + " target classes for a batch of " + std::to_string(batch) +
                      " (give one, or one per sample)");
  const float* s = out.data<float>();
  for (std::int64_t b = 0; b < batch; ++b) {
    std::int64_t y;
    if (!t.fixed.empty()) {
      y = t.fixed.size() == 1 ? t.fixed[0] : t.fixed[static_cast<std::size_t>(b)];
      if (y < 0 || y >= k)
        throw usage_error("target class " + std::to_string(y) + " is not a class of output '" + t.output_name + "' (" +
                          std::to_string(k) + " classes)");
    } else {
      const float* row = s + b * k;
      y = 0;
      for (std::int64_t j = 1; j < k; ++j)
        if (row[j] > row[y] || (std::isnan(row[y]) && !std::isnan(row[j]))) y = j;
    }
    c[static_cast<std::size_t>(b)] = y;
  }
  return c;
}

namespace {
// max and sum of exp(row - max), for a stable softmax
std::pair<double, double> softmax_terms(const float* row, std::int64_t k) {
  double m = -std::numeric_limits<double>::infinity(), sum = 0;
  for (std::int64_t j = 0; j < k; ++j) m = std::max(m, static_cast<double>(row[j]));
  for (std::int64_t j = 0; j < k; ++j) sum += std::exp(row[j] - m);
  return {m, sum};
}
}  // namespace

double row_score(const float* row, std::int64_t k, std::int64_t c, bool softmax) {
  if (!softmax) return row[c];
  const auto [m, sum] = softmax_terms(row, k);
  return std::exp(row[c] - m) / sum;
}

std::vector<double> scores(const Array& out, const std::vector<std::int64_t>& classes, const ResolvedTarget& t) {
  const std::int64_t rows = out.rank() ? out.dim(0) : 0;
  const std::int64_t k = classes_of(out, rows, t);
  std::vector<double> s(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r)
    s[static_cast<std::size_t>(r)] =
        row_score(out.data<float>() + r * k, k, classes[static_cast<std::size_t>(r) % classes.size()], t.softmax);
  return s;
}

Array score_seed(const Array& out, const std::vector<std::int64_t>& classes, const ResolvedTarget& t) {
  const std::int64_t rows = out.dim(0);
  const std::int64_t k = classes_of(out, rows, t);
  Array g(DType::F32, out.shape());
  float* gp = g.data<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t c = classes[static_cast<std::size_t>(r) % classes.size()];
    float* gr = gp + r * k;
    if (!t.softmax) {
      gr[c] = 1.0f;
      continue;
    }
    // d p_c / d z_j = p_c (delta_cj - p_j)
    const float* row = out.data<float>() + r * k;
    const auto [m, sum] = softmax_terms(row, k);
    const double pc = std::exp(row[c] - m) / sum;
    for (std::int64_t j = 0; j < k; ++j)
      gr[j] = static_cast<float>(pc * ((j == c ? 1.0 : 0.0) - std::exp(row[j] - m) / sum));
  }
  return g;
}

Array run_scores(const engine::Model& model, const ResolvedTarget& t, const Array& x, const JobControl& control) {
  std::vector<Array> outs = model.run({{t.input, x}}, control);
  return std::move(outs[t.output]);
}

Array input_gradient(const engine::Model& model, const ResolvedTarget& t, const Array& x,
                     const std::vector<std::int64_t>& classes, std::vector<double>* row_scores,
                     const JobControl& control) {
  const engine::Pass pass = model.forward({{t.input, x}}, control);
  const Array& out = pass.outputs()[t.output];
  classes_of(out, x.dim(0), t);
  if (row_scores) *row_scores = scores(out, classes, t);
  auto grads = pass.backward({{t.output_name, score_seed(out, classes, t)}}, {t.input}, {}, control);
  return std::move(grads.at(t.input));
}

Array repeat_rows(const Array& x, std::int64_t row, std::int64_t copies) {
  if (x.rank() == 0 || row < 0 || row >= x.dim(0) || copies < 0)
    throw usage_error("row " + std::to_string(row) + " of a batch of shape " + shape_string(x.shape()));
  std::vector<std::int64_t> shape = x.shape();
  shape[0] = copies;
  Array out(x.type(), shape);
  const std::size_t bytes = x.dim(0) == 0 ? 0 : x.byte_size() / static_cast<std::size_t>(x.dim(0));
  for (std::int64_t i = 0; i < copies; ++i)
    std::memcpy(out.bytes() + static_cast<std::size_t>(i) * bytes, x.bytes() + static_cast<std::size_t>(row) * bytes,
                bytes);
  return out;
}

}  // namespace paramscope::xai
