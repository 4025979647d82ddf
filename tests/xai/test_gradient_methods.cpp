// The gradient baselines: Captum's quadratures, hand-checked gradient x input and Integrated
// Gradients on f = sum_i w_i x_i^2 (quadratic.onnx, logits = (x * x) @ W), references from torch
// on the bundled digits CNN (tests/xai/references/make_gradient_refs.py), IG's completeness gap
// shrinking with steps, and SmoothGrad's reproducible counter-based noise.
#include <QTest>

#include <cmath>
#include <functional>
#include <numeric>

#include "error_kind.h"
#include "paramscope/attribution.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "test_paths.h"
#include "xai/gradient_methods.h"
#include "xai/target_score.h"

using namespace paramscope;
using engine::Model;
using xai::IntegratedGradientsOptions;
using Method = IntegratedGradientsOptions::Method;
namespace fs = std::filesystem;

Q_DECLARE_METATYPE(Method)

namespace {

fs::path refs(const std::string& rel) {
  return test::data("xai") / "gradients" / rel;
}

std::vector<double> values(const Array& a) {
  const Array f = a.cast(DType::F64);
  const auto v = f.values<double>();
  return {v.begin(), v.end()};
}

// Largest |a - b| over the reference's largest magnitude.
double scaled_error(const Array& a, const Array& ref) {
  if (a.shape() != ref.shape()) return INFINITY;
  const auto x = values(a), y = values(ref);
  double e = 0, scale = 1e-12;
  for (std::size_t i = 0; i < x.size(); ++i) scale = std::max(scale, std::fabs(y[i]));
  for (std::size_t i = 0; i < x.size(); ++i) e = std::max(e, std::fabs(x[i] - y[i]));
  return e / scale;
}

bool near(double a, double b, double tol) {
  return std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b));
}

const std::vector<double> kW0 = {1, 0.5, 2, -3};  // column 0 of quadratic.onnx's W
const std::vector<double> kW1 = {0, 1, 1, 1};     // column 1

}  // namespace

class TestGradientMethods : public QObject {
  Q_OBJECT

 private slots:
  // Each rule's points and weights, as Captum's approximation_methods.py gives them (Gauss-Legendre
  // from numpy's leggauss), except the trapezoid's weights: 1/(n - 1), not Captum's 1/n.
  void quadratures_data() {
    QTest::addColumn<Method>("method");
    QTest::addColumn<qint64>("n");
    QTest::addColumn<QVector<double>>("alpha");
    QTest::addColumn<QVector<double>>("weight");
    const double r3 = 0.5 / std::sqrt(3.0), r35 = 0.5 * std::sqrt(0.6);
    QTest::newRow("gauss-legendre 1") << Method::GaussLegendre << qint64(1) << QVector<double>{0.5}
                                      << QVector<double>{1};
    QTest::newRow("gauss-legendre 2") << Method::GaussLegendre << qint64(2) << QVector<double>{0.5 - r3, 0.5 + r3}
                                      << QVector<double>{0.5, 0.5};
    QTest::newRow("gauss-legendre 3") << Method::GaussLegendre << qint64(3)
                                      << QVector<double>{0.5 - r35, 0.5, 0.5 + r35}
                                      << QVector<double>{5.0 / 18, 8.0 / 18, 5.0 / 18};
    QTest::newRow("left 4") << Method::RiemannLeft << qint64(4) << QVector<double>{0, 0.25, 0.5, 0.75}
                            << QVector<double>{0.25, 0.25, 0.25, 0.25};
    QTest::newRow("right 4") << Method::RiemannRight << qint64(4) << QVector<double>{0.25, 0.5, 0.75, 1}
                             << QVector<double>{0.25, 0.25, 0.25, 0.25};
    QTest::newRow("middle 4") << Method::RiemannMiddle << qint64(4) << QVector<double>{0.125, 0.375, 0.625, 0.875}
                              << QVector<double>{0.25, 0.25, 0.25, 0.25};
    QTest::newRow("middle 1") << Method::RiemannMiddle << qint64(1) << QVector<double>{0.5} << QVector<double>{1};
    QTest::newRow("trapezoid 5") << Method::RiemannTrapezoid << qint64(5) << QVector<double>{0, 0.25, 0.5, 0.75, 1}
                                 << QVector<double>{0.125, 0.25, 0.25, 0.25, 0.125};
    QTest::newRow("trapezoid 2") << Method::RiemannTrapezoid << qint64(2) << QVector<double>{0, 1}
                                 << QVector<double>{0.5, 0.5};
  }
  void quadratures() {
    QFETCH(Method, method);
    QFETCH(qint64, n);
    QFETCH(QVector<double>, alpha);
    QFETCH(QVector<double>, weight);
    const xai::Quadrature q = xai::ig_quadrature(n, method);
    QCOMPARE(q.alpha.size(), static_cast<std::size_t>(n));
    for (qsizetype i = 0; i < alpha.size(); ++i) {
      const auto k = static_cast<std::size_t>(i);
      if (!(std::fabs(q.alpha[k] - alpha[i]) < 1e-15 && std::fabs(q.weight[k] - weight[i]) < 1e-15))
        QFAIL(qPrintable(QString("point %1: alpha %2 weight %3, expected %4 and %5")
                             .arg(i)
                             .arg(q.alpha[k], 0, 'g', 17)
                             .arg(q.weight[k], 0, 'g', 17)
                             .arg(alpha[i])
                             .arg(weight[i])));
    }
  }

  // Gauss-Legendre with n points integrates a^k exactly for k <= 2n - 1; the nodes ascend.
  void gauss_legendre_is_exact_data() {
    QTest::addColumn<qint64>("n");
    for (qint64 n : {4, 13, 32, 50, 200}) QTest::newRow(qPrintable(QString::number(n))) << n;
  }
  void gauss_legendre_is_exact() {
    QFETCH(qint64, n);
    const xai::Quadrature q = xai::ig_quadrature(n, Method::GaussLegendre);
    QVERIFY(std::is_sorted(q.alpha.begin(), q.alpha.end()));
    QVERIFY(q.alpha.front() > 0 && q.alpha.back() < 1);
    // Moments up to degree 2n - 1 (at most 40: higher ones are all tiny numbers).
    for (qint64 k = 0; k <= std::min<qint64>(2 * n - 1, 40); ++k) {
      double s = 0;
      for (std::size_t i = 0; i < q.alpha.size(); ++i) s += q.weight[i] * std::pow(q.alpha[i], static_cast<double>(k));
      if (!(std::fabs(s - 1.0 / static_cast<double>(k + 1)) < 1e-13))
        QFAIL(qPrintable(QString("moment %1: %2").arg(k).arg(s, 0, 'g', 17)));
    }
  }

  void bad_step_counts() {
    QCOMPARE(test::error_of([] { xai::ig_quadrature(0, Method::GaussLegendre); }), Error::Kind::Usage);
    QCOMPARE(test::error_of([] { xai::ig_quadrature(1, Method::RiemannTrapezoid); }), Error::Kind::Usage);
    QCOMPARE(test::error_of([] { xai::ig_quadrature(-3, Method::RiemannLeft); }), Error::Kind::Usage);
  }

  // f_c(x) = sum_i W[i, c] x_i^2: d f / d x_i = 2 W[i, c] x_i. x = [1, 2, -1, 0.5] scores 4.25 for
  // class 0 and 5.25 for class 1 (the top one).
  void gradient_x_input_quadratic_data() {
    QTest::addColumn<QVector<qint64>>("classes");
    QTest::addColumn<bool>("softmax");
    QTest::addColumn<qint64>("expected_class");
    QTest::newRow("top class (1): 2 w x^2 = [0, 8, 2, 0.5]") << QVector<qint64>{} << false << qint64(1);
    QTest::newRow("class 0: [2, 4, 4, -1.5]") << QVector<qint64>{0} << false << qint64(0);
    QTest::newRow("class 0, softmax: p(1 - p) 2 x (w0 - w1)") << QVector<qint64>{0} << true << qint64(0);
  }
  void gradient_x_input_quadratic() {
    QFETCH(QVector<qint64>, classes);
    QFETCH(bool, softmax);
    QFETCH(qint64, expected_class);
    const Model m = Model::load(refs("quadratic.onnx"));
    const std::vector<double> x = {1, 2, -1, 0.5};
    xai::Target t;
    t.classes.assign(classes.begin(), classes.end());
    t.softmax = softmax;
    const xai::Attribution a = xai::gradient_x_input(m, Array::of<float>({1, 4}, {1.0f, 2.0f, -1.0f, 0.5f}), t);
    QCOMPARE(a.classes, std::vector<std::int64_t>{expected_class});
    QCOMPARE(a.map.shape(), (std::vector<std::int64_t>{1, 4}));
    QVERIFY(a.delta.empty() && a.baseline_score.empty());
    const auto& w = expected_class == 0 ? kW0 : kW1;
    const double p0 = 1 / (1 + std::exp(5.25 - 4.25));
    QVERIFY(near(a.score[0], softmax ? p0 : (expected_class == 0 ? 4.25 : 5.25), 1e-6));
    const auto got = values(a.map);
    for (std::size_t i = 0; i < 4; ++i) {
      const double g = softmax ? p0 * (1 - p0) * 2 * x[i] * (kW0[i] - kW1[i]) : 2 * w[i] * x[i];
      if (!near(got[i], g * x[i], 1e-6))
        QFAIL(qPrintable(QString("element %1: %2, expected %3").arg(i).arg(got[i]).arg(g * x[i])));
    }
  }

  // IG of f = sum w x^2 from x0 to x: (x - x0) * sum_k weight_k 2 w (x0 + alpha_k (x - x0))
  //   = 2 w (x - x0) (x0 S0 + (x - x0) S1), S0 = sum weight = 1, S1 = sum weight alpha:
  // 1/2 for rules exact on linear integrands (then map = w (x^2 - x0^2)), (n - 1)/2n for the left
  // rule, (n + 1)/2n for the right one.
  void integrated_gradients_quadratic_data() {
    QTest::addColumn<Method>("method");
    QTest::addColumn<qint64>("steps");
    QTest::addColumn<double>("s1");
    QTest::addColumn<qint64>("batch");
    QTest::newRow("gauss-legendre 2") << Method::GaussLegendre << qint64(2) << 0.5 << qint64(32);
    QTest::newRow("gauss-legendre 50, 3 a run") << Method::GaussLegendre << qint64(50) << 0.5 << qint64(3);
    QTest::newRow("trapezoid 2") << Method::RiemannTrapezoid << qint64(2) << 0.5 << qint64(1);
    QTest::newRow("trapezoid 7") << Method::RiemannTrapezoid << qint64(7) << 0.5 << qint64(5);
    QTest::newRow("middle 1") << Method::RiemannMiddle << qint64(1) << 0.5 << qint64(32);
    QTest::newRow("middle 5") << Method::RiemannMiddle << qint64(5) << 0.5 << qint64(4);
    QTest::newRow("left 4") << Method::RiemannLeft << qint64(4) << 3.0 / 8 << qint64(32);
    QTest::newRow("right 4") << Method::RiemannRight << qint64(4) << 5.0 / 8 << qint64(2);
    QTest::newRow("left 50") << Method::RiemannLeft << qint64(50) << 49.0 / 100 << qint64(7);
  }
  void integrated_gradients_quadratic() {
    QFETCH(Method, method);
    QFETCH(qint64, steps);
    QFETCH(double, s1);
    QFETCH(qint64, batch);
    const Model m = Model::load(refs("quadratic.onnx"));
    // Sample 0 from zeros, sample 1 from x0 = [1, 1, 0.5, -1]; both explain class 0.
    const std::vector<double> x = {1, 2, -1, 0.5, 2, -1, 1, 1};
    const std::vector<double> x0 = {0, 0, 0, 0, 1, 1, 0.5, -1};
    const Array xa = Array::of<float>({2, 4}, {1.0f, 2.0f, -1.0f, 0.5f, 2.0f, -1.0f, 1.0f, 1.0f});
    const Array ba = Array::of<float>({2, 4}, {0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 0.5f, -1.0f});
    xai::Target t;
    t.classes = {0};
    IntegratedGradientsOptions o;
    o.method = method;
    o.steps = steps;
    o.batch = batch;
    const xai::Attribution a = xai::integrated_gradients(m, xa, ba, t, o);
    QCOMPARE(a.classes, (std::vector<std::int64_t>{0, 0}));
    const std::vector<double> fx = {4.25, 3.5}, f0 = {0, -1};
    const auto got = values(a.map);
    for (std::size_t b = 0; b < 2; ++b) {
      QVERIFY(near(a.score[b], fx[b], 1e-6));
      QVERIFY(near(a.baseline_score[b], f0[b], 1e-6));
      double sum = 0;
      for (std::size_t i = 0; i < 4; ++i) {
        const std::size_t e = b * 4 + i;
        const double d = x[e] - x0[e];
        const double want = 2 * kW0[i] * d * (x0[e] + d * s1);
        sum += want;
        if (!near(got[e], want, 1e-5))
          QFAIL(qPrintable(QString("sample %1 element %2: %3, expected %4").arg(b).arg(i).arg(got[e]).arg(want)));
      }
      // The completeness gap: zero for the exact rules, the quadrature's error otherwise.
      QVERIFY2(near(a.delta[b], sum - (fx[b] - f0[b]), 1e-5), qPrintable(QString::number(a.delta[b])));
    }
  }

  // A baseline of one sample serves every sample of the batch; other shapes are refused.
  void integrated_gradients_baselines() {
    const Model m = Model::load(refs("quadratic.onnx"));
    const Array xa = Array::of<float>({2, 4}, {1.0f, 2.0f, -1.0f, 0.5f, 2.0f, -1.0f, 1.0f, 1.0f});
    xai::Target t;
    t.classes = {0};
    const auto one = xai::integrated_gradients(m, xa, Array::of<float>({4}, {0.0f, 0.0f, 0.0f, 0.0f}), t);
    const auto both = xai::integrated_gradients(m, xa, Array(DType::F32, {2, 4}), t);
    QCOMPARE(values(one.map), values(both.map));
    QCOMPARE(values(one.map)[1], 2.0);  // w x^2 = 0.5 * 4
    QCOMPARE(test::error_of([&] {
               xai::integrated_gradients(m, xa, Array(DType::F32, {3, 4}), t);
             }),
             Error::Kind::Usage);
    QCOMPARE(test::error_of([&] {
               xai::integrated_gradients(m, xa, Array(DType::F32, {2, 5}), t);
             }),
             Error::Kind::Usage);
    IntegratedGradientsOptions o;
    o.batch = 0;
    QCOMPARE(test::error_of([&] {
               xai::integrated_gradients(m, xa, Array(DType::F32, {2, 4}), t, o);
             }),
             Error::Kind::Usage);
    o = {};
    o.steps = 0;
    QCOMPARE(test::error_of([&] {
               xai::integrated_gradients(m, xa, Array(DType::F32, {2, 4}), t, o);
             }),
             Error::Kind::Usage);
  }

  // The digits CNN against torch (float64) for its first 4 inputs, each explaining its top logit.
  void digits_match_torch_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("gradient x input") << "gxi";
    QTest::newRow("IG, gauss-legendre 32, zeros") << "ig_gl32";
    QTest::newRow("IG, trapezoid 16, constant 0.25") << "ig_trap16_c025";
    QTest::newRow("IG, gauss-legendre 16, softmax") << "ig_gl16_softmax";
    QTest::newRow("SmoothGrad 0.15, 8 copies, seed 7") << "sg";
    QTest::newRow("SmoothGrad squared x input") << "sg_sq_input";
  }
  void digits_match_torch() {
    QFETCH(QString, name);
    const std::string n = name.toStdString();
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = read_npy(refs("digits_x.npy"));
    const auto sc = values(read_npy(refs("digits_scores.npy")));  // class, f(x), f(0), f(0.25)
    xai::Target t;
    xai::Attribution a;
    std::size_t base_col = 0;
    if (n == "gxi") {
      a = xai::gradient_x_input(m, x, t);
    } else if (n.rfind("ig_", 0) == 0) {
      IntegratedGradientsOptions o;
      o.steps = n == "ig_gl32" ? 32 : 16;
      o.method = n == "ig_trap16_c025" ? Method::RiemannTrapezoid : Method::GaussLegendre;
      o.batch = 24;
      t.softmax = n == "ig_gl16_softmax";
      xai::Baseline b;
      b.kind = xai::Baseline::Kind::Constant;
      b.value = n == "ig_trap16_c025" ? 0.25 : 0;
      base_col = n == "ig_trap16_c025" ? 3 : 2;
      a = xai::integrated_gradients(m, x, xai::make_baseline(x, b), t, o);
    } else {
      xai::SmoothGradOptions o;
      o.samples = 8;
      o.noise = 0.15;
      o.seed = 7;
      o.batch = 5;
      o.squared = o.times_input = n == "sg_sq_input";
      a = xai::smoothgrad(m, x, t, o);
    }
    const Array ref = read_npy(refs("digits_" + n + ".npy"));
    const double e = scaled_error(a.map, ref);
    qInfo("%s: scaled error %.3g", n.c_str(), e);
    QVERIFY2(e < 1e-5, qPrintable(QString::number(e)));
    for (std::size_t b = 0; b < 4; ++b) {
      QCOMPARE(a.classes[b], static_cast<std::int64_t>(sc[b * 4]));
      if (!t.softmax) QVERIFY(near(a.score[b], sc[b * 4 + 1], 1e-5));
      if (base_col && !t.softmax) {
        QVERIFY(near(a.baseline_score[b], sc[b * 4 + base_col], 1e-5));
        // delta against the reference's own completeness gap
        double ref_sum = 0;
        for (std::int64_t i = 0; i < 64; ++i) ref_sum += ref.data<float>()[static_cast<std::int64_t>(b) * 64 + i];
        const double ref_delta = ref_sum - (sc[b * 4 + 1] - sc[b * 4 + base_col]);
        QVERIFY2(std::fabs(a.delta[b] - ref_delta) < 1e-4,
                 qPrintable(QString("delta %1, torch %2").arg(a.delta[b]).arg(ref_delta)));
      }
    }
  }

  // |delta| (IG's completeness gap) shrinks as Gauss-Legendre gets more points.
  void integrated_gradients_delta_shrinks() {
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = read_npy(refs("digits_x.npy"));
    std::vector<double> gap;
    for (std::int64_t steps : {2, 8, 32, 128}) {
      IntegratedGradientsOptions o;
      o.steps = steps;
      const auto a = xai::integrated_gradients(m, x, Array(DType::F32, x.shape()), {}, o);
      double worst = 0;
      for (std::size_t b = 0; b < 4; ++b)
        worst = std::max(worst, std::fabs(a.delta[b]) / std::fabs(a.score[b] - a.baseline_score[b]));
      qInfo("%lld steps: max |delta| / |f(x) - f(x0)| = %.3g", static_cast<long long>(steps), worst);
      gap.push_back(worst);
    }
    QVERIFY(gap[0] > 1e-2);  // two points are not enough for this network
    for (std::size_t i = 1; i < gap.size(); ++i) QVERIFY2(gap[i] < gap[i - 1], qPrintable(QString::number(gap[i])));
    QVERIFY(gap.back() < 4e-3);  // measured 2.5e-3: ReLU kinks slow Gauss-Legendre down
  }

  // The counter-based normals equal the Python re-implementation's and look standard normal.
  void noise_is_counter_based() {
    const auto ref = values(read_npy(refs("digits_noise.npy")));  // [b < 2, s < 2, e < 64]
    for (std::uint64_t b = 0; b < 2; ++b)
      for (std::uint64_t s = 0; s < 2; ++s)
        for (std::uint64_t e = 0; e < 64; ++e) {
          const double want = ref[(b * 2 + s) * 64 + e];
          const double got = xai::standard_normal(7, b, s, e);
          if (!(std::fabs(got - want) <= 1e-14 * std::max(1.0, std::fabs(want))))
            QFAIL(qPrintable(QString("(%1, %2, %3): %4, expected %5").arg(b).arg(s).arg(e).arg(got).arg(want)));
        }
    double sum = 0, sq = 0, cross = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
      const double z = xai::standard_normal(1, 0, static_cast<std::uint64_t>(i / 1000), static_cast<std::uint64_t>(i));
      const double z2 = xai::standard_normal(1, 1, static_cast<std::uint64_t>(i / 1000), static_cast<std::uint64_t>(i));
      sum += z;
      sq += z * z;
      cross += z * z2;
    }
    QVERIFY(std::fabs(sum / n) < 0.01);
    QVERIFY(std::fabs(sq / n - 1) < 0.015);
    QVERIFY(std::fabs(cross / n) < 0.01);  // samples do not share noise
  }

  // Same seed: the same map whatever the batch size; another seed: another map.
  void smoothgrad_is_reproducible() {
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = read_npy(refs("digits_x.npy")).rows(0, 2);
    xai::SmoothGradOptions o;
    o.samples = 6;
    o.seed = 42;
    const auto first = values(xai::smoothgrad(m, x, {}, o).map);
    for (std::int64_t batch : {1, 5, 12}) {
      o.batch = batch;
      const auto again = values(xai::smoothgrad(m, x, {}, o).map);
      double e = 0;
      for (std::size_t i = 0; i < first.size(); ++i) e = std::max(e, std::fabs(again[i] - first[i]));
      QVERIFY2(e < 1e-6, qPrintable(QString("batch %1: %2").arg(batch).arg(e)));
    }
    o.seed = 43;
    const auto other = values(xai::smoothgrad(m, x, {}, o).map);
    double diff = 0;
    for (std::size_t i = 0; i < first.size(); ++i) diff = std::max(diff, std::fabs(other[i] - first[i]));
    QVERIFY(diff > 1e-3);
  }

  // noise = 0: every copy is x, so SmoothGrad is the plain gradient (squared: its square;
  // times input: gradient x input).
  void smoothgrad_without_noise_is_the_gradient() {
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = read_npy(refs("digits_x.npy"));
    const auto rt = xai::resolve_target(m, {});
    const xai::Attribution gxi = xai::gradient_x_input(m, x, {});
    const auto g = values(xai::input_gradient(m, rt, x, gxi.classes, nullptr, {}));
    xai::SmoothGradOptions o;
    o.noise = 0;
    o.samples = 3;
    const auto plain = values(xai::smoothgrad(m, x, {}, o).map);
    o.squared = true;
    const auto squared = values(xai::smoothgrad(m, x, {}, o).map);
    o.squared = false;
    o.times_input = true;
    const auto times = values(xai::smoothgrad(m, x, {}, o).map);
    const auto want_times = values(gxi.map);
    double scale = 0;
    for (double v : g) scale = std::max(scale, std::fabs(v));
    QVERIFY(scale > 0.1);
    for (std::size_t i = 0; i < g.size(); ++i) {
      QVERIFY(std::fabs(plain[i] - g[i]) <= 1e-6 * scale);
      QVERIFY(std::fabs(squared[i] - g[i] * g[i]) <= 1e-6 * scale * scale);
      QVERIFY(std::fabs(times[i] - want_times[i]) <= 1e-6 * scale);
    }
  }

  void smoothgrad_bad_options() {
    const Model m = Model::load(refs("quadratic.onnx"));
    const Array x = Array::of<float>({1, 4}, {1.0f, 2.0f, -1.0f, 0.5f});
    xai::SmoothGradOptions o;
    o.samples = 0;
    QCOMPARE(test::error_of([&] { xai::smoothgrad(m, x, {}, o); }), Error::Kind::Usage);
    o = {};
    o.noise = -0.1;
    QCOMPARE(test::error_of([&] { xai::smoothgrad(m, x, {}, o); }), Error::Kind::Usage);
    o = {};
    o.batch = 0;
    QCOMPARE(test::error_of([&] { xai::smoothgrad(m, x, {}, o); }), Error::Kind::Usage);
    QCOMPARE(test::error_of([&] {
               xai::smoothgrad(m, Array::of<float>({4}, {1.0f, 2.0f, 3.0f, 4.0f}), {}, {});
             }),
             Error::Kind::Usage);
  }

  // A model whose input fixes the batch size to 1 gets the rows one by one: the same maps.
  void fixed_batch_model_data() {
    QTest::addColumn<QString>("method");
    QTest::newRow("gradient x input") << "gxi";
    QTest::newRow("integrated gradients") << "ig";
    QTest::newRow("smoothgrad") << "sg";
  }
  void fixed_batch_model() {
    QFETCH(QString, method);
    const Model free = Model::load(refs("quadratic.onnx"));
    const Model one = Model::load(refs("quadratic_b1.onnx"));
    QCOMPARE(one.inputs()[0].shape, (std::vector<std::int64_t>{1, 4}));
    const Array x = Array::of<float>({3, 4}, {1, 2, -1, 0.5f, 2, -1, 1, 1, 0, 3, 1, -2});
    const auto run = [&](const Model& m) {
      if (method == "gxi") return xai::gradient_x_input(m, x, {});
      if (method == "ig") {
        IntegratedGradientsOptions o;
        o.steps = 5;
        o.batch = 4;
        return xai::integrated_gradients(m, x, Array(DType::F32, {3, 4}), {}, o);
      }
      xai::SmoothGradOptions o;
      o.samples = 3;
      o.batch = 2;
      return xai::smoothgrad(m, x, {}, o);
    };
    const xai::Attribution a = run(free), b = run(one);
    QCOMPARE(b.classes, a.classes);
    QCOMPARE(b.classes, (std::vector<std::int64_t>{1, 0, 1}));
    QCOMPARE(b.score, a.score);
    QCOMPARE(values(b.map), values(a.map));
    QVERIFY(values(a.map)[1] != 0);
  }

  // A cancelled job stops with Error(Cancelled); progress reaches the total.
  void cancel_and_progress() {
    const Model m = Model::load(refs("quadratic.onnx"));
    const Array x = Array::of<float>({1, 4}, {1.0f, 2.0f, -1.0f, 0.5f});
    CancelToken token;
    token.cancel();
    JobControl cancelled;
    cancelled.cancel = &token;
    QCOMPARE(test::error_of([&] {
               xai::integrated_gradients(m, x, Array(DType::F32, {1, 4}), {}, {}, cancelled);
             }),
             Error::Kind::Cancelled);
    QCOMPARE(test::error_of([&] { xai::smoothgrad(m, x, {}, {}, cancelled); }), Error::Kind::Cancelled);
    QCOMPARE(test::error_of([&] { xai::gradient_x_input(m, x, {}, cancelled); }), Error::Kind::Cancelled);
    std::uint64_t last_done = 0, last_total = 0;
    JobControl watched;
    watched.progress = [&](std::uint64_t done, std::uint64_t total) {
      last_done = done;
      last_total = total;
    };
    IntegratedGradientsOptions o;
    o.steps = 20;
    o.batch = 3;
    (void)xai::integrated_gradients(m, x, Array(DType::F32, {1, 4}), {}, o, watched);
    QCOMPARE(last_total, std::uint64_t(20));
    QCOMPARE(last_done, std::uint64_t(20));
  }
};

QTEST_APPLESS_MAIN(TestGradientMethods)
#include "test_gradient_methods.moc"
