// paramscope-cli attribute and evaluate on the digits CNN: the files each writes, maps equal to
// the library's (the CLI adds no arithmetic of its own), DeepLIFT's summation-to-delta in the
// summary, faithfulness that ranks real attributions above a random map, and clear errors.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <random>

#include "cli_run.h"
#include "paramscope/attribution.h"
#include "paramscope/engine.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

QString sample(const char* rel) {
  return QString::fromStdString((test::samples_dir() / "digits-cnn" / rel).string());
}

double max_diff(const Array& a, const Array& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double e = 0;
  for (std::int64_t i = 0; i < a.size(); ++i)
    e = std::max(e, std::fabs(static_cast<double>(a.data<float>()[i]) - b.data<float>()[i]));
  return e;
}

QJsonObject json_file(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QJsonDocument::fromJson(f.readAll()).object();
}

}  // namespace

class TestCliAttribute : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  QString out(const QString& name) { return tmp_.path() + "/" + name; }

 private slots:
  void writes_maps_per_method() {
    const QString dir = out("maps");
    const auto r = test::run_cli({"attribute", sample("model.onnx"), sample("inputs.npy"), "--limit", "3", "-m",
                                  "gxi,ig,deeplift,rise", "--masks", "256", "-o", dir, "--no-png"});
    QVERIFY2(r.code == 0, r.err.constData());
    for (const char* m : {"gxi", "ig", "deeplift"})
      QCOMPARE(read_npy((dir + "/inputs." + m + ".npy").toStdString()).shape(),
               (std::vector<std::int64_t>{3, 1, 8, 8}));
    QCOMPARE(read_npy((dir + "/inputs.rise.npy").toStdString()).shape(), (std::vector<std::int64_t>{3, 8, 8}));
    QVERIFY(fs::file_size((dir + "/attributions.h5").toStdString()) > 1000);

    // The summary: one row per sample and method, the top prediction explained, and DeepLIFT's
    // attributions summing to f(x) - f(baseline) on this ReLU/MaxPool network.
    const QJsonArray rows = json_file(dir + "/summary.json")["maps"].toArray();
    QCOMPARE(rows.size(), 12);
    int deeplift_rows = 0;
    for (const auto& v : rows) {
      const QJsonObject row = v.toObject();
      if (row["method"].toString() != "deeplift") continue;
      ++deeplift_rows;
      const double change = row["score"].toDouble() - row["baseline_score"].toDouble();
      QVERIFY2(std::fabs(row["delta"].toDouble()) < 1e-4 * std::max(1.0, std::fabs(change)),
               qPrintable(QString::number(row["delta"].toDouble())));
    }
    QCOMPARE(deeplift_rows, 3);
  }

  // The CLI's maps are the library's, for the same inputs and options.
  void maps_equal_the_library() {
    const QString dir = out("same");
    const auto r = test::run_cli({"attribute", sample("model.onnx"), sample("inputs.npy"), "--limit", "2", "-m",
                                  "gxi,deeplift", "--target", "3", "-o", dir, "--no-png"});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto model = engine::Model::load(sample("model.onnx").toStdString());
    const Array x = read_npy(sample("inputs.npy").toStdString()).rows(0, 2);
    xai::Target t;
    t.classes = {3};
    const auto gxi = xai::gradient_x_input(model, x, t);
    QCOMPARE(gxi.classes, (std::vector<std::int64_t>{3, 3}));
    QVERIFY(max_diff(read_npy((dir + "/inputs.gxi.npy").toStdString()), gxi.map) == 0);
    const auto dl = xai::deeplift(model, x, Array(DType::F32, x.shape()), t);
    QVERIFY(max_diff(read_npy((dir + "/inputs.deeplift.npy").toStdString()), dl.map) == 0);
  }

  // One sample without its batch axis is a batch of one.
  void one_sample_file() {
    const Array x = read_npy(sample("inputs.npy").toStdString()).rows(4, 1).reshaped({1, 8, 8});
    const QString file = out("one.npy");
    write_npy(file.toStdString(), x);
    const auto r = test::run_cli({"attribute", sample("model.onnx"), file, "-m", "gxi", "-o", out("one"), "--no-png"});
    QVERIFY2(r.code == 0, r.err.constData());
    QCOMPARE(read_npy((out("one") + "/one.gxi.npy").toStdString()).shape(), (std::vector<std::int64_t>{1, 1, 8, 8}));
  }

  void faithfulness_ranks_methods_above_random() {
    // A random map is the floor: a method that knows the network deletes the class faster.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0, 1);
    Array noise(DType::F32, {16, 8, 8});
    for (std::int64_t i = 0; i < noise.size(); ++i) noise.data<float>()[i] = u(rng);
    write_npy(out("random.npy").toStdString(), noise);
    const auto r = test::run_cli({"evaluate", sample("model.onnx"), sample("inputs.npy"), "-m", "deeplift,gxi", "--map",
                                  "random=" + out("random.npy"), "-o", out("table.csv"), "--curves", out("curves.json"),
                                  "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const QJsonArray table = QJsonDocument::fromJson(r.out).array();
    QCOMPARE(table.size(), 3);
    std::map<QString, QJsonObject> by;
    for (const auto& v : table) by[v.toObject()["method"].toString()] = v.toObject();
    QCOMPARE(by["random"]["samples"].toInt(), 16);
    for (const char* m : {"deeplift", "gxi"}) {
      QVERIFY2(by[m]["deletion_auc"].toDouble() < by["random"]["deletion_auc"].toDouble(), m);
      QVERIFY2(by[m]["insertion_auc"].toDouble() > by["random"]["insertion_auc"].toDouble(), m);
    }
    QVERIFY(fs::file_size(out("table.csv").toStdString()) > 50);
    const QJsonObject curves = json_file(out("curves.json"));
    QCOMPARE(curves["deeplift"].toArray().size(), 16);
  }

  void errors_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    const QString m = sample("model.onnx"), x = sample("inputs.npy");
    QTest::newRow("unknown method") << QStringList{"attribute", m, x, "-m", "lime", "-o", out("e")} << 2 << "lime";
    QTest::newRow("class out of range") << QStringList{"attribute", m, x, "-m", "gxi", "--target", "10", "-o", out("e")}
                                        << 2 << "target class 10";
    QTest::newRow("bad baseline") << QStringList{"attribute", m, x, "-m", "ig", "--baseline", "pink", "-o", out("e")}
                                  << 2 << "--baseline 'pink'";
    QTest::newRow("missing input") << QStringList{"attribute", m, out("nope.npy"), "-m", "gxi", "-o", out("e")} << 1
                                   << "nope.npy";
    QTest::newRow("shap without references")
        << QStringList{"attribute", m, x, "-m", "deeplift-shap", "-o", out("e")} << 2 << "--shap-baselines";
    QTest::newRow("map for several inputs")
        << QStringList{"evaluate", m, x, x, "--map", "a=" + x, "-m", "gxi"} << 2 << "exactly one input";
  }
  void errors() {
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QFETCH(QString, message);
    const auto r = test::run_cli(args);
    QCOMPARE(r.code, code);
    QVERIFY2(QString::fromUtf8(r.err).contains(message), r.err.constData());
  }
};

QTEST_GUILESS_MAIN(TestCliAttribute)
#include "test_cli_attribute.moc"
