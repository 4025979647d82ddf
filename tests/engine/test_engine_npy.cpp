// NPY and NPZ reading against files numpy wrote (tests/tools/make_npy_fixtures.py: every array
// holds arange(n) * 3 - 5 in its dtype, bool ones odd elements True), round trips through
// write_npy, and the malformed corpus of tests/data/malformed/npy.
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <set>

#include "error_kind.h"
#include "json_file.h"
#include "malformed.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

fs::path npy_data(const std::string& rel) {
  return test::data("engine/npy") / rel;
}

// The values make_npy_fixtures.py stored, as numpy's astype computes them (wrapping for
// unsigned types).
double expected_value(DType t, std::int64_t i) {
  const std::int64_t v = i * 3 - 5;
  switch (t) {
    case DType::BOOL:
      return i % 2 == 1;
    case DType::U8:
      return static_cast<std::uint8_t>(v);
    case DType::U16:
      return static_cast<std::uint16_t>(v);
    case DType::U32:
      return static_cast<std::uint32_t>(v);
    case DType::U64:
      return static_cast<double>(static_cast<std::uint64_t>(v));
    default:
      return static_cast<double>(v);
  }
}

void check_values(const Array& a, DType t) {
  QCOMPARE(a.type(), t);
  const Array d = a.cast(DType::F64);
  for (std::int64_t i = 0; i < a.size(); ++i)
    QCOMPARE(d.values<double>()[static_cast<std::size_t>(i)], expected_value(t, i));
}

}  // namespace

class TestEngineNpy : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private slots:
  void reads_numpy_files_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QList<qint64>>("shape");
    const QList<qint64> s23{2, 3};
    QTest::newRow("f2") << "f2" << int(DType::F16) << s23;
    QTest::newRow("f4") << "f4" << int(DType::F32) << s23;
    QTest::newRow("f8") << "f8" << int(DType::F64) << s23;
    QTest::newRow("i1") << "i1" << int(DType::I8) << s23;
    QTest::newRow("i2") << "i2" << int(DType::I16) << s23;
    QTest::newRow("i4") << "i4" << int(DType::I32) << s23;
    QTest::newRow("i8") << "i8" << int(DType::I64) << s23;
    QTest::newRow("u1") << "u1" << int(DType::U8) << s23;
    QTest::newRow("u2") << "u2" << int(DType::U16) << s23;
    QTest::newRow("u4") << "u4" << int(DType::U32) << s23;
    QTest::newRow("u8") << "u8" << int(DType::U64) << s23;
    QTest::newRow("b1") << "b1" << int(DType::BOOL) << s23;
    QTest::newRow("big-endian f4") << "f4_big_endian" << int(DType::F32) << s23;
    QTest::newRow("big-endian i8") << "i8_big_endian" << int(DType::I64) << s23;
    QTest::newRow("Fortran order") << "f4_fortran" << int(DType::F32) << QList<qint64>{2, 3, 4};
    QTest::newRow("version 2.0") << "f4_v2" << int(DType::F32) << s23;
    QTest::newRow("version 3.0") << "f4_v3" << int(DType::F32) << s23;
    QTest::newRow("scalar") << "f4_scalar" << int(DType::F32) << QList<qint64>{};
    QTest::newRow("empty") << "f4_empty" << int(DType::F32) << QList<qint64>{0, 3};
  }
  void reads_numpy_files() {
    QFETCH(QString, file);
    QFETCH(int, dtype);
    QFETCH(QList<qint64>, shape);
    const Array a = read_npy(npy_data(file.toStdString() + ".npy"));
    QCOMPARE(a.shape(), std::vector<std::int64_t>(shape.begin(), shape.end()));
    if (a.type() == DType::F16) {
      // f16 values -5, -2, 1, 4, 7, 10 are exact in half precision.
      QCOMPARE(a.type(), DType::F16);
      const Array f = a.cast(DType::F32);
      for (std::int64_t i = 0; i < a.size(); ++i)
        QCOMPARE(f.values<float>()[static_cast<std::size_t>(i)], float(i * 3 - 5));
      return;
    }
    if (file == "f4_empty") {
      QCOMPARE(a.size(), std::int64_t{0});
      return;
    }
    check_values(a, static_cast<DType>(dtype));
  }

  void reads_npz_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("np.savez (stored)") << "stored.npz";
    QTest::newRow("np.savez_compressed (deflated)") << "deflated.npz";
  }
  void reads_npz() {
    QFETCH(QString, file);
    const auto arrays = read_npz(npy_data(file.toStdString()));
    QCOMPARE(arrays.size(), std::size_t{2});
    QCOMPARE(arrays[0].first, std::string("a"));
    QCOMPARE(arrays[0].second.shape(), (std::vector<std::int64_t>{2, 3}));
    check_values(arrays[0].second, DType::F32);
    QCOMPARE(arrays[1].first, std::string("b"));
    check_values(arrays[1].second, DType::I64);
  }

  void round_trip_data() {
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QList<qint64>>("shape");
    for (const DType t :
         {DType::F32, DType::F64, DType::F16, DType::I64, DType::I32, DType::U8, DType::BOOL, DType::I8})
      QTest::newRow(std::string(dtype_name(t)).c_str()) << int(t) << QList<qint64>{3, 1, 2};
    QTest::newRow("scalar") << int(DType::F32) << QList<qint64>{};
    QTest::newRow("empty") << int(DType::I64) << QList<qint64>{2, 0};
  }
  void round_trip() {
    QFETCH(int, dtype);
    QFETCH(QList<qint64>, shape);
    const std::vector<std::int64_t> s(shape.begin(), shape.end());
    Array src(DType::F64, s);
    for (std::int64_t i = 0; i < src.size(); ++i) src.data<double>()[i] = static_cast<double>(i % 2 ? i : -i);
    const Array a = src.cast(static_cast<DType>(dtype));
    const fs::path p = fs::path(tmp_.path().toStdString()) / "a.npy";
    write_npy(p, a);
    const Array b = read_npy(p);
    QCOMPARE(b.type(), a.type());
    QCOMPARE(b.shape(), a.shape());
    QVERIFY(std::equal(a.bytes(), a.bytes() + a.byte_size(), b.bytes()));
  }

  void writes_what_numpy_writes() {
    // tests/data/npy holds np.save's own files; reading and writing one must give its bytes.
    const fs::path ref = test::data("npy/f32_2x3.npy");
    const fs::path p = fs::path(tmp_.path().toStdString()) / "f32_2x3.npy";
    write_npy(p, read_npy(ref));
    QVERIFY(test::file_contents(p) == test::file_contents(ref));
  }

  void malformed_corpus_data() { test::add_corpus_rows(test::data("malformed/npy/expected.json")); }
  void malformed_corpus() {
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QFETCH(QString, message);
    const fs::path p = test::data("malformed/npy") / file.toStdString();
    test::expect_clear_error_from([](const fs::path& f) { read_npy(f); }, p, message, kind);
  }
  void malformed_corpus_complete() {
    const auto expected = test::read_json(test::data("malformed/npy/expected.json"));
    std::set<std::string> known;
    for (const auto& f : expected.keys())
      if (f.endsWith(".npy")) known.insert(f.chopped(4).toStdString());
    test::expect_corpus_complete(test::data("malformed/npy"), "npy", known);
  }

  void npz_errors_name_archive_and_member_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("message");
    QTest::newRow("broken member") << "bad_member.npz"
                                   << "bad_member.npz: member 'bad.npy': is truncated";
    QTest::newRow("member not an array") << "text_member.npz"
                                         << "text_member.npz: member 'notes.txt' is not an .npy array";
  }
  void npz_errors_name_archive_and_member() {
    QFETCH(QString, file);
    QFETCH(QString, message);
    const fs::path p = test::data("malformed/npy") / file.toStdString();
    try {
      read_npz(p);
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::BadInput);
      QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(p.string())), e.what());
      QVERIFY2(QString(e.what()).contains(message), e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestEngineNpy)
#include "test_engine_npy.moc"
