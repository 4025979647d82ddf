#include "attribution_methods.h"

#include <algorithm>

#include "paramscope/error.h"
#include "paramscope/npy.h"

namespace paramscope::cli {

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names{"rise", "deeplift", "deeplift-shap", "ig", "gxi", "smoothgrad"};
  return names;
}

void add_method_options(CLI::App& cmd, MethodOptions& o) {
  cmd.add_option("--target", o.targets,
                 "Class explained: one for every sample, or one per sample (default: the "
                 "top prediction)")
      ->delimiter(',');
  cmd.add_option("--score", o.score,
                 "Explain the logit or the softmax probability (default: prob for rise, "
                 "logit for the others)")
      ->check(CLI::IsMember({"logit", "prob"}));
  cmd.add_option("--input-name", o.input_name, "The model input explained (default: its only input)");
  cmd.add_option("--output-name", o.output_name, "The output with the class scores (default: the first)");
  cmd.add_option("--axes", o.axes,
                 "Spatial axes of the input (default: 2,3 for [N,C,H,W]; 1,2 for [N,H,W]; 1 for "
                 "[N,F])")
      ->delimiter(',');
  cmd.add_option("--masks", o.rise.masks, "RISE: number of masks")->check(CLI::PositiveNumber);
  cmd.add_option("--cells", o.rise.cells, "RISE: grid cells per axis")->check(CLI::PositiveNumber);
  cmd.add_option("--p", o.rise.p, "RISE: probability that a cell is kept")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--seed", o.rise.seed, "RISE and SmoothGrad: random seed");
  cmd.add_option("--mask-file", o.mask_file, "RISE: masks to use, NPY [N, *spatial sizes]");
  cmd.add_option("--rule", o.rule, "DeepLIFT: rule for nonlinearities")
      ->check(CLI::IsMember({"rescale", "reveal-cancel"}));
  cmd.add_option("--layer", o.layer, "DeepLIFT: attribute to this activation instead of the input");
  cmd.add_option("--baseline", o.baseline,
                 "DeepLIFT and IG reference: zeros, constant:V, blur[:SIGMA], mean:FILE.npy or FILE.npy");
  cmd.add_option("--shap-baselines", o.shap_baselines, "deeplift-shap: reference samples, NPY [M, ...]");
  cmd.add_option("--shap-count", o.shap_count, "deeplift-shap: use at most this many references")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--steps", o.ig.steps, "IG: integration steps")->check(CLI::PositiveNumber);
  cmd.add_option("--ig-method", o.ig_method, "IG: quadrature")
      ->check(CLI::IsMember({"gausslegendre", "riemann_trapezoid", "riemann_middle", "riemann_left", "riemann_right"}));
  cmd.add_option("--samples", o.smooth.samples, "SmoothGrad: noisy copies")->check(CLI::PositiveNumber);
  cmd.add_option("--noise", o.smooth.noise, "SmoothGrad: noise sigma as a fraction of each sample's range")
      ->check(CLI::NonNegativeNumber);
}

xai::Target target_for(const std::string& method, const MethodOptions& o) {
  xai::Target t;
  t.input = o.input_name;
  t.output = o.output_name;
  t.classes = o.targets;
  t.softmax = o.score.empty() ? method == "rise" : o.score == "prob";
  return t;
}

Array baseline_for(const Array& x, const MethodOptions& o) {
  xai::Baseline b;
  b.axes = o.axes;
  const std::string& s = o.baseline;
  const auto colon = s.find(':');
  const std::string kind = s.substr(0, colon), arg = colon == std::string::npos ? "" : s.substr(colon + 1);
  try {
    if (s == "zeros") {
      b.kind = xai::Baseline::Kind::Zeros;
    } else if (kind == "constant" && !arg.empty()) {
      b.kind = xai::Baseline::Kind::Constant;
      b.value = std::stod(arg);
    } else if (kind == "blur") {
      b.kind = xai::Baseline::Kind::Blur;
      if (!arg.empty()) b.sigma = std::stod(arg);
    } else if (kind == "mean" && !arg.empty()) {
      b.kind = xai::Baseline::Kind::Mean;
      b.data = read_npy(arg);
    } else if (colon == std::string::npos && s.size() > 4 && s.ends_with(".npy")) {
      b.kind = xai::Baseline::Kind::File;
      b.data = read_npy(s);
    } else {
      throw std::invalid_argument("form");
    }
  } catch (const std::invalid_argument&) {
    throw usage_error("--baseline '" + s + "': expected zeros, constant:V, blur[:SIGMA], mean:FILE.npy or FILE.npy");
  } catch (const std::out_of_range&) {
    throw usage_error("--baseline '" + s + "': the number is out of range");
  }
  return xai::make_baseline(x, b);
}

namespace {

xai::IntegratedGradientsOptions::Method ig_method(const std::string& name) {
  using M = xai::IntegratedGradientsOptions::Method;
  if (name == "riemann_trapezoid") return M::RiemannTrapezoid;
  if (name == "riemann_middle") return M::RiemannMiddle;
  if (name == "riemann_left") return M::RiemannLeft;
  if (name == "riemann_right") return M::RiemannRight;
  return M::GaussLegendre;
}

Array shap_references(const MethodOptions& o, const Array& x) {
  if (o.shap_baselines.empty())
    throw usage_error("deeplift-shap needs --shap-baselines FILE.npy (reference samples, e.g. a few training inputs)");
  Array refs = read_npy(o.shap_baselines).cast(DType::F32);
  if (refs.rank() != x.rank())
    throw usage_error(o.shap_baselines + ": reference samples " + shape_string(refs.shape()) +
                      " do not stack samples like the input " + shape_string(x.shape()));
  return refs.rows(0, std::min(refs.dim(0), o.shap_count));
}

}  // namespace

xai::Attribution run_method(const engine::Model& model, const Array& x, const std::string& method,
                            const MethodOptions& o, const JobControl& control) {
  const xai::Target target = target_for(method, o);
  if (method == "rise") {
    xai::RiseOptions r = o.rise;
    r.axes = o.axes;
    if (!o.mask_file.empty()) r.mask_file = read_npy(o.mask_file);
    return xai::rise(model, x, target, r, {}, control);
  }
  if (method == "deeplift" || method == "deeplift-shap") {
    xai::DeepLiftOptions d;
    d.rule = o.rule == "reveal-cancel" ? xai::DeepLiftRule::RevealCancel : xai::DeepLiftRule::Rescale;
    d.layer = o.layer;
    if (method == "deeplift") return xai::deeplift(model, x, baseline_for(x, o), target, d, control);
    return xai::deeplift_shap(model, x, shap_references(o, x), target, d, control);
  }
  if (method == "ig") {
    xai::IntegratedGradientsOptions ig = o.ig;
    ig.method = ig_method(o.ig_method);
    return xai::integrated_gradients(model, x, baseline_for(x, o), target, ig, control);
  }
  if (method == "gxi") return xai::gradient_x_input(model, x, target, control);
  if (method == "smoothgrad") {
    xai::SmoothGradOptions s = o.smooth;
    s.seed = o.rise.seed;
    return xai::smoothgrad(model, x, target, s, control);
  }
  throw usage_error("unknown method '" + method + "' (rise, deeplift, deeplift-shap, ig, gxi, smoothgrad)");
}

}  // namespace paramscope::cli
