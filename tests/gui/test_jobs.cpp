// Long work from the GUI: jobs run on workers with progress, cancel and errors in place; the
// Importance dock starts one and its scores land in the tree.
#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTreeView>
#include <QtTest>

#include <cmath>
#include <thread>

#include "checkpoint_tree_model.h"
#include "criterion_panel.h"
#include "figure_tabs.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/histogram_chart.h"
#include "vtk_view_widget.h"
#include "gui_test_support.h"
#include "jobs_dock.h"
#include "jobs_model.h"
#include "main_window.h"
#include "paramscope/error.h"
#include "tree_dock.h"

using namespace paramscope;
using ui::Job;
using ui::JobsModel;

namespace {

// Work that counts to n in steps, reporting progress and polling cancel, then delivers n.
Job::Work counting(std::uint64_t n, std::chrono::milliseconds step, std::uint64_t* delivered) {
  return [=](const JobControl& control) -> std::function<void()> {
    ProgressTracker tracker(control, n);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::this_thread::sleep_for(step);
      tracker.advance(1);
    }
    tracker.finish();
    return [=] { *delivered = n; };
  };
}

}  // namespace

class TestJobs : public QObject {
  Q_OBJECT

private slots:
  void init() { QSettings().clear(); }

  void jobEndsDoneWithItsResult() {
    JobsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    std::uint64_t delivered = 0;
    Job* job = model.start(QStringLiteral("count"), counting(40, std::chrono::milliseconds(10), &delivered));
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.runningCount(), 1);
    QSignalSpy progress(job, &Job::progressChanged);
    QSignalSpy finished(job, &Job::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(job->state(), Job::State::Done);
    QCOMPARE(delivered, std::uint64_t{40});
    QCOMPARE(job->fraction(), 1.0);
    QVERIFY(progress.count() >= 2);  // moved on the way (polled every 100 ms over ~400 ms), then 1
    QCOMPARE(model.index(0, JobsModel::StateColumn).data().toString(), QStringLiteral("done"));
    QCOMPARE(model.index(0, JobsModel::ProgressColumn).data().toString(), QStringLiteral("100 %"));
    model.clearFinished();
    QCOMPARE(model.rowCount(), 0);
  }

  void cancelStopsWithinAFractionOfASecond() {
    JobsModel model;
    ui::JobsDock dock(&model);
    std::uint64_t delivered = 0;
    Job* job = model.start(QStringLiteral("long"), counting(100000, std::chrono::milliseconds(1), &delivered));
    QSignalSpy finished(job, &Job::finished);
    QTest::qWait(150);
    auto* cancel = dock.findChild<QPushButton*>(QStringLiteral("cancelJob"));
    QVERIFY(cancel && cancel->isEnabled());
    QElapsedTimer t;
    t.start();
    cancel->click();  // nothing selected: cancels every running job
    QVERIFY(finished.wait(2000));
    QVERIFY2(t.elapsed() < 500, qPrintable(QStringLiteral("took %1 ms").arg(t.elapsed())));
    QCOMPARE(job->state(), Job::State::Cancelled);
    QCOMPARE(delivered, std::uint64_t{0});
    QVERIFY(!cancel->isEnabled());
    QCOMPARE(model.index(0, JobsModel::StateColumn).data().toString(), QStringLiteral("cancelled"));
  }

  void errorsShowInPlace() {
    JobsModel model;
    Job* job = model.start(QStringLiteral("bad"), [](const JobControl&) -> std::function<void()> {
      throw bad_input("/tmp/x.safetensors", "header is not JSON");
    });
    QSignalSpy finished(job, &Job::finished);
    QVERIFY(finished.wait(5000));
    QCOMPARE(job->state(), Job::State::Failed);
    QCOMPARE(model.index(0, JobsModel::StateColumn).data().toString(),
             QStringLiteral("failed: /tmp/x.safetensors: header is not JSON"));
  }

  void panelFollowsTheCriterion() {
    ui::CriterionPanel panel;
    auto* criterion = panel.findChild<QComboBox*>(QStringLiteral("criterion"));
    auto* granularity = panel.findChild<QComboBox*>(QStringLiteral("granularity"));
    auto* base = panel.findChild<QLineEdit*>(QStringLiteral("baseCheckpoint"));
    auto* stats = panel.findChild<QLineEdit*>(QStringLiteral("statsFile"));
    auto* compute = panel.findChild<QPushButton*>(QStringLiteral("compute"));
    QVERIFY(criterion && granularity && base && stats && compute);
    QVERIFY(!compute->isEnabled());  // no checkpoint yet
    panel.setCheckpointAvailable(true);
    QVERIFY(compute->isEnabled());
    criterion->setCurrentText(QStringLiteral("delta"));
    QVERIFY(base->isEnabled());
    QVERIFY(!stats->isEnabled());
    criterion->setCurrentText(QStringLiteral("wanda"));
    QVERIFY(!base->isEnabled());
    QVERIFY(stats->isEnabled());
    granularity->setCurrentText(QStringLiteral("neuron"));
    criterion->setCurrentText(QStringLiteral("spectral-norm"));  // one value per matrix
    QCOMPARE(granularity->currentText(), QStringLiteral("tensor"));
    QSignalSpy requested(&panel, &ui::CriterionPanel::computeRequested);
    compute->click();
    QCOMPARE(requested.count(), 1);
    const auto r = requested.at(0).at(0).value<ui::ComputeRequest>();
    QCOMPARE(r.criterion, QStringLiteral("spectral-norm"));
    QCOMPARE(r.granularity, QStringLiteral("tensor"));
  }

  // Computing from the GUI: the Importance column gets each tensor's L2 norm of |w| (checked
  // against the weights themselves) and each block's.
  void computeFillsTheImportanceColumn() {
    ui::MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy loaded(&w, &ui::MainWindow::loaded);
    w.openPath(test::path("gui/tiny_llama.safetensors"));
    QVERIFY(loaded.wait(5000));
    Job* job = w.computeImportance({QStringLiteral("magnitude"), QStringLiteral("tensor"), QStringLiteral("l2"), {}, {}});
    QVERIFY(job);
    QSignalSpy finished(job, &Job::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(job->state(), Job::State::Done);
    QCOMPARE(w.jobs()->rowCount(), 1);

    ui::CheckpointTreeModel* m = w.model();
    QCOMPARE(m->importanceLabel(0), QStringLiteral("magnitude · l2 per tensor"));
    const auto c = m->checkpointAt(0);
    int checked = 0;
    const QModelIndex top = m->checkpointIndex(0);
    for (int b = 0; b < m->rowCount(top); ++b) {
      const QModelIndex block = m->index(b, 0, top);
      for (int t = 0; t < m->rowCount(block); ++t) {
        const Tensor* tensor = m->tensorAt(m->index(t, 0, block));
        const QVariant shown = m->index(t, ui::CheckpointTreeModel::ImportanceColumn, block).data(
            ui::CheckpointTreeModel::SortRole);
        if (tensor->shape().size() < 2 || tensor->name().find("embed") != std::string::npos) continue;  // not scored
        double sq = 0;
        for (float v : tensor->to_f32()) sq += static_cast<double>(v) * v;
        QVERIFY2(std::abs(shown.toDouble() - std::sqrt(sq)) <= 1e-5 * std::sqrt(sq), tensor->name().c_str());
        ++checked;
      }
    }
    QVERIFY(checked >= 7);
  }

  // Selecting a tensor in the tree builds its pyramid on the pool and shows it: the heatmap's
  // read-out under the view's centre is that tensor's weight there; the histogram counts every
  // weight. A profile click's tensor goes back to the tree.
  void selectingATensorShowsItsFigures() {
    ui::MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.resize(1400, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy loaded(&w, &ui::MainWindow::loaded);
    w.openPath(test::path("gui/tiny_llama.safetensors"));
    QVERIFY(loaded.wait(5000));
    const auto c = w.model()->checkpointAt(0);
    std::string name;
    for (const auto& t : c->tensors())
      if (t.shape().size() == 2 && t.shape()[0] > 4 && t.shape()[1] > 4) name = t.name();
    QVERIFY(!name.empty());
    QSignalSpy updated(w.figures(), &ui::FigureTabs::viewUpdated);
    w.treeDock()->showTensor(0, name);
    QTRY_VERIFY_WITH_TIMEOUT(updated.count() >= 2, 10000);  // heatmap and distribution (and spectrum)
    QCOMPARE(w.figures()->currentIndex(), static_cast<int>(ui::FigureTabs::HeatmapTab));
    QTRY_VERIFY_WITH_TIMEOUT(w.figures()->heatmap().readout_at(1, 1).has_value() ||
                                 w.figures()->view(ui::FigureTabs::HeatmapTab)->width() > 0,
                             2000);
    const Tensor& t = c->at(name);
    const std::vector<float> v = t.to_f32();
    auto* view = w.figures()->view(ui::FigureTabs::HeatmapTab);
    const auto r = w.figures()->heatmap().readout_at(view->width() / 2, view->height() / 2);
    QVERIFY(r.has_value());
    QCOMPARE(r->value, v[static_cast<std::size_t>(r->row * t.shape()[1] + r->col)]);
    QTRY_COMPARE_WITH_TIMEOUT(w.figures()->histogram().bin_count(), std::size_t{100}, 10000);
  }
};

PARAMSCOPE_GUI_TEST_MAIN(TestJobs)
#include "test_jobs.moc"
