// The main window as a user meets it: opening files and folders (menu, command line, drag and
// drop), the tree, the chart, the status line, errors, recent files and saved window state.
#include <QAction>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QMimeData>
#include <QScreen>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTreeView>
#include <QtTest>

#include "checkpoint_filter_proxy.h"
#include "checkpoint_tree_model.h"
#include "gui_test_support.h"
#include "figure_tabs.h"
#include "main_window.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/figures/block_chart.h"
#include "recent_files.h"
#include "startup.h"
#include "tree_dock.h"
#include "vtk_view_widget.h"

using namespace paramscope;
using ui::MainWindow;

namespace {

const QString kLlama = test::path("gui/tiny_llama.safetensors");
const QString kMlp = test::path("gui/tiny_mlp.safetensors");
const QString kLlamaSummary = QStringLiteral("safetensors · 21 tensors · 1,704 parameters");
const QString kMlpSummary = QStringLiteral("safetensors · 4 tensors · 212 parameters");

QAbstractItemModel* tree(MainWindow& w) { return w.treeDock()->view()->model(); }

QStringList childNames(const QAbstractItemModel* m, const QModelIndex& parent) {
  QStringList names;
  for (int r = 0; r < m->rowCount(parent); ++r) names << m->index(r, 0, parent).data().toString();
  return names;
}

// What the chart view shows now (after the window asked it to render).
QImage chartFrame(MainWindow& w) {
  QSignalSpy swapped(w.chartView(), &QOpenGLWidget::frameSwapped);
  w.chartView()->renderLater();
  if (!swapped.wait(5000)) qWarning("the chart showed no frame within 5 s");
  return w.chartView()->grabFramebuffer();
}

}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT

private slots:
  void init();
  void cleanup();
  void opensFileShowsBlocksChartAndSummary();
  void openingRunsInTheBackground();
  void secondCheckpointAndSwitchingBetweenThem();
  void opensHuggingFaceFolder();
  void failedLoads_data();
  void failedLoads();
  void errorDialogShowsTheMessage();
  void dropOpensLocalFiles();
  void closeCheckpoint();
  void recentFilesMenuReopens();
  void filterHidingNewCheckpointStillShowsIt();
  void geometryAndDocksAreRestored();
  void commandLine_data();
  void commandLine();
  void startupRunSavesScreenshot_data();
  void startupRunSavesScreenshot();
  void startupShowsTensor_data();
  void startupShowsTensor();
  void viewStateRestored();

private:
  // Opens path and waits for the window to report it.
  bool open(const QString& path);

  std::unique_ptr<MainWindow> w_;
  QTemporaryDir tmp_;
};

void TestMainWindow::init() {
  QSettings().clear();
  w_ = std::make_unique<MainWindow>();
  w_->setErrorDialogsEnabled(false);
  w_->resize(1200, 700);
  w_->show();
  QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
}

void TestMainWindow::cleanup() { w_.reset(); }

bool TestMainWindow::open(const QString& path) {
  QSignalSpy loaded(w_.get(), &MainWindow::loaded);
  w_->openPath(path);
  return loaded.wait(10000) && loaded.size() == 1 && loaded[0][0].toString() == path;
}

void TestMainWindow::opensFileShowsBlocksChartAndSummary() {
  QVERIFY(open(kLlama));
  QAbstractItemModel* m = tree(*w_);
  QCOMPARE(m->rowCount(), 1);
  const QModelIndex top = m->index(0, 0);
  QCOMPARE(top.data().toString(), QStringLiteral("tiny_llama.safetensors"));
  QCOMPARE(childNames(m, top),
           (QStringList{"model.embed_tokens", "model.layers.0", "model.layers.1", "model.norm", "lm_head"}));
  QVERIFY(w_->treeDock()->view()->isExpanded(top));
  QCOMPARE(w_->treeDock()->view()->currentIndex(), top);
  QCOMPARE(w_->summary(), kLlamaSummary);
  QCOMPARE(w_->findChild<QLabel*>(QStringLiteral("checkpointSummary"))->text(), kLlamaSummary);
  QCOMPARE(w_->windowTitle(), QStringLiteral("tiny_llama.safetensors - ParamScope"));
  QVERIFY(w_->findChild<QAction*>(QStringLiteral("actionCloseCheckpoint"))->isEnabled());
  QCOMPARE(w_->chart().bar_count(), std::size_t{5});
  const QImage frame = chartFrame(*w_);
  test::keepImage(frame, QStringLiteral("main_window_chart"));
  QCOMPARE(test::findBars(frame).size(), std::size_t{5});
  // And on the screen itself (read back from the X server): Qt composed the chart into the window.
  const auto onScreen = [&] {
    // The view sits in the figures' tabs: its rectangle in window coordinates.
    const QRect r(w_->chartView()->mapTo(w_.get(), QPoint(0, 0)), w_->chartView()->size());
    const qreal dpr = w_->devicePixelRatio();
    const QImage window = w_->screen()->grabWindow(w_->winId()).toImage();
    return test::findBars(window.copy(QRect(r.topLeft() * dpr, r.size() * dpr)));
  };
  QTRY_COMPARE(onScreen().size(), std::size_t{5});
  QCOMPARE(w_->recentFiles()->paths(), QStringList{kLlama});
}

void TestMainWindow::openingRunsInTheBackground() {
  QSignalSpy loaded(w_.get(), &MainWindow::loaded);
  w_->openPath(kLlama);
  // Nothing has arrived yet: the load runs on a worker and reports through the event loop.
  QCOMPARE(w_->pendingLoads(), 1);
  QCOMPARE(w_->model()->rowCount(), 0);
  QVERIFY(loaded.wait(10000));
  QCOMPARE(w_->pendingLoads(), 0);
  QCOMPARE(w_->model()->rowCount(), 1);
}

void TestMainWindow::secondCheckpointAndSwitchingBetweenThem() {
  QVERIFY(open(kLlama));
  QVERIFY(open(kMlp));
  QAbstractItemModel* m = tree(*w_);
  QCOMPARE(childNames(m, {}), (QStringList{"tiny_llama.safetensors", "tiny_mlp.safetensors"}));
  QCOMPARE(childNames(m, m->index(1, 0)), (QStringList{"layers.0", "layers.1"}));
  QCOMPARE(w_->treeDock()->currentCheckpoint(), 1);
  QCOMPARE(w_->summary(), kMlpSummary);
  const QImage mlp = chartFrame(*w_);
  QCOMPARE(test::findBars(mlp).size(), std::size_t{2});

  // Clicking a tensor of the first checkpoint shows that checkpoint.
  const QModelIndex layer1 = m->index(2, 0, m->index(0, 0));
  w_->treeDock()->view()->expand(layer1);
  const QModelIndex tensor = m->index(0, 0, layer1);
  QTest::mouseClick(w_->treeDock()->view()->viewport(), Qt::LeftButton, {},
                    w_->treeDock()->view()->visualRect(tensor).center());
  QCOMPARE(w_->treeDock()->view()->currentIndex(), tensor);
  QCOMPARE(w_->summary(), kLlamaSummary);
  const QImage llama = chartFrame(*w_);
  QVERIFY(llama != mlp);
  QCOMPARE(test::findBars(llama).size(), std::size_t{5});
  QCOMPARE(w_->recentFiles()->paths(), (QStringList{kMlp, kLlama}));
}

void TestMainWindow::opensHuggingFaceFolder() {
  const QString folder = test::path("gui/tiny_llama_hf");
  QVERIFY(open(folder));
  QAbstractItemModel* m = tree(*w_);
  QCOMPARE(m->index(0, 0).data().toString(), QStringLiteral("tiny_llama_hf"));
  QCOMPARE(m->rowCount(m->index(0, 0)), 5);
  QCOMPARE(w_->summary(), kLlamaSummary);
}

void TestMainWindow::failedLoads_data() {
  QTest::addColumn<QString>("path");
  QTest::addColumn<QStringList>("messageHas");
  QTest::newRow("malformed") << test::path("gui/broken.safetensors")
                             << QStringList{"broken.safetensors", "header size 4096"};
  QTest::newRow("missing") << test::path("gui/no_such_model.safetensors")
                           << QStringList{"no_such_model.safetensors", "no such file"};
  QTest::newRow("not a checkpoint") << test::path("gui/tiny_llama.expected.json")
                                    << QStringList{"tiny_llama.expected.json", "not a recognised checkpoint"};
}

void TestMainWindow::failedLoads() {
  QFETCH(QString, path);
  QFETCH(QStringList, messageHas);
  QVERIFY(open(kMlp));
  QSignalSpy failed(w_.get(), &MainWindow::loadFailed);
  QSignalSpy loaded(w_.get(), &MainWindow::loaded);
  w_->openPath(path);
  QVERIFY(failed.wait(10000));
  QCOMPARE(failed[0][0].toString(), path);
  const QString message = failed[0][1].toString();
  for (const QString& part : messageHas) QVERIFY2(message.contains(part), qPrintable(message));
  QVERIFY2(!message.contains(QLatin1Char('\n')), "one line");
  QCOMPARE(w_->statusBar()->currentMessage(), message);
  // Nothing else changed.
  QCOMPARE(loaded.size(), 0);
  QCOMPARE(w_->model()->rowCount(), 1);
  QCOMPARE(w_->summary(), kMlpSummary);
  QCOMPARE(w_->recentFiles()->paths(), QStringList{kMlp});
}

void TestMainWindow::errorDialogShowsTheMessage() {
  w_->setErrorDialogsEnabled(true);
  QSignalSpy failed(w_.get(), &MainWindow::loadFailed);
  w_->openPath(test::path("gui/broken.safetensors"));
  QVERIFY(failed.wait(10000));
  auto* box = w_->findChild<QMessageBox*>();
  QVERIFY(box);
  QTRY_VERIFY(box->isVisible());
  QCOMPARE(box->text(), failed[0][1].toString());
  box->accept();
}

void TestMainWindow::dropOpensLocalFiles() {
  QMimeData web;
  web.setUrls({QUrl(QStringLiteral("https://example.com/model.safetensors"))});
  QDragEnterEvent refuse(QPoint(50, 50), Qt::CopyAction, &web, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(w_.get(), &refuse);
  QVERIFY(!refuse.isAccepted());

  QMimeData files;
  files.setUrls({QUrl::fromLocalFile(kLlama), QUrl::fromLocalFile(kMlp)});
  QCOMPARE(ui::localPaths(&files), (QStringList{kLlama, kMlp}));
  QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(w_.get(), &enter);
  QVERIFY(enter.isAccepted());
  QSignalSpy loaded(w_.get(), &MainWindow::loaded);
  QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(w_.get(), &drop);
  QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 2, 10000);
  QCOMPARE(w_->model()->rowCount(), 2);
}

void TestMainWindow::closeCheckpoint() {
  QVERIFY(open(kLlama));
  QVERIFY(open(kMlp));
  auto* close = w_->findChild<QAction*>(QStringLiteral("actionCloseCheckpoint"));
  close->trigger();  // the current one: tiny_mlp
  QCOMPARE(childNames(tree(*w_), {}), QStringList{"tiny_llama.safetensors"});
  QCOMPARE(w_->summary(), kLlamaSummary);
  QCOMPARE(test::findBars(chartFrame(*w_)).size(), std::size_t{5});
  QVERIFY(close->isEnabled());
  close->trigger();
  QCOMPARE(tree(*w_)->rowCount(), 0);
  QCOMPARE(w_->summary(), QString());
  QCOMPARE(w_->windowTitle(), QStringLiteral("ParamScope"));
  QCOMPARE(w_->chart().bar_count(), std::size_t{0});
  QCOMPARE(test::countPixels(chartFrame(*w_), figures::palette::bar), 0);
  QVERIFY(!close->isEnabled());
}

void TestMainWindow::recentFilesMenuReopens() {
  QVERIFY(open(kLlama));
  QVERIFY(open(kMlp));
  auto* menu = w_->findChild<QMenu*>(QStringLiteral("menuRecent"));
  QVERIFY(menu);
  QStringList listed;
  QAction* llama = nullptr;
  for (QAction* a : menu->actions())
    if (a->data().isValid()) {
      listed << a->data().toString();
      if (a->data().toString() == kLlama) llama = a;
    }
  QCOMPARE(listed, (QStringList{kMlp, kLlama}));
  QSignalSpy loaded(w_.get(), &MainWindow::loaded);
  llama->trigger();
  QVERIFY(loaded.wait(10000));
  QCOMPARE(loaded[0][0].toString(), kLlama);
  QCOMPARE(w_->recentFiles()->paths(), (QStringList{kLlama, kMlp}));
  // Kept in the settings for the next session.
  QCOMPARE(QSettings().value(ui::RecentFiles::kSettingsKey).toStringList(), (QStringList{kLlama, kMlp}));
}

void TestMainWindow::filterHidingNewCheckpointStillShowsIt() {
  QVERIFY(open(kMlp));
  w_->treeDock()->filterEdit()->setText(QStringLiteral("bias"));  // tiny_llama has none
  QVERIFY(open(kLlama));
  QCOMPARE(childNames(tree(*w_), {}), QStringList{"tiny_mlp.safetensors"});
  QCOMPARE(w_->summary(), kLlamaSummary);
  QCOMPARE(w_->chart().bar_count(), std::size_t{5});
  w_->treeDock()->filterEdit()->clear();
  QCOMPARE(tree(*w_)->rowCount(), 2);
}

void TestMainWindow::geometryAndDocksAreRestored() {
  w_->resize(900, 640);
  w_->treeDock()->hide();
  QTRY_COMPARE(w_->size(), QSize(900, 640));
  w_->close();
  w_.reset();
  MainWindow again;
  again.show();
  QVERIFY(QTest::qWaitForWindowExposed(&again));
  QCOMPARE(again.size(), QSize(900, 640));
  QVERIFY(!again.treeDock()->isVisible());
}

void TestMainWindow::commandLine_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QStringList>("paths");
  QTest::addColumn<QString>("screenshot");
  QTest::addColumn<bool>("quit");
  QTest::addColumn<QSize>("size");
  QTest::addColumn<QString>("errorHas");
  QTest::newRow("nothing") << QStringList{} << QStringList{} << QString() << false << QSize() << QString();
  QTest::newRow("paths") << QStringList{"a.safetensors", "dir"} << QStringList{"a.safetensors", "dir"} << QString()
                         << false << QSize() << QString();
  QTest::newRow("scripted") << QStringList{"--screenshot", "s.png", "--quit-after-load", "m.gguf", "--size", "1400x900"}
                            << QStringList{"m.gguf"} << "s.png" << true << QSize(1400, 900) << QString();
  QTest::newRow("bad size") << QStringList{"--size", "big"} << QStringList{} << QString() << false << QSize() << "--size";
  QTest::newRow("unknown option") << QStringList{"--frobnicate"} << QStringList{} << QString() << false << QSize()
                                  << "frobnicate";
  QTest::newRow("missing value") << QStringList{"--screenshot"} << QStringList{} << QString() << false << QSize()
                                 << "screenshot";
  QTest::newRow("tensor and view") << QStringList{"m.gguf", "--tensor", "a.weight", "--view", "Spectrum"}
                                   << QStringList{"m.gguf"} << QString() << false << QSize() << QString();
  QTest::newRow("bad view") << QStringList{"--view", "pie"} << QStringList{} << QString() << false << QSize()
                            << "--view is one of blocks, heatmap";
}

void TestMainWindow::commandLine() {
  QFETCH(QStringList, args);
  QFETCH(QStringList, paths);
  QFETCH(QString, screenshot);
  QFETCH(bool, quit);
  QFETCH(QSize, size);
  QFETCH(QString, errorHas);
  const auto o = ui::parseStartupOptions(QStringList{"paramscope"} + args);
  if (!errorHas.isEmpty()) {
    QVERIFY2(o.error.contains(errorHas), qPrintable(o.error));
    return;
  }
  QCOMPARE(o.error, QString());
  QCOMPARE(o.paths, paths);
  QCOMPARE(o.screenshot, screenshot);
  QCOMPARE(o.quitAfterLoad, quit);
  QCOMPARE(o.size, size);
  QCOMPARE(o.tensor, args.contains("--tensor") ? QStringLiteral("a.weight") : QString());
  QCOMPARE(o.view, args.contains("--view") ? int(ui::FigureTabs::SpectrumTab) : -1);
}

void TestMainWindow::startupRunSavesScreenshot_data() {
  QTest::addColumn<QStringList>("paths");
  QTest::addColumn<int>("exitCode");
  QTest::addColumn<int>("checkpoints");
  QTest::newRow("loads") << QStringList{kLlama, kMlp} << 0 << 2;
  QTest::newRow("one fails") << QStringList{kLlama, test::path("gui/broken.safetensors")} << 1 << 1;
  QTest::newRow("no paths") << QStringList{} << 0 << 0;
}

void TestMainWindow::startupRunSavesScreenshot() {
  QFETCH(QStringList, paths);
  QFETCH(int, exitCode);
  QFETCH(int, checkpoints);
  ui::StartupOptions options;
  options.paths = paths;
  options.screenshot = tmp_.filePath(QStringLiteral("shot.png"));
  options.size = QSize(1000, 600);
  QFile::remove(options.screenshot);
  ui::StartupRun run(w_.get(), options);
  QSignalSpy finished(&run, &ui::StartupRun::finished);
  run.start();
  QVERIFY(finished.wait(15000));
  QCOMPARE(finished[0][0].toInt(), exitCode);
  QCOMPARE(w_->model()->rowCount(), checkpoints);
  const QImage shot(options.screenshot);
  QCOMPARE(shot.size(), QSize(1000, 600) * w_->devicePixelRatio());
  test::keepImage(shot, QStringLiteral("startup_") + QTest::currentDataTag());
  // The chart is in the picture when something loaded.
  QCOMPARE(test::countPixels(shot, figures::palette::bar) > 10000, checkpoints > 0);
}

void TestMainWindow::startupShowsTensor_data() {
  QTest::addColumn<QString>("tensor");
  QTest::addColumn<int>("view");
  QTest::addColumn<int>("exitCode");
  QTest::addColumn<int>("tab");
  QTest::newRow("heatmap") << "model.layers.0.mlp.down_proj.weight" << -1 << 0 << int(ui::FigureTabs::HeatmapTab);
  QTest::newRow("distribution") << "model.layers.0.mlp.down_proj.weight" << int(ui::FigureTabs::HistogramTab) << 0
                                << int(ui::FigureTabs::HistogramTab);
  QTest::newRow("no such tensor") << "model.nothing.weight" << -1 << 1 << int(ui::FigureTabs::BlocksTab);
}

// --tensor selects the tensor and waits for its heatmap before the screenshot; --view picks the tab.
void TestMainWindow::startupShowsTensor() {
  QFETCH(QString, tensor);
  QFETCH(int, view);
  QFETCH(int, exitCode);
  QFETCH(int, tab);
  ui::StartupOptions options;
  options.paths = QStringList{kLlama};
  options.tensor = tensor;
  options.view = view;
  options.screenshot = tmp_.filePath(QStringLiteral("tensor.png"));
  ui::StartupRun run(w_.get(), options);
  QSignalSpy finished(&run, &ui::StartupRun::finished);
  run.start();
  QVERIFY(finished.wait(30000));
  QCOMPARE(finished[0][0].toInt(), exitCode);
  QCOMPARE(w_->figures()->currentIndex(), tab);
  if (exitCode != 0) return;
  const auto* pyramid = w_->figures()->heatmap().pyramid();
  QVERIFY(pyramid);
  const auto& t = w_->model()->checkpointAt(0)->at(tensor.toStdString());
  QCOMPARE(pyramid->rows(), t.shape()[0]);
  QCOMPARE(pyramid->cols(), t.shape()[1]);
}

// The tab shown and the profile's style come back with the next window.
void TestMainWindow::viewStateRestored() {
  QCOMPARE(w_->figures()->currentIndex(), int(ui::FigureTabs::BlocksTab));
  QVERIFY(!w_->figures()->profileLines());
  w_->figures()->setCurrentIndex(ui::FigureTabs::SpectrumTab);
  w_->figures()->setProfileLines(true);
  w_->close();
  MainWindow again;
  QCOMPARE(again.figures()->currentIndex(), int(ui::FigureTabs::SpectrumTab));
  QVERIFY(again.figures()->profileLines());
  QCOMPARE(again.figures()->profile().style(), figures::ProfileChart::Style::Lines);
}

PARAMSCOPE_GUI_TEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
