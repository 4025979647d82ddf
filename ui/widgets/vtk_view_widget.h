// The Qt6 <-> VTK bridge: a QOpenGLWidget that hosts a vtkGenericOpenGLRenderWindow and shows a
// figures::Scene in it. (VTK's own QVTKOpenGLNativeWidget is built for Qt5 on Debian 12.)
#pragma once

#include <memory>

#include <QOpenGLWidget>
#include <QSurfaceFormat>

class vtkGenericOpenGLRenderWindow;
class vtkRenderWindowInteractor;

namespace paramscope::figures {
class Scene;
}

namespace paramscope::ui {

class VtkViewWidget : public QOpenGLWidget {
  Q_OBJECT

public:
  explicit VtkViewWidget(QWidget* parent = nullptr);
  ~VtkViewWidget() override;

  /// The context VTK needs: OpenGL >= 3.2 core, 8-bit RGBA, a depth buffer, no multisampling
  /// (VTK multisamples in its own framebuffers). Make it the default before the QApplication.
  static QSurfaceFormat defaultFormat();

  /// Shows scene (shared: the caller keeps changing its content) in place of the previous one.
  void setScene(std::shared_ptr<figures::Scene> scene);
  figures::Scene* scene() const noexcept;

  /// Renders the scene again at the next repaint (call after changing its content).
  void renderLater();

  vtkGenericOpenGLRenderWindow* renderWindow() const noexcept;
  vtkRenderWindowInteractor* interactor() const noexcept;

protected:
  void initializeGL() override;
  void resizeGL(int w, int h) override;
  void paintGL() override;

  // The mouse goes to VTK's interactor (chart zoom and pan, tooltips). Keys stay with Qt: VTK's
  // default key bindings (stereo, wireframe, quit) make no sense in a chart.
  void mousePressEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void enterEvent(QEnterEvent* event) override;
  void leaveEvent(QEvent* event) override;

private:
  struct Impl;
  std::unique_ptr<Impl> d_;
};

}  // namespace paramscope::ui
