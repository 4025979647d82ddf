#include "paramscope/figures/histogram_chart.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <vtkAxis.h>
#include <vtkChartLegend.h>
#include <vtkDoubleArray.h>
#include <vtkPen.h>
#include <vtkPlotBar.h>
#include <vtkPlotLine.h>
#include <vtkStringArray.h>
#include <vtkTable.h>

#include "chart_host.h"
#include "paramscope/error.h"

namespace paramscope::figures {
namespace {

// Log counts are drawn as log10(count) - log10(kLogFloor): the axis starts at 0.5 so that a bin
// holding one value still shows a bar.
constexpr double kLogFloor = 0.5;
constexpr double kHeadroom = 1.05;  // space above the tallest bar
constexpr float kThresholdWidth = 2;

double log_height(double count) { return count > 0 ? std::log10(count) - std::log10(kLogFloor) : 0; }

std::string decade_label(int power) {
  if (power < 4) return std::to_string(static_cast<long>(std::lround(std::pow(10.0, power))));
  return "1e" + std::to_string(power);
}

}  // namespace

struct HistogramChart::Impl {
  explicit Impl(vtkRenderer* renderer) : host(renderer, "value", "count") {}
  detail::ChartHost host;
  std::vector<double> counts;
  double lo = 0, hi = 1;
  std::string title = "no data", x_label = "value";
  bool log = false;
  std::optional<double> threshold;
  std::string threshold_label;
  vtkPlot* threshold_plot = nullptr;  // owned by the chart
  double scale = 1;
  std::pair<double, double> x_range{0, 1};
};

HistogramChart::HistogramChart() : impl_(std::make_unique<Impl>(renderer())) {
  vtkChartXY& chart = *impl_->host.chart;
  chart.SetBarWidthFraction(1.0f);  // a histogram's bins touch
  chart.GetLegend()->SetHorizontalAlignment(vtkChartLegend::RIGHT);
  chart.GetLegend()->SetVerticalAlignment(vtkChartLegend::TOP);
  detail::set_text_color(chart.GetLegend()->GetLabelProperties());
  rebuild();
}

HistogramChart::~HistogramChart() { detach(); }

void HistogramChart::set_histogram(std::vector<double> counts, double lo, double hi, const std::string& title,
                                   const std::string& x_label) {
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
    throw usage_error("histogram: range [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is empty or not finite");
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (!(std::isfinite(counts[i]) && counts[i] >= 0))
      throw usage_error("histogram: bin " + std::to_string(i) + " has count " + std::to_string(counts[i]));
  impl_->counts = std::move(counts);
  impl_->lo = lo;
  impl_->hi = hi;
  impl_->title = title;
  impl_->x_label = x_label;
  rebuild();
}

void HistogramChart::set_log_counts(bool log) {
  if (log == impl_->log) return;
  impl_->log = log;
  rebuild();
}

bool HistogramChart::log_counts() const noexcept { return impl_->log; }

void HistogramChart::set_threshold(double x, const std::string& label) {
  if (!std::isfinite(x)) throw usage_error("histogram: threshold " + std::to_string(x) + " is not finite");
  impl_->threshold = x;
  impl_->threshold_label = label;
  rebuild();
}

std::optional<double> HistogramChart::threshold() const noexcept { return impl_->threshold; }

void HistogramChart::clear_threshold() {
  impl_->threshold.reset();
  rebuild();
}

void HistogramChart::clear() {
  impl_->counts.clear();
  impl_->lo = 0;
  impl_->hi = 1;
  impl_->title = "no data";
  impl_->threshold.reset();
  rebuild();
}

std::size_t HistogramChart::bin_count() const noexcept { return impl_->counts.size(); }
std::pair<double, double> HistogramChart::x_range() const noexcept { return impl_->x_range; }

void HistogramChart::rebuild() {
  Impl& d = *impl_;
  vtkChartXY& chart = *d.host.chart;
  chart.ClearPlots();
  d.threshold_plot = nullptr;
  chart.SetTitle(d.title);
  vtkAxis* x = chart.GetAxis(vtkAxis::BOTTOM);
  vtkAxis* y = chart.GetAxis(vtkAxis::LEFT);
  x->SetTitle(d.x_label);
  y->SetTitle(d.log ? "count (log)" : "count");

  // Bars: one per bin at its centre, as wide as the bin.
  const double width = (d.hi - d.lo) / static_cast<double>(std::max<std::size_t>(d.counts.size(), 1));
  double top = 0;
  if (!d.counts.empty()) {
    vtkNew<vtkTable> table;
    vtkNew<vtkDoubleArray> centre;
    centre->SetName("bin");
    vtkNew<vtkDoubleArray> height;
    height->SetName("count");
    for (std::size_t i = 0; i < d.counts.size(); ++i) {
      centre->InsertNextValue(d.lo + (static_cast<double>(i) + 0.5) * width);
      const double h = d.log ? log_height(d.counts[i]) : d.counts[i];
      height->InsertNextValue(h);
      top = std::max(top, h);
    }
    table->AddColumn(centre);
    table->AddColumn(height);
    auto* bars = vtkPlotBar::SafeDownCast(chart.AddPlot(vtkChart::BAR));
    bars->SetInputData(table, 0, 1);
    bars->SetColor(palette::bar.r, palette::bar.g, palette::bar.b, 255);
    bars->SetLegendVisibility(false);
    bars->SetTooltipLabelFormat(d.log ? "%x" : "%x: %y");
  }
  if (top <= 0) top = 1;
  const double y_max = top * kHeadroom;

  // The y axis: fixed from 0 (a zoom is reset by every change), decades when logarithmic.
  y->SetBehavior(vtkAxis::FIXED);
  y->SetRange(0, y_max);
  if (d.log) {
    vtkNew<vtkDoubleArray> positions;
    vtkNew<vtkStringArray> labels;
    for (int p = 0; log_height(std::pow(10.0, p)) <= y_max; ++p) {
      positions->InsertNextValue(log_height(std::pow(10.0, p)));
      labels->InsertNextValue(decade_label(p));
    }
    y->SetCustomTickPositions(positions, labels);
  } else {
    y->SetCustomTickPositions(nullptr);
  }

  double x0 = d.lo, x1 = d.hi;
  if (d.threshold) {
    const double t = *d.threshold;
    const double pad = 0.02 * (std::max(x1, t) - std::min(x0, t));
    if (t < x0) x0 = t - pad;
    if (t > x1) x1 = t + pad;
    vtkNew<vtkTable> table;
    vtkNew<vtkDoubleArray> tx;
    tx->SetName("threshold x");
    vtkNew<vtkDoubleArray> ty;
    ty->SetName(d.threshold_label.c_str());
    tx->InsertNextValue(t);
    ty->InsertNextValue(0);
    tx->InsertNextValue(t);
    ty->InsertNextValue(y_max);
    table->AddColumn(tx);
    table->AddColumn(ty);
    vtkPlot* line = chart.AddPlot(vtkChart::LINE);
    line->SetInputData(table, 0, 1);
    line->SetColor(palette::marker.r, palette::marker.g, palette::marker.b, 255);
    line->SetWidth(kThresholdWidth * static_cast<float>(d.scale));
    line->SetLabel(d.threshold_label);
    line->SetTooltipLabelFormat("%l");
    d.threshold_plot = line;
  }
  chart.SetShowLegend(d.threshold.has_value() && !d.threshold_label.empty());
  x->SetBehavior(vtkAxis::FIXED);
  x->SetRange(x0, x1);
  d.x_range = {x0, x1};
  chart.RecalculateBounds();
}

void HistogramChart::on_attach(vtkRenderWindow* window) { impl_->host.attach(window); }
void HistogramChart::on_detach(vtkRenderWindow* window) { impl_->host.detach(window); }

void HistogramChart::on_scale(double scale) {
  impl_->scale = scale;
  impl_->host.scale_axes(scale);
  if (impl_->threshold_plot) impl_->threshold_plot->SetWidth(kThresholdWidth * static_cast<float>(scale));
}

}  // namespace paramscope::figures
