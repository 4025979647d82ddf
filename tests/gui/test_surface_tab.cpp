// The 3D tab in the main window: selecting a tensor gives its heightfield (from the heatmap's
// pyramid, the tensor's own values for a small one); an importance result per neuron adds one
// surface over (block, neuron) per module kind, chosen in the combo above the view.
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QSignalSpy>
#include <QtTest>

#include <cmath>

#include "criterion_panel.h"
#include "figure_tabs.h"
#include "gui_test_support.h"
#include "job.h"
#include "main_window.h"
#include "paramscope/figures/surface_scene.h"
#include "tree_dock.h"
#include "vtk_view_widget.h"

using namespace paramscope;

namespace {

// Shows w at the given size and opens path in it; false if it does not load in time.
bool showAndOpen(ui::MainWindow& w, const QString& path, QSize size = {1400, 900}, int timeoutMs = 5000) {
  w.setErrorDialogsEnabled(false);
  w.resize(size);
  w.show();
  if (!QTest::qWaitForWindowExposed(&w)) return false;
  QSignalSpy loaded(&w, &ui::MainWindow::loaded);
  w.openPath(path);
  return loaded.wait(timeoutMs);
}

bool hasUpdate(const QSignalSpy& spy, int tab) {
  for (const auto& args : spy)
    if (args.at(0).toInt() == tab) return true;
  return false;
}

int surfacePixels(const QImage& image) {
  // Neither the background nor text grey: the surface's colours.
  const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
  int n = 0;
  for (int y = 0; y < rgb.height(); ++y)
    for (int x = 0; x < rgb.width(); ++x) {
      const QRgb p = rgb.pixel(x, y);
      n += qRed(p) != qGreen(p) || qGreen(p) != qBlue(p);
    }
  return n;
}

}  // namespace

class TestSurfaceTab : public QObject {
  Q_OBJECT

private slots:
  void init() { QSettings().clear(); }

  void selectingATensorShowsItsHeightfield() {
    ui::MainWindow w;
    QVERIFY(showAndOpen(w, test::path("gui/tiny_llama.safetensors")));
    ui::FigureTabs* tabs = w.figures();
    QCOMPARE(tabs->tabText(ui::FigureTabs::SurfaceTab), QStringLiteral("3D"));
    const auto c = w.model()->checkpointAt(0);
    std::string name;
    for (const auto& t : c->tensors())
      if (t.shape().size() == 2 && t.shape()[0] > 4 && t.shape()[1] > 4) name = t.name();
    QVERIFY(!name.empty());
    QSignalSpy updated(tabs, &ui::FigureTabs::viewUpdated);
    w.treeDock()->showTensor(0, name);
    QTRY_VERIFY_WITH_TIMEOUT(hasUpdate(updated, ui::FigureTabs::HeatmapTab), 10000);
    // The surface is built when its tab is shown, from the pyramid the heatmap job built.
    tabs->setCurrentIndex(ui::FigureTabs::SurfaceTab);
    QTRY_VERIFY_WITH_TIMEOUT(hasUpdate(updated, ui::FigureTabs::SurfaceTab), 5000);
    QCOMPARE(tabs->currentScene(), static_cast<figures::Scene*>(&tabs->surface()));
    const figures::SurfaceGrid& g = tabs->surface().grid();
    const Tensor& t = c->at(name);
    QCOMPARE(g.rows, t.shape()[0]);
    QCOMPARE(g.cols, t.shape()[1]);
    const std::vector<float> v = t.to_f32();  // small: every weight is a grid point
    QCOMPARE(g.values, v);
    auto* view = tabs->view(ui::FigureTabs::SurfaceTab);
    QTRY_VERIFY_WITH_TIMEOUT(surfacePixels(view->grabFramebuffer()) > 5000, 5000);
    test::keepImage(view->grabFramebuffer(), QStringLiteral("surface_tab_tensor"));

    // Height sets the scene's height fraction and redraws (the camera refits the taller surface).
    auto* height = w.findChild<QDoubleSpinBox*>(QStringLiteral("surfaceHeight"));
    QVERIFY(height);
    QCOMPARE(height->value(), tabs->surface().height_fraction());
    const QImage before = view->grabFramebuffer();
    height->setValue(2.0);
    QCOMPARE(tabs->surface().height_fraction(), 2.0);
    QTRY_VERIFY_WITH_TIMEOUT(view->grabFramebuffer() != before, 5000);
  }

  void neuronImportanceOverBlocks() {
    ui::MainWindow w;
    QVERIFY(showAndOpen(w, test::path("gui/tiny_llama.safetensors")));
    ui::Job* job =
        w.computeImportance({QStringLiteral("magnitude"), QStringLiteral("neuron"), QStringLiteral("l2"), {}, {}});
    QVERIFY(job);
    QSignalSpy finished(job, &ui::Job::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(job->state(), ui::Job::State::Done);

    auto* source = w.findChild<QComboBox*>(QStringLiteral("surfaceSource"));
    QVERIFY(source);
    const int down = source->findData(QStringLiteral("mlp.down"));
    QVERIFY2(down > 0, qPrintable(QString::number(source->count())));
    QVERIFY(source->findData(QStringLiteral("attn.q")) > 0);
    ui::FigureTabs* tabs = w.figures();
    tabs->setCurrentIndex(ui::FigureTabs::SurfaceTab);
    QSignalSpy updated(tabs, &ui::FigureTabs::viewUpdated);
    source->setCurrentIndex(down);
    QTRY_VERIFY_WITH_TIMEOUT(hasUpdate(updated, ui::FigureTabs::SurfaceTab), 5000);

    // Rows: the blocks with an MLP; columns: down_proj's output neurons; values: L2 of each row.
    const auto c = w.model()->checkpointAt(0);
    const figures::SurfaceGrid& g = tabs->surface().grid();
    QCOMPARE(g.row_axis, std::string("block"));
    QCOMPARE(g.col_axis, std::string("neuron"));
    int blocks = 0;
    for (const Tensor& t : c->tensors()) blocks += t.name().find("mlp.down_proj.weight") != std::string::npos;
    QCOMPARE(g.rows, static_cast<std::int64_t>(blocks));
    for (int b = 0; b < blocks; ++b) {
      const Tensor& t = c->at("model.layers." + std::to_string(b) + ".mlp.down_proj.weight");
      QCOMPARE(g.cols, t.shape()[0]);
      const std::vector<float> x = t.to_f32();
      const std::int64_t in = t.shape()[1];
      for (std::int64_t n = 0; n < t.shape()[0]; ++n) {
        double sq = 0;
        for (std::int64_t j = 0; j < in; ++j) {
          const double e = x[static_cast<std::size_t>(n * in + j)];
          sq += e * e;
        }
        const double got = g.values[static_cast<std::size_t>(b * g.cols + n)];
        QVERIFY2(std::abs(got - std::sqrt(sq)) <= 1e-5 * std::sqrt(sq), qPrintable(QStringLiteral("%1 %2").arg(b).arg(n)));
      }
    }
    auto* view = tabs->view(ui::FigureTabs::SurfaceTab);
    QTRY_VERIFY_WITH_TIMEOUT(surfacePixels(view->grabFramebuffer()) > 5000, 5000);
    test::keepImage(view->grabFramebuffer(), QStringLiteral("surface_tab_neurons"));

    // Back to the tensor heightfield: nothing selected yet, so an empty surface.
    updated.clear();
    source->setCurrentIndex(0);
    QTRY_VERIFY_WITH_TIMEOUT(hasUpdate(updated, ui::FigureTabs::SurfaceTab), 5000);
    QCOMPARE(tabs->surface().grid().rows, std::int64_t{0});
  }

  // The bundled sample (4 blocks, intermediate size 176): the MLP's up projection over (block,
  // neuron) has 4 x 176 points. With PARAMSCOPE_TEST_IMAGES set the window is kept as gui-3d.png
  // (the picture in docs/gui.md).
  void sampleOverBlocksAndNeurons() {
    ui::MainWindow w;
    QVERIFY(showAndOpen(w, QString::fromStdString((test::samples_dir() / "tiny-llama").string()), {1500, 950}, 10000));
    ui::Job* job =
        w.computeImportance({QStringLiteral("magnitude"), QStringLiteral("neuron"), QStringLiteral("l2"), {}, {}});
    QVERIFY(job);
    QSignalSpy finished(job, &ui::Job::finished);
    QVERIFY(finished.wait(20000));
    auto* source = w.findChild<QComboBox*>(QStringLiteral("surfaceSource"));
    QVERIFY(source);
    // The heightfield, then one entry per module kind with per-neuron maps.
    QStringList kinds;
    for (int i = 1; i < source->count(); ++i) kinds << source->itemData(i).toString();
    kinds.sort();
    QCOMPARE(kinds, (QStringList{"attn.k", "attn.o", "attn.q", "attn.v", "head", "mlp.down", "mlp.gate", "mlp.up"}));
    ui::FigureTabs* tabs = w.figures();
    tabs->setCurrentIndex(ui::FigureTabs::SurfaceTab);
    QSignalSpy updated(tabs, &ui::FigureTabs::viewUpdated);
    source->setCurrentIndex(source->findData(QStringLiteral("mlp.up")));
    QTRY_VERIFY_WITH_TIMEOUT(hasUpdate(updated, ui::FigureTabs::SurfaceTab), 5000);
    const figures::SurfaceGrid& g = tabs->surface().grid();
    QCOMPARE(g.rows, std::int64_t{4});
    QCOMPARE(g.cols, std::int64_t{176});
    QCOMPARE(g.row_labels, (std::vector<std::string>{"layers.0", "layers.1", "layers.2", "layers.3"}));
    auto* view = tabs->view(ui::FigureTabs::SurfaceTab);
    QTRY_VERIFY_WITH_TIMEOUT(surfacePixels(view->grabFramebuffer()) > 5000, 5000);
    test::keepImage(w.grab().toImage(), QStringLiteral("gui-3d"));
  }
};

PARAMSCOPE_GUI_TEST_MAIN(TestSurfaceTab)
#include "test_surface_tab.moc"
