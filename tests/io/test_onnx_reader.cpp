// The ONNX reader against models made by torch.onnx.export and onnx.helper
// (tests/tools/make_onnx_fixtures.py, expected values from onnx.numpy_helper beside them in JSON)
// and against the malformed corpus.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <set>

#include "error_kind.h"
#include "io/readers.h"
#include "malformed.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "test_paths.h"
#include "util/mapped_file.h"

using namespace paramscope;
using test::kind_name;
namespace fs = std::filesystem;

namespace {

QJsonObject load_json(const fs::path& p) {
  QFile f(QString::fromStdString(p.string()));
  if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", p.c_str());
  return QJsonDocument::fromJson(f.readAll()).object();
}

QByteArray read_all(const fs::path& p) {
  QFile f(QString::fromStdString(p.string()));
  if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", p.c_str());
  return f.readAll();
}

Shape to_shape(const QJsonArray& a) {
  Shape s;
  for (const auto& d : a) s.push_back(static_cast<std::int64_t>(d.toDouble()));
  return s;
}

// JSON has no NaN or infinity; the fixture script writes them as strings.
bool same_value(float got, const QJsonValue& want) {
  if (want.isString()) {
    const auto s = want.toString();
    if (s == "nan") return std::isnan(got);
    if (s == "inf") return std::isinf(got) && got > 0;
    if (s == "-inf") return std::isinf(got) && got < 0;
    return false;
  }
  return got == static_cast<float>(want.toDouble());
}

// Each model of tests/data/malformed/onnx/, the Error kind it must raise and a phrase of the message.
struct Malformed {
  const char* file;
  const char* kind;
  const char* phrase;
};
const Malformed kMalformed[] = {
    {"zero_bytes", "BadInput", "empty file"},
    {"random_bytes", "BadInput", "corrupt protobuf in ModelProto"},
    {"truncated_protobuf", "BadInput", "corrupt protobuf in ModelProto: field 7 claims"},
    {"no_graph", "BadInput", "has no graph (ModelProto field 7): not an ONNX model"},
    {"group_wire_type", "BadInput", "uses the group wire type"},
    {"overlong_varint", "BadInput", "truncated or overlong varint in field 1"},
    {"length_beyond_message", "BadInput", "field 7 claims 65535 bytes but only 10 are left"},
    {"raw_data_too_short", "BadInput", "initializer 'a': raw_data holds 20 bytes, FLOAT [2, 3] needs 24"},
    {"negative_dim", "BadInput", "dimension -1 is negative"},
    {"dims_overflow", "BadInput", "initializer 'a': shape [1099511627776, 1099511627776] overflows"},
    {"missing_data_type", "BadInput", "initializer 'a': data_type is missing or UNDEFINED"},
    {"no_values", "BadInput", "initializer 'a': holds no values for FLOAT [3]"},
    {"typed_count_mismatch", "BadInput", "initializer 'a': float_data holds 3 values, 4 expected"},
    {"typed_wrong_field", "BadInput", "values are in float_data, which does not hold INT64 (expected int64_data)"},
    {"int32_data_out_of_range", "BadInput", "int32_data value 300 is out of range for I8"},
    {"raw_and_typed", "BadInput", "values in both raw_data and float_data"},
    {"unnamed_initializer", "BadInput", "initializer #0 has no name"},
    {"duplicate_initializer_names", "BadInput", "initializer 'a' appears twice"},
    {"constant_output_clashes", "BadInput", "the name 'a' is already taken by another tensor"},
    {"constant_two_values", "BadInput", "has 2 value attributes; Constant takes exactly one"},
    {"data_location_invalid", "BadInput", "data_location 5 is neither DEFAULT (0) nor EXTERNAL (1)"},
    {"external_escapes_folder", "BadInput", "external data location '../outside.bin' leaves the model's folder"},
    {"external_absolute_path", "BadInput", "external data location '/etc/passwd' is an absolute path"},
    {"external_file_missing", "Io", "external data file 'missing.bin' does not exist"},
    {"external_offset_beyond_file", "BadInput",
     "external data [1024, 1024 + 16) reaches past the end of 'external_side.bin' (16 bytes)"},
    {"external_length_mismatch", "BadInput", "external data length 12 does not match its dtype and shape (16 bytes)"},
};

constexpr std::int64_t kHuge = 600'000'000;  // elements of big_external.onnx's 'huge' (2.4 GB)

}  // namespace

class TestOnnxReader : public QObject {
  Q_OBJECT

 private slots:
  void matches_fixture_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("expected");
    QTest::newRow("torch export") << "onnx/tiny_cnn.onnx"
                                  << "onnx/tiny_cnn.json";
    QTest::newRow("torch export, unfolded, initializers as inputs") << "onnx/tiny_cnn_unfolded.onnx"
                                                                    << "onnx/tiny_cnn_unfolded.json";
    QTest::newRow("weights in Constant nodes") << "onnx/constants_only.onnx"
                                               << "onnx/constants_only.json";
    QTest::newRow("typed fields") << "onnx/typed_fields.onnx"
                                  << "onnx/typed_fields.json";
    QTest::newRow("external data") << "onnx/external/model.onnx"
                                   << "onnx/external/model.json";
  }
  // Names, order, dtypes, shapes and every value; then the metadata, entry by entry.
  void matches_fixture() {
    QFETCH(QString, model);
    QFETCH(QString, expected);
    const auto path = test::data(model.toStdString());
    const auto want = load_json(test::data(expected.toStdString()));
    const Checkpoint c = open_checkpoint(path);
    QCOMPARE(c.format(), std::string("onnx"));
    QVERIFY(!c.files().empty());
    QCOMPARE(c.files()[0], path);

    const auto tensors = want["tensors"].toArray();
    QStringList got_names, want_names;
    for (const auto& t : c.tensors()) got_names << QString::fromStdString(t.name());
    for (const auto& t : tensors) want_names << t.toObject()["name"].toString();
    QCOMPARE(got_names, want_names);
    for (qsizetype i = 0; i < tensors.size(); ++i) {
      const auto e = tensors[i].toObject();
      const Tensor& t = c.tensors()[static_cast<std::size_t>(i)];
      QCOMPARE(std::string(dtype_name(t.dtype())), e["dtype"].toString().toStdString());
      QCOMPARE(t.shape(), to_shape(e["shape"].toArray()));
      const auto values = e["values"].toArray();
      QCOMPARE(t.numel(), static_cast<std::int64_t>(values.size()));
      const auto got = t.to_f32();
      double sum = 0;
      for (qsizetype k = 0; k < values.size(); ++k) {
        const float g = got[static_cast<std::size_t>(k)];
        sum += g;
        if (!same_value(g, values[k]))
          QFAIL(qPrintable(QString("%1[%2] = %3, expected %4")
                               .arg(QString::fromStdString(t.name()))
                               .arg(k)
                               .arg(double(g), 0, 'g', 9)
                               .arg(values[k].toVariant().toString())));
      }
      if (e["sum"].isDouble()) QVERIFY(std::abs(sum - e["sum"].toDouble()) <= 1e-6 * (1 + std::abs(sum)));
    }

    const auto md = want["metadata"].toArray();
    QStringList got_md, want_md;
    for (const auto& [k, v] : c.metadata()) got_md << QString::fromStdString(k + " = " + v);
    for (const auto& kv : md) want_md << kv.toArray()[0].toString() + " = " + kv.toArray()[1].toString();
    QCOMPARE(got_md, want_md);
  }

  // Hand-checked facts about the torch export: BatchNorm folded into the conv, the input keeps
  // its symbolic batch dimension, and nothing is copied: values are views of the mapped model.
  void torch_export_details() {
    const auto path = test::data("onnx/tiny_cnn.onnx");
    const Checkpoint c = open_checkpoint(path);
    QVERIFY(c.find("fc.weight"));
    QVERIFY(!c.find("bn.running_mean"));
    QCOMPARE(c.at("fc.weight").shape(), (Shape{5, 36}));
    const QByteArray file = read_all(path);
    const auto raw = c.at("fc.weight").raw_bytes();
    QCOMPARE(raw.size(), std::size_t{5 * 36 * 4});
    QVERIFY(file.contains(QByteArray(reinterpret_cast<const char*>(raw.data()), static_cast<qsizetype>(raw.size()))));
    QCOMPARE(c.at("fc.weight").file(), path.string());
    // 180 + 5 + 108 + 4 weights and three int64 shape constants (a scalar and two of one element).
    QCOMPARE(c.parameter_count(), std::uint64_t{180 + 5 + 108 + 4 + 1 + 1 + 1});

    const Checkpoint unfolded = open_checkpoint(test::data("onnx/tiny_cnn_unfolded.onnx"));
    QCOMPARE(unfolded.at("bn.running_var").shape(), Shape{4});
    // With keep_initializers_as_inputs every weight is also a graph input; only "image" is listed.
    int inputs = 0;
    for (const auto& [k, v] : unfolded.metadata()) inputs += k.rfind("input:", 0) == 0;
    QCOMPARE(inputs, 1);
  }

  // Subgraph Constants are not listed; Constant tensors take the node's output name.
  void constant_nodes() {
    const Checkpoint c = open_checkpoint(test::data("onnx/constants_only.onnx"));
    QVERIFY(c.find("w"));
    QVERIFY(!c.find("w_tensor"));
    QVERIFY(!c.find("t_out"));
    QVERIFY(!c.find("e_out"));
    QVERIFY(!c.find("label"));
    QCOMPARE(c.at("w").to_f32(), (std::vector<float>{-0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f}));
    QCOMPARE(c.at("scale").shape(), Shape{});
    QCOMPARE(c.at("shape").dtype(), DType::I64);
  }

  // External data resolves beside the model: every tensor's bytes are at the offset onnx wrote.
  void external_data_offsets() {
    const auto path = test::data("onnx/external/model.onnx");
    const auto data = test::data("onnx/external/model.onnx.data");
    const Checkpoint c = open_checkpoint(path);
    QCOMPARE(c.files().size(), std::size_t{2});
    QCOMPARE(c.files()[1], data);
    const QByteArray bytes = read_all(data);
    const auto ext = load_json(test::data("onnx/external/model.json"))["external"].toArray();
    QVERIFY(ext.size() >= 4);
    for (const auto& e : ext) {
      const auto o = e.toObject();
      const Tensor& t = c.at(o["name"].toString().toStdString());
      QCOMPARE(t.file(), data.string());
      const auto offset = o["offset"].toString().toLongLong();
      const auto length = o["length"].toString().toLongLong();
      QCOMPARE(static_cast<qint64>(t.nbytes()), length);
      const auto raw = t.raw_bytes();
      QVERIFY(std::memcmp(raw.data(), bytes.constData() + offset, raw.size()) == 0);
    }
  }

  // Tensors past 2 GiB of an external file: the file is created sparse, so it takes no disk.
  void external_data_beyond_2_gib() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const fs::path root = dir.path().toStdString();
    fs::copy_file(test::data("onnx/big_external.onnx"), root / "big_external.onnx");
    {
      QFile big(QString::fromStdString((root / "big_external.bin").string()));
      QVERIFY(big.open(QIODevice::WriteOnly));
      QVERIFY(big.resize(kHuge * 4 + 16));
      const float last[4] = {1.5f, -2.0f, 3.25f, 4.0f};
      const float tail[4] = {-1.0f, 0.5f, 1e6f, -7.0f};
      QVERIFY(big.seek((kHuge - 4) * 4));
      QCOMPARE(big.write(reinterpret_cast<const char*>(last), 16), qint64{16});
      QCOMPARE(big.write(reinterpret_cast<const char*>(tail), 16), qint64{16});
    }
    const Checkpoint c = open_checkpoint(root / "big_external.onnx");
    const Tensor& huge = c.at("huge");
    QCOMPARE(huge.numel(), kHuge);
    QCOMPARE(huge.nbytes(), std::uint64_t{kHuge} * 4);
    std::vector<float> v(4);
    huge.read_f32(kHuge - 4, v);
    QCOMPARE(v, (std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f}));
    huge.read_f32(0, v);
    QCOMPARE(v, (std::vector<float>{0, 0, 0, 0}));
    QCOMPARE(c.at("tail").to_f32(), (std::vector<float>{-1.0f, 0.5f, 1e6f, -7.0f}));
    QCOMPARE(c.files().size(), std::size_t{2});
  }

  void malformed_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("phrase");
    for (const auto& m : kMalformed) QTest::newRow(m.file) << m.file << m.kind << m.phrase;
  }
  // One Error of the expected kind, one line, starting with the model's path.
  void malformed() {
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QFETCH(QString, phrase);
    const auto path = test::data("malformed/onnx/" + file.toStdString() + ".onnx");
    QVERIFY2(fs::exists(path), path.c_str());
    try {
      io::open_onnx(path);
      QFAIL("no error");
    } catch (const Error& e) {
      const std::string msg = e.what();
      QVERIFY2(msg.rfind(path.string() + ": ", 0) == 0, msg.c_str());
      QVERIFY2(msg.find(phrase.toStdString()) != std::string::npos, msg.c_str());
      QVERIFY2(msg.find('\n') == std::string::npos, msg.c_str());
      QCOMPARE(QString(kind_name(e.kind())), kind);
    }
    // The same bytes from memory (the fuzzing entry point) give the same error.
    try {
      const QByteArray a = read_all(path);
      std::vector<std::byte> bytes(static_cast<std::size_t>(a.size()));
      if (!bytes.empty()) std::memcpy(bytes.data(), a.constData(), bytes.size());
      io::parse_onnx(MappedFile::from_buffer(std::move(bytes), path));
      QFAIL("no error from parse_onnx");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).rfind(path.string() + ": ", 0) == 0, e.what());
      QVERIFY2(std::string(e.what()).find(phrase.toStdString()) != std::string::npos, e.what());
      QCOMPARE(QString(kind_name(e.kind())), kind);
    }
    // The public entry point reaches the same reader (a zero-byte file is refused before).
    try {
      open_checkpoint(path);
      QFAIL("no error from open_checkpoint");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).rfind(path.string() + ": ", 0) == 0, e.what());
    }
  }

  void malformed_corpus_is_complete() {
    std::set<std::string> known;
    for (const auto& m : kMalformed) known.insert(m.file);
    test::expect_corpus_complete(test::data("malformed/onnx"), "onnx", known);
  }

  void input_is_not_modified() {
    const auto path = test::data("onnx/typed_fields.onnx");
    const QByteArray before = read_all(path);
    {
      const Checkpoint c = open_checkpoint(path);
      for (const auto& t : c.tensors()) (void)t.to_f32();
    }
    QCOMPARE(read_all(path), before);
  }
};

QTEST_GUILESS_MAIN(TestOnnxReader)
#include "test_onnx_reader.moc"
