// Deletion and insertion curves (Petsiuk, Das, Saenko, BMVC 2018, section 4.1; their
// evaluation.py CausalMetric): the explained class's score as the map's top features are
// replaced by a substrate (deletion) or put back into the substrate (insertion). Definitions and
// how they relate to RISE's code: docs/attributions.md.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "engine/classifier_run.h"
#include "paramscope/attribution.h"
#include "paramscope/error.h"
#include "xai/blur.h"
#include "xai/curve_features.h"
#include "xai/padded_runs.h"
#include "xai/target_score.h"

namespace paramscope::xai {

std::vector<std::int64_t> feature_ids(const std::vector<std::int64_t>& shape, const std::vector<int>& axes) {
  // Strides of the spatial axes in a feature index (row-major over the spatial sizes).
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> stride(rank, 0);
  std::int64_t s = 1;
  for (auto it = axes.rbegin(); it != axes.rend(); ++it) {
    stride[static_cast<std::size_t>(*it)] = s;
    s *= shape[static_cast<std::size_t>(*it)];
  }
  std::int64_t per = 1;
  for (std::size_t a = 1; a < rank; ++a) per *= shape[a];
  std::vector<std::int64_t> ids(static_cast<std::size_t>(per));
  std::vector<std::int64_t> index(rank, 0);
  std::int64_t id = 0;
  for (std::int64_t e = 0; e < per; ++e) {
    ids[static_cast<std::size_t>(e)] = id;
    // advance the multi-index over axes 1..rank-1, keeping id in step
    for (std::size_t a = rank - 1; a >= 1; --a) {
      if (++index[a] < shape[a]) {
        id += stride[a];
        break;
      }
      id -= stride[a] * (shape[a] - 1);
      index[a] = 0;
    }
  }
  return ids;
}

std::vector<std::int64_t> feature_order(const float* values, std::int64_t n) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [values](std::int64_t a, std::int64_t b) {
    const float va = values[a], vb = values[b];
    if (std::isnan(vb)) return !std::isnan(va);  // NaN ranks last
    if (std::isnan(va)) return false;
    return va > vb;
  });
  return order;
}

CurveSteps curve_steps(std::int64_t features, std::int64_t steps) {
  if (steps < 1) throw usage_error("a deletion or insertion curve needs at least 1 step, not " + std::to_string(steps));
  CurveSteps c;
  c.step = (features + steps - 1) / steps;
  c.points = (features + c.step - 1) / c.step + 1;
  return c;
}

double curve_auc(const std::vector<double>& fraction, const std::vector<double>& score) {
  double area = 0;
  for (std::size_t i = 1; i < score.size(); ++i)
    area += (fraction[i] - fraction[i - 1]) * (score[i] + score[i - 1]) / 2;
  return area;
}

namespace {

Array substrate(const Array& x, CurveOptions::Substrate kind, const CurveOptions& o, const std::vector<int>& axes) {
  switch (kind) {
    case CurveOptions::Substrate::Zeros:
      return Array(DType::F32, x.shape());
    case CurveOptions::Substrate::Blur:
      return gaussian_blur(x, axes, o.sigma);
    case CurveOptions::Substrate::Constant: {
      Array c(DType::F32, x.shape());
      std::fill_n(c.data<float>(), c.size(), static_cast<float>(o.value));
      return c;
    }
  }
  return Array(DType::F32, x.shape());
}

}  // namespace

Faithfulness faithfulness(const engine::Model& model, const Array& x_in, const Array& map_in, const Target& target,
                          const CurveOptions& options, const JobControl& control) {
  if (options.batch < 1) throw usage_error("the batch size must be at least 1, not " + std::to_string(options.batch));
  ResolvedTarget t = resolve_target(model, target);
  t.softmax = options.softmax;
  if (x_in.rank() < 2 || x_in.dim(0) < 1 || x_in.size() == 0)
    throw usage_error("deletion and insertion curves need a batch of samples [batch, ...], not " +
                      shape_string(x_in.shape()));
  const Array x = x_in.cast(DType::F32);
  const std::vector<int> axes = spatial_axes(x.shape(), options.axes);
  const std::int64_t batch = x.dim(0), per = x.size() / batch;
  std::vector<std::int64_t> sizes{batch};
  for (int a : axes) sizes.push_back(x.dim(static_cast<std::size_t>(a)));
  const std::int64_t features = shape_size(std::span<const std::int64_t>(sizes).subspan(1));
  const CurveSteps cs = curve_steps(features, options.steps);
  const std::vector<std::int64_t> fid = feature_ids(x.shape(), axes);

  // The map's value per feature: summed over the other axes when it has x's shape.
  const Array m = map_in.cast(DType::F32);
  std::vector<float> value(static_cast<std::size_t>(batch * features));
  if (m.shape() == x.shape()) {
    std::vector<double> sum(value.size());
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t e = 0; e < per; ++e)
        sum[static_cast<std::size_t>(b * features + fid[static_cast<std::size_t>(e)])] += m.data<float>()[b * per + e];
    std::transform(sum.begin(), sum.end(), value.begin(), [](double v) { return static_cast<float>(v); });
  } else if (m.shape() == sizes) {
    std::copy_n(m.data<float>(), m.size(), value.begin());
  } else {
    throw usage_error("a map of shape " + shape_string(m.shape()) + " fits neither the input " +
                      shape_string(x.shape()) + " nor its spatial sizes " + shape_string(sizes));
  }
  // rank[b][f]: the position of feature f in sample b's order (0 = changed first).
  std::vector<std::int64_t> rank(value.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::vector<std::int64_t> order = feature_order(value.data() + b * features, features);
    for (std::int64_t p = 0; p < features; ++p)
      rank[static_cast<std::size_t>(b * features + order[static_cast<std::size_t>(p)])] = p;
  }

  const JobControl inner{control.cancel, {}};
  const std::int64_t fixed = declared_batch(model, t);
  const Array out = run_scores_padded(model, t, x, fixed, inner);
  const std::vector<std::int64_t> classes = choose_classes(out, batch, t);

  // Deletion: from x towards its substrate; insertion: from its substrate towards x.
  const Array del_to = substrate(x, options.deletion_substrate, options, axes);
  const Array ins_from = substrate(x, options.insertion_substrate, options, axes);
  const float* xp = x.data<float>();
  const float* start[2] = {xp, ins_from.data<float>()};
  const float* finish[2] = {del_to.data<float>(), xp};

  // Rows: curve (deletion, insertion) x sample x point.
  const std::int64_t points = cs.points, rows = 2 * batch * points;
  std::vector<double> score(static_cast<std::size_t>(rows));
  engine::for_each_batch(
      rows, options.batch, control,
      [&](std::int64_t, std::int64_t first, std::int64_t count) {
        std::vector<std::int64_t> shape = x.shape();
        shape[0] = count;
        Array in(DType::F32, shape);
        float* ip = in.data<float>();
        std::vector<std::int64_t> cls(static_cast<std::size_t>(count));
        for (std::int64_t r = 0; r < count; ++r) {
          const std::int64_t row = first + r, curve = row / (batch * points), b = (row / points) % batch,
                             i = row % points;
          const std::int64_t changed = std::min(i * cs.step, features);
          const std::int64_t* rk = rank.data() + b * features;
          const float* from = start[curve] + b * per;
          const float* to = finish[curve] + b * per;
          for (std::int64_t e = 0; e < per; ++e)
            ip[r * per + e] = rk[fid[static_cast<std::size_t>(e)]] < changed ? to[e] : from[e];
          cls[static_cast<std::size_t>(r)] = classes[static_cast<std::size_t>(b)];
        }
        const std::vector<double> s = scores(run_scores_padded(model, t, in, fixed, inner), cls, t);
        std::copy(s.begin(), s.end(), score.begin() + first);
      },
      [](std::int64_t) {});

  Faithfulness f;
  for (int curve = 0; curve < 2; ++curve) {
    auto& curves = curve == 0 ? f.deletion : f.insertion;
    for (std::int64_t b = 0; b < batch; ++b) {
      Curve c;
      for (std::int64_t i = 0; i < points; ++i) {
        c.fraction.push_back(static_cast<double>(std::min(i * cs.step, features)) / static_cast<double>(features));
        c.score.push_back(score[static_cast<std::size_t>((curve * batch + b) * points + i)]);
      }
      c.auc = curve_auc(c.fraction, c.score);
      curves.push_back(std::move(c));
    }
  }
  return f;
}

}  // namespace paramscope::xai
