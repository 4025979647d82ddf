// Shared by the GUI tests: a main() that sets up OpenGL and private settings, fixture loading,
// and pixel measurements of rendered charts.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <QApplication>
#include <QFile>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSettings>
#include <QSurfaceFormat>
#include <QTemporaryDir>
#include <QtTest>

#include "paramscope/checkpoint.h"
#include "paramscope/figures/palette.h"
#include "test_paths.h"
#include "vtk_view_widget.h"

namespace paramscope::test {

inline std::shared_ptr<const Checkpoint> load(const std::string& rel) {
  return std::make_shared<const Checkpoint>(open_checkpoint(data(rel)));
}

inline QString path(const std::string& rel) { return QString::fromStdString(data(rel).string()); }

/// The expected.json written beside a fixture by tests/tools/make_gui_fixtures.py.
inline QJsonObject expected(const std::string& rel) {
  QFile f(path(rel));
  if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", rel.c_str());
  return QJsonDocument::fromJson(f.readAll()).object();
}

inline bool is(QRgb pixel, figures::Rgb c) {
  return qRed(pixel) == c.r && qGreen(pixel) == c.g && qBlue(pixel) == c.b;
}

inline int countPixels(const QImage& image, figures::Rgb c) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
  int n = 0;
  for (int y = 0; y < rgb.height(); ++y)
    for (int x = 0; x < rgb.width(); ++x) n += is(rgb.pixel(x, y), c);
  return n;
}

/// A bar as seen in a picture: its columns [left, right] and its height in pixels.
struct BarRun {
  int left, right, height;
};

/// Bars of colour c found in the picture, left to right. All bars stand on one baseline: the
/// lowest row holding bar pixels. Each run of bar pixels along the row just above it is a bar.
inline std::vector<BarRun> findBars(const QImage& image, figures::Rgb c = figures::palette::bar) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
  int base = -1;
  for (int y = rgb.height() - 1; y >= 0 && base < 0; --y)
    for (int x = 0; x < rgb.width(); ++x)
      if (is(rgb.pixel(x, y), c)) {
        base = y;
        break;
      }
  std::vector<BarRun> bars;
  if (base < 0) return bars;
  for (int x = 0; x < rgb.width(); ++x) {
    if (!is(rgb.pixel(x, base), c)) continue;
    BarRun run{x, x, 0};
    while (run.right + 1 < rgb.width() && is(rgb.pixel(run.right + 1, base), c)) ++run.right;
    // Height: bar pixels straight up from the middle of the run.
    const int mid = (run.left + run.right) / 2;
    for (int y = base; y >= 0 && is(rgb.pixel(mid, y), c); --y) ++run.height;
    bars.push_back(run);
    x = run.right;
  }
  return bars;
}

/// Keeps a rendered picture for a human to look at when PARAMSCOPE_TEST_IMAGES names a folder.
inline void keepImage(const QImage& image, const QString& name) {
  const QString dir = qEnvironmentVariable("PARAMSCOPE_TEST_IMAGES");
  if (!dir.isEmpty()) image.save(dir + QLatin1Char('/') + name + QStringLiteral(".png"));
}

/// How two renders of one figure differ: the largest difference of a colour channel, and the
/// fraction of pixels that differ at all.
struct Difference {
  int max_channel = 0;
  double differing_fraction = 0;
};

/// Compares two images of the same size (a size mismatch counts as every pixel differing).
inline Difference compare(const QImage& a, const QImage& b) {
  if (a.size() != b.size()) return {255, 1.0};
  const QImage x = a.convertToFormat(QImage::Format_RGB32), y = b.convertToFormat(QImage::Format_RGB32);
  Difference d;
  qint64 differing = 0;
  for (int r = 0; r < x.height(); ++r)
    for (int c = 0; c < x.width(); ++c) {
      const QRgb p = x.pixel(c, r), q = y.pixel(c, r);
      const int m = std::max({std::abs(qRed(p) - qRed(q)), std::abs(qGreen(p) - qGreen(q)), std::abs(qBlue(p) - qBlue(q))});
      d.max_channel = std::max(d.max_channel, m);
      differing += m > 0;
    }
  d.differing_fraction = static_cast<double>(differing) / (static_cast<double>(x.width()) * x.height());
  return d;
}

/// Settings of the tests go to a temporary folder, never to the user's.
inline QTemporaryDir& settingsDir() {
  static QTemporaryDir dir;
  return dir;
}

inline void useTemporarySettings() {
  QCoreApplication::setOrganizationName(QStringLiteral("ParamScopeTests"));
  QCoreApplication::setApplicationName(QStringLiteral("gui-tests"));
  QSettings::setDefaultFormat(QSettings::IniFormat);
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir().path());
}

}  // namespace paramscope::test

/// Like QTEST_MAIN, with the OpenGL format VTK needs set before the application exists.
#define PARAMSCOPE_GUI_TEST_MAIN(TestClass)                                                  \
  int main(int argc, char* argv[]) {                                                         \
    QSurfaceFormat::setDefaultFormat(paramscope::ui::VtkViewWidget::defaultFormat());       \
    QApplication::setAttribute(Qt::AA_ShareOpenGLContexts);                                  \
    QApplication app(argc, argv);                                                            \
    paramscope::test::useTemporarySettings();                                                \
    TestClass tc;                                                                            \
    QTEST_SET_MAIN_SOURCE_PATH                                                               \
    return QTest::qExec(&tc, argc, argv);                                                    \
  }
