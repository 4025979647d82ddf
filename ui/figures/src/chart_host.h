// What every vtkChartXY scene shares: the chart on a context actor in the scene's renderer, its
// mouse input while attached to a window with an interactor, the house style (text colour from
// image_scene_style.h), and the export scale.
#pragma once

#include <vtkChartXY.h>
#include <vtkContextActor.h>
#include <vtkContextInteractorStyle.h>
#include <vtkNew.h>

#include "image_scene_style.h"
#include "paramscope/figures/palette.h"

class vtkPen;
class vtkRenderer;
class vtkRenderWindow;
class vtkTextProperty;

namespace paramscope::figures::detail {

void set_pen_color(vtkPen* pen, Rgb c, unsigned char alpha = 255);

struct ChartHost {
  /// Puts the chart in renderer, with BlockChart's look: bold 15 pt title, dark text, axis titles.
  ChartHost(vtkRenderer* renderer, const char* x_title, const char* y_title);

  /// The style watches the scene only while an interactor is there: on a scene change it asks the
  /// interactor for a render, and without one (an offscreen window) it would crash.
  void attach(vtkRenderWindow* window);
  void detach(vtkRenderWindow* window);
  /// Axis lines and grid `scale` times their on-screen width (text scales with the window's DPI).
  void scale_axes(double scale);

  vtkNew<vtkContextActor> actor;
  vtkNew<vtkChartXY> chart;
  vtkNew<vtkContextInteractorStyle> style;
};

}  // namespace paramscope::figures::detail
