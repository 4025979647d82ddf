// The 3-D view: a grid with known values seen from the top gives the colormap's colours where the
// scene says the cells are; rotating and zooming move the pixels; NaN points leave holes; the grid
// helpers (a tensor's heightfield from its pyramid, importance over block x neuron) give
// hand-checked numbers; export works headless; the mouse turns and zooms through the Qt bridge.
#include <QSignalSpy>
#include <QtTest>

#include <cmath>
#include <limits>

#include "gui_test_support.h"
#include "paramscope/error.h"
#include "paramscope/figures/colormap.h"
#include "paramscope/figures/figure_data.h"
#include "paramscope/figures/surface_scene.h"
#include "paramscope/pyramid.h"
#include "vtk_view_widget.h"

using namespace paramscope;
using figures::Colormap;
using figures::Rgb;
using figures::SurfaceGrid;
using figures::SurfaceScene;

Q_DECLARE_METATYPE(Colormap)

namespace {

constexpr int kWidth = 800, kHeight = 600;
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

Rgb rgbAt(const QImage& image, double x, double y) {
  const QRgb p = image.pixel(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)));
  return {static_cast<std::uint8_t>(qRed(p)), static_cast<std::uint8_t>(qGreen(p)), static_cast<std::uint8_t>(qBlue(p))};
}

QString text(Rgb c) { return QStringLiteral("(%1, %2, %3)").arg(c.r).arg(c.g).arg(c.b); }

// Lighting is computed in floats: a flat part facing the viewer keeps its colour within one step.
bool near(Rgb a, Rgb b, int tolerance = 1) {
  return std::abs(a.r - b.r) <= tolerance && std::abs(a.g - b.g) <= tolerance && std::abs(a.b - b.b) <= tolerance;
}

#define QCOMPARE_NEAR_RGB(actual, expected)                                                                  \
  do {                                                                                                      \
    const Rgb a_ = (actual), e_ = (expected);                                                               \
    QVERIFY2(near(a_, e_), qPrintable(QStringLiteral("%1 vs %2").arg(text(a_)).arg(text(e_))));             \
  } while (false)

SurfaceGrid gridOf(std::vector<float> values, std::int64_t rows, std::int64_t cols) {
  SurfaceGrid g;
  g.values = std::move(values);
  g.rows = rows;
  g.cols = cols;
  g.row_last = static_cast<double>(rows - 1);
  g.col_last = static_cast<double>(cols - 1);
  return g;
}

// 20 x 20 points in four flat quadrants: top-left a, top-right b, bottom-left c, bottom-right d.
SurfaceGrid quadrants(float a, float b, float c, float d) {
  std::vector<float> v(400);
  for (int r = 0; r < 20; ++r)
    for (int col = 0; col < 20; ++col) v[static_cast<std::size_t>(r * 20 + col)] = r < 10 ? (col < 10 ? a : b) : (col < 10 ? c : d);
  return gridOf(std::move(v), 20, 20);
}

int countNear(const QImage& image, Rgb c, int tolerance = 1) {
  int n = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) n += near(rgbAt(image, x, y), c, tolerance);
  return n;
}

std::shared_ptr<const TensorPyramid> pyramidOf(std::vector<float> v, std::int64_t rows, std::int64_t cols) {
  PyramidOptions both;
  both.mean = true;
  return std::make_shared<const TensorPyramid>(TensorPyramid::of_values(
      std::make_shared<const std::vector<float>>(std::move(v)), rows, cols, ThreadPool::global(), {}, both));
}

// The tiny LLaMA fixture's importance per output neuron: magnitude, L2 over each row.
ReducedMaps neuronMaps(const Checkpoint& c) {
  const Criterion& magnitude = CriterionRegistry::builtin().get("magnitude");
  const auto field = make_score_field(c, select_tensors(c, {}), magnitude, {});
  return reduce_scores(*field, Granularity::Row, Reduction::L2, HeadConfig::from_checkpoint(c), ThreadPool::global());
}

}  // namespace

class TestSurfaceScene : public QObject {
  Q_OBJECT

private slots:
  void topViewGivesColormapColours_data();
  void topViewGivesColormapColours();
  void rotationChangesPixels();
  void zoomMakesTheSurfaceBigger();
  void nanPointsAreHoles();
  void colourRange();
  void errorsAreUsage();
  void surfaceOfPyramid_data();
  void surfaceOfPyramid();
  void surfaceOfNeuronsMatchesTheWeights();
  void surfaceOfNeuronsByHand_data();
  void surfaceOfNeuronsByHand();
  void surfaceOfNeuronsErrors();
  void saveHeadless_data();
  void saveHeadless();
  void mouseThroughTheWidget();

private:
  QImage render(SurfaceScene& scene, const QString& name, int w = kWidth, int h = kHeight);
  QTemporaryDir tmp_;
};

QImage TestSurfaceScene::render(SurfaceScene& scene, const QString& name, int w, int h) {
  const QString file = tmp_.filePath(name + QStringLiteral(".png"));
  scene.save_png(file.toStdString(), w, h);
  QImage image(file);
  if (image.isNull()) qFatal("no image %s", qPrintable(file));
  test::keepImage(image, QStringLiteral("surface_") + name);
  return image.convertToFormat(QImage::Format_RGB32);
}

void TestSurfaceScene::topViewGivesColormapColours_data() {
  QTest::addColumn<Colormap>("map");
  for (Colormap m : figures::kColormaps) QTest::newRow(figures::colormap_name(m).data()) << m;
}

void TestSurfaceScene::topViewGivesColormapColours() {
  QFETCH(Colormap, map);
  // Quadrants 0, 1/3, 2/3, 1 over [0, 1]: entries floor(256 t) = 0, 85, 170, 255.
  SurfaceScene scene;
  scene.set_grid(quadrants(0, 1 / 3.0f, 2 / 3.0f, 1), "quadrants");
  scene.set_colormap(map);
  scene.set_camera(-90, 90);
  const QImage image = render(scene, QStringLiteral("top_") + QString::fromLatin1(figures::colormap_name(map).data()));
  const auto& table = figures::colormap_table(map);
  const std::pair<QPoint, int> expected[] = {{{5, 5}, 0}, {{5, 14}, 85}, {{14, 5}, 170}, {{14, 14}, 255}};
  for (const auto& [rc, entry] : expected) {
    const auto at = scene.pixel_of(rc.x(), rc.y());
    QVERIFY(at.has_value());
    QCOMPARE_NEAR_RGB(rgbAt(image, at->first, at->second), table[static_cast<std::size_t>(entry)]);
  }
  // Seen from the top the footprint is a square, row 0 at the top and column 0 at the left (as a
  // heatmap), inside the image and left of the colorbar.
  const auto tl = *scene.pixel_of(0, 0), br = *scene.pixel_of(19, 19);
  QVERIFY(tl.first < br.first && tl.second < br.second);
  QVERIFY(std::abs((br.first - tl.first) - (br.second - tl.second)) < 1);
  QVERIFY(br.first - tl.first > kHeight / 3);
  QVERIFY(tl.first > 0 && tl.second > 0 && br.first < kWidth - 120 && br.second < kHeight);
  // The far corner of each quadrant too (the pixel just inside the footprint).
  QCOMPARE_NEAR_RGB(rgbAt(image, tl.first + 2, tl.second + 2), table[0]);
  QCOMPARE_NEAR_RGB(rgbAt(image, br.first - 2, br.second - 2), table[255]);
  // Outside the footprint: the background.
  QCOMPARE_NEAR_RGB(rgbAt(image, tl.first - 6, (tl.second + br.second) / 2), figures::palette::background);
}

void TestSurfaceScene::rotationChangesPixels() {
  SurfaceScene scene;
  scene.set_grid(quadrants(0, 1, 2, 3), "turning");
  QCOMPARE(scene.camera().azimuth, -60.0);  // the default 3/4 view
  QCOMPARE(scene.camera().elevation, 30.0);
  const QImage a = render(scene, QStringLiteral("turn_a"));
  scene.set_camera(30, 30);
  const QImage b = render(scene, QStringLiteral("turn_b"));
  QVERIFY(std::abs(scene.camera().azimuth - 30) < 1e-9);
  QVERIFY(std::abs(scene.camera().elevation - 30) < 1e-9);
  int changed = 0;
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x) changed += a.pixel(x, y) != b.pixel(x, y);
  QVERIFY2(changed > 5000, qPrintable(QString::number(changed)));
  // A quarter turn moves the near corner: from azimuth -60 row 19 / col 19 is nearest (lowest on
  // screen); from 30 (viewer on the +x, +y side) it is row 0 / col 19.
  scene.set_camera(-60, 30);
  render(scene, QStringLiteral("turn_c"));
  const double y19 = scene.pixel_of(19, 19)->second, y0 = scene.pixel_of(0, 19)->second;
  QVERIFY(y19 > y0);
  scene.set_camera(30, 30);
  render(scene, QStringLiteral("turn_d"));
  QVERIFY(scene.pixel_of(0, 19)->second > scene.pixel_of(19, 19)->second);
  // reset_camera() goes back to the 3/4 view and its picture.
  scene.reset_camera();
  QVERIFY(render(scene, QStringLiteral("turn_e")) == a);
}

void TestSurfaceScene::zoomMakesTheSurfaceBigger() {
  // A flat constant grid seen from the top: its colour covers the footprint, 4x the area at twice
  // the zoom (0.5 -> 1: at 2 the surface would not fit the window).
  SurfaceScene scene;
  scene.set_grid(gridOf(std::vector<float>(16 * 16, 5.0f), 16, 16), "constant");
  scene.set_colormap(Colormap::Magma);
  const Rgb c = figures::colormap_table(Colormap::Magma)[0];  // lo == hi: the lowest colour
  scene.set_camera(-90, 90, 0.5);
  const QImage one = render(scene, QStringLiteral("zoom1"));
  const double side1 = scene.pixel_of(15, 15)->first - scene.pixel_of(0, 0)->first;
  const int area1 = countNear(one, c);
  scene.set_camera(-90, 90, 1);
  QCOMPARE(scene.camera().zoom, 1.0);
  const QImage two = render(scene, QStringLiteral("zoom2"));
  const double side2 = scene.pixel_of(15, 15)->first - scene.pixel_of(0, 0)->first;
  const int area2 = countNear(two, c);
  QVERIFY2(std::abs(side2 - 2 * side1) < 1, qPrintable(QStringLiteral("%1 %2").arg(side1).arg(side2)));
  QVERIFY2(area1 > 0.9 * side1 * side1 && area1 < 1.1 * side1 * side1 + 2000, qPrintable(QString::number(area1)));
  const double ratio = static_cast<double>(area2) / area1;
  QVERIFY2(ratio > 3.6 && ratio < 4.4, qPrintable(QString::number(ratio)));
  QVERIFY(std::abs(scene.camera().zoom - 1) < 1e-9);  // kept through the render
}

void TestSurfaceScene::nanPointsAreHoles() {
  // One NaN point in a flat grid: the four quads around it are not drawn, so the background shows
  // there; everything else has the grid's colour. A grid of NaN only draws nothing, no crash.
  std::vector<float> v(21 * 21, 1.0f);
  v[10 * 21 + 10] = kNan;
  v[0] = 0;  // a range, so the flat part takes the top colour
  SurfaceScene scene;
  scene.set_grid(gridOf(v, 21, 21), "hole");
  scene.set_colormap(Colormap::Viridis);
  scene.set_camera(-90, 90);
  const QImage image = render(scene, QStringLiteral("hole"));
  const auto hole = *scene.pixel_of(10, 10), solid = *scene.pixel_of(5, 15);
  QCOMPARE_NEAR_RGB(rgbAt(image, hole.first, hole.second), figures::palette::background);
  QCOMPARE_NEAR_RGB(rgbAt(image, solid.first, solid.second), figures::colormap_table(Colormap::Viridis)[255]);
  QCOMPARE(scene.color_range(), (std::pair<double, double>{0, 1}));

  scene.set_grid(gridOf(std::vector<float>(9, kNan), 3, 3), "all NaN");
  const QImage empty = render(scene, QStringLiteral("all_nan"));
  const auto centre = *scene.pixel_of(1, 1);
  QCOMPARE_NEAR_RGB(rgbAt(empty, centre.first, centre.second), figures::palette::background);
  QCOMPARE(scene.color_range(), (std::pair<double, double>{0, 1}));
}

void TestSurfaceScene::colourRange() {
  SurfaceScene scene;
  scene.set_grid(gridOf({-1, 0, 2, 0.5f}, 2, 2), "signed");
  QCOMPARE(scene.color_range(), (std::pair<double, double>{-1, 2}));
  scene.set_colormap(Colormap::RdBuR);  // diverging: symmetric around 0, as the heatmap
  QCOMPARE(scene.color_range(), (std::pair<double, double>{-2, 2}));
  scene.set_grid(gridOf({0, 1, 2, 3}, 1, 4), "one row");
  QCOMPARE(scene.color_range(), (std::pair<double, double>{0, 3}));
  // A single row is drawn as a strip across the footprint: flat and constant, from the top it
  // shows the lowest colour (lo == hi) along its whole length.
  scene.set_grid(gridOf({2, 2, 2, 2}, 1, 4), "one row");
  scene.set_camera(-90, 90);
  const QImage image = render(scene, QStringLiteral("one_row"));
  const auto first = *scene.pixel_of(0, 0.2), last = *scene.pixel_of(0, 2.8);
  QVERIFY(last.first - first.first > 200);
  for (double col : {0.2, 1.5, 2.8}) {
    const auto at = *scene.pixel_of(0, col);
    QCOMPARE_NEAR_RGB(rgbAt(image, at.first, at.second), figures::colormap_table(Colormap::RdBuR)[0]);
  }
  scene.clear();
  QCOMPARE(scene.grid().rows, std::int64_t{0});
  render(scene, QStringLiteral("cleared"));
}

void TestSurfaceScene::errorsAreUsage() {
  SurfaceScene scene;
  auto kind = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return Error::Kind::Io;  // "did not throw": no case expects Io
  };
  QCOMPARE(kind([&] { scene.set_grid(gridOf({1, 2, 3}, 2, 2), "short"); }), Error::Kind::Usage);
  QCOMPARE(kind([&] { scene.set_grid(gridOf({}, 0, 0), "empty"); }), Error::Kind::Usage);
  QCOMPARE(kind([&] { scene.set_grid(gridOf(std::vector<float>(2 * 2000), 2, 2000), "wide"); }), Error::Kind::Usage);
  QCOMPARE(kind([&] { scene.set_camera(0, 91); }), Error::Kind::Usage);
  QCOMPARE(kind([&] { scene.set_camera(0, 0, 0); }), Error::Kind::Usage);
  QCOMPARE(kind([&] { scene.set_camera(std::nan(""), 0); }), Error::Kind::Usage);
  QCOMPARE(kind([&] { scene.set_height_fraction(0); }), Error::Kind::Usage);
  QCOMPARE(kind([&] { figures::surface_of_pyramid(*pyramidOf({1}, 1, 1), 0, 10); }), Error::Kind::Usage);
}

void TestSurfaceScene::surfaceOfPyramid_data() {
  QTest::addColumn<int>("maxRows");
  QTest::addColumn<int>("maxCols");
  QTest::addColumn<bool>("mean");
  QTest::addColumn<QList<float>>("expected");
  QTest::addColumn<QList<double>>("axes");  // row_first, row_last, col_first, col_last
  // The 4 x 6 matrix v[r][c] = 10 r + c with v[3][5] = -100; 2 x 2 cells when reduced to 2 x 3.
  // Cell (0, 0) holds 0, 1, 10, 11; cell (1, 2) holds 24, 25, 34, -100.
  QTest::newRow("max-abs 2x3") << 2 << 3 << false << QList<float>{11, 13, 15, 31, 33, -100}
                               << QList<double>{0.5, 2.5, 0.5, 4.5};
  QTest::newRow("mean 2x3") << 2 << 3 << true << QList<float>{5.5f, 7.5f, 9.5f, 25.5f, 27.5f, -4.25f}
                            << QList<double>{0.5, 2.5, 0.5, 4.5};
  // Rows kept, columns in pairs.
  QTest::newRow("max-abs 4x3") << 512 << 3 << false << QList<float>{1, 3, 5, 11, 13, 15, 21, 23, 25, 31, 33, -100}
                               << QList<double>{0, 3, 0.5, 4.5};
  // Small enough: the matrix itself.
  QTest::newRow("whole") << 512 << 512 << false
                         << QList<float>{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25, 30, 31, 32, 33, 34, -100}
                         << QList<double>{0, 3, 0, 5};
}

void TestSurfaceScene::surfaceOfPyramid() {
  QFETCH(int, maxRows);
  QFETCH(int, maxCols);
  QFETCH(bool, mean);
  QFETCH(QList<float>, expected);
  QFETCH(QList<double>, axes);
  std::vector<float> v(24);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 6; ++c) v[static_cast<std::size_t>(r * 6 + c)] = static_cast<float>(10 * r + c);
  v[23] = -100;
  const auto p = pyramidOf(v, 4, 6);
  const SurfaceGrid g = figures::surface_of_pyramid(*p, maxRows, maxCols, mean ? PyramidReduction::Mean : PyramidReduction::MaxAbs);
  QCOMPARE(static_cast<qsizetype>(g.values.size()), expected.size());
  QCOMPARE(g.rows * g.cols, static_cast<std::int64_t>(expected.size()));
  for (qsizetype i = 0; i < expected.size(); ++i) QCOMPARE(g.values[static_cast<std::size_t>(i)], expected[i]);
  QCOMPARE(g.row_first, axes[0]);
  QCOMPARE(g.row_last, axes[1]);
  QCOMPARE(g.col_first, axes[2]);
  QCOMPARE(g.col_last, axes[3]);
}

void TestSurfaceScene::surfaceOfNeuronsMatchesTheWeights() {
  // Magnitude, L2 per output neuron: grid[b][n] = sqrt(sum_j w[n][j]^2) of block b's down_proj.
  const auto c = test::load("gui/tiny_llama.safetensors");
  const ReducedMaps maps = neuronMaps(*c);
  const std::vector<std::string> kinds = figures::surface_kinds(maps, *c);
  QVERIFY(std::find(kinds.begin(), kinds.end(), "mlp.down") != kinds.end());
  QVERIFY(std::find(kinds.begin(), kinds.end(), "attn.q") != kinds.end());
  QVERIFY(std::find(kinds.begin(), kinds.end(), "norm") == kinds.end());  // 1-D: not selected
  const SurfaceGrid g = figures::surface_of_neurons(maps, *c, "mlp.down");
  int blocks = 0;
  for (const Tensor& t : c->tensors()) blocks += t.name().find("mlp.down_proj.weight") != std::string::npos;
  QVERIFY(blocks >= 2);
  QCOMPARE(g.rows, static_cast<std::int64_t>(blocks));
  QCOMPARE(g.row_axis, std::string("block"));
  QCOMPARE(g.col_axis, std::string("neuron"));
  for (int b = 0; b < blocks; ++b) {
    QCOMPARE(g.row_labels[static_cast<std::size_t>(b)], "layers." + std::to_string(b));
    const Tensor& w = c->at("model.layers." + std::to_string(b) + ".mlp.down_proj.weight");
    QCOMPARE(g.cols, w.shape()[0]);
    const std::vector<float> x = w.to_f32();
    for (std::int64_t n = 0; n < w.shape()[0]; ++n) {
      double sq = 0;
      for (std::int64_t j = 0; j < w.shape()[1]; ++j) sq += static_cast<double>(x[static_cast<std::size_t>(n * w.shape()[1] + j)]) * x[static_cast<std::size_t>(n * w.shape()[1] + j)];
      const double got = g.values[static_cast<std::size_t>(b * g.cols + n)];
      QVERIFY2(std::abs(got - std::sqrt(sq)) <= 1e-5 * std::sqrt(sq), qPrintable(QStringLiteral("%1 %2").arg(b).arg(n)));
    }
  }
}

void TestSurfaceScene::surfaceOfNeuronsByHand_data() {
  QTest::addColumn<int>("maxCols");
  QTest::addColumn<bool>("mean");
  QTest::addColumn<QList<float>>("expected");  // NaN written as -999
  // Block 0 has four neurons, block 1 two: padded with NaN.
  QTest::newRow("whole") << 512 << false << QList<float>{1, -5, 3, 2, 4, 5, -999, -999};
  // Reduced to two columns: pairs of neurons, NaN ignored.
  QTest::newRow("max") << 2 << false << QList<float>{-5, 3, 5, -999};
  QTest::newRow("mean") << 2 << true << QList<float>{-2, 2.5f, 4.5f, -999};
}

void TestSurfaceScene::surfaceOfNeuronsByHand() {
  QFETCH(int, maxCols);
  QFETCH(bool, mean);
  QFETCH(QList<float>, expected);
  const auto c = test::load("gui/tiny_llama.safetensors");
  ReducedMaps maps{Granularity::Row, Reduction::Max, {}, {}, {}, {}};
  // Listed out of block order: rows come in hierarchy order all the same. Another kind is left out.
  maps.maps.push_back({0, "model.layers.1.mlp.down_proj.weight", {2}, {4, 5}, {}, {}});
  maps.maps.push_back({1, "model.layers.0.mlp.down_proj.weight", {4}, {1, -5, 3, 2}, {}, {}});
  maps.maps.push_back({2, "model.layers.0.mlp.up_proj.weight", {3}, {7, 7, 7}, {}, {}});
  const SurfaceGrid g =
      figures::surface_of_neurons(maps, *c, "mlp.down", 512, maxCols, mean ? PyramidReduction::Mean : PyramidReduction::MaxAbs);
  QCOMPARE(g.rows, std::int64_t{2});
  QCOMPARE(g.rows * g.cols, static_cast<std::int64_t>(expected.size()));
  for (qsizetype i = 0; i < expected.size(); ++i) {
    const float v = g.values[static_cast<std::size_t>(i)];
    if (expected[i] == -999)
      QVERIFY2(std::isnan(v), qPrintable(QString::number(i)));
    else
      QCOMPARE(v, expected[i]);
  }
  QCOMPARE(g.row_labels, (std::vector<std::string>{"layers.0", "layers.1"}));
  QCOMPARE(figures::surface_kinds(maps, *c), (std::vector<std::string>{"mlp.down", "mlp.up"}));
}

void TestSurfaceScene::surfaceOfNeuronsErrors() {
  const auto c = test::load("gui/tiny_llama.safetensors");
  const ReducedMaps maps = neuronMaps(*c);
  try {
    figures::surface_of_neurons(maps, *c, "mlp.nothing");
    QFAIL("no error for an unknown kind");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
    QVERIFY2(std::string(e.what()).find("mlp.down") != std::string::npos, e.what());  // names the kinds there are
  }
  ReducedMaps tensors{Granularity::Tensor, Reduction::L2, {}, {}, {}, {}};
  QVERIFY(figures::surface_kinds(tensors, *c).empty());
  try {
    figures::surface_of_neurons(tensors, *c, "mlp.down");
    QFAIL("no error for tensor granularity");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
  }
}

void TestSurfaceScene::saveHeadless_data() {
  QTest::addColumn<QString>("file");
  QTest::newRow("png") << QStringLiteral("surface.png");
  QTest::newRow("svg") << QStringLiteral("surface.svg");
  QTest::newRow("pdf") << QStringLiteral("surface.pdf");
}

void TestSurfaceScene::saveHeadless() {
  // Mesa EGL, no X: what the CLI does. 5 x 3 inches at 120 dpi.
  QFETCH(QString, file);
  qputenv("PARAMSCOPE_HEADLESS", "1");
  SurfaceScene scene;
  SurfaceGrid g = quadrants(0, 1, 2, 3);
  g.col_axis = "neuron";
  scene.set_grid(g, "headless");
  const QString out = tmp_.filePath(file);
  figures::ExportOptions o;
  o.width_in = 5;
  o.height_in = 3;
  o.dpi = 120;
  try {
    scene.save(out.toStdString(), o);
  } catch (const Error& e) {
    qunsetenv("PARAMSCOPE_HEADLESS");
    QFAIL(e.what());
  }
  qunsetenv("PARAMSCOPE_HEADLESS");
  QFile f(out);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray bytes = f.readAll();
  if (file.endsWith(QLatin1String(".png"))) {
    const QImage image = QImage::fromData(bytes).convertToFormat(QImage::Format_RGB32);
    QCOMPARE(image.size(), QSize(600, 360));
    // The surface's colours are there: the top of the range (quadrant 3) somewhere.
    QVERIFY(countNear(image, figures::colormap_table(Colormap::Viridis)[255], 24) > 50);
  } else if (file.endsWith(QLatin1String(".svg"))) {
    QVERIFY(bytes.contains("viewBox=\"0 0 360 216\""));
    QVERIFY(bytes.contains("neuron"));     // axis titles as text
    QVERIFY(bytes.contains("headless"));
    QVERIFY(bytes.contains("<image"));     // the surface as an embedded raster
  } else {
    QVERIFY(bytes.startsWith("%PDF-"));
    QVERIFY(bytes.contains("MediaBox [0 0 360 216]"));
  }
}

void TestSurfaceScene::mouseThroughTheWidget() {
  // Left drag turns the camera, the wheel zooms, each re-rendering the view.
  auto scene = std::make_shared<SurfaceScene>();
  scene->set_grid(quadrants(0, 1, 2, 3), "mouse");
  ui::VtkViewWidget view;
  view.resize(kWidth, kHeight);
  view.setScene(scene);
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  QSignalSpy swapped(&view, &QOpenGLWidget::frameSwapped);
  view.renderLater();
  QVERIFY(swapped.wait(5000));
  const QImage first = view.grabFramebuffer();
  const figures::SurfaceCamera before = scene->camera();

  const QPoint from(kWidth / 2, kHeight / 2), to = from + QPoint(80, 0);
  QTest::mousePress(&view, Qt::LeftButton, Qt::NoModifier, from);
  for (int i = 1; i <= 4; ++i) {
    const QPoint q = from + (to - from) * i / 4;
    QMouseEvent drag(QEvent::MouseMove, q, view.mapToGlobal(q), Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(&view, &drag);
  }
  QTest::mouseRelease(&view, Qt::LeftButton, Qt::NoModifier, to);
  const figures::SurfaceCamera turned = scene->camera();
  QVERIFY2(std::abs(turned.azimuth - before.azimuth) > 5,
           qPrintable(QStringLiteral("%1 -> %2").arg(before.azimuth).arg(turned.azimuth)));
  QTRY_VERIFY_WITH_TIMEOUT(view.grabFramebuffer() != first, 5000);
  test::keepImage(view.grabFramebuffer(), QStringLiteral("surface_widget_turned"));

  QWheelEvent wheel(from, view.mapToGlobal(from), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                    Qt::NoScrollPhase, false);
  QCoreApplication::sendEvent(&view, &wheel);
  QVERIFY2(scene->camera().zoom > 1.05, qPrintable(QString::number(scene->camera().zoom)));
}

PARAMSCOPE_GUI_TEST_MAIN(TestSurfaceScene)
#include "test_surface_scene.moc"
