// The NPY writer against files written by numpy's own np.save (tests/tools/make_npy_reference.py):
// the same arrays must give the same bytes.
#include <QTest>

#include <cstring>
#include <fstream>
#include <iterator>

#include <QTemporaryDir>

#include "paramscope/error.h"
#include "paramscope/writers.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

std::vector<char> bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

template <class T>
std::vector<std::byte> raw(std::initializer_list<T> v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), std::data(v), out.size());
  return out;
}

}  // namespace

class TestNpyWriter : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

private slots:
  void same_bytes_as_numpy_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::addColumn<QByteArray>("data");
    auto add = [](const char* name, DType t, QList<qint64> shape, const std::vector<std::byte>& d) {
      QTest::newRow(name) << name << static_cast<int>(t) << shape
                          << QByteArray(reinterpret_cast<const char*>(d.data()), static_cast<qsizetype>(d.size()));
    };
    add("f32_2x3", DType::F32, {2, 3}, raw<float>({-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f}));
    add("f16_5", DType::F16, {5}, raw<std::uint16_t>({0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0000}));
    add("bool_4", DType::BOOL, {4}, raw<std::uint8_t>({1, 0, 0, 1}));
    add("i64_scalar", DType::I64, {}, raw<std::int64_t>({-7}));
    add("u8_2x2x2", DType::U8, {2, 2, 2}, raw<std::uint8_t>({0, 1, 2, 3, 4, 5, 6, 7}));
    add("f64_empty", DType::F64, {0, 3}, {});
  }
  void same_bytes_as_numpy() {
    QFETCH(QString, name);
    QFETCH(int, dtype);
    QFETCH(QList<qint64>, shape);
    QFETCH(QByteArray, data);
    const fs::path out = fs::path(tmp_.path().toStdString()) / (name.toStdString() + ".npy");
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data.constData()), static_cast<std::size_t>(data.size()));
    write_npy(out, TensorToWrite::from_bytes(name.toStdString(), static_cast<DType>(dtype), Shape(shape.begin(), shape.end()), bytes));
    QCOMPARE(bytes_of(out), bytes_of(test::data("npy") / (name.toStdString() + ".npy")));
  }

  void refuses_types_numpy_lacks() {
    const std::vector<std::byte> two(2);
    QVERIFY_THROWS_EXCEPTION(Error, write_npy(fs::path(tmp_.path().toStdString()) / "b.npy",
                                              TensorToWrite::from_bytes("b", DType::BF16, {1}, two)));
    QVERIFY(!fs::exists(fs::path(tmp_.path().toStdString()) / "b.npy"));  // nothing half-written left behind
  }
};

QTEST_GUILESS_MAIN(TestNpyWriter)
#include "test_npy_writer.moc"
