// The heatmap's tool bar: colormap, scale and clipping re-colour known pixels as expected, the
// per-pixel reduction switches between max-abs and mean, the top-k overlay of the criterion's
// scores comes and goes, the importance heatmap of magnitude is |w|, a per-matrix criterion says
// so in place, and the choices come back in a new window.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QSignalSpy>
#include <QtTest>

#include <filesystem>

#include "paramscope/writers.h"

#include <cmath>

#include "checkpoint_tree_model.h"
#include "figure_tabs.h"
#include "gui_test_support.h"
#include "heatmap_controls.h"
#include "heatmap_page.h"
#include "export_mask_dialog.h"
#include "export_maps_dialog.h"
#include "jobs_model.h"
#include "main_window.h"
#include "tree_dock.h"
#include "paramscope/figures/colormap.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/histogram_chart.h"
#include "paramscope/pyramid.h"

using namespace paramscope;
using figures::Colormap;
using figures::Rgb;

namespace {

constexpr int kWidth = 800, kHeight = 600;

Rgb rgbAt(const QImage& image, QPoint at) {
  const QRgb p = image.pixel(at);
  return {static_cast<std::uint8_t>(qRed(p)), static_cast<std::uint8_t>(qGreen(p)), static_cast<std::uint8_t>(qBlue(p))};
}

QString text(Rgb c) { return QStringLiteral("(%1, %2, %3)").arg(c.r).arg(c.g).arg(c.b); }

#define QCOMPARE_RGB(actual, expected)                                                      \
  do {                                                                                      \
    const Rgb a_ = (actual), e_ = (expected);                                               \
    QVERIFY2(a_ == e_, qPrintable(QStringLiteral("%1 vs %2").arg(text(a_)).arg(text(e_)))); \
  } while (false)

QPoint centreOf(const figures::PixelRect& p, std::int64_t rows, std::int64_t cols, double row, double col) {
  return {p.x + static_cast<int>((col + 0.5) * p.width / static_cast<double>(cols)),
          p.y + static_cast<int>((row + 0.5) * p.height / static_cast<double>(rows))};
}

std::shared_ptr<const TensorPyramid> pyramidOf(std::vector<float> v, std::int64_t rows, std::int64_t cols) {
  PyramidOptions both;
  both.mean = true;
  return std::make_shared<const TensorPyramid>(TensorPyramid::of_values(
      std::make_shared<const std::vector<float>>(std::move(v)), rows, cols, ThreadPool::global(), {}, both));
}

template <typename T>
T* child(QObject* parent, const char* name) {
  T* w = parent->findChild<T*>(QLatin1String(name));
  if (!w) qFatal("no %s", name);
  return w;
}

// The 2-D tensor of the tiny model with the most elements.
const Tensor* largestMatrix(const Checkpoint& c) {
  const Tensor* best = nullptr;
  for (const auto& t : c.tensors())
    if (t.shape().size() == 2 && t.name().find("embed") == std::string::npos && (!best || t.numel() > best->numel()))
      best = &t;
  return best;
}

}  // namespace

class TestHeatmapControls : public QObject {
  Q_OBJECT

private slots:
  void init() { QSettings().clear(); }

  void controlsRecolour_data();
  void controlsRecolour();
  void perPixelReduction();
  void overlayOnOff();
  void importanceIsMagnitude();
  void perMatrixCriterionSaysSo();
  void settingsRestored();
  void mainWindowWiring();
  void meanLevelsComeWhenAskedFor();

private:
  QImage render(figures::HeatmapScene& scene, const QString& name) {
    const QString file = tmp_.filePath(name + QStringLiteral(".png"));
    scene.save_png(file.toStdString(), kWidth, kHeight);
    QImage image(file);
    if (image.isNull()) qFatal("no image %s", qPrintable(file));
    test::keepImage(image, QStringLiteral("controls_") + name);
    return image.convertToFormat(QImage::Format_RGB32);
  }
  QTemporaryDir tmp_;
};

void TestHeatmapControls::controlsRecolour_data() {
  QTest::addColumn<QString>("colormap");
  QTest::addColumn<bool>("log");
  QTest::addColumn<double>("clipLow");
  QTest::addColumn<double>("clipHigh");
  QTest::addColumn<int>("col");
  QTest::addColumn<int>("entry");
  // Matrix 1 x 4: -1, 0.5, 0.25, 1 (exact in BF16, so percentiles are exact).
  // Diverging over signed data: range [-1, 1] symmetric; 0.5 -> t = 0.75 -> entry 192.
  QTest::newRow("rdbu_r linear") << "rdbu_r" << false << 0.0 << 100.0 << 1 << 192;
  // Sequential: range [min, max] = [-1, 1]; 0.25 -> t = 0.625 -> entry 160.
  QTest::newRow("viridis linear") << "viridis" << false << 0.0 << 100.0 << 2 << 160;
  QTest::newRow("magma linear") << "magma" << false << 0.0 << 100.0 << 2 << 160;
  QTest::newRow("gray linear") << "gray" << false << 0.0 << 100.0 << 2 << 160;
  // Log: log10 |x| over [0.25, 1]: 0.25 is the bottom, 1 the top.
  QTest::newRow("magma log low") << "magma" << true << 0.0 << 100.0 << 2 << 0;
  QTest::newRow("magma log high") << "magma" << true << 0.0 << 100.0 << 3 << 255;
  // Clip 0..50: the 50th percentile (rank round(1.5) = 2 of 4) is 0.5, so 0.5 takes the top.
  QTest::newRow("viridis clip 0-50") << "viridis" << false << 0.0 << 50.0 << 1 << 255;
  // Clip 50..100: range [0.5, 1]; 0.25 falls below: the bottom colour.
  QTest::newRow("viridis clip 50-100") << "viridis" << false << 50.0 << 100.0 << 2 << 0;
}

void TestHeatmapControls::controlsRecolour() {
  QFETCH(QString, colormap);
  QFETCH(bool, log);
  QFETCH(double, clipLow);
  QFETCH(double, clipHigh);
  QFETCH(int, col);
  QFETCH(int, entry);
  ui::JobsModel jobs;
  ui::CheckpointTreeModel model;
  ui::FigureTabs tabs(&jobs, &model);
  ui::HeatmapPage* page = tabs.heatmapPage();
  page->setWeights(pyramidOf({-1.0f, 0.5f, 0.25f, 1.0f}, 1, 4), "known");
  // Through the widgets, as a user would.
  auto* map = child<QComboBox>(page, "heatmapColormap");
  map->setCurrentIndex(map->findData(colormap));
  child<QComboBox>(page, "heatmapScale")->setCurrentIndex(log ? 1 : 0);
  child<QDoubleSpinBox>(page, "heatmapClipHigh")->setValue(clipHigh);
  child<QDoubleSpinBox>(page, "heatmapClipLow")->setValue(clipLow);
  figures::HeatmapScene& scene = tabs.heatmap();
  const Colormap expectedMap = *figures::colormap_from_name(colormap.toStdString());
  QVERIFY(scene.colormap() == expectedMap);
  QVERIFY(scene.scale() == (log ? figures::ColorScale::Log : figures::ColorScale::Linear));
  const QImage image = render(scene, QString(QTest::currentDataTag()).replace(QLatin1Char(' '), QLatin1Char('_')));
  QCOMPARE_RGB(rgbAt(image, centreOf(scene.plot_rect(), 1, 4, 0, col)),
               figures::colormap_table(expectedMap)[static_cast<std::size_t>(entry)]);
}

void TestHeatmapControls::perPixelReduction() {
  // A 2048 x 2048 checkerboard of -1 and +1 seen at about 3 elements per pixel: the pixels read
  // 2 x 2 cells, whose max-abs is +1 (ties: the larger) and whose mean is 0.
  const int n = 2048;
  std::vector<float> v(static_cast<std::size_t>(n) * n);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) v[static_cast<std::size_t>(r) * n + c] = (r + c) % 2 ? 1.0f : -1.0f;
  ui::JobsModel jobs;
  ui::CheckpointTreeModel model;
  ui::FigureTabs tabs(&jobs, &model);
  ui::HeatmapPage* page = tabs.heatmapPage();
  page->setWeights(pyramidOf(std::move(v), n, n), "checkerboard");
  auto* map = child<QComboBox>(page, "heatmapColormap");
  map->setCurrentIndex(map->findData(QStringLiteral("viridis")));
  auto* perPixel = child<QComboBox>(page, "heatmapPerPixel");
  const auto& viridis = figures::colormap_table(Colormap::Viridis);
  QVERIFY(tabs.heatmap().reduction() == PyramidReduction::MaxAbs);
  const QImage maxAbs = render(tabs.heatmap(), QStringLiteral("maxabs"));
  const auto p = tabs.heatmap().plot_rect();
  const QPoint mid(p.x + p.width / 2, p.y + p.height / 2);
  QCOMPARE_RGB(rgbAt(maxAbs, mid), viridis[255]);
  perPixel->setCurrentIndex(1);
  QVERIFY(tabs.heatmap().reduction() == PyramidReduction::Mean);
  const QImage mean = render(tabs.heatmap(), QStringLiteral("mean"));
  QCOMPARE_RGB(rgbAt(mean, mid), viridis[128]);  // 0 in [-1, 1]: t = 0.5
}

void TestHeatmapControls::overlayOnOff() {
  const auto c = test::load("gui/tiny_llama.safetensors");
  const Tensor* t = largestMatrix(*c);
  QVERIFY(t);
  ui::JobsModel jobs;
  ui::CheckpointTreeModel model;
  ui::FigureTabs tabs(&jobs, &model);
  QSignalSpy updated(&tabs, &ui::FigureTabs::viewUpdated);
  tabs.showTensor(c, t);
  QTRY_VERIFY_WITH_TIMEOUT(tabs.heatmap().pyramid() != nullptr, 10000);
  figures::HeatmapScene& scene = tabs.heatmap();
  QVERIFY(!scene.overlay_threshold().has_value());
  const QImage off = render(scene, QStringLiteral("overlay_off"));
  ui::HeatmapPage* page = tabs.heatmapPage();
  child<QDoubleSpinBox>(page, "heatmapOverlayPercent")->setValue(5);
  child<QCheckBox>(page, "heatmapOverlay")->setChecked(true);
  QTRY_VERIFY_WITH_TIMEOUT(page->scores() != nullptr, 10000);
  QVERIFY(scene.overlay_threshold().has_value());
  const QImage on = render(scene, QStringLiteral("overlay_on"));
  // The largest |w| is marked, the smallest not; off again, the picture is as before.
  const std::vector<float> w = t->to_f32();
  std::size_t hi = 0, lo = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (std::abs(w[i]) > std::abs(w[hi])) hi = i;
    if (std::abs(w[i]) < std::abs(w[lo])) lo = i;
  }
  QVERIFY(*scene.overlay_threshold() <= std::abs(w[hi]));
  const auto [rows, cols] = matrix_shape(t->shape());
  const auto p = scene.plot_rect();
  auto at = [&](std::size_t i) {
    return centreOf(p, rows, cols, static_cast<double>(static_cast<std::int64_t>(i) / cols),
                    static_cast<double>(static_cast<std::int64_t>(i) % cols));
  };
  QVERIFY(!(rgbAt(on, at(hi)) == rgbAt(off, at(hi))));
  QCOMPARE_RGB(rgbAt(on, at(lo)), rgbAt(off, at(lo)));
  // The Distribution follows the heatmap: weights have no score threshold to mark; shown as
  // scores, their histogram marks the overlay's threshold.
  QVERIFY(!tabs.histogram().threshold().has_value());
  child<QComboBox>(page, "heatmapShow")->setCurrentIndex(1);
  QTRY_VERIFY_WITH_TIMEOUT(tabs.histogram().threshold().has_value(), 10000);
  QCOMPARE(*tabs.histogram().threshold(), static_cast<double>(*scene.overlay_threshold()));
  QCOMPARE(tabs.histogram().x_range().first, static_cast<double>(page->scores()->stats().min));
  child<QComboBox>(page, "heatmapShow")->setCurrentIndex(0);
  QVERIFY(!tabs.histogram().threshold().has_value());

  child<QCheckBox>(page, "heatmapOverlay")->setChecked(false);
  QVERIFY(!scene.overlay_threshold().has_value());
  const QImage again = render(scene, QStringLiteral("overlay_off_again"));
  QCOMPARE_RGB(rgbAt(again, at(hi)), rgbAt(off, at(hi)));
}

void TestHeatmapControls::importanceIsMagnitude() {
  const auto c = test::load("gui/tiny_llama.safetensors");
  const Tensor* t = largestMatrix(*c);
  ui::JobsModel jobs;
  ui::CheckpointTreeModel model;
  ui::FigureTabs tabs(&jobs, &model);
  ui::HeatmapPage* page = tabs.heatmapPage();
  tabs.showTensor(c, t);
  QTRY_VERIFY_WITH_TIMEOUT(tabs.heatmap().pyramid() != nullptr, 10000);
  QVERIFY(tabs.heatmap().colormap() == Colormap::RdBuR);  // signed weights: diverging by default
  child<QComboBox>(page, "heatmapShow")->setCurrentIndex(1);
  QTRY_VERIFY_WITH_TIMEOUT(page->scores() != nullptr && tabs.heatmap().pyramid() == page->scores().get(), 10000);
  QVERIFY(tabs.heatmap().colormap() == Colormap::Viridis);  // scores: sequential
  QVERIFY(page->controls()->message().contains(QStringLiteral("magnitude")));
  const std::vector<float> w = t->to_f32();
  const auto [rows, cols] = matrix_shape(t->shape());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t k = 0; k < cols; ++k)
      QCOMPARE(page->scores()->value_at(r, k), std::abs(w[static_cast<std::size_t>(r * cols + k)]));
  // The hover read-out shows the score of the element under the pointer.
  render(tabs.heatmap(), QStringLiteral("importance"));
  const auto p = tabs.heatmap().plot_rect();
  for (const auto& [r, k] : {std::pair<std::int64_t, std::int64_t>{0, 0}, {rows / 2, cols / 3}, {rows - 1, cols - 1}}) {
    const QPoint at = centreOf(p, rows, cols, static_cast<double>(r), static_cast<double>(k));
    const auto read = tabs.heatmap().readout_at(at.x(), at.y());
    QVERIFY(read.has_value());
    QCOMPARE(read->row, r);
    QCOMPARE(read->col, k);
    QCOMPARE(read->value, std::abs(w[static_cast<std::size_t>(r * cols + k)]));
  }
  child<QComboBox>(page, "heatmapShow")->setCurrentIndex(0);
  QVERIFY(tabs.heatmap().colormap() == Colormap::RdBuR);
}

void TestHeatmapControls::perMatrixCriterionSaysSo() {
  const auto c = test::load("gui/tiny_llama.safetensors");
  ui::JobsModel jobs;
  ui::CheckpointTreeModel model;
  ui::FigureTabs tabs(&jobs, &model);
  ui::HeatmapPage* page = tabs.heatmapPage();
  page->setRequestSource([] { return ui::ComputeRequest{QStringLiteral("spectral-norm"), QStringLiteral("tensor"), QStringLiteral("l2"), {}, {}}; });
  child<QComboBox>(page, "heatmapShow")->setCurrentIndex(1);
  tabs.showTensor(c, largestMatrix(*c));
  QTest::qWait(300);
  QTRY_VERIFY_WITH_TIMEOUT(jobs.runningCount() == 0, 10000);
  QVERIFY2(page->controls()->message().contains(QStringLiteral("one value per matrix")),
           qPrintable(page->controls()->message()));
  QVERIFY(page->scores() == nullptr);
  QVERIFY(tabs.heatmap().pyramid() == nullptr);
  // A criterion that needs statistics, without them: the job fails and the reason shows in place.
  page->setRequestSource([] { return ui::ComputeRequest{QStringLiteral("wanda"), QStringLiteral("neuron"), QStringLiteral("l2"), {}, {}}; });
  page->refreshScores();
  QVERIFY(page->scoresJob());
  QSignalSpy finished(page->scoresJob(), &ui::Job::finished);
  QVERIFY(finished.wait(10000));
  QVERIFY2(page->controls()->message().contains(QStringLiteral("statistics")), qPrintable(page->controls()->message()));
}

void TestHeatmapControls::settingsRestored() {
  ui::HeatmapSettings s;
  s.importance = true;
  s.weightsColormap = Colormap::Gray;
  s.importanceColormap = Colormap::Magma;
  s.scale = figures::ColorScale::Log;
  s.clipLow = 1.5;
  s.clipHigh = 99;
  s.reduction = PyramidReduction::Mean;
  s.overlay = true;
  s.overlayPercent = 2.5;
  {
    ui::JobsModel jobs;
    ui::CheckpointTreeModel model;
    ui::FigureTabs tabs(&jobs, &model);
    tabs.heatmapPage()->controls()->setSettings(s);
  }
  ui::JobsModel jobs;
  ui::CheckpointTreeModel model;
  ui::FigureTabs tabs(&jobs, &model);
  const ui::HeatmapSettings r = tabs.heatmapPage()->controls()->settings();
  QCOMPARE(r.importance, true);
  QVERIFY(r.weightsColormap == Colormap::Gray);
  QVERIFY(r.importanceColormap == Colormap::Magma);
  QVERIFY(r.scale == figures::ColorScale::Log);
  QCOMPARE(r.clipLow, 1.5);
  QCOMPARE(r.clipHigh, 99.0);
  QVERIFY(r.reduction == PyramidReduction::Mean);
  QCOMPARE(r.overlay, true);
  QCOMPARE(r.overlayPercent, 2.5);
  QCOMPARE(child<QComboBox>(tabs.heatmapPage(), "heatmapColormap")->currentData().toString(), QStringLiteral("magma"));
  QVERIFY(tabs.heatmap().colormap() == Colormap::Magma);
  QVERIFY(tabs.heatmap().scale() == figures::ColorScale::Log);
  QVERIFY(tabs.heatmap().reduction() == PyramidReduction::Mean);
}

// The window hosts the controls above the heatmap and offers both exports once a checkpoint is
// shown; with PARAMSCOPE_TEST_IMAGES set, the window and the dialogs are kept for the docs.
void TestHeatmapControls::mainWindowWiring() {
  ui::MainWindow w;
  w.setErrorDialogsEnabled(false);
  w.resize(1500, 900);
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  auto* exportMask = w.findChild<QAction*>(QStringLiteral("actionExportMask"));
  auto* exportMaps = w.findChild<QAction*>(QStringLiteral("actionExportMaps"));
  QVERIFY(exportMask && exportMaps);
  QVERIFY(!exportMask->isEnabled());
  QSignalSpy loaded(&w, &ui::MainWindow::loaded);
  w.openPath(test::path("gui/tiny_llama.safetensors"));
  QVERIFY(loaded.wait(5000));
  QVERIFY(exportMask->isEnabled() && exportMaps->isEnabled());
  const auto c = w.model()->checkpointAt(0);
  const Tensor* t = largestMatrix(*c);
  ui::HeatmapPage* page = w.figures()->heatmapPage();
  QVERIFY(page->isAncestorOf(w.figures()->view(ui::FigureTabs::HeatmapTab)));
  ui::HeatmapSettings s = page->controls()->settings();
  s.importance = true;
  s.overlay = true;
  s.overlayPercent = 5;
  page->controls()->setSettings(s);
  w.treeDock()->showTensor(0, t->name());
  QTRY_VERIFY_WITH_TIMEOUT(page->scores() != nullptr && w.figures()->heatmap().pyramid() == page->scores().get(), 10000);
  QCOMPARE(w.figures()->currentIndex(), static_cast<int>(ui::FigureTabs::HeatmapTab));
  QVERIFY(w.figures()->heatmap().overlay_threshold().has_value());
  QTest::qWait(200);
  test::keepImage(w.grab().toImage(), QStringLiteral("gui-heatmap-controls"));

  ui::ExportMaskDialog mask(w.jobs(), c, {QStringLiteral("magnitude"), QStringLiteral("neuron"), QStringLiteral("l2"), {}, {}}, &w);
  QCOMPARE(mask.request().top, QStringLiteral("10%"));
  QCOMPARE(mask.request().scope, QStringLiteral("global"));
  QVERIFY(mask.request().output.endsWith(QStringLiteral("tiny_llama.magnitude.mask.safetensors")));
  mask.show();
  QVERIFY(QTest::qWaitForWindowExposed(&mask));
  test::keepImage(mask.grab().toImage(), QStringLiteral("gui-export-mask"));
  ui::ExportMapsDialog maps(w.jobs(), c, {QStringLiteral("magnitude"), QStringLiteral("neuron"), QStringLiteral("l2"), {}, {}}, &w);
  QVERIFY(maps.request().element);
  QVERIFY(maps.request().output.endsWith(QStringLiteral(".h5")));
  maps.show();
  QVERIFY(QTest::qWaitForWindowExposed(&maps));
  test::keepImage(maps.grab().toImage(), QStringLiteral("gui-export-maps"));
}

// The first pyramid of a tensor holds max-abs levels only (half the work before the first frame);
// choosing mean per pixel rebuilds it with both, and the picture then shows means.
void TestHeatmapControls::meanLevelsComeWhenAskedFor() {
  // Larger than a pyramid's top level (512 x 512), so that it has coarse levels at all.
  QTemporaryDir dir;
  const std::filesystem::path file = std::filesystem::path(dir.path().toStdString()) / "big.safetensors";
  std::vector<float> v(2048 * 1024);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) - 3.0f;
  write_safetensors(file, {TensorToWrite::from_floats("model.layers.0.mlp.up_proj.weight", DType::F32, {2048, 1024}, v)});
  ui::MainWindow w;
  w.setErrorDialogsEnabled(false);
  w.resize(1200, 800);
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  QSignalSpy loaded(&w, &ui::MainWindow::loaded);
  w.openPath(QString::fromStdString(file.string()));
  QVERIFY(loaded.wait(5000));
  w.treeDock()->showTensor(0, "model.layers.0.mlp.up_proj.weight");
  const figures::HeatmapScene& scene = w.figures()->heatmap();
  QTRY_VERIFY_WITH_TIMEOUT(scene.pyramid() != nullptr, 10000);
  QVERIFY(scene.pyramid()->has(PyramidReduction::MaxAbs));
  QVERIFY(!scene.pyramid()->has(PyramidReduction::Mean));
  auto* perPixel = w.findChild<QComboBox*>(QStringLiteral("heatmapPerPixel"));
  QVERIFY(perPixel);
  perPixel->setCurrentIndex(1);  // mean
  QTRY_VERIFY_WITH_TIMEOUT(scene.pyramid() != nullptr && scene.pyramid()->has(PyramidReduction::Mean), 10000);
  QVERIFY(scene.reduction() == PyramidReduction::Mean);
}

PARAMSCOPE_GUI_TEST_MAIN(TestHeatmapControls)
#include "test_heatmap_controls.moc"
