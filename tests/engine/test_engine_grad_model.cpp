// Reverse mode over whole graphs: gradients of torch-exported models equal torch's autograd
// (tests/tools/make_engine_grad_reference.py), hand-checked gradients of a two-layer MLP, backward
// hooks replacing a node's rule, activations read from a pass, and the forward observer.
#include <QTest>

#include <cmath>
#include <set>

#include "grad_check.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
using engine::Model;
namespace fs = std::filesystem;

namespace {

fs::path grads_data(const std::string& rel) {
  return test::data("engine") / "grads" / rel;
}

// Largest |a - b| relative to the reference's largest magnitude (gradients span many scales,
// and tiny entries carry float32 noise from long sums).
double scaled_error(const Array& a, const Array& ref) {
  if (a.shape() != ref.shape() || a.type() != ref.type()) return INFINITY;
  const auto x = a.values<float>(), y = ref.values<float>();
  double e = 0, scale = 1e-6;
  for (std::size_t i = 0; i < x.size(); ++i) scale = std::max(scale, std::fabs(static_cast<double>(y[i])));
  for (std::size_t i = 0; i < x.size(); ++i) e = std::max(e, std::fabs(static_cast<double>(x[i]) - y[i]));
  return e / scale;
}

std::vector<float> values(const Array& a) {
  const auto v = a.values<float>();
  return {v.begin(), v.end()};
}

}  // namespace

class TestEngineGradModel : public QObject {
  Q_OBJECT

 private slots:
  void matches_torch_autograd_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("nn_stack (conv, folded BN, pools, conv-transpose, conv3d, layernorm, softmax)")
        << "nn_stack";
    QTest::newRow("attention (layernorm, split, matmul, causal mask, softmax, gelu)") << "attention";
  }
  void matches_torch_autograd() {
    QFETCH(QString, name);
    const std::string n = name.toStdString();
    const fs::path onnx = n == "nn_stack" ? test::data("engine") / "nn_stack.onnx" : grads_data(n + ".onnx");
    const Model m = Model::load(onnx);
    const Array x = read_npy(grads_data(n + ".input.npy"));
    const auto pass = m.forward({{m.inputs()[0].name, x}});
    std::map<std::string, Array> seeds;
    for (std::size_t k = 0; k < m.outputs().size(); ++k)
      seeds.emplace(m.outputs()[k].name, read_npy(grads_data(n + ".seed" + std::to_string(k) + ".npy")));
    const auto ref = read_npz(grads_data(n + ".grads.npz"));
    std::vector<std::string> wrt;
    for (const auto& [key, a] : ref) wrt.push_back(key);
    QVERIFY(wrt.size() >= 11);
    const auto g = pass.backward(seeds, wrt);
    QCOMPARE(g.size(), wrt.size());
    for (const auto& [key, expected] : ref) {
      const double e = scaled_error(g.at(key), expected);
      if (!(e < 2e-5)) QFAIL(qPrintable(QString("d/d %1: error %2").arg(QString::fromStdString(key)).arg(e)));
    }
  }

  // z = x W1^T, h = relu(z), y = h W2^T with W1 = [[1, 3], [2, 1]], W2 = [[1, -1]]; x = [2, -1]:
  // z = [-1, 3], h = [0, 3], y = -3; dy/dz = [0, -1], dy/dx = [-2, -1], dy/dW1 = [[0, 0], [-2, 1]],
  // dy/dW2 = h = [0, 3].
  void hand_checked_mlp() {
    const Model m = Model::load(grads_data("tiny_mlp.onnx"));
    const auto pass = m.forward({{"x", Array::of<float>({1, 2}, {2, -1})}});
    QCOMPARE(values(pass.outputs()[0]), std::vector<float>({-3}));
    QCOMPARE(values(pass.value("z")), std::vector<float>({-1, 3}));
    QCOMPARE(values(pass.value("h")), std::vector<float>({0, 3}));
    const auto g = pass.backward({{"y", Array::of<float>({1, 1}, {1})}}, {"x", "W1", "W2", "z"});
    QCOMPARE(values(g.at("x")), std::vector<float>({-2, -1}));
    QCOMPARE(values(g.at("W1")), std::vector<float>({0, 0, -2, 1}));
    QCOMPARE(values(g.at("W2")), std::vector<float>({0, 3}));
    QCOMPARE(values(g.at("z")), std::vector<float>({0, -1}));
    // The seed scales every gradient (L is linear in it).
    const auto g3 = pass.backward({{"y", Array::of<float>({1, 1}, {3})}}, {"x"});
    QCOMPARE(values(g3.at("x")), std::vector<float>({-6, -3}));
    // A value L does not depend on: zeros of its shape; a seed on an intermediate value.
    const auto gz = pass.backward({{"h", Array::of<float>({1, 2}, {1, 1})}}, {"x", "W2"});
    QCOMPARE(values(gz.at("W2")), std::vector<float>({0, 0}));
    QCOMPARE(values(gz.at("x")), std::vector<float>({2, 1}));  // d(h1 + h2)/dx = W1 row 2 (z1 < 0)
  }

  void hooks_replace_rules() {
    const Model m = Model::load(grads_data("tiny_mlp.onnx"));
    const auto pass = m.forward({{"x", Array::of<float>({1, 2}, {2, -1})}});
    const std::map<std::string, Array> seed{{"y", Array::of<float>({1, 1}, {1})}};
    std::vector<std::string> seen;
    // Relu passes the gradient through unchanged: dy/dz = [1, -1], dy/dx = [1, 3] - [2, 1].
    const engine::BackwardHook through = [&](const engine::BackwardNode& b) -> std::optional<engine::Gradients> {
      seen.emplace_back(b.node.name);
      if (b.node.op_type != "Relu") return std::nullopt;
      return engine::Gradients{b.grad_outputs[0]->clone()};
    };
    const auto g = pass.backward(seed, {"x"}, through);
    QCOMPARE(values(g.at("x")), std::vector<float>({-1, 2}));
    QCOMPARE(seen, std::vector<std::string>({"fc2", "relu", "fc1"}));  // reverse order
    // A hook that keeps the engine's rule but doubles it, on fc2 only: everything below doubles.
    const engine::BackwardHook twice = [](const engine::BackwardNode& b) -> std::optional<engine::Gradients> {
      if (b.node.name != "fc2") return std::nullopt;
      auto grads = b.default_rule();
      for (auto& gi : grads)
        if (gi) {
          Array d = gi->clone();
          for (float& v : std::span<float>(d.data<float>(), static_cast<std::size_t>(d.size()))) v *= 2;
          gi = d;
        }
      return grads;
    };
    const auto g2 = pass.backward(seed, {"x", "W2"}, twice);
    QCOMPARE(values(g2.at("x")), std::vector<float>({-4, -2}));
    QCOMPARE(values(g2.at("W2")), std::vector<float>({0, 6}));
    // A hook returning a gradient of the wrong shape is refused, naming the node.
    const engine::BackwardHook wrong = [](const engine::BackwardNode& b) -> std::optional<engine::Gradients> {
      if (b.node.op_type != "Relu") return std::nullopt;
      return engine::Gradients{Array(DType::F32, {3})};
    };
    try {
      (void)pass.backward(seed, {"x"}, wrong);
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).find("node 'relu'") != std::string::npos, e.what());
    }
  }

  void bad_requests_are_refused_data() {
    QTest::addColumn<QString>("seed");
    QTest::addColumn<QString>("wrt");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown target") << "y" << "nope" << "'nope' is not a value";
    QTest::newRow("unknown seed") << "nope" << "x" << "'nope' is not a value";
    QTest::newRow("seed of the wrong shape") << "z" << "x" << "does not match";
  }
  void bad_requests_are_refused() {
    QFETCH(QString, seed);
    QFETCH(QString, wrt);
    QFETCH(QString, message);
    const Model m = Model::load(grads_data("tiny_mlp.onnx"));
    const auto pass = m.forward({{"x", Array::of<float>({1, 2}, {2, -1})}});
    try {
      (void)pass.backward({{seed.toStdString(), Array::of<float>({1, 1}, {1})}}, {wrt.toStdString()});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY2(std::string(e.what()).find(message.toStdString()) != std::string::npos, e.what());
    }
  }

  // Activations from a pass: the causal attention weights are a lower-triangular stochastic matrix.
  void activations_from_a_pass() {
    const Model m = Model::load(grads_data("attention.onnx"));
    const auto pass = m.forward({{"x", read_npy(grads_data("attention.input.npy"))}});
    std::string softmax;
    for (const auto& n : m.nodes())
      if (n.op_type == "Softmax") softmax = n.outputs[0];
    QVERIFY(!softmax.empty());
    const Array& att = pass.value(softmax);
    QCOMPARE(att.shape(), (std::vector<std::int64_t>{2, 2, 6, 6}));
    const auto v = att.values<float>();
    for (std::int64_t row = 0; row < 2 * 2 * 6; ++row) {
      double sum = 0;
      for (std::int64_t j = 0; j < 6; ++j) {
        const float a = v[static_cast<std::size_t>(row * 6 + j)];
        if (j > row % 6) QCOMPARE(a, 0.0f);
        sum += a;
      }
      QVERIFY(std::fabs(sum - 1) < 1e-6);
    }
  }

  // Trilu passes the gradient of the kept triangle only (upper and lower, diagonal offsets).
  void trilu_gradient_data() {
    QTest::addColumn<int>("upper");
    QTest::addColumn<qlonglong>("k");
    QTest::newRow("upper, k 0") << 1 << 0LL;
    QTest::newRow("upper, k -1") << 1 << -1LL;
    QTest::newRow("lower, k 2") << 0 << 2LL;
  }
  void trilu_gradient() {
    QFETCH(int, upper);
    QFETCH(qlonglong, k);
    test::GradCheck c{"Trilu",
                      {test::pseudo_random({2, 3, 4}, 7), Array::of<std::int64_t>({}, {k})},
                      {{"upper", test::attr_i(upper)}},
                      14};
    QCOMPARE(QString::fromStdString(test::grad_check(c)), QString());
    std::vector<Array> out;
    std::vector<std::optional<Array>> seeds;
    const auto g = test::run_backward(c, out, seeds);
    // Element (i, j) of each matrix gets its seed when kept, else 0.
    const auto gv = g[0]->values<float>();
    const auto sv = seeds[0]->values<float>();
    for (std::size_t e = 0; e < gv.size(); ++e) {
      const auto i = static_cast<std::int64_t>(e / 4 % 3), j = static_cast<std::int64_t>(e % 4);
      const bool kept = upper ? j - i >= k : j - i <= k;
      QCOMPARE(gv[e], kept ? sv[e] : 0.0f);
    }
    QVERIFY(!g[1]);
  }

  void observer_sees_every_node() {
    const Model m = Model::load(grads_data("tiny_mlp.onnx"));
    std::vector<std::string> names;
    std::vector<float> relu_out;
    const auto out = m.run({{"x", Array::of<float>({1, 2}, {2, -1})}},
                           [&](const engine::NodeInfo& n, std::span<const Array* const> in, std::span<const Array> o) {
                             names.emplace_back(n.name);
                             QVERIFY(in[0] != nullptr);
                             if (n.op_type == "Relu") relu_out = values(o[0]);
                           });
    QCOMPARE(names, std::vector<std::string>({"fc1", "relu", "fc2"}));
    QCOMPARE(relu_out, std::vector<float>({0, 3}));
    QCOMPARE(values(out[0]), std::vector<float>({-3}));
  }
};

QTEST_APPLESS_MAIN(TestEngineGradModel)
#include "test_engine_grad_model.moc"
