// DeepLIFT (Shrikumar, Greenside, Kundaje 2017) and DeepLIFT-SHAP: a forward pass on x and one
// on the baseline, then one backward pass on x whose nonlinear nodes use DeepLIFT's multipliers
// (xai/deeplift_rules.h) instead of gradients.
#include <algorithm>
#include <cstring>
#include <string>

#include "paramscope/attribution.h"
#include "paramscope/error.h"
#include "xai/deeplift_rules.h"
#include "xai/padded_runs.h"
#include "xai/target_score.h"

namespace paramscope::xai {
namespace {

// The sum of each of `rows` equal chunks of a (row-major, batch first).
std::vector<double> row_sums(const Array& a, std::int64_t rows) {
  std::vector<double> s(static_cast<std::size_t>(rows));
  const std::int64_t per = rows > 0 ? a.size() / rows : 0;
  const float* p = a.data<float>();
  for (std::int64_t i = 0; i < per * rows; ++i) s[static_cast<std::size_t>(i / per)] += p[i];
  return s;
}

// DeepLIFT of rows x[i] against base[i] (same shape), explaining classes[i % size] (empty: each
// row's top class, then stored back into classes).
Attribution deeplift_rows(const engine::Model& model, const ResolvedTarget& t, const Array& x, const Array& base,
                          std::vector<std::int64_t> classes, const DeepLiftOptions& options,
                          const JobControl& control) {
  const engine::Pass px = model.forward({{t.input, x}}, control);
  const engine::Pass pb = model.forward({{t.input, base}}, control);
  const Array& out = px.outputs()[t.output];
  const Array& out0 = pb.outputs()[t.output];
  const std::int64_t batch = x.dim(0);
  const std::int64_t k = classes_of(out, batch, t);
  classes_of(out0, batch, t);
  if (classes.empty()) classes = choose_classes(out, batch, t);

  const std::string& where = options.layer.empty() ? t.input : options.layer;
  const Array& a = px.value(where);  // throws Error(Usage) naming an unknown layer
  if (a.type() != DType::F32)
    throw usage_error("layer '" + where + "' is " + std::string(dtype_name(a.type())) +
                      "; DeepLIFT attributes to float (F32) activations");
  if (a.rank() == 0 || a.size() % batch != 0)
    throw usage_error("layer '" + where + "' has shape " + shape_string(a.shape()) + ", not a batch of " +
                      std::to_string(batch) + " samples");

  const Array seed =
      t.softmax ? softmax_score_seed(out.reshaped({batch, k}), out0.reshaped({batch, k}), classes).reshaped(out.shape())
                : score_seed(out, classes, t);
  std::vector<std::string> wrt{t.input};
  if (where != t.input) wrt.push_back(where);
  DeepLiftRules rules(model, px, pb, options.rule);
  const auto grads = px.backward({{t.output_name, seed}}, wrt, rules.hook(), control);

  const Array& m = grads.at(where);
  const Array& a0 = pb.value(where);
  Array map(DType::F32, a.shape());
  for (std::int64_t i = 0; i < map.size(); ++i)
    map.data<float>()[i] = m.data<float>()[i] * (a.data<float>()[i] - a0.data<float>()[i]);

  Attribution r;
  r.score = scores(out, classes, t);
  r.baseline_score = scores(out0, classes, t);
  const auto sums = row_sums(map, batch);
  for (std::size_t i = 0; i < sums.size(); ++i) r.delta.push_back(sums[i] - (r.score[i] - r.baseline_score[i]));
  r.classes.resize(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < r.classes.size(); ++i) r.classes[i] = classes[i % classes.size()];
  r.map = std::move(map);
  return r;
}

// deeplift_rows for models whose input fixes the batch size (often 1): the rows go in chunks of
// exactly that many, the last padded with zero rows whose results are dropped.
Attribution deeplift_any_batch(const engine::Model& model, const ResolvedTarget& t, const Array& x, const Array& base,
                               const std::vector<std::int64_t>& classes, const DeepLiftOptions& options,
                               const JobControl& control) {
  const std::int64_t fixed = declared_batch(model, t), rows = x.dim(0);
  if (fixed <= 0 || fixed == rows) return deeplift_rows(model, t, x, base, classes, options, control);
  Attribution all;
  std::vector<Array> maps;
  for (std::int64_t first = 0; first < rows; first += fixed) {
    const std::int64_t n = std::min(fixed, rows - first);
    std::vector<std::int64_t> cls;
    if (!classes.empty())
      for (std::int64_t r = 0; r < fixed; ++r)
        cls.push_back(classes[static_cast<std::size_t>(first + std::min(r, n - 1)) % classes.size()]);
    const Attribution part = deeplift_rows(model, t, padded_rows(x, first, n, fixed),
                                           padded_rows(base, first, n, fixed), cls, options, control);
    if (part.map.rank() == 0 || part.map.dim(0) != fixed)
      throw usage_error("layer '" + options.layer + "' of shape " + shape_string(part.map.shape()) +
                        " has no batch axis first");
    maps.push_back(part.map.rows(0, n));
    for (std::int64_t r = 0; r < n; ++r) {
      const auto i = static_cast<std::size_t>(r);
      all.classes.push_back(part.classes[i]);
      all.score.push_back(part.score[i]);
      all.baseline_score.push_back(part.baseline_score[i]);
      all.delta.push_back(part.delta[i]);
    }
  }
  std::vector<std::int64_t> shape = maps.front().shape();
  shape[0] = rows;
  all.map = Array(DType::F32, shape);
  std::size_t at = 0;
  for (const Array& m : maps) {
    std::memcpy(all.map.bytes() + at, m.bytes(), m.byte_size());
    at += m.byte_size();
  }
  return all;
}

void check_input(const Array& x) {
  if (x.rank() < 1 || x.dim(0) < 1)
    throw usage_error("DeepLIFT needs a batch of samples, not shape " + shape_string(x.shape()));
}

}  // namespace

Attribution deeplift(const engine::Model& model, const Array& x, const Array& baseline, const Target& target,
                     const DeepLiftOptions& options, const JobControl& control) {
  const ResolvedTarget t = resolve_target(model, target);
  check_input(x);
  if (baseline.shape() != x.shape())
    throw usage_error("DeepLIFT baseline of shape " + shape_string(baseline.shape()) + " for an input of shape " +
                      shape_string(x.shape()) + " (make_baseline gives one of the input's shape)");
  return deeplift_any_batch(model, t, x.cast(DType::F32), baseline.cast(DType::F32), {}, options, control);
}

Attribution deeplift_shap(const engine::Model& model, const Array& x, const Array& baselines, const Target& target,
                          const DeepLiftOptions& options, const JobControl& control) {
  const ResolvedTarget t = resolve_target(model, target);
  check_input(x);
  if (baselines.rank() != x.rank() || baselines.dim(0) < 1 ||
      !std::equal(x.shape().begin() + 1, x.shape().end(), baselines.shape().begin() + 1))
    throw usage_error("DeepLIFT-SHAP baselines of shape " + shape_string(baselines.shape()) +
                      ": need a non-empty set [M, ...] of samples shaped like the input's " + shape_string(x.shape()));
  const Array xf = x.cast(DType::F32);
  const Array bf = baselines.cast(DType::F32);
  const std::int64_t batch = x.dim(0), m = bf.dim(0);
  constexpr std::int64_t kChunk = 32;  // baselines per pass: memory stays that of 32 samples

  const Array out = run_scores_padded(model, t, xf, declared_batch(model, t), control);
  const std::vector<std::int64_t> classes = choose_classes(out, batch, t);
  Attribution r;
  r.classes = classes;
  r.score = scores(out, classes, t);
  std::vector<double> sum_map;
  std::vector<std::int64_t> sample_shape;
  for (std::int64_t b = 0; b < batch; ++b) {
    double base_sum = 0;
    std::vector<double> acc;
    for (std::int64_t first = 0; first < m; first += kChunk) {
      if (control.cancel) control.cancel->throw_if_cancelled();
      const std::int64_t n = std::min(kChunk, m - first);
      const Attribution part = deeplift_any_batch(model, t, repeat_rows(xf, b, n), bf.rows(first, n),
                                                  {classes[static_cast<std::size_t>(b)]}, options, control);
      if (part.map.dim(0) != n)
        throw usage_error("layer '" + options.layer + "' of shape " + shape_string(part.map.shape()) +
                          " has no batch axis first; DeepLIFT-SHAP averages over it");
      const std::int64_t per = part.map.size() / n;
      if (acc.empty()) {
        acc.assign(static_cast<std::size_t>(per), 0.0);
        sample_shape.assign(part.map.shape().begin() + 1, part.map.shape().end());
      }
      const float* p = part.map.data<float>();
      for (std::int64_t i = 0; i < n * per; ++i) acc[static_cast<std::size_t>(i % per)] += p[i];
      for (double s : part.baseline_score) base_sum += s;
    }
    for (double& v : acc) v /= static_cast<double>(m);
    sum_map.insert(sum_map.end(), acc.begin(), acc.end());
    r.baseline_score.push_back(base_sum / static_cast<double>(m));
  }
  std::vector<std::int64_t> shape{batch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  r.map = Array(DType::F32, shape);
  for (std::size_t i = 0; i < sum_map.size(); ++i) r.map.data<float>()[i] = static_cast<float>(sum_map[i]);
  const auto sums = row_sums(r.map, batch);
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto i = static_cast<std::size_t>(b);
    r.delta.push_back(sums[i] - (r.score[i] - r.baseline_score[i]));
  }
  return r;
}

}  // namespace paramscope::xai
