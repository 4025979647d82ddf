// paramscope-cli interfere: on the numpy reference fixture (tests/tools/make_interference_reference.py)
// the report files exist with their headers and the reference's values (|tau| and the magnitude
// criterion as overlap scores), --json, the element maps as NPY (read back here) and HDF5, and
// errors (one model, a missing file, misaligned models, bad options) with exit code and message.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli_run.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/writers.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

QString data(const std::string& rel) {
  return QString::fromStdString(test::data("interference/" + rel).string());
}

QStringList fixture() {
  return {data("base.safetensors"), data("ft0.safetensors"), data("ft1.safetensors"), data("ft2.safetensors")};
}

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  if (!s.empty() && s.back() == ',') out.emplace_back();
  return out;
}

bool close(double a, double b, double rel = 1e-6) {
  return std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b));
}

// A minimal NPY reader (version 1 and 2 headers): dtype string, shape and the raw data.
struct Npy {
  std::string descr;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

Npy read_npy(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (all.size() < 10 || all.compare(0, 6, "\x93NUMPY") != 0) qFatal("%s: not NPY", p.c_str());
  const auto u8 = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(all[i])); };
  const bool v1 = all[6] == 1;
  const std::size_t len = v1 ? u8(8) | u8(9) << 8 : u8(8) | u8(9) << 8 | u8(10) << 16 | u8(11) << 24;
  const std::size_t start = v1 ? 10 : 12;
  const std::string header = all.substr(start, len);
  Npy n;
  const auto d = header.find("'descr': '") + 10;
  n.descr = header.substr(d, header.find('\'', d) - d);
  const auto s = header.find("'shape': (") + 10;
  std::stringstream shape(header.substr(s, header.find(')', s) - s));
  for (std::string v; std::getline(shape, v, ',');)
    if (v.find_first_not_of(' ') != std::string::npos) n.shape.push_back(std::stoll(v));
  n.bytes = all.substr(start + len);
  return n;
}

template <typename T>
std::vector<double> values(const Npy& n) {
  std::vector<double> out(n.bytes.size() / sizeof(T));
  for (std::size_t i = 0; i < out.size(); ++i) {
    T v;
    std::memcpy(&v, n.bytes.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(v);
  }
  return out;
}

}  // namespace

class TestCliInterfere : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path dir_;
  QJsonObject ref_;

  QString out(const std::string& rel) const { return QString::fromStdString((dir_ / rel).string()); }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    dir_ = tmp_.path().toStdString();
    ref_ = test::read_json(test::data("interference/reference.json"));
    // A fine-tune whose lm_head has another shape (same element count).
    const Checkpoint ft = open_checkpoint(test::data("interference/ft0.safetensors"));
    std::vector<std::vector<float>> keep;
    std::vector<TensorToWrite> w;
    for (const Tensor& t : ft.tensors()) {
      if (t.dtype() == DType::I64) {
        w.push_back(TensorToWrite::from_tensor(t, DType::I64));
        continue;
      }
      keep.push_back(t.to_f32());
      Shape s = t.shape();
      if (t.name() == "lm_head.weight") s = {16, 32};
      w.push_back(TensorToWrite::from_floats(t.name(), DType::F32, s, keep.back()));
    }
    write_safetensors(dir_ / "misaligned.safetensors", w);
  }

  // The report files and their values against the numpy reference.
  void report_files_data() {
    QTest::addColumn<QStringList>("extra");
    QTest::addColumn<QString>("reference");
    QTest::newRow("|tau|") << QStringList{} << "magnitude";
    QTest::newRow("--criterion magnitude") << QStringList{"--criterion", "magnitude"} << "overlap_magnitude";
  }
  void report_files() {
    QFETCH(QStringList, extra);
    QFETCH(QString, reference);
    const QString dir = out(("report-" + reference).toStdString());
    const auto r = test::run_cli(QStringList{"interfere"} + fixture() + QStringList{"-o", dir, "--top", "20%"} + extra);
    QVERIFY2(r.code == 0, r.err.constData());
    QVERIFY(r.out.contains("cosine of task vectors"));
    const fs::path d = dir.toStdString();
    const auto expected = ref_[reference].toObject();

    const auto j = test::read_json(d / "interference.json");
    QCOMPARE(j["models"].toArray().size(), 3);
    QCOMPARE(j["top_fraction"].toDouble(), 0.2);
    const auto overall = j["overall"].toObject(), want = expected["overall"].toObject();
    const auto g = overall["group"].toObject()["sums"].toObject(), wg = want["group"].toObject();
    for (const char* k : {"entries", "multi_nonzero", "sign_conflicts", "top_multi", "top_conflicts"})
      QVERIFY2(g[k].toInteger() == wg[k].toInteger(), k);
    QCOMPARE(j["tensors"].toArray().size(), expected["tensors"].toArray().size());
    QCOMPARE(j["blocks"].toArray().size(), expected["blocks"].toArray().size());
    const auto t3 = j["tensors"].toArray()[3].toObject(), w3 = expected["tensors"].toArray()[3].toObject();
    QCOMPARE(t3["block"].toString(), w3["block"].toString());
    QCOMPARE(t3["models"].toArray()[1].toObject()["sums"].toObject()["top_conflicts"].toInteger(),
             w3["models"].toArray()[1].toObject()["top_conflicts"].toInteger());
    QCOMPARE(j["magnitudes"].toArray()[2].toObject()["nans"].toInteger(), 1);

    const auto pairs = lines(d / "pairs.csv");
    QCOMPARE(pairs[0], std::string("scope,name,a,b,cosine,l2,sign_conflict,top_conflict,jaccard,magnitude_ratio"));
    QCOMPARE(pairs.size(), std::size_t{1 + 3 * (1 + 5 + 8)});
    const auto first = split(pairs[1]);
    const auto wp = want["pairs"].toArray()[0].toObject();
    QCOMPARE(first[0], std::string("model"));
    QCOMPARE(first[2] + first[3], std::string("01"));
    QVERIFY(close(std::stod(first[4]), wp["cosine"].toDouble()));
    QVERIFY(close(std::stod(first[5]), wp["l2"].toDouble()));
    QVERIFY(close(std::stod(first[6]), wp["sign_conflict"].toDouble()));
    QVERIFY(close(std::stod(first[7]), wp["top_conflict"].toDouble()));
    QVERIFY(close(std::stod(first[8]), wp["jaccard"].toDouble()));
    QVERIFY(close(std::stod(first[9]), wp["magnitude_ratio"].toDouble()));

    const auto tensors = lines(d / "tensors.csv");
    QCOMPARE(tensors[0], std::string("name,block,numel,norm_0,norm_1,norm_2,top_conflict_0,top_conflict_1,"
                                     "top_conflict_2,sign_conflict,top_conflict,multi_nonzero,sign_conflicts,"
                                     "top_multi,top_conflicts"));
    QCOMPARE(tensors.size(), std::size_t{9});
    const auto row = split(tensors[2]);
    const auto w1 = expected["tensors"].toArray()[1].toObject();
    QCOMPARE(QString::fromStdString(row[0]), w1["name"].toString());
    QCOMPARE(std::stoll(row[2]), w1["numel"].toInteger());
    QVERIFY(close(std::stod(row[3]), std::sqrt(w1["models"].toArray()[0].toObject()["sq"].toDouble())));
    QCOMPARE(std::stoll(row[12]), w1["group"].toObject()["sign_conflicts"].toInteger());
    QCOMPARE(std::stoll(row[14]), w1["group"].toObject()["top_conflicts"].toInteger());

    const auto blocks = lines(d / "blocks.csv");
    QCOMPARE(blocks[0].substr(0, 25), std::string("block,numel,norm_0,norm_1"));
    QCOMPARE(blocks.size(), std::size_t{1 + 5});
    QCOMPARE(split(blocks[5])[0], std::string("lm_head"));

    const auto mags = lines(d / "magnitudes.csv");
    QCOMPARE(mags[0], std::string("model,kind,log10_lo,log10_hi,count"));
    QCOMPARE(mags.size(), std::size_t{1 + 3 * 92});
    QCOMPARE(mags[1], std::string("0,bin,-8,-7.9,0"));
    QCOMPARE(mags[3 * 92], std::string("2,nan,,,1"));
  }

  void json_on_stdout() {
    const auto r = test::run_cli(QStringList{"interfere"} + fixture() + QStringList{"-o", out("json"), "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j["tensors"].toInt(), 8);
    const auto pairs = j["overall"].toObject()["pairs"].toArray();
    const auto want = ref_["magnitude"].toObject()["overall"].toObject()["pairs"].toArray();
    QCOMPARE(pairs.size(), 3);
    for (int k = 0; k < 3; ++k)
      QVERIFY(close(pairs[k].toObject()["cosine"].toDouble(), want[k].toObject()["cosine"].toDouble()));
    QVERIFY(fs::exists(dir_ / "json/interference.json"));
  }

  // Element maps of one tensor as NPY files and HDF5 datasets, against the reference.
  void element_maps() {
    const auto e = ref_["elements"].toObject();
    const QString tensor = e["tensor"].toString();
    const auto r = test::run_cli(QStringList{"interfere"} + fixture() +
                                 QStringList{"-o", out("elements"), "--tensor", tensor, "--method", "ties",
                                             "--density", "0.5", "--include", "*q_proj*"});
    QVERIFY2(r.code == 0, r.err.constData());
    const fs::path d = dir_ / "elements/elements" / tensor.toStdString();
    struct Map {
      const char* name;
      const char* descr;
    };
    for (const Map m : {Map{"elected_sign", "|i1"}, Map{"disagree", "|u1"}, Map{"dominant", "|i1"},
                        Map{"contributes", "<u4"}, Map{"merged_delta", "<f4"}}) {
      const Npy n = read_npy(d / (std::string(m.name) + ".npy"));
      QCOMPARE(n.descr, std::string(m.descr));
      QCOMPARE(n.shape, (std::vector<std::int64_t>{16, 16}));
      std::vector<double> v;
      if (n.descr == "|i1") v = values<std::int8_t>(n);
      if (n.descr == "|u1") v = values<std::uint8_t>(n);
      if (n.descr == "<u4") v = values<std::uint32_t>(n);
      if (n.descr == "<f4") v = values<float>(n);
      const auto want = e[m.name].toArray();
      QCOMPARE(v.size(), static_cast<std::size_t>(want.size()));
      for (std::size_t j = 0; j < v.size(); ++j)
        QVERIFY2(std::fabs(v[j] - want[static_cast<int>(j)].toDouble()) <= 1e-6 * std::fabs(v[j]) + 1e-12, m.name);
    }
    const auto meta = test::read_json(d / "maps.json");
    QCOMPARE(meta["params"].toObject()["method"].toString(), QString("ties"));
    const Checkpoint h5 = open_checkpoint(dir_ / ("elements/elements/" + tensor.toStdString() + ".h5"));
    QCOMPARE(h5.tensors().size(), std::size_t{5});
    const Tensor& merged = h5.at("merged_delta");
    QCOMPARE(merged.shape(), (Shape{16, 16}));
    const auto mv = merged.to_f32();
    const auto want = e["merged_delta"].toArray();
    for (std::size_t j = 0; j < mv.size(); ++j)
      QCOMPARE(static_cast<double>(mv[j]), want[static_cast<int>(j)].toDouble());
    QCOMPARE(h5.at("contributes").dtype(), DType::U32);
  }

  void errors_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    const QString b = data("base.safetensors"), f0 = data("ft0.safetensors"), f1 = data("ft1.safetensors");
    QTest::newRow("one model") << QStringList{b, f0} << 2 << "at least two";
    QTest::newRow("missing file") << QStringList{b, f0, out("nope.safetensors")} << 1 << "nope.safetensors";
    QTest::newRow("misaligned") << QStringList{b, f0, out("misaligned.safetensors")} << 1
                                << "misaligned.safetensors: tensor 'lm_head.weight' has shape";
    QTest::newRow("top 0") << QStringList{b, f0, f1, "--top", "0"} << 2 << "--top 0";
    QTest::newRow("top 150%") << QStringList{b, f0, f1, "--top", "150%"} << 2 << "--top 150%";
    QTest::newRow("nothing selected") << QStringList{b, f0, f1, "--include", "x*"} << 2 << "no floating-point";
    QTest::newRow("unknown tensor") << QStringList{b, f0, f1, "--tensor", "x"} << 2 << "no tensor 'x'";
    QTest::newRow("unknown method") << QStringList{b, f0, f1, "--tensor", "lm_head.weight", "--method", "avg"} << 2
                                    << "--method avg";
    QTest::newRow("density out of range") << QStringList{b, f0, f1, "--tensor", "lm_head.weight", "--density", "2"}
                                          << 2 << "density 2";
    QTest::newRow("three densities for two") << QStringList{b,           f0,          f1,   "--tensor",
                                                            "lm_head.weight", "--density", "0.1", "--density",
                                                            "0.2",       "--density", "0.3"}
                                             << 2 << "--density: 3 values";
    QTest::newRow("stats count") << QStringList{b, f0, f1, "--criterion", "wanda", "--stats", b} << 2
                                 << "1 --stats files for 2";
    QTest::newRow("unknown criterion") << QStringList{b, f0, f1, "--criterion", "nope"} << 2 << "nope";
  }
  void errors() {
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QFETCH(QString, message);
    const QString dir = out("err");
    const auto r = test::run_cli(QStringList{"interfere"} + args + QStringList{"-o", dir});
    QCOMPARE(r.code, code);
    QVERIFY2(QString::fromUtf8(r.err).contains(message), r.err.constData());
    QVERIFY(!fs::exists(dir_ / "err/interference.json"));
  }
};

QTEST_GUILESS_MAIN(TestCliInterfere)
#include "test_cli_interfere.moc"
