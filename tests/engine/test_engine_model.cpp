// Model::load and Model::run: models exported by torch.onnx.export run to torch's own outputs
// (tests/tools/make_engine_models.py), the typed TensorProto fields and external data load to
// their values, feeds are checked, and every broken model of tests/data/malformed/engine gives
// one clear error naming the file (and the node).
#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <cmath>
#include <set>

#include "engine/executor.h"
#include "engine/graph.h"
#include "engine/op_registry.h"
#include "error_kind.h"
#include "json_file.h"
#include "malformed.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
using engine::Model;
namespace fs = std::filesystem;

namespace {

fs::path engine_data(const std::string& rel) {
  return test::data("engine") / rel;
}

// Largest |a - b| / (1 + |b|) over the elements; +inf if shapes or types differ.
double max_error(const Array& a, const Array& b) {
  if (a.shape() != b.shape() || a.type() != b.type()) return INFINITY;
  const Array da = a.cast(DType::F64), db = b.cast(DType::F64);
  const auto x = da.values<double>(), y = db.values<double>();
  double e = 0;
  for (std::size_t i = 0; i < x.size(); ++i) e = std::max(e, std::abs(x[i] - y[i]) / (1 + std::abs(y[i])));
  return e;
}

Array ones(DType t, std::vector<std::int64_t> shape) {
  return Array::of<float>(shape, std::vector<float>(static_cast<std::size_t>(shape_size(shape)), 1.f)).cast(t);
}

}  // namespace

class TestEngineModel : public QObject {
  Q_OBJECT
 private slots:
  void torch_exports_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("opset");
    QTest::newRow("opset 13") << "chain_opset13" << 13;
    QTest::newRow("opset 9 (attribute forms)") << "chain_opset9" << 9;
  }
  void torch_exports() {
    QFETCH(QString, name);
    QFETCH(int, opset);
    const std::string n = name.toStdString();
    const Model m = Model::load(engine_data(n + ".onnx"));
    QCOMPARE(m.opset(), opset);
    QCOMPARE(m.inputs().size(), std::size_t{1});
    const auto& x = m.inputs()[0];
    QCOMPARE(x.name, std::string("x"));
    QCOMPARE(x.type, DType::F32);
    QVERIFY(x.has_shape);
    QCOMPARE(x.shape, (std::vector<std::int64_t>{-1, 3, 4}));
    QCOMPARE(x.dim_names[0], std::string("batch"));
    QCOMPARE(m.outputs().size(), std::size_t{2});
    QCOMPARE(m.outputs()[0].name, std::string("y"));
    QCOMPARE(m.outputs()[1].name, std::string("g"));

    const Array input = read_npy(engine_data(n + ".input.npy"));
    const auto out = m.run({{"x", input}});
    QCOMPARE(out.size(), std::size_t{2});
    const Array y = read_npy(engine_data(n + ".output.npy"));
    const Array g = read_npy(engine_data(n + ".output_g.npy"));
    QCOMPARE(out[0].shape(), y.shape());
    QVERIFY2(max_error(out[0], y) < 1e-5, qPrintable(QString::number(max_error(out[0], y))));
    QVERIFY2(max_error(out[1], g) < 1e-5, qPrintable(QString::number(max_error(out[1], g))));
    // A batch of one runs too (the Shape -> Reshape chain follows the batch), giving row 0.
    const Array first = Array::of<float>({1, 3, 4}, input.values<float>().subspan(0, 12));
    const auto one = m.run({{"x", first}});
    QCOMPARE(one[1].shape(), (std::vector<std::int64_t>{1, g.dim(1)}));
    for (std::int64_t i = 0; i < g.dim(1); ++i)
      QVERIFY(std::abs(one[1].values<float>()[static_cast<std::size_t>(i)] -
                       g.values<float>()[static_cast<std::size_t>(i)]) < 1e-5);
  }

  void typed_fields() {
    const Model m = Model::load(engine_data("typed_fields.onnx"));
    QVERIFY(m.inputs().empty());
    const auto out = m.run({});
    const auto expected = test::read_json(engine_data("typed_fields.json"));
    QCOMPARE(out.size(), static_cast<std::size_t>(expected.size()));
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto& name = m.outputs()[i].name;
      const auto want = expected[QString::fromStdString(name)].toArray();
      QCOMPARE(out[i].type(), DType::F64);
      QCOMPARE(out[i].size(), static_cast<std::int64_t>(want.size()));
      for (std::size_t k = 0; k < 2; ++k)
        QVERIFY2(out[i].values<double>()[k] == want[static_cast<int>(k)].toDouble(), name.c_str());
    }
  }

  void external_data() {
    const Model m = Model::load(engine_data("external/model.onnx"));
    const auto out = m.run({{"x", ones(DType::F32, {3, 4})}});
    for (int i = 0; i < 12; ++i) QCOMPARE(out[0].values<float>()[static_cast<std::size_t>(i)], 1 + i / 4.f);
  }

  void feed_checks_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("message");
    QTest::newRow("missing") << 0 << "input 'x' is not given (the model's inputs: 'x')";
    QTest::newRow("unknown") << 1 << "the model has no input 'z' (its inputs: 'x')";
    QTest::newRow("type") << 2 << "input 'x': type F64 does not fit the model's F32";
    QTest::newRow("fixed dimension") << 3 << "input 'x': shape [2, 3, 5] does not fit the model's [batch, 3, 4]";
    QTest::newRow("rank") << 4 << "input 'x': shape [3, 4] does not fit the model's [batch, 3, 4]";
  }
  void feed_checks() {
    QFETCH(int, which);
    QFETCH(QString, message);
    const Model m = Model::load(engine_data("chain_opset13.onnx"));
    std::map<std::string, Array> feeds;
    switch (which) {
      case 1:
        feeds = {{"x", ones(DType::F32, {1, 3, 4})}, {"z", Array()}};
        break;
      case 2:
        feeds = {{"x", ones(DType::F64, {1, 3, 4})}};
        break;
      case 3:
        feeds = {{"x", ones(DType::F32, {2, 3, 5})}};
        break;
      case 4:
        feeds = {{"x", ones(DType::F32, {3, 4})}};
        break;
      default:
        break;
    }
    try {
      m.run(feeds);
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(test::kind_name(e.kind()), "Usage");
      QCOMPARE(QString(e.what()), message);
    }
  }

  void run_time_failure_names_file_and_node() {
    const fs::path p = engine_data("reshape_fixed.onnx");
    const Model m = Model::load(p);
    QCOMPARE(m.run({{"x", ones(DType::F32, {2, 2})}})[0].shape(), (std::vector<std::int64_t>{2, 2}));
    try {
      m.run({{"x", ones(DType::F32, {3, 2})}});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::BadInput);
      QCOMPARE(QString(e.what()), QString::fromStdString(p.string()) +
                                      ": node 'fixed_reshape' (Reshape): cannot reshape [3, 2] (6 values) to [2, 2]");
    }
  }

  void cancelled_between_nodes() {
    const Model m = Model::load(engine_data("chain_opset13.onnx"));
    CancelToken token;
    token.cancel();
    try {
      m.run({{"x", ones(DType::F32, {1, 3, 4})}}, {&token, {}});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Cancelled);
    }
  }

  void keeps_every_value_when_asked() {
    const auto g = engine::load_onnx_graph(engine_data("reshape_fixed.onnx"), engine::OpRegistry::builtin());
    const std::map<std::string, Array> feeds{{"x", Array::of<float>({2, 2}, {-1, 2, -3, 4})}};
    engine::ValueMap kept;
    const auto out = engine::execute(g, feeds, {}, &kept);
    QVERIFY(kept.count("r"));  // the Relu's output, freed after its last use otherwise
    QCOMPARE(kept.at("r").values<float>()[0], 0.f);
    QCOMPARE(kept.at("r").values<float>()[1], 2.f);
    QVERIFY(kept.count("shape") && kept.count("x") && kept.count("y"));
  }

  void constants_are_folded_at_load() {
    const auto g = engine::load_onnx_graph(engine_data("chain_opset13.onnx"), engine::OpRegistry::builtin());
    for (const auto& n : g.nodes) QVERIFY2(n.op_type != "Constant", n.name.c_str());
    QVERIFY(g.initializers.size() > 2);  // w, b and the exported constants
  }

  void digits_cnn_end_to_end() {
    const auto& reg = engine::OpRegistry::builtin();
    if (!reg.find("Conv") || !reg.find("Gemm") || !reg.find("MaxPool"))
      QSKIP("Conv, Gemm and MaxPool are not implemented yet");
    const fs::path dir = test::samples_dir() / "digits-cnn";
    const Model m = Model::load(dir / "model.onnx");
    const Array x = read_npy(dir / "inputs.npy");
    const Array labels = read_npy(dir / "labels.npy");
    const auto out = m.run({{"image", x}});
    const Array want = read_npy(engine_data("digits_logits.npy"));
    QVERIFY2(max_error(out[0], want) < 1e-4, qPrintable(QString::number(max_error(out[0], want))));
    const auto logits = out[0].values<float>();
    for (std::int64_t i = 0; i < x.dim(0); ++i) {
      const auto row = logits.subspan(static_cast<std::size_t>(i * 10), 10);
      const auto best = std::max_element(row.begin(), row.end()) - row.begin();
      QCOMPARE(best, static_cast<std::ptrdiff_t>(labels.values<std::int64_t>()[static_cast<std::size_t>(i)]));
    }
  }

  void malformed_corpus_data() { test::add_corpus_rows(test::data("malformed/engine/expected.json")); }
  void malformed_corpus() {
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QFETCH(QString, message);
    const fs::path p = test::data("malformed/engine") / file.toStdString();
    test::expect_clear_error_from([](const fs::path& f) { Model::load(f); }, p, message, kind);
  }
  void malformed_corpus_complete() {
    const auto expected = test::read_json(test::data("malformed/engine/expected.json"));
    std::set<std::string> known;
    for (const auto& f : expected.keys())
      if (f.endsWith(".onnx")) known.insert(f.chopped(5).toStdString());
    test::expect_corpus_complete(test::data("malformed/engine"), "onnx", known);
  }

  void missing_file() {
    try {
      Model::load("/nonexistent/model.onnx");
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Io);
      QVERIFY(QString(e.what()).contains("/nonexistent/model.onnx"));
    }
  }
};

QTEST_GUILESS_MAIN(TestEngineModel)
#include "test_engine_model.moc"
