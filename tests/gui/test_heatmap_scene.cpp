// The heatmap scene: known patterns in, expected colours out (rendered offscreen and read back),
// zoom and pan moving the pixels, the hover read-out, log vs linear scales, the mask overlay, and
// the mouse through the Qt bridge.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QtTest>

#include <cmath>
#include <random>

#include "gui_test_support.h"
#include "paramscope/error.h"
#include "paramscope/figures/colormap.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/writers.h"
#include "vtk_view_widget.h"

using namespace paramscope;
using figures::Colormap;
using figures::HeatmapScene;
using figures::Rgb;

Q_DECLARE_METATYPE(Colormap)

namespace {

constexpr int kWidth = 800, kHeight = 600;

Rgb rgbAt(const QImage& image, int x, int y) {
  const QRgb p = image.pixel(x, y);
  return {static_cast<std::uint8_t>(qRed(p)), static_cast<std::uint8_t>(qGreen(p)), static_cast<std::uint8_t>(qBlue(p))};
}

QString text(Rgb c) { return QStringLiteral("(%1, %2, %3)").arg(c.r).arg(c.g).arg(c.b); }

#define QCOMPARE_RGB(actual, expected)                                                                   \
  do {                                                                                                   \
    const Rgb a_ = (actual), e_ = (expected);                                                            \
    QVERIFY2(a_ == e_, qPrintable(QStringLiteral("%1 vs %2").arg(text(a_)).arg(text(e_))));              \
  } while (false)

Rgb blend(Rgb base, Rgb over, double a) {
  auto m = [a](std::uint8_t b, std::uint8_t o) { return static_cast<std::uint8_t>(std::lround(b * (1 - a) + o * a)); };
  return {m(base.r, over.r), m(base.g, over.g), m(base.b, over.b)};
}

// The pixel at the centre of element (row, col) when the scene shows its whole matrix.
QPoint centreOf(const figures::PixelRect& p, std::int64_t rows, std::int64_t cols, double row, double col) {
  return {p.x + static_cast<int>((col + 0.5) * p.width / static_cast<double>(cols)),
          p.y + static_cast<int>((row + 0.5) * p.height / static_cast<double>(rows))};
}

}  // namespace

class TestHeatmapScene : public QObject {
  Q_OBJECT

private slots:
  void colormapTables();
  void colormapNames();
  void halvesGiveEndColours_data();
  void halvesGiveEndColours();
  void imageFillsThePlotExactly();
  void gradientTakesEveryEntry();
  void logVersusLinear_data();
  void logVersusLinear();
  void divergingIsSymmetric();
  void percentileClipping();
  void nanIsBackground();
  void readoutGivesElement_data();
  void readoutGivesElement();
  void zoomKeepsPointUnderCursor();
  void zoomReachesSingleWeights();
  void panMovesPixels();
  void overlayTopK();
  void overlayMask();
  void meanVersusMaxAbs();
  void errorsAreUsage();
  void mouseThroughTheWidget();
  void vectorExportKeepsTheImage();
  void largeTensorFirstFrame();

private:
  QImage render(HeatmapScene& scene, const QString& name, int w = kWidth, int h = kHeight);
  QTemporaryDir tmp_;
};

QImage TestHeatmapScene::render(HeatmapScene& scene, const QString& name, int w, int h) {
  const QString file = tmp_.filePath(name + QStringLiteral(".png"));
  scene.save_png(file.toStdString(), w, h);
  QImage image(file);
  if (image.isNull()) qFatal("no image %s", qPrintable(file));
  test::keepImage(image, QStringLiteral("heatmap_") + name);
  return image.convertToFormat(QImage::Format_RGB32);
}

void TestHeatmapScene::colormapTables() {
  // Published end points and middles (matplotlib 3.6, rounded to 8 bits).
  QCOMPARE_RGB(figures::colormap_table(Colormap::Viridis)[0], (Rgb{68, 1, 84}));
  QCOMPARE_RGB(figures::colormap_table(Colormap::Viridis)[128], (Rgb{33, 145, 140}));
  QCOMPARE_RGB(figures::colormap_table(Colormap::Viridis)[255], (Rgb{253, 231, 37}));
  QCOMPARE_RGB(figures::colormap_table(Colormap::Magma)[0], (Rgb{0, 0, 4}));
  QCOMPARE_RGB(figures::colormap_table(Colormap::Magma)[255], (Rgb{252, 253, 191}));
  QCOMPARE_RGB(figures::colormap_table(Colormap::RdBuR)[0], (Rgb{5, 48, 97}));
  QCOMPARE_RGB(figures::colormap_table(Colormap::RdBuR)[255], (Rgb{103, 0, 31}));
  QCOMPARE_RGB(figures::colormap_table(Colormap::Gray)[77], (Rgb{77, 77, 77}));
  // matplotlib's index rule: floor(256 t), 1.0 the last entry, outside the ends clamped.
  QCOMPARE_RGB(figures::colormap_color(Colormap::Gray, 0.5), (Rgb{128, 128, 128}));
  QCOMPARE_RGB(figures::colormap_color(Colormap::Gray, 1.0), (Rgb{255, 255, 255}));
  QCOMPARE_RGB(figures::colormap_color(Colormap::Gray, 0.999), (Rgb{255, 255, 255}));
  QCOMPARE_RGB(figures::colormap_color(Colormap::Gray, 0.0039), (Rgb{0, 0, 0}));
  QCOMPARE_RGB(figures::colormap_color(Colormap::Gray, -3), (Rgb{0, 0, 0}));
  QCOMPARE_RGB(figures::colormap_color(Colormap::Gray, 7), (Rgb{255, 255, 255}));
  // Perceptual maps grow in lightness: the green channel of viridis rises monotonically.
  const auto& v = figures::colormap_table(Colormap::Viridis);
  for (std::size_t i = 1; i < 256; ++i) QVERIFY(v[i].g >= v[i - 1].g);
}

void TestHeatmapScene::colormapNames() {
  for (Colormap m : figures::kColormaps) QVERIFY(figures::colormap_from_name(figures::colormap_name(m)) == m);
  QVERIFY(figures::colormap_from_name("Viridis") == Colormap::Viridis);
  QVERIFY(figures::colormap_from_name("coolwarm") == Colormap::RdBuR);
  QVERIFY(!figures::colormap_from_name("jet").has_value());
  QVERIFY(figures::is_diverging(Colormap::RdBuR));
  QVERIFY(!figures::is_diverging(Colormap::Magma));
}

void TestHeatmapScene::halvesGiveEndColours_data() {
  QTest::addColumn<Colormap>("map");
  for (Colormap m : figures::kColormaps) QTest::newRow(figures::colormap_name(m).data()) << m;
}

void TestHeatmapScene::halvesGiveEndColours() {
  QFETCH(Colormap, map);
  // Left half 0, right half 1: the two ends of the map, split in the middle of the plot.
  std::vector<float> m(64 * 128);
  for (int r = 0; r < 64; ++r)
    for (int c = 64; c < 128; ++c) m[static_cast<std::size_t>(r * 128 + c)] = 1;
  HeatmapScene scene;
  scene.set_matrix(m, 64, 128, "halves");
  scene.set_colormap(map);
  const QImage image = render(scene, QStringLiteral("halves_") + QString::fromLatin1(figures::colormap_name(map).data()));
  const auto p = scene.plot_rect();
  const auto& table = figures::colormap_table(map);
  for (int y : {p.y, p.y + p.height / 2, p.y + p.height - 1}) {
    QCOMPARE_RGB(rgbAt(image, p.x, y), table[0]);
    QCOMPARE_RGB(rgbAt(image, p.x + p.width / 2 - 2, y), table[0]);
    QCOMPARE_RGB(rgbAt(image, p.x + p.width / 2 + 2, y), table[255]);
    QCOMPARE_RGB(rgbAt(image, p.x + p.width - 1, y), table[255]);
  }
  QCOMPARE(scene.color_range(), (std::pair<double, double>{0, 1}));
}

void TestHeatmapScene::imageFillsThePlotExactly() {
  // A constant matrix: every pixel of the plot rectangle and none outside it has the colour
  // (white is not in magma, and neither axes nor labels use it).
  HeatmapScene scene;
  scene.set_matrix(std::vector<float>(50 * 70, 2.0f), 50, 70, "constant");
  scene.set_colormap(Colormap::Magma);
  const QImage image = render(scene, QStringLiteral("constant"));
  const auto p = scene.plot_rect();
  const Rgb c = figures::colormap_table(Colormap::Magma)[0];  // lo == hi: the lowest colour, as matplotlib
  int inside = 0, outside = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      if (rgbAt(image, x, y) != c) continue;
      (p.contains(x, y) ? inside : outside) += 1;
    }
  QCOMPARE(inside, p.width * p.height);
  // The colorbar shows the lowest colour too, but only in its own column right of the plot.
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < p.x + p.width; ++x)
      if (!p.contains(x, y)) QVERIFY2(rgbAt(image, x, y) != c, qPrintable(QStringLiteral("(%1, %2)").arg(x).arg(y)));
  QVERIFY(outside > 0);
  QVERIFY(p.width > kWidth / 2 && p.height > kHeight / 2);
}

void TestHeatmapScene::gradientTakesEveryEntry() {
  // 1 x 256 values 0..255 over [0, 255]: element k takes entry k (floor(256 k / 255) = k).
  std::vector<float> m(256);
  for (int k = 0; k < 256; ++k) m[static_cast<std::size_t>(k)] = static_cast<float>(k);
  HeatmapScene scene;
  scene.set_matrix(m, 1, 256, "gradient");
  scene.set_colormap(Colormap::Magma);
  const QImage image = render(scene, QStringLiteral("gradient"), 256 + 184, 300);
  const auto p = scene.plot_rect();
  QCOMPARE(p.width, 256);
  const auto& table = figures::colormap_table(Colormap::Magma);
  for (int k = 0; k < 256; ++k) QCOMPARE_RGB(rgbAt(image, p.x + k, p.y + p.height / 2), table[static_cast<std::size_t>(k)]);
}

void TestHeatmapScene::logVersusLinear_data() {
  QTest::addColumn<bool>("log");
  QTest::addColumn<QList<int>>("entries");  // colour entry of each element
  // Values 1e-3, 1e-2, 1e-1, 1 (and -1e-1: log uses |x|).
  // linear over [1e-3, 1]: t = (x - 1e-3) / 0.999; -0.1 is below the range.
  QTest::newRow("linear") << false << QList<int>{0, 2, 25, 255, 0};
  // log over [1e-3, 1]: t = (log10 x + 3) / 3 -> 0, 85, 170, 255; |-0.1| like 0.1.
  QTest::newRow("log") << true << QList<int>{0, 85, 170, 255, 170};
}

void TestHeatmapScene::logVersusLinear() {
  QFETCH(bool, log);
  QFETCH(QList<int>, entries);
  const std::vector<float> m{1e-3f, 1e-2f, 1e-1f, 1.0f, -1e-1f};
  HeatmapScene scene;
  scene.set_matrix(m, 1, 5, "scales");
  scene.set_colormap(Colormap::Gray);
  scene.set_scale(log ? figures::ColorScale::Log : figures::ColorScale::Linear);
  if (!log) scene.set_clip_percentiles(25, 100);  // rank 1 of 5: 1e-3, so -0.1 is clipped
  const QImage image = render(scene, log ? QStringLiteral("log") : QStringLiteral("linear"));
  const auto p = scene.plot_rect();
  for (int k = 0; k < 5; ++k) {
    const QPoint at = centreOf(p, 1, 5, 0, k);
    const int e = entries[k];
    // The log range's low end is 1e-3 truncated to BF16 (0.000999): entries stay the same.
    QCOMPARE_RGB(rgbAt(image, at.x(), at.y()), (Rgb{static_cast<std::uint8_t>(e), static_cast<std::uint8_t>(e), static_cast<std::uint8_t>(e)}));
  }
}

void TestHeatmapScene::divergingIsSymmetric() {
  // Signed values with RdBu_r: zero is the middle of the map, -2 and +2 the ends although the
  // data reach only -1 on the negative side.
  const std::vector<float> m{-1, 0, 2};
  HeatmapScene scene;
  scene.set_matrix(m, 1, 3, "signed");
  scene.set_colormap(Colormap::RdBuR);
  QCOMPARE(scene.color_range(), (std::pair<double, double>{-2, 2}));
  const QImage image = render(scene, QStringLiteral("diverging"));
  const auto p = scene.plot_rect();
  const auto& table = figures::colormap_table(Colormap::RdBuR);
  QCOMPARE_RGB(rgbAt(image, centreOf(p, 1, 3, 0, 0).x(), p.y + 5), table[64]);  // t = 0.25
  QCOMPARE_RGB(rgbAt(image, centreOf(p, 1, 3, 0, 1).x(), p.y + 5), table[128]);
  QCOMPARE_RGB(rgbAt(image, centreOf(p, 1, 3, 0, 2).x(), p.y + 5), table[255]);
  // Without signed data the range is the data's.
  scene.set_matrix({0, 1, 2}, 1, 3, "unsigned");
  QCOMPARE(scene.color_range(), (std::pair<double, double>{0, 2}));
}

void TestHeatmapScene::percentileClipping() {
  // 0..99 and one outlier of 1e6: clipping at 1 % / 99 % keeps the outlier from flattening the rest.
  std::vector<float> m(101);
  for (int i = 0; i < 100; ++i) m[static_cast<std::size_t>(i)] = static_cast<float>(i);
  m[100] = 1e6f;
  HeatmapScene scene;
  scene.set_matrix(m, 1, 101, "outlier");
  QCOMPARE(scene.color_range(), (std::pair<double, double>{0, 1e6}));
  scene.set_clip_percentiles(1, 99);
  // Ranks round(0.01 * 100) = 1 and round(0.99 * 100) = 99 of the sorted values.
  QCOMPARE(scene.color_range(), (std::pair<double, double>{1, 99}));
  const QImage image = render(scene, QStringLiteral("clipped"), 101 + 184, 200);
  const auto p = scene.plot_rect();
  QCOMPARE(p.width, 101);
  const auto& table = figures::colormap_table(Colormap::Viridis);
  QCOMPARE_RGB(rgbAt(image, p.x + 0, p.y + 2), table[0]);      // 0 < lo
  QCOMPARE_RGB(rgbAt(image, p.x + 50, p.y + 2), table[128]);   // (50 - 1) / 98 = 0.5
  QCOMPARE_RGB(rgbAt(image, p.x + 100, p.y + 2), table[255]);  // outlier clipped
  try {
    scene.set_clip_percentiles(50, 50);
    QFAIL("no error for lo == hi");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
  }
}

void TestHeatmapScene::nanIsBackground() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  HeatmapScene scene;
  scene.set_matrix({0, nan, 1, 0}, 2, 2, "nan");
  const QImage image = render(scene, QStringLiteral("nan"));
  const auto p = scene.plot_rect();
  const QPoint at = centreOf(p, 2, 2, 0, 1);
  QCOMPARE_RGB(rgbAt(image, at.x(), at.y()), figures::palette::background);
  const QPoint one = centreOf(p, 2, 2, 1, 0);
  QCOMPARE_RGB(rgbAt(image, one.x(), one.y()), figures::colormap_table(Colormap::Viridis)[255]);
}

void TestHeatmapScene::readoutGivesElement_data() {
  QTest::addColumn<int>("row");
  QTest::addColumn<int>("col");
  QTest::newRow("first") << 0 << 0;
  QTest::newRow("last") << 29 << 39;
  QTest::newRow("middle") << 17 << 23;
  QTest::newRow("top right") << 0 << 39;
}

void TestHeatmapScene::readoutGivesElement() {
  QFETCH(int, row);
  QFETCH(int, col);
  std::vector<float> m(30 * 40);
  for (int r = 0; r < 30; ++r)
    for (int c = 0; c < 40; ++c) m[static_cast<std::size_t>(r * 40 + c)] = static_cast<float>(r * 100 + c) + 0.25f;
  HeatmapScene scene;
  scene.set_matrix(m, 30, 40, "indices");
  const auto p = scene.plot_rect();
  const QPoint at = centreOf(p, 30, 40, row, col);
  const auto r = scene.readout_at(at.x(), at.y());
  QVERIFY(r.has_value());
  QCOMPARE(r->row, std::int64_t{row});
  QCOMPARE(r->col, std::int64_t{col});
  QCOMPARE(r->value, static_cast<float>(row * 100 + col) + 0.25f);
  // Outside the image: nothing.
  QVERIFY(!scene.readout_at(p.x - 1, at.y()).has_value());
  QVERIFY(!scene.readout_at(at.x(), p.y + p.height).has_value());
  // Zoomed in 4x on this element: the same element under the same pixel.
  scene.zoom(4, at.x(), at.y());
  const auto z = scene.readout_at(at.x(), at.y());
  QVERIFY(z.has_value());
  QCOMPARE(z->row, std::int64_t{row});
  QCOMPARE(z->col, std::int64_t{col});
}

void TestHeatmapScene::zoomKeepsPointUnderCursor() {
  // Horizontal gradient 0..99 over 100 columns (viridis).
  std::vector<float> m(20 * 100);
  for (int r = 0; r < 20; ++r)
    for (int c = 0; c < 100; ++c) m[static_cast<std::size_t>(r * 100 + c)] = static_cast<float>(c);
  HeatmapScene scene;
  scene.set_matrix(m, 20, 100, "gradient");
  const auto p = scene.plot_rect();
  const QImage before = render(scene, QStringLiteral("zoom_before"));
  const int cx = p.x + p.width / 2 + 37, cy = p.y + p.height / 2;
  scene.zoom(4, cx, cy);
  const auto v = scene.view();
  QVERIFY(std::fabs((v.col1 - v.col0) - 25) < 1e-9);
  // 20 rows / 4 = 5 would make rows taller than the 64-pixel limit: rows stop there.
  QVERIFY(std::fabs((v.row1 - v.row0) - std::max(5.0, p.height / 64.0)) < 1e-9);
  const QImage after = render(scene, QStringLiteral("zoom_after"));
  // Same colour under the cursor; the left edge now shows a much later column.
  QCOMPARE_RGB(rgbAt(after, cx, cy), rgbAt(before, cx, cy));
  QVERIFY(rgbAt(after, p.x, cy) != rgbAt(before, p.x, cy));
  const auto& table = figures::colormap_table(Colormap::Viridis);
  const auto leftCol = static_cast<int>(v.col0 + 0.5 * 25 / p.width);
  QCOMPARE_RGB(rgbAt(after, p.x, cy), table[static_cast<std::size_t>(std::floor(leftCol / 99.0 * 256))]);
  // Zooming out past the whole matrix stops at the whole matrix.
  scene.zoom(0.01, cx, cy);
  QCOMPARE(scene.view().col0, 0.0);
  QCOMPARE(scene.view().col1, 100.0);
  QCOMPARE(render(scene, QStringLiteral("zoom_out")), before);
}

void TestHeatmapScene::zoomReachesSingleWeights() {
  // A 4096 x 4096 checkerboard of +-1: zoomed out it is max-abs (all |x| = 1); zoomed all the
  // way in, single weights are squares many pixels wide, alternating colours.
  const std::int64_t n = 4096;
  auto values = std::make_shared<std::vector<float>>(static_cast<std::size_t>(n * n));
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < n; ++c) (*values)[static_cast<std::size_t>(r * n + c)] = ((r + c) % 2) ? 1.0f : -1.0f;
  HeatmapScene scene;
  scene.set_pyramid(std::make_shared<const TensorPyramid>(TensorPyramid::of_values(values, n, n, ThreadPool::global())), "checkerboard");
  const auto p = scene.plot_rect();
  for (int i = 0; i < 40; ++i) scene.zoom(1.25, p.x + p.width / 2, p.y + p.height / 2);
  const auto v = scene.view();
  const double pxPerCol = p.width / (v.col1 - v.col0);
  QVERIFY2(pxPerCol >= 32, qPrintable(QString::number(pxPerCol)));
  const QImage image = render(scene, QStringLiteral("single_weights"));
  const auto& table = figures::colormap_table(Colormap::Viridis);
  // Walk along a row in the middle: runs of one colour about pxPerCol wide, alternating ends.
  const int y = p.y + p.height / 2;
  int runs = 0, runStart = p.x;
  for (int x = p.x + 1; x < p.x + p.width; ++x) {
    const Rgb c = rgbAt(image, x, y), prev = rgbAt(image, x - 1, y);
    QVERIFY(c == table[0] || c == table[255]);
    if (c != prev) {
      if (runStart > p.x) QVERIFY2(std::abs((x - runStart) - pxPerCol) <= 1.0, qPrintable(QString::number(x - runStart)));
      runStart = x;
      ++runs;
    }
  }
  QVERIFY(runs >= 5);
  // The read-out agrees with the colour under the pointer.
  const auto r = scene.readout_at(p.x + p.width / 2, y);
  QVERIFY(r.has_value());
  QCOMPARE_RGB(rgbAt(image, p.x + p.width / 2, y), r->value > 0 ? table[255] : table[0]);
}

void TestHeatmapScene::panMovesPixels() {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> m(60 * 80);
  for (auto& x : m) x = u(rng);
  HeatmapScene scene;
  scene.set_matrix(m, 60, 80, "random");
  scene.set_view(20, 35, 30, 50);  // magnified: 15 rows x 20 cols
  const auto p = scene.plot_rect();
  const QImage before = render(scene, QStringLiteral("pan_before"));
  scene.pan(100, 40);  // content follows the drag: right and down
  const auto v = scene.view();
  QVERIFY(std::fabs(v.col0 - (30 - 100 * 20.0 / p.width)) < 1e-9);
  QVERIFY(std::fabs(v.row0 - (20 - 40 * 15.0 / p.height)) < 1e-9);
  const QImage after = render(scene, QStringLiteral("pan_after"));
  QVERIFY(after != before);
  // What was at (x, y) is now at (x + 100, y + 40); pixels on element borders may round apart.
  int same = 0, total = 0;
  for (int y = p.y; y + 40 < p.y + p.height; y += 3)
    for (int x = p.x; x + 100 < p.x + p.width; x += 3) {
      ++total;
      same += rgbAt(before, x, y) == rgbAt(after, x + 100, y + 40);
    }
  QVERIFY2(same >= total * 98 / 100, qPrintable(QStringLiteral("%1 of %2").arg(same).arg(total)));
  // Panning past the matrix stops at its edge.
  scene.pan(100000, 100000);
  QCOMPARE(scene.view().col0, 0.0);
  QCOMPARE(scene.view().row0, 0.0);
}

void TestHeatmapScene::overlayTopK() {
  // Values all 0 (lowest colour); scores 0..99 along 10 x 10: the top 10 % is the last row.
  HeatmapScene scene;
  scene.set_matrix(std::vector<float>(100, 0.0f), 10, 10, "overlay");
  auto scores = std::make_shared<std::vector<float>>(100);
  for (int i = 0; i < 100; ++i) (*scores)[static_cast<std::size_t>(i)] = static_cast<float>(i);
  scene.set_overlay_top_k(std::make_shared<const TensorPyramid>(TensorPyramid::of_values(scores, 10, 10, ThreadPool::global())), 10);
  // The 90th percentile: rank round(0.9 * 99) = 89 -> score 89; elements 89..99 are selected.
  QVERIFY(scene.overlay_threshold() == std::optional<float>(89.0f));
  scene.set_overlay_color({255, 0, 255}, 0.5);
  const QImage image = render(scene, QStringLiteral("overlay_topk"));
  const auto p = scene.plot_rect();
  const Rgb base = figures::colormap_table(Colormap::Viridis)[0];
  const Rgb marked = blend(base, {255, 0, 255}, 0.5);
  for (int i = 0; i < 100; ++i) {
    const QPoint at = centreOf(p, 10, 10, i / 10, i % 10);
    QCOMPARE_RGB(rgbAt(image, at.x(), at.y()), i >= 89 ? marked : base);
  }
  scene.clear_overlay();
  QVERIFY(!scene.overlay_threshold().has_value());
  const QImage plain = render(scene, QStringLiteral("overlay_cleared"));
  QCOMPARE_RGB(rgbAt(plain, centreOf(p, 10, 10, 9, 9).x(), centreOf(p, 10, 10, 9, 9).y()), base);
}

void TestHeatmapScene::overlayMask() {
  // A diagonal mask on a 256 x 256 matrix seen at 1 pixel per 2 x 2 or so: a coarse pixel is
  // overlaid when any element in it is selected, so the diagonal stays visible when zoomed out.
  const int n = 256;
  HeatmapScene scene;
  scene.set_matrix(std::vector<float>(n * n, 1.0f), n, n, "mask");
  auto mask = std::make_shared<std::vector<std::uint8_t>>(n * n, 0);
  for (int i = 0; i < n; ++i) (*mask)[static_cast<std::size_t>(i * n + i)] = 1;
  scene.set_overlay_mask(mask, "diagonal");
  const QImage image = render(scene, QStringLiteral("overlay_mask"), 300, 260);
  const auto p = scene.plot_rect();
  QVERIFY(p.width < n && p.height < n);
  const Rgb base = figures::colormap_table(Colormap::Viridis)[0];
  const Rgb marked = blend(base, scene.overlay_color(), scene.overlay_opacity());
  int onDiagonal = 0, offDiagonal = 0;
  for (int y = p.y; y < p.y + p.height; ++y)
    for (int x = p.x; x < p.x + p.width; ++x) {
      const double fy = (y - p.y + 0.5) / p.height, fx = (x - p.x + 0.5) / p.width;
      const Rgb c = rgbAt(image, x, y);
      if (std::fabs(fx - fy) < 0.002) onDiagonal += c == marked;
      if (std::fabs(fx - fy) > 0.05) offDiagonal += c != base;
    }
  QVERIFY(onDiagonal > 20);
  QCOMPARE(offDiagonal, 0);
  try {
    scene.set_overlay_mask(std::make_shared<const std::vector<std::uint8_t>>(10, 1));
    QFAIL("no error for a mask of another size");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
  }
}

void TestHeatmapScene::meanVersusMaxAbs() {
  // Two columns per pixel: (0, 1) pairs. Max-abs shows 1 everywhere, mean 0.5 (the middle).
  const int rows = 8, cols = 512;
  auto values = std::make_shared<std::vector<float>>(rows * cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) (*values)[static_cast<std::size_t>(r * cols + c)] = static_cast<float>(c % 2);
  PyramidOptions both;
  both.mean = true;
  HeatmapScene scene;
  scene.set_pyramid(std::make_shared<const TensorPyramid>(TensorPyramid::of_values(values, rows, cols, ThreadPool::global(), {}, both)), "pairs");
  const int w = cols / 2 + 184;  // the plot is 256 pixels wide
  const QImage maxAbs = render(scene, QStringLiteral("pairs_maxabs"), w, 200);
  const auto p = scene.plot_rect();
  QCOMPARE(p.width, 256);
  const auto& table = figures::colormap_table(Colormap::Viridis);
  QCOMPARE_RGB(rgbAt(maxAbs, p.x + 100, p.y + 10), table[255]);
  scene.set_reduction(PyramidReduction::Mean);
  QCOMPARE(scene.reduction(), PyramidReduction::Mean);
  const QImage mean = render(scene, QStringLiteral("pairs_mean"), w, 200);
  QCOMPARE_RGB(rgbAt(mean, p.x + 100, p.y + 10), table[128]);
}

void TestHeatmapScene::errorsAreUsage() {
  HeatmapScene scene;
  auto usage = [](auto&& fn) {
    try {
      fn();
      return false;
    } catch (const Error& e) {
      return e.kind() == Error::Kind::Usage;
    }
  };
  QVERIFY(usage([&] { scene.set_matrix({1, 2, 3}, 2, 2, "bad"); }));
  scene.set_matrix({1, 2, 3, 4}, 2, 2, "ok");
  auto other = std::make_shared<const TensorPyramid>(
      TensorPyramid::of_values(std::make_shared<const std::vector<float>>(6, 1.0f), 2, 3, ThreadPool::global()));
  QVERIFY(usage([&] { scene.set_overlay_top_k(other, 10); }));
  auto same = std::make_shared<const TensorPyramid>(
      TensorPyramid::of_values(std::make_shared<const std::vector<float>>(4, 1.0f), 2, 2, ThreadPool::global()));
  QVERIFY(usage([&] { scene.set_overlay_top_k(same, 0); }));
  QVERIFY(usage([&] { scene.set_overlay_top_k(same, 101); }));
  QVERIFY(usage([&] { scene.set_clip_percentiles(-1, 50); }));
  // An empty scene renders (title only) and reads out nothing.
  scene.clear();
  QVERIFY(!scene.readout_at(400, 300).has_value());
  const QImage empty = render(scene, QStringLiteral("empty"));
  QCOMPARE(test::countPixels(empty, figures::palette::background) > kWidth * kHeight * 9 / 10, true);
}

void TestHeatmapScene::mouseThroughTheWidget() {
  // Wheel, drag and hover reach the scene through the Qt bridge, and each re-renders the view.
  std::vector<float> m(40 * 60);
  for (int r = 0; r < 40; ++r)
    for (int c = 0; c < 60; ++c) m[static_cast<std::size_t>(r * 60 + c)] = static_cast<float>(r * 60 + c);
  auto scene = std::make_shared<HeatmapScene>();
  scene->set_matrix(m, 40, 60, "mouse");
  std::optional<figures::Readout> hovered;
  int hovers = 0;
  scene->set_hover_callback([&](const std::optional<figures::Readout>& r) {
    hovered = r;
    ++hovers;
  });
  ui::VtkViewWidget view;
  view.resize(kWidth, kHeight);
  view.setScene(scene);
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  if (view.devicePixelRatio() != 1) QSKIP("pixel positions assume a device pixel ratio of 1");
  QSignalSpy swapped(&view, &QOpenGLWidget::frameSwapped);
  view.renderLater();
  QVERIFY(swapped.wait(5000));
  const QImage first = view.grabFramebuffer();
  const auto p = scene->plot_rect();
  QCOMPARE(p.width, kWidth - 64 - 120);

  // Hover over element (10, 20).
  const QPoint at = centreOf(p, 40, 60, 10, 20);
  QMouseEvent move(QEvent::MouseMove, at, view.mapToGlobal(at), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
  QCoreApplication::sendEvent(&view, &move);
  QTRY_VERIFY_WITH_TIMEOUT(hovered.has_value(), 2000);
  QCOMPARE(hovered->row, std::int64_t{10});
  QCOMPARE(hovered->col, std::int64_t{20});
  QCOMPARE(hovered->value, 620.0f);
  // The read-out is drawn in the plot's top-left corner: text over the (dark) first rows.
  view.renderLater();
  QVERIFY(swapped.wait(5000));
  const QImage hover = view.grabFramebuffer();
  test::keepImage(hover, QStringLiteral("heatmap_widget_hover"));
  int changedPixels = 0;
  for (int y = p.y; y < p.y + 20; ++y)
    for (int x = p.x; x < p.x + 150; ++x) changedPixels += hover.pixel(x, y) != first.pixel(x, y);
  QVERIFY2(changedPixels > 200, qPrintable(QString::number(changedPixels)));

  // Wheel forward: zoomed in around the pointer, and a new frame on screen.
  QWheelEvent wheel(at, view.mapToGlobal(at), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
  QCoreApplication::sendEvent(&view, &wheel);
  QVERIFY(std::fabs((scene->view().col1 - scene->view().col0) - 60 / 1.25) < 1e-9);
  QTRY_VERIFY_WITH_TIMEOUT(view.grabFramebuffer() != first, 5000);
  const QImage zoomed = view.grabFramebuffer();
  test::keepImage(zoomed, QStringLiteral("heatmap_widget_zoomed"));

  // Drag left by 40 pixels: the view moves right in the matrix.
  const double col0 = scene->view().col0;
  const QPoint from = at, to = at - QPoint(40, 0);
  QTest::mousePress(&view, Qt::LeftButton, Qt::NoModifier, from);
  for (int i = 1; i <= 4; ++i) {
    const QPoint q = from + (to - from) * i / 4;
    QMouseEvent drag(QEvent::MouseMove, q, view.mapToGlobal(q), Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(&view, &drag);
  }
  QTest::mouseRelease(&view, Qt::LeftButton, Qt::NoModifier, to);
  const double moved = scene->view().col0 - col0;
  const double want = 40 * (scene->view().col1 - scene->view().col0) / p.width;
  QVERIFY2(std::fabs(moved - want) < 1e-6, qPrintable(QStringLiteral("%1 vs %2").arg(moved).arg(want)));
  QTRY_VERIFY_WITH_TIMEOUT(view.grabFramebuffer() != zoomed, 5000);

  // Leaving the widget clears the read-out.
  QEvent leave(QEvent::Leave);
  QCoreApplication::sendEvent(&view, &leave);
  QTRY_VERIFY_WITH_TIMEOUT(!hovered.has_value(), 2000);
  QVERIFY(hovers >= 2);
}

void TestHeatmapScene::vectorExportKeepsTheImage() {
  // SVG and PDF should carry the heatmap as an embedded raster (GL2PS) beside vector text.
  HeatmapScene scene;
  std::vector<float> m(64 * 128);
  for (int r = 0; r < 64; ++r)
    for (int c = 64; c < 128; ++c) m[static_cast<std::size_t>(r * 128 + c)] = 1;
  scene.set_matrix(m, 64, 128, "halves");
  const QString svg = tmp_.filePath(QStringLiteral("halves.svg"));
  scene.save(svg.toStdString());
  if (const QString dir = qEnvironmentVariable("PARAMSCOPE_TEST_IMAGES"); !dir.isEmpty())
    QFile::copy(svg, dir + QStringLiteral("/heatmap_halves.svg"));
  QFile f(svg);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray text = f.readAll();
  QVERIFY(text.contains("halves"));
  QVERIFY2(text.contains("<image"), "no embedded image in the SVG");
}

void TestHeatmapScene::largeTensorFirstFrame() {
  // LLaMA-7B's MLP shape from a BF16 file: pyramid + first frame, timed; the PNG is kept in
  // PARAMSCOPE_TEST_IMAGES. Runs on request (PARAMSCOPE_BENCH=1): writing the 90 MB file is slow.
  if (qEnvironmentVariableIntValue("PARAMSCOPE_BENCH") != 1) QSKIP("set PARAMSCOPE_BENCH=1 to render a 4096 x 11008 tensor");
  const std::int64_t rows = 4096, cols = 11008;
  const auto path = std::filesystem::path(tmp_.path().toStdString()) / "mlp.safetensors";
  {
    // Weights with structure a heatmap should show: per-row and per-column scales, a few outlier
    // columns (as LLMs have), and a block of zeros.
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> colScale(static_cast<std::size_t>(cols)), values(static_cast<std::size_t>(rows * cols));
    for (std::int64_t c = 0; c < cols; ++c)
      colScale[static_cast<std::size_t>(c)] = (c % 1500 == 17) ? 8.0f : 1.0f + 0.5f * std::sin(static_cast<float>(c) / 700.0f);
    for (std::int64_t r = 0; r < rows; ++r) {
      const float rowScale = 1.0f + static_cast<float>(r) / static_cast<float>(rows);
      for (std::int64_t c = 0; c < cols; ++c) {
        const bool pruned = r >= 1024 && r < 1536 && c >= 4096 && c < 6144;
        values[static_cast<std::size_t>(r * cols + c)] = pruned ? 0.0f : normal(rng) * rowScale * colScale[static_cast<std::size_t>(c)];
      }
    }
    write_safetensors(path, {TensorToWrite::from_floats("model.layers.0.mlp.up_proj.weight", DType::BF16, {rows, cols}, values)});
  }
  const Checkpoint c = open_checkpoint(path);
  const Tensor& t = c.at("model.layers.0.mlp.up_proj.weight");
  QElapsedTimer timer;
  timer.start();
  auto pyramid = std::make_shared<const TensorPyramid>(TensorPyramid::of_tensor(t, ThreadPool::global()));
  const qint64 build = timer.nsecsElapsed();
  HeatmapScene scene;
  scene.set_pyramid(pyramid, t.name() + " [4096, 11008] BF16");
  scene.set_colormap(Colormap::RdBuR);
  scene.set_clip_percentiles(1, 99);
  timer.restart();
  const QString file = tmp_.filePath(QStringLiteral("mlp.png"));
  scene.save_png(file.toStdString(), 1200, 800);
  const qint64 frame = timer.nsecsElapsed();
  QImage image(file);
  QVERIFY(!image.isNull());
  test::keepImage(image, QStringLiteral("heatmap_llama_mlp"));
  scene.set_scale(figures::ColorScale::Log);
  scene.set_colormap(Colormap::Magma);
  scene.set_clip_percentiles(0, 100);
  scene.save_png(file.toStdString(), 1200, 800);
  test::keepImage(QImage(file), QStringLiteral("heatmap_llama_mlp_log"));
  qInfo("4096 x 11008 BF16: pyramid %.1f ms, first offscreen frame 1200x800 (incl. window set-up) %.1f ms",
        build / 1e6, frame / 1e6);
  QVERIFY((build + frame) / 1e9 < 1.0);
}

PARAMSCOPE_GUI_TEST_MAIN(TestHeatmapScene)
#include "test_heatmap_scene.moc"
