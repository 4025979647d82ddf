#include "startup.h"

#include <cstdio>
#include <filesystem>

#include <QComboBox>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QImage>
#include <QPixmap>
#include <QRegularExpression>
#include <QTimer>

#include "attribution_dashboard.h"
#include "attribution_inputs_bar.h"
#include "checkpoint_tree_model.h"
#include "criterion_panel.h"
#include "figure_tabs.h"
#include "job.h"
#include "main_window.h"
#include "merge_dashboard.h"
#include "merge_inputs_bar.h"
#include "merge_preview_bar.h"
#include "paramscope/checkpoint.h"
#include "tree_dock.h"

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
  const QCommandLineOption tensor(
      QStringLiteral("tensor"), QCoreApplication::translate("main", "Select this tensor once loaded (its heatmap)."),
      QStringLiteral("name"));
  const QCommandLineOption view(
      QStringLiteral("view"),
      QCoreApplication::translate("main", "Show this view: blocks, heatmap, profile, distribution, spectrum or 3d."),
      QStringLiteral("view"));
  const QCommandLineOption merge(
      QStringLiteral("merge"),
      QCoreApplication::translate("main", "Show the Merge tab: the first path is the base, the others its fine-tunes; "
                                          "analyze them, and preview --tensor element by element."));
  const QCommandLineOption mergePage(
      QStringLiteral("merge-page"),
      QCoreApplication::translate("main", "With --merge, show this page: similarity, blocks, magnitudes or elements."),
      QStringLiteral("page"));
  const QCommandLineOption attribute(
      QStringLiteral("attribute"),
      QCoreApplication::translate("main", "Show the Attributions tab on this ONNX model with the paths as its inputs "
                                          "(PNG, JPEG, NPY, NPZ) and compute the maps for the top class."),
      QStringLiteral("model"));
  const QCommandLineOption methods(
      QStringLiteral("methods"),
      QCoreApplication::translate("main", "With --attribute: rise, deeplift, deeplift-shap, ig, gxi, smoothgrad "
                                          "(comma-separated; default rise,deeplift,ig,gxi)."),
      QStringLiteral("list"));
  const QCommandLineOption sample(QStringLiteral("sample"),
                                  QCoreApplication::translate("main", "With --attribute: the sample explained (0)."),
                                  QStringLiteral("n"));
  parser.addOptions({screenshot, quit, size, compute, tensor, view, merge, mergePage, attribute, methods, sample});
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
  o.tensor = parser.value(tensor);
  if (parser.isSet(view)) {
    static const QStringList views{QStringLiteral("blocks"),       QStringLiteral("heatmap"),
                                   QStringLiteral("profile"),      QStringLiteral("distribution"),
                                   QStringLiteral("spectrum"),     QStringLiteral("3d"),
                                   QStringLiteral("merge"),        QStringLiteral("attributions")};
    o.view = static_cast<int>(views.indexOf(parser.value(view).toLower()));
    if (o.view < 0) {
      o.error = QCoreApplication::translate("main", "--view is one of %1, not '%2'")
                    .arg(views.join(QStringLiteral(", ")), parser.value(view));
      return o;
    }
  }
  o.merge = parser.isSet(merge);
  o.attribute = parser.value(attribute);
  if ((parser.isSet(methods) || parser.isSet(sample)) && o.attribute.isEmpty()) {
    o.error = QCoreApplication::translate("main", "--methods and --sample go with --attribute MODEL");
    return o;
  }
  if (!o.attribute.isEmpty()) {
    o.methods = parser.isSet(methods) ? parser.value(methods).split(QLatin1Char(','), Qt::SkipEmptyParts)
                                      : QStringList{QStringLiteral("rise"), QStringLiteral("deeplift"),
                                                    QStringLiteral("ig"), QStringLiteral("gxi")};
    for (const QString& m : o.methods) {
      bool known = false;
      for (int i = 0; i < kAttributionMethodCount; ++i)
        known = known || m == QLatin1String(attributionMethodKey(static_cast<AttributionMethod>(i)));
      if (!known) {
        o.error = QCoreApplication::translate("main", "--methods: unknown method '%1' (rise, deeplift, deeplift-shap, "
                                                      "ig, gxi, smoothgrad)")
                      .arg(m);
        return o;
      }
    }
    bool ok = true;
    o.sample = parser.isSet(sample) ? parser.value(sample).toInt(&ok) : 0;
    if (!ok || o.sample < 0) {
      o.error = QCoreApplication::translate("main", "--sample wants a sample index, not '%1'").arg(parser.value(sample));
      return o;
    }
  }
  if (parser.isSet(mergePage)) {
    static const QStringList pages{QStringLiteral("similarity"), QStringLiteral("blocks"), QStringLiteral("magnitudes"),
                                   QStringLiteral("elements")};
    o.mergePage = static_cast<int>(pages.indexOf(parser.value(mergePage).toLower()));
    if (o.mergePage < 0) {
      o.error = QCoreApplication::translate("main", "--merge-page is one of %1, not '%2'")
                    .arg(pages.join(QStringLiteral(", ")), parser.value(mergePage));
      return o;
    }
  }
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
  if (!options_.attribute.isEmpty()) {
    startAttribution();
    return;
  }
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
  if (--waiting_ != 0) return;
  if (options_.merge) {
    startMerge();
    return;
  }
  if (!options_.compute.isEmpty() && !failed_) {
    ComputeRequest request = window_->criterionPanel()->request();
    request.criterion = options_.compute;
    request.granularity = QStringLiteral("neuron");
    request.reduction = QStringLiteral("l2");
    window_->criterionPanel()->setRequest(request);
    Job* job = window_->computeImportance(window_->criterionPanel()->request());
    if (job) {
      connect(job, &Job::finished, this, [this, job] {
        failed_ = failed_ || job->state() != Job::State::Done;
        showRequested();
      });
      return;
    }
  }
  showRequested();
}

void StartupRun::showRequested() {
  FigureTabs* tabs = window_->figures();
  if (options_.view >= 0) tabs->setCurrentIndex(options_.view);
  const int last = window_->model()->checkpointCount() - 1;
  if (!options_.tensor.isEmpty() && last >= 0) {
    // The heatmap's job comes first; the distribution and spectrum follow within moments.
    connect(tabs, &FigureTabs::viewUpdated, this, [this](int tab) {
      if (tab == FigureTabs::HeatmapTab) QTimer::singleShot(700, this, &StartupRun::complete);
    });
    if (window_->treeDock()->showTensor(last, options_.tensor.toStdString())) {
      QTimer::singleShot(60000, this, &StartupRun::complete);  // a heatmap that never comes
      return;
    }
    std::fprintf(stderr, "paramscope: no tensor named '%s'\n", qPrintable(options_.tensor));
    failed_ = true;
  }
  // Let the layout settle (the tree's columns, the dock) before taking the picture.
  QTimer::singleShot(200, this, &StartupRun::complete);
}

void StartupRun::startMerge() {
  FigureTabs* tabs = window_->figures();
  tabs->setCurrentIndex(FigureTabs::MergeTab);
  MergeDashboard* dashboard = tabs->mergeDashboard();
  // Loads finish in any order: find each path's row.
  const CheckpointTreeModel* model = window_->model();
  auto rowOf = [model](const QString& path) {
    std::error_code ec;
    for (int r = 0; r < model->checkpointCount(); ++r)
      if (auto c = model->checkpointAt(r); c && std::filesystem::equivalent(c->path(), path.toStdString(), ec))
        return r;
    return -1;
  };
  std::vector<int> fineTunes;
  for (qsizetype i = 1; i < options_.paths.size(); ++i) fineTunes.push_back(rowOf(options_.paths[i]));
  dashboard->inputs()->select(options_.paths.isEmpty() ? -1 : rowOf(options_.paths.front()), fineTunes);
  Job* job = failed_ ? nullptr : dashboard->analyze();
  if (!job) {
    std::fprintf(stderr, "paramscope: --merge needs a base and two or more fine-tunes that load\n");
    failed_ = true;
    finishMerge();
    return;
  }
  connect(job, &Job::finished, this, [this, job, dashboard] {
    if (job->state() != Job::State::Done) {
      std::fprintf(stderr, "paramscope: %s\n", qPrintable(job->message()));
      failed_ = true;
      finishMerge();
      return;
    }
    if (options_.tensor.isEmpty()) {
      finishMerge();
      return;
    }
    if (!dashboard->previewBar()->selectTensor(options_.tensor.toStdString())) {
      std::fprintf(stderr, "paramscope: no tensor named '%s'\n", qPrintable(options_.tensor));
      failed_ = true;
      finishMerge();
      return;
    }
    connect(dashboard, &MergeDashboard::updated, this, [this](int page) {
      if (page == MergeDashboard::ElementsPage) finishMerge();
    });
    Job* preview = dashboard->preview();
    connect(preview, &Job::finished, this, [this, preview] {
      if (preview->state() != Job::State::Done) {
        std::fprintf(stderr, "paramscope: %s\n", qPrintable(preview->message()));
        failed_ = true;
        finishMerge();
      }
    });
  });
}

void StartupRun::startAttribution() {
  FigureTabs* tabs = window_->figures();
  tabs->setCurrentIndex(FigureTabs::AttributionTab);
  AttributionDashboard* dashboard = tabs->attributionDashboard();
  std::vector<AttributionMethod> methods;
  for (const QString& m : options_.methods)
    for (int i = 0; i < kAttributionMethodCount; ++i)
      if (m == QLatin1String(attributionMethodKey(static_cast<AttributionMethod>(i))))
        methods.push_back(static_cast<AttributionMethod>(i));
  dashboard->inputs()->setMethods(methods);
  auto fail = [this](const QString& message) {
    std::fprintf(stderr, "paramscope: %s\n", qPrintable(message));
    failed_ = true;
    QTimer::singleShot(200, this, &StartupRun::complete);
  };
  connect(dashboard, &AttributionDashboard::opened, this, [this, dashboard, fail](bool ok) {
    if (!ok) return fail(dashboard->status());
    if (options_.sample > 0) {
      if (options_.sample >= dashboard->inputs()->sampleBox()->count())
        return fail(QStringLiteral("--sample %1: the inputs hold %2 samples")
                        .arg(options_.sample)
                        .arg(dashboard->inputs()->sampleBox()->count()));
      dashboard->inputs()->sampleBox()->setCurrentIndex(options_.sample);  // predicts again
    }
  });
  connect(dashboard, &AttributionDashboard::predicted, this, [this, dashboard, fail] {
    if (dashboard->inputs()->sample() != options_.sample || dashboard->running()) return;
    if (dashboard->compute().empty()) fail(QStringLiteral("nothing to compute"));
  });
  connect(dashboard, &AttributionDashboard::computed, this, [this, dashboard] {
    if (dashboard->status().contains(QStringLiteral(" failed: "))) {
      std::fprintf(stderr, "paramscope: %s\n", qPrintable(dashboard->status()));
      failed_ = true;
    }
    // Let the last renders reach the screen before the picture.
    QTimer::singleShot(700, this, &StartupRun::complete);
  });
  if (!dashboard->open(options_.attribute, options_.paths)) fail(QStringLiteral("no model"));
}

void StartupRun::finishMerge() {
  disconnect(window_->figures()->mergeDashboard(), nullptr, this, nullptr);
  if (options_.mergePage >= 0) window_->figures()->mergeDashboard()->pages()->setCurrentIndex(options_.mergePage);
  QTimer::singleShot(700, this, &StartupRun::complete);
}

void StartupRun::complete() {
  if (completed_) return;
  completed_ = true;
  disconnect(window_, nullptr, this, nullptr);
  disconnect(window_->figures(), nullptr, this, nullptr);
  disconnect(window_->figures()->attributionDashboard(), nullptr, this, nullptr);
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
