// GUI responsiveness on a large checkpoint (issue 4), run under a display (xvfb-run):
//   paramscope-bench-gui CHECKPOINT [TENSOR]
// 1. open: from openPath() to the tree showing the checkpoint's blocks;
// 2. the largest tensor (or TENSOR) selected: until its heatmap's first frame is on screen;
// 3. the worst gap between GUI-thread timer ticks (1 ms apart) while a full-model importance
//    job (magnitude, L2 per neuron) runs on the pool, and the job's time.
#include <QApplication>
#include <QElapsedTimer>
#include <QOpenGLWidget>
#include <QSignalSpy>
#include <QSurfaceFormat>
#include <QTest>
#include <QTimer>
#include <QTreeView>
#include <cstdio>

#include "criterion_panel.h"
#include "figure_tabs.h"
#include "job.h"
#include "main_window.h"
#include "startup.h"
#include "tree_dock.h"
#include "vtk_view_widget.h"

using namespace paramscope;

namespace {

// Records the longest time the event loop went without running a 1 ms timer.
class StallMeter : public QObject {
 public:
  StallMeter() {
    timer_.setInterval(1);
    connect(&timer_, &QTimer::timeout, this, [this] {
      const qint64 now = clock_.nsecsElapsed();
      if (last_ >= 0 && now - last_ > worst_) {
        worst_ = now - last_;
        worst_at_ = last_;
      }
      if (last_ >= 0 && now - last_ > 30'000'000) {
        ++over30_;
        // PARAMSCOPE_BENCH_STALLS=1 lists them, to line up with a profile.
        if (list_)
          std::printf("  stall %.1f ms at %.0f ms\n", static_cast<double>(now - last_) / 1e6,
                      static_cast<double>(last_) / 1e6);
      }
      last_ = now;
    });
  }
  void start() {
    worst_ = 0;
    worst_at_ = 0;
    over30_ = 0;
    last_ = -1;
    clock_.start();
    timer_.start();
  }
  double stop_ms() {
    timer_.stop();
    return static_cast<double>(worst_) / 1e6;
  }
  /// When the worst stall began, in ms after start(); and how many stalls exceeded 30 ms.
  double worst_at_ms() const { return static_cast<double>(worst_at_) / 1e6; }
  int over30() const { return over30_; }

 private:
  QTimer timer_;
  QElapsedTimer clock_;
  qint64 last_ = -1, worst_ = 0, worst_at_ = 0;
  int over30_ = 0;
  bool list_ = qEnvironmentVariableIntValue("PARAMSCOPE_BENCH_STALLS") != 0;
};

}  // namespace

int main(int argc, char* argv[]) {
  QSurfaceFormat::setDefaultFormat(ui::VtkViewWidget::defaultFormat());
  QApplication::setAttribute(Qt::AA_ShareOpenGLContexts);
  QApplication app(argc, argv);
  ui::setApplicationInfo();
  QCoreApplication::setApplicationName(QStringLiteral("paramscope-bench"));  // own settings
  if (argc < 2) {
    std::fprintf(stderr, "usage: paramscope-bench-gui CHECKPOINT [TENSOR]\n");
    return 2;
  }
  ui::MainWindow w;
  w.setErrorDialogsEnabled(false);
  w.resize(1600, 1000);
  w.show();
  if (!QTest::qWaitForWindowExposed(&w)) return 1;

  QElapsedTimer t;
  QSignalSpy loaded(&w, &ui::MainWindow::loaded);
  t.start();
  w.openPath(QString::fromLocal8Bit(argv[1]));
  if (!loaded.wait(60000)) return 1;
  QApplication::processEvents();  // the tree lays out its rows
  const double open_ms = static_cast<double>(t.nsecsElapsed()) / 1e6;
  const auto c = w.model()->checkpointAt(0);
  std::printf("open + tree: %.1f ms (%zu tensors)\n", open_ms, c->tensors().size());

  std::string name = argc > 2 ? argv[2] : "";
  if (name.empty()) {
    std::int64_t largest = 0;
    for (const auto& tensor : c->tensors())
      if (tensor.shape().size() == 2 && tensor.numel() > largest) {
        largest = tensor.numel();
        name = tensor.name();
      }
  }
  auto* view = w.figures()->view(ui::FigureTabs::HeatmapTab);
  QSignalSpy updated(w.figures(), &ui::FigureTabs::viewUpdated);
  StallMeter stalls;
  stalls.start();
  t.restart();
  w.treeDock()->showTensor(0, name);
  while (true) {
    if (!updated.wait(60000)) return 1;
    bool heatmap = false;
    for (const auto& args : updated) heatmap = heatmap || args.at(0).toInt() == ui::FigureTabs::HeatmapTab;
    if (heatmap) break;
  }
  QSignalSpy frame(view, &QOpenGLWidget::frameSwapped);
  if (!frame.wait(10000)) return 1;
  const double heatmap_ms = static_cast<double>(t.nsecsElapsed()) / 1e6;
  const double select_stall = stalls.stop_ms();
  std::printf(
      "select %s (%s): first heatmap frame %.1f ms, worst GUI stall meanwhile %.1f ms (at %.0f ms; %d over 30 ms)\n",
      name.c_str(), shape_string(c->at(name).shape()).c_str(), heatmap_ms, select_stall, stalls.worst_at_ms(),
      stalls.over30());

  // A full-model job while the user keeps working: the event loop must keep ticking.
  ui::ComputeRequest r{QStringLiteral("magnitude"), QStringLiteral("neuron"), QStringLiteral("l2"), {}, {}};
  stalls.start();
  t.restart();
  ui::Job* job = w.computeImportance(r);
  QSignalSpy done(job, &ui::Job::finished);
  if (!done.wait(600000)) return 1;
  const double job_ms = static_cast<double>(t.nsecsElapsed()) / 1e6;
  const double job_stall = stalls.stop_ms();
  std::printf(
      "importance job (magnitude, L2 per neuron, whole model): %.2f s, worst GUI stall %.1f ms (at %.0f ms; %d over 30 "
      "ms), state %s\n",
      job_ms / 1000, job_stall, stalls.worst_at_ms(), stalls.over30(), ui::stateName(job->state()));
  return 0;
}
