// Scene::save(): PNG at a DPI, SVG and PDF, drawn headless (Mesa EGL, no display) or in an X
// offscreen window, and both give the same pixels.
//
// The headless path is forced with ExportOptions::Backend::Headless, with PARAMSCOPE_HEADLESS=1,
// or by unsetting DISPLAY; the tests run under xvfb-run, so the X path is there to compare with.
#include <algorithm>
#include <chrono>
#include <cmath>

#include <QDir>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QXmlStreamReader>
#include <QtTest>

#include <vtkImageActor.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkRenderer.h>

#include "gui_test_support.h"
#include "paramscope/error.h"
#include "paramscope/figures/block_chart.h"

using namespace paramscope;
using Backend = figures::ExportOptions::Backend;

namespace {

// Headless and X renders of the same scene may differ this much: Mesa's llvmpipe draws both, so
// they are expected to be identical; a few pixels of text antialiasing are allowed.
constexpr int kMaxChannelDifference = 8;
constexpr double kMaxDifferingFraction = 0.001;

/// Restores an environment variable when the test ends, however it ends.
class EnvGuard {
public:
  explicit EnvGuard(const char* name) : name_(name), had_(qEnvironmentVariableIsSet(name)), value_(qgetenv(name)) {}
  ~EnvGuard() {
    if (had_)
      qputenv(name_, value_);
    else
      qunsetenv(name_);
  }

private:
  const char* name_;
  bool had_;
  QByteArray value_;
};

/// A scene holding only an image (like the heatmap): a 2 x 2 picture of one colour, filling the view.
class ImageScene final : public figures::Scene {
public:
  static constexpr figures::Rgb kColor{200, 30, 160};
  ImageScene() {
    vtkNew<vtkImageData> image;
    image->SetDimensions(2, 2, 1);
    image->AllocateScalars(VTK_UNSIGNED_CHAR, 3);
    auto* p = static_cast<unsigned char*>(image->GetScalarPointer());
    for (int i = 0; i < 4; ++i) {
      p[3 * i] = kColor.r;
      p[3 * i + 1] = kColor.g;
      p[3 * i + 2] = kColor.b;
    }
    actor_->SetInputData(image);
    actor_->InterpolateOff();
    renderer()->AddActor(actor_);
    renderer()->ResetCamera();
  }
  ~ImageScene() override { detach(); }

private:
  vtkNew<vtkImageActor> actor_;
};

figures::ExportOptions pixels(int w, int h, Backend backend = Backend::Automatic) {
  figures::ExportOptions o;
  o.width_px = w;
  o.height_px = h;
  o.backend = backend;
  return o;
}

/// Rows [top, bottom] of the title: the first run of rows, from the top, holding pixels that are
/// not background in the middle 40 % of the columns (the title is centred; tick labels are not).
std::pair<int, int> titleRows(const QImage& image) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
  int top = -1, bottom = -1;
  for (int y = 0; y < rgb.height(); ++y) {
    bool ink = false;
    for (int x = rgb.width() * 3 / 10; x < rgb.width() * 7 / 10 && !ink; ++x)
      ink = !test::is(rgb.pixel(x, y), figures::palette::background);
    if (ink) {
      if (top < 0) top = y;
      bottom = y;
    } else if (top >= 0) {
      break;
    }
  }
  return {top, bottom};
}

bool hasDisplay() { return !qEnvironmentVariable("DISPLAY").isEmpty(); }

QByteArray readAll(const QString& file) {
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return f.readAll();
}

}  // namespace

class TestSceneExport : public QObject {
  Q_OBJECT

private slots:
  void init();
  void cleanup();

  void headlessWithoutDisplay();
  void headlessForcedByEnvironment();
  void headlessMatchesWindow();
  void pngSizeIsInchesTimesDpi_data();
  void pngSizeIsInchesTimesDpi();
  void textAndBarsScaleWithDpi();
  void svgIsWellFormedWithTitle_data();
  void svgIsWellFormedWithTitle();
  void pdfHasPageOfTheRightSize_data();
  void pdfHasPageOfTheRightSize();
  void imageAppearsInEveryFormat();
  void rejectsBadRequests_data();
  void rejectsBadRequests();
  void missingFolderIsIoError();
  void windowBackendNeedsDisplay();
  void savePngStillWritesPng();
  void replacesExistingFileWhole();

private:
  std::unique_ptr<QTemporaryDir> tmp_;
  std::unique_ptr<figures::BlockChart> chart_;
  QString file(const QString& name) const { return tmp_->filePath(name); }
};

void TestSceneExport::init() {
  tmp_ = std::make_unique<QTemporaryDir>();
  chart_ = std::make_unique<figures::BlockChart>();
  chart_->set_checkpoint(*test::load("gui/tiny_llama.safetensors"));
}

void TestSceneExport::cleanup() {
  // Every save leaves its file and nothing else: no temporary files behind.
  const QStringList left = QDir(tmp_->path()).entryList(QDir::Files | QDir::Hidden);
  for (const QString& name : left) QVERIFY2(!name.contains(QStringLiteral(".tmp-")), qPrintable(name));
  chart_.reset();
  tmp_.reset();
}

void TestSceneExport::headlessWithoutDisplay() {
  EnvGuard display("DISPLAY");
  qunsetenv("DISPLAY");
  const QString png = file(QStringLiteral("nodisplay.png"));
  chart_->save(png.toStdString(), pixels(800, 500));
  const QImage image(png);
  QCOMPARE(image.size(), QSize(800, 500));
  test::keepImage(image, QStringLiteral("export_headless"));
  QCOMPARE(test::findBars(image).size(), std::size_t{5});
}

void TestSceneExport::headlessForcedByEnvironment() {
  // With DISPLAY set, PARAMSCOPE_HEADLESS=1 still renders through EGL: it works even when the
  // X server named by DISPLAY does not exist.
  EnvGuard display("DISPLAY");
  EnvGuard headless("PARAMSCOPE_HEADLESS");
  qputenv("DISPLAY", ":9999");
  qputenv("PARAMSCOPE_HEADLESS", "1");
  const QString png = file(QStringLiteral("forced.png"));
  chart_->save(png.toStdString(), pixels(400, 300));
  QCOMPARE(QImage(png).size(), QSize(400, 300));
}

void TestSceneExport::headlessMatchesWindow() {
  if (!hasDisplay()) QSKIP("no X display to compare with (run under xvfb-run)");
  const QString a = file(QStringLiteral("egl.png")), b = file(QStringLiteral("x.png"));
  QElapsedTimer timer;
  timer.start();
  chart_->save(a.toStdString(), pixels(800, 500, Backend::Headless));
  const qint64 egl_ms = timer.restart();
  chart_->save(b.toStdString(), pixels(800, 500, Backend::Window));
  const qint64 x_ms = timer.elapsed();
  const QImage egl(a), x(b);
  QCOMPARE(egl.size(), x.size());
  const test::Difference d = test::compare(egl, x);
  qInfo("800x500 BlockChart: headless %lld ms, X window %lld ms; max channel difference %d, %.4f %% of pixels differ",
        egl_ms, x_ms, d.max_channel, d.differing_fraction * 100);
  if (d.max_channel > kMaxChannelDifference || d.differing_fraction > kMaxDifferingFraction) {
    test::keepImage(egl, QStringLiteral("export_mismatch_egl"));
    test::keepImage(x, QStringLiteral("export_mismatch_x"));
  }
  QVERIFY2(d.max_channel <= kMaxChannelDifference, qPrintable(QString::number(d.max_channel)));
  QVERIFY2(d.differing_fraction <= kMaxDifferingFraction, qPrintable(QString::number(d.differing_fraction)));
}

void TestSceneExport::pngSizeIsInchesTimesDpi_data() {
  QTest::addColumn<double>("width_in");
  QTest::addColumn<double>("height_in");
  QTest::addColumn<double>("dpi");
  QTest::addColumn<QSize>("size");
  QTest::newRow("default 6.4x4 at 100") << 6.4 << 4.0 << 100.0 << QSize(640, 400);
  QTest::newRow("3.5x2.5 at 300") << 3.5 << 2.5 << 300.0 << QSize(1050, 750);
  QTest::newRow("2x1 at 72") << 2.0 << 1.0 << 72.0 << QSize(144, 72);
  QTest::newRow("rounded 3.33x2 at 150") << 3.33 << 2.0 << 150.0 << QSize(500, 300);  // 499.5 -> 500
}

void TestSceneExport::pngSizeIsInchesTimesDpi() {
  QFETCH(double, width_in);
  QFETCH(double, height_in);
  QFETCH(double, dpi);
  QFETCH(QSize, size);
  figures::ExportOptions o;
  o.width_in = width_in;
  o.height_in = height_in;
  o.dpi = dpi;
  o.backend = Backend::Headless;
  const QString png = file(QStringLiteral("sized.png"));
  chart_->save(png.toStdString(), o);
  QCOMPARE(QImage(png).size(), size);
}

void TestSceneExport::textAndBarsScaleWithDpi() {
  // The same 6.4 x 4 inch figure at 100 and 300 dpi: 3x the pixels, and everything in it 3x as
  // large (bars, their gaps, the title's height), so it looks the same, only sharper.
  QImage at[2];
  const double dpis[2] = {100, 300};
  for (int i = 0; i < 2; ++i) {
    figures::ExportOptions o;
    o.dpi = dpis[i];
    o.backend = Backend::Headless;
    const QString png = file(QStringLiteral("dpi%1.png").arg(dpis[i]));
    chart_->save(png.toStdString(), o);
    at[i] = QImage(png);
    test::keepImage(at[i], QStringLiteral("export_dpi%1").arg(dpis[i]));
  }
  QCOMPARE(at[0].size(), QSize(640, 400));
  QCOMPARE(at[1].size(), QSize(1920, 1200));
  const auto low = test::findBars(at[0]), high = test::findBars(at[1]);
  QCOMPARE(low.size(), std::size_t{5});
  QCOMPARE(high.size(), low.size());
  // Fixed pixel margins (tick lengths, gaps) do not grow with the dpi, so absolute positions
  // shift a little; the bars' places and heights relative to the plot agree.
  const double span0 = low.back().right - low.front().left, span1 = high.back().right - high.front().left;
  QVERIFY2(std::abs(span1 / span0 - 3) < 0.2, qPrintable(QStringLiteral("plot %1 px vs %2 px").arg(span1).arg(span0)));
  for (std::size_t i = 0; i < low.size(); ++i) {
    const double x0 = (low[i].left - low.front().left) / span0, x1 = (high[i].left - high.front().left) / span1;
    QVERIFY2(std::abs(x0 - x1) < 0.01, qPrintable(QStringLiteral("bar %1 at %2 vs %3 of the plot").arg(i).arg(x1).arg(x0)));
    const double h0 = double(low[i].height) / low[1].height, h1 = double(high[i].height) / high[1].height;
    QVERIFY2(std::abs(h0 - h1) < 0.01, qPrintable(QStringLiteral("bar %1 height %2 vs %3").arg(i).arg(h1).arg(h0)));
  }
  const auto [t0, b0] = titleRows(at[0]);
  const auto [t1, b1] = titleRows(at[1]);
  QVERIFY(t0 >= 0 && t1 >= 0);
  const int h0 = b0 - t0 + 1, h1 = b1 - t1 + 1;
  QVERIFY2(std::abs(h1 - 3 * h0) <= 4, qPrintable(QStringLiteral("title %1 px at 300 dpi, %2 px at 100 dpi").arg(h1).arg(h0)));
}

void TestSceneExport::svgIsWellFormedWithTitle_data() {
  QTest::addColumn<int>("backend");
  QTest::newRow("headless") << static_cast<int>(Backend::Headless);
  QTest::newRow("window") << static_cast<int>(Backend::Window);
}

void TestSceneExport::svgIsWellFormedWithTitle() {
  QFETCH(int, backend);
  if (static_cast<Backend>(backend) == Backend::Window && !hasDisplay()) QSKIP("no X display");
  figures::ExportOptions o;  // 6.4 x 4 in: a 460.8 x 288 point page, rounded to 461 x 288
  o.backend = static_cast<Backend>(backend);
  const QString svg = file(QStringLiteral("chart.SVG"));  // the extension's case does not matter
  chart_->save(svg.toStdString(), o);
  const QByteArray bytes = readAll(svg);
  QVERIFY(!bytes.isEmpty());

  QXmlStreamReader xml(bytes);
  QString width, height;
  QStringList texts;
  while (!xml.atEnd()) {
    xml.readNext();
    if (xml.isStartElement() && xml.name() == QLatin1String("svg")) {
      width = xml.attributes().value(QLatin1String("width")).toString();
      height = xml.attributes().value(QLatin1String("height")).toString();
    }
    if (xml.isStartElement() && xml.name() == QLatin1String("text")) texts << xml.readElementText();
  }
  QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
  QCOMPARE(width, QStringLiteral("461pt"));
  QCOMPARE(height, QStringLiteral("288pt"));
  QVERIFY2(texts.contains(QStringLiteral("tiny_llama.safetensors: parameters per block")), qPrintable(texts.join('|')));
  QVERIFY2(texts.contains(QStringLiteral("layers.1")), qPrintable(texts.join('|')));
}

void TestSceneExport::pdfHasPageOfTheRightSize_data() {
  QTest::addColumn<double>("width_in");
  QTest::addColumn<double>("height_in");
  QTest::addColumn<QString>("mediabox");
  QTest::newRow("6.4x4 in") << 6.4 << 4.0 << "0 0 461 288";
  QTest::newRow("A5-ish 8.27x5.83 in") << 8.27 << 5.83 << "0 0 595 420";
}

void TestSceneExport::pdfHasPageOfTheRightSize() {
  QFETCH(double, width_in);
  QFETCH(double, height_in);
  QFETCH(QString, mediabox);
  figures::ExportOptions o;
  o.width_in = width_in;
  o.height_in = height_in;
  o.dpi = 300;  // does not change a vector page
  o.backend = Backend::Headless;
  const QString pdf = file(QStringLiteral("chart.pdf"));
  chart_->save(pdf.toStdString(), o);
  const QByteArray bytes = readAll(pdf);
  QVERIFY(bytes.startsWith("%PDF-"));
  QVERIFY(bytes.trimmed().endsWith("%%EOF"));
  const QRegularExpression box(QStringLiteral("/MediaBox\\s*\\[\\s*([0-9. ]+?)\\s*\\]"));
  const auto m = box.match(QString::fromLatin1(bytes));
  QVERIFY2(m.hasMatch(), "no /MediaBox");
  QCOMPARE(m.captured(1).simplified(), mediabox);
  QCOMPARE(QString::fromLatin1(bytes).count(QStringLiteral("/Type /Page ")) +
               QString::fromLatin1(bytes).count(QStringLiteral("/Type /Page\n")) +
               QString::fromLatin1(bytes).count(QStringLiteral("/Type/Page ")),
           1);
}

void TestSceneExport::imageAppearsInEveryFormat() {
  // An image actor (what the heatmap draws) is rasterised into the vector files by GL2PS.
  ImageScene scene;
  const auto o = pixels(200, 100, Backend::Headless);
  const QString png = file(QStringLiteral("image.png"));
  scene.save(png.toStdString(), o);
  const QImage image(png);
  QVERIFY(test::is(image.pixel(100, 50), ImageScene::kColor));
  QVERIFY(test::countPixels(image, ImageScene::kColor) > 200 * 100 / 8);  // the square fills ~70 px

  const QString svg = file(QStringLiteral("image.svg"));
  scene.save(svg.toStdString(), o);
  const QByteArray s = readAll(svg);
  const QString pdf = file(QStringLiteral("image.pdf"));
  scene.save(pdf.toStdString(), o);
  const QByteArray p = readAll(pdf);
  QVERIFY2(p.contains("/Subtype /Image") || p.contains("/Subtype/Image"), p.left(3000).constData());
  QVERIFY2(s.contains("<image") || s.contains("data:image/png;base64"), s.left(2000).constData());
}

void TestSceneExport::rejectsBadRequests_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<int>("width_px");
  QTest::addColumn<int>("height_px");
  QTest::addColumn<double>("width_in");
  QTest::addColumn<double>("dpi");
  QTest::addColumn<QString>("message");
  QTest::newRow("jpeg") << "fig.jpg" << 0 << 0 << 6.4 << 100.0 << "'.jpg'";
  QTest::newRow("no extension") << "figure" << 0 << 0 << 6.4 << 100.0 << "extension";
  QTest::newRow("zero pixels") << "fig.png" << 0 << 10 << 6.4 << 100.0 << "0x10";
  QTest::newRow("too many pixels") << "fig.png" << 20000 << 10 << 6.4 << 100.0 << "20000x10";
  QTest::newRow("too many inches") << "fig.png" << 0 << 0 << 200.0 << 100.0 << "20000x400";
  QTest::newRow("zero inches") << "fig.svg" << 0 << 0 << 0.0 << 100.0 << "inches";
  QTest::newRow("nan inches") << "fig.pdf" << 0 << 0 << std::nan("") << 100.0 << "inches";
  QTest::newRow("dpi too low") << "fig.png" << 0 << 0 << 6.4 << 5.0 << "dpi 5";
  QTest::newRow("dpi too high") << "fig.png" << 0 << 0 << 6.4 << 5000.0 << "dpi 5000";
}

void TestSceneExport::rejectsBadRequests() {
  QFETCH(QString, name);
  QFETCH(int, width_px);
  QFETCH(int, height_px);
  QFETCH(double, width_in);
  QFETCH(double, dpi);
  QFETCH(QString, message);
  figures::ExportOptions o;
  o.width_px = width_px;
  o.height_px = height_px;
  o.width_in = width_in;
  o.dpi = dpi;
  o.backend = Backend::Headless;
  try {
    chart_->save(file(name).toStdString(), o);
    QFAIL("no error");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
    QVERIFY2(QString(e.what()).startsWith(file(name)), e.what());
    QVERIFY2(QString(e.what()).contains(message), e.what());
  }
  QVERIFY(!QFile::exists(file(name)));
}

void TestSceneExport::missingFolderIsIoError() {
  for (const char* name : {"no/such/folder/x.png", "no/such/folder/x.svg", "no/such/folder/x.pdf"}) {
    const std::string path = file(QString::fromLatin1(name)).toStdString();
    try {
      chart_->save(path, pixels(100, 100, Backend::Headless));
      QFAIL("no error for a missing folder");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Io);
      QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(path)), e.what());
    }
  }
}

void TestSceneExport::windowBackendNeedsDisplay() {
  EnvGuard display("DISPLAY");
  qunsetenv("DISPLAY");
  try {
    chart_->save(file(QStringLiteral("x.png")).toStdString(), pixels(100, 100, Backend::Window));
    QFAIL("no error without a display");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Unsupported);
    QVERIFY2(QString(e.what()).contains(QStringLiteral("x.png")), e.what());
  }
  QVERIFY(!QFile::exists(file(QStringLiteral("x.png"))));
}

void TestSceneExport::savePngStillWritesPng() {
  // save_png() keeps its old contract: PNG whatever the name, at the reference scale.
  const QString name = file(QStringLiteral("figure.bin"));
  chart_->save_png(name.toStdString(), 320, 200);
  QVERIFY(readAll(name).startsWith("\x89PNG"));
  QCOMPARE(QImage(name, "PNG").size(), QSize(320, 200));
}

void TestSceneExport::replacesExistingFileWhole() {
  const QString png = file(QStringLiteral("again.png"));
  {
    QFile f(png);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(100000, 'x'));
  }
  chart_->save(png.toStdString(), pixels(300, 200, Backend::Headless));
  QCOMPARE(QImage(png).size(), QSize(300, 200));
}

PARAMSCOPE_GUI_TEST_MAIN(TestSceneExport)
#include "test_scene_export.moc"
