// The bundled digits transformer (resources/samples/digits-transformer, made by
// resources/samples/make_samples.py) end to end through paramscope-cli: eval gives the accuracy
// torch measured (config.json), run gives torch's logits (logits16.npy) at several batch sizes,
// and calibrate's statistics feed wanda on the model's MatMul weights.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cli_run.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;

namespace {

QString sample(const char* rel) {
  return QString::fromStdString((test::samples_dir() / "digits-transformer" / rel).string());
}

QJsonObject config() {
  return test::read_json(test::samples_dir() / "digits-transformer" / "config.json");
}

Array npz_member(const QString& file, const std::string& name) {
  for (auto& [k, a] : read_npz(file.toStdString()))
    if (k == name) return a;
  qFatal("%s has no member %s", qPrintable(file), name.c_str());
}

// The first n rows of a float32 array.
Array first_rows(const Array& a, std::int64_t n) {
  auto shape = a.shape();
  shape[0] = n;
  Array out(DType::F32, shape);
  std::memcpy(out.bytes(), a.bytes(), out.byte_size());
  return out;
}

double max_diff(const Array& a, const Array& b) {
  if (a.shape() != b.shape() || a.type() != DType::F32 || b.type() != DType::F32) return INFINITY;
  double e = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(a.size()); ++i)
    e = std::max(e, std::fabs(static_cast<double>(a.values<float>()[i]) - b.values<float>()[i]));
  return e;
}

}  // namespace

class TestCliTransformerSample : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  QString out(const QString& name) { return tmp_.path() + "/" + name; }

 private slots:
  // What the sample promises: a transformer of the documented size that learned the digits.
  void config_describes_the_model() {
    const QJsonObject c = config();
    QCOMPARE(c["architecture"].toString(), QString("DigitsTransformer"));
    QCOMPARE(c["d_model"].toInt(), 32);
    QCOMPARE(c["heads"].toInt(), 4);
    QCOMPARE(c["layers"].toInt(), 2);
    QCOMPARE(c["num_classes"].toInt(), 10);
    QVERIFY2(c["test_accuracy"].toDouble() > 0.95, "the sample is meant to classify the digits");
  }

  // config.json's test_accuracy is torch's on the 297 test images; the batch size must not matter.
  void eval_matches_torch_data() {
    QTest::addColumn<QStringList>("args");
    QTest::newRow("default batch") << QStringList{};
    QTest::newRow("batch 1") << QStringList{"--batch", "1"};
    QTest::newRow("batch 7") << QStringList{"--batch", "7"};
  }
  void eval_matches_torch() {
    QFETCH(QStringList, args);
    const auto r = test::run_cli(QStringList{"eval", sample("model.onnx"), "--data", sample("test.npz"), "--json"} +
                                 args);
    QVERIFY2(r.code == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j["samples"].toInt(), 297);
    const double torch = config()["test_accuracy"].toDouble();
    QCOMPARE(std::round(j["accuracy"].toDouble() * 1e4) / 1e4, torch);
    QCOMPARE(j["correct"].toInt(), static_cast<int>(std::lround(torch * 297)));
    const auto confusion = j["confusion"].toArray();
    QCOMPARE(confusion.size(), 10);
    int diagonal = 0;
    for (int i = 0; i < 10; ++i) diagonal += confusion[i].toArray()[i].toInt();
    QCOMPARE(diagonal, j["correct"].toInt());
  }

  // The first n test images through `run`: the dynamic batch dimension, the Shape/Reshape chains
  // of the attention and the LayerNormalization/Softmax/Erf nodes against torch's own logits.
  void run_matches_torch_data() {
    QTest::addColumn<int>("n");
    QTest::newRow("16 images") << 16;
    QTest::newRow("1 image") << 1;
    QTest::newRow("5 images") << 5;
  }
  void run_matches_torch() {
    QFETCH(int, n);
    const Array ref = read_npy(sample("logits16.npy").toStdString());
    QCOMPARE(ref.shape(), (std::vector<std::int64_t>{16, 10}));
    const QString input = out(QString("images%1.npy").arg(n));
    write_npy(input.toStdString(), first_rows(npz_member(sample("test.npz"), "x"), n));
    const QString dir = out(QString("run%1").arg(n));
    const auto r = test::run_cli({"run", sample("model.onnx"), "--input", input, "-o", dir});
    QVERIFY2(r.code == 0, r.err.constData());
    const Array got = read_npy((dir + "/logits.npy").toStdString());
    const double e = max_diff(got, first_rows(ref, n));
    QVERIFY2(e < 1e-4, qPrintable(QString("largest difference %1").arg(e)));
  }

  // calibrate finds every weight of the exported graph (the attention and MLP Linears become
  // MatMul with an input-major [in, out] initializer, the head a Gemm) and wanda reads the file.
  // The embedding's input is the image rows themselves, so its act_l2 is checked by hand.
  void calibrate_feeds_wanda() {
    const QString stats = out("stats.safetensors");
    auto r = test::run_cli({"calibrate", sample("model.onnx"), "--data", sample("calibration.npz"), "-o", stats});
    QVERIFY2(r.code == 0, r.err.constData());
    const Checkpoint s = open_checkpoint(stats.toStdString());
    int matmul = 0;
    const Tensor* embed = nullptr;
    for (const Tensor& t : s.tensors()) {
      const auto& name = t.name();
      if (name.size() < 7 || name.compare(name.size() - 7, 7, "@act_l2") != 0 || name.rfind("onnx::MatMul", 0) != 0)
        continue;
      ++matmul;
      QCOMPARE(t.shape().size(), std::size_t{2});
      QCOMPARE(t.shape()[1], std::int64_t{1});
      if (t.shape()[0] == 8) embed = &t;
    }
    // embed + 2 layers x (q, k, v, proj, fc1, fc2)
    QCOMPARE(matmul, 13);
    QVERIFY(embed);
    const Array x = npz_member(sample("calibration.npz"), "x");  // [128, 1, 8, 8]: rows are tokens
    std::vector<double> sq(8, 0.0);
    for (std::int64_t i = 0; i < x.size(); ++i) sq[static_cast<std::size_t>(i % 8)] += std::pow(x.values<float>()[i], 2);
    const auto got = embed->to_f32();
    for (std::size_t j = 0; j < 8; ++j)
      QVERIFY2(std::fabs(got[j] - std::sqrt(sq[j])) <= 1e-5 * std::sqrt(sq[j]),
               qPrintable(QString("feature %1: %2 vs %3").arg(j).arg(got[j]).arg(std::sqrt(sq[j]))));

    const QString summary = out("wanda.json");
    r = test::run_cli({"importance", sample("model.onnx"), "--criterion", "wanda", "--stats", stats, "-g", "tensor",
                       "-o", out("wanda.h5"), "--summary", summary});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto rows = test::read_json(summary.toStdString())["tensors"].toArray();
    QCOMPARE(rows.size(), 14);  // the 13 MatMul weights and head.weight
    for (const auto& row : rows) {
      const QJsonObject o = row.toObject();
      QVERIFY2(o["sum"].toDouble() > 0, qPrintable(o["name"].toString()));
    }
  }
};

QTEST_APPLESS_MAIN(TestCliTransformerSample)
#include "test_cli_transformer_sample.moc"
