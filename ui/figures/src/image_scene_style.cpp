#include "image_scene_style.h"

#include <vtkActor2D.h>
#include <vtkCamera.h>
#include <vtkImageActor.h>
#include <vtkImageData.h>
#include <vtkImageProperty.h>
#include <vtkImageSliceMapper.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper2D.h>
#include <vtkRenderWindow.h>
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

ImageSceneProps::ImageSceneProps() {
  setup_byte_image(image_actor, image);
  style_colorbar(bar, lut);
  setup_axis_lines(axes, axes_mapper, axes_actor);
  style_title(title_actor);
  style_legend(legend_actor);
}

void ImageSceneProps::add_to(vtkRenderer* renderer) {
  renderer->AddActor(image_actor);
  renderer->AddActor2D(bar);
  renderer->AddActor2D(axes_actor);
  renderer->AddActor2D(title_actor);
  renderer->AddActor2D(legend_actor);
}

void setup_axis_lines(vtkPolyData* axes, vtkPolyDataMapper2D* mapper, vtkActor2D* actor) {
  mapper->SetInputData(axes);
  actor->SetMapper(mapper);
  style_axis_lines(actor);
}

void style_legend(vtkTextActor* legend) {
  vtkTextProperty* p = legend->GetTextProperty();
  p->SetFontSize(12);
  p->SetJustificationToCentered();
  p->SetVerticalJustificationToTop();
  set_text_color(p);
  legend->GetPositionCoordinate()->SetCoordinateSystemToDisplay();
}

void place_colorbar(vtkScalarBarActor* bar, double x_right, double y, double height, int w, int h, double s) {
  bar->SetPosition((x_right + 14 * s) / w, y / h);
  bar->SetPosition2(96 * s / w, height / h);
  bar->SetMaximumWidthInPixels(static_cast<int>(96 * s));
}

void setup_byte_image(vtkImageActor* actor, vtkImageData* image) {
  actor->SetInputData(image);
  actor->InterpolateOff();
  // Whole pixels up to the edges (by default a slice ends at its outer pixels' centres).
  actor->GetMapper()->BorderOn();
  // Colours are computed by the scene: the bytes pass through unchanged.
  actor->GetProperty()->SetColorWindow(255);
  actor->GetProperty()->SetColorLevel(127.5);
}

void place_pixel_camera(vtkRenderer* renderer, int w, int h) {
  vtkCamera* camera = renderer->GetActiveCamera();
  camera->ParallelProjectionOn();
  camera->SetFocalPoint(w / 2.0, h / 2.0, 0);
  camera->SetPosition(w / 2.0, h / 2.0, 1000);
  camera->SetViewUp(0, 1, 0);
  camera->SetParallelScale(h / 2.0);
  camera->SetClippingRange(1, 2000);
}

double window_dpi_scale(vtkRenderWindow* window) { return window ? window->GetDPI() / 72.0 : 1.0; }

void layout_size(vtkRenderWindow* window, int laid_w, int laid_h, double laid_dpi, int& w, int& h, double& s) {
  w = laid_w > 0 ? laid_w : kDefaultWidth;
  h = laid_h > 0 ? laid_h : kDefaultHeight;
  s = laid_dpi > 0 ? laid_dpi : 1.0;
  if (window) {
    const int* size = window->GetSize();
    if (size[0] > 0 && size[1] > 0) {
      w = size[0];
      h = size[1];
      s = window_dpi_scale(window);
    }
  }
}

}  // namespace paramscope::figures::detail
