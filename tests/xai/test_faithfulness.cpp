// Deletion and insertion curves: hand-computed curves on a linear model (toy_linear.onnx,
// logits = [v . x, -(v . x)] with v = 1), RISE's CausalMetric re-implemented in torch on the
// digits CNN (tests/xai/references/make_gradient_refs.py), the step schedule, the ties rule and
// refused map shapes.
#include <QTest>

#include <cmath>

#include "error_kind.h"
#include "paramscope/attribution.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "test_paths.h"
#include "xai/curve_features.h"

using namespace paramscope;
using engine::Model;
using Substrate = xai::CurveOptions::Substrate;
namespace fs = std::filesystem;

Q_DECLARE_METATYPE(Substrate)

namespace {

fs::path refs(const std::string& rel) {
  return test::data("xai") / "gradients" / rel;
}

std::vector<double> values(const Array& a) {
  const Array f = a.cast(DType::F64);
  const auto v = f.values<double>();
  return {v.begin(), v.end()};
}

// The toy sample [1, 2, 2, 2]: channel 0 = [1, 2, 3, 4], channel 1 = 0.5 everywhere, so feature
// (pixel) f contributes c_f = [1.5, 2.5, 3.5, 4.5] to the class-0 logit 12.
Array toy_x() {
  return Array::of<float>({1, 2, 2, 2}, {1, 2, 3, 4, 0.5f, 0.5f, 0.5f, 0.5f});
}

QString mismatch(const char* what, const std::vector<double>& got, const QVector<double>& want) {
  QString s = QString(what) + ": got";
  for (double v : got) s += " " + QString::number(v);
  s += ", expected";
  for (double v : want) s += " " + QString::number(v);
  return s;
}

bool same(const std::vector<double>& got, const QVector<double>& want, double tol) {
  if (got.size() != static_cast<std::size_t>(want.size())) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[static_cast<qsizetype>(i)]) <= tol)) return false;
  return true;
}

double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double a = 0;
  for (std::size_t i = 1; i < x.size(); ++i) a += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return a;
}

}  // namespace

class TestFaithfulness : public QObject {
  Q_OBJECT

 private slots:
  void schedule_data() {
    QTest::addColumn<qint64>("features");
    QTest::addColumn<qint64>("steps");
    QTest::addColumn<qint64>("step");
    QTest::addColumn<qint64>("points");
    QTest::newRow("64 in 16 steps of 4") << qint64(64) << qint64(16) << qint64(4) << qint64(17);
    QTest::newRow("64 in 10: 7 a step, 10 steps") << qint64(64) << qint64(10) << qint64(7) << qint64(11);
    QTest::newRow("64 in 100: 1 a step, 64 steps") << qint64(64) << qint64(100) << qint64(1) << qint64(65);
    QTest::newRow("50176 (224^2) in 224") << qint64(50176) << qint64(224) << qint64(224) << qint64(225);
    QTest::newRow("10 in 4: 3 a step, 4 steps") << qint64(10) << qint64(4) << qint64(3) << qint64(5);
    QTest::newRow("10 in 6: 2 a step, only 5 steps") << qint64(10) << qint64(6) << qint64(2) << qint64(6);
    QTest::newRow("1 in 1") << qint64(1) << qint64(1) << qint64(1) << qint64(2);
  }
  void schedule() {
    QFETCH(qint64, features);
    QFETCH(qint64, steps);
    QFETCH(qint64, step);
    QFETCH(qint64, points);
    const xai::CurveSteps c = xai::curve_steps(features, steps);
    QCOMPARE(c.step, step);
    QCOMPARE(c.points, points);
  }

  void feature_ids_and_order() {
    // NCHW [*, 2, 2, 3] over {2, 3}: the channels share the pixel's id.
    QCOMPARE(xai::feature_ids({1, 2, 2, 3}, {2, 3}), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}));
    // NHWC [*, 2, 3, 2] over {1, 2}: the last axis shares it.
    QCOMPARE(xai::feature_ids({1, 2, 3, 2}, {1, 2}), (std::vector<std::int64_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}));
    // [*, 3, 2] over {1} (a sequence of 3 with 2 channels).
    QCOMPARE(xai::feature_ids({1, 3, 2}, {1}), (std::vector<std::int64_t>{0, 0, 1, 1, 2, 2}));
    // [*, 2, 3] over {2}.
    QCOMPARE(xai::feature_ids({1, 2, 3}, {2}), (std::vector<std::int64_t>{0, 1, 2, 0, 1, 2}));
    const float v[] = {0.5f, 2, NAN, 2, -1, 0.5f};
    QCOMPARE(xai::feature_order(v, 6), (std::vector<std::int64_t>{1, 3, 0, 5, 4, 2}));
  }

  // The toy model's curves by hand. Deletion of the features in the order o removes c_o one by
  // one from 12; insertion adds them to the substrate's score. AUC: trapezoid over the fraction.
  void toy_curves_data() {
    QTest::addColumn<QVector<float>>("map");
    QTest::addColumn<bool>("spatial");  ///< map [1, 2, 2] (else x's shape [1, 2, 2, 2])
    QTest::addColumn<qint64>("steps");
    QTest::addColumn<Substrate>("substrate");  ///< both curves'
    QTest::addColumn<double>("value");
    QTest::addColumn<qint64>("cls");  ///< -1: the top class
    QTest::addColumn<QVector<double>>("fraction");
    QTest::addColumn<QVector<double>>("del");
    QTest::addColumn<QVector<double>>("ins");
    QTest::addColumn<double>("del_auc");
    QTest::addColumn<double>("ins_auc");
    const QVector<float> ranked{0.1f, 0.4f, 0.3f, 0.2f};  // order 1, 2, 3, 0
    const QVector<double> quarters{0, 0.25, 0.5, 0.75, 1};
    QTest::newRow("order 1 2 3 0, 4 steps")
        << ranked << true << qint64(4) << Substrate::Zeros << 0.0 << qint64(-1) << quarters
        << QVector<double>{12, 9.5, 6, 1.5, 0} << QVector<double>{0, 2.5, 6, 10.5, 12} << 5.75 << 6.25;
    QTest::newRow("100 steps: 1 pixel a step")
        << ranked << true << qint64(100) << Substrate::Zeros << 0.0 << qint64(-1) << quarters
        << QVector<double>{12, 9.5, 6, 1.5, 0} << QVector<double>{0, 2.5, 6, 10.5, 12} << 5.75 << 6.25;
    QTest::newRow("2 steps") << ranked << true << qint64(2) << Substrate::Zeros << 0.0 << qint64(-1)
                             << QVector<double>{0, 0.5, 1} << QVector<double>{12, 6, 0} << QVector<double>{0, 6, 12}
                             << 6.0 << 6.0;
    QTest::newRow("3 steps: 2 pixels a step, 2 steps")
        << ranked << true << qint64(3) << Substrate::Zeros << 0.0 << qint64(-1) << QVector<double>{0, 0.5, 1}
        << QVector<double>{12, 6, 0} << QVector<double>{0, 6, 12} << 6.0 << 6.0;
    // channel sums [0.6, 0.4, 0.3, 0.2]: order 0 1 2 3
    QTest::newRow("x-shaped map: summed over channels")
        << QVector<float>{0.1f, 0.4f, 0.3f, 0.2f, 0.5f, 0, 0, 0} << false << qint64(4) << Substrate::Zeros << 0.0
        << qint64(-1) << quarters << QVector<double>{12, 10.5, 8, 4.5, 0} << QVector<double>{0, 1.5, 4, 7.5, 12} << 7.25
        << 4.75;
    QTest::newRow("ties by lower index: order 1 2 0 3")
        << QVector<float>{0.2f, 0.4f, 0.4f, 0.2f} << true << qint64(4) << Substrate::Zeros << 0.0 << qint64(-1)
        << quarters << QVector<double>{12, 9.5, 6, 4.5, 0} << QVector<double>{0, 2.5, 6, 7.5, 12} << 6.5 << 5.5;
    QTest::newRow("NaN ranks last") << QVector<float>{NAN, 0.4f, 0.3f, 0.2f} << true << qint64(4) << Substrate::Zeros
                                    << 0.0 << qint64(-1) << quarters << QVector<double>{12, 9.5, 6, 1.5, 0}
                                    << QVector<double>{0, 2.5, 6, 10.5, 12} << 5.75 << 6.25;
    // a deleted pixel becomes 1 in both channels (2 to the logit); insertion starts from 8
    QTest::newRow("constant substrate 1")
        << ranked << true << qint64(4) << Substrate::Constant << 1.0 << qint64(-1) << quarters
        << QVector<double>{12, 11.5, 10, 7.5, 8} << QVector<double>{8, 8.5, 10, 12.5, 12} << 9.75 << 10.25;
    QTest::newRow("class 1 (the negated logit)")
        << ranked << true << qint64(4) << Substrate::Zeros << 0.0 << qint64(1) << quarters
        << QVector<double>{-12, -9.5, -6, -1.5, 0} << QVector<double>{0, -2.5, -6, -10.5, -12} << -5.75 << -6.25;
  }
  void toy_curves() {
    QFETCH(QVector<float>, map);
    QFETCH(bool, spatial);
    QFETCH(qint64, steps);
    QFETCH(Substrate, substrate);
    QFETCH(double, value);
    QFETCH(qint64, cls);
    QFETCH(QVector<double>, fraction);
    QFETCH(QVector<double>, del);
    QFETCH(QVector<double>, ins);
    QFETCH(double, del_auc);
    QFETCH(double, ins_auc);
    const Model m = Model::load(refs("toy_linear.onnx"));
    const Array mp =
        Array::of<float>(spatial ? std::vector<std::int64_t>{1, 2, 2} : std::vector<std::int64_t>{1, 2, 2, 2},
                         std::span<const float>(map.data(), static_cast<std::size_t>(map.size())));
    xai::Target t;
    if (cls >= 0) t.classes = {cls};
    for (const bool softmax : {false, true}) {
      xai::CurveOptions o;
      o.steps = steps;
      o.deletion_substrate = o.insertion_substrate = substrate;
      o.value = value;
      o.softmax = softmax;
      o.batch = 3;
      const xai::Faithfulness f = xai::faithfulness(m, toy_x(), mp, t, o);
      QCOMPARE(f.deletion.size(), std::size_t(1));
      QCOMPARE(f.insertion.size(), std::size_t(1));
      const xai::Curve& d = f.deletion[0];
      const xai::Curve& i = f.insertion[0];
      QVERIFY2(same(d.fraction, fraction, 0), qPrintable(mismatch("fraction", d.fraction, fraction)));
      QVERIFY2(same(i.fraction, fraction, 0), qPrintable(mismatch("fraction", i.fraction, fraction)));
      // softmax of [s, -s]: p_0 = 1 / (1 + e^(-2s)); the class-1 rows hold -s already.
      QVector<double> dw = del, iw = ins;
      if (softmax) {
        for (double& s : dw) s = 1 / (1 + std::exp(-2 * s));
        for (double& s : iw) s = 1 / (1 + std::exp(-2 * s));
      }
      QVERIFY2(same(d.score, dw, 1e-6), qPrintable(mismatch("deletion", d.score, dw)));
      QVERIFY2(same(i.score, iw, 1e-6), qPrintable(mismatch("insertion", i.score, iw)));
      const std::vector<double> fr(fraction.begin(), fraction.end());
      const double da = softmax ? trapezoid(fr, {dw.begin(), dw.end()}) : del_auc;
      const double ia = softmax ? trapezoid(fr, {iw.begin(), iw.end()}) : ins_auc;
      QVERIFY2(std::fabs(d.auc - da) < 1e-6, qPrintable(QString("deletion auc %1, expected %2").arg(d.auc).arg(da)));
      QVERIFY2(std::fabs(i.auc - ia) < 1e-6, qPrintable(QString("insertion auc %1, expected %2").arg(i.auc).arg(ia)));
    }
  }

  // Samples of a batch keep their own maps and curves, and the run size changes nothing.
  void batches_and_run_sizes() {
    const Model m = Model::load(refs("toy_linear.onnx"));
    Array x(DType::F32, {2, 2, 2, 2});
    const auto one = values(toy_x());
    for (std::size_t i = 0; i < 16; ++i) x.data<float>()[i] = static_cast<float>(one[i % 8] * (i < 8 ? 1 : 2));
    // sample 0: order 1 2 3 0; sample 1 (twice the values): order 3 2 1 0
    const Array mp = Array::of<float>({2, 2, 2}, {0.1f, 0.4f, 0.3f, 0.2f, 0.1f, 0.2f, 0.3f, 0.4f});
    std::vector<std::vector<double>> first;
    for (const std::int64_t batch : {1, 3, 64}) {
      xai::CurveOptions o;
      o.steps = 4;
      o.softmax = false;
      o.insertion_substrate = Substrate::Zeros;
      o.batch = batch;
      const auto f = xai::faithfulness(m, x, mp, {}, o);
      QCOMPARE(f.deletion.size(), std::size_t(2));
      QCOMPARE(f.deletion[0].score, (std::vector<double>{12, 9.5, 6, 1.5, 0}));
      QCOMPARE(f.deletion[1].score, (std::vector<double>{24, 15, 8, 3, 0}));
      QCOMPARE(f.insertion[1].score, (std::vector<double>{0, 9, 16, 21, 24}));
    }
  }

  // A model whose input fixes the batch size to 1 (toy_linear_b1.onnx) gives the same curves.
  void fixed_batch_model() {
    const Model free = Model::load(refs("toy_linear.onnx"));
    const Model one = Model::load(refs("toy_linear_b1.onnx"));
    QCOMPARE(one.inputs()[0].shape, (std::vector<std::int64_t>{1, 2, 2, 2}));
    Array x(DType::F32, {2, 2, 2, 2});
    const auto v = values(toy_x());
    for (std::size_t i = 0; i < 16; ++i) x.data<float>()[i] = static_cast<float>(v[i % 8] * (i < 8 ? 1 : 2));
    const Array mp = Array::of<float>({2, 2, 2}, {0.1f, 0.4f, 0.3f, 0.2f, 0.1f, 0.2f, 0.3f, 0.4f});
    xai::CurveOptions o;
    o.steps = 4;
    o.batch = 3;
    const auto a = xai::faithfulness(free, x, mp, {}, o), b = xai::faithfulness(one, x, mp, {}, o);
    for (std::size_t s = 0; s < 2; ++s) {
      QCOMPARE(b.deletion[s].score, a.deletion[s].score);
      QCOMPARE(b.insertion[s].score, a.insertion[s].score);
    }
    QVERIFY(std::fabs(b.deletion[1].score[1] - 1 / (1 + std::exp(-30.0))) < 1e-9);  // logits [15, -15]
  }

  // The digits CNN against RISE's CausalMetric (softmax probabilities of the top class).
  void digits_match_rise_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<qint64>("steps");
    QTest::addColumn<Substrate>("del_substrate");
    QTest::addColumn<Substrate>("ins_substrate");
    QTest::addColumn<double>("value");
    QTest::addColumn<double>("sigma");
    QTest::newRow("random map, 16 steps, zeros / blur 1")
        << "rand_s16" << qint64(16) << Substrate::Zeros << Substrate::Blur << 0.0 << 1.0;
    QTest::newRow("gradient x input (ties), 10 steps, 0.5 / blur 2")
        << "gxi_s10" << qint64(10) << Substrate::Constant << Substrate::Blur << 0.5 << 2.0;
  }
  void digits_match_rise() {
    QFETCH(QString, name);
    QFETCH(qint64, steps);
    QFETCH(Substrate, del_substrate);
    QFETCH(Substrate, ins_substrate);
    QFETCH(double, value);
    QFETCH(double, sigma);
    const std::string n = name.toStdString();
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = read_npy(refs("digits_x.npy"));
    const Array mp = read_npy(refs(n == "rand_s16" ? "faith_rand_map.npy" : "digits_gxi.npy"));
    std::map<std::string, std::vector<double>> ref;
    for (const auto& [key, a] : read_npz(refs("faith_" + n + ".npz"))) ref[key] = values(a);
    xai::CurveOptions o;
    o.steps = steps;
    o.deletion_substrate = del_substrate;
    o.insertion_substrate = ins_substrate;
    o.value = value;
    o.sigma = sigma;
    o.batch = 16;
    const xai::Faithfulness f = xai::faithfulness(m, x, mp, {}, o);
    const std::size_t points = ref["fraction"].size();
    double worst = 0;
    for (std::size_t b = 0; b < 4; ++b) {
      for (int c = 0; c < 2; ++c) {
        const xai::Curve& curve = c == 0 ? f.deletion[b] : f.insertion[b];
        const std::vector<double>& r = ref[c == 0 ? "del" : "ins"];
        QCOMPARE(curve.fraction, ref["fraction"]);
        QCOMPARE(curve.score.size(), points);
        std::vector<double> want(r.begin() + static_cast<std::ptrdiff_t>(b * points),
                                 r.begin() + static_cast<std::ptrdiff_t>((b + 1) * points));
        for (std::size_t i = 0; i < points; ++i) worst = std::max(worst, std::fabs(curve.score[i] - want[i]));
        QVERIFY(std::fabs(curve.auc - trapezoid(curve.fraction, want)) < 1e-5);
        if (n == "rand_s16") {
          // 4 pixels a step divide 64: RISE's own auc(arr) = (sum - ends / 2) / (len - 1)
          double s = 0;
          for (double v : want) s += v;
          const double rise_auc = (s - want.front() / 2 - want.back() / 2) / static_cast<double>(points - 1);
          QVERIFY(std::fabs(curve.auc - rise_auc) < 1e-5);
        }
      }
    }
    qInfo("%s: largest score difference %.3g", n.c_str(), worst);
    QVERIFY2(worst < 1e-5, qPrintable(QString::number(worst)));
  }

  void bad_requests_data() {
    QTest::addColumn<QVector<qint64>>("map_shape");
    QTest::addColumn<qint64>("steps");
    QTest::addColumn<qint64>("batch");
    QTest::addColumn<double>("sigma");
    QTest::newRow("map [1, 3, 2]") << QVector<qint64>{1, 3, 2} << qint64(4) << qint64(8) << 5.0;
    QTest::newRow("map without the batch [2, 2]") << QVector<qint64>{2, 2} << qint64(4) << qint64(8) << 5.0;
    QTest::newRow("map for 2 samples") << QVector<qint64>{2, 2, 2} << qint64(4) << qint64(8) << 5.0;
    QTest::newRow("map [1, 2, 2, 2, 1]") << QVector<qint64>{1, 2, 2, 2, 1} << qint64(4) << qint64(8) << 5.0;
    QTest::newRow("0 steps") << QVector<qint64>{1, 2, 2} << qint64(0) << qint64(8) << 5.0;
    QTest::newRow("batch 0") << QVector<qint64>{1, 2, 2} << qint64(4) << qint64(0) << 5.0;
    QTest::newRow("blur sigma 0") << QVector<qint64>{1, 2, 2} << qint64(4) << qint64(8) << 0.0;
  }
  void bad_requests() {
    QFETCH(QVector<qint64>, map_shape);
    QFETCH(qint64, steps);
    QFETCH(qint64, batch);
    QFETCH(double, sigma);
    const Model m = Model::load(refs("toy_linear.onnx"));
    xai::CurveOptions o;
    o.steps = steps;
    o.batch = batch;
    o.sigma = sigma;
    const Array mp(DType::F32, std::vector<std::int64_t>(map_shape.begin(), map_shape.end()));
    QCOMPARE(test::error_of([&] { xai::faithfulness(m, toy_x(), mp, {}, o); }), Error::Kind::Usage);
  }

  void cancel_and_progress() {
    const Model m = Model::load(refs("toy_linear.onnx"));
    const Array mp(DType::F32, {1, 2, 2});
    CancelToken token;
    token.cancel();
    JobControl cancelled;
    cancelled.cancel = &token;
    QCOMPARE(test::error_of([&] { xai::faithfulness(m, toy_x(), mp, {}, {}, cancelled); }), Error::Kind::Cancelled);
    std::uint64_t last_done = 0, last_total = 0;
    JobControl watched;
    watched.progress = [&](std::uint64_t done, std::uint64_t total) {
      last_done = done;
      last_total = total;
    };
    xai::CurveOptions o;
    o.batch = 3;
    (void)xai::faithfulness(m, toy_x(), mp, {}, o, watched);
    QCOMPARE(last_total, std::uint64_t(10));  // 2 curves of 5 points
    QCOMPARE(last_done, std::uint64_t(10));
  }
};

QTEST_APPLESS_MAIN(TestFaithfulness)
#include "test_faithfulness.moc"
