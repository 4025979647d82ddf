#include "chart_host.h"

#include <vtkAxis.h>
#include <vtkContextScene.h>
#include <vtkPen.h>
#include <vtkRenderWindow.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>
#include <vtkTextProperty.h>

namespace paramscope::figures::detail {

void set_pen_color(vtkPen* pen, Rgb c, unsigned char alpha) { pen->SetColor(c.r, c.g, c.b, alpha); }

ChartHost::ChartHost(vtkRenderer* renderer, const char* x_title, const char* y_title) {
  vtkContextScene* scene = actor->GetScene();
  scene->SetRenderer(renderer);
  scene->AddItem(chart);
  renderer->AddActor(actor);

  chart->SetRenderEmpty(true);
  chart->GetTitleProperties()->SetFontSize(15);
  chart->GetTitleProperties()->BoldOn();
  set_text_color(chart->GetTitleProperties());
  vtkAxis* x = chart->GetAxis(vtkAxis::BOTTOM);
  vtkAxis* y = chart->GetAxis(vtkAxis::LEFT);
  x->SetTitle(x_title);
  y->SetTitle(y_title);
  x->SetGridVisible(false);
  for (vtkAxis* axis : {x, y}) {
    set_text_color(axis->GetTitleProperties());
    set_text_color(axis->GetLabelProperties());
  }
}

void ChartHost::attach(vtkRenderWindow* window) {
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (!iren) return;
  iren->SetInteractorStyle(style);
  style->SetScene(actor->GetScene());
}

void ChartHost::detach(vtkRenderWindow* window) {
  style->SetScene(nullptr);
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (iren && iren->GetInteractorStyle() == style.GetPointer()) iren->SetInteractorStyle(nullptr);
}

void ChartHost::scale_axes(double scale) {
  const auto w = static_cast<float>(scale);
  for (int i = 0; i < 4; ++i) {
    vtkAxis* axis = chart->GetAxis(i);
    axis->GetPen()->SetWidth(w);
    axis->GetGridPen()->SetWidth(w);
  }
}

}  // namespace paramscope::figures::detail
