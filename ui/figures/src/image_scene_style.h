// The house style of the scenes drawn from VTK props rather than a chart (heatmap, surface): a
// colour bar, a title, axis lines and their text, as BlockChart draws its own.
#pragma once

#include "paramscope/figures/palette.h"

class vtkActor2D;
class vtkLookupTable;
class vtkScalarBarActor;
class vtkTextActor;
class vtkTextProperty;

namespace paramscope::figures::detail {

/// A vertical colour bar of lut's 256 colours with five plain 12 pt labels.
void style_colorbar(vtkScalarBarActor* bar, vtkLookupTable* lut);
/// A bold 15 pt title, centred under its position (display coordinates).
void style_title(vtkTextActor* title);
/// Axis lines in the text colour.
void style_axis_lines(vtkActor2D* axes);
void set_text_color(vtkTextProperty* p, Rgb c = palette::text);

}  // namespace paramscope::figures::detail
