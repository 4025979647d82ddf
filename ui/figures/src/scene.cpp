#include "paramscope/figures/scene.h"

#include <cstdlib>
#include <string>

#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkWeakPointer.h>
#include <vtkWindowToImageFilter.h>

#include "paramscope/error.h"
#include "paramscope/figures/palette.h"

namespace paramscope::figures {

struct Scene::Impl {
  vtkNew<vtkRenderer> renderer;
  // Weak: the window belongs to whoever shows the scene and may be destroyed first.
  vtkWeakPointer<vtkRenderWindow> window;
};

Scene::Scene() : impl_(std::make_unique<Impl>()) {
  impl_->renderer->SetBackground(palette::background.r / 255.0, palette::background.g / 255.0,
                                 palette::background.b / 255.0);
}

Scene::~Scene() {
  // Derived parts are gone by now, so only the renderer leaves the window here; derived scenes
  // detach in their own destructors to run their on_detach().
  if (impl_->window) impl_->window->RemoveRenderer(impl_->renderer);
}

vtkRenderer* Scene::renderer() const noexcept { return impl_->renderer; }
vtkRenderWindow* Scene::window() const noexcept { return impl_->window; }

void Scene::attach(vtkRenderWindow* window) {
  if (window == impl_->window) return;
  detach();
  if (!window) return;
  window->AddRenderer(impl_->renderer);
  impl_->window = window;
  on_attach(window);
}

void Scene::detach() {
  vtkRenderWindow* window = impl_->window;
  if (!window) return;
  on_detach(window);
  window->RemoveRenderer(impl_->renderer);
  impl_->window = nullptr;
}

void Scene::on_attach(vtkRenderWindow*) {}
void Scene::on_detach(vtkRenderWindow*) {}

void Scene::save_png(const std::filesystem::path& file, int width, int height) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    throw usage_error(file.string() + ": image size " + std::to_string(width) + "x" + std::to_string(height) +
                      " is outside 1..16384");
  // VTK's X11 window aborts the process when it cannot reach a display; fail politely instead.
  const char* display = std::getenv("DISPLAY");
  if (!display || !*display)
    throw unsupported(file, "rendering an image needs an X display (set DISPLAY or run under xvfb-run)");

  // VTK's PNG writer would report a missing folder as "ran out of disk space".
  const auto folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    throw io_error(file, "cannot write the image: folder " + folder.string() + " does not exist");

  vtkRenderWindow* previous = impl_->window;
  detach();
  struct Reattach {
    Scene& scene;
    vtkRenderWindow* window;
    ~Reattach() {
      scene.detach();
      if (window) scene.attach(window);
    }
  } reattach{*this, previous};

  vtkNew<vtkRenderWindow> offscreen;
  offscreen->SetOffScreenRendering(1);
  offscreen->SetMultiSamples(0);
  offscreen->SetSize(width, height);
  attach(offscreen);
  offscreen->Render();

  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(offscreen);
  grab->SetInputBufferTypeToRGB();
  grab->ReadFrontBufferOff();
  grab->Update();

  vtkNew<vtkPNGWriter> png;
  png->SetFileName(file.string().c_str());
  png->SetInputConnection(grab->GetOutputPort());
  png->Write();
  const unsigned long code = png->GetErrorCode();
  detach();
  offscreen->Finalize();
  if (code != 0) throw io_error(file, "cannot write the PNG image (VTK error code " + std::to_string(code) + ")");
}

}  // namespace paramscope::figures
