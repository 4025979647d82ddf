// RISE: saliency against the formula evaluated by numpy on toy models with explicit masks; the
// generated masks against a Python re-implementation of the same draw upsampled by scipy's zoom
// (skimage's resize with order=1, mode='reflect', as the RISE paper's code); mask statistics;
// real properties of maps on the digits CNN and a tabular model; progress, early stop,
// cancellation and bad options. References: tests/xai/references/make_rise_refs.py.
#include <QTest>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "error_kind.h"
#include "paramscope/attribution.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "test_paths.h"
#include "xai/rise_masks.h"

using namespace paramscope;
using namespace paramscope::xai;

Q_DECLARE_METATYPE(std::vector<std::int64_t>)
Q_DECLARE_METATYPE(std::vector<int>)

namespace {

std::filesystem::path ref_path(const std::string& name) {
  return test::data("xai/rise/" + name);
}
Array npy(const std::string& name) {
  return read_npy(ref_path(name));
}
std::vector<double> values(const Array& a) {
  const Array d = a.cast(DType::F64);
  return {d.data<double>(), d.data<double>() + d.size()};
}
// max |a - b| / max(1, |b|), after checking the shapes
double rel_diff(const Array& a, const Array& b) {
  if (a.shape() != b.shape()) {
    qWarning() << "shapes" << shape_string(a.shape()).c_str() << shape_string(b.shape()).c_str();
    return INFINITY;
  }
  const std::vector<double> x = values(a), y = values(b);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::fabs(x[i] - y[i]) / std::max(1.0, std::fabs(y[i])));
  return worst;
}
const engine::Model& digits() {
  static const engine::Model m = engine::Model::load(test::samples_dir() / "digits-cnn/model.onnx");
  return m;
}
const engine::Model& toy(const std::string& name) {
  static std::map<std::string, engine::Model> models;
  auto it = models.find(name);
  if (it == models.end()) it = models.emplace(name, engine::Model::load(ref_path(name + ".onnx"))).first;
  return it->second;
}
double softmax_of(const float* row, int k, std::int64_t c) {
  double m = row[0], s = 0;
  for (int j = 1; j < k; ++j) m = std::max(m, static_cast<double>(row[j]));
  for (int j = 0; j < k; ++j) s += std::exp(row[j] - m);
  return std::exp(row[c] - m) / s;
}

}  // namespace

class TestRise : public QObject {
  Q_OBJECT

 private slots:
  // saliency = sum_i score(x * M_i) M_i / (N p) with the masks given, as numpy computes it
  void explicitMasks_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("masks");
    QTest::addColumn<std::vector<std::int64_t>>("classes");
    QTest::addColumn<bool>("softmax");
    QTest::addColumn<std::vector<int>>("axes");
    QTest::addColumn<double>("p");
    QTest::addColumn<QString>("expected");
    QTest::addColumn<bool>("with_channel");  // the file as [N, 1, *sizes], as the RISE code saves it
    using V = std::vector<std::int64_t>;
    QTest::newRow("NCHW raw fixed classes") << "linear"
                                            << "linear_x.npy"
                                            << "linear_masks.npy" << V{0, 2} << false << std::vector<int>{} << 0.5
                                            << "linear_expected_raw_fixed.npy" << false;
    QTest::newRow("NCHW [N,1,H,W] masks") << "linear"
                                          << "linear_x.npy"
                                          << "linear_masks.npy" << V{0, 2} << false << std::vector<int>{} << 0.5
                                          << "linear_expected_raw_fixed.npy" << true;
    QTest::newRow("NCHW softmax top class")
        << "linear"
        << "linear_x.npy"
        << "linear_masks.npy" << V{} << true << std::vector<int>{} << 0.5 << "linear_expected_softmax_top.npy" << false;
    QTest::newRow("NHWC axes 1,2") << "linear"
                                   << "linear_x_nhwc.npy"
                                   << "linear_masks.npy" << V{0, 2} << false << std::vector<int>{1, 2} << 0.5
                                   << "linear_expected_nhwc_raw_fixed.npy" << false;
    QTest::newRow("tabular 1-D bool masks")
        << "tabular"
        << "tabular_x.npy"
        << "tabular_masks.npy" << V{1} << false << std::vector<int>{} << 0.25 << "tabular_expected.npy" << false;
    QTest::newRow("tabular model of batch 1")
        << "tabular_fixed"
        << "tabular_x.npy"
        << "tabular_masks.npy" << V{1} << false << std::vector<int>{} << 0.25 << "tabular_expected.npy" << false;
  }
  void explicitMasks() {
    QFETCH(QString, model);
    QFETCH(QString, input);
    QFETCH(QString, masks);
    QFETCH(std::vector<std::int64_t>, classes);
    QFETCH(bool, softmax);
    QFETCH(std::vector<int>, axes);
    QFETCH(double, p);
    QFETCH(QString, expected);
    QFETCH(bool, with_channel);
    const Array x = npy(input.toStdString());
    Array m = npy(masks.toStdString());
    if (with_channel) {
      std::vector<std::int64_t> s = m.shape();
      s.insert(s.begin() + 1, 1);
      m = m.reshaped(s);
    }
    const Array want = npy(expected.toStdString());
    Target t;
    t.classes = classes;
    t.softmax = softmax;
    for (const std::int64_t batch : {1, 3, 64}) {
      RiseOptions o;
      o.p = p;
      o.axes = axes;
      o.batch = batch;
      o.masks = 2;  // ignored: the file has its own count
      o.mask_file = m;
      const Attribution a = rise(toy(model.toStdString()), x, t, o);
      QCOMPARE(a.map.type(), DType::F32);
      QVERIFY2(rel_diff(a.map, want) < 2e-6, qPrintable(QString("batch %1: %2").arg(batch).arg(rel_diff(a.map, want))));
      QCOMPARE(a.classes.size(), static_cast<std::size_t>(x.dim(0)));
      QCOMPARE(a.score.size(), static_cast<std::size_t>(x.dim(0)));
      if (classes.empty()) {
        const Array top = npy("linear_top.npy");
        for (std::size_t b = 0; b < a.classes.size(); ++b) QCOMPARE(a.classes[b], top.data<std::int64_t>()[b]);
      } else {
        for (std::size_t b = 0; b < a.classes.size(); ++b)
          QCOMPARE(a.classes[b], classes.size() == 1 ? classes[0] : classes[b]);
      }
      QVERIFY(a.delta.empty());
    }
  }

  // rise_masks and the draw behind it against the Python re-implementation (scipy zoom = skimage)
  void generatedMasks_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<std::vector<std::int64_t>>("sizes");
    QTest::addColumn<int>("cells");
    QTest::addColumn<double>("p");
    QTest::addColumn<quint64>("seed");
    QTest::addColumn<int>("first");
    QTest::addColumn<int>("n");
    using V = std::vector<std::int64_t>;
    QTest::newRow("13x10 s3") << "a" << V{13, 10} << 3 << 0.4 << quint64{7} << 0 << 6;
    QTest::newRow("13x10 s3 from 1000") << "b" << V{13, 10} << 3 << 0.4 << quint64{7} << 1000 << 3;
    QTest::newRow("8x8 s4") << "c" << V{8, 8} << 4 << 0.5 << quint64{0} << 0 << 5;
    QTest::newRow("1-D 11 s4") << "d" << V{11} << 4 << 0.6 << quint64{3} << 0 << 5;
    QTest::newRow("3-D 5x6x7 s2") << "e" << V{5, 6, 7} << 2 << 0.5 << quint64{11} << 2 << 4;
    QTest::newRow("30x17 s7 big seed") << "f" << V{30, 17} << 7 << 0.5 << quint64{12345678901234} << 0 << 4;
    QTest::newRow("9x9 s1") << "g" << V{9, 9} << 1 << 0.5 << quint64{1} << 0 << 8;
  }
  void generatedMasks() {
    QFETCH(QString, name);
    QFETCH(std::vector<std::int64_t>, sizes);
    QFETCH(int, cells);
    QFETCH(double, p);
    QFETCH(quint64, seed);
    QFETCH(int, first);
    QFETCH(int, n);
    const std::string k = name.toStdString();
    RiseOptions o;
    o.cells = cells;
    o.p = p;
    o.seed = seed;
    const Array masks = rise_masks(sizes, o, first, n);
    QVERIFY2(rel_diff(masks, npy("masks_" + k + ".npy")) < 1e-6,
             qPrintable(QString::number(rel_diff(masks, npy("masks_" + k + ".npy")))));
    // the draws themselves
    const rise_detail::MaskGeometry g = rise_detail::geometry(sizes, cells, p);
    const Array grids = npy("draws_" + k + "_grid.npy"), shifts = npy("draws_" + k + "_shift.npy");
    for (int i = 0; i < n; ++i) {
      const rise_detail::MaskDraw d = rise_detail::draw(g, p, seed, first + i);
      QCOMPARE(static_cast<std::int64_t>(d.grid.size()), g.grid_size());
      for (std::size_t j = 0; j < d.grid.size(); ++j)
        QCOMPARE(d.grid[j],
                 grids.data<float>()[static_cast<std::int64_t>(i) * g.grid_size() + static_cast<std::int64_t>(j)]);
      for (std::size_t a = 0; a < sizes.size(); ++a)
        QCOMPARE(d.shift[a], shifts.data<std::int64_t>()[static_cast<std::size_t>(i) * sizes.size() + a]);
    }
  }

  // a known grid through the upsampling: one kept cell in a 3 x 3 grid over 6 x 6 (c = 2,
  // upsampled to 8 x 8); values by hand from the half-sample positions (o + 0.5) * 3/8 - 0.5
  void upsamplingByHand() {
    const rise_detail::MaskGeometry g = rise_detail::geometry({6, 6}, 3, 0.5);
    std::vector<float> grid(9, 0.0f);
    grid[4] = 1.0f;  // the centre cell
    std::vector<float> m(36);
    rise_detail::upsample_crop(g, grid.data(), {0, 0}, m.data());
    // along one axis, samples o = 0..5 of 8: src = -0.3125, 0.0625, 0.4375, 0.8125, 1.1875, 1.5625
    // the centre cell's weight: o=0 mirrored neighbours (1 -> 0.3125), 0.0625, 0.4375, 0.8125,
    // 1 - 0.1875, 1 - 0.5625
    const double w[6] = {0.3125, 0.0625, 0.4375, 0.8125, 0.8125, 0.4375};
    for (int r = 0; r < 6; ++r)
      for (int c = 0; c < 6; ++c) QCOMPARE(static_cast<double>(m[r * 6 + c]), w[r] * w[c]);
    // shifted by one sample along the last axis
    rise_detail::upsample_crop(g, grid.data(), {0, 1}, m.data());
    const double w1[6] = {0.0625, 0.4375, 0.8125, 0.8125, 0.4375, 0.0625};
    for (int r = 0; r < 6; ++r)
      for (int c = 0; c < 6; ++c) QCOMPARE(static_cast<double>(m[r * 6 + c]), w[r] * w1[c]);
  }

  void maskStatistics_data() {
    QTest::addColumn<std::vector<std::int64_t>>("sizes");
    QTest::addColumn<int>("cells");
    QTest::addColumn<double>("p");
    using V = std::vector<std::int64_t>;
    QTest::newRow("32x32 s7 p0.5") << V{32, 32} << 7 << 0.5;
    QTest::newRow("32x32 s7 p0.2") << V{32, 32} << 7 << 0.2;
    QTest::newRow("28x20 s4 p0.8") << V{28, 20} << 4 << 0.8;
    QTest::newRow("1-D 100 s10 p0.7") << V{100} << 10 << 0.7;
    QTest::newRow("3-D 6x7x8 s3 p0.4") << V{6, 7, 8} << 3 << 0.4;
  }
  void maskStatistics() {
    QFETCH(std::vector<std::int64_t>, sizes);
    QFETCH(int, cells);
    QFETCH(double, p);
    RiseOptions o;
    o.cells = cells;
    o.p = p;
    o.seed = 42;
    const std::int64_t n = 600;
    const Array masks = rise_masks(sizes, o, 0, n);
    std::vector<std::int64_t> shape{n};
    shape.insert(shape.end(), sizes.begin(), sizes.end());
    QCOMPARE(masks.shape(), shape);
    const std::vector<double> v = values(masks);
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    QVERIFY2(std::fabs(mean - p) < 0.02, qPrintable(QString("mean %1, p %2").arg(mean).arg(p)));
    QVERIFY(*std::min_element(v.begin(), v.end()) >= 0.0);
    QVERIFY(*std::max_element(v.begin(), v.end()) <= 1.0);
    // not all binary: upsampled, so values strictly between 0 and 1 occur
    QVERIFY(std::any_of(v.begin(), v.end(), [](double x) { return x > 0.05 && x < 0.95; }));
    // reproducible; mask i the same whatever range it is made in; another seed differs
    QCOMPARE(rel_diff(rise_masks(sizes, o, 0, n), masks), 0.0);
    const Array part = rise_masks(sizes, o, 17, 5);
    QCOMPARE(rel_diff(part, masks.rows(17, 5)), 0.0);
    RiseOptions other = o;
    other.seed = 43;
    QVERIFY(rel_diff(rise_masks(sizes, other, 0, 20), masks.rows(0, 20)) > 0.5);
    // the grid keeps a share p of cells; shifts cover [0, c) uniformly
    const rise_detail::MaskGeometry g = rise_detail::geometry(sizes, cells, p);
    const int draws = 4000;
    double kept = 0;
    std::vector<std::vector<int>> counts(sizes.size());
    for (std::size_t a = 0; a < sizes.size(); ++a) {
      QCOMPARE(g.cell[a], (sizes[a] + cells - 1) / cells);
      counts[a].assign(static_cast<std::size_t>(g.cell[a]), 0);
    }
    for (int i = 0; i < draws; ++i) {
      const rise_detail::MaskDraw d = rise_detail::draw(g, p, o.seed, i);
      kept += std::accumulate(d.grid.begin(), d.grid.end(), 0.0);
      for (std::size_t a = 0; a < sizes.size(); ++a) {
        QVERIFY(d.shift[a] >= 0 && d.shift[a] < g.cell[a]);
        ++counts[a][static_cast<std::size_t>(d.shift[a])];
      }
    }
    const double share = kept / (static_cast<double>(draws) * static_cast<double>(g.grid_size()));
    QVERIFY2(std::fabs(share - p) < 0.01, qPrintable(QString::number(share)));
    for (const auto& c : counts)
      for (const int k : c) {
        const double expect = static_cast<double>(draws) / static_cast<double>(c.size());
        QVERIFY2(std::fabs(k - expect) < 5 * std::sqrt(expect), qPrintable(QString("%1 vs %2").arg(k).arg(expect)));
      }
  }

  void constantMasks() {
    RiseOptions o;
    o.p = 1.0;
    o.cells = 5;
    const Array ones = rise_masks({17, 9}, o, 0, 20);
    for (const double v : values(ones)) QCOMPARE(v, 1.0);
    // s = 1: one cell, so each mask is all 0 or all 1, and about a share p of them are 1
    o.cells = 1;
    o.p = 0.3;
    const std::int64_t n = 1000;
    const Array one_cell = rise_masks({6, 5}, o, 0, n);
    int on = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float* m = one_cell.data<float>() + i * 30;
      QVERIFY(m[0] == 0.0f || m[0] == 1.0f);
      for (int k = 1; k < 30; ++k) QCOMPARE(m[k], m[0]);
      on += m[0] == 1.0f;
    }
    QVERIFY2(std::abs(on - 300) < 60, qPrintable(QString::number(on)));
  }

  // deleting the pixels RISE ranks highest lowers the class probability far more than deleting
  // as many random pixels
  void digitsSaliency() {
    const Array all = read_npy(test::samples_dir() / "digits-cnn/inputs.npy");
    const std::int64_t samples = 8, k = 12;
    const Array x = all.rows(0, samples);
    Target t;
    t.softmax = true;
    RiseOptions o;
    o.masks = 1000;
    o.cells = 4;
    o.p = 0.5;
    o.seed = 5;
    const Attribution a = rise(digits(), x, t, o);
    QCOMPARE(a.map.shape(), (std::vector<std::int64_t>{samples, 8, 8}));
    std::mt19937 gen(1);
    int better = 0;
    double top_sum = 0, random_sum = 0, full_sum = 0;
    for (std::int64_t b = 0; b < samples; ++b) {
      const float* map = a.map.data<float>() + b * 64;
      std::vector<int> order(64);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int i, int j) { return map[i] > map[j]; });
      const int sets = 20;
      Array batch(DType::F32, {1 + sets, 1, 8, 8});
      for (int r = 0; r <= sets; ++r) {
        float* dst = batch.data<float>() + r * 64;
        std::copy(x.data<float>() + b * 64, x.data<float>() + (b + 1) * 64, dst);
        std::vector<int> del(order.begin(), order.begin() + k);
        if (r > 0) {
          std::vector<int> perm(64);
          std::iota(perm.begin(), perm.end(), 0);
          std::shuffle(perm.begin(), perm.end(), gen);
          del.assign(perm.begin(), perm.begin() + k);
        }
        for (const int i : del) dst[i] = 0;
      }
      const Array out = digits().run({{"image", batch}})[0];
      const std::int64_t c = a.classes[static_cast<std::size_t>(b)];
      const double top = softmax_of(out.data<float>(), 10, c);
      double rnd = 0;
      for (int r = 1; r <= sets; ++r) rnd += softmax_of(out.data<float>() + r * 10, 10, c) / sets;
      better += top < rnd;
      top_sum += top;
      random_sum += rnd;
      full_sum += a.score[static_cast<std::size_t>(b)];
      QVERIFY(a.score[static_cast<std::size_t>(b)] > 0.5);  // a probability of the top class
    }
    qInfo("digits: p(class) full %.3f, top-%d deleted %.3f, random-%d deleted %.3f; top worse in %d of %d",
          full_sum / samples, static_cast<int>(k), top_sum / samples, static_cast<int>(k), random_sum / samples, better,
          static_cast<int>(samples));
    QVERIFY(better >= samples - 1);
    QVERIFY(top_sum / samples < random_sum / samples - 0.2);
  }

  // a tabular model whose class 1 reads only features 0..2: RISE over the feature axis finds them
  void tabularGenerated() {
    const Array x = npy("tabular_x.npy");
    Target t;
    t.classes = {1};
    RiseOptions o;
    o.masks = 2000;
    o.cells = 6;
    o.p = 0.5;
    const Attribution a = rise(toy("tabular"), x, t, o);
    QCOMPARE(a.map.shape(), (std::vector<std::int64_t>{1, 12}));
    const float* m = a.map.data<float>();
    const double informative = (m[0] + m[1] + m[2]) / 3, far = (m[9] + m[10] + m[11]) / 3;
    qInfo("tabular: informative %.3f, far %.3f", informative, far);
    QVERIFY(std::max_element(m, m + 12) - m <= 2);
    QVERIFY(informative > far + 0.2);
  }

  void progressAndEarlyStop() {
    const Array x = npy("linear_x.npy");
    Target t;
    t.classes = {0};
    RiseOptions o;
    o.masks = 100;
    o.batch = 16;
    o.cells = 2;
    std::vector<std::int64_t> counts;
    Array last;
    std::uint64_t job_done = 0, job_total = 0;
    JobControl control;
    control.progress = [&](std::uint64_t d, std::uint64_t n) {
      job_done = d;
      job_total = n;
    };
    const Attribution full = rise(
        toy("linear"), x, t, o,
        [&](const Attribution& partial, std::int64_t done) {
          counts.push_back(done);
          last = partial.map.clone();
          return true;
        },
        control);
    QCOMPARE(counts, (std::vector<std::int64_t>{16, 32, 48, 64, 80, 96, 100}));
    QCOMPARE(rel_diff(last, full.map), 0.0);
    QCOMPARE(job_done, std::uint64_t{100});
    QCOMPARE(job_total, std::uint64_t{100});

    // stopping after 32 masks gives the map of the first 32 masks
    counts.clear();
    const Attribution stopped = rise(toy("linear"), x, t, o, [&](const Attribution&, std::int64_t done) {
      counts.push_back(done);
      return done < 32;
    });
    QCOMPARE(counts, (std::vector<std::int64_t>{16, 32}));
    RiseOptions o32 = o;
    o32.masks = 32;
    QVERIFY(rel_diff(stopped.map, rise(toy("linear"), x, t, o32).map) < 1e-6);
    QVERIFY(rel_diff(stopped.map, full.map) > 1e-4);

    // partial maps are normalised by the masks so far: all-ones masks with p = 1 give f(x) at every step
    RiseOptions ones = o;
    ones.p = 1;
    ones.batch = 3;
    ones.mask_file = Array(DType::U8, {10, 4, 5});
    std::fill(ones.mask_file->data<std::uint8_t>(), ones.mask_file->data<std::uint8_t>() + 200, std::uint8_t{1});
    int calls = 0;
    rise(toy("linear"), x, t, ones, [&](const Attribution& partial, std::int64_t) {
      ++calls;
      for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t q = 0; q < 20; ++q)
          if (std::fabs(partial.map.data<float>()[b * 20 + q] - partial.score[static_cast<std::size_t>(b)]) >
              1e-5 * std::max(1.0, std::fabs(partial.score[static_cast<std::size_t>(b)])))
            return false;
      return true;
    });
    QCOMPARE(calls, 4);

    // cancelled
    CancelToken cancel;
    cancel.cancel();
    JobControl cancelled;
    cancelled.cancel = &cancel;
    QCOMPARE(test::error_of([&] { rise(toy("linear"), x, t, o, {}, cancelled); }), Error::Kind::Cancelled);
  }

  void badOptions_data() {
    QTest::addColumn<std::vector<std::int64_t>>("mask_shape");  // empty: no mask file
    QTest::addColumn<int>("cells");
    QTest::addColumn<double>("p");
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("masks");
    QTest::addColumn<std::vector<int>>("axes");
    QTest::addColumn<QString>("message");
    using V = std::vector<std::int64_t>;
    const std::vector<int> none;
    QTest::newRow("masks transposed") << V{7, 5, 4} << 7 << 0.5 << 8 << 10 << none << "[7, 5, 4]";
    QTest::newRow("masks flat") << V{7, 20} << 7 << 0.5 << 8 << 10 << none << "[N, 4, 5]";
    QTest::newRow("no masks in file") << V{0, 4, 5} << 7 << 0.5 << 8 << 10 << none << "N >= 1";
    QTest::newRow("masks with channels") << V{7, 3, 4, 5} << 7 << 0.5 << 8 << 10 << none << "[7, 3, 4, 5]";
    QTest::newRow("one mask without N") << V{4, 5} << 7 << 0.5 << 8 << 10 << none << "[4, 5]";
    QTest::newRow("cells 0") << V{} << 0 << 0.5 << 8 << 10 << none << "cell";
    QTest::newRow("p 0") << V{} << 7 << 0.0 << 8 << 10 << none << "(0, 1]";
    QTest::newRow("p 1.5") << V{} << 7 << 1.5 << 8 << 10 << none << "(0, 1]";
    QTest::newRow("p 0 with a file") << V{7, 4, 5} << 7 << 0.0 << 8 << 10 << none << "(0, 1]";
    QTest::newRow("batch 0") << V{} << 7 << 0.5 << 0 << 10 << none << "batch";
    QTest::newRow("masks 0") << V{} << 7 << 0.5 << 8 << 0 << none << "mask";
    QTest::newRow("axis 0") << V{} << 7 << 0.5 << 8 << 10 << std::vector<int>{0} << "axis";
  }
  void badOptions() {
    QFETCH(std::vector<std::int64_t>, mask_shape);
    QFETCH(int, cells);
    QFETCH(double, p);
    QFETCH(int, batch);
    QFETCH(int, masks);
    QFETCH(std::vector<int>, axes);
    QFETCH(QString, message);
    const Array x = npy("linear_x.npy");
    RiseOptions o;
    o.cells = cells;
    o.p = p;
    o.batch = batch;
    o.masks = masks;
    o.axes = axes;
    if (!mask_shape.empty()) o.mask_file = Array(DType::F32, mask_shape);
    std::string what;
    QCOMPARE(test::kind_name(test::error_of([&] { rise(toy("linear"), x, Target{}, o); }, &what)), "Usage");
    QVERIFY2(what.find(message.toStdString()) != std::string::npos, what.c_str());
  }
};

QTEST_GUILESS_MAIN(TestRise)
#include "test_rise.moc"
