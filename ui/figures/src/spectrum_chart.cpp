#include "paramscope/figures/spectrum_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <tuple>

#include <vtkAxis.h>
#include <vtkChartLegend.h>
#include <vtkDoubleArray.h>
#include <vtkPlotLine.h>
#include <vtkTable.h>

#include "chart_host.h"
#include "paramscope/error.h"

namespace paramscope::figures {
namespace {

constexpr float kLineWidth = 2;
constexpr float kMarkerSize = 6;
constexpr std::size_t kMaxMarkedPoints = 200;  // more points than this: a line without markers
constexpr double kMargin = 1.25;                // factor of air around the data on log axes

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string short_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

struct Fit {
  double alpha, xmin;
};

}  // namespace

struct SpectrumChart::Impl {
  explicit Impl(vtkRenderer* renderer) : host(renderer, "eigenvalue", "density") {}
  detail::ChartHost host;
  std::vector<double> values;  // finite, > 0, largest first
  std::string title = "no spectrum";
  std::string value_label = "eigenvalue";
  std::optional<Fit> fit;
  Mode mode = Mode::Density;
  int bins = 50;
  double scale = 1;
  std::vector<std::pair<double, double>> points;
  vtkPlotLine* data_plot = nullptr;  // owned by the chart
  vtkPlotLine* fit_plot = nullptr;

  void compute_points();
  std::vector<std::pair<double, double>> fit_line() const;
};

void SpectrumChart::Impl::compute_points() {
  points.clear();
  const std::size_t n = values.size();
  if (n == 0) return;
  if (mode == Mode::RankOrdered) {
    points.reserve(n);
    for (std::size_t r = 0; r < n; ++r) points.emplace_back(static_cast<double>(r + 1), values[r]);
    return;
  }
  // Log-spaced bins from the smallest to the largest value; one value (or equal ones) gets one
  // bin around it.
  double lo = values.back(), hi = values.front();
  if (hi <= lo) {
    lo /= 1.1;
    hi *= 1.1;
  }
  const double log_lo = std::log10(lo), log_hi = std::log10(hi);
  const auto edge = [&](int i) { return std::pow(10.0, log_lo + (log_hi - log_lo) * i / bins); };
  std::vector<std::size_t> counts(static_cast<std::size_t>(bins), 0);
  for (double v : values) {
    auto i = static_cast<long>(std::floor((std::log10(v) - log_lo) / (log_hi - log_lo) * bins));
    counts[static_cast<std::size_t>(std::clamp<long>(i, 0, bins - 1))]++;
  }
  for (int i = 0; i < bins; ++i) {
    const std::size_t c = counts[static_cast<std::size_t>(i)];
    if (c == 0) continue;  // log axes have no 0
    const double a = edge(i), b = edge(i + 1);
    points.emplace_back(std::sqrt(a * b), static_cast<double>(c) / (static_cast<double>(n) * (b - a)));
  }
}

std::vector<std::pair<double, double>> SpectrumChart::Impl::fit_line() const {
  if (!fit || values.empty()) return {};
  const double alpha = fit->alpha, xmin = fit->xmin;
  const auto tail = static_cast<std::size_t>(std::count_if(values.begin(), values.end(), [&](double v) { return v >= xmin; }));
  if (tail == 0) return {};
  const double n = static_cast<double>(values.size());
  if (mode == Mode::Density) {
    // Straight on log-log axes: its two ends are enough.
    const double share = static_cast<double>(tail) / n;
    const auto pdf = [&](double x) { return share * (alpha - 1) / xmin * std::pow(x / xmin, -alpha); };
    const double end = std::max(values.front(), xmin);
    return {{xmin, pdf(xmin)}, {end, pdf(end)}};
  }
  // Rank r of value x in a power-law tail: r = n_tail (x / xmin)^(1 - alpha).
  const double nt = static_cast<double>(tail);
  return {{1.0, xmin * std::pow(1.0 / nt, -1.0 / (alpha - 1))}, {nt, xmin}};
}

SpectrumChart::SpectrumChart() : impl_(std::make_unique<Impl>(renderer())) {
  vtkChartXY& chart = *impl_->host.chart;
  chart.GetLegend()->SetHorizontalAlignment(vtkChartLegend::RIGHT);
  chart.GetLegend()->SetVerticalAlignment(vtkChartLegend::TOP);
  detail::set_text_color(chart.GetLegend()->GetLabelProperties());
  chart.GetAxis(vtkAxis::BOTTOM)->SetGridVisible(true);
  rebuild();
}

SpectrumChart::~SpectrumChart() { detach(); }

void SpectrumChart::set_values(std::vector<double> values, const std::string& title, const std::string& value_label) {
  std::erase_if(values, [](double v) { return !(std::isfinite(v) && v > 0); });
  std::sort(values.begin(), values.end(), std::greater<>());
  impl_->values = std::move(values);
  impl_->title = title;
  impl_->value_label = value_label;
  impl_->fit.reset();
  rebuild();
}

void SpectrumChart::set_fit(double alpha, double xmin) {
  if (!(std::isfinite(alpha) && alpha > 1 && std::isfinite(xmin) && xmin > 0))
    throw usage_error("spectrum: power law alpha " + std::to_string(alpha) + ", xmin " + std::to_string(xmin) +
                      " (needs alpha > 1 and xmin > 0)");
  impl_->fit = Fit{alpha, xmin};
  rebuild();
}

void SpectrumChart::clear_fit() {
  impl_->fit.reset();
  rebuild();
}

void SpectrumChart::set_mode(Mode mode) {
  if (mode == impl_->mode) return;
  impl_->mode = mode;
  rebuild();
}

SpectrumChart::Mode SpectrumChart::mode() const noexcept { return impl_->mode; }

void SpectrumChart::set_bins(int bins) {
  if (bins < 1 || bins > 10000) throw usage_error("spectrum: " + std::to_string(bins) + " bins is outside 1..10000");
  impl_->bins = bins;
  rebuild();
}

void SpectrumChart::clear() {
  impl_->values.clear();
  impl_->title = "no spectrum";
  impl_->fit.reset();
  rebuild();
}

std::size_t SpectrumChart::shown_count() const noexcept { return impl_->values.size(); }
std::vector<std::pair<double, double>> SpectrumChart::points() const { return impl_->points; }

void SpectrumChart::rebuild() {
  Impl& d = *impl_;
  vtkChartXY& chart = *d.host.chart;
  chart.ClearPlots();
  d.data_plot = d.fit_plot = nullptr;
  d.compute_points();
  const bool density = d.mode == Mode::Density;
  vtkAxis* x = chart.GetAxis(vtkAxis::BOTTOM);
  vtkAxis* y = chart.GetAxis(vtkAxis::LEFT);
  x->SetTitle(density ? d.value_label : "rank");
  y->SetTitle(density ? "density" : d.value_label);
  std::string title = d.title;
  if (d.fit) title += "  (alpha = " + fixed(d.fit->alpha, 2) + ")";
  chart.SetTitle(title);

  if (d.points.empty()) {
    chart.SetShowLegend(false);
    for (vtkAxis* axis : {x, y}) {
      axis->SetLogScale(false);
      axis->SetBehavior(vtkAxis::FIXED);
      axis->SetRange(0, 1);
    }
    return;
  }

  auto add_line = [&](const std::vector<std::pair<double, double>>& pts, const std::string& label, Rgb c) {
    vtkNew<vtkTable> table;
    vtkNew<vtkDoubleArray> xs;
    xs->SetName("x");
    vtkNew<vtkDoubleArray> ys;
    ys->SetName(label.c_str());
    for (const auto& [px, py] : pts) {
      xs->InsertNextValue(px);
      ys->InsertNextValue(py);
    }
    table->AddColumn(xs);
    table->AddColumn(ys);
    auto* line = vtkPlotLine::SafeDownCast(chart.AddPlot(vtkChart::LINE));
    line->SetInputData(table, 0, 1);
    line->SetColor(c.r, c.g, c.b, 255);
    line->SetLabel(label);
    line->SetWidth(kLineWidth * static_cast<float>(d.scale));
    line->SetMarkerStyle(vtkPlotPoints::NONE);
    return line;
  };
  d.data_plot = add_line(d.points, density ? "spectral density" : d.value_label + "s", palette::bar);
  if (d.points.size() <= kMaxMarkedPoints) {
    d.data_plot->SetMarkerStyle(vtkPlotPoints::CIRCLE);
    d.data_plot->SetMarkerSize(kMarkerSize * static_cast<float>(d.scale));
  }
  double x0 = d.points.front().first, x1 = x0, y0 = d.points.front().second, y1 = y0;
  for (const auto& [px, py] : d.points) {
    x0 = std::min(x0, px);
    x1 = std::max(x1, px);
    y0 = std::min(y0, py);
    y1 = std::max(y1, py);
  }
  const auto fit = d.fit_line();
  if (!fit.empty()) {
    d.fit_plot = add_line(fit, "power law: alpha " + fixed(d.fit->alpha, 2) + ", xmin " + short_number(d.fit->xmin),
                          palette::marker);
    // The fit may reach beyond the data (rank 1's prediction): keep it in view.
    for (const auto& [px, py] : fit) {
      y0 = std::min(y0, py);
      y1 = std::max(y1, py);
    }
  }
  chart.SetShowLegend(true);
  for (auto [axis, lo, hi] : {std::tuple{x, x0, x1}, std::tuple{y, y0, y1}}) {
    axis->SetLogScale(true);
    axis->SetBehavior(vtkAxis::FIXED);
    axis->SetUnscaledRange(lo / kMargin, hi * kMargin);
  }
  chart.RecalculateBounds();
}

void SpectrumChart::on_attach(vtkRenderWindow* window) { impl_->host.attach(window); }
void SpectrumChart::on_detach(vtkRenderWindow* window) { impl_->host.detach(window); }

void SpectrumChart::on_scale(double scale) {
  impl_->scale = scale;
  impl_->host.scale_axes(scale);
  for (vtkPlotLine* line : {impl_->data_plot, impl_->fit_plot})
    if (line) line->SetWidth(kLineWidth * static_cast<float>(scale));
  if (impl_->data_plot && impl_->data_plot->GetMarkerStyle() != vtkPlotPoints::NONE)
    impl_->data_plot->SetMarkerSize(kMarkerSize * static_cast<float>(scale));
}

}  // namespace paramscope::figures
