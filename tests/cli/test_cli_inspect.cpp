// paramscope-cli inspect, driven as a user would: exit codes, --json schema, --stats values.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

#include "cli_run.h"
#include "json_file.h"
#include "test_paths.h"

using namespace paramscope;

namespace {

using Run = test::CliRun;
Run cli(const QStringList& args) {
  return test::run_cli(args, 120000);
}

QString sample(const char* rel) {
  return QString::fromStdString((test::samples_dir() / rel).string());
}

}  // namespace

class TestCliInspect : public QObject {
  Q_OBJECT
 private slots:
  void exit_codes_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::newRow("help") << QStringList{"--help"} << 0;
    QTest::newRow("inspect help") << QStringList{"inspect", "--help"} << 0;
    QTest::newRow("no subcommand") << QStringList{} << 2;
    QTest::newRow("unknown option") << QStringList{"inspect", "--frobnicate", sample("tiny-llama")} << 2;
    QTest::newRow("missing path") << QStringList{"inspect"} << 2;
    QTest::newRow("missing file") << QStringList{"inspect", "/nonexistent/model.safetensors"} << 1;
    QTest::newRow("malformed file")
        << QStringList{"inspect", QString::fromStdString(test::data("malformed/safetensors/gap.safetensors").string())}
        << 1;
    QTest::newRow("libhdf5 crashes on it")
        << QStringList{"inspect", QString::fromStdString(test::data("malformed/keras/libhdf5_segfault.h5").string())}
        << 1;
    QTest::newRow("ok") << QStringList{"inspect", sample("tiny-llama")} << 0;
  }
  void exit_codes() {
    QFETCH(QStringList, args);
    QFETCH(int, code);
    const Run r = cli(args);
    QCOMPARE(r.code, code);
    if (code == 1) {
      // One line naming the file.
      QCOMPARE(r.err.count('\n'), 1);
      QVERIFY2(r.err.contains(args.last().toUtf8()), r.err.constData());
    }
  }

  void json_schema() {
    const Run r = cli({"inspect", "--json", sample("tiny-llama")});
    QCOMPARE(r.code, 0);
    const auto j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j["format"].toString(), QString("safetensors"));
    const auto ref = test::read_json(test::data("samples/reference.json"))["tiny-llama"].toObject();
    qint64 params = 0;
    for (const auto& v : ref) {
      qint64 n = 1;
      for (const auto& d : v.toObject()["shape"].toArray()) n *= d.toInteger();
      params += n;
    }
    QCOMPARE(j["parameters"].toInteger(), params);
    const auto tensors = j["tensors"].toArray();
    QCOMPARE(tensors.size(), ref.size());
    for (const auto& tv : tensors) {
      const auto t = tv.toObject();
      const auto r2 = ref[t["name"].toString()].toObject();
      QCOMPARE(t["dtype"].toString(), r2["dtype"].toString());
      QCOMPARE(t["shape"].toArray(), r2["shape"].toArray());
    }
    // Blocks in model order, with the kinds recognised.
    const auto blocks = j["blocks"].toArray();
    QCOMPARE(blocks.first().toObject()["name"].toString(), QString("model.embed_tokens"));
    QCOMPARE(blocks.last().toObject()["name"].toString(), QString("lm_head"));
    QCOMPARE(blocks.size(), 4 + 3);
    QVERIFY(j["module_kinds"].toObject().contains("mlp.gate"));
  }

  void stats_match_torch() {
    const Run r = cli({"inspect", "--json", "--stats", sample("digits-cnn/model.safetensors")});
    QCOMPARE(r.code, 0);
    QVERIFY2(r.err.isEmpty(), r.err.constData());  // no progress bar when stderr is not a terminal
    const auto ref = test::read_json(test::data("samples/reference.json"))["digits-cnn"].toObject();
    for (const auto& tv : QJsonDocument::fromJson(r.out).object()["tensors"].toArray()) {
      const auto t = tv.toObject();
      const auto s = t["stats"].toObject();
      const auto want = ref[t["name"].toString()].toObject();
      const double scale = std::max(1.0, std::fabs(want["max"].toDouble()) + std::fabs(want["min"].toDouble()));
      QVERIFY2(std::fabs(s["mean"].toDouble() - want["mean"].toDouble()) < 1e-6 * scale,
               qPrintable(t["name"].toString()));
      QVERIFY2(std::fabs(s["std"].toDouble() - want["std"].toDouble()) < 1e-5 * scale,
               qPrintable(t["name"].toString()));
      QCOMPARE(s["min"].toDouble(), want["min"].toDouble());
      QCOMPARE(s["max"].toDouble(), want["max"].toDouble());
      QCOMPARE(s["nan"].toInt(), 0);
    }
  }

  void several_paths_give_an_array() {
    const Run r = cli({"inspect", "--json", sample("tiny-llama"), sample("digits-cnn/model.safetensors")});
    QCOMPARE(r.code, 0);
    const auto a = QJsonDocument::fromJson(r.out).array();
    QCOMPARE(a.size(), 2);
  }

  void text_report() {
    const Run r = cli({"inspect", sample("tiny-llama")});
    QCOMPARE(r.code, 0);
    QVERIFY(r.out.contains("format      safetensors (3 files"));
    QVERIFY(r.out.contains("model.layers.3"));
    QVERIFY(r.out.contains("attn.q"));
  }
};

QTEST_GUILESS_MAIN(TestCliInspect)
#include "test_cli_inspect.moc"
