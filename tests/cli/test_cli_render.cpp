// `paramscope-cli render`: every view of the GUI (the 3-D surface too) drawn headless (no DISPLAY
// at all) to PNG, SVG and PDF at the asked size, and clear errors for bad requests.
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "test_paths.h"

namespace {

struct Run {
  int code;
  QByteArray out, err;
};

// The CLI with no display in its environment, as in CI.
Run render(const QStringList& args) {
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.remove(QStringLiteral("DISPLAY"));
  env.remove(QStringLiteral("WAYLAND_DISPLAY"));
  p.setProcessEnvironment(env);
  p.start(QString::fromStdString(paramscope::test::cli().string()), QStringList{QStringLiteral("render")} + args);
  if (!p.waitForFinished(120000)) qFatal("paramscope-cli render did not finish");
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
          p.readAllStandardError()};
}

QByteArray readAll(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

std::uint32_t bigEndian32(const QByteArray& b, int at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(b[at + i]);
  return v;
}

const QString kSample = QString::fromStdString((paramscope::test::samples_dir() / "tiny-llama").string());
const QString kTensor = QStringLiteral("model.layers.0.mlp.up_proj.weight");

}  // namespace

class TestCliRender : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

private slots:
  void initTestCase() {
    const Run help = render({QStringLiteral("--help")});
    if (help.out.contains("not in this build")) QSKIP("paramscope-cli built without figures (PARAMSCOPE_BUILD_GUI=OFF)");
  }

  void views_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("file");
    QTest::addColumn<QByteArray>("text");  // what an SVG must hold
    QTest::newRow("heatmap png") << QStringList{"--view", "heatmap", "--tensor", kTensor, "--colormap", "magma"}
                                 << "heat.png" << QByteArray();
    QTest::newRow("heatmap scores png") << QStringList{"--view", "heatmap", "--tensor", kTensor, "-c", "magnitude",
                                                       "--scale", "log", "--top", "10%"}
                                        << "heat-scores.png" << QByteArray();
    QTest::newRow("profile svg") << QStringList{"--view", "profile", "-c", "magnitude", "--reduce", "l2"}
                                 << "profile.svg" << QByteArray("layers.3");
    QTest::newRow("profile lines pdf") << QStringList{"--view", "profile", "--style", "lines"} << "profile.pdf"
                                       << QByteArray();
    QTest::newRow("histogram svg") << QStringList{"--view", "histogram", "--tensor", kTensor, "--top", "10%",
                                                  "--log-counts"}
                                   << "hist.svg" << QByteArray("threshold");
    QTest::newRow("spectrum png") << QStringList{"--view", "spectrum", "--tensor", kTensor} << "spec.png"
                                  << QByteArray();
    QTest::newRow("spectrum rank svg") << QStringList{"--view", "spectrum", "--tensor", kTensor, "--mode", "rank"}
                                       << "spec.svg" << QByteArray("alpha");
    QTest::newRow("surface png") << QStringList{"--view", "surface", "--tensor", kTensor, "--colormap", "rdbu_r"}
                                 << "surface.png" << QByteArray();
    QTest::newRow("surface tall png") << QStringList{"--view", "surface", "--tensor", kTensor, "--height-fraction", "1.5"}
                                      << "surface-tall.png" << QByteArray();
    QTest::newRow("surface mean from the top png") << QStringList{"--view", "surface", "--tensor", kTensor, "--cell",
                                                                  "mean", "--azimuth", "-90", "--elevation", "90"}
                                                   << "surface-top.png" << QByteArray();
    // Importance per neuron of the MLP's down projection over the four blocks: block names on an axis.
    QTest::newRow("surface neurons svg") << QStringList{"--view", "surface", "-c", "magnitude", "--module", "mlp.down",
                                                        "--azimuth", "30", "--elevation", "45", "--zoom", "1.2"}
                                         << "surface.svg" << QByteArray("layers.3");
    QTest::newRow("surface neurons pdf") << QStringList{"--view", "surface", "--module", "attn.q", "--reduce", "mean"}
                                         << "surface.pdf" << QByteArray();
  }
  void views() {
    QFETCH(QStringList, args);
    QFETCH(QString, file);
    QFETCH(QByteArray, text);
    const QString out = tmp_.filePath(file);
    // 5 x 3 inches at 120 dpi: a 600 x 360 PNG, a 360 x 216 pt page.
    const Run r = render(QStringList{kSample} + args +
                         QStringList{"--width", "5", "--height", "3", "--dpi", "120", "-o", out});
    QVERIFY2(r.code == 0, r.err.constData());
    const QByteArray bytes = readAll(out);
    QVERIFY(!bytes.isEmpty());
    if (file.endsWith(".png")) {
      QVERIFY(bytes.startsWith("\x89PNG\r\n\x1a\n"));
      QCOMPARE(bigEndian32(bytes, 16), 600u);
      QCOMPARE(bigEndian32(bytes, 20), 360u);
    } else if (file.endsWith(".svg")) {
      QVERIFY(bytes.contains("<svg"));
      QVERIFY(bytes.contains("viewBox=\"0 0 360 216\""));
      QVERIFY2(bytes.contains(text), text.constData());
    } else {
      QVERIFY(bytes.startsWith("%PDF-"));
      QVERIFY(bytes.contains("MediaBox [0 0 360 216]"));
    }
    // Written under a temporary name and renamed: nothing else left in the folder.
    for (const QString& f : QDir(tmp_.path()).entryList(QDir::Files)) QVERIFY2(!f.contains(".tmp"), qPrintable(f));
  }

  void errors_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("message");
    QTest::newRow("no tensor") << QStringList{"--view", "heatmap"} << QByteArray("needs --tensor");
    QTest::newRow("unknown tensor") << QStringList{"--view", "histogram", "--tensor", "nope"}
                                    << QByteArray("no tensor named 'nope'");
    QTest::newRow("unknown view") << QStringList{"--view", "pie"} << QByteArray("--view is heatmap");
    QTest::newRow("bad extension") << QStringList{"--view", "spectrum", "--tensor", kTensor, "-o", "x.gif"}
                                   << QByteArray(".gif");
    QTest::newRow("bad colormap") << QStringList{"--view", "heatmap", "--tensor", kTensor, "--colormap", "jet"}
                                  << QByteArray("unknown --colormap jet");
    QTest::newRow("bad dpi") << QStringList{"--view", "spectrum", "--tensor", kTensor, "--dpi", "5"}
                             << QByteArray("dpi");
    QTest::newRow("surface of nothing") << QStringList{"--view", "surface"} << QByteArray("needs either --tensor");
    QTest::newRow("surface of both") << QStringList{"--view", "surface", "--tensor", kTensor, "--module", "mlp.down"}
                                     << QByteArray("needs either --tensor");
    QTest::newRow("surface unknown module") << QStringList{"--view", "surface", "--module", "mlp.nothing"}
                                            << QByteArray("no neuron maps of module kind 'mlp.nothing' (there are: ");
    QTest::newRow("surface per-matrix criterion") << QStringList{"--view", "surface", "-c", "spectral-norm", "--module",
                                                                 "mlp.down"}
                                                  << QByteArray("needs an element-wise criterion");
    QTest::newRow("surface bad elevation") << QStringList{"--view", "surface", "--tensor", kTensor, "--elevation", "100"}
                                           << QByteArray("elevation must be in -90..90");
    QTest::newRow("surface bad cell") << QStringList{"--view", "surface", "--tensor", kTensor, "--cell", "median"}
                                      << QByteArray("--cell is max-abs or mean");
    QTest::newRow("surface bad height") << QStringList{"--view", "surface", "--tensor", kTensor, "--height-fraction", "0"}
                                        << QByteArray("height fraction 0 is outside (0, 10]");
  }
  void errors() {
    QFETCH(QStringList, args);
    QFETCH(QByteArray, message);
    if (!args.contains("-o")) args << "-o" << tmp_.filePath("err.png");
    const Run r = render(QStringList{kSample} + args);
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains(message), r.err.constData());
    QVERIFY(!QFile::exists(tmp_.filePath("err.png")));
  }
};

QTEST_GUILESS_MAIN(TestCliRender)
#include "test_cli_render.moc"
