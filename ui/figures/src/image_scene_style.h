// The house style of the scenes drawn from VTK props rather than a chart (heatmap, attribution
// overlay, surface): a colour bar, a title, a legend line, axis lines and their text, as BlockChart
// draws its own; the image prop, the pixel camera and the layout pass before each render that
// those scenes share.
#pragma once

#include <string>
#include <vector>

#include <vtkActor2D.h>
#include <vtkCallbackCommand.h>
#include <vtkCommand.h>
#include <vtkImageActor.h>
#include <vtkImageData.h>
#include <vtkLookupTable.h>
#include <vtkNew.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper2D.h>
#include <vtkRenderer.h>
#include <vtkScalarBarActor.h>
#include <vtkSmartPointer.h>
#include <vtkTextActor.h>

#include "paramscope/figures/palette.h"

class vtkActor2D;
class vtkImageActor;
class vtkImageData;
class vtkLookupTable;
class vtkPolyData;
class vtkPolyDataMapper2D;
class vtkRenderWindow;
class vtkScalarBarActor;
class vtkTextActor;
class vtkTextProperty;

namespace paramscope::figures::detail {

/// The window size a scene lays itself out for before its first render.
inline constexpr int kDefaultWidth = 800, kDefaultHeight = 600;

/// A vertical colour bar of lut's 256 colours with five plain 12 pt labels.
void style_colorbar(vtkScalarBarActor* bar, vtkLookupTable* lut);
/// Places the bar 14 points right of x_right (display pixels), its lower edge at y and this
/// height, 96 points wide, in a window of w x h pixels at s pixels per point.
void place_colorbar(vtkScalarBarActor* bar, double x_right, double y, double height, int w, int h, double s);
/// A bold 15 pt title, centred under its position (display coordinates).
void style_title(vtkTextActor* title);
/// A 12 pt line centred under its position (display coordinates), in the text colour.
void style_legend(vtkTextActor* legend);
/// Axis lines in the text colour, drawn by mapper from axes.
void style_axis_lines(vtkActor2D* axes);
void setup_axis_lines(vtkPolyData* axes, vtkPolyDataMapper2D* mapper, vtkActor2D* actor);
void set_text_color(vtkTextProperty* p, Rgb c = palette::text);

/// An image of RGB bytes shown as they are: no interpolation, whole pixels up to the edges.
void setup_byte_image(vtkImageActor* actor, vtkImageData* image);
/// A parallel camera that maps world units to the pixels of a w x h window (origin bottom left).
void place_pixel_camera(vtkRenderer* renderer, int w, int h);

/// The props an image scene (heatmap, attribution overlay) is made of, styled: an RGB byte image
/// as a 3-D prop under a pixel camera (SVG and PDF exports embed 3-D props as a raster image and
/// leave 2-D images out), its colour bar, axis lines with tick labels, a title and a legend line,
/// and the command that lays them out before each render (see call_before_render).
struct ImageSceneProps {
  ImageSceneProps();
  /// Adds the image, the bar, the axes, the title and the legend to renderer.
  void add_to(vtkRenderer* renderer);

  vtkNew<vtkImageData> image;
  vtkNew<vtkImageActor> image_actor;
  vtkNew<vtkLookupTable> lut;
  vtkNew<vtkScalarBarActor> bar;
  vtkNew<vtkPolyData> axes;
  vtkNew<vtkPolyDataMapper2D> axes_mapper;
  vtkNew<vtkActor2D> axes_actor;
  std::vector<vtkSmartPointer<vtkTextActor>> tick_labels;
  vtkNew<vtkTextActor> title_actor, legend_actor;
  vtkNew<vtkCallbackCommand> before_render;
  unsigned long observer = 0;
  double line_scale = 1;
};

/// The size to lay out for: the window's when it has one, else the last laid-out size (0: none
/// yet, then 800 x 600 at 1 pixel per point).
void layout_size(vtkRenderWindow* window, int laid_w, int laid_h, double laid_dpi, int& w, int& h, double& s);

/// Pixels per point of the window (its DPI / 72; 1 without a window).
double window_dpi_scale(vtkRenderWindow* window);

/// Makes renderer call impl->before(width, height, pixels per point) at the start of each render
/// (the scenes lay out and recolour there); returns the observer's tag for RemoveObserver.
template <class Impl>
unsigned long call_before_render(vtkRenderer* renderer, vtkCallbackCommand* command, Impl* impl) {
  command->SetClientData(impl);
  command->SetCallback([](vtkObject* caller, unsigned long, void* self, void*) {
    auto* r = static_cast<vtkRenderer*>(caller);
    const int* size = r->GetSize();
    vtkRenderWindow* win = r->GetRenderWindow();
    static_cast<Impl*>(self)->before(size[0] > 1 ? size[0] : 1, size[1] > 1 ? size[1] : 1, window_dpi_scale(win));
  });
  return renderer->AddObserver(vtkCommand::StartEvent, command);
}

}  // namespace paramscope::figures::detail
