#include "paramscope/figures/block_chart.h"

#include <vtkAxis.h>
#include <vtkChartXY.h>
#include <vtkContextActor.h>
#include <vtkContextInteractorStyle.h>
#include <vtkContextScene.h>
#include <vtkDoubleArray.h>
#include <vtkNew.h>
#include <vtkPlotBar.h>
#include <vtkRenderWindow.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>
#include <vtkStringArray.h>
#include <vtkTable.h>
#include <vtkTextProperty.h>

#include "paramscope/figures/palette.h"

namespace paramscope::figures {
namespace {

// Beyond this many bars only every n-th block is labelled, so labels do not overprint.
constexpr std::size_t kMaxAxisLabels = 32;
// Up to this many bars, labels fit upright.
constexpr std::size_t kUprightLabels = 8;

void set_text_color(vtkTextProperty* p) {
  p->SetColor(palette::text.r / 255.0, palette::text.g / 255.0, palette::text.b / 255.0);
}

}  // namespace

struct BlockChart::Impl {
  vtkNew<vtkContextActor> actor;
  vtkNew<vtkChartXY> chart;
  vtkNew<vtkContextInteractorStyle> style;
  std::size_t bars = 0;
};

BlockChart::BlockChart() : impl_(std::make_unique<Impl>()) {
  vtkContextScene* scene = impl_->actor->GetScene();
  scene->SetRenderer(renderer());
  scene->AddItem(impl_->chart);
  renderer()->AddActor(impl_->actor);

  auto& chart = *impl_->chart;
  chart.SetRenderEmpty(true);
  chart.SetShowLegend(false);
  chart.SetBarWidthFraction(0.8f);
  chart.GetTitleProperties()->SetFontSize(15);
  chart.GetTitleProperties()->BoldOn();
  set_text_color(chart.GetTitleProperties());
  vtkAxis* x = chart.GetAxis(vtkAxis::BOTTOM);
  x->SetTitle("block");
  x->SetGridVisible(false);
  vtkAxis* y = chart.GetAxis(vtkAxis::LEFT);
  y->SetTitle("parameters");
  for (vtkAxis* axis : {x, y}) {
    set_text_color(axis->GetTitleProperties());
    set_text_color(axis->GetLabelProperties());
  }
  clear();
}

BlockChart::~BlockChart() { detach(); }

std::size_t BlockChart::bar_count() const noexcept { return impl_->bars; }

void BlockChart::set_checkpoint(const Checkpoint& checkpoint) {
  std::string title = checkpoint.path().filename().string();
  if (title.empty()) title = checkpoint.path().parent_path().filename().string();  // "dir/"
  set_bars(block_bars(checkpoint), title + ": parameters per block");
}

void BlockChart::clear() { set_bars({}, "no checkpoint"); }

void BlockChart::set_bars(std::vector<BlockBar> bars, const std::string& title) {
  auto& chart = *impl_->chart;
  chart.ClearPlots();
  chart.SetTitle(title);
  impl_->bars = bars.size();

  vtkAxis* x = chart.GetAxis(vtkAxis::BOTTOM);
  vtkAxis* y = chart.GetAxis(vtkAxis::LEFT);
  if (bars.empty()) {
    x->SetCustomTickPositions(nullptr);
    for (vtkAxis* axis : {x, y}) {
      axis->SetBehavior(vtkAxis::FIXED);
      axis->SetRange(0, 1);
    }
    return;
  }

  vtkNew<vtkTable> table;
  vtkNew<vtkDoubleArray> position;
  position->SetName("block");
  vtkNew<vtkDoubleArray> count;
  count->SetName("parameters");
  vtkNew<vtkStringArray> names;  // full block names, for tooltips
  vtkNew<vtkDoubleArray> tick_positions;
  vtkNew<vtkStringArray> tick_labels;
  const std::size_t step = (bars.size() + kMaxAxisLabels - 1) / kMaxAxisLabels;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    position->InsertNextValue(static_cast<double>(i));
    count->InsertNextValue(static_cast<double>(bars[i].parameters));
    names->InsertNextValue(bars[i].block.empty() ? bars[i].label : bars[i].block);
    if (i % step == 0) {
      tick_positions->InsertNextValue(static_cast<double>(i));
      tick_labels->InsertNextValue(bars[i].label);
    }
  }
  table->AddColumn(position);
  table->AddColumn(count);

  auto* plot = vtkPlotBar::SafeDownCast(chart.AddPlot(vtkChart::BAR));
  plot->SetInputData(table, 0, 1);
  plot->SetColor(palette::bar.r, palette::bar.g, palette::bar.b, 255);
  plot->SetIndexedLabels(names);
  plot->SetTooltipLabelFormat("%i: %y parameters");
  plot->SetTooltipNotation(vtkAxis::FIXED_NOTATION);  // counts as integers, not 6.7e+09
  plot->SetTooltipPrecision(0);

  x->SetCustomTickPositions(tick_positions, tick_labels);
  // Many labels side by side would overprint: tilt them, hanging from their tick.
  vtkTextProperty* labels = x->GetLabelProperties();
  if (bars.size() > kUprightLabels) {
    labels->SetOrientation(45);
    labels->SetJustificationToRight();
    labels->SetVerticalJustificationToTop();
  } else {
    labels->SetOrientation(0);
    labels->SetJustificationToCentered();
    labels->SetVerticalJustificationToTop();
  }
  // A new checkpoint starts unzoomed. The x range is exactly the bars: automatic ranges round
  // to "nice" numbers and leave a gap on one side.
  x->SetBehavior(vtkAxis::FIXED);
  x->SetRange(-0.5, static_cast<double>(bars.size()) - 0.5);
  y->SetBehavior(vtkAxis::AUTO);
  chart.RecalculateBounds();
}

// The style watches the scene only while an interactor is there: on a scene change it asks the
// interactor for a render, and without one (an offscreen window) it would crash.
void BlockChart::on_attach(vtkRenderWindow* window) {
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (!iren) return;
  iren->SetInteractorStyle(impl_->style);
  impl_->style->SetScene(impl_->actor->GetScene());
}

void BlockChart::on_detach(vtkRenderWindow* window) {
  impl_->style->SetScene(nullptr);
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (iren && iren->GetInteractorStyle() == impl_->style.GetPointer()) iren->SetInteractorStyle(nullptr);
}

}  // namespace paramscope::figures
