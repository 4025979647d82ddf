#include "paramscope/figures/line_chart.h"

#include <cmath>
#include <set>

#include <vtkAxis.h>
#include <vtkChartLegend.h>
#include <vtkDoubleArray.h>
#include <vtkPlot.h>
#include <vtkTable.h>

#include "chart_host.h"
#include "paramscope/error.h"

namespace paramscope::figures {
namespace {
constexpr float kLineWidth = 2;
}

struct LineChart::Impl {
  explicit Impl(vtkRenderer* renderer) : host(renderer, "x", "y") {}
  detail::ChartHost host;
  std::vector<LineSeries> series;
  std::string title = "no data", x_label = "x", y_label = "y";
  std::vector<vtkPlot*> plots;  // owned by the chart
  double scale = 1;
};

LineChart::LineChart() : impl_(std::make_unique<Impl>(renderer())) {
  vtkChartXY& chart = *impl_->host.chart;
  chart.GetLegend()->SetHorizontalAlignment(vtkChartLegend::RIGHT);
  chart.GetLegend()->SetVerticalAlignment(vtkChartLegend::TOP);
  detail::set_text_color(chart.GetLegend()->GetLabelProperties());
  rebuild();
}

LineChart::~LineChart() { detach(); }

void LineChart::set_series(std::vector<LineSeries> series, const std::string& title, const std::string& x_label,
                           const std::string& y_label) {
  std::set<std::string> names;
  for (const auto& s : series) {
    if (s.x.size() != s.y.size())
      throw usage_error("line chart: series '" + s.name + "' has " + std::to_string(s.x.size()) + " x and " +
                        std::to_string(s.y.size()) + " y values");
    if (!names.insert(s.name).second) throw usage_error("line chart: two series are named '" + s.name + "'");
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]))
        throw usage_error("line chart: series '" + s.name + "' has a value that is not finite at " + std::to_string(i));
  }
  impl_->series = std::move(series);
  impl_->title = title;
  impl_->x_label = x_label;
  impl_->y_label = y_label;
  rebuild();
}

void LineChart::clear() {
  impl_->series.clear();
  impl_->title = "no data";
  rebuild();
}

std::size_t LineChart::series_count() const noexcept { return impl_->series.size(); }

void LineChart::rebuild() {
  Impl& d = *impl_;
  vtkChartXY& chart = *d.host.chart;
  chart.ClearPlots();
  d.plots.clear();
  chart.SetTitle(d.title);
  chart.GetAxis(vtkAxis::BOTTOM)->SetTitle(d.x_label);
  chart.GetAxis(vtkAxis::LEFT)->SetTitle(d.y_label);
  for (std::size_t i = 0; i < d.series.size(); ++i) {
    const LineSeries& s = d.series[i];
    vtkNew<vtkTable> table;
    vtkNew<vtkDoubleArray> x;
    x->SetName(" x");  // a name no series has: series are named after their y column
    vtkNew<vtkDoubleArray> y;
    y->SetName(s.name.c_str());
    for (std::size_t j = 0; j < s.x.size(); ++j) {
      x->InsertNextValue(s.x[j]);
      y->InsertNextValue(s.y[j]);
    }
    table->AddColumn(x);
    table->AddColumn(y);
    vtkPlot* line = chart.AddPlot(vtkChart::LINE);
    line->SetInputData(table, 0, 1);
    const Rgb c = palette::series[i % palette::series.size()];
    line->SetColor(c.r, c.g, c.b, 255);
    line->SetWidth(kLineWidth * static_cast<float>(d.scale));
    line->SetLabel(s.name);
    d.plots.push_back(line);
  }
  chart.SetShowLegend(!d.series.empty());
  for (int a : {vtkAxis::BOTTOM, vtkAxis::LEFT}) chart.GetAxis(a)->SetBehavior(vtkAxis::AUTO);
  chart.RecalculateBounds();
}

void LineChart::on_attach(vtkRenderWindow* window) { impl_->host.attach(window); }
void LineChart::on_detach(vtkRenderWindow* window) { impl_->host.detach(window); }

void LineChart::on_scale(double scale) {
  impl_->scale = scale;
  impl_->host.scale_axes(scale);
  for (vtkPlot* p : impl_->plots) p->SetWidth(kLineWidth * static_cast<float>(scale));
}

}  // namespace paramscope::figures
