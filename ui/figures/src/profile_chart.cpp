#include "paramscope/figures/profile_chart.h"

#include <cmath>
#include <set>

#include <vtkAxis.h>
#include <vtkChartLegend.h>
#include <vtkCommand.h>
#include <vtkDoubleArray.h>
#include <vtkPlotBar.h>
#include <vtkPlotLine.h>
#include <vtkStringArray.h>
#include <vtkTable.h>
#include <vtkTextProperty.h>

#include "chart_host.h"
#include "paramscope/error.h"

namespace paramscope::figures {
namespace {

constexpr std::size_t kMaxAxisLabels = 32;  // as BlockChart: beyond, every n-th block is labelled
constexpr std::size_t kUprightLabels = 8;
constexpr float kLineWidth = 2;
constexpr float kMarkerSize = 7;
// The x column's name, one a series cannot have (series are named after their column).
constexpr const char* kBlockColumn = "\x1f" "block";

}  // namespace

struct ProfileChart::Impl {
  explicit Impl(vtkRenderer* renderer) : host(renderer, "block", "score") {}
  detail::ChartHost host;
  std::vector<std::string> blocks;
  std::vector<ProfileSeries> series;
  std::string title = "no profile";
  std::string score_label = "score";
  Style style = Style::Bars;
  ClickHandler handler;
  std::vector<vtkPlot*> plots;  // owned by the chart
  double scale = 1;
  unsigned long observer = 0;

  // vtkChartXY reports a click on a data point as an InteractionEvent carrying the point (zoom
  // and wheel events carry nothing).
  void on_chart_event(vtkObject*, unsigned long, void* data) {
    if (!data || !handler) return;
    const auto* hit = static_cast<const vtkChartPlotData*>(data);
    for (std::size_t s = 0; s < series.size(); ++s)
      if (series[s].name == hit->SeriesName && hit->Index >= 0 && static_cast<std::size_t>(hit->Index) < blocks.size()) {
        handler(hit->Index, static_cast<int>(s));
        return;
      }
  }
};

ProfileChart::ProfileChart() : impl_(std::make_unique<Impl>(renderer())) {
  vtkChartXY& chart = *impl_->host.chart;
  chart.SetBarWidthFraction(0.8f);
  chart.GetLegend()->SetHorizontalAlignment(vtkChartLegend::RIGHT);
  chart.GetLegend()->SetVerticalAlignment(vtkChartLegend::TOP);
  detail::set_text_color(chart.GetLegend()->GetLabelProperties());
  impl_->observer = chart.AddObserver(vtkCommand::InteractionEvent, impl_.get(), &Impl::on_chart_event);
  rebuild();
}

ProfileChart::~ProfileChart() {
  detach();
  impl_->host.chart->RemoveObserver(impl_->observer);
}

void ProfileChart::set_profile(std::vector<std::string> block_labels, std::vector<ProfileSeries> series,
                               const std::string& title, const std::string& score_label) {
  std::set<std::string> names;
  for (const auto& s : series) {
    if (s.values.size() != block_labels.size())
      throw usage_error("profile: series '" + s.name + "' has " + std::to_string(s.values.size()) + " values for " +
                        std::to_string(block_labels.size()) + " blocks");
    if (!names.insert(s.name).second) throw usage_error("profile: two series are named '" + s.name + "'");
    for (double v : s.values)
      if (std::isinf(v)) throw usage_error("profile: series '" + s.name + "' holds an infinite value");
  }
  impl_->blocks = std::move(block_labels);
  impl_->series = std::move(series);
  impl_->title = title;
  impl_->score_label = score_label;
  rebuild();
}

void ProfileChart::set_style(Style style) {
  if (style == impl_->style) return;
  impl_->style = style;
  rebuild();
}

ProfileChart::Style ProfileChart::style() const noexcept { return impl_->style; }

void ProfileChart::clear() {
  impl_->blocks.clear();
  impl_->series.clear();
  impl_->title = "no profile";
  rebuild();
}

void ProfileChart::on_click(ClickHandler handler) { impl_->handler = std::move(handler); }
std::size_t ProfileChart::block_count() const noexcept { return impl_->blocks.size(); }
std::size_t ProfileChart::series_count() const noexcept { return impl_->series.size(); }

void ProfileChart::rebuild() {
  Impl& d = *impl_;
  vtkChartXY& chart = *d.host.chart;
  chart.ClearPlots();
  d.plots.clear();
  chart.SetTitle(d.title);
  vtkAxis* x = chart.GetAxis(vtkAxis::BOTTOM);
  vtkAxis* y = chart.GetAxis(vtkAxis::LEFT);
  y->SetTitle(d.score_label);
  chart.SetShowLegend(!d.series.empty());
  if (d.blocks.empty() || d.series.empty()) {
    x->SetCustomTickPositions(nullptr);
    for (vtkAxis* axis : {x, y}) {
      axis->SetBehavior(vtkAxis::FIXED);
      axis->SetRange(0, 1);
    }
    return;
  }

  const bool bars = d.style == Style::Bars;
  vtkNew<vtkTable> table;
  vtkNew<vtkDoubleArray> position;
  position->SetName(kBlockColumn);
  vtkNew<vtkStringArray> labels;  // tooltips
  vtkNew<vtkDoubleArray> tick_positions;
  vtkNew<vtkStringArray> tick_labels;
  const std::size_t step = (d.blocks.size() + kMaxAxisLabels - 1) / kMaxAxisLabels;
  for (std::size_t i = 0; i < d.blocks.size(); ++i) {
    position->InsertNextValue(static_cast<double>(i));
    labels->InsertNextValue(d.blocks[i]);
    if (i % step == 0) {
      tick_positions->InsertNextValue(static_cast<double>(i));
      tick_labels->InsertNextValue(d.blocks[i]);
    }
  }
  table->AddColumn(position);
  double lowest = 0, highest = 0;
  for (const auto& s : d.series) {
    vtkNew<vtkDoubleArray> column;
    column->SetName(s.name.c_str());
    for (double v : s.values) {
      // A missing module: no bar; a gap in a line (VTK skips NaN points).
      column->InsertNextValue(std::isnan(v) && bars ? 0.0 : v);
      if (!std::isnan(v)) {
        lowest = std::min(lowest, v);
        highest = std::max(highest, v);
      }
    }
    table->AddColumn(column);
  }
  for (std::size_t s = 0; s < d.series.size(); ++s) {
    vtkPlot* plot = chart.AddPlot(bars ? vtkChart::BAR : vtkChart::LINE);
    plot->SetInputData(table, 0, static_cast<vtkIdType>(s + 1));
    const Rgb c = palette::series[s % palette::series.size()];
    plot->SetColor(c.r, c.g, c.b, 255);
    plot->SetLabel(d.series[s].name);
    plot->SetIndexedLabels(labels);
    plot->SetTooltipLabelFormat("%i %l: %y");
    if (!bars) {
      plot->SetWidth(kLineWidth * static_cast<float>(d.scale));
      auto* line = vtkPlotLine::SafeDownCast(plot);
      line->SetMarkerStyle(vtkPlotPoints::CIRCLE);
      line->SetMarkerSize(kMarkerSize * static_cast<float>(d.scale));
    }
    d.plots.push_back(plot);
  }

  x->SetCustomTickPositions(tick_positions, tick_labels);
  vtkTextProperty* tick_text = x->GetLabelProperties();
  tick_text->SetOrientation(d.blocks.size() > kUprightLabels ? 45 : 0);
  if (d.blocks.size() > kUprightLabels)
    tick_text->SetJustificationToRight();
  else
    tick_text->SetJustificationToCentered();
  tick_text->SetVerticalJustificationToTop();
  x->SetBehavior(vtkAxis::FIXED);
  x->SetRange(-0.5, static_cast<double>(d.blocks.size()) - 0.5);
  // From 0 (or below, for signed scores) to just above the highest value.
  y->SetBehavior(vtkAxis::FIXED);
  if (highest <= lowest) highest = lowest + 1;
  const double pad = 0.05 * (highest - lowest);
  y->SetRange(lowest < 0 ? lowest - pad : 0, highest + pad);
  chart.RecalculateBounds();
}

void ProfileChart::on_attach(vtkRenderWindow* window) { impl_->host.attach(window); }
void ProfileChart::on_detach(vtkRenderWindow* window) { impl_->host.detach(window); }

void ProfileChart::on_scale(double scale) {
  impl_->scale = scale;
  impl_->host.scale_axes(scale);
  if (impl_->style == Style::Lines)
    for (vtkPlot* plot : impl_->plots) {
      plot->SetWidth(kLineWidth * static_cast<float>(scale));
      vtkPlotLine::SafeDownCast(plot)->SetMarkerSize(kMarkerSize * static_cast<float>(scale));
    }
}

}  // namespace paramscope::figures
