// The parameters-per-block chart without Qt widgets: what it shows (block_bars) and what it
// draws (rendered offscreen to PNG and measured).
#include <cmath>

#include <QtTest>

#include "gui_test_support.h"
#include "paramscope/error.h"
#include "paramscope/figures/block_bars.h"
#include "paramscope/figures/block_chart.h"

using namespace paramscope;

class TestBlockChart : public QObject {
  Q_OBJECT

private slots:
  void blockLabel_data();
  void blockLabel();
  void barsOfTinyLlama();
  void barsMatchExpectedJson_data();
  void barsMatchExpectedJson();
  void rendersBarsToPng_data();
  void rendersBarsToPng();
  void emptyChartHasNoBars();
  void savePngRejectsBadSize();
  void savePngReportsUnwritableFile();
  void savePngWithoutDisplay();

private:
  QTemporaryDir tmp_;
};

void TestBlockChart::blockLabel_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<int>("index");
  QTest::addColumn<QString>("label");
  QTest::newRow("llama layer") << "model.layers.3" << 3 << "layers.3";
  QTest::newRow("llama layer 10") << "model.layers.10" << 10 << "layers.10";
  QTest::newRow("embedding") << "model.embed_tokens" << -1 << "embed_tokens";
  QTest::newRow("head") << "lm_head" << -1 << "lm_head";
  QTest::newRow("bert layer") << "bert.encoder.layer.11" << 11 << "layer.11";
  QTest::newRow("gguf block") << "blk.7" << 7 << "blk.7";
  QTest::newRow("bare numbered") << "layers.0" << 0 << "layers.0";
  QTest::newRow("keras") << "functional/dense_1" << -1 << "dense_1";
  QTest::newRow("unnamed") << "" << -1 << "(other)";
}

void TestBlockChart::blockLabel() {
  QFETCH(QString, name);
  QFETCH(int, index);
  QFETCH(QString, label);
  Block b;
  b.name = name.toStdString();
  b.index = index;
  QCOMPARE(QString::fromStdString(figures::block_label(b)), label);
}

void TestBlockChart::barsOfTinyLlama() {
  // Hand-checked: embed 32x8 = 256; a layer: q 8x8 + k 4x8 + v 4x8 + o 8x8 + 3 MLP 16x8 + 2 norms 8
  // = 64+32+32+64+384+16 = 592; final norm 8; lm_head 32x8 = 256.
  const auto c = test::load("gui/tiny_llama.safetensors");
  const auto bars = figures::block_bars(*c);
  QCOMPARE(bars.size(), std::size_t{5});
  const char* labels[] = {"embed_tokens", "layers.0", "layers.1", "norm", "lm_head"};
  const char* blocks[] = {"model.embed_tokens", "model.layers.0", "model.layers.1", "model.norm", "lm_head"};
  const std::uint64_t params[] = {256, 592, 592, 8, 256};
  const std::size_t tensors[] = {1, 9, 9, 1, 1};
  for (std::size_t i = 0; i < bars.size(); ++i) {
    QCOMPARE(bars[i].label, std::string(labels[i]));
    QCOMPARE(bars[i].block, std::string(blocks[i]));
    QCOMPARE(bars[i].parameters, params[i]);
    QCOMPARE(bars[i].tensors, tensors[i]);
  }
}

void TestBlockChart::barsMatchExpectedJson_data() {
  QTest::addColumn<QString>("fixture");
  QTest::newRow("tiny_llama") << "tiny_llama";
  QTest::newRow("tiny_mlp") << "tiny_mlp";
}

void TestBlockChart::barsMatchExpectedJson() {
  QFETCH(QString, fixture);
  const auto c = test::load("gui/" + fixture.toStdString() + ".safetensors");
  const QJsonObject want = test::expected("gui/" + fixture.toStdString() + ".expected.json");
  const auto bars = figures::block_bars(*c);
  const QJsonArray blocks = want["blocks"].toArray();
  QCOMPARE(bars.size(), static_cast<std::size_t>(blocks.size()));
  std::uint64_t total = 0;
  for (qsizetype i = 0; i < blocks.size(); ++i) {
    const QJsonObject b = blocks[i].toObject();
    const auto& bar = bars[static_cast<std::size_t>(i)];
    QCOMPARE(QString::fromStdString(bar.block), b["name"].toString());
    QCOMPARE(bar.parameters, static_cast<std::uint64_t>(b["parameters"].toInteger()));
    QCOMPARE(bar.tensors, static_cast<std::size_t>(b["tensors"].toArray().size()));
    total += bar.parameters;
  }
  QCOMPARE(total, static_cast<std::uint64_t>(want["parameters"].toInteger()));
}

void TestBlockChart::rendersBarsToPng_data() {
  QTest::addColumn<QString>("fixture");
  QTest::addColumn<QList<double>>("parameters");
  QTest::newRow("tiny_llama") << "tiny_llama" << QList<double>{256, 592, 592, 8, 256};
  QTest::newRow("tiny_mlp") << "tiny_mlp" << QList<double>{144, 68};
}

void TestBlockChart::rendersBarsToPng() {
  QFETCH(QString, fixture);
  QFETCH(QList<double>, parameters);
  figures::BlockChart chart;
  chart.set_checkpoint(*test::load("gui/" + fixture.toStdString() + ".safetensors"));
  QCOMPARE(chart.bar_count(), static_cast<std::size_t>(parameters.size()));
  const QString file = tmp_.filePath(fixture + ".png");
  chart.save_png(file.toStdString(), 800, 500);

  QImage image(file);
  QVERIFY2(!image.isNull(), qPrintable(file));
  test::keepImage(image, QStringLiteral("block_chart_") + fixture);
  QCOMPARE(image.size(), QSize(800, 500));
  // Background in the corners (outside the axes).
  for (QPoint p : {QPoint(1, 1), QPoint(798, 1), QPoint(1, 498), QPoint(798, 498)})
    QVERIFY2(test::is(image.pixel(p), figures::palette::background), qPrintable(QStringLiteral("(%1, %2)").arg(p.x()).arg(p.y())));

  // One bar per block, left to right, heights in proportion to the parameters.
  const auto bars = test::findBars(image);
  QCOMPARE(bars.size(), static_cast<std::size_t>(parameters.size()));
  const double maxParams = *std::max_element(parameters.begin(), parameters.end());
  int maxHeight = 0;
  for (const auto& b : bars) maxHeight = std::max(maxHeight, b.height);
  QVERIFY2(maxHeight > 200, "the tallest bar should fill most of the plot");
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const double want = parameters[static_cast<qsizetype>(i)] / maxParams * maxHeight;
    QVERIFY2(std::abs(bars[i].height - want) <= 2.0,
             qPrintable(QStringLiteral("bar %1: %2 px, want %3").arg(i).arg(bars[i].height).arg(want)));
    if (i > 0) QVERIFY(bars[i].left > bars[i - 1].right);
  }
  // Equal spacing: the bars stand at 0, 1, 2, ... on the x axis.
  for (std::size_t i = 2; i < bars.size(); ++i) {
    const int step = bars[i].left - bars[i - 1].left;
    const int first = bars[1].left - bars[0].left;
    QVERIFY2(std::abs(step - first) <= 1, qPrintable(QStringLiteral("spacing %1 vs %2").arg(step).arg(first)));
  }
}

void TestBlockChart::emptyChartHasNoBars() {
  figures::BlockChart chart;
  chart.set_checkpoint(*test::load("gui/tiny_llama.safetensors"));
  chart.clear();
  QCOMPARE(chart.bar_count(), std::size_t{0});
  const QString file = tmp_.filePath(QStringLiteral("empty.png"));
  chart.save_png(file.toStdString(), 400, 300);
  const QImage image(file);
  QCOMPARE(image.size(), QSize(400, 300));
  QCOMPARE(test::countPixels(image, figures::palette::bar), 0);
  // Mostly background, with axes and a title drawn.
  const int background = test::countPixels(image, figures::palette::background);
  QVERIFY(background > 400 * 300 * 8 / 10);
  QVERIFY(background < 400 * 300);
}

void TestBlockChart::savePngRejectsBadSize() {
  figures::BlockChart chart;
  for (auto [w, h] : {std::pair{0, 10}, {10, -1}, {20000, 10}}) {
    try {
      chart.save_png(tmp_.filePath(QStringLiteral("bad.png")).toStdString(), w, h);
      QFAIL("no error for a bad size");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY2(QString(e.what()).contains(QStringLiteral("bad.png")), e.what());
    }
  }
  QVERIFY(!QFile::exists(tmp_.filePath(QStringLiteral("bad.png"))));
}

void TestBlockChart::savePngReportsUnwritableFile() {
  figures::BlockChart chart;
  chart.set_checkpoint(*test::load("gui/tiny_mlp.safetensors"));
  const std::string file = tmp_.filePath(QStringLiteral("no/such/folder/x.png")).toStdString();
  try {
    chart.save_png(file, 100, 100);
    QFAIL("no error for an unwritable file");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Io);
    QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(file)), e.what());
  }
}

void TestBlockChart::savePngWithoutDisplay() {
  // With no display, save_png() renders headless (Mesa EGL) instead of failing.
  const QByteArray display = qgetenv("DISPLAY");
  qunsetenv("DISPLAY");
  figures::BlockChart chart;
  chart.set_checkpoint(*test::load("gui/tiny_mlp.safetensors"));
  const QString file = tmp_.filePath(QStringLiteral("nodisplay.png"));
  QString error;
  try {
    chart.save_png(file.toStdString(), 400, 300);
  } catch (const Error& e) {
    error = QString::fromUtf8(e.what());
  }
  qputenv("DISPLAY", display);
  QVERIFY2(error.isEmpty(), qPrintable(error));
  const QImage image(file);
  QCOMPARE(image.size(), QSize(400, 300));
  QCOMPARE(test::findBars(image).size(), std::size_t{2});
}

PARAMSCOPE_GUI_TEST_MAIN(TestBlockChart)
#include "test_block_chart.moc"
