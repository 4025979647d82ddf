#include "image_scene_style.h"

#include <vtkActor2D.h>
#include <vtkCoordinate.h>
#include <vtkLookupTable.h>
#include <vtkProperty2D.h>
#include <vtkScalarBarActor.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>

namespace paramscope::figures::detail {

void set_text_color(vtkTextProperty* p, Rgb c) { p->SetColor(c.r / 255.0, c.g / 255.0, c.b / 255.0); }

void style_colorbar(vtkScalarBarActor* bar, vtkLookupTable* lut) {
  lut->SetNumberOfTableValues(256);
  lut->Build();
  bar->SetLookupTable(lut);
  bar->SetNumberOfLabels(5);
  bar->SetLabelFormat("%-8.4g");
  bar->SetBarRatio(0.22);
  bar->UnconstrainedFontSizeOn();
  vtkTextProperty* labels = bar->GetLabelTextProperty();
  labels->SetFontSize(12);
  labels->ShadowOff();
  labels->ItalicOff();
  labels->BoldOff();
  set_text_color(labels);
}

void style_title(vtkTextActor* title) {
  vtkTextProperty* p = title->GetTextProperty();
  p->SetFontSize(15);
  p->BoldOn();
  p->SetJustificationToCentered();
  p->SetVerticalJustificationToTop();
  set_text_color(p);
  title->GetPositionCoordinate()->SetCoordinateSystemToDisplay();
}

void style_axis_lines(vtkActor2D* axes) {
  axes->GetProperty()->SetColor(palette::text.r / 255.0, palette::text.g / 255.0, palette::text.b / 255.0);
}

}  // namespace paramscope::figures::detail
