// Heatmap of a matrix (a tensor or an importance map) drawn from a TensorPyramid: an image of
// exactly the visible window at the window's pixel size, re-queried on every zoom, pan or resize,
// with a colorbar, row/column axes, a title, a hover read-out and a mask overlay.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "paramscope/figures/colormap.h"
#include "paramscope/figures/scene.h"
#include "paramscope/pyramid.h"

namespace paramscope::figures {

enum class ColorScale : std::uint8_t {
  Linear,  ///< the value, clipped to [lo, hi] percentiles (symmetric around 0 for a diverging map)
  Log,     ///< log10 |x| (the sign is dropped), clipped to [lo, hi] percentiles of |x| where the
           ///< low end counts non-zero |x| only and is at least hi * 1e-12; zeros take the lowest colour
};

/// The element under a pixel and its exact value (read from the tensor, not from a coarse level).
struct Readout {
  std::int64_t row = 0, col = 0;
  float value = 0;
};

/// The visible part of the matrix: rows [row0, row1) x cols [col0, col1), fractional.
struct MatrixWindow {
  double row0 = 0, row1 = 1, col0 = 0, col1 = 1;
};

/// A rectangle of the render window in pixels, origin at the top-left (as in a saved PNG).
struct PixelRect {
  int x = 0, y = 0, width = 0, height = 0;
  bool contains(int px, int py) const noexcept { return px >= x && py >= y && px < x + width && py < y + height; }
};

class HeatmapScene final : public Scene {
public:
  HeatmapScene();
  ~HeatmapScene() override;

  /// Shows pyramid (built by the caller, typically on the pool) and resets the view to the whole
  /// matrix. title names what is shown ("model.layers.0.mlp.up_proj.weight [11008, 4096] BF16").
  void set_pyramid(std::shared_ptr<const TensorPyramid> pyramid, const std::string& title);
  /// Shows a small dense rows x cols matrix (its pyramid is built here, on the calling thread).
  /// throws Error(Usage) if values does not hold rows * cols floats.
  void set_matrix(std::vector<float> values, std::int64_t rows, std::int64_t cols, const std::string& title);
  /// Shows nothing (and a placeholder title).
  void clear();
  const TensorPyramid* pyramid() const noexcept;

  void set_colormap(Colormap map);
  Colormap colormap() const noexcept;
  void set_scale(ColorScale scale);
  ColorScale scale() const noexcept;
  /// Colours span the lo..hi percentiles of the values (0 and 100: min and max). Percentiles have
  /// the pyramid's histogram accuracy (one BF16 step). throws Error(Usage) unless 0 <= lo < hi <= 100.
  void set_clip_percentiles(double lo, double hi);
  /// How a screen pixel reduces the elements it covers; a reduction the pyramid lacks falls back to
  /// the one it has.
  void set_reduction(PyramidReduction reduction);
  PyramidReduction reduction() const noexcept;
  /// The values at the two ends of the colour scale (|x| for the log scale).
  std::pair<double, double> color_range() const noexcept;

  /// Overlays the elements whose score is in the top `percent` % of scores (a pyramid of the same
  /// shape; scores are importance, >= 0). A coarse pixel is overlaid when any element it covers is
  /// selected. The threshold is the scores' (100 - percent) percentile (one BF16 step, toward zero,
  /// so ties with it are selected too) and is shown under the title.
  /// throws Error(Usage) for another shape or percent outside (0, 100].
  void set_overlay_top_k(std::shared_ptr<const TensorPyramid> scores, double percent);
  /// Overlays the elements where mask (rows * cols bytes, row-major) is nonzero.
  /// throws Error(Usage) for another size.
  void set_overlay_mask(std::shared_ptr<const std::vector<std::uint8_t>> mask, const std::string& label = "mask");
  void clear_overlay();
  /// The overlay's colour; until it is set, the colormap's contrasting_color().
  void set_overlay_color(Rgb color, double opacity = 0.6);
  Rgb overlay_color() const noexcept;
  double overlay_opacity() const noexcept;
  /// The overlay threshold in effect (top-k), or nullopt.
  std::optional<float> overlay_threshold() const noexcept;

  /// The visible window; values outside the matrix are clamped into it. Zoom is limited so that
  /// one element is at most 64 pixels wide (or the whole axis is visible).
  void set_view(double row0, double row1, double col0, double col1);
  void reset_view();
  MatrixWindow view() const noexcept;
  /// Zooms by factor (> 1: in) keeping the element under pixel (x, y) where it is.
  void zoom(double factor, int x, int y);
  /// Moves the content by (dx, dy) pixels, as a drag does (right/down: see more of the left/top).
  void pan(int dx, int dy);

  /// Where the heatmap image lies in a window of the current size (the attached window's, else
  /// the last rendered one's, else 800 x 600).
  PixelRect plot_rect() const;
  /// The element under pixel (x, y) of the window, or nullopt outside the matrix's image.
  /// throws what reading the tensor throws.
  std::optional<Readout> readout_at(int x, int y) const;
  /// Called on the GUI thread when the hovered element changes (nullopt when the pointer leaves).
  void set_hover_callback(std::function<void(const std::optional<Readout>&)> callback);

protected:
  void on_attach(vtkRenderWindow* window) override;
  void on_detach(vtkRenderWindow* window) override;
  void on_scale(double scale) override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
