// The safetensors reader and writer: byte-exact output (the reference implementation's own test
// vectors), round trips of every dtype, sharded folders, and the malformed-file corpus.
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cstring>
#include <fstream>
#include <iterator>

#include "io/readers.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/writers.h"
#include "tensor/convert.h"
#include "malformed.h"
#include "test_paths.h"
#include "util/mapped_file.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

std::vector<unsigned char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::byte> float_bytes(std::initializer_list<float> v) {
  std::vector<std::byte> out(v.size() * 4);
  std::memcpy(out.data(), std::data(v), out.size());
  return out;
}

}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path out(const char* name) { return fs::path(tmp_.path().toStdString()) / name; }

private slots:
  // Expected bytes are copied from the tests of huggingface/safetensors (tensor.rs).
  void writer_matches_reference_bytes_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::addColumn<QByteArray>("expected");
    const unsigned char attn_dot_0[] = {
        64,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 46,  48,  34,  58,  123, 34, 100,
        116, 121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58, 91,
        49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115, 34,
        58,  91,  48,  44,  50,  52,  93,  125, 125, 0,   0,   0,   0,   0,   0,   128, 63,  0,   0,   0,  64,
        0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};
    const unsigned char attn0[] = {
        72,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 48,  34,  58,  123, 34,  100, 116,
        121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,  49,
        44,  49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115,
        34,  58,  91,  48,  44,  50,  52,  93,  125, 125, 32,  32,  32,  32,  32,  32,  32,  0,   0,   0,   0,
        0,   0,   128, 63,  0,   0,   0,   64,  0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};
    QTest::newRow("attn.0") << "attn.0" << QList<qint64>{1, 2, 3}
                            << QByteArray(reinterpret_cast<const char*>(attn_dot_0), sizeof attn_dot_0);
    QTest::newRow("forced alignment") << "attn0" << QList<qint64>{1, 1, 2, 3}
                                      << QByteArray(reinterpret_cast<const char*>(attn0), sizeof attn0);
  }
  void writer_matches_reference_bytes() {
    QFETCH(QString, name);
    QFETCH(QList<qint64>, shape);
    QFETCH(QByteArray, expected);
    const auto data = float_bytes({0, 1, 2, 3, 4, 5});
    write_safetensors(out("ref.safetensors"),
                      {TensorToWrite::from_bytes(name.toStdString(), DType::F32, Shape(shape.begin(), shape.end()), data)});
    const auto got = read_bytes(out("ref.safetensors"));
    QCOMPARE(QByteArray(reinterpret_cast<const char*>(got.data()), static_cast<qsizetype>(got.size())), expected);
  }

  void writer_empty_and_metadata_only() {
    write_safetensors(out("empty.safetensors"), {});
    const std::vector<unsigned char> empty = {8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32};
    QCOMPARE(read_bytes(out("empty.safetensors")), empty);
    write_safetensors(out("md.safetensors"), {}, {{"framework", "pt"}});
    const std::vector<unsigned char> md = {40,  0,   0,   0,   0,   0,   0,  0,  123, 34,  95,  95,  109, 101, 116, 97,
                                           100, 97,  116, 97,  95,  95,  34, 58, 123, 34,  102, 114, 97,  109, 101, 119,
                                           111, 114, 107, 34,  58,  34,  112, 116, 34, 125, 125, 32,  32,  32,  32,  32};
    QCOMPARE(read_bytes(out("md.safetensors")), md);
    const Checkpoint c = open_checkpoint(out("md.safetensors"));
    QCOMPARE(c.tensors().size(), std::size_t{0});
    QCOMPARE(c.metadata().at(0).second, std::string("pt"));
  }

  // A header of 0x80 (or 0x180, ...) bytes makes the file's first byte 0x80, a pickle's PROTO
  // opcode: detection must still see safetensors (found by a mask test).
  void header_size_starting_with_pickle_opcode() {
    const std::string value(128 - std::string(R"({"__metadata__":{"k":""}})").size(), 'x');
    write_safetensors(out("x80.safetensors"), {}, {{"k", value}});
    QCOMPARE(read_bytes(out("x80.safetensors")).at(0), static_cast<unsigned char>(0x80));
    const Checkpoint c = open_checkpoint(out("x80.safetensors"));
    QCOMPARE(c.metadata().at(0).second, value);
  }

  void writer_orders_like_reference() {
    // Descending dtype alignment (the reference's enum order), then name.
    const std::vector<std::byte> one(8, std::byte{0});
    write_safetensors(out("order.safetensors"),
                      {TensorToWrite::from_bytes("b", DType::U8, {1}, one), TensorToWrite::from_bytes("a", DType::U8, {1}, one),
                       TensorToWrite::from_bytes("z", DType::I64, {1}, one),
                       TensorToWrite::from_bytes("m", DType::F32, {1}, one), TensorToWrite::from_bytes("k", DType::I32, {1}, one),
                       TensorToWrite::from_bytes("h", DType::BF16, {1}, one)});
    const Checkpoint c = open_checkpoint(out("order.safetensors"));
    QStringList names;
    for (const auto& t : c.tensors()) names << QString::fromStdString(t.name());
    QCOMPARE(names, (QStringList{"z", "m", "k", "h", "a", "b"}));
  }

  void round_trip_every_dtype_data() {
    QTest::addColumn<QString>("dtype");
    for (const char* d : {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16", "F32", "F64",
                          "F8_E4M3", "F8_E5M2"})
      QTest::newRow(d) << d;
  }
  void round_trip_every_dtype() {
    QFETCH(QString, dtype);
    const DType t = *dtype_from_name(dtype.toStdString());
    const std::size_t elem = dtype_info(t).block_bytes;
    std::vector<std::byte> bytes(6 * elem);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>((i * 37 + 11) & 0x3F);
    if (t == DType::BOOL)
      for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i % 2);
    write_safetensors(out("rt.safetensors"), {TensorToWrite::from_bytes("x", t, {2, 3}, bytes)}, {{"k", "v"}});
    const Checkpoint c = open_checkpoint(out("rt.safetensors"));
    const Tensor& x = c.at("x");
    QCOMPARE(x.dtype(), t);
    QCOMPARE(x.shape(), (Shape{2, 3}));
    QCOMPARE(x.nbytes(), bytes.size());
    QVERIFY(std::equal(bytes.begin(), bytes.end(), x.raw_bytes().begin(), x.raw_bytes().end()));
    std::vector<float> want(6), got(6);
    convert_to_f32(t, bytes.data(), 6, want.data());
    x.read_f32(0, got);
    for (std::size_t i = 0; i < 6; ++i) QCOMPARE(got[i], want[i]);
    // A read starting mid-tensor converts the right element.
    std::vector<float> tail(2);
    x.read_f32(4, tail);
    QCOMPARE(tail[0], want[4]);
    QCOMPARE(tail[1], want[5]);
  }

  void from_floats_converts() {
    const std::vector<float> v = {1.0f, -2.5f, 65504.0f, 1e-8f};
    write_safetensors(out("conv.safetensors"), {TensorToWrite::from_floats("h", DType::F16, {4}, v),
                                                TensorToWrite::from_floats("b", DType::BF16, {4}, v)});
    const Checkpoint c = open_checkpoint(out("conv.safetensors"));
    const auto h = c.at("h").to_f32();
    QCOMPARE(h[0], 1.0f);
    QCOMPARE(h[1], -2.5f);
    QCOMPARE(h[2], 65504.0f);
    QCOMPARE(h[3], 0.0f);  // below half's smallest subnormal (5.96e-8): rounds to zero
    const auto b = c.at("b").to_f32();
    QCOMPARE(b[2], 65536.0f);  // bf16 keeps 8 mantissa bits: 65504 rounds to 2^16
  }

  void reads_bundled_samples_like_torch_data() {
    QTest::addColumn<QString>("sample");
    QTest::addColumn<QString>("path");
    QTest::newRow("digits file") << "digits-cnn" << "digits-cnn/model.safetensors";
    QTest::newRow("llama folder") << "tiny-llama" << "tiny-llama";
    QTest::newRow("llama index") << "tiny-llama" << "tiny-llama/model.safetensors.index.json";
  }
  void reads_bundled_samples_like_torch() {
    QFETCH(QString, sample);
    QFETCH(QString, path);
    const auto ref = test::read_json(test::data("samples/reference.json"))[sample].toObject();
    const Checkpoint c = open_checkpoint(test::samples_dir() / path.toStdString());
    QCOMPARE(c.format(), std::string("safetensors"));
    QCOMPARE(static_cast<qsizetype>(c.tensors().size()), ref.size());
    for (const auto& t : c.tensors()) {
      const auto r = ref[QString::fromStdString(t.name())].toObject();
      QVERIFY2(!r.isEmpty(), t.name().c_str());
      QCOMPARE(QString::fromLatin1(dtype_name(t.dtype()).data()), r["dtype"].toString());
      const auto shape = r["shape"].toArray();
      QCOMPARE(static_cast<qsizetype>(t.shape().size()), shape.size());
      for (qsizetype i = 0; i < shape.size(); ++i) QCOMPARE(t.shape()[static_cast<std::size_t>(i)], shape[i].toInteger());
      const auto v = t.to_f32();
      double sum = 0, abs_sum = 0;
      for (float x : v) {
        sum += x;
        abs_sum += std::fabs(x);
      }
      const double tol = 1e-5 * std::max(1.0, r["abs_sum"].toDouble());
      QVERIFY2(std::fabs(sum - r["sum"].toDouble()) <= tol, t.name().c_str());
      QVERIFY2(std::fabs(abs_sum - r["abs_sum"].toDouble()) <= tol, t.name().c_str());
      const auto first = r["first"].toArray();
      for (qsizetype i = 0; i < first.size(); ++i) QCOMPARE(static_cast<double>(v[static_cast<std::size_t>(i)]), first[i].toDouble());
    }
  }

  void sharded_folder_keeps_files_and_config() {
    const Checkpoint c = open_checkpoint(test::samples_dir() / "tiny-llama");
    QCOMPARE(c.files().size(), std::size_t{3});  // index + 2 shards
    QVERIFY(c.config_json().find("\"model_type\": \"llama\"") != std::string::npos);
    QCOMPARE(c.at("model.layers.0.self_attn.q_proj.weight").file().substr(c.at("model.layers.0.self_attn.q_proj.weight").file().size() - 32),
             std::string("model-00001-of-00002.safetensors"));
    QCOMPARE(fs::path(c.at("lm_head.weight").file()).filename().string(), std::string("model-00002-of-00002.safetensors"));
  }

  void malformed_corpus_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("message");
    const auto expected = test::read_json(test::data("malformed/safetensors/expected.json"));
    for (auto it = expected.begin(); it != expected.end(); ++it)
      QTest::newRow(it.key().toUtf8().constData()) << it.key() << it.value().toString();
  }
  void malformed_corpus() {
    QFETCH(QString, file);
    QFETCH(QString, message);
    test::expect_clear_error(test::data("malformed/safetensors") / file.toStdString(), message);
  }

  void parse_from_buffer() {
    // The fuzzing entry point: bytes in memory, named like a file.
    std::vector<std::byte> buf(8 + 8, std::byte{' '});
    buf[0] = std::byte{8};
    for (int i = 1; i < 8; ++i) buf[static_cast<std::size_t>(i)] = std::byte{0};
    buf[8] = std::byte{'{'};
    buf[9] = std::byte{'}'};
    const Checkpoint c = io::parse_safetensors(MappedFile::from_buffer(buf, "mem.safetensors"));
    QCOMPARE(c.tensors().size(), std::size_t{0});
  }

  void numpy_reader_reads_our_output() {
    // An independent reader (numpy, following the spec) must see what we wrote.
    if (!fs::exists("/usr/bin/python3")) QSKIP("/usr/bin/python3 is not installed");
    const std::vector<float> v = {0.5f, -1.25f, 3.0f, 7.5f, -0.125f, 2.0f};
    std::vector<std::byte> i64(3 * 8);
    const std::int64_t iv[3] = {-5, 0, 1LL << 40};
    std::memcpy(i64.data(), iv, sizeof iv);
    write_safetensors(out("np.safetensors"),
                      {TensorToWrite::from_floats("w.f32", DType::F32, {2, 3}, v),
                       TensorToWrite::from_floats("w.f16", DType::F16, {3, 2}, v),
                       TensorToWrite::from_floats("w.bf16", DType::BF16, {6}, v),
                       TensorToWrite::from_bytes("steps", DType::I64, {3}, i64)},
                      {{"source", "paramscope test"}});
    QProcess p;
    p.start("/usr/bin/python3", {QString::fromStdString((test::source_dir() / "tests/tools/safetensors_numpy.py").string()),
                                 QString::fromStdString(out("np.safetensors").string())});
    QVERIFY(p.waitForFinished(60000));
    const QByteArray err = p.readAllStandardError();
    if (p.exitCode() == 3) QSKIP("python3-numpy is not installed");
    QVERIFY2(p.exitCode() == 0, err.constData());
    const auto doc = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
    QCOMPARE(doc["__metadata__"].toObject()["source"].toString(), QString("paramscope test"));
    QCOMPARE(doc["w.f32"].toObject()["sum"].toDouble(), 11.625);
    QCOMPARE(doc["w.f16"].toObject()["sum"].toDouble(), 11.625);  // all exactly representable
    QCOMPARE(doc["w.bf16"].toObject()["shape"].toArray().at(0).toInt(), 6);
    QCOMPARE(doc["steps"].toObject()["sum"].toDouble(), static_cast<double>((1LL << 40) - 5));
    QCOMPARE(doc["w.f16"].toObject()["dtype"].toString(), QString("float16"));
  }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
