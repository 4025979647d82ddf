// The attribution overlay: known maps over known inputs, rendered offscreen and read back. A map
// positive in the left half and negative in the right must come out red and blue over the input
// in the signed mode, and as each mode says otherwise; alpha 0 shows the input's own grey levels;
// percentile clipping sets the colour limit; 1-D features draw as a strip; SVG and PDF exports
// hold the picture; the scene shows the same pixels in the GUI's widget.
#include <QSignalSpy>
#include <QtTest>

#include <cmath>

#include "gui_test_support.h"
#include "paramscope/error.h"
#include "paramscope/figures/attribution_scene.h"
#include "paramscope/figures/colormap.h"
#include "vtk_view_widget.h"

using namespace paramscope;
using figures::AttributionScene;
using figures::AttributionSign;
using figures::Colormap;
using figures::Rgb;

Q_DECLARE_METATYPE(AttributionSign)
Q_DECLARE_METATYPE(paramscope::figures::Rgb)

namespace {

constexpr int kWidth = 800, kHeight = 600;
constexpr std::int64_t kRows = 8, kCols = 16;

Rgb rgbAt(const QImage& image, QPoint p) {
  const QRgb c = image.pixel(p);
  return {static_cast<std::uint8_t>(qRed(c)), static_cast<std::uint8_t>(qGreen(c)),
          static_cast<std::uint8_t>(qBlue(c))};
}

QString text(Rgb c) {
  return QStringLiteral("(%1, %2, %3)").arg(c.r).arg(c.g).arg(c.b);
}

#define QCOMPARE_RGB(actual, expected)                                                      \
  do {                                                                                      \
    const Rgb a_ = (actual), e_ = (expected);                                               \
    QVERIFY2(a_ == e_, qPrintable(QStringLiteral("%1 vs %2").arg(text(a_)).arg(text(e_)))); \
  } while (false)

Rgb blend(Rgb base, Rgb over, double a) {
  auto m = [a](std::uint8_t b, std::uint8_t o) { return static_cast<std::uint8_t>(std::lround(b * (1 - a) + o * a)); };
  return {m(base.r, over.r), m(base.g, over.g), m(base.b, over.b)};
}

const Rgb kGrey{128, 128, 128};  // 0.5 on a 0..1 input: round(127.5)
Rgb rdbu(int i) {
  return figures::colormap_table(Colormap::RdBuR)[static_cast<std::size_t>(i)];
}

// A grey 8 x 16 input: row 0 is 0 (black), row 7 is 1 (white), the rows between 0.5 (mid grey).
figures::AttributionInput greyInput() {
  figures::AttributionInput in{std::vector<float>(kRows * kCols, 0.5f), 1, kRows, kCols};
  for (std::int64_t c = 0; c < kCols; ++c) {
    in.values[static_cast<std::size_t>(c)] = 0;
    in.values[static_cast<std::size_t>((kRows - 1) * kCols + c)] = 1;
  }
  return in;
}

// +1 in the left half, -1 in the right.
figures::AttributionMap halves() {
  figures::AttributionMap m{std::vector<float>(kRows * kCols), kRows, kCols};
  for (std::int64_t r = 0; r < kRows; ++r)
    for (std::int64_t c = 0; c < kCols; ++c)
      m.values[static_cast<std::size_t>(r * kCols + c)] = c < kCols / 2 ? 1.0f : -1.0f;
  return m;
}

// The pixel at the centre of element (row, col) of an image of rows x cols shown in p.
QPoint centreOf(const figures::PixelRect& p, std::int64_t rows, std::int64_t cols, std::int64_t row, std::int64_t col) {
  return {p.x + static_cast<int>((static_cast<double>(col) + 0.5) * p.width / static_cast<double>(cols)),
          p.y + static_cast<int>((static_cast<double>(row) + 0.5) * p.height / static_cast<double>(rows))};
}

}  // namespace

class TestAttributionScene : public QObject {
  Q_OBJECT

 private slots:
  void signNames();
  void modesColourTheHalves_data();
  void modesColourTheHalves();
  void alphaShowsInputOrMap_data();
  void alphaShowsInputOrMap();
  void rgbInputKeepsItsColours();
  void imageKeepsSquarePixels();
  void percentileClipping();
  void featuresDrawAsStrip();
  void longStripKeepsASpike();
  void nanLeavesTheInput();
  void vectorExport_data();
  void vectorExport();
  void errorsAreUsage();
  void showsInTheWidget();

 private:
  QImage render(AttributionScene& scene, const QString& name, int w = kWidth, int h = kHeight);
  QTemporaryDir tmp_;
};

QImage TestAttributionScene::render(AttributionScene& scene, const QString& name, int w, int h) {
  const QString file = tmp_.filePath(name + QStringLiteral(".png"));
  scene.save_png(file.toStdString(), w, h);
  QImage image(file);
  if (image.isNull()) qFatal("no image %s", qPrintable(file));
  test::keepImage(image, QStringLiteral("attribution_") + name);
  return image.convertToFormat(QImage::Format_RGB32);
}

void TestAttributionScene::signNames() {
  for (auto s :
       {AttributionSign::Signed, AttributionSign::Positive, AttributionSign::Negative, AttributionSign::Absolute})
    QVERIFY(figures::attribution_sign_from_name(figures::attribution_sign_name(s)) == s);
  QVERIFY(figures::attribution_sign_from_name("absolute_value") == AttributionSign::Absolute);
  QVERIFY(figures::attribution_sign_from_name("ALL") == AttributionSign::Signed);
  QVERIFY(!figures::attribution_sign_from_name("both").has_value());
}

void TestAttributionScene::modesColourTheHalves_data() {
  QTest::addColumn<AttributionSign>("sign");
  QTest::addColumn<Rgb>("left");   // the colour of +1 before blending
  QTest::addColumn<Rgb>("right");  // the colour of -1
  QTest::addColumn<double>("lo");
  QTest::addColumn<double>("hi");
  const Rgb magmaTop = figures::colormap_table(Colormap::Magma)[255];
  // The limit is 1 (every |value| is 1). Zero sits at RdBu_r's entry 128 (t = 0.5).
  QTest::newRow("signed") << AttributionSign::Signed << rdbu(255) << rdbu(0) << -1.0 << 1.0;
  QTest::newRow("positive") << AttributionSign::Positive << rdbu(255) << rdbu(128) << 0.0 << 1.0;
  QTest::newRow("negative") << AttributionSign::Negative << rdbu(128) << rdbu(0) << -1.0 << 0.0;
  QTest::newRow("absolute") << AttributionSign::Absolute << magmaTop << magmaTop << 0.0 << 1.0;
}

void TestAttributionScene::modesColourTheHalves() {
  QFETCH(AttributionSign, sign);
  QFETCH(Rgb, left);
  QFETCH(Rgb, right);
  QFETCH(double, lo);
  QFETCH(double, hi);
  AttributionScene scene;
  scene.set_data(greyInput(), halves(), "halves");
  scene.set_sign(sign);
  QCOMPARE(scene.alpha(), 0.5);
  QCOMPARE(scene.color_range().first, lo);
  QCOMPARE(scene.color_range().second, hi);
  QCOMPARE_RGB(scene.color_of(1.0f), left);
  QCOMPARE_RGB(scene.color_of(-1.0f), right);

  const QImage image = render(scene, QStringLiteral("halves_") + QString::fromLatin1(QTest::currentDataTag()));
  const auto p = scene.plot_rect();
  // Mid-grey rows, both halves: the map's colour blended half and half with grey 128.
  for (std::int64_t row : {1, 3, 6}) {
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, row, 2)), blend(kGrey, left, 0.5));
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, row, 13)), blend(kGrey, right, 0.5));
  }
  // The black and white input rows show through.
  QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 0, 2)), blend({0, 0, 0}, left, 0.5));
  QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, kRows - 1, 13)), blend({255, 255, 255}, right, 0.5));
  if (sign == AttributionSign::Signed) {
    // What a reader sees: red on the left, blue on the right.
    const Rgb l = rgbAt(image, centreOf(p, kRows, kCols, 3, 4)), r = rgbAt(image, centreOf(p, kRows, kCols, 3, 11));
    QVERIFY2(l.r > l.b + 30 && l.r > l.g + 30, qPrintable(text(l)));
    QVERIFY2(r.b > r.r + 30, qPrintable(text(r)));
    QCOMPARE_RGB(l, (Rgb{116, 64, 80}));
    QCOMPARE_RGB(r, (Rgb{67, 88, 113}));
  }
  // Outside the image: the white page.
  QCOMPARE_RGB(rgbAt(image, QPoint(p.x - 3, p.y + p.height / 2)), figures::palette::background);
}

void TestAttributionScene::alphaShowsInputOrMap_data() {
  QTest::addColumn<double>("alpha");
  QTest::newRow("0: the input") << 0.0;
  QTest::newRow("0.25") << 0.25;
  QTest::newRow("1: the map") << 1.0;
}

void TestAttributionScene::alphaShowsInputOrMap() {
  QFETCH(double, alpha);
  AttributionScene scene;
  scene.set_data(greyInput(), halves(), "alpha");
  scene.set_alpha(alpha);
  const QImage image = render(scene, QStringLiteral("alpha_%1").arg(alpha));
  const auto p = scene.plot_rect();
  for (std::int64_t col : {1, 14}) {
    const Rgb over = col < kCols / 2 ? rdbu(255) : rdbu(0);
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 0, col)), blend({0, 0, 0}, over, alpha));
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 4, col)), blend(kGrey, over, alpha));
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, kRows - 1, col)), blend({255, 255, 255}, over, alpha));
  }
  if (alpha == 0) {
    // The input's own levels, min-max normalised: 0 black, 0.5 grey 128, 1 white.
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 0, 8)), (Rgb{0, 0, 0}));
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 4, 8)), kGrey);
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, kRows - 1, 8)), (Rgb{255, 255, 255}));
  }
}

void TestAttributionScene::rgbInputKeepsItsColours() {
  // Channels R = 4, G = 2, B = 3 everywhere but one pixel: normalised together over 2..4, so
  // (255, 0, 128); one pixel of R = 2 shows (0, 0, 128).
  const std::int64_t plane = kRows * kCols;
  figures::AttributionInput in{std::vector<float>(3 * plane), 3, kRows, kCols};
  for (std::int64_t i = 0; i < plane; ++i) {
    in.values[static_cast<std::size_t>(i)] = 4;
    in.values[static_cast<std::size_t>(plane + i)] = 2;
    in.values[static_cast<std::size_t>(2 * plane + i)] = 3;
  }
  in.values[static_cast<std::size_t>(2 * kCols + 5)] = 2;  // R at (2, 5)
  AttributionScene scene;
  scene.set_data(in, halves(), "rgb");
  scene.set_alpha(0);
  QCOMPARE_RGB(scene.input_color(0, 0), (Rgb{255, 0, 128}));
  QCOMPARE_RGB(scene.input_color(2, 5), (Rgb{0, 0, 128}));
  const QImage image = render(scene, QStringLiteral("rgb"));
  const auto p = scene.plot_rect();
  QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 4, 12)), (Rgb{255, 0, 128}));
  QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 2, 5)), (Rgb{0, 0, 128}));
  scene.set_alpha(0.5);
  const QImage blended = render(scene, QStringLiteral("rgb_blended"));
  QCOMPARE_RGB(rgbAt(blended, centreOf(p, kRows, kCols, 4, 12)), blend({255, 0, 128}, rdbu(0), 0.5));
}

void TestAttributionScene::imageKeepsSquarePixels() {
  AttributionScene scene;
  scene.set_data(greyInput(), halves(), "square");
  render(scene, QStringLiteral("square"));
  const auto p = scene.plot_rect();
  // 16 x 8 elements: twice as wide as tall, within a pixel.
  QVERIFY2(std::abs(p.width - 2 * p.height) <= 1, qPrintable(QStringLiteral("%1 x %2").arg(p.width).arg(p.height)));
  QVERIFY(p.width > kWidth / 2);
  // A tall image is limited by the height instead.
  figures::AttributionInput tall{std::vector<float>(40 * 10, 0.5f), 1, 40, 10};
  scene.set_data(tall, {std::vector<float>(40 * 10, 0.1f), 40, 10}, "tall");
  render(scene, QStringLiteral("tall"));
  const auto q = scene.plot_rect();
  QVERIFY2(std::abs(q.height - 4 * q.width) <= 2, qPrintable(QStringLiteral("%1 x %2").arg(q.width).arg(q.height)));
  QVERIFY(q.height > kHeight / 2);
}

void TestAttributionScene::percentileClipping() {
  // 200 values: 199 of 1 and one outlier of 1000. numpy.percentile(|m|, 99) = 1: the outlier does
  // not wash the rest out. At 100 the limit is the outlier.
  figures::AttributionInput in{std::vector<float>(10 * 20, 0.5f), 1, 10, 20};
  figures::AttributionMap m{std::vector<float>(10 * 20, 1.0f), 10, 20};
  m.values[0] = 1000;
  AttributionScene scene;
  QCOMPARE(scene.clip_percentile(), 99.0);
  scene.set_data(in, m, "clip");
  QCOMPARE(scene.color_range().second, 1.0);
  QCOMPARE_RGB(scene.color_of(1.0f), rdbu(255));
  const QImage image = render(scene, QStringLiteral("clip99"));
  QCOMPARE_RGB(rgbAt(image, centreOf(scene.plot_rect(), 10, 20, 5, 10)), blend(kGrey, rdbu(255), 0.5));
  scene.set_clip_percentile(100);
  QCOMPARE(scene.color_range().second, 1000.0);
  QCOMPARE_RGB(scene.color_of(1.0f), figures::colormap_color(Colormap::RdBuR, 1001.0 / 2000.0));
  // A ramp 0..99: the 99th percentile interpolates between order statistics 98 and 99.
  figures::AttributionMap ramp{std::vector<float>(100), 10, 10};
  for (int i = 0; i < 100; ++i) ramp.values[static_cast<std::size_t>(i)] = static_cast<float>(-i);
  scene.set_data({std::vector<float>(100, 0.f), 1, 10, 10}, ramp, "ramp");
  scene.set_clip_percentile(99);
  QVERIFY(std::abs(scene.color_range().first + 98.01) < 1e-9);
  // Positive of an all-negative map: nothing to show, the limit falls back to 1 and all is white.
  scene.set_sign(AttributionSign::Positive);
  QCOMPARE(scene.color_range().second, 1.0);
  QCOMPARE_RGB(scene.color_of(-50.0f), rdbu(128));
}

void TestAttributionScene::featuresDrawAsStrip() {
  // Ten features, alternately attributed +2 and -2, inputs 0..9.
  std::vector<float> x(10), a(10);
  for (int i = 0; i < 10; ++i) {
    x[static_cast<std::size_t>(i)] = static_cast<float>(i);
    a[static_cast<std::size_t>(i)] = i % 2 ? -2.0f : 2.0f;
  }
  AttributionScene scene;
  scene.set_features(x, a, "features");
  QCOMPARE(scene.map().height, std::int64_t{1});
  QCOMPARE(scene.map().width, std::int64_t{10});
  const QImage image = render(scene, QStringLiteral("features"));
  const auto p = scene.plot_rect();
  QVERIFY2(p.width > 3 * p.height, qPrintable(QStringLiteral("%1 x %2").arg(p.width).arg(p.height)));
  for (std::int64_t f = 0; f < 10; ++f) {
    const auto grey = static_cast<std::uint8_t>(std::lround(static_cast<double>(f) / 9.0 * 255.0));
    const Rgb expected = blend({grey, grey, grey}, f % 2 ? rdbu(0) : rdbu(255), 0.5);
    QCOMPARE_RGB(rgbAt(image, centreOf(p, 1, 10, 0, f)), expected);
  }
  // Feature indices are written under the strip: dark text pixels below it.
  int dark = 0;
  for (int y = p.y + p.height + 2; y < std::min(image.height(), p.y + p.height + 40); ++y)
    for (int xx = p.x; xx < p.x + p.width; ++xx) dark += qGray(image.pixel(xx, y)) < 100;
  QVERIFY2(dark > 20, qPrintable(QString::number(dark)));
}

void TestAttributionScene::longStripKeepsASpike() {
  // 100000 features in a strip some 660 pixels wide: the one attributed feature still shows, in
  // one pixel column (a cell per pixel), over the constant input.
  const std::size_t n = 100000;
  std::vector<float> x(n, 3.0f), a(n, 0.0f);
  a[54321] = 1;
  AttributionScene scene;
  scene.set_features(x, a, "spike");
  QCOMPARE(scene.color_range().second, 1.0);  // the 99th percentile is 0: the largest is the limit
  const QImage image = render(scene, QStringLiteral("spike"));
  const auto p = scene.plot_rect();
  QVERIFY(p.width < static_cast<int>(n));
  const int y = p.y + p.height / 2;
  const Rgb red = blend(kGrey, rdbu(255), 0.5), zero = blend(kGrey, rdbu(128), 0.5);
  std::vector<int> redColumns;
  for (int xx = p.x; xx < p.x + p.width; ++xx) {
    const Rgb c = rgbAt(image, QPoint(xx, y));
    if (c == red)
      redColumns.push_back(xx);
    else
      QCOMPARE_RGB(c, zero);
  }
  QVERIFY2(redColumns.size() == 1, qPrintable(QString::number(redColumns.size())));
  const double at = p.x + 54321.5 / static_cast<double>(n) * p.width;
  QVERIFY2(std::abs(redColumns[0] + 0.5 - at) <= 1.5,
           qPrintable(QStringLiteral("%1 vs %2").arg(redColumns[0]).arg(at)));
}

void TestAttributionScene::nanLeavesTheInput() {
  figures::AttributionMap m = halves();
  m.values[static_cast<std::size_t>(3 * kCols + 2)] = std::nanf("");
  AttributionScene scene;
  scene.set_data(greyInput(), m, "nan");
  const QImage image = render(scene, QStringLiteral("nan"));
  const auto p = scene.plot_rect();
  QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 3, 2)), kGrey);
  QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 3, 3)), blend(kGrey, rdbu(255), 0.5));
  QCOMPARE(scene.color_range().second, 1.0);
}

void TestAttributionScene::vectorExport_data() {
  QTest::addColumn<QString>("extension");
  QTest::newRow("svg") << QStringLiteral("svg");
  QTest::newRow("pdf") << QStringLiteral("pdf");
  QTest::newRow("png at 300 dpi") << QStringLiteral("png");
}

void TestAttributionScene::vectorExport() {
  QFETCH(QString, extension);
  AttributionScene scene;
  scene.set_data(greyInput(), halves(), "deeplift, class 3 (score 7.12)");
  const QString file = tmp_.filePath(QStringLiteral("export.") + extension);
  figures::ExportOptions o;
  o.dpi = 300;
  scene.save(file.toStdString(), o);
  if (const QString dir = qEnvironmentVariable("PARAMSCOPE_TEST_IMAGES"); !dir.isEmpty())
    QFile::copy(file, dir + QStringLiteral("/attribution_export.") + extension);
  QFile f(file);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray bytes = f.readAll();
  QVERIFY2(bytes.size() > 2000, qPrintable(QString::number(bytes.size())));
  if (extension == QLatin1String("svg")) {
    QVERIFY(bytes.contains("deeplift, class 3 (score 7.12)"));
    QVERIFY2(bytes.contains("<image"), "no embedded image in the SVG");
    QVERIFY(bytes.contains("data:image/png;base64,"));
  } else if (extension == QLatin1String("pdf")) {
    QVERIFY(bytes.startsWith("%PDF"));
  } else {
    // 6.4 x 4 inches at 300 dpi, the same picture as at 100 dpi: red left, blue right.
    const QImage image = QImage::fromData(bytes).convertToFormat(QImage::Format_RGB32);
    QCOMPARE(image.size(), QSize(1920, 1200));
    const auto p = scene.plot_rect();  // at the export's size, as last rendered
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 3, 3)), blend(kGrey, rdbu(255), 0.5));
    QCOMPARE_RGB(rgbAt(image, centreOf(p, kRows, kCols, 3, 12)), blend(kGrey, rdbu(0), 0.5));
  }
}

void TestAttributionScene::errorsAreUsage() {
  AttributionScene scene;
  auto usage = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind() == Error::Kind::Usage;
    }
    return false;
  };
  QVERIFY(usage([&] {
    scene.set_data({std::vector<float>(2 * 4, 0.f), 2, 2, 2}, {std::vector<float>(4), 2, 2}, "c");
  }));
  QVERIFY(usage([&] {
    scene.set_data({std::vector<float>(4, 0.f), 1, 2, 2}, {std::vector<float>(6), 2, 3}, "shape");
  }));
  QVERIFY(usage([&] {
    scene.set_data({std::vector<float>(5, 0.f), 1, 2, 2}, {std::vector<float>(4), 2, 2}, "count");
  }));
  QVERIFY(usage([&] { scene.set_data({{}, 1, 0, 0}, {{}, 0, 0}, "empty"); }));
  QVERIFY(usage([&] { scene.set_features({1, 2}, {1}, "f"); }));
  QVERIFY(usage([&] { scene.set_alpha(1.5); }));
  QVERIFY(usage([&] { scene.set_alpha(std::nan("")); }));
  QVERIFY(usage([&] { scene.set_clip_percentile(0); }));
  QVERIFY(usage([&] { scene.set_clip_percentile(101); }));
  // Nothing shown: the placeholder renders.
  const QImage image = render(scene, QStringLiteral("empty"));
  QCOMPARE(image.size(), QSize(kWidth, kHeight));
}

void TestAttributionScene::showsInTheWidget() {
  auto scene = std::make_shared<AttributionScene>();
  scene->set_data(greyInput(), halves(), "widget");
  ui::VtkViewWidget view;
  view.resize(kWidth, kHeight);
  view.setScene(scene);
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  if (view.devicePixelRatio() != 1) QSKIP("pixel positions assume a device pixel ratio of 1");
  QSignalSpy swapped(&view, &QOpenGLWidget::frameSwapped);
  view.renderLater();
  QVERIFY(swapped.wait(5000));
  const QImage shown = view.grabFramebuffer().convertToFormat(QImage::Format_RGB32);
  const auto p = scene->plot_rect();
  QCOMPARE_RGB(rgbAt(shown, centreOf(p, kRows, kCols, 3, 3)), blend(kGrey, rdbu(255), 0.5));
  QCOMPARE_RGB(rgbAt(shown, centreOf(p, kRows, kCols, 3, 12)), blend(kGrey, rdbu(0), 0.5));
  // The mode changes what the widget shows on the next render.
  scene->set_sign(AttributionSign::Absolute);
  view.renderLater();
  QVERIFY(swapped.wait(5000));
  const Rgb top = figures::colormap_table(Colormap::Magma)[255];
  QTRY_VERIFY_WITH_TIMEOUT(rgbAt(view.grabFramebuffer().convertToFormat(QImage::Format_RGB32),
                                 centreOf(p, kRows, kCols, 3, 12)) == blend(kGrey, top, 0.5),
                           5000);
}

PARAMSCOPE_GUI_TEST_MAIN(TestAttributionScene)
#include "test_attribution_scene.moc"
