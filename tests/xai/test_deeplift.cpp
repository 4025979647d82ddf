// DeepLIFT and DeepLIFT-SHAP: hand-checked values on tiny graphs for each rule, agreement with an
// independent torch DeepLIFT (tests/xai/references/make_deeplift_refs.py writes
// tests/data/xai/deeplift/), summation-to-delta on the bundled digits models, layer attributions,
// DeepLIFT-SHAP as the mean over baselines, and the errors.
#include <QTest>

#include <cmath>
#include <numeric>

#include "error_kind.h"
#include "paramscope/attribution.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
using engine::Model;
using xai::DeepLiftRule;
namespace fs = std::filesystem;

Q_DECLARE_METATYPE(DeepLiftRule)
Q_DECLARE_METATYPE(std::vector<float>)

namespace {

fs::path dl_data(const std::string& rel) {
  return test::data("xai") / "deeplift" / rel;
}

std::vector<float> values(const Array& a) {
  const auto v = a.values<float>();
  return {v.begin(), v.end()};
}

double max_abs(const Array& a) {
  double m = 0;
  for (float v : a.values<float>()) m = std::max(m, std::fabs(static_cast<double>(v)));
  return m;
}

double max_diff(const Array& a, const Array& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double m = 0;
  for (std::int64_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(static_cast<double>(a.data<float>()[i]) - b.data<float>()[i]));
  return m;
}

double max_abs_delta(const xai::Attribution& r) {
  double m = 0;
  for (double d : r.delta) m = std::max(m, std::fabs(d));
  return m;
}

// The largest |f(x) - f(baseline)| of a result (the scale summation-to-delta is judged against).
double max_change(const xai::Attribution& r) {
  double m = 0;
  for (std::size_t i = 0; i < r.score.size(); ++i) m = std::max(m, std::fabs(r.score[i] - r.baseline_score[i]));
  return m;
}

bool near(const std::vector<float>& got, const std::vector<float>& want, double tol) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= tol)) return false;
  return true;
}

QString show(const std::vector<float>& v) {
  QStringList s;
  for (float x : v) s << QString::number(x, 'g', 8);
  return "[" + s.join(", ") + "]";
}

Array digits(std::int64_t n) {
  return read_npy(test::samples_dir() / "digits-cnn" / "inputs.npy").rows(0, n);
}

}  // namespace

class TestDeepLift : public QObject {
  Q_OBJECT

 private slots:
  // Each graph is x[N,2] -> op -> the sum of both outputs, so DeepLIFT's attribution of x_i is
  // exactly f(x_i) - f(x0_i) under Rescale (and under RevealCancel, which has no linear node
  // before the op here and falls back to Rescale). The gradient times Δx would differ each time.
  void unary_rescale_data() {
    QTest::addColumn<QString>("op");
    QTest::addColumn<std::vector<float>>("x");
    QTest::addColumn<std::vector<float>>("x0");
    QTest::addColumn<std::vector<float>>("expected");
    // relu(2) - relu(-1) = 2; relu(-1) - relu(1) = -1 (gradient x Δx: [3, 0])
    QTest::newRow("Relu") << "Relu" << std::vector<float>{2, -1} << std::vector<float>{-1, 1}
                          << std::vector<float>{2, -1};
    // alpha 0.1: 2 - 0 = 2; -0.2 - 1 = -1.2
    QTest::newRow("LeakyRelu") << "LeakyRelu" << std::vector<float>{2, -2} << std::vector<float>{0, 1}
                               << std::vector<float>{2, -1.2f};
    // sigmoid(2) - 1/2 = 0.38079708; 1/2 - sigmoid(-1) = 0.5 - 0.26894142 = 0.23105858
    QTest::newRow("Sigmoid") << "Sigmoid" << std::vector<float>{2, 0} << std::vector<float>{0, -1}
                             << std::vector<float>{0.38079708f, 0.23105858f};
    // tanh(1) = 0.76159416; tanh(-0.5) = -0.46211716
    QTest::newRow("Tanh") << "Tanh" << std::vector<float>{1, -0.5f} << std::vector<float>{0, 0}
                          << std::vector<float>{0.76159416f, -0.46211716f};
    // alpha 0.2, beta 0.5: 0.7 - 0.5 = 0.2; clip(1.3) = 1, 1 - 0.5 = 0.5
    QTest::newRow("HardSigmoid") << "HardSigmoid" << std::vector<float>{1, 4} << std::vector<float>{0, 0}
                                 << std::vector<float>{0.2f, 0.5f};
    // x relu6(x + 3) / 6: 1 * 4 / 6 = 0.6666667; -4 -> 0
    QTest::newRow("HardSwish") << "HardSwish" << std::vector<float>{1, -4} << std::vector<float>{0, 0}
                               << std::vector<float>{0.6666667f, 0};
    // e - 1 = 1.7182818; 1 - e
    QTest::newRow("Exp") << "Exp" << std::vector<float>{1, 0} << std::vector<float>{0, 1}
                         << std::vector<float>{1.7182818f, -1.7182818f};
    // |-2| - |1| = 1; |3| - |-1| = 2 (gradient x Δx: [3, 4])
    QTest::newRow("Abs") << "Abs" << std::vector<float>{-2, 3} << std::vector<float>{1, -1} << std::vector<float>{1, 2};
  }
  void unary_rescale() {
    QFETCH(QString, op);
    QFETCH(std::vector<float>, x);
    QFETCH(std::vector<float>, x0);
    QFETCH(std::vector<float>, expected);
    const Model m = Model::load(dl_data("unary_" + op.toStdString() + ".onnx"));
    for (const auto rule : {DeepLiftRule::Rescale, DeepLiftRule::RevealCancel}) {
      xai::DeepLiftOptions o;
      o.rule = rule;
      const auto r = xai::deeplift(m, Array::of<float>({1, 2}, std::span<const float>(x)),
                                   Array::of<float>({1, 2}, std::span<const float>(x0)), {}, o);
      if (!near(values(r.map), expected, 2e-6)) QFAIL(qPrintable(op + ": got " + show(values(r.map))));
      QVERIFY(std::fabs(r.delta.at(0)) < 1e-6);
    }
  }

  // tests/data/engine/grads/tiny_mlp.onnx: z = W1 x, h = relu(z), y = W2 h, W1 = [[1, 3], [2, 1]],
  // W2 = [[1, -1]]; x = [2, -1], x0 = [1, 1]: z = [-1, 3], z0 = [4, 3], y = -3, y0 = 1.
  // Rescale: Δz = [-5, 0], Δh = [-4, 0]: m_z = [1 * 4/5, -1 * relu'(3)] = [0.8, -1] (Δz2 = 0: the
  //   gradient), m_x = W1ᵀ m_z = [-1.2, 1.4], times Δx = [1, -2]: [-1.2, -2.8], sum -4 = y - y0.
  // RevealCancel: terms W_ij Δx_j: z1 [1, -6] -> Δz+ = 1, Δz- = -6; f(z0 + Δz+) = 5, f(z0 + Δz-) = 0:
  //   Δh+ = ½(5 - 4) + ½(0 - 0) = 0.5, Δh- = ½(0 - 4) + ½(0 - 5) = -4.5: m+ = 0.5, m- = 0.75.
  //   z2 [2, -2] -> Δz+ = 2, Δz- = -2; f(5) = 5, f(1) = 1: Δh+ = 1 + 1 = 2, Δh- = -2: m± = 1.
  //   g·m+ = [0.5, -1], g·m- = [0.75, -1]; W1 >= 0 so x1 (Δ > 0) gets W1[:,0]·(g m+) = 0.5 - 2 =
  //   -1.5 and x2 (Δ < 0) W1[:,1]·(g m-) = 2.25 - 1 = 1.25: attributions [-1.5, -2.5], sum -4.
  void tiny_mlp_hand_checked_data() {
    QTest::addColumn<DeepLiftRule>("rule");
    QTest::addColumn<std::vector<float>>("expected");
    QTest::newRow("rescale") << DeepLiftRule::Rescale << std::vector<float>{-1.2f, -2.8f};
    QTest::newRow("revealcancel") << DeepLiftRule::RevealCancel << std::vector<float>{-1.5f, -2.5f};
  }
  void tiny_mlp_hand_checked() {
    QFETCH(DeepLiftRule, rule);
    QFETCH(std::vector<float>, expected);
    const Model m = Model::load(test::data("engine") / "grads" / "tiny_mlp.onnx");
    xai::DeepLiftOptions o;
    o.rule = rule;
    const auto r = xai::deeplift(m, Array::of<float>({1, 2}, {2, -1}), Array::of<float>({1, 2}, {1, 1}), {}, o);
    if (!near(values(r.map), expected, 1e-5)) QFAIL(qPrintable("got " + show(values(r.map))));
    QCOMPARE(r.score.at(0), -3.0);
    QCOMPARE(r.baseline_score.at(0), 1.0);
    QVERIFY(std::fabs(r.delta.at(0)) < 1e-5);
    // layer attribution at h: m_h (Δh): g = [1, -1] times Δh = [-4, 0]
    o.layer = "h";
    const auto l = xai::deeplift(m, Array::of<float>({1, 2}, {2, -1}), Array::of<float>({1, 2}, {1, 1}), {}, o);
    QCOMPARE(values(l.map), std::vector<float>({-4, 0}));
    QVERIFY(std::fabs(l.delta.at(0)) < 1e-6);
  }

  // softmax.onnx: y = softmax(x)_0. x = [1, -1], x0 = [0, 0]: along the path z = t [1, -1],
  // dp0/dz = p0 (1 - p0) [1, -1] with p0 = sigmoid(2t), whose average over t is
  // (sigmoid(2) - 1/2) / 2 = 0.19039854: m = [0.1904, -0.1904], times Δx = [1, -1] gives
  // [0.19039854, 0.19039854], summing to sigmoid(2) - 1/2.
  // maxpool.onnx: y = max(x1, x2). x = [3, 1], x0 = [0, 2]: y >= y0, Δy = 1 goes to x's argmax
  // (x1, Δx1 = 3): m = 1/3, attributions [1, 0]. x = [1, 0], x0 = [0, 2]: y < y0, Δy = -1 goes to
  // x0's argmax (x2, Δx2 = -2): m = 1/2, attributions [0, -1]. (The gradient rule: [1, 0] and [1, 0].)
  // product.onnx: y = x1 x2; x = [2, 3], x0 = [1, 1]: path a = 1 + t, b = 1 + 2t; m_a = ∫ b = 2,
  // m_b = ∫ a = 1.5: attributions [2, 3], summing to 6 - 1. x0 = [0, 0]: [3, 3].
  void node_rules_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<std::vector<std::int64_t>>("shape");
    QTest::addColumn<std::vector<float>>("x");
    QTest::addColumn<std::vector<float>>("x0");
    QTest::addColumn<std::vector<float>>("expected");
    QTest::newRow("softmax") << "softmax" << std::vector<std::int64_t>{1, 2} << std::vector<float>{1, -1}
                             << std::vector<float>{0, 0} << std::vector<float>{0.19039854f, 0.19039854f};
    QTest::newRow("maxpool") << "maxpool" << std::vector<std::int64_t>{2, 1, 1, 2} << std::vector<float>{3, 1, 1, 0}
                             << std::vector<float>{0, 2, 0, 2} << std::vector<float>{1, 0, 0, -1};
    QTest::newRow("product") << "product" << std::vector<std::int64_t>{2, 2} << std::vector<float>{2, 3, 2, 3}
                             << std::vector<float>{1, 1, 0, 0} << std::vector<float>{2, 3, 3, 3};
  }
  void node_rules() {
    QFETCH(QString, model);
    QFETCH(std::vector<std::int64_t>, shape);
    QFETCH(std::vector<float>, x);
    QFETCH(std::vector<float>, x0);
    QFETCH(std::vector<float>, expected);
    const Model m = Model::load(dl_data(model.toStdString() + ".onnx"));
    xai::Target t;
    t.classes = {0};
    const auto r = xai::deeplift(m, Array::of<float>(shape, std::span<const float>(x)),
                                 Array::of<float>(shape, std::span<const float>(x0)), t);
    if (!near(values(r.map), expected, 2e-6)) QFAIL(qPrintable("got " + show(values(r.map))));
    QVERIFY(max_abs_delta(r) < 1e-6);
  }

  void matches_torch_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<DeepLiftRule>("rule");
    QTest::newRow("ReLU MLP, rescale") << "mlp" << DeepLiftRule::Rescale;
    QTest::newRow("ReLU MLP, reveal-cancel") << "mlp" << DeepLiftRule::RevealCancel;
    QTest::newRow("sigmoid/tanh MLP, rescale") << "sigtanh" << DeepLiftRule::Rescale;
    QTest::newRow("sigmoid/tanh MLP, reveal-cancel") << "sigtanh" << DeepLiftRule::RevealCancel;
    QTest::newRow("CNN with max pooling, rescale") << "cnn" << DeepLiftRule::Rescale;
    // Residual Adds before the ReLUs (Linear + activation, Linear + Linear); the torch reference's
    // RevealCancel is 29 % of the largest value away from Rescale's map.
    QTest::newRow("residual MLP, rescale") << "resmlp" << DeepLiftRule::Rescale;
    QTest::newRow("residual MLP, reveal-cancel") << "resmlp" << DeepLiftRule::RevealCancel;
  }
  void matches_torch() {
    QFETCH(QString, name);
    QFETCH(DeepLiftRule, rule);
    const std::string n = name.toStdString();
    const Model m = Model::load(dl_data(n + ".onnx"));
    const Array x = read_npy(dl_data(n + ".input.npy"));
    const Array x0 = read_npy(dl_data(n + ".baseline.npy"));
    const Array ref = read_npy(dl_data(n + (rule == DeepLiftRule::Rescale ? ".rescale.npy" : ".revealcancel.npy")));
    xai::DeepLiftOptions o;
    o.rule = rule;
    const auto r = xai::deeplift(m, x, x0, {}, o);
    const double e = max_diff(r.map, ref), scale = max_abs(ref);
    qInfo("%s: max |diff| %.3g (max |ref| %.3g), max |delta| %.3g", qPrintable(QTest::currentDataTag()), e, scale,
          max_abs_delta(r));
    QVERIFY(scale > 1e-3);
    QVERIFY2(e <= 1e-4 * scale, qPrintable(QString::number(e)));
    QVERIFY(max_abs_delta(r) <= 1e-5 * std::max(1.0, max_change(r)));
  }

  // Summation-to-delta on the bundled digits CNN (Conv, Relu, MaxPool, Gemm) for each baseline
  // make_baseline offers, for both rules and for the softmax probability.
  void digits_cnn_summation_data() {
    QTest::addColumn<int>("kind");
    QTest::addColumn<DeepLiftRule>("rule");
    QTest::addColumn<bool>("softmax");
    using K = xai::Baseline::Kind;
    for (const auto& [kname, k] : {std::pair{"zeros", K::Zeros}, std::pair{"constant", K::Constant},
                                   std::pair{"blur", K::Blur}, std::pair{"mean", K::Mean}})
      for (const auto& [rname, rule] :
           {std::pair{"rescale", DeepLiftRule::Rescale}, std::pair{"revealcancel", DeepLiftRule::RevealCancel}})
        for (bool sm : {false, true})
          QTest::newRow(qPrintable(QString("%1 %2 %3").arg(kname, rname, sm ? "prob" : "logit")))
              << static_cast<int>(k) << rule << sm;
  }
  void digits_cnn_summation() {
    QFETCH(int, kind);
    QFETCH(DeepLiftRule, rule);
    QFETCH(bool, softmax);
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = digits(16);
    xai::Baseline b;
    b.kind = static_cast<xai::Baseline::Kind>(kind);
    b.value = 0.5;
    b.sigma = 1.5;
    if (b.kind == xai::Baseline::Kind::Mean)
      b.data = read_npz(test::samples_dir() / "digits-cnn" / "test.npz").at(0).second;
    xai::Target t;
    t.softmax = softmax;
    xai::DeepLiftOptions o;
    o.rule = rule;
    const auto r = xai::deeplift(m, x, xai::make_baseline(x, b), t, o);
    QCOMPARE(r.map.shape(), x.shape());
    QCOMPARE(r.delta.size(), std::size_t(16));
    qInfo("%s: max |delta| %.3g, max |f(x) - f(x0)| %.3g", qPrintable(QTest::currentDataTag()), max_abs_delta(r),
          max_change(r));
    QVERIFY(max_change(r) > (softmax ? 1e-3 : 0.1));
    QVERIFY(max_abs_delta(r) <= 1e-5 * std::max(1.0, max_change(r)));
  }

  // Rescale and RevealCancel differ on the CNN (the rule is applied, not ignored), and the
  // attributions are not gradient x Δx.
  void rules_differ_on_digits() {
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = digits(4);
    const Array x0(DType::F32, x.shape());
    xai::DeepLiftOptions rc;
    rc.rule = DeepLiftRule::RevealCancel;
    const auto a = xai::deeplift(m, x, x0, {});
    const auto c = xai::deeplift(m, x, x0, {}, rc);
    QVERIFY(max_diff(a.map, c.map) > 1e-3 * max_abs(a.map));
    const auto gx = xai::gradient_x_input(m, x, {});
    QVERIFY(max_diff(a.map, gx.map) > 1e-3 * max_abs(a.map));
  }

  // Attributions to intermediate layers: every path passes each of these values, so their
  // attributions sum to the same f(x) - f(x0); the map has the activation's shape.
  void digits_cnn_layers() {
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = digits(8);
    const Array x0 = xai::make_baseline(x, {xai::Baseline::Kind::Blur, 0, 1.5, {}, {}});
    int tested = 0;
    for (const auto& node : m.nodes()) {
      if (node.op_type != "Relu" && node.op_type != "MaxPool" && node.op_type != "Flatten") continue;
      xai::DeepLiftOptions o;
      o.layer = std::string(node.outputs[0]);
      const auto r = xai::deeplift(m, x, x0, {}, o);
      QCOMPARE(r.map.rank() >= 2, true);
      QCOMPARE(r.map.dim(0), std::int64_t(8));
      QVERIFY2(max_abs_delta(r) <= 1e-5 * std::max(1.0, max_change(r)), qPrintable(QString::fromStdString(o.layer)));
      ++tested;
    }
    QCOMPARE(tested, 5);
  }

  // The digits transformer: LayerNorm, attention products and Softmax go through the path-averaged
  // rule, which conserves each node's sum, so summation-to-delta holds here too.
  void digits_transformer_summation() {
    const Model m = Model::load(test::samples_dir() / "digits-transformer" / "model.onnx");
    const Array x = read_npz(test::samples_dir() / "digits-transformer" / "test.npz").at(0).second.rows(0, 8);
    for (const auto rule : {DeepLiftRule::Rescale, DeepLiftRule::RevealCancel}) {
      xai::DeepLiftOptions o;
      o.rule = rule;
      const auto r = xai::deeplift(m, x, Array(DType::F32, x.shape()), {}, o);
      qInfo("transformer %s: max |delta| %.3g, max |f(x) - f(x0)| %.3g",
            rule == DeepLiftRule::Rescale ? "rescale" : "revealcancel", max_abs_delta(r), max_change(r));
      QVERIFY(max_change(r) > 0.1);
      QVERIFY(max_abs_delta(r) <= 1e-4 * std::max(1.0, max_change(r)));
    }
  }

  // Models shaped like third-party ones: depthwise convolution, BatchNormalization, HardSwish
  // (exported as x * HardSigmoid(x)) and a squeeze-excitation product; LayerNorm (decomposed at
  // opset 13, LayerNormalization at 17) and GELU. Products go through the path-averaged rule, so
  // summation-to-delta holds for both rules.
  void third_party_summation_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<DeepLiftRule>("rule");
    for (const char* n : {"mobile", "lnmlp", "lnmlp17"}) {
      QTest::newRow(qPrintable(QString(n) + " rescale")) << n << DeepLiftRule::Rescale;
      QTest::newRow(qPrintable(QString(n) + " revealcancel")) << n << DeepLiftRule::RevealCancel;
    }
  }
  void third_party_summation() {
    QFETCH(QString, name);
    QFETCH(DeepLiftRule, rule);
    const Model m = Model::load(dl_data(name.toStdString() + ".onnx"));
    const Array x = read_npy(dl_data(name.toStdString() + ".input.npy"));
    xai::Baseline b;
    b.kind = xai::Baseline::Kind::Constant;
    b.value = 1;
    xai::DeepLiftOptions o;
    o.rule = rule;
    const auto r = xai::deeplift(m, x, xai::make_baseline(x, b), {}, o);
    qInfo("%s: max |delta| %.3g, max |f(x) - f(x0)| %.3g", qPrintable(QTest::currentDataTag()), max_abs_delta(r),
          max_change(r));
    QVERIFY(max_change(r) > 0.02);
    QVERIFY(max_abs_delta(r) <= 1e-5 * std::max(1.0, max_change(r)));
  }

  // RevealCancel through a BatchNormalization: the terms of z = s (W a) + t are s_m W_mj Δa_j, so
  // a network with its BatchNorms kept gives the maps of the same network with them folded into
  // the weights (tolerance: float32 rounding of the folded weights), and not Rescale's (which
  // the kept network would fall back to without the fold; checked: the test then fails).
  void revealcancel_through_batchnorm_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("depthwise Conv-BatchNorm-ReLU") << "mobile";
    QTest::newRow("Gemm-BatchNorm1d-ReLU") << "bnmlp";
    QTest::newRow("ResNet block: Conv-BN + Conv-BN shortcut, Add, ReLU") << "resblock";
  }
  void revealcancel_through_batchnorm() {
    QFETCH(QString, name);
    const std::string n = name.toStdString();
    const Model kept = Model::load(dl_data(n + ".onnx")), folded = Model::load(dl_data(n + "_folded.onnx"));
    const Array x = read_npy(dl_data(n + ".input.npy"));
    xai::Baseline b;
    b.kind = xai::Baseline::Kind::Constant;
    b.value = 1;
    const Array x0 = xai::make_baseline(x, b);
    xai::DeepLiftOptions o;
    o.rule = DeepLiftRule::RevealCancel;
    const auto rk = xai::deeplift(kept, x, x0, {}, o), rf = xai::deeplift(folded, x, x0, {}, o);
    o.rule = DeepLiftRule::Rescale;
    const auto rs = xai::deeplift(kept, x, x0, {}, o);
    QCOMPARE(rk.classes, rf.classes);
    double diff = 0, rescale_diff = 0;
    for (std::int64_t i = 0; i < x.size(); ++i) {
      diff = std::max(diff, std::abs(double(rk.map.values<float>()[i]) - rf.map.values<float>()[i]));
      rescale_diff = std::max(rescale_diff, std::abs(double(rk.map.values<float>()[i]) - rs.map.values<float>()[i]));
    }
    const double scale = max_abs(rk.map);
    qInfo("max |kept - folded| %.3g, |revealcancel - rescale| %.3g, of max |map| %.3g", diff, rescale_diff, scale);
    QVERIFY(scale > 0);
    QVERIFY2(diff <= 1e-4 * scale, qPrintable(QString::number(diff / scale)));
    QVERIFY2(rescale_diff >= 1e-2 * scale, qPrintable(QString::number(rescale_diff / scale)));
  }

  // DeepLIFT-SHAP is the mean of DeepLIFT over the baselines, with the mean baseline score.
  void shap_is_mean_over_baselines() {
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = digits(3);
    const Array bases = read_npz(test::samples_dir() / "digits-cnn" / "test.npz").at(0).second.rows(100, 5);
    const auto s = xai::deeplift_shap(m, x, bases, {});
    QCOMPARE(s.map.shape(), x.shape());
    QCOMPARE(s.baseline_score.size(), std::size_t(3));
    const std::int64_t per = x.size() / 3;
    for (std::int64_t b = 0; b < 3; ++b) {
      std::vector<double> mean(static_cast<std::size_t>(per));
      double base_mean = 0;
      for (std::int64_t k = 0; k < 5; ++k) {
        xai::Target t;
        t.classes = {s.classes[static_cast<std::size_t>(b)]};
        const auto one = xai::deeplift(m, x.rows(b, 1), bases.rows(k, 1), t);
        for (std::int64_t i = 0; i < per; ++i) mean[static_cast<std::size_t>(i)] += one.map.data<float>()[i] / 5.0;
        base_mean += one.baseline_score[0] / 5;
      }
      QVERIFY(std::fabs(base_mean - s.baseline_score[static_cast<std::size_t>(b)]) < 1e-5);
      double e = 0;
      for (std::int64_t i = 0; i < per; ++i)
        e = std::max(e, std::fabs(mean[static_cast<std::size_t>(i)] - s.map.data<float>()[b * per + i]));
      QVERIFY2(e < 1e-5, qPrintable(QString::number(e)));
    }
    QVERIFY(max_abs_delta(s) <= 1e-5 * std::max(1.0, max_change(s)));
    // 40 baselines: more than one chunk of 32 per pass
    const Array many = read_npz(test::samples_dir() / "digits-cnn" / "test.npz").at(0).second.rows(0, 40);
    const auto s40 = xai::deeplift_shap(m, x.rows(0, 1), many, {});
    QVERIFY(max_abs_delta(s40) <= 1e-5 * std::max(1.0, max_change(s40)));
  }

  // A model whose input fixes the batch size to 1 gets the rows one by one: the same maps, and
  // the product x * x (no exact rule) still sums to the change in output.
  void fixed_batch_model() {
    const Model free = Model::load(test::data("xai") / "gradients" / "quadratic.onnx");
    const Model one = Model::load(test::data("xai") / "gradients" / "quadratic_b1.onnx");
    QCOMPARE(one.inputs()[0].shape, (std::vector<std::int64_t>{1, 4}));
    const Array x = Array::of<float>({3, 4}, {1, 2, -1, 0.5f, 2, -1, 1, 1, 0, 3, 1, -2});
    const Array x0(DType::F32, {3, 4});
    const auto a = xai::deeplift(free, x, x0, {}), b = xai::deeplift(one, x, x0, {});
    QCOMPARE(b.classes, a.classes);
    QCOMPARE(b.score, a.score);
    QCOMPARE(b.map.shape(), a.map.shape());
    for (std::int64_t i = 0; i < a.map.size(); ++i) QCOMPARE(b.map.data<float>()[i], a.map.data<float>()[i]);
    QVERIFY(max_abs_delta(b) <= 1e-5 * std::max(1.0, max_change(b)));
    const auto s = xai::deeplift_shap(one, x.rows(0, 2), x, {});  // 3 references, one row per run
    QCOMPARE(s.map.shape(), (std::vector<std::int64_t>{2, 4}));
    QVERIFY(max_abs_delta(s) <= 1e-5 * std::max(1.0, max_change(s)));
  }

  void errors() {
    const Model m = Model::load(test::samples_dir() / "digits-cnn" / "model.onnx");
    const Array x = digits(2);
    const Array x0(DType::F32, x.shape());
    xai::DeepLiftOptions o;
    o.layer = "no such layer";
    QCOMPARE(test::error_of([&] { xai::deeplift(m, x, x0, {}, o); }), Error::Kind::Usage);
    QCOMPARE(test::error_of([&] { xai::deeplift(m, x, x.rows(0, 1), {}); }), Error::Kind::Usage);
    QCOMPARE(test::error_of([&] {
               xai::deeplift_shap(m, x, Array(DType::F32, {0, 1, 8, 8}), {});
             }),
             Error::Kind::Usage);
    QCOMPARE(test::error_of([&] {
               xai::deeplift_shap(m, x, Array(DType::F32, {2, 1, 8, 7}), {});
             }),
             Error::Kind::Usage);
    CancelToken cancel;
    cancel.cancel();
    JobControl control;
    control.cancel = &cancel;
    QCOMPARE(test::error_of([&] { xai::deeplift(m, x, x0, {}, {}, control); }), Error::Kind::Cancelled);
    QCOMPARE(test::error_of([&] { xai::deeplift_shap(m, x, x0, {}, {}, control); }), Error::Kind::Cancelled);
  }
};

QTEST_GUILESS_MAIN(TestDeepLift)
#include "test_deeplift.moc"
