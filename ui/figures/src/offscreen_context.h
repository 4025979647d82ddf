// Rendering with no window system at all: a Mesa EGL "surfaceless" OpenGL context, and a VTK
// render window that draws into framebuffer objects of that context. Debian's VTK is built for X
// only (no OSMesa/EGL build), so this is how figures are exported when there is no display.
#pragma once

#include <filesystem>
#include <memory>

class vtkRenderWindow;

namespace paramscope::figures::detail {

class OffscreenContext {
public:
  /// Creates an OpenGL 3.2+ core context (what VTK's OpenGL2 backend needs) on Mesa's
  /// surfaceless platform and a render window of width x height pixels bound to it. The context
  /// that was current on this thread before (an EGL one) is current again after destruction.
  /// throws Error(Unsupported), naming file, when EGL, the surfaceless platform or a suitable
  /// context is not available (e.g. libegl-mesa0 or libgl1-mesa-dri is missing).
  OffscreenContext(const std::filesystem::path& file, int width, int height);
  ~OffscreenContext();
  OffscreenContext(const OffscreenContext&) = delete;
  OffscreenContext& operator=(const OffscreenContext&) = delete;

  /// A vtkGenericOpenGLRenderWindow drawing in this context, already initialised; read its
  /// pixels with vtkWindowToImageFilter (back buffer) or export it with vtkGL2PSExporter.
  vtkRenderWindow* window() const noexcept;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The process's connection to the X server DISPLAY names (an Xlib Display*), opened on first
/// use with retries; nullptr when there is none. X windows get it through SetDisplayId, since
/// VTK's X window aborts the process when its own connection attempt fails.
void* shared_x_display();

}  // namespace paramscope::figures::detail
