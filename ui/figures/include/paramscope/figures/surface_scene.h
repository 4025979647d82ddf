// A 3-D view: a rows x cols grid of values (a tensor's heightfield, importance over blocks and
// neurons) drawn as a surface whose height and colour are the value, with labelled axes, a
// colorbar and a title; the mouse rotates (trackball) and zooms (wheel).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "paramscope/figures/colormap.h"
#include "paramscope/figures/scene.h"

namespace paramscope::figures {

/// What a surface shows. Large sources are reduced to a grid of at most a few hundred cells a side
/// before they get here (figure_data.h: surface_of_pyramid, surface_of_neurons).
struct SurfaceGrid {
  std::vector<float> values;  ///< rows * cols, row-major; NaN: no value there (see SurfaceScene)
  std::int64_t rows = 0, cols = 0;
  /// The source coordinates of the first and last grid row and column (the centres of the cells
  /// they stand for): the axes are labelled in them. A grid reduced from a larger matrix has
  /// first / last rows like 3.5 / 4091.5.
  double row_first = 0, row_last = 0, col_first = 0, col_last = 0;
  /// One name per row (block names), shown on the row axis instead of numbers; empty: numbers.
  std::vector<std::string> row_labels;
  std::string row_axis = "row", col_axis = "column", value_axis = "value";
};

/// The camera: azimuth (degrees) of the viewer around the vertical axis, measured like
/// matplotlib's azim; elevation (degrees, -90..90) above the footprint; zoom 1 fits the surface in
/// the plot area, 2 shows it twice as large.
struct SurfaceCamera {
  double azimuth = -60, elevation = 30, zoom = 1;  // matplotlib's default 3/4 view
};

class SurfaceScene final : public Scene {
public:
  /// At most this many grid points a side (set_grid refuses more: reduce first).
  static constexpr std::int64_t kMaxSide = 1024;

  SurfaceScene();
  ~SurfaceScene() override;

  /// Shows grid. The footprint is a square whatever the grid's shape (columns along x, left to
  /// right in the default view; row 0 at the back, as at the top of a heatmap), one grid point per
  /// value at the cells' centres. Points with NaN are not drawn: the quads around them are left
  /// out, so a NaN shows as a hole (the background). The camera is kept.
  /// throws Error(Usage) if values does not hold rows * cols floats or a side is outside 1..kMaxSide.
  void set_grid(SurfaceGrid grid, const std::string& title);
  /// Shows nothing (and a placeholder title).
  void clear();
  const SurfaceGrid& grid() const noexcept;

  void set_colormap(Colormap map);
  Colormap colormap() const noexcept;
  /// The values at the two ends of the colour scale: min and max of the finite values, symmetric
  /// around 0 for a diverging map over signed values (as the heatmap); {0, 1} when there are none.
  std::pair<double, double> color_range() const noexcept;
  /// The height of the value range as a fraction of the footprint's side (default 0.5).
  /// throws Error(Usage) outside (0, 10].
  void set_height_fraction(double fraction);
  double height_fraction() const noexcept;

  /// Points the camera (parallel projection, centred on the surface). Elevation 90 looks straight
  /// down with columns to the right and rows down when azimuth is -90, as a heatmap shows them.
  /// throws Error(Usage) for elevation outside -90..90, zoom outside (0, 1000] or non-finite values.
  void set_camera(double azimuth_deg, double elevation_deg, double zoom = 1);
  /// The default 3/4 view (SurfaceCamera{}).
  void reset_camera();
  /// The camera now (after mouse rotation and zoom too).
  SurfaceCamera camera() const;

  /// Where the surface point of grid position (row, col) (fractional) is drawn, in pixels of the
  /// window last rendered (origin top-left, as in a saved PNG); nullopt before any render or
  /// without a grid.
  std::optional<std::pair<double, double>> pixel_of(double row, double col) const;

protected:
  void on_attach(vtkRenderWindow* window) override;
  void on_detach(vtkRenderWindow* window) override;
  void on_scale(double scale) override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
