#include "startup.h"

#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QImage>
#include <QPixmap>
#include <QRegularExpression>
#include <QTimer>

#include "criterion_panel.h"
#include "job.h"
#include "main_window.h"

namespace paramscope::ui {

void setApplicationInfo() {
  QCoreApplication::setOrganizationName(QStringLiteral("ParamScope"));
  QCoreApplication::setApplicationName(QStringLiteral("paramscope"));
  QCoreApplication::setApplicationVersion(QStringLiteral(PARAMSCOPE_VERSION));
}

StartupOptions parseStartupOptions(const QStringList& arguments) {
  QCommandLineParser parser;
  parser.setApplicationDescription(QCoreApplication::translate(
      "main", "Opens neural-network checkpoints and shows their tensors and parameters per block."));
  const QCommandLineOption help = parser.addHelpOption();
  const QCommandLineOption version = parser.addVersionOption();
  const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                      QCoreApplication::translate("main", "Save the window as a PNG once loaded."),
                                      QStringLiteral("file"));
  const QCommandLineOption quit(QStringLiteral("quit-after-load"),
                                QCoreApplication::translate("main", "Exit once loaded (and the screenshot saved)."));
  const QCommandLineOption size(QStringLiteral("size"), QCoreApplication::translate("main", "Window size, e.g. 1400x900."),
                                QStringLiteral("WxH"));
  const QCommandLineOption compute(
      QStringLiteral("compute"),
      QCoreApplication::translate("main", "Compute this importance criterion (neuron, L2) once loaded."),
      QStringLiteral("criterion"));
  parser.addOptions({screenshot, quit, size, compute});
  parser.addPositionalArgument(QStringLiteral("path"),
                               QCoreApplication::translate("main", "Checkpoint files or folders to open."),
                               QStringLiteral("[path...]"));

  StartupOptions o;
  if (!parser.parse(arguments)) {
    o.error = parser.errorText();
    return o;
  }
  const bool helpAll = parser.isSet(QStringLiteral("help-all"));
  if (parser.isSet(help) || helpAll || parser.isSet(version)) {
    const QString text = parser.isSet(help) || helpAll
                             ? parser.helpText()
                             : QCoreApplication::applicationName() + QLatin1Char(' ') +
                                   QCoreApplication::applicationVersion() + QLatin1Char('\n');
    std::fputs(qPrintable(text), stdout);
    o.helpShown = true;
    return o;
  }
  o.paths = parser.positionalArguments();
  o.screenshot = parser.value(screenshot);
  o.quitAfterLoad = parser.isSet(quit);
  o.compute = parser.value(compute);
  if (parser.isSet(size)) {
    static const QRegularExpression re(QStringLiteral("^(\\d{2,5})x(\\d{2,5})$"));
    const auto m = re.match(parser.value(size));
    if (!m.hasMatch()) {
      o.error = QCoreApplication::translate("main", "--size wants WIDTHxHEIGHT, e.g. 1400x900, not '%1'")
                    .arg(parser.value(size));
      return o;
    }
    o.size = QSize(m.captured(1).toInt(), m.captured(2).toInt());
  }
  return o;
}

StartupRun::StartupRun(MainWindow* window, StartupOptions options, QObject* parent)
    : QObject(parent), window_(window), options_(std::move(options)) {}

void StartupRun::start() {
  if (options_.size.isValid()) window_->resize(options_.size);
  waiting_ = static_cast<int>(options_.paths.size());
  connect(window_, &MainWindow::loaded, this, &StartupRun::onDone);
  connect(window_, &MainWindow::loadFailed, this, [this] {
    failed_ = true;
    onDone();
  });
  for (const QString& p : options_.paths) window_->openPath(p);
  if (waiting_ == 0) {
    if (!options_.quitAfterLoad) window_->restoreSession();
    QTimer::singleShot(0, this, &StartupRun::complete);
  }
}

void StartupRun::onDone() {
  if (--waiting_ == 0 && !options_.compute.isEmpty() && !failed_) {
    ComputeRequest request = window_->criterionPanel()->request();
    request.criterion = options_.compute;
    request.granularity = QStringLiteral("neuron");
    request.reduction = QStringLiteral("l2");
    window_->criterionPanel()->setRequest(request);
    Job* job = window_->computeImportance(window_->criterionPanel()->request());
    if (job) {
      connect(job, &Job::finished, this, [this, job] {
        failed_ = failed_ || job->state() != Job::State::Done;
        QTimer::singleShot(200, this, &StartupRun::complete);
      });
      return;
    }
  }
  if (waiting_ == 0) {
    // Let the layout settle (the tree's columns, the dock) before taking the picture.
    QTimer::singleShot(200, this, &StartupRun::complete);
  }
}

void StartupRun::complete() {
  disconnect(window_, nullptr, this, nullptr);
  int code = failed_ ? 1 : 0;
  if (!options_.screenshot.isEmpty()) {
    // grab() also renders the OpenGL chart (QOpenGLWidget supports it).
    const QPixmap shot = window_->grab();
    if (shot.isNull() || !shot.save(options_.screenshot, "PNG")) {
      std::fprintf(stderr, "paramscope: %s: cannot write the screenshot\n", qPrintable(options_.screenshot));
      code = 2;
    }
  }
  emit finished(code);
}

}  // namespace paramscope::ui
