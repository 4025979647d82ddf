// Every main view against a PNG baseline, and the headless export of a view against what the
// same scene shows on screen.
//
// Tolerance (one for both comparisons): a render matches when no colour channel of any pixel
// differs by more than kMaxChannelDifference, or when at most kMaxDifferingFraction of the pixels
// differ at all. Baselines come from Mesa's llvmpipe (headless EGL), which draws the same pixels on
// every machine with Debian 12's packages; the allowance covers antialiasing of text and lines
// should another Mesa or FreeType build round differently. A changed colour, a moved axis or a
// missing label changes far more pixels than that.
//
// On a mismatch the render and the baseline are saved beside each other in $PARAMSCOPE_TEST_IMAGES
// (else <temp>/paramscope-test-images), named <view>.actual.png / <view>.expected.png.
// After an intended change of a view, regenerate the baselines with
//   PARAMSCOPE_UPDATE_BASELINES=1 xvfb-run -a build/release/tests/test_view_baselines
// and look at every changed picture before committing it (tests/data/gui/baselines/).
#include <cmath>
#include <functional>
#include <memory>

#include <QDir>
#include <QtTest>

#include "gui_test_support.h"
#include "paramscope/figures/block_chart.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/histogram_chart.h"
#include "paramscope/figures/line_chart.h"
#include "paramscope/figures/matrix_chart.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/figures/spectrum_chart.h"
#include "paramscope/figures/surface_scene.h"
#include "paramscope/figures/figure_data.h"
#include "paramscope/jobs.h"
#include "paramscope/pyramid.h"

using namespace paramscope;
using Backend = figures::ExportOptions::Backend;

namespace {

constexpr int kMaxChannelDifference = 8;
constexpr double kMaxDifferingFraction = 0.002;
constexpr int kWidth = 640, kHeight = 400;

bool matches(const test::Difference& d) {
  return d.max_channel <= kMaxChannelDifference || d.differing_fraction <= kMaxDifferingFraction;
}

QString failureDir() {
  QString dir = qEnvironmentVariable("PARAMSCOPE_TEST_IMAGES");
  if (dir.isEmpty()) dir = QDir::temp().filePath(QStringLiteral("paramscope-test-images"));
  QDir().mkpath(dir);
  return dir;
}

using SceneMaker = std::function<std::shared_ptr<figures::Scene>()>;

std::shared_ptr<const TensorPyramid> pyramidOf(const std::string& tensor) {
  static const auto checkpoint = test::load("gui/tiny_llama.safetensors");
  return std::make_shared<const TensorPyramid>(TensorPyramid::of_tensor(checkpoint->at(tensor), ThreadPool::global()));
}

std::shared_ptr<figures::Scene> blocks() {
  auto s = std::make_shared<figures::BlockChart>();
  s->set_checkpoint(*test::load("gui/tiny_llama.safetensors"));
  return s;
}

std::shared_ptr<figures::Scene> heatmapSigned() {
  auto s = std::make_shared<figures::HeatmapScene>();
  s->set_pyramid(pyramidOf("model.layers.0.mlp.down_proj.weight"), "model.layers.0.mlp.down_proj.weight");
  s->set_colormap(figures::Colormap::RdBuR);
  return s;
}

std::shared_ptr<figures::Scene> heatmapLog() {
  auto s = std::make_shared<figures::HeatmapScene>();
  s->set_pyramid(pyramidOf("model.layers.0.mlp.up_proj.weight"), "|up_proj| (log scale)");
  s->set_colormap(figures::Colormap::Magma);
  s->set_scale(figures::ColorScale::Log);
  s->set_clip_percentiles(1, 99);
  return s;
}

// |w| with its top 10 % overlaid, zoomed in on the top-left 8 x 8 weights.
std::shared_ptr<figures::Scene> heatmapOverlay() {
  const auto weights = pyramidOf("model.layers.0.mlp.up_proj.weight");
  auto values = std::make_shared<std::vector<float>>(weights->tile(0, 0, 0, weights->rows(), weights->cols()));
  for (float& v : *values) v = std::fabs(v);
  const auto scores = std::make_shared<const TensorPyramid>(
      TensorPyramid::of_values(values, weights->rows(), weights->cols(), ThreadPool::global()));
  auto s = std::make_shared<figures::HeatmapScene>();
  s->set_pyramid(scores, "|up_proj|, top 10 % marked");
  s->set_colormap(figures::Colormap::Viridis);
  s->set_overlay_top_k(scores, 10);
  s->set_view(0, 8, 0, 8);
  return s;
}

std::shared_ptr<figures::Scene> profile() {
  auto s = std::make_shared<figures::ProfileChart>();
  s->set_profile({"0", "1", "2", "3"},
                 {{"q_proj", {1.0, 2.5, 2.0, 4.0}}, {"down_proj", {3.0, 1.5, std::nan(""), 0.5}}},
                 "magnitude · l2 per tensor");
  return s;
}

std::shared_ptr<figures::Scene> profileLines() {
  auto s = std::static_pointer_cast<figures::ProfileChart>(profile());
  s->set_style(figures::ProfileChart::Style::Lines);
  return s;
}

std::shared_ptr<figures::Scene> histogram() {
  auto s = std::make_shared<figures::HistogramChart>();
  std::vector<double> counts(40);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double x = (static_cast<double>(i) - 19.5) / 6;
    counts[i] = std::round(10000 * std::exp(-x * x / 2));
  }
  s->set_histogram(std::move(counts), -0.2, 0.2, "values of a weight", "value");
  s->set_log_counts(true);
  s->set_threshold(0.1, "top 10 %");
  return s;
}

std::shared_ptr<figures::Scene> spectrum() {
  auto s = std::make_shared<figures::SpectrumChart>();
  std::vector<double> eig;
  // Rank-ordered eigenvalues 100 k^-1.5 have the density p(x) ~ x^-(1 + 1 / 1.5).
  for (int k = 1; k <= 200; ++k) eig.push_back(100.0 * std::pow(k, -1.5));
  s->set_values(std::move(eig), "spectrum of W^T W", "eigenvalue of W^T W");
  s->set_fit(1 + 1 / 1.5, 0.5);
  return s;
}

// A tensor's heightfield from its pyramid, in the default 3/4 view.
std::shared_ptr<figures::Scene> surface() {
  auto s = std::make_shared<figures::SurfaceScene>();
  s->set_grid(figures::surface_of_pyramid(*pyramidOf("model.layers.0.mlp.up_proj.weight"), 64, 64,
                                          PyramidReduction::MaxAbs),
              "model.layers.0.mlp.up_proj.weight");
  s->set_colormap(figures::Colormap::RdBuR);
  return s;
}

// The merge dashboard's similarity matrix: three models, one pair without a value.
std::shared_ptr<figures::Scene> similarity() {
  auto s = std::make_shared<figures::MatrixChart>();
  figures::MatrixData d;
  d.values = {1, 0.62, -0.35, 0.62, 1, std::nan(""), -0.35, std::nan(""), 1};
  d.row_labels = d.col_labels = {"math", "code", "chat"};
  d.title = "cosine similarity of task vectors, all tensors";
  d.value_label = "cosine similarity";
  s->set_matrix(std::move(d));
  return s;
}

// Curves per model, as the dashboard's magnitudes page draws them.
std::shared_ptr<figures::Scene> lines() {
  auto s = std::make_shared<figures::LineChart>();
  std::vector<figures::LineSeries> series;
  for (int m = 0; m < 3; ++m) {
    figures::LineSeries l{"model " + std::to_string(m), {}, {}};
    for (int i = 0; i <= 60; ++i) {
      const double x = -6 + i * 0.1, z = (x + 3 - 0.5 * m) / 0.4;
      l.x.push_back(x);
      l.y.push_back(std::exp(-z * z / 2) / 10);
    }
    series.push_back(std::move(l));
  }
  s->set_series(std::move(series), "task-vector magnitudes", "log10 |tau|", "fraction of entries");
  return s;
}

}  // namespace

Q_DECLARE_METATYPE(SceneMaker)

class TestViewBaselines : public QObject {
  Q_OBJECT

private slots:
  void matchesBaseline_data();
  void matchesBaseline();
  void headlessMatchesScreen_data();
  void headlessMatchesScreen();
  void toleranceCatchesAChange();

private:
  static void views();
};

void TestViewBaselines::views() {
  QTest::addColumn<SceneMaker>("make");
  QTest::newRow("blocks") << SceneMaker(blocks);
  QTest::newRow("heatmap_signed") << SceneMaker(heatmapSigned);
  QTest::newRow("heatmap_log") << SceneMaker(heatmapLog);
  QTest::newRow("heatmap_overlay") << SceneMaker(heatmapOverlay);
  QTest::newRow("profile_bars") << SceneMaker(profile);
  QTest::newRow("profile_lines") << SceneMaker(profileLines);
  QTest::newRow("histogram") << SceneMaker(histogram);
  QTest::newRow("spectrum") << SceneMaker(spectrum);
  QTest::newRow("surface") << SceneMaker(surface);
  QTest::newRow("merge_similarity") << SceneMaker(similarity);
  QTest::newRow("merge_magnitudes") << SceneMaker(lines);
}

void TestViewBaselines::matchesBaseline_data() { views(); }

void TestViewBaselines::matchesBaseline() {
  QFETCH(SceneMaker, make);
  const QString name = QString::fromLatin1(QTest::currentDataTag());
  const QString baseline = test::path("gui/baselines/" + name.toStdString() + ".png");
  QTemporaryDir dir;
  const QString file = dir.filePath(name + QStringLiteral(".png"));
  figures::ExportOptions o;
  o.width_px = kWidth;
  o.height_px = kHeight;
  o.backend = Backend::Headless;
  make()->save(file.toStdString(), o);
  const QImage actual(file);
  QCOMPARE(actual.size(), QSize(kWidth, kHeight));
  if (qEnvironmentVariableIntValue("PARAMSCOPE_UPDATE_BASELINES") == 1) {
    QDir().mkpath(QFileInfo(baseline).path());
    QVERIFY(actual.save(baseline));
    QSKIP("baseline written");
  }
  const QImage expected(baseline);
  QVERIFY2(!expected.isNull(), qPrintable(baseline + QStringLiteral(" is missing")));
  const test::Difference d = test::compare(actual, expected);
  if (!matches(d)) {
    actual.save(failureDir() + QLatin1Char('/') + name + QStringLiteral(".actual.png"));
    expected.save(failureDir() + QLatin1Char('/') + name + QStringLiteral(".expected.png"));
  }
  QVERIFY2(matches(d), qPrintable(QStringLiteral("%1: max channel difference %2, %3 % of pixels differ (saved in %4)")
                                      .arg(name)
                                      .arg(d.max_channel)
                                      .arg(d.differing_fraction * 100, 0, 'f', 3)
                                      .arg(failureDir())));
}

void TestViewBaselines::headlessMatchesScreen_data() { views(); }

// The figure a user exports is the one on screen: the view's framebuffer and the headless file
// of the same scene at the same size agree within the tolerance.
void TestViewBaselines::headlessMatchesScreen() {
  QFETCH(SceneMaker, make);
  const auto scene = make();
  ui::VtkViewWidget view;
  view.resize(kWidth, kHeight);
  view.setScene(scene);
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  if (view.devicePixelRatio() != 1) QSKIP("the comparison assumes a device pixel ratio of 1");
  QSignalSpy swapped(&view, &QOpenGLWidget::frameSwapped);
  view.renderLater();
  QVERIFY(swapped.wait(5000));
  const QImage screen = view.grabFramebuffer();
  QCOMPARE(screen.size(), QSize(kWidth, kHeight));
  // The widget's GLX context stays current: the headless export must cope with that.

  QTemporaryDir dir;
  const QString file = dir.filePath(QStringLiteral("export.png"));
  figures::ExportOptions o;
  o.width_px = kWidth;
  o.height_px = kHeight;
  o.backend = Backend::Headless;
  scene->save(file.toStdString(), o);
  const QImage exported(file);
  const test::Difference d = test::compare(exported, screen);
  const QString name = QString::fromLatin1(QTest::currentDataTag());
  qInfo("%s: headless vs screen: max channel difference %d, %.4f %% of pixels differ", qPrintable(name), d.max_channel,
        d.differing_fraction * 100);
  if (!matches(d)) {
    exported.save(failureDir() + QLatin1Char('/') + name + QStringLiteral(".headless.png"));
    screen.save(failureDir() + QLatin1Char('/') + name + QStringLiteral(".screen.png"));
  }
  QVERIFY2(matches(d), qPrintable(QStringLiteral("%1: max channel difference %2, %3 % of pixels differ")
                                      .arg(name)
                                      .arg(d.max_channel)
                                      .arg(d.differing_fraction * 100, 0, 'f', 3)));
}

// The tolerance is not so loose that it accepts another figure: a different colormap, or the same
// chart with one bar changed, fails it.
void TestViewBaselines::toleranceCatchesAChange() {
  const QImage expected(test::path("gui/baselines/heatmap_signed.png"));
  QVERIFY(!expected.isNull());
  QTemporaryDir dir;
  figures::ExportOptions o;
  o.width_px = kWidth;
  o.height_px = kHeight;
  o.backend = Backend::Headless;

  auto viridis = std::static_pointer_cast<figures::HeatmapScene>(heatmapSigned());
  viridis->set_colormap(figures::Colormap::Viridis);
  viridis->save(dir.filePath(QStringLiteral("a.png")).toStdString(), o);
  QVERIFY(!matches(test::compare(QImage(dir.filePath(QStringLiteral("a.png"))), expected)));

  auto bars = std::make_shared<figures::ProfileChart>();
  bars->set_profile({"0", "1", "2", "3"},
                    {{"q_proj", {1.0, 2.5, 2.0, 3.6}}, {"down_proj", {3.0, 1.5, std::nan(""), 0.5}}},
                    "magnitude · l2 per tensor");
  bars->save(dir.filePath(QStringLiteral("b.png")).toStdString(), o);
  const QImage profileBaseline(test::path("gui/baselines/profile_bars.png"));
  QVERIFY(!matches(test::compare(QImage(dir.filePath(QStringLiteral("b.png"))), profileBaseline)));
}

PARAMSCOPE_GUI_TEST_MAIN(TestViewBaselines)
#include "test_view_baselines.moc"
