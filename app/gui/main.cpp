// paramscope: the graphical interface. paramscope [PATH...] [--screenshot FILE] [--quit-after-load]
#include <cstdio>
#include <cstring>

#include <QApplication>
#include <QSurfaceFormat>

#include "main_window.h"
#include "startup.h"
#include "vtk_view_widget.h"

int main(int argc, char* argv[]) {
  // --help and --version print text only: let them work without a display (over ssh, in CI).
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "-?") == 0 ||
        std::strcmp(argv[i], "--help-all") == 0 || std::strcmp(argv[i], "--version") == 0 || std::strcmp(argv[i], "-v") == 0)
      qputenv("QT_QPA_PLATFORM", "offscreen");
  // VTK needs OpenGL 3.2 core; the format must be the default before the application exists.
  QSurfaceFormat::setDefaultFormat(paramscope::ui::VtkViewWidget::defaultFormat());
  // Widgets that change windows (a floating dock) keep their GL resources.
  QApplication::setAttribute(Qt::AA_ShareOpenGLContexts);
  QApplication app(argc, argv);
  paramscope::ui::setApplicationInfo();

  const auto options = paramscope::ui::parseStartupOptions(QApplication::arguments());
  if (options.helpShown) return 0;
  if (!options.error.isEmpty()) {
    std::fprintf(stderr, "paramscope: %s\n", qPrintable(options.error));
    return 2;
  }

  paramscope::ui::MainWindow window;
  // A scripted run has nobody to click a message box away.
  window.setErrorDialogsEnabled(!options.quitAfterLoad);
  window.show();

  paramscope::ui::StartupRun run(&window, options);
  int exitCode = 0;
  QObject::connect(&run, &paramscope::ui::StartupRun::finished, &app, [&](int code) {
    exitCode = code;
    if (options.quitAfterLoad) QApplication::exit(code);
  });
  run.start();
  const int loopCode = QApplication::exec();
  return options.quitAfterLoad ? exitCode : loopCode;
}
