// paramscope-cli importance / mask / compare-criteria / jobs, as a user runs them; outputs read
// back with ParamScope's own readers (HDF5, safetensors) and checked against the numpy reference.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "cli_run.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

using Run = test::CliRun;
Run cli(const QStringList& args) {
  return test::run_cli(args, 300000);
}

QString data(const char* rel) {
  return QString::fromStdString(test::data(rel).string());
}

QJsonObject expected() {
  return test::read_json(test::data("importance/expected.json"));
}

}  // namespace

class TestCliImportance : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString out(const char* name) { return tmp_.filePath(name); }

 private slots:
  void row_map_to_hdf5_with_summary() {
    const Run r = cli({"importance", data("importance/model.safetensors"), "--criterion", "wanda", "--stats",
                       data("importance/stats.safetensors"), "-g", "row", "--reduce", "l2", "-o", out("rows.h5"),
                       "--summary", out("rows.csv")});
    QVERIFY2(r.code == 0, r.err.constData());
    // The map file opens as a checkpoint: one dataset per tensor, named like it.
    const Checkpoint maps = open_checkpoint(out("rows.h5").toStdString());
    const auto want = expected()["criteria"].toObject()["wanda"].toObject()["tensors"].toObject();
    int checked = 0;
    for (auto it = want.begin(); it != want.end(); ++it) {
      const Tensor& t = maps.at(it.key().toStdString());
      const auto rows = it.value().toObject()["row"].toObject()["l2"].toArray();
      QCOMPARE(t.numel(), rows.size());
      const auto v = t.to_f32();
      for (qsizetype i = 0; i < rows.size(); ++i)
        QVERIFY(std::fabs(v[static_cast<std::size_t>(i)] - rows[i].toDouble()) <=
                1e-6 * std::max(1.0, rows[i].toDouble()));
      ++checked;
    }
    QCOMPARE(checked, 9);
    std::ifstream csv(out("rows.csv").toStdString());
    std::string header;
    std::getline(csv, header);
    QCOMPARE(QString::fromStdString(header), QString("level,name,block,kind,count,sum,mean,max,l2,value"));
  }

  void element_map_to_npy_folder() {
    const Run r = cli(
        {"importance", data("importance/model.safetensors"), "-c", "magnitude", "-t", "*q_proj*", "-o", out("npy")});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto index = test::read_json(fs::path(out("npy").toStdString()) / "index.json");
    const QString f = index["files"].toObject()["model.layers.0.self_attn.q_proj.weight"].toString();
    QCOMPARE(f, QString("model.layers.0.self_attn.q_proj.weight.npy"));
    QVERIFY(fs::file_size(fs::path(out("npy").toStdString()) / f.toStdString()) == 128 + 64 * 4);
  }

  void matrix_criterion_json() {
    const Run r = cli({"importance", data("importance/model.safetensors"), "-c", "weight-norm", "-g", "block",
                       "--reduce", "l2", "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j["criterion"].toString(), QString("weight-norm"));
    QCOMPARE(j["tensors"].toArray().size(), 9);
    const auto want = expected()["matrix"].toObject();
    for (const auto& tv : j["tensors"].toArray()) {
      const auto t = tv.toObject();
      const double w = want[t["name"].toString()].toObject()["weight-norm"].toDouble();
      QVERIFY(std::fabs(t["value"].toDouble() - w) <= 1e-6 * w);
    }
  }

  void usage_errors_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    QTest::newRow("wanda needs stats") << QStringList{"-c", "wanda", "--json"} << "needs a statistics file (--stats)";
    QTest::newRow("bad conv mode") << QStringList{"-c", "alpha", "-g", "tensor", "-p", "conv=pooled", "--json"}
                                   << "conv=pooled (use flatten or weightwatcher)";
    QTest::newRow("bad granularity") << QStringList{"-c", "magnitude", "-g", "neurons", "--json"}
                                     << "unknown granularity";
    QTest::newRow("bad param") << QStringList{"-c", "contrast", "-p", "mod=ratio", "--json"}
                               << "has no parameter 'mod'";
    QTest::newRow("nothing to write") << QStringList{"-c", "magnitude"} << "nothing to write";
    QTest::newRow("no tensor matches") << QStringList{"-c", "magnitude", "-t", "nope*", "--json"}
                                       << "matches the --tensors";
  }
  void usage_errors() {
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    const Run r = cli(QStringList{"importance", data("importance/model.safetensors")} + args);
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
  }

  // A global top-25% magnitude mask of the 780 scored weights (one NaN): exactly round(195) kept,
  // every weight above the reported threshold kept and every one below dropped.
  void mask_global_reads_back() {
    const Run r = cli({"mask", data("importance/model.safetensors"), "-c", "magnitude", "--top", "25%", "-o",
                       out("mask.safetensors"), "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const QJsonObject summary = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(summary["total"].toInteger(), 780);
    QCOMPARE(summary["kept"].toInteger(), 195);
    const auto threshold = static_cast<float>(summary["threshold"].toDouble());
    const Checkpoint model = open_checkpoint(test::data("importance/model.safetensors"));
    const Checkpoint mask = open_checkpoint(out("mask.safetensors").toStdString());
    QCOMPARE(static_cast<qsizetype>(mask.tensors().size()), summary["tensors"].toArray().size());
    std::int64_t kept = 0;
    for (const auto& entry : summary["tensors"].toArray()) {
      const std::string name = entry.toObject()["name"].toString().toStdString();
      const Tensor& m = mask.at(name);
      QCOMPARE(m.dtype(), DType::BOOL);
      QCOMPARE(m.shape(), model.at(name).shape());
      const auto bits = m.to_f32();
      const auto w = model.at(name).to_f32();
      std::int64_t in_tensor = 0;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const float a = std::fabs(w[i]);
        if (a > threshold) QCOMPARE(bits[i], 1.0f);
        if (a < threshold || std::isnan(a)) QCOMPARE(bits[i], 0.0f);
        in_tensor += bits[i] != 0;
      }
      QCOMPARE(in_tensor, entry.toObject()["kept"].toInteger());
      kept += in_tensor;
    }
    QCOMPARE(kept, 195);
    bool described = false;
    for (const auto& [k, v] : mask.metadata()) described |= k == "paramscope.mask" && v == "top 25% global";
    QVERIFY(described);
  }

  void mask_two_of_four() {
    const Run r = cli({"mask", data("importance/model.safetensors"), "-c", "magnitude", "--scope", "2:4", "--dtype",
                       "u8", "-t", "model.layers.*", "-o", out("mask24.safetensors")});
    QVERIFY2(r.code == 0, r.err.constData());
    const Checkpoint mask = open_checkpoint(out("mask24.safetensors").toStdString());
    const Checkpoint model = open_checkpoint(test::data("importance/model.safetensors"));
    for (const Tensor& m : mask.tensors()) {
      QCOMPARE(m.dtype(), DType::U8);
      const auto bits = m.to_f32();
      if (m.shape().size() < 2) {  // norms and biases are kept whole
        QVERIFY(std::all_of(bits.begin(), bits.end(), [](float b) { return b == 1.0f; }));
        continue;
      }
      const auto w = model.at(m.name()).to_f32();
      for (std::size_t g = 0; g + 4 <= bits.size(); g += 4) {
        // Two kept of every four, and no dropped weight larger than a kept one.
        int n = 0;
        float min_kept = INFINITY, max_dropped = -INFINITY;
        for (std::size_t j = g; j < g + 4; ++j) {
          const float a = std::isnan(w[j]) ? -1.0f : std::fabs(w[j]);
          n += bits[j] != 0;
          if (bits[j] != 0)
            min_kept = std::min(min_kept, a);
          else
            max_dropped = std::max(max_dropped, a);
        }
        QVERIFY2(n == 2 || (n < 2 && max_dropped < 0), m.name().c_str());
        QVERIFY(min_kept >= max_dropped);
      }
    }
  }

  // |w| and w^2 order weights alike: Spearman 1 and identical top-k, per tensor, block and overall.
  void compare_monotone_criteria() {
    const Run r = cli({"compare-criteria", data("importance/model.safetensors"), "--a", "magnitude", "--b",
                       "magnitude-sq", "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j["overall"].toObject()["elements"].toInteger(), 779);  // the NaN weight is left out
    QCOMPARE(j["tensors"].toArray().size(), 9);                      // the matrices and the conv, not the embedding
    for (const char* level : {"tensors", "blocks"})
      for (const auto& u : j[level].toArray()) {
        QCOMPARE(u.toObject()["spearman"].toDouble(), 1.0);
        QCOMPARE(u.toObject()["topk_jaccard"].toDouble(), 1.0);
      }
  }

  void job_file_runs_several_commands() {
    const QString jobs = out("jobs.yaml");
    {
      std::ofstream f(jobs.toStdString());
      f << "defaults:\n  checkpoint: " << test::data("importance/model.safetensors").string() << "\n"
        << "jobs:\n"
        << "  - command: importance\n    criterion: magnitude\n    granularity: tensor\n    output: a.h5\n"
        << "  - {command: importance, criterion: delta, base: " << test::data("importance/base.safetensors").string()
        << ", granularity: block, summary: b.json}\n";
    }
    const Run r = cli({"jobs", jobs});
    QVERIFY2(r.code == 0, r.err.constData());
    QVERIFY(fs::exists(out("a.h5").toStdString()));  // relative to the job file's folder
    const auto summary = test::read_json(out("b.json").toStdString());
    QCOMPARE(summary["criterion"].toString(), QString("delta"));
    const auto want = expected()["criteria"].toObject()["delta"].toObject()["block_layer0"].toObject();
    for (const auto& b : summary["blocks"].toArray())
      if (b.toObject()["name"] == "model.layers.0")
        QVERIFY(std::fabs(b.toObject()["sum"].toDouble() - want["sum"].toArray()[0].toDouble()) < 1e-6);
  }

  void job_file_errors_name_the_job() {
    const QString jobs = out("bad.yaml");
    {
      std::ofstream f(jobs.toStdString());
      f << "jobs:\n  - command: importance\n    checkpoint: " << test::data("importance/model.safetensors").string()
        << "\n    criterion: wanda\n    json: true\n";
    }
    const Run r = cli({"jobs", jobs});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("job 1"), r.err.constData());
  }
};

QTEST_GUILESS_MAIN(TestCliImportance)
#include "test_cli_importance.moc"
