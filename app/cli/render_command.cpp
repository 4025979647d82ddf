// paramscope-cli render CKPT --view heatmap|profile|histogram|spectrum|surface [--tensor NAME]
//   [--criterion C ...] [--module KIND] -o FIG.png|FIG.svg|FIG.pdf [--dpi N --colormap NAME ...]
// The GUI's figures, drawn by the same scenes, with no display at all (Mesa EGL).
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "criterion_options.h"
#include "paramscope/error.h"
#include "paramscope/figures/colormap.h"
#include "paramscope/figures/figure_data.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/histogram_chart.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/figures/spectrum_chart.h"
#include "paramscope/figures/surface_scene.h"
#include "paramscope/pyramid.h"
#include "paramscope/spectral.h"

namespace paramscope::cli {
namespace {

struct RenderOptions {
  CriterionOptions crit;
  std::string view = "heatmap", tensor, output;
  std::string colormap, scale = "linear", style = "bars", top, reduce = "l2", mode = "density";
  std::string module, cell = "max-abs";
  double dpi = figures::ExportOptions::kReferenceDpi, width = 6.4, height = 4.0, clip_lo = 0, clip_hi = 100;
  double azimuth = figures::SurfaceCamera{}.azimuth, elevation = figures::SurfaceCamera{}.elevation, zoom = 1;
  double height_fraction = 0.5;  // SurfaceScene's default
  int bins = 100;
  bool log_counts = false;
};

// Element scores of one tensor (the weights themselves without a criterion).
std::vector<float> tensor_values(const RenderOptions& o, OpenedInputs& opened, const Checkpoint& model,
                                 std::size_t index, std::string& what) {
  const Tensor& t = model.tensors()[index];
  if (o.crit.criterion.empty()) {
    what = "value";
    return t.to_f32();
  }
  const Criterion& criterion = opened.criterion(o.crit);
  const auto field = make_score_field(model, {index}, criterion, opened.inputs(o.crit));
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  field->scores(0, 0, v);
  what = criterion.info().name + " = " + criterion.info().formula;
  return v;
}

std::size_t tensor_index(const Checkpoint& model, const std::string& name) {
  if (name.empty()) throw usage_error("render: this view needs --tensor NAME (see `paramscope-cli inspect`)");
  const auto& ts = model.tensors();
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (ts[i].name() == name) return i;
  throw usage_error("render: no tensor named '" + name + "' in " + model.path().string());
}

std::optional<figures::Colormap> colormap_option(const RenderOptions& o) {
  if (o.colormap.empty()) return std::nullopt;
  const auto map = figures::colormap_from_name(o.colormap);
  if (!map) throw usage_error("render: unknown --colormap " + o.colormap + " (viridis, magma, rdbu_r, gray)");
  return map;
}

// The 3-D view: a tensor's heightfield (--tensor, weights or scores) or a criterion's importance
// per neuron over (block, neuron) for one module kind (--module).
std::unique_ptr<figures::Scene> surface_scene(const RenderOptions& o, OpenedInputs& opened, const Checkpoint& model,
                                              Context& ctx) {
  if (o.cell != "max-abs" && o.cell != "mean") throw usage_error("render: --cell is max-abs or mean");
  const PyramidReduction cell = o.cell == "mean" ? PyramidReduction::Mean : PyramidReduction::MaxAbs;
  if (o.module.empty() == o.tensor.empty())
    throw usage_error("render: --view surface needs either --tensor NAME (its heightfield) or --module KIND "
                      "(importance per neuron over blocks, e.g. --module mlp.down)");
  auto scene = std::make_unique<figures::SurfaceScene>();
  const std::string source = model.path().filename().string();
  if (!o.tensor.empty()) {
    const std::size_t i = tensor_index(model, o.tensor);
    const Tensor& t = model.tensors()[i];
    const auto [rows, cols] = matrix_shape(t.shape());
    std::string what;
    auto values = std::make_shared<std::vector<float>>(tensor_values(o, opened, model, i, what));
    PyramidOptions options;
    options.max_abs = cell == PyramidReduction::MaxAbs;
    options.mean = cell == PyramidReduction::Mean;
    const TensorPyramid pyramid = TensorPyramid::of_values(values, rows, cols, ctx.pool(), {&ctx.cancel, {}}, options);
    figures::SurfaceGrid grid = figures::surface_of_pyramid(pyramid, 512, 512, cell);
    if (!o.crit.criterion.empty()) grid.value_axis = o.crit.criterion + " score";
    scene->set_grid(std::move(grid), t.name() + (o.crit.criterion.empty() ? "" : " (" + o.crit.criterion + ")"));
  } else {
    RenderOptions p = o;
    if (p.crit.criterion.empty()) p.crit.criterion = "magnitude";
    const Criterion& criterion = opened.criterion(p.crit);
    if (!criterion.info().elementwise)
      throw usage_error("render: " + criterion.info().name +
                        " gives one value per matrix; the surface over (block, neuron) needs an element-wise criterion");
    const auto tensors = select_tensors(model, opened.selection(p.crit));
    const Reduction r = parse_reduction(p.reduce);
    const ReducedMaps maps = reduce_scores(*make_score_field(model, tensors, criterion, opened.inputs(p.crit)),
                                           Granularity::Row, r, HeadConfig::from_checkpoint(model), ctx.pool(),
                                           {&ctx.cancel, {}});
    scene->set_grid(figures::surface_of_neurons(maps, model, o.module, 512, 512, cell),
                    source + ": " + criterion.info().name + ", " + p.reduce + " per neuron of " + o.module);
  }
  if (const auto map = colormap_option(o)) scene->set_colormap(*map);
  scene->set_height_fraction(o.height_fraction);
  scene->set_camera(o.azimuth, o.elevation, o.zoom);
  return scene;
}

void run_render(const RenderOptions& o, Context& ctx) {
  OpenedInputs opened(ctx);
  const Checkpoint& model = opened.model(o.crit.checkpoint);
  figures::ExportOptions ex;
  ex.dpi = o.dpi;
  ex.width_in = o.width;
  ex.height_in = o.height;
  const std::string source = model.path().filename().string();
  std::unique_ptr<figures::Scene> scene;

  if (o.view == "heatmap") {
    const std::size_t i = tensor_index(model, o.tensor);
    const Tensor& t = model.tensors()[i];
    auto heatmap = std::make_unique<figures::HeatmapScene>();
    const auto [rows, cols] = matrix_shape(t.shape());
    std::string what;
    auto values = std::make_shared<std::vector<float>>(tensor_values(o, opened, model, i, what));
    auto pyramid = std::make_shared<const TensorPyramid>(
        TensorPyramid::of_values(values, rows, cols, ctx.pool(), {&ctx.cancel, {}}));
    heatmap->set_pyramid(pyramid, t.name() + (o.crit.criterion.empty() ? "" : " (" + o.crit.criterion + ")"));
    if (const auto map = colormap_option(o)) heatmap->set_colormap(*map);
    if (o.scale != "linear" && o.scale != "log") throw usage_error("render: --scale is linear or log");
    heatmap->set_scale(o.scale == "log" ? figures::ColorScale::Log : figures::ColorScale::Linear);
    heatmap->set_clip_percentiles(o.clip_lo, o.clip_hi);
    if (!o.top.empty()) heatmap->set_overlay_top_k(pyramid, parse_fraction(o.top, "--top") * 100);
    scene = std::move(heatmap);
  } else if (o.view == "histogram") {
    const std::size_t i = tensor_index(model, o.tensor);
    std::string what;
    const std::vector<float> values = tensor_values(o, opened, model, i, what);
    const figures::HistogramData h = figures::histogram_of(values, o.bins);
    auto chart = std::make_unique<figures::HistogramChart>();
    chart->set_histogram(h.counts, h.lo, h.hi, model.tensors()[i].name(), what);
    chart->set_log_counts(o.log_counts);
    if (!o.top.empty()) {
      const double f = parse_fraction(o.top, "--top");
      const double t = figures::top_fraction_threshold(values, f);
      char label[96];
      std::snprintf(label, sizeof label, "threshold %.4g (top %s)", t, o.top.c_str());
      chart->set_threshold(t, label);
    }
    scene = std::move(chart);
  } else if (o.view == "profile") {
    RenderOptions p = o;
    if (p.crit.criterion.empty()) p.crit.criterion = "magnitude";
    const Criterion& criterion = opened.criterion(p.crit);
    const CriterionInputs inputs = opened.inputs(p.crit);
    const auto tensors = select_tensors(model, opened.selection(p.crit));
    const Reduction r = parse_reduction(p.reduce);
    const ReducedMaps maps =
        criterion.info().elementwise
            ? reduce_scores(*make_score_field(model, tensors, criterion, inputs), Granularity::Tensor, r,
                            HeadConfig::from_checkpoint(model), ctx.pool(), {&ctx.cancel, {}})
            : matrix_scores(model, tensors, criterion, inputs, r, ctx.pool(), {&ctx.cancel, {}});
    figures::ProfileData d = figures::profile_of(maps, model, r);
    auto chart = std::make_unique<figures::ProfileChart>();
    if (o.style != "bars" && o.style != "lines") throw usage_error("render: --style is bars or lines");
    chart->set_style(o.style == "lines" ? figures::ProfileChart::Style::Lines : figures::ProfileChart::Style::Bars);
    chart->set_profile(std::move(d.block_labels), std::move(d.series), source + ": " + criterion.info().name,
                       p.reduce + " of " + criterion.info().formula);
    scene = std::move(chart);
  } else if (o.view == "spectrum") {
    const std::size_t i = tensor_index(model, o.tensor);
    const SpectralMetrics m = spectral_metrics(model.tensors()[i]);
    std::vector<double> eig;
    for (double s : m.singular_values) eig.push_back(s * s);
    auto chart = std::make_unique<figures::SpectrumChart>();
    chart->set_values(std::move(eig), model.tensors()[i].name(), "eigenvalue of W^T W");
    if (m.alpha > 1 && m.xmin > 0) chart->set_fit(m.alpha, m.xmin);
    if (o.mode != "density" && o.mode != "rank") throw usage_error("render: --mode is density or rank");
    chart->set_mode(o.mode == "rank" ? figures::SpectrumChart::Mode::RankOrdered : figures::SpectrumChart::Mode::Density);
    scene = std::move(chart);
  } else if (o.view == "surface") {
    scene = surface_scene(o, opened, model, ctx);
  } else {
    throw usage_error("render: --view is heatmap, profile, histogram, spectrum or surface, not '" + o.view + "'");
  }
  scene->save(o.output, ex);
  std::printf("wrote %s\n", o.output.c_str());
}

}  // namespace

void add_render_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RenderOptions>();
  auto* cmd = app.add_subcommand(
      "render", "Draw a figure as the GUI shows it (heatmap, depth profile, histogram, spectrum, 3-D surface) to "
                "PNG, SVG or PDF, with no display needed.");
  cmd->add_option("checkpoint", o->crit.checkpoint, "Checkpoint file or folder")->required();
  cmd->add_option("--view", o->view, "heatmap, profile, histogram, spectrum or surface")->capture_default_str();
  cmd->add_option("--tensor", o->tensor, "The tensor (heatmap, histogram, spectrum; surface: its heightfield)");
  cmd->add_option("--module", o->module,
                  "surface: importance per neuron over blocks for this module kind (mlp.down, attn.q, ...)");
  cmd->add_option("--criterion,-c", o->crit.criterion,
                  "Show importance scores instead of weights (profile: default magnitude)");
  cmd->add_option("--base", o->crit.base, "Base checkpoint (delta criteria)");
  cmd->add_option("--stats", o->crit.stats, "Statistics safetensors (data-driven criteria)");
  cmd->add_option("--param,-p", o->crit.params, "Criterion parameter KEY=VALUE (repeatable)");
  cmd->add_option("--reduce,-r", o->reduce, "profile: sum, mean, max or l2 per tensor; surface --module: per neuron")
      ->capture_default_str();
  cmd->add_option("-o,--output", o->output, "FIG.png, FIG.svg or FIG.pdf")->required();
  cmd->add_option("--dpi", o->dpi, "PNG resolution; text and lines scale with it")->capture_default_str();
  cmd->add_option("--width", o->width, "Figure width in inches")->capture_default_str();
  cmd->add_option("--height", o->height, "Figure height in inches")->capture_default_str();
  cmd->add_option("--colormap", o->colormap, "heatmap, surface: viridis, magma, rdbu_r (diverging), gray");
  cmd->add_option("--azimuth", o->azimuth, "surface: camera azimuth in degrees")->capture_default_str();
  cmd->add_option("--elevation", o->elevation, "surface: camera elevation in degrees (-90..90; 90: from the top)")
      ->capture_default_str();
  cmd->add_option("--zoom", o->zoom, "surface: 1 fits the surface, 2 twice as large")->capture_default_str();
  cmd->add_option("--height-fraction", o->height_fraction,
                  "surface: height of the value range as a fraction of the footprint (0..10]")
      ->capture_default_str();
  cmd->add_option("--cell", o->cell, "surface: how a grid cell reduces a large tensor: max-abs or mean")
      ->capture_default_str();
  cmd->add_option("--scale", o->scale, "heatmap: linear or log")->capture_default_str();
  cmd->add_option("--clip-low", o->clip_lo, "heatmap: lower percentile of the colour range")->capture_default_str();
  cmd->add_option("--clip-high", o->clip_hi, "heatmap: upper percentile of the colour range")->capture_default_str();
  cmd->add_option("--top", o->top, "heatmap: overlay the top fraction (10%); histogram: mark its threshold");
  cmd->add_option("--bins", o->bins, "histogram: number of bins")->capture_default_str();
  cmd->add_flag("--log-counts", o->log_counts, "histogram: logarithmic counts");
  cmd->add_option("--style", o->style, "profile: bars or lines")->capture_default_str();
  cmd->add_option("--mode", o->mode, "spectrum: density or rank")->capture_default_str();
  cmd->callback([o, &ctx] { run_render(*o, ctx); });
}

}  // namespace paramscope::cli
