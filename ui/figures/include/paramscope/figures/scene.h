// A figure drawn with VTK: it owns a renderer that can be shown in any render window (the GUI's
// Qt widget, a test's window) or rendered offscreen to a PNG file.
#pragma once

#include <filesystem>
#include <memory>

class vtkRenderWindow;
class vtkRenderer;

namespace paramscope::figures {

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

  /// Renders the scene offscreen, width x height pixels, and writes it to file as PNG. A scene that
  /// is attached to a window returns to it afterwards.
  /// throws Error(Usage) for a size outside 1..16384, Error(Unsupported) when there is no X display
  /// for OpenGL, Error(Io) when the file cannot be written.
  void save_png(const std::filesystem::path& file, int width, int height);

protected:
  Scene();
  vtkRenderer* renderer() const noexcept;
  /// Hooks for scenes that take mouse input: install / remove an interactor style.
  virtual void on_attach(vtkRenderWindow* window);
  virtual void on_detach(vtkRenderWindow* window);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
