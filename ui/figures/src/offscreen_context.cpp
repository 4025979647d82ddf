#include "offscreen_context.h"

#include <cstdio>
#include <cstring>
#include <string>

#include <dlfcn.h>

#include <EGL/egl.h>
#include <EGL/eglext.h>

#include <vtkCommand.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>

#include "paramscope/error.h"

namespace paramscope::figures::detail {
namespace {

bool has_extension(const char* list, const char* name) {
  if (!list) return false;
  const std::size_t n = std::strlen(name);
  for (const char* p = list; (p = std::strstr(p, name)) != nullptr; p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
  return false;
}

std::string egl_error() {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%04X", static_cast<unsigned>(eglGetError()));
  return std::string("EGL error ") + hex;
}

// Debian's GLEW is built for GLX: glewInit() loads every OpenGL function of the current context,
// then fails looking for a GLX display, which an EGL context does not have. VTK would log "GLEW
// could not be initialized" and retry on every render; the functions are loaded, so once the
// context reports OpenGL 3.2 or later, initialisation is marked done.
class EglRenderWindow : public vtkGenericOpenGLRenderWindow {
public:
  static EglRenderWindow* New();
  vtkTypeMacro(EglRenderWindow, vtkGenericOpenGLRenderWindow)

  void OpenGLInitContext() override {
    if (Initialized) return Superclass::OpenGLInitContext();
    const vtkTypeBool warnings = vtkObject::GetGlobalWarningDisplay();
    vtkObject::GlobalWarningDisplayOff();
    Superclass::OpenGLInitContext();
    vtkObject::SetGlobalWarningDisplay(warnings);
    if (!Initialized) Initialized = gl_version() >= 302;
  }
  bool initialized() const { return Initialized; }

  /// 100 * major + minor of the current context, 0 if unknown.
  static int gl_version() {
    using GetIntegerv = void (*)(unsigned, int*);
    auto get = reinterpret_cast<GetIntegerv>(eglGetProcAddress("glGetIntegerv"));
    if (!get) return 0;
    int major = 0, minor = 0;
    get(0x821B, &major);  // GL_MAJOR_VERSION
    get(0x821C, &minor);  // GL_MINOR_VERSION
    return 100 * major + minor;
  }

protected:
  EglRenderWindow() = default;
  ~EglRenderWindow() override = default;
};

vtkStandardNewMacro(EglRenderWindow)

// A GLX context current on this thread (a Qt widget's, in the GUI) makes Mesa refuse to make an
// EGL context current, so it is set aside while the export renders and given back afterwards.
// Looked up at run time: a process without GLX (the CLI) has nothing to set aside.
class GlxCurrent {
public:
  void set_aside() {
    using GetPtr = void* (*)();
    using GetXid = unsigned long (*)();
    auto get_context = reinterpret_cast<GetPtr>(dlsym(RTLD_DEFAULT, "glXGetCurrentContext"));
    make_current_ = reinterpret_cast<MakeCurrent>(dlsym(RTLD_DEFAULT, "glXMakeContextCurrent"));
    if (!get_context || !make_current_ || !(context_ = get_context())) return;
    display_ = reinterpret_cast<GetPtr>(dlsym(RTLD_DEFAULT, "glXGetCurrentDisplay"))();
    draw_ = reinterpret_cast<GetXid>(dlsym(RTLD_DEFAULT, "glXGetCurrentDrawable"))();
    read_ = reinterpret_cast<GetXid>(dlsym(RTLD_DEFAULT, "glXGetCurrentReadDrawable"))();
    if (!display_ || !make_current_(display_, 0, 0, nullptr)) context_ = nullptr;
  }
  void restore() {
    if (context_) make_current_(display_, draw_, read_, context_);
    context_ = nullptr;
  }

private:
  using MakeCurrent = int (*)(void*, unsigned long, unsigned long, void*);
  MakeCurrent make_current_ = nullptr;
  void *display_ = nullptr, *context_ = nullptr;
  unsigned long draw_ = 0, read_ = 0;
};

}  // namespace

struct OffscreenContext::Impl {
  EGLDisplay display = EGL_NO_DISPLAY;
  EGLContext context = EGL_NO_CONTEXT;
  // What was current before, given back at the end (a caller's own EGL context).
  EGLDisplay previous_display = EGL_NO_DISPLAY;
  EGLContext previous_context = EGL_NO_CONTEXT;
  EGLSurface previous_draw = EGL_NO_SURFACE;
  EGLSurface previous_read = EGL_NO_SURFACE;
  GlxCurrent glx;
  vtkNew<EglRenderWindow> window;
  unsigned long observers[3] = {0, 0, 0};

  bool is_current() const { return eglGetCurrentContext() == context && context != EGL_NO_CONTEXT; }
  bool make_current() const {
    return is_current() || eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, context) == EGL_TRUE;
  }
  void on_window_event(vtkObject*, unsigned long event, void* data) {
    switch (event) {
      case vtkCommand::WindowMakeCurrentEvent: make_current(); break;
      case vtkCommand::WindowIsCurrentEvent: *static_cast<bool*>(data) = is_current(); break;
      default: break;  // WindowFrameEvent: frames stay in VTK's framebuffers, nothing to show
    }
  }
  void release();
};

void OffscreenContext::Impl::release() {
  for (unsigned long id : observers)
    if (id) window->RemoveObserver(id);
  if (context != EGL_NO_CONTEXT) eglDestroyContext(display, context);  // deferred while current
  if (previous_context != EGL_NO_CONTEXT)
    eglMakeCurrent(previous_display, previous_draw, previous_read, previous_context);
  else if (display != EGL_NO_DISPLAY)
    eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
  // eglTerminate is not called: Mesa refcounts nothing here, and another OffscreenContext (on
  // another thread) may be using the same display. Mesa frees it at exit.
  context = EGL_NO_CONTEXT;
  glx.restore();
}

OffscreenContext::OffscreenContext(const std::filesystem::path& file, int width, int height)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  auto fail = [&](const std::string& what) {
    d.release();
    return unsupported(file, "cannot render without a display: " + what +
                                 " (needs Mesa's EGL: libegl1, libegl-mesa0, libgl1-mesa-dri)");
  };
  d.previous_display = eglGetCurrentDisplay();
  d.previous_context = eglGetCurrentContext();
  d.previous_draw = eglGetCurrentSurface(EGL_DRAW);
  d.previous_read = eglGetCurrentSurface(EGL_READ);
  d.glx.set_aside();

  const char* client = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
  if (!has_extension(client, "EGL_MESA_platform_surfaceless"))
    throw fail("EGL has no surfaceless platform (EGL_MESA_platform_surfaceless)");
  auto get_platform_display =
      reinterpret_cast<PFNEGLGETPLATFORMDISPLAYEXTPROC>(eglGetProcAddress("eglGetPlatformDisplayEXT"));
  if (!get_platform_display) throw fail("eglGetPlatformDisplayEXT is missing");
  d.display = get_platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, nullptr);
  EGLint major = 0, minor = 0;
  if (d.display == EGL_NO_DISPLAY || !eglInitialize(d.display, &major, &minor))
    throw fail("no surfaceless EGL display (" + egl_error() + ")");
  if (!has_extension(eglQueryString(d.display, EGL_EXTENSIONS), "EGL_KHR_surfaceless_context"))
    throw fail("EGL cannot make a context current without a surface");
  if (!eglBindAPI(EGL_OPENGL_API)) throw fail("EGL has no desktop OpenGL (" + egl_error() + ")");

  // VTK draws into its own framebuffer objects, so the config's buffers are never used: any
  // config that allows desktop OpenGL will do, or none (Mesa's surfaceless platform may offer no
  // config at all, and supports contexts without one).
  const EGLint config_attributes[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_SURFACE_TYPE, 0, EGL_NONE};
  EGLConfig config = EGL_NO_CONFIG_KHR;
  EGLint configs = 0;
  if (!eglChooseConfig(d.display, config_attributes, &config, 1, &configs) || configs < 1) {
    const char* extensions = eglQueryString(d.display, EGL_EXTENSIONS);
    if (!has_extension(extensions, "EGL_KHR_no_config_context") &&
        !has_extension(extensions, "EGL_MESA_configless_context"))
      throw fail("no EGL config for desktop OpenGL (" + egl_error() + ")");
    config = EGL_NO_CONFIG_KHR;
  }
  const EGLint context_attributes[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 2,
                                       EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
                                       EGL_NONE};
  d.context = eglCreateContext(d.display, config, EGL_NO_CONTEXT, context_attributes);
  if (d.context == EGL_NO_CONTEXT) throw fail("no OpenGL 3.2 core context (" + egl_error() + ")");
  if (!eglMakeCurrent(d.display, EGL_NO_SURFACE, EGL_NO_SURFACE, d.context))
    throw fail("cannot make the context current (" + egl_error() +
               ")");

  // Set up like the Qt bridge (ui/widgets/vtk_view_widget.cpp), minus the display: frames stay in
  // VTK's framebuffers, where vtkWindowToImageFilter and GL2PS read them.
  EglRenderWindow& w = *d.window;
  int i = 0;
  for (unsigned long e : {vtkCommand::WindowMakeCurrentEvent, vtkCommand::WindowIsCurrentEvent,
                          vtkCommand::WindowFrameEvent})
    d.observers[i++] = w.AddObserver(e, &d, &Impl::on_window_event);
  w.SetOwnContext(0);
  w.SetIsDirect(1);
  w.SetSupportsOpenGL(1);
  w.SetMapped(1);
  w.SetFrameBlitModeToNoBlit();
  w.SetMultiSamples(0);
  w.SetForceMaximumHardwareLineWidth(1);
  w.SetReadyForRendering(true);
  w.SetSize(width, height);
  w.SetScreenSize(width, height);
  w.OpenGLInitContext();
  if (!w.initialized())
    throw fail("the context offers OpenGL " + std::to_string(EglRenderWindow::gl_version() / 100) + "." +
               std::to_string(EglRenderWindow::gl_version() % 100) + ", VTK needs 3.2");
}

OffscreenContext::~OffscreenContext() {
  Impl& d = *impl_;
  if (d.make_current()) d.window->ReleaseGraphicsResources(d.window);
  d.window->SetReadyForRendering(false);
  d.release();
}

vtkRenderWindow* OffscreenContext::window() const noexcept { return impl_->window; }

}  // namespace paramscope::figures::detail
