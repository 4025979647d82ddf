// paramscope-cli calibrate and eval on the digits sample: statistics equal to torch's autograd
// (tests/tools/make_calibration_reference.py) with given and predicted labels, the importance CLI
// consuming them, accuracy equal to what torch measured (config.json), image folders, and clear
// errors for data that does not fit.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "cli_run.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

QString sample(const char* rel) {
  return QString::fromStdString((test::samples_dir() / "digits-cnn" / rel).string());
}
QString calib(const char* rel) {
  return QString::fromStdString((test::data("engine") / "calibration" / rel).string());
}

// Largest |a - b| over the tensor relative to the reference's largest magnitude.
double scaled_error(const Tensor& a, const Tensor& ref) {
  if (a.shape() != ref.shape()) return INFINITY;
  const auto x = a.to_f32(), y = ref.to_f32();
  double e = 0, scale = 1e-30;
  for (const float v : y) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  for (std::size_t i = 0; i < x.size(); ++i) e = std::max(e, std::fabs(static_cast<double>(x[i]) - y[i]));
  return e / scale;
}

std::string metadata(const Checkpoint& c, const std::string& key) {
  for (const auto& [k, v] : c.metadata())
    if (k == key) return v;
  return {};
}

QJsonObject json_of(const QByteArray& out) {
  return QJsonDocument::fromJson(out).object();
}

}  // namespace

class TestCliCalibrate : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  QString out(const QString& name) { return tmp_.path() + "/" + name; }

 private slots:
  void matches_torch_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("reference");
    QTest::addColumn<int>("terms");
    QTest::newRow("batch 1, given labels") << QStringList{"--limit", "32"} << "digits_b1.safetensors" << 32;
    QTest::newRow("batch 4, predicted labels")
        << QStringList{"--limit", "32", "--batch", "4", "--labels", "predicted", "--exclude", "classifier.1.weight"}
        << "digits_b4_predicted.safetensors" << 8;
  }
  void matches_torch() {
    QFETCH(QStringList, args);
    QFETCH(QString, reference);
    QFETCH(int, terms);
    const QString file = out(reference);
    const auto r = test::run_cli(QStringList{"calibrate", sample("model.onnx"), "--data", sample("calibration.npz"),
                                             "-o", file} + args);
    QVERIFY2(r.code == 0, r.err.constData());
    const Checkpoint got = open_checkpoint(file.toStdString());
    const Checkpoint ref = open_checkpoint(calib(reference.toUtf8().constData()).toStdString());
    QCOMPARE(got.tensors().size(), ref.tensors().size());
    for (const Tensor& t : ref.tensors()) {
      const Tensor* g = got.find(t.name());
      QVERIFY2(g, t.name().c_str());
      const double e = scaled_error(*g, t);
      // The gradients are sums of float32 products whose order differs from torch's.
      if (!(e < 1e-4)) QFAIL(qPrintable(QString::fromStdString(t.name()) + QString(": error %1").arg(e)));
    }
    QCOMPARE(metadata(got, "samples"), std::to_string(terms));
    QCOMPARE(metadata(got, "calibration_samples"), std::string("32"));
  }

  // The statistics feed the data-driven criteria on the ONNX model itself: wanda from calibrate's
  // file equals wanda from torch's (same tensor sums to 1e-5).
  void importance_reads_the_statistics() {
    const QString stats = out("for_importance.safetensors");
    auto r = test::run_cli({"calibrate", sample("model.onnx"), "--data", sample("calibration.npz"), "--limit", "32",
                            "-o", stats});
    QVERIFY2(r.code == 0, r.err.constData());
    for (const char* criterion : {"wanda", "taylor", "fisher", "obd"}) {
      QJsonObject sums[2];
      for (int k = 0; k < 2; ++k) {
        const QString csv = out(QString("imp_%1_%2.json").arg(criterion).arg(k));
        r = test::run_cli({"importance", sample("model.onnx"), "--criterion", criterion, "--stats",
                           k == 0 ? stats : calib("digits_b1.safetensors"), "-g", "tensor", "-o",
                           out(QString("imp_%1_%2.h5").arg(criterion).arg(k)), "--summary", csv});
        QVERIFY2(r.code == 0, r.err.constData());
        for (const auto& row : test::read_json(csv.toStdString())["tensors"].toArray())
          sums[k][row.toObject()["name"].toString()] = row.toObject()["sum"];
      }
      QCOMPARE(sums[0].keys(), QStringList({"classifier.1.weight", "classifier.3.weight", "onnx::Conv_31",
                                            "onnx::Conv_34"}));
      for (const auto& key : sums[0].keys()) {
        const double a = sums[0][key].toDouble(), b = sums[1][key].toDouble();
        QVERIFY2(b > 0 && std::fabs(a - b) <= 1e-4 * b, qPrintable(QString("%1 %2: %3 vs %4").arg(criterion, key).arg(a).arg(b)));
      }
    }
  }

  // config.json's test_accuracy is what torch measured on the 297 test images when the sample was
  // made; the PNG folder holds the first 60 of them in class folders.
  void eval_matches_torch_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("samples");
    QTest::addColumn<int>("correct");
    QTest::newRow("test.npz") << QStringList{"--data", sample("test.npz")} << 297 << 295;
    QTest::newRow("test.npz, batch 7") << QStringList{"--data", sample("test.npz"), "--batch", "7"} << 297 << 295;
    QTest::newRow("PNG class folders")
        << QStringList{"--data", calib("digits_png"), "--scale", "0.0625"} << 60
        << test::read_json((test::data("engine") / "calibration" / "digits_png" / "expected.json").string())["correct"]
               .toInt();
  }
  void eval_matches_torch() {
    QFETCH(QStringList, args);
    QFETCH(int, samples);
    QFETCH(int, correct);
    const auto r = test::run_cli(QStringList{"eval", sample("model.onnx"), "--json"} + args);
    QVERIFY2(r.code == 0, r.err.constData());
    const QJsonObject j = json_of(r.out);
    QCOMPARE(j["samples"].toInt(), samples);
    QCOMPARE(j["correct"].toInt(), correct);
    if (samples == 297) {
      const double torch = test::read_json((test::samples_dir() / "digits-cnn" / "config.json").string())["test_accuracy"]
                               .toDouble();
      QCOMPARE(std::round(j["accuracy"].toDouble() * 1e4) / 1e4, torch);
    }
    const auto confusion = j["confusion"].toArray();
    QCOMPARE(confusion.size(), 10);
    int diagonal = 0;
    for (int i = 0; i < 10; ++i) diagonal += confusion[i].toArray()[i].toInt();
    QCOMPARE(diagonal, correct);
  }

  void bad_data_is_refused_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    const QString bad_labels = out("labels_out_of_range.npy");
    QTest::newRow("label beyond the classes")
        << QStringList{"calibrate", sample("model.onnx"), "--data", sample("inputs.npy"), "--labels", bad_labels,
                       "-o", out("x.st")}
        << 2 << "label 10 is not a class";
    QTest::newRow("too few labels") << QStringList{"eval", sample("model.onnx"), "--data", sample("test.npz"),
                                                   "--labels", sample("labels.npy")}
                                    << 2 << "16 labels for 297 samples";
    QTest::newRow("integer samples") << QStringList{"eval", sample("model.onnx"), "--data", sample("labels.npy"),
                                                    "--labels", sample("labels.npy")}
                                     << 2 << "convert and scale";
    QTest::newRow("no labels to evaluate")
        << QStringList{"eval", sample("model.onnx"), "--data", sample("inputs.npy")} << 2 << "no labels";
    QTest::newRow("missing data file") << QStringList{"eval", sample("model.onnx"), "--data", out("nope.npy")} << 1
                                       << "nope.npy";
    QTest::newRow("unknown output") << QStringList{"calibrate", sample("model.onnx"), "--data", sample("test.npz"),
                                                   "--output-name", "probs", "-o", out("y.st")}
                                    << 2 << "no output 'probs'";
    QTest::newRow("no weight matches") << QStringList{"calibrate", sample("model.onnx"), "--data", sample("test.npz"),
                                                      "--targets", "nothing*", "-o", out("z.st")}
                                       << 2 << "no weight";
  }
  void bad_data_is_refused() {
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QFETCH(QString, message);
    std::vector<std::int64_t> labels(16, 3);
    labels[5] = 10;
    write_npy(out("labels_out_of_range.npy").toStdString(), Array::of<std::int64_t>({16}, labels));
    const auto r = test::run_cli(args);
    QCOMPARE(r.code, code);
    QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
    QVERIFY(!fs::exists(out("x.st").toStdString()));
  }
};

QTEST_APPLESS_MAIN(TestCliCalibrate)
#include "test_cli_calibrate.moc"
