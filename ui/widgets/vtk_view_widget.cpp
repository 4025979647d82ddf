#include "vtk_view_widget.h"

#include <map>
#include <vector>

#include <vtkCommand.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkGenericRenderWindowInteractor.h>
#include <vtkNew.h>
#include <vtkOpenGLState.h>
#include <vtkRenderWindow.h>

#include <QCursor>
#include <QMouseEvent>
#include <QOpenGLContext>
#include <QOpenGLExtraFunctions>
#include <QScopedValueRollback>
#include <QTimer>
#include <QWheelEvent>

#include "paramscope/figures/palette.h"
#include "paramscope/figures/scene.h"

namespace paramscope::ui {

struct VtkViewWidget::Impl {
  explicit Impl(VtkViewWidget* w);
  ~Impl();

  void onWindowEvent(vtkObject*, unsigned long event, void* data);
  void onInteractorEvent(vtkObject*, unsigned long event, void* data);
  void releaseGraphics();
  void setEventInformation(const QPointF& pos, Qt::KeyboardModifiers modifiers, int repeat = 0);
  void setCursor(int vtkCursor);

  VtkViewWidget* owner;
  vtkNew<vtkGenericOpenGLRenderWindow> window;
  vtkNew<vtkGenericRenderWindowInteractor> interactor;
  std::shared_ptr<figures::Scene> scene;
  std::vector<unsigned long> windowObservers;
  std::vector<unsigned long> interactorObservers;
  std::map<int, QTimer*> timers;  // by the platform id VTK was given
  int nextTimer = 1;
  bool glReady = false;
  bool inPaint = false;
  // paintGL renders only when something changed; otherwise it shows VTK's last frame (one that
  // the interactor rendered on its own, say).
  bool renderPending = true;
  QMetaObject::Connection contextCleanup;
};

VtkViewWidget::Impl::Impl(VtkViewWidget* w) : owner(w) {
  // Nothing may render before initializeGL() has a context for VTK.
  window->SetReadyForRendering(false);
  window->SetFrameBlitModeToNoBlit();  // paintGL() blits into Qt's framebuffer itself
  window->SetMultiSamples(0);
  window->SetForceMaximumHardwareLineWidth(1);
  for (unsigned long e : {vtkCommand::WindowMakeCurrentEvent, vtkCommand::WindowIsCurrentEvent,
                          vtkCommand::WindowFrameEvent, vtkCommand::CursorChangedEvent})
    windowObservers.push_back(window->AddObserver(e, this, &Impl::onWindowEvent));

  interactor->SetRenderWindow(window);
  // Without timers vtkContextInteractorStyle never re-renders a chart after zoom or pan.
  interactor->SetTimerEventResetsTimer(false);  // QTimers repeat by themselves
  for (unsigned long e : {vtkCommand::CreateTimerEvent, vtkCommand::DestroyTimerEvent})
    interactorObservers.push_back(interactor->AddObserver(e, this, &Impl::onInteractorEvent));
  interactor->Initialize();
}

VtkViewWidget::Impl::~Impl() {
  for (unsigned long id : interactorObservers) interactor->RemoveObserver(id);
  for (unsigned long id : windowObservers) window->RemoveObserver(id);
}

void VtkViewWidget::Impl::onWindowEvent(vtkObject*, unsigned long event, void* data) {
  QOpenGLContext* context = owner->context();
  switch (event) {
    case vtkCommand::WindowMakeCurrentEvent:
      // Not QOpenGLWidget::makeCurrent(): it would bind Qt's framebuffer in the middle of VTK's
      // render, and every frame after the first would be lost. Inside paintGL() Qt has made the
      // context current already; outside, another GL context (a scene saving a PNG offscreen)
      // may have been made current behind Qt's back, so Qt's own bookkeeping is not trusted.
      if (context && (!inPaint || QOpenGLContext::currentContext() != context)) context->makeCurrent(context->surface());
      break;
    case vtkCommand::WindowIsCurrentEvent:
      *static_cast<bool*>(data) = context && QOpenGLContext::currentContext() == context;
      break;
    case vtkCommand::WindowFrameEvent:
      // A frame rendered for an offscreen read-back is not for display.
      if (window->GetDoubleBuffer() && !window->GetSwapBuffers()) break;
      // VTK rendered on its own (interactor, timer): show that frame.
      if (!inPaint) {
        renderPending = false;
        owner->update();
      }
      break;
    case vtkCommand::CursorChangedEvent: setCursor(*static_cast<int*>(data)); break;
    default: break;
  }
}

void VtkViewWidget::Impl::onInteractorEvent(vtkObject*, unsigned long event, void*) {
  if (event == vtkCommand::CreateTimerEvent) {
    const int vtkId = interactor->GetTimerEventId();
    const bool oneShot = interactor->GetTimerEventType() == vtkRenderWindowInteractor::OneShotTimer;
    const int platformId = nextTimer++;
    auto* timer = new QTimer(owner);
    timer->setSingleShot(oneShot);
    timer->setInterval(static_cast<int>(interactor->GetTimerEventDuration()));
    QObject::connect(timer, &QTimer::timeout, owner, [this, vtkId, oneShot] {
      int id = vtkId;
      if (interactor->GetEnabled()) interactor->InvokeEvent(vtkCommand::TimerEvent, &id);
      if (oneShot) interactor->DestroyTimer(id);  // comes back as DestroyTimerEvent
    });
    timers[platformId] = timer;
    timer->start();
    interactor->SetTimerEventPlatformId(platformId);
  } else if (event == vtkCommand::DestroyTimerEvent) {
    auto it = timers.find(interactor->GetTimerEventPlatformId());
    if (it == timers.end()) return;
    it->second->stop();
    it->second->deleteLater();  // may be inside its own timeout()
    timers.erase(it);
  }
}

void VtkViewWidget::Impl::releaseGraphics() {
  if (!glReady) return;
  owner->makeCurrent();
  window->Finalize();  // frees VTK's framebuffers, shaders and textures in this context
  window->SetReadyForRendering(false);
  glReady = false;
}

void VtkViewWidget::Impl::setEventInformation(const QPointF& pos, Qt::KeyboardModifiers modifiers, int repeat) {
  // VTK counts device pixels from the bottom.
  const double dpr = owner->devicePixelRatioF();
  interactor->SetEventInformationFlipY(static_cast<int>(pos.x() * dpr + 0.5), static_cast<int>(pos.y() * dpr + 0.5),
                                       modifiers.testFlag(Qt::ControlModifier) ? 1 : 0,
                                       modifiers.testFlag(Qt::ShiftModifier) ? 1 : 0, 0, repeat);
  interactor->SetAltKey(modifiers.testFlag(Qt::AltModifier) ? 1 : 0);
}

void VtkViewWidget::Impl::setCursor(int vtkCursor) {
  switch (vtkCursor) {
    case VTK_CURSOR_CROSSHAIR: owner->setCursor(Qt::CrossCursor); break;
    case VTK_CURSOR_SIZEALL: owner->setCursor(Qt::SizeAllCursor); break;
    case VTK_CURSOR_SIZENS: owner->setCursor(Qt::SizeVerCursor); break;
    case VTK_CURSOR_SIZEWE: owner->setCursor(Qt::SizeHorCursor); break;
    case VTK_CURSOR_SIZENE:
    case VTK_CURSOR_SIZESW: owner->setCursor(Qt::SizeBDiagCursor); break;
    case VTK_CURSOR_SIZENW:
    case VTK_CURSOR_SIZESE: owner->setCursor(Qt::SizeFDiagCursor); break;
    case VTK_CURSOR_HAND: owner->setCursor(Qt::PointingHandCursor); break;
    default: owner->unsetCursor(); break;
  }
}

QSurfaceFormat VtkViewWidget::defaultFormat() {
  QSurfaceFormat format;
  format.setRenderableType(QSurfaceFormat::OpenGL);
  format.setVersion(3, 2);
  format.setProfile(QSurfaceFormat::CoreProfile);
  format.setSwapBehavior(QSurfaceFormat::DoubleBuffer);
  format.setRedBufferSize(8);
  format.setGreenBufferSize(8);
  format.setBlueBufferSize(8);
  format.setAlphaBufferSize(8);
  format.setDepthBufferSize(8);
  format.setStencilBufferSize(0);
  format.setSamples(0);
  return format;
}

VtkViewWidget::VtkViewWidget(QWidget* parent) : QOpenGLWidget(parent), d_(std::make_unique<Impl>(this)) {
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(true);  // tooltips follow the pointer
  setMinimumSize(160, 120);
}

VtkViewWidget::~VtkViewWidget() {
  // The context outlives this destructor (~QOpenGLWidget deletes it), and d_ does not.
  QObject::disconnect(d_->contextCleanup);
  makeCurrent();
  if (d_->scene) d_->scene->detach();
  d_->releaseGraphics();
  doneCurrent();
}

void VtkViewWidget::setScene(std::shared_ptr<figures::Scene> scene) {
  if (scene == d_->scene) return;
  // Detaching frees the scene's GL resources, which needs the context current.
  if (d_->glReady) makeCurrent();
  if (d_->scene) d_->scene->detach();
  d_->scene = std::move(scene);
  if (d_->scene) d_->scene->attach(d_->window);
  if (d_->glReady) doneCurrent();
  renderLater();
}

figures::Scene* VtkViewWidget::scene() const noexcept { return d_->scene.get(); }

void VtkViewWidget::renderLater() {
  d_->renderPending = true;
  update();
}

vtkGenericOpenGLRenderWindow* VtkViewWidget::renderWindow() const noexcept { return d_->window; }
vtkRenderWindowInteractor* VtkViewWidget::interactor() const noexcept { return d_->interactor; }

void VtkViewWidget::initializeGL() {
  // Reparenting (a floating dock) gives the widget a new context: VTK's resources in the old one
  // go first. (Qt 6.4's QOpenGLWidget has no aboutToBeDestroyed signal; its context has.)
  QObject::disconnect(d_->contextCleanup);
  d_->contextCleanup = connect(context(), &QOpenGLContext::aboutToBeDestroyed, this,
                               [this] { d_->releaseGraphics(); }, Qt::DirectConnection);
  d_->window->SetOwnContext(0);
  d_->window->SetReadyForRendering(true);
  d_->window->OpenGLInitContext();
  d_->window->SetDPI(static_cast<int>(72 * devicePixelRatioF() + 0.5));
  d_->glReady = true;
  d_->renderPending = true;
}

void VtkViewWidget::resizeGL(int w, int h) {
  const double dpr = devicePixelRatioF();
  d_->interactor->UpdateSize(static_cast<int>(w * dpr + 0.5), static_cast<int>(h * dpr + 0.5));  // sizes the window too
  d_->window->SetDPI(static_cast<int>(72 * dpr + 0.5));
  d_->renderPending = true;
}

void VtkViewWidget::paintGL() {
  if (!d_->glReady) return;
  QOpenGLExtraFunctions* f = context()->extraFunctions();
  if (!d_->scene) {
    // VTK would show an undefined frame without a renderer.
    const auto bg = figures::palette::background;
    f->glClearColor(bg.r / 255.0f, bg.g / 255.0f, bg.b / 255.0f, 1.0f);
    f->glClear(GL_COLOR_BUFFER_BIT);
    return;
  }
  // Qt changed GL state behind the back of VTK's state cache: re-read it, and give Qt its state
  // back at the end.
  vtkOpenGLState* state = d_->window->GetState();
  state->Reset();
  state->Push();
  if (d_->renderPending) {
    QScopedValueRollback<bool> painting(d_->inPaint, true);
    state->vtkglDepthFunc(GL_LEQUAL);  // Qt leaves GL_LESS, VTK expects GL_LEQUAL
    d_->interactor->Render();
    d_->renderPending = false;
  }

  // Copy VTK's last frame into the widget's framebuffer.
  const int* size = d_->window->GetSize();
  const double dpr = devicePixelRatioF();
  const int w = static_cast<int>(width() * dpr + 0.5);
  const int h = static_cast<int>(height() * dpr + 0.5);
  f->glBindFramebuffer(GL_DRAW_FRAMEBUFFER, defaultFramebufferObject());
  const GLenum buffer = GL_COLOR_ATTACHMENT0;
  f->glDrawBuffers(1, &buffer);
  d_->window->BlitDisplayFramebuffer(0, 0, 0, size[0], size[1], 0, 0, w, h, GL_COLOR_BUFFER_BIT, GL_NEAREST);

  // Opaque alpha: otherwise a compositor blends the chart with what is behind the window.
  state->vtkglColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_TRUE);
  state->vtkglClearColor(0, 0, 0, 1);
  state->vtkglViewport(0, 0, w, h);
  state->vtkglDisable(GL_SCISSOR_TEST);
  state->vtkglClear(GL_COLOR_BUFFER_BIT);
  state->Pop();
  f->glBindFramebuffer(GL_FRAMEBUFFER, defaultFramebufferObject());
}

void VtkViewWidget::mousePressEvent(QMouseEvent* event) {
  d_->setEventInformation(event->position(), event->modifiers());
  switch (event->button()) {
    case Qt::LeftButton: d_->interactor->LeftButtonPressEvent(); break;
    case Qt::MiddleButton: d_->interactor->MiddleButtonPressEvent(); break;
    case Qt::RightButton: d_->interactor->RightButtonPressEvent(); break;
    default: return QOpenGLWidget::mousePressEvent(event);
  }
  event->accept();
}

void VtkViewWidget::mouseReleaseEvent(QMouseEvent* event) {
  d_->setEventInformation(event->position(), event->modifiers());
  switch (event->button()) {
    case Qt::LeftButton: d_->interactor->LeftButtonReleaseEvent(); break;
    case Qt::MiddleButton: d_->interactor->MiddleButtonReleaseEvent(); break;
    case Qt::RightButton: d_->interactor->RightButtonReleaseEvent(); break;
    default: return QOpenGLWidget::mouseReleaseEvent(event);
  }
  event->accept();
}

void VtkViewWidget::mouseDoubleClickEvent(QMouseEvent* event) {
  // VTK recognises a double click as a press with repeat = 1.
  d_->setEventInformation(event->position(), event->modifiers(), 1);
  switch (event->button()) {
    case Qt::LeftButton: d_->interactor->LeftButtonPressEvent(); break;
    case Qt::MiddleButton: d_->interactor->MiddleButtonPressEvent(); break;
    case Qt::RightButton: d_->interactor->RightButtonPressEvent(); break;
    default: return QOpenGLWidget::mouseDoubleClickEvent(event);
  }
  event->accept();
}

void VtkViewWidget::mouseMoveEvent(QMouseEvent* event) {
  d_->setEventInformation(event->position(), event->modifiers());
  d_->interactor->MouseMoveEvent();
  event->accept();
}

void VtkViewWidget::wheelEvent(QWheelEvent* event) {
  const int delta = event->angleDelta().y();
  if (delta == 0) return QOpenGLWidget::wheelEvent(event);
  d_->setEventInformation(event->position(), event->modifiers());
  if (delta > 0)
    d_->interactor->MouseWheelForwardEvent();
  else
    d_->interactor->MouseWheelBackwardEvent();
  event->accept();
}

void VtkViewWidget::enterEvent(QEnterEvent* event) {
  d_->setEventInformation(event->position(), event->modifiers());
  d_->interactor->EnterEvent();
  QOpenGLWidget::enterEvent(event);
}

void VtkViewWidget::leaveEvent(QEvent* event) {
  d_->interactor->LeaveEvent();
  QOpenGLWidget::leaveEvent(event);
}

}  // namespace paramscope::ui
