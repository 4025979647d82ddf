// paramscope-cli run, driven as a user would: outputs written as NPY and equal to torch's
// (tests/tools/make_engine_models.py), the listing on stdout and as JSON, file names sanitised,
// and clear errors naming the input for type and shape mismatches.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "cli_run.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

QString engine_file(const char* rel) {
  return QString::fromStdString((test::data("engine") / rel).string());
}

double max_diff(const Array& a, const Array& b) {
  if (a.shape() != b.shape() || a.type() != b.type()) return INFINITY;
  double e = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(a.size()); ++i)
    e = std::max(e, double(std::abs(a.values<float>()[i] - b.values<float>()[i])));
  return e;
}

}  // namespace

class TestCliRun : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  QString out_dir(const QString& name) { return tmp_.path() + "/" + name; }

 private slots:
  void writes_outputs_data() {
    QTest::addColumn<QStringList>("input");
    QTest::newRow("NAME=FILE") << QStringList{"--input", "x=" + engine_file("chain_opset13.input.npy")};
    QTest::newRow("bare FILE for the one input") << QStringList{"-i", engine_file("chain_opset13.input.npy")};
  }
  void writes_outputs() {
    QFETCH(QStringList, input);
    const QString dir = out_dir(QTest::currentDataTag());
    const auto r =
        test::run_cli(QStringList{"run", engine_file("chain_opset13.onnx")} + input + QStringList{"-o", dir});
    QVERIFY2(r.code == 0, r.err.constData());
    const QString y = dir + "/y.npy", g = dir + "/g.npy";
    QCOMPARE(QString(r.out), "y -> " + y + " (F32 [2, 10])\ng -> " + g + " (F32 [2, 12])\n");
    QVERIFY(max_diff(read_npy(y.toStdString()), read_npy(engine_file("chain_opset13.output.npy").toStdString())) <
            1e-5);
    QVERIFY(max_diff(read_npy(g.toStdString()), read_npy(engine_file("chain_opset13.output_g.npy").toStdString())) <
            1e-5);
  }

  void json_listing() {
    const QString dir = out_dir("json");
    const auto r = test::run_cli({"run", engine_file("chain_opset13.onnx"), "--input",
                                  "x=" + engine_file("chain_opset13.input.npy"), "-o", dir, "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j["model"].toString(), engine_file("chain_opset13.onnx"));
    const auto outs = j["outputs"].toArray();
    QCOMPARE(outs.size(), 2);
    QCOMPARE(outs[0]["name"].toString(), QString("y"));
    QCOMPARE(outs[0]["path"].toString(), dir + "/y.npy");
    QCOMPARE(outs[0]["dtype"].toString(), QString("F32"));
    QCOMPARE(outs[0]["shape"].toArray(), (QJsonArray{2, 10}));
    QCOMPARE(outs[1]["name"].toString(), QString("g"));
  }

  void sanitised_file_names() {
    const QString dir = out_dir("odd");
    // The input file: any F32 [2] array; the model's input is named "in:0".
    write_npy(fs::path((dir + "-in.npy").toStdString()), Array::of<float>({2}, {-1, 2}));
    const auto r =
        test::run_cli({"run", engine_file("odd_names.onnx"), "--input", "in:0=" + dir + "-in.npy", "-o", dir});
    QVERIFY2(r.code == 0, r.err.constData());
    QCOMPARE(QString(r.out), "logits/out:0 -> " + dir + "/logits_out_0.npy (F32 [2])\n" + "logits_out_0 -> " + dir +
                                 "/logits_out_0_1.npy (F32 [2])\n" + ".. -> " + dir + "/output.npy (F32 [2])\n");
    QCOMPARE(read_npy((dir + "/logits_out_0_1.npy").toStdString()).values<float>()[0], 1.f);
    QCOMPARE(read_npy((dir + "/output.npy").toStdString()).values<float>()[1], 2.f);
  }

  void errors_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    const QString model = engine_file("chain_opset13.onnx");
    QTest::newRow("type mismatch") << QStringList{"run", model,       "-i", "x=" + engine_file("npy/f8.npy"),
                                                  "-o",  out_dir("e")}
                                   << 2
                                   << "input 'x': type F64 does not fit the model's F32 (read from " +
                                          engine_file("npy/f8.npy") + ")";
    QTest::newRow("shape mismatch") << QStringList{"run", model,       "-i", "x=" + engine_file("npy/f4.npy"),
                                                   "-o",  out_dir("e")}
                                    << 2 << "input 'x': shape [2, 3] does not fit the model's [batch, 3, 4]";
    QTest::newRow("unknown input name") << QStringList{"run", model,     "-i", "z=" + engine_file("npy/f4.npy"),
                                                       "-i",  "x=a.npy", "-o", out_dir("e")}
                                        << 2 << "--input 'z=" + engine_file("npy/f4.npy") + "': give NAME=FILE.npy";
    QTest::newRow("input given twice") << QStringList{"run", model,     "-i", "x=a.npy",
                                                      "-i",  "x=b.npy", "-o", out_dir("e")}
                                       << 2 << "input 'x' is given twice";
    QTest::newRow("missing npy") << QStringList{"run", model, "-i", "x=/nonexistent/x.npy", "-o", out_dir("e")} << 1
                                 << "/nonexistent/x.npy";
    QTest::newRow("malformed npy")
        << QStringList{"run", model,
                       "-i",  "x=" + QString::fromStdString(test::data("malformed/npy/truncated_data.npy").string()),
                       "-o",  out_dir("e")}
        << 1 << "truncated_data.npy: is truncated";
    const QString unsupported = QString::fromStdString(test::data("malformed/engine/unsupported_op.onnx").string());
    QTest::newRow("unsupported operator") << QStringList{"run", unsupported, "-i", "x.npy", "-o", out_dir("e")} << 1
                                          << unsupported + ": node 'n3' (NonMaxSuppression): operator not supported";
    QTest::newRow("no output folder") << QStringList{"run", model, "-i", "x.npy"} << 2 << "";
  }
  void errors() {
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QFETCH(QString, message);
    const auto r = test::run_cli(args);
    QCOMPARE(r.code, code);
    QVERIFY2(QString(r.err).contains(message), r.err.constData());
    if (!message.isEmpty()) QCOMPARE(r.err.count('\n'), 1);  // one line
    QVERIFY(!QDir(out_dir("e")).exists() || QDir(out_dir("e")).isEmpty());
  }
};

QTEST_GUILESS_MAIN(TestCliRun)
#include "test_cli_run.moc"
