// The heatmap pyramid: hand-checked levels, every level and view() against flat reductions over
// the elements, BF16 tensors read from a file, statistics, errors and cancellation.
#include <QElapsedTimer>
#include <sys/resource.h>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/pyramid.h"
#include "paramscope/tensor.h"
#include "paramscope/writers.h"
#include "tensor/convert.h"

using namespace paramscope;

Q_DECLARE_METATYPE(PyramidReduction)

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
using Floats = QList<float>;

std::shared_ptr<const std::vector<float>> shared(const Floats& v) {
  return std::make_shared<const std::vector<float>>(v.begin(), v.end());
}

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }
bool close(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::fabs(a - b) <= 1e-5f * std::max(1.0f, std::fabs(b));
}

// Flat reductions over a list of elements, written independently of the pyramid's code.
float flat_max_abs(const std::vector<float>& v) {
  float best = kNaN;
  for (float x : v) {
    if (std::isnan(x)) continue;
    if (std::isnan(best) || std::fabs(x) > std::fabs(best) || (std::fabs(x) == std::fabs(best) && x > best)) best = x;
  }
  return best;
}
float flat_mean(const std::vector<float>& v) {
  double s = 0;
  int n = 0;
  for (float x : v)
    if (!std::isnan(x)) s += x, ++n;
  return n ? static_cast<float>(s / n) : kNaN;
}
float flat(PyramidReduction r, const std::vector<float>& v) {
  return r == PyramidReduction::Mean ? flat_mean(v) : flat_max_abs(v);
}

std::vector<float> random_matrix(std::int64_t rows, std::int64_t cols, unsigned seed, double nan_rate) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (auto& x : v) {
    x = normal(rng);
    if (u(rng) < 0.05) x = std::round(x * 2) / 2;  // some exact ties of |x| with opposite signs
    if (u(rng) < nan_rate) x = kNaN;
  }
  return v;
}

// Elements whose cell (at level) has its centre in [a0, a1), per the documented rule; the cell
// under the interval's centre when no centre falls inside.
std::vector<std::int64_t> covered(double a0, double a1, int level, std::int64_t extent) {
  const std::int64_t size = std::int64_t{1} << level;
  const std::int64_t cells = (extent + size - 1) / size;
  std::vector<std::int64_t> cellsIn;
  for (std::int64_t k = 0; k < cells; ++k) {
    const double centre = (static_cast<double>(k * size) + static_cast<double>(std::min((k + 1) * size, extent))) / 2;
    if (centre >= a0 && centre < a1) cellsIn.push_back(k);
  }
  if (cellsIn.empty()) {
    const double mid = (a0 + a1) / 2;
    if (mid >= 0 && mid < static_cast<double>(extent)) cellsIn.push_back(static_cast<std::int64_t>(mid) / size);
  }
  std::vector<std::int64_t> elements;
  for (std::int64_t k : cellsIn)
    for (std::int64_t e = k * size; e < std::min((k + 1) * size, extent); ++e) elements.push_back(e);
  return elements;
}

}  // namespace

class TestPyramid : public QObject {
  Q_OBJECT

private slots:
  void statsHistogram_data();
  void statsHistogram();
  void matrixShape_data();
  void matrixShape();
  void handChecked_data();
  void handChecked();
  void everyLevelMatchesFlatReduction_data();
  void everyLevelMatchesFlatReduction();
  void viewLevel_data();
  void viewLevel();
  void viewMatchesFlatReduction_data();
  void viewMatchesFlatReduction();
  void viewOfWholeSmallMatrixIsTheMatrix();
  void magnifiedViewRepeatsElements();
  void viewOutsideIsNaN();
  void valueAtIsExact();
  void bf16TensorFromFile();
  void statistics_data();
  void statistics();
  void percentilesOfBf16AreExact();
  void percentilesOfF32WithinOneBf16Step();
  void errors();
  void cancelBeforeStart();
  void cancelWhileBuilding();
  void progressCountsElements();
  void largeTensorTiming();
};

void TestPyramid::matrixShape_data() {
  QTest::addColumn<QList<qint64>>("shape");
  QTest::addColumn<qint64>("rows");
  QTest::addColumn<qint64>("cols");
  QTest::newRow("scalar") << QList<qint64>{} << qint64{1} << qint64{1};
  QTest::newRow("vector") << QList<qint64>{7} << qint64{1} << qint64{7};
  QTest::newRow("matrix") << QList<qint64>{4096, 11008} << qint64{4096} << qint64{11008};
  QTest::newRow("conv") << QList<qint64>{64, 3, 7, 7} << qint64{64} << qint64{147};
  QTest::newRow("empty") << QList<qint64>{0, 5} << qint64{0} << qint64{5};
}

void TestPyramid::matrixShape() {
  QFETCH(QList<qint64>, shape);
  QFETCH(qint64, rows);
  QFETCH(qint64, cols);
  const Shape s(shape.begin(), shape.end());
  const auto [r, c] = matrix_shape(s);
  QCOMPARE(r, rows);
  QCOMPARE(c, cols);
}

void TestPyramid::handChecked_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("cols");
  QTest::addColumn<Floats>("values");
  QTest::addColumn<PyramidReduction>("reduction");
  QTest::addColumn<int>("level");
  QTest::addColumn<Floats>("expected");  // the whole level, row-major

  // 3 x 5, odd both ways, one NaN:
  //    1  -2    3   0   5
  //   -4   1  NaN   2  -5
  //    0   0    7  -8   1
  const Floats m{1, -2, 3, 0, 5, -4, 1, kNaN, 2, -5, 0, 0, 7, -8, 1};
  const auto maxAbs = PyramidReduction::MaxAbs, mean = PyramidReduction::Mean;
  QTest::newRow("3x5 L0") << 3 << 5 << m << maxAbs << 0 << m;
  // Blocks {1,-2,-4,1} {3,0,NaN,2} {5,-5} / {0,0} {7,-8} {1}; |5| = |-5| keeps +5.
  QTest::newRow("3x5 L1 max-abs") << 3 << 5 << m << maxAbs << 1 << Floats{-4, 3, 5, 0, -8, 1};
  QTest::newRow("3x5 L1 mean") << 3 << 5 << m << mean << 1 << Floats{-1, 5.0f / 3, 0, 0, -0.5f, 1};
  QTest::newRow("3x5 L2 max-abs") << 3 << 5 << m << maxAbs << 2 << Floats{-8, 5};
  // Left block: 11 values summing to 0; right block: 5 - 5 + 1 over 3.
  QTest::newRow("3x5 L2 mean") << 3 << 5 << m << mean << 2 << Floats{0, 1.0f / 3};
  QTest::newRow("3x5 L3 max-abs") << 3 << 5 << m << maxAbs << 3 << Floats{-8};
  QTest::newRow("3x5 L3 mean") << 3 << 5 << m << mean << 3 << Floats{1.0f / 14};

  // 1 x 7 with a NaN pair: a 1-D tensor.
  const Floats v{3, -1, kNaN, kNaN, 2, -6, 4};
  QTest::newRow("1x7 L1 max-abs") << 1 << 7 << v << maxAbs << 1 << Floats{3, kNaN, -6, 4};
  QTest::newRow("1x7 L1 mean") << 1 << 7 << v << mean << 1 << Floats{1, kNaN, -2, 4};
  QTest::newRow("1x7 L2 max-abs") << 1 << 7 << v << maxAbs << 2 << Floats{3, -6};
  QTest::newRow("1x7 L2 mean") << 1 << 7 << v << mean << 2 << Floats{1, 0};
  QTest::newRow("1x7 L3 max-abs") << 1 << 7 << v << maxAbs << 3 << Floats{-6};
  QTest::newRow("1x7 L3 mean") << 1 << 7 << v << mean << 3 << Floats{0.4f};

  // A column: 5 x 1.
  QTest::newRow("5x1 L1 max-abs") << 5 << 1 << Floats{1, -3, 2, 2, -7} << maxAbs << 1 << Floats{-3, 2, -7};
  QTest::newRow("5x1 L1 mean") << 5 << 1 << Floats{1, -3, 2, 2, -7} << mean << 1 << Floats{-1, 2, -7};

  const Floats nan4{kNaN, kNaN, kNaN, kNaN};
  QTest::newRow("all NaN max-abs") << 2 << 2 << nan4 << maxAbs << 1 << Floats{kNaN};
  QTest::newRow("all NaN mean") << 2 << 2 << nan4 << mean << 1 << Floats{kNaN};
}

void TestPyramid::handChecked() {
  QFETCH(int, rows);
  QFETCH(int, cols);
  QFETCH(Floats, values);
  QFETCH(PyramidReduction, reduction);
  QFETCH(int, level);
  QFETCH(Floats, expected);
  ThreadPool pool(2);
  PyramidOptions options;
  options.mean = true;
  options.top_size = 1;  // reduce down to a single cell
  const auto p = TensorPyramid::of_values(shared(values), rows, cols, pool, {}, options);
  const int top = static_cast<int>(std::ceil(std::log2(std::max(rows, cols))));
  QCOMPARE(p.levels(), top + 1);
  const auto lr = p.level_rows(level), lc = p.level_cols(level);
  QCOMPARE(lr * lc, static_cast<std::int64_t>(expected.size()));
  const auto got = p.tile(level, 0, 0, lr, lc, reduction);
  for (qsizetype i = 0; i < expected.size(); ++i)
    QVERIFY2(close(got[static_cast<std::size_t>(i)], expected[i]),
             qPrintable(QStringLiteral("cell %1: %2, want %3").arg(i).arg(got[static_cast<std::size_t>(i)]).arg(expected[i])));
}

void TestPyramid::everyLevelMatchesFlatReduction_data() {
  QTest::addColumn<qint64>("rows");
  QTest::addColumn<qint64>("cols");
  QTest::addColumn<qint64>("topSize");
  QTest::newRow("odd 37x53 to 1x1") << qint64{37} << qint64{53} << qint64{1};
  QTest::newRow("1x1000 (levels above the tiles)") << qint64{1} << qint64{1000} << qint64{1};
  QTest::newRow("300x7 tall") << qint64{300} << qint64{7} << qint64{2};
  QTest::newRow("129x200 (tile edges)") << qint64{129} << qint64{200} << qint64{1};
  QTest::newRow("3x70000 (column strips)") << qint64{3} << qint64{70000} << qint64{512};
  QTest::newRow("1x1") << qint64{1} << qint64{1} << qint64{1};
}

void TestPyramid::everyLevelMatchesFlatReduction() {
  QFETCH(qint64, rows);
  QFETCH(qint64, cols);
  QFETCH(qint64, topSize);
  const auto values = random_matrix(rows, cols, 11, 0.08);
  ThreadPool pool(2);
  PyramidOptions options;
  options.mean = true;
  options.top_size = topSize;
  const auto p =
      TensorPyramid::of_values(std::make_shared<const std::vector<float>>(values), rows, cols, pool, {}, options);
  QCOMPARE(p.rows(), rows);
  QCOMPARE(p.cols(), cols);
  QVERIFY(p.level_rows(p.levels() - 1) <= topSize && p.level_cols(p.levels() - 1) <= topSize);
  if (p.levels() > 1)
    QVERIFY(p.level_rows(p.levels() - 2) > topSize || p.level_cols(p.levels() - 2) > topSize);
  int checked = 0;
  for (int level = 1; level < p.levels(); ++level) {
    const std::int64_t size = std::int64_t{1} << level;
    const std::int64_t lr = p.level_rows(level), lc = p.level_cols(level);
    QCOMPARE(lr, (rows + size - 1) / size);
    QCOMPARE(lc, (cols + size - 1) / size);
    for (auto r : {PyramidReduction::MaxAbs, PyramidReduction::Mean}) {
      const auto got = p.tile(level, 0, 0, lr, lc, r);
      // Large levels: a sample of cells (every 7th), so the test stays fast.
      const std::int64_t step = lr * lc > 20000 ? 7 : 1;
      for (std::int64_t k = 0; k < lr * lc; k += step) {
        const std::int64_t i = k / lc, j = k % lc;
        std::vector<float> block;
        for (std::int64_t y = i * size; y < std::min<std::int64_t>((i + 1) * size, rows); ++y)
          for (std::int64_t x = j * size; x < std::min<std::int64_t>((j + 1) * size, cols); ++x)
            block.push_back(values[static_cast<std::size_t>(y * cols + x)]);
        const float want = flat(r, block), have = got[static_cast<std::size_t>(k)];
        const bool ok = r == PyramidReduction::MaxAbs ? same(have, want) : close(have, want);
        if (!ok)
          QFAIL(qPrintable(QStringLiteral("level %1 cell (%2, %3) %4: %5, want %6")
                               .arg(level).arg(i).arg(j).arg(r == PyramidReduction::Mean ? "mean" : "max-abs")
                               .arg(have).arg(want)));
        ++checked;
      }
    }
  }
  if (p.levels() > 1) QVERIFY(checked > 0);
}

void TestPyramid::viewLevel_data() {
  QTest::addColumn<qint64>("rows");
  QTest::addColumn<qint64>("cols");
  QTest::addColumn<QList<double>>("window");  // row_begin, row_end, col_begin, col_end
  QTest::addColumn<int>("outW");
  QTest::addColumn<int>("outH");
  QTest::addColumn<int>("level");
  // 4096 x 11008 at 800 x 600: 6.8 rows and 13.8 cols per pixel -> 4 x 4 cells (level 2).
  QTest::newRow("llama mlp whole") << qint64{4096} << qint64{11008} << QList<double>{0, 4096, 0, 11008} << 800 << 600 << 2;
  QTest::newRow("exactly 8 per pixel") << qint64{4096} << qint64{4096} << QList<double>{0, 4096, 0, 4096} << 512 << 512 << 3;
  QTest::newRow("capped at the top level") << qint64{4096} << qint64{4096} << QList<double>{0, 4096, 0, 4096} << 1 << 1 << 3;
  QTest::newRow("magnified") << qint64{4096} << qint64{11008} << QList<double>{100, 110, 200, 220} << 800 << 600 << 0;
  QTest::newRow("1-D ignores rows") << qint64{1} << qint64{100000} << QList<double>{0, 1, 0, 100000} << 1000 << 100 << 6;
  QTest::newRow("few rows stay exact") << qint64{3} << qint64{100000} << QList<double>{0, 3, 0, 100000} << 1000 << 100 << 0;
}

void TestPyramid::viewLevel() {
  QFETCH(qint64, rows);
  QFETCH(qint64, cols);
  QFETCH(QList<double>, window);
  QFETCH(int, outW);
  QFETCH(int, outH);
  QFETCH(int, level);
  // The level choice depends on shapes only: a constant matrix builds fast.
  ThreadPool pool(2);
  const auto p = TensorPyramid::of_reader([](std::int64_t, std::span<float> out) { std::fill(out.begin(), out.end(), 1.0f); },
                                          rows, cols, pool);
  QCOMPARE(p.view_level(window[0], window[1], window[2], window[3], outW, outH), level);
}

void TestPyramid::viewMatchesFlatReduction_data() {
  QTest::addColumn<qint64>("rows");
  QTest::addColumn<qint64>("cols");
  QTest::addColumn<QList<double>>("window");
  QTest::addColumn<int>("outW");
  QTest::addColumn<int>("outH");
  QTest::addColumn<PyramidReduction>("reduction");
  const auto maxAbs = PyramidReduction::MaxAbs, mean = PyramidReduction::Mean;
  for (auto [name, r] : {std::pair{"max-abs", maxAbs}, std::pair{"mean", mean}}) {
    const QByteArray n(name);
    QTest::newRow(n + " whole, aligned") << qint64{1024} << qint64{2048} << QList<double>{0, 1024, 0, 2048} << 128 << 64 << r;
    QTest::newRow(n + " sub-rectangle, aligned") << qint64{1000} << qint64{3001} << QList<double>{256, 512, 1024, 2048} << 64 << 32 << r;
    QTest::newRow(n + " sub-rectangle, unaligned") << qint64{1000} << qint64{3001} << QList<double>{133.5, 611, 17, 2900.25} << 97 << 41 << r;
    QTest::newRow(n + " reaching the odd edges") << qint64{999} << qint64{3001} << QList<double>{0, 999, 0, 3001} << 100 << 50 << r;
    QTest::newRow(n + " level 0, minified") << qint64{300} << qint64{400} << QList<double>{10, 290, 5, 395} << 200 << 150 << r;
    QTest::newRow(n + " magnified") << qint64{300} << qint64{400} << QList<double>{10.25, 19.75, 30, 45.5} << 61 << 37 << r;
    QTest::newRow(n + " 1-D") << qint64{1} << qint64{50000} << QList<double>{0, 1, 1000, 40000} << 300 << 20 << r;
    QTest::newRow(n + " past the edges") << qint64{200} << qint64{300} << QList<double>{-50, 250, -10, 400} << 60 << 30 << r;
  }
}

void TestPyramid::viewMatchesFlatReduction() {
  QFETCH(qint64, rows);
  QFETCH(qint64, cols);
  QFETCH(QList<double>, window);
  QFETCH(int, outW);
  QFETCH(int, outH);
  QFETCH(PyramidReduction, reduction);
  // Means weight a coarse cell by its block's size, exact only without NaN: NaN for max-abs only.
  const auto values = random_matrix(rows, cols, 5, reduction == PyramidReduction::MaxAbs ? 0.1 : 0.0);
  ThreadPool pool(2);
  PyramidOptions options;
  options.mean = true;
  options.top_size = 16;
  const auto p =
      TensorPyramid::of_values(std::make_shared<const std::vector<float>>(values), rows, cols, pool, {}, options);
  const double rb = window[0], re = window[1], cb = window[2], ce = window[3];
  const int level = p.view_level(rb, re, cb, ce, outW, outH);
  const auto image = p.view(rb, re, cb, ce, outW, outH, reduction);
  QCOMPARE(image.size(), static_cast<std::size_t>(outW * outH));
  int nonNaN = 0;
  for (int i = 0; i < outH; ++i) {
    const auto ys = covered(rb + (re - rb) * i / outH, rb + (re - rb) * (i + 1) / outH, level, rows);
    for (int j = 0; j < outW; ++j) {
      const auto xs = covered(cb + (ce - cb) * j / outW, cb + (ce - cb) * (j + 1) / outW, level, cols);
      std::vector<float> block;
      for (auto y : ys)
        for (auto x : xs) block.push_back(values[static_cast<std::size_t>(y * cols + x)]);
      const float want = flat(reduction, block), have = image[static_cast<std::size_t>(i * outW + j)];
      const bool ok = reduction == PyramidReduction::MaxAbs ? same(have, want) : close(have, want);
      if (!ok)
        QFAIL(qPrintable(QStringLiteral("level %1 pixel (%2, %3): %4, want %5 over %6 elements")
                             .arg(level).arg(i).arg(j).arg(have).arg(want).arg(block.size())));
      nonNaN += !std::isnan(have);
    }
  }
  QVERIFY(nonNaN > outW * outH / 4);
}

void TestPyramid::viewOfWholeSmallMatrixIsTheMatrix() {
  const Floats m{1, 2, 3, 4, 5, 6};
  ThreadPool pool(1);
  const auto p = TensorPyramid::of_values(shared(m), 2, 3, pool);
  QCOMPARE(p.levels(), 1);
  for (auto r : {PyramidReduction::MaxAbs, PyramidReduction::Mean}) {
    const auto image = p.view(0, 2, 0, 3, 3, 2, r);
    QCOMPARE(image, std::vector<float>(m.begin(), m.end()));
  }
}

void TestPyramid::magnifiedViewRepeatsElements() {
  // Each element of a 2 x 3 matrix becomes a 4 x 5 block of pixels (nearest neighbour).
  const Floats m{1, 2, 3, 4, 5, 6};
  ThreadPool pool(1);
  const auto p = TensorPyramid::of_values(shared(m), 2, 3, pool);
  const auto image = p.view(0, 2, 0, 3, 15, 8);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 15; ++x) QCOMPARE(image[static_cast<std::size_t>(y * 15 + x)], m[(y / 4) * 3 + x / 5]);
}

void TestPyramid::viewOutsideIsNaN() {
  const Floats m{1, 2, 3, 4};
  ThreadPool pool(1);
  const auto p = TensorPyramid::of_values(shared(m), 2, 2, pool);
  // Window twice the matrix, centred: a 1-pixel NaN frame around the 4 elements.
  const auto image = p.view(-1, 3, -1, 3, 4, 4);
  const Floats want{kNaN, kNaN, kNaN, kNaN, kNaN, 1, 2, kNaN, kNaN, 3, 4, kNaN, kNaN, kNaN, kNaN, kNaN};
  for (int k = 0; k < 16; ++k) QVERIFY2(same(image[static_cast<std::size_t>(k)], want[k]), qPrintable(QString::number(k)));
  // Entirely outside: all NaN.
  for (float v : p.view(10, 20, 10, 20, 3, 3)) QVERIFY(std::isnan(v));
}

void TestPyramid::valueAtIsExact() {
  const auto values = random_matrix(300, 700, 3, 0.0);
  ThreadPool pool(2);
  const auto p = TensorPyramid::of_values(std::make_shared<const std::vector<float>>(values), 300, 700, pool);
  for (auto [r, c] : {std::pair<std::int64_t, std::int64_t>{0, 0}, {299, 699}, {123, 456}, {0, 699}})
    QCOMPARE(p.value_at(r, c), values[static_cast<std::size_t>(r * 700 + c)]);
  for (auto [r, c] : {std::pair<std::int64_t, std::int64_t>{-1, 0}, {300, 0}, {0, 700}}) {
    try {
      (void)p.value_at(r, c);
      QFAIL("no error outside the matrix");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
    }
  }
}

void TestPyramid::bf16TensorFromFile() {
  // A 3-D BF16 tensor: 37 x (3 * 11) as a matrix. The pyramid of the tensor equals the pyramid of
  // its values rounded to BF16 (what the file holds), level by level.
  QTemporaryDir tmp;
  const auto path = std::filesystem::path(tmp.path().toStdString()) / "w.safetensors";
  const auto values = random_matrix(37, 33, 9, 0.05);
  write_safetensors(path, {TensorToWrite::from_floats("w", DType::BF16, {37, 3, 11}, values)});
  const Checkpoint c = open_checkpoint(path);
  std::vector<float> rounded(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) rounded[i] = bf16_to_f32(f32_to_bf16(values[i]));
  ThreadPool pool(2);
  PyramidOptions options;
  options.mean = true;
  options.top_size = 1;
  const auto fromFile = TensorPyramid::of_tensor(c.at("w"), pool, {}, options);
  const auto fromMemory =
      TensorPyramid::of_values(std::make_shared<const std::vector<float>>(rounded), 37, 33, pool, {}, options);
  QCOMPARE(fromFile.rows(), std::int64_t{37});
  QCOMPARE(fromFile.cols(), std::int64_t{33});
  QCOMPARE(fromFile.levels(), 7);  // 37 -> 19 -> 10 -> 5 -> 3 -> 2 -> 1
  QCOMPARE(fromFile.value_at(36, 32), rounded.back());
  QVERIFY(!std::equal(rounded.begin(), rounded.end(), values.begin(), same));  // BF16 rounding did happen
  for (int level = 0; level < fromFile.levels(); ++level)
    for (auto r : {PyramidReduction::MaxAbs, PyramidReduction::Mean}) {
      const auto a = fromFile.tile(level, 0, 0, fromFile.level_rows(level), fromFile.level_cols(level), r);
      const auto b = fromMemory.tile(level, 0, 0, fromFile.level_rows(level), fromFile.level_cols(level), r);
      for (std::size_t k = 0; k < a.size(); ++k) QVERIFY(same(a[k], b[k]));
    }
  QCOMPARE(fromFile.stats().nan, fromMemory.stats().nan);
  QCOMPARE(fromFile.stats().percentile(50), fromMemory.stats().percentile(50));
}

void TestPyramid::statistics_data() {
  QTest::addColumn<Floats>("values");
  QTest::addColumn<qint64>("finite");
  QTest::addColumn<qint64>("nan");
  QTest::addColumn<qint64>("inf");
  QTest::addColumn<float>("min");
  QTest::addColumn<float>("max");
  QTest::addColumn<float>("median");
  const float inf = std::numeric_limits<float>::infinity();
  // Values representable in BF16, so percentiles are exact.
  QTest::newRow("plain") << Floats{3, -1, 2, 0.5f, -4} << qint64{5} << qint64{0} << qint64{0} << -4.0f << 3.0f << 0.5f;
  QTest::newRow("nan and inf left out") << Floats{kNaN, 2, -inf, 1, inf, kNaN, 8} << qint64{3} << qint64{2} << qint64{2}
                                        << 1.0f << 8.0f << 2.0f;
  QTest::newRow("all nan") << Floats{kNaN, kNaN} << qint64{0} << qint64{2} << qint64{0} << 0.0f << 0.0f << 0.0f;
  QTest::newRow("negative zero and zero") << Floats{-0.0f, 0.0f, -2, 2} << qint64{4} << qint64{0} << qint64{0} << -2.0f
                                          << 2.0f << 0.0f;
}

void TestPyramid::statistics() {
  QFETCH(Floats, values);
  QFETCH(qint64, finite);
  QFETCH(qint64, nan);
  QFETCH(qint64, inf);
  QFETCH(float, min);
  QFETCH(float, max);
  QFETCH(float, median);
  ThreadPool pool(2);
  const auto p = TensorPyramid::of_values(shared(values), 1, values.size(), pool);
  const ValueStats& s = p.stats();
  QCOMPARE(s.finite, finite);
  QCOMPARE(s.nan, nan);
  QCOMPARE(s.inf, inf);
  QCOMPARE(s.min, min);
  QCOMPARE(s.max, max);
  QCOMPARE(s.percentile(50), median);
  QCOMPARE(s.percentile(0), min);
  QCOMPARE(s.percentile(100), max);
}

void TestPyramid::percentilesOfBf16AreExact() {
  // Values already in BF16: every percentile is the sorted value of rank round(p (n - 1) / 100).
  auto values = random_matrix(501, 203, 21, 0.01);
  for (auto& v : values) v = bf16_to_f32(f32_to_bf16(v * 3.0f));
  ThreadPool pool(2);
  const auto p = TensorPyramid::of_values(std::make_shared<const std::vector<float>>(values), 501, 203, pool);
  std::vector<float> sorted;
  std::vector<float> mags, nonzero;
  for (float v : values)
    if (!std::isnan(v)) {
      sorted.push_back(v);
      mags.push_back(std::fabs(v));
      if (v != 0) nonzero.push_back(std::fabs(v));
    }
  std::sort(sorted.begin(), sorted.end());
  std::sort(mags.begin(), mags.end());
  std::sort(nonzero.begin(), nonzero.end());
  QCOMPARE(p.stats().finite, static_cast<std::int64_t>(sorted.size()));
  auto at = [](const std::vector<float>& v, double pct) {
    return v[static_cast<std::size_t>(std::llround(pct / 100 * static_cast<double>(v.size() - 1)))];
  };
  for (double pct : {0.0, 0.1, 1.0, 5.0, 25.0, 50.0, 75.0, 99.0, 99.9, 100.0}) {
    QCOMPARE(p.stats().percentile(pct), at(sorted, pct));
    QCOMPARE(p.stats().abs_percentile(pct), at(mags, pct));
    QCOMPARE(p.stats().abs_percentile(pct, true), at(nonzero, pct));
  }
}

void TestPyramid::percentilesOfF32WithinOneBf16Step() {
  const auto values = random_matrix(400, 250, 4, 0.0);
  ThreadPool pool(2);
  const auto p = TensorPyramid::of_values(std::make_shared<const std::vector<float>>(values), 400, 250, pool);
  std::vector<float> sorted(values);
  std::sort(sorted.begin(), sorted.end());
  for (double pct : {1.0, 10.0, 50.0, 90.0, 99.0}) {
    const float want = sorted[static_cast<std::size_t>(std::llround(pct / 100 * (sorted.size() - 1)))];
    const float got = p.stats().percentile(pct);
    // Truncated toward zero to 8 significant bits.
    QVERIFY2(std::fabs(got) <= std::fabs(want) && std::fabs(want - got) <= std::fabs(want) / 128,
             qPrintable(QStringLiteral("p%1: %2 vs %3").arg(pct).arg(got).arg(want)));
  }
}

void TestPyramid::errors() {
  ThreadPool pool(1);
  auto usage = [](auto&& fn, const char* what) {
    try {
      fn();
      QFAIL(qPrintable(QStringLiteral("no error: ") + what));
    } catch (const Error& e) {
      QVERIFY2(e.kind() == Error::Kind::Usage, e.what());
    }
  };
  const auto four = shared(Floats{1, 2, 3, 4});
  usage([&] { (void)TensorPyramid::of_values(four, 2, 3, pool); }, "size mismatch");
  usage([&] { (void)TensorPyramid::of_values(shared({}), 0, 5, pool); }, "empty");
  PyramidOptions none;
  none.max_abs = false;
  usage([&] { (void)TensorPyramid::of_values(four, 2, 2, pool, {}, none); }, "no reduction");
  PyramidOptions tiny;
  tiny.top_size = 1;
  const auto p = TensorPyramid::of_values(four, 2, 2, pool, {}, tiny);  // max-abs only
  QVERIFY(p.has(PyramidReduction::MaxAbs));
  QVERIFY(!p.has(PyramidReduction::Mean));
  usage([&] { (void)p.tile(1, 0, 0, 1, 1, PyramidReduction::Mean); }, "mean not built");
  usage([&] { (void)p.tile(2, 0, 0, 1, 1); }, "level too high");
  usage([&] { (void)p.tile(0, 1, 1, 2, 1); }, "tile outside");
  usage([&] { (void)p.tile(0, -1, 0, 1, 1); }, "negative tile");
  usage([&] { (void)p.view(0, 2, 0, 2, 0, 5); }, "zero width");
  usage([&] { (void)p.view(1, 1, 0, 2, 4, 4); }, "empty window");
  usage([&] { (void)p.view(0, 2, 0, 2, 1, 1, PyramidReduction::Mean); }, "mean view not built");

  // An empty tensor names itself.
  QTemporaryDir tmp;
  const auto path = std::filesystem::path(tmp.path().toStdString()) / "e.safetensors";
  write_safetensors(path, {TensorToWrite::from_floats("empty.weight", DType::F32, {0, 4}, {})});
  const Checkpoint c = open_checkpoint(path);
  try {
    (void)TensorPyramid::of_tensor(c.at("empty.weight"), pool);
    QFAIL("no error for an empty tensor");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
    QVERIFY2(QString(e.what()).contains(QStringLiteral("empty.weight")), e.what());
  }
}

void TestPyramid::cancelBeforeStart() {
  CancelToken cancel;
  cancel.cancel();
  JobControl control;
  control.cancel = &cancel;
  ThreadPool pool(2);
  try {
    (void)TensorPyramid::of_values(std::make_shared<const std::vector<float>>(1000, 1.0f), 10, 100, pool, control);
    QFAIL("not cancelled");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Cancelled);
  }
}

void TestPyramid::cancelWhileBuilding() {
  // Cancelled from the first progress report after work started: the build stops early.
  CancelToken cancel;
  std::atomic<std::int64_t> reads{0};
  JobControl control;
  control.cancel = &cancel;
  control.progress = [&](std::uint64_t done, std::uint64_t) {
    if (done > 0) cancel.cancel();
  };
  ThreadPool pool(2);
  const std::int64_t rows = 4096, cols = 4096;
  auto reader = [&](std::int64_t, std::span<float> out) {
    reads += static_cast<std::int64_t>(out.size());
    std::fill(out.begin(), out.end(), 0.5f);
  };
  try {
    (void)TensorPyramid::of_reader(reader, rows, cols, pool, control);
    QFAIL("not cancelled");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Cancelled);
  }
  QVERIFY2(reads < rows * cols / 2, qPrintable(QString::number(reads.load())));
}

void TestPyramid::progressCountsElements() {
  std::uint64_t last = 0, total = 0;
  JobControl control;
  control.progress = [&](std::uint64_t done, std::uint64_t all) {
    last = done;
    total = all;
  };
  ThreadPool pool(2);
  (void)TensorPyramid::of_values(std::make_shared<const std::vector<float>>(300 * 1000, 1.0f), 300, 1000, pool, control);
  QCOMPARE(total, std::uint64_t{300000});
  QCOMPARE(last, std::uint64_t{300000});
}

void TestPyramid::largeTensorTiming() {
  // The responsiveness case: a 4096 x 11008 BF16 tensor (LLaMA-7B's MLP). Writing the
  // 90 MB file takes a while, so this runs on request: PARAMSCOPE_BENCH=1.
  if (qEnvironmentVariableIntValue("PARAMSCOPE_BENCH") != 1) QSKIP("set PARAMSCOPE_BENCH=1 to time a 4096 x 11008 BF16 tensor");
  QTemporaryDir tmp;
  const auto path = std::filesystem::path(tmp.path().toStdString()) / "mlp.safetensors";
  const std::int64_t rows = 4096, cols = 11008;
  {
    const auto values = random_matrix(rows, cols, 1, 0.0);
    write_safetensors(path, {TensorToWrite::from_floats("mlp.up_proj.weight", DType::BF16, {rows, cols}, values)});
  }
  const Checkpoint c = open_checkpoint(path);
  ThreadPool& pool = ThreadPool::global();
  auto cpu_ms = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
  };
  for (bool mean : {false, true}) {
    PyramidOptions options;
    options.mean = mean;
    QElapsedTimer timer;
    const double cpu0 = cpu_ms();
    timer.start();
    const auto p = TensorPyramid::of_tensor(c.at("mlp.up_proj.weight"), pool, {}, options);
    const qint64 build = timer.nsecsElapsed();
    const double cpu = cpu_ms() - cpu0;
    timer.restart();
    const auto first = p.view(0, rows, 0, cols, 1200, 800);
    const qint64 view = timer.nsecsElapsed();
    timer.restart();
    const auto zoomed = p.view(1000, 1100, 5000, 5150, 1200, 800);
    const qint64 single = timer.nsecsElapsed();
    timer.restart();
    const auto mid = p.view(512, 2560, 1024, 5120, 1200, 800);  // level 0, minified
    const qint64 level0 = timer.nsecsElapsed();
    qInfo("%d threads, %s: build %.1f ms (CPU %.1f ms); whole view 1200x800 (level %d) %.1f ms; 2048x4096 window (level %d) "
          "%.1f ms; 100x150 window (level 0, magnified) %.1f ms; p1 %.4g p99 %.4g",
          pool.threads(), mean ? "max-abs + mean" : "max-abs", build / 1e6, cpu, p.view_level(0, rows, 0, cols, 1200, 800),
          view / 1e6, p.view_level(512, 2560, 1024, 5120, 1200, 800), level0 / 1e6, single / 1e6,
          p.stats().percentile(1), p.stats().percentile(99));
    QCOMPARE(first.size(), std::size_t{1200 * 800});
    QVERIFY(!std::isnan(zoomed[0]) && !std::isnan(mid[0]));
    QVERIFY((build + view) / 1e9 < 1.0);
  }
}

// The distribution view's histogram comes from the build's statistics: hand-checked counts.
void TestPyramid::statsHistogram_data() {
  QTest::addColumn<QList<float>>("values");
  QTest::addColumn<int>("bins");
  QTest::addColumn<double>("lo");
  QTest::addColumn<double>("hi");
  QTest::addColumn<QList<double>>("counts");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  QTest::newRow("0..3 in 3 bins") << QList<float>{0, 1, 2, 3} << 3 << 0.0 << 3.0 << QList<double>{1, 1, 2};
  QTest::newRow("signed, NaN left out") << QList<float>{-1, -0.5f, nan, 0.5f, 1, 1} << 4 << -1.0 << 1.0
                                         << QList<double>{1, 1, 0, 3};  // 0.5 opens the last bin
  QTest::newRow("constant") << QList<float>{2, 2, 2} << 2 << 1.5 << 2.5 << QList<double>{0, 3};
  QTest::newRow("nothing finite") << QList<float>{nan} << 2 << 0.0 << 1.0 << QList<double>{0, 0};
}

void TestPyramid::statsHistogram() {
  QFETCH(QList<float>, values);
  QFETCH(int, bins);
  QFETCH(double, lo);
  QFETCH(double, hi);
  QFETCH(QList<double>, counts);
  ValueStats s;
  const std::vector<float> v(values.begin(), values.end());
  s.add(v);
  double l = -9, h = -9;
  const std::vector<double> got = s.histogram(bins, l, h);
  QCOMPARE(l, lo);
  QCOMPARE(h, hi);
  QCOMPARE(QList<double>(got.begin(), got.end()), counts);
}

QTEST_GUILESS_MAIN(TestPyramid)
#include "test_pyramid.moc"
