// A figure drawn with VTK: it owns a renderer that can be shown in any render window (the GUI's
// Qt widget, a test's window) or rendered offscreen to a PNG, SVG or PDF file, with or without a
// display.
#pragma once

#include <filesystem>
#include <memory>

class vtkRenderWindow;
class vtkRenderer;

namespace paramscope::figures {

/// How Scene::save() draws a figure. A figure is laid out like the on-screen view at 100 %
/// scaling when printed at kReferenceDpi: at 300 dpi the same figure has 3x the pixels, and its
/// text, lines and margins are 3x as wide, so it looks the same, only sharper.
struct ExportOptions {
  static constexpr double kReferenceDpi = 100;

  /// The size: either in pixels (both > 0) or, if the pixels are 0, in inches. PNG pixels are
  /// inches * dpi; an SVG/PDF page is inches * 72 points (pixels / dpi inches when pixels are set).
  int width_px = 0, height_px = 0;
  double width_in = 6.4, height_in = 4.0;  // matplotlib's default figure size
  /// Resolution of a PNG and the scale of text and lines (dpi / kReferenceDpi). SVG and PDF are
  /// drawn at 72 units per inch (1 point), so they look like the PNG at any dpi.
  double dpi = kReferenceDpi;

  /// Where OpenGL comes from. Automatic: an offscreen X window when DISPLAY names a reachable
  /// X server, else Headless; the environment variable PARAMSCOPE_HEADLESS=1 forces Headless and
  /// =0 forces Window. Headless: a Mesa EGL surfaceless context, no display needed (the CLI).
  /// Window: an offscreen X window (throws Unsupported without a display).
  enum class Backend { Automatic, Window, Headless };
  Backend backend = Backend::Automatic;
};

class Scene {
public:
  virtual ~Scene();
  Scene(const Scene&) = delete;
  Scene& operator=(const Scene&) = delete;

  /// Shows the scene in window, filling it. A scene is in at most one window: attaching it to
  /// another moves it. If the window has an interactor, the scene takes its mouse input.
  void attach(vtkRenderWindow* window);
  /// Takes the scene out of its window (nothing happens if it is in none).
  void detach();
  /// The window the scene is attached to, or nullptr.
  vtkRenderWindow* window() const noexcept;

  /// Renders the scene offscreen and writes it to file, in the format its extension names
  /// (.png, .svg, .pdf; any case). SVG and PDF hold text and lines as vectors and the 3-D props
  /// (images, surfaces) as one embedded raster image. The file appears complete or not at all
  /// (written under a temporary name and renamed). A scene attached to a window returns to it.
  /// throws Error(Usage) for another extension, a size outside 1..16384 pixels or a dpi outside
  /// 10..2400; Error(Unsupported) when no OpenGL is available (Window backend without a display,
  /// Headless without Mesa's EGL); Error(Io) when the file cannot be written.
  void save(const std::filesystem::path& file, const ExportOptions& options = {});

  /// Renders the scene offscreen, width x height pixels at the reference scale, and writes it to
  /// file as PNG whatever its extension. Same errors as save().
  void save_png(const std::filesystem::path& file, int width, int height);

protected:
  Scene();
  vtkRenderer* renderer() const noexcept;
  /// Hooks for scenes that take mouse input: install / remove an interactor style.
  virtual void on_attach(vtkRenderWindow* window);
  virtual void on_detach(vtkRenderWindow* window);
  /// Hook for export: draw lines and markers `scale` times as wide as on screen. Text follows by
  /// itself (the window's DPI is scaled), and so do the automatic ticks of chart axes (taken from
  /// a render at the reference scale). Called while the scene is in the export's window, with the
  /// export's scale before it renders and with 1 afterwards.
  virtual void on_scale(double scale);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
