// The Keras / HDF5 reader on files laid out exactly as Keras 2 and Keras 3 write them (made by
// tests/tools/make_keras_fixtures.py with h5py; expected values computed there with numpy), the
// HDF5 writer read back by our reader, the HDF5 C API and (through a committed reference) h5py,
// and the malformed-file corpus of tests/tools/make_malformed_keras.py.
#include <fcntl.h>
#include <unistd.h>

#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>

#include "io/keras/hyperslab.h"
#include "io/readers.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/writers.h"
#include "tensor/convert.h"
#include "error_kind.h"
#include "test_paths.h"
#include "util/hdf5_util.h"

using namespace paramscope;
using test::kind_name;
namespace fs = std::filesystem;

namespace {

QString q(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

const char* role_name(TensorRole r) {
  switch (r) {
    case TensorRole::Parameter: return "Parameter";
    case TensorRole::Buffer: return "Buffer";
    case TensorRole::Optimizer: return "Optimizer";
  }
  return "?";
}

// Compares one tensor with its entry in expected.json: name, dtype, shape, role, sum, an
// order-sensitive weighted sum and the first values (exact: they are float32 in both).
void check_tensor(const Tensor& t, const QJsonObject& e) {
  const QByteArray name = QByteArray::fromStdString(t.name());
  QCOMPARE(q(t.name()), e["name"].toString());
  QCOMPARE(q(dtype_name(t.dtype())), e["dtype"].toString());
  QCOMPARE(QString(role_name(t.role())), e["role"].toString());
  const auto shape = e["shape"].toArray();
  QCOMPARE(static_cast<qsizetype>(t.shape().size()), shape.size());
  for (qsizetype i = 0; i < shape.size(); ++i) QCOMPARE(t.shape()[static_cast<std::size_t>(i)], shape[i].toInteger());
  const auto v = t.to_f32();
  double sum = 0, wsum = 0, abs_sum = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    sum += v[i];
    wsum += static_cast<double>(v[i]) * static_cast<double>(i % 7 + 1);
    abs_sum += std::fabs(v[i]);
  }
  const double tol = 1e-6 * std::max(1.0, abs_sum * 7);
  QVERIFY2(std::fabs(sum - e["sum"].toDouble()) <= tol, name.constData());
  QVERIFY2(std::fabs(wsum - e["wsum"].toDouble()) <= tol, name.constData());
  const auto first = e["first"].toArray();
  for (qsizetype i = 0; i < first.size(); ++i)
    QCOMPARE(static_cast<double>(v[static_cast<std::size_t>(i)]), first[i].toDouble());
}

const Tensor& tensor(const Checkpoint& c, std::string_view name) { return c.at(name); }

// Runs f with file descriptor 2 redirected to a file; returns what was written to it.
template <class F>
std::string stderr_of(F&& f) {
  char path[] = "/tmp/paramscope-stderr-XXXXXX";
  const int fd = ::mkstemp(path);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(fd, 2);
  try {
    f();
  } catch (...) {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fd);
    ::unlink(path);
    throw;
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  ::unlink(path);
  return text;
}


// The writer test input: every plain dtype HDF5 can hold, 2 x 3 values, with attributes.
struct WriterInput {
  std::string path;
  DType dtype;
  Shape shape;
  std::vector<float> values;
  std::vector<std::byte> bytes;
};

std::vector<WriterInput> writer_inputs() {
  const std::vector<float> real = {-2.5f, -1.0f, 0.0f, 0.5f, 1.25f, 3.0f};
  const std::vector<float> ints = {-3, -1, 0, 1, 2, 100};
  const std::vector<float> uints = {0, 1, 2, 3, 200, 7};
  const std::vector<float> bools = {1, 0, 1, 1, 0, 0};
  std::vector<WriterInput> in = {
      {"floats/f16", DType::F16, {2, 3}, real, {}},   {"floats/bf16", DType::BF16, {2, 3}, real, {}},
      {"floats/f32", DType::F32, {2, 3}, real, {}},   {"floats/f64", DType::F64, {3, 2}, real, {}},
      {"ints/i8", DType::I8, {2, 3}, ints, {}},       {"ints/i16", DType::I16, {2, 3}, ints, {}},
      {"ints/i32", DType::I32, {6}, ints, {}},        {"ints/i64", DType::I64, {1, 2, 3}, ints, {}},
      {"ints/u8", DType::U8, {2, 3}, uints, {}},      {"ints/u16", DType::U16, {2, 3}, uints, {}},
      {"ints/u32", DType::U32, {2, 3}, uints, {}},    {"ints/u64", DType::U64, {2, 3}, uints, {}},
      {"mask", DType::BOOL, {2, 3}, bools, {}},       {"scalar", DType::F32, {}, {42.5f}, {}},
      {"empty", DType::F32, {0, 3}, {}, {}},
  };
  for (auto& w : in) {
    w.bytes.resize(w.values.size() * dtype_info(w.dtype).block_bytes);
    if (!w.values.empty()) convert_from_f32(w.dtype, w.values.data(), w.values.size(), w.bytes.data());
  }
  return in;
}

void write_writer_input(const fs::path& out, const std::vector<WriterInput>& in) {
  std::vector<Hdf5Dataset> ds;
  for (const auto& w : in)
    ds.push_back({w.path, TensorToWrite::from_bytes(w.path, w.dtype, w.shape, w.bytes),
                  {{"unit", "m/s", 0, false}, {"scale", "", 0.5, true}}});
  write_hdf5(out, ds, {{"producer", "ParamScope test", 0, false}, {"version", "", 3, true}});
}

// An attribute read with the HDF5 C API: text or a double.
QString read_attribute(hid_t obj, const char* name) {
  std::lock_guard lock(h5::mutex());
  h5::Handle a(H5Aopen(obj, name, H5P_DEFAULT));
  if (!a.valid()) return "<missing>";
  h5::Handle type(H5Aget_type(a.get()));
  if (H5Tget_class(type.get()) == H5T_FLOAT) {
    double d = 0;
    H5Aread(a.get(), H5T_NATIVE_DOUBLE, &d);
    return QString::number(d);
  }
  std::string s(H5Tget_size(type.get()), '\0');
  H5Aread(a.get(), type.get(), s.data());
  return QString::fromStdString(s.c_str());
}

}  // namespace

class TestKerasReader : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path out(const char* name) { return fs::path(tmp_.path().toStdString()) / name; }
  QJsonObject expected_ = test::read_json(test::data("keras/expected.json"));

private slots:
  void fixtures_data() {
    QTest::addColumn<QString>("file");
    for (const auto& name : expected_.keys()) QTest::newRow(name.toUtf8().constData()) << name;
  }
  void fixtures() {
    QFETCH(QString, file);
    const auto e = expected_[file].toObject();
    const Checkpoint c = open_checkpoint(test::data("keras/" + file.toStdString()));
    QCOMPARE(q(c.format()), e["format"].toString());
    QCOMPARE(c.files().size(), std::size_t{1});

    // Model order: layer_names (Keras 2) or the order Keras wrote the layers (Keras 3).
    const auto tensors = e["tensors"].toArray();
    QStringList got, want;
    for (const auto& t : c.tensors()) got << q(t.name());
    for (const auto& t : tensors) want << t.toObject()["name"].toString();
    QCOMPARE(got, want);
    for (qsizetype i = 0; i < tensors.size(); ++i) check_tensor(c.tensors()[static_cast<std::size_t>(i)], tensors[i].toObject());

    const auto opt = e["optimizer"].toArray();
    QCOMPARE(static_cast<qsizetype>(c.optimizer_tensors().size()), opt.size());
    for (qsizetype i = 0; i < opt.size(); ++i)
      check_tensor(c.optimizer_tensors()[static_cast<std::size_t>(i)], opt[i].toObject());

    // Metadata: the expected keys with their values, and summaries only (no JSON dumps).
    const auto md = e["metadata"].toObject();
    QCOMPARE(static_cast<qsizetype>(c.metadata().size()), md.size());
    for (const auto& [k, v] : c.metadata()) {
      QVERIFY2(md.contains(q(k)), k.c_str());
      QCOMPARE(q(v), md[q(k)].toString());
      QVERIFY(v.size() < 200);
    }
    std::uint64_t params = 0;
    for (const auto& t : tensors) {
      std::uint64_t n = 1;
      for (const auto& d : t.toObject()["shape"].toArray()) n *= static_cast<std::uint64_t>(d.toInteger());
      params += n;
    }
    QCOMPARE(c.parameter_count(), params);
  }

  // Contiguous little-endian data is mapped: its bytes are exposed as stored. Chunked, compressed,
  // never-written and big-endian data is not (the latter is mapped but swapped when read).
  void storage_paths() {
    const Checkpoint c = open_checkpoint(test::data("keras/keras2_storage.h5"));
    const auto raw = expected_["keras2_storage.h5"].toObject()["raw_bytes"].toArray();
    QCOMPARE(raw.size(), 3);
    for (const auto& t : c.tensors()) {
      const bool mapped = raw.contains(q(t.name()));
      QCOMPARE(!t.raw_bytes().empty(), mapped);
      if (mapped) QCOMPARE(t.raw_bytes().size(), t.nbytes());
    }
    // h5py's bool enum is BOOL; its bytes are 0/1.
    const auto mask = tensor(c, "dense/mask:0").raw_bytes();
    QCOMPARE(static_cast<int>(mask[0]), 1);
    QCOMPARE(static_cast<int>(mask[1]), 0);
  }

  // Reads of any range through HDF5 hyperslabs equal the same slice of the whole tensor.
  void partial_reads_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<qint64>("first");
    QTest::addColumn<qint64>("count");
    const char* gz = "dense/kernel:0";  // 37 x 23, gzip chunks of 8 x 5
    QTest::newRow("gzip first element") << gz << qint64{0} << qint64{1};
    QTest::newRow("gzip inside a row") << gz << qint64{5} << qint64{10};
    QTest::newRow("gzip across rows") << gz << qint64{20} << qint64{30};
    QTest::newRow("gzip whole rows") << gz << qint64{23} << qint64{46};
    QTest::newRow("gzip row tail to end") << gz << qint64{40} << qint64{811};
    QTest::newRow("gzip last element") << gz << qint64{850} << qint64{1};
    QTest::newRow("gzip all") << gz << qint64{0} << qint64{851};
    QTest::newRow("big-endian chunked") << "dense/scale:0" << qint64{2} << qint64{3};
    QTest::newRow("unwritten fill") << "dense/unwritten:0" << qint64{1} << qint64{2};
    QTest::newRow("big-endian mapped") << "dense/bias:0" << qint64{1} << qint64{3};
    QTest::newRow("scalar") << "dense/temperature:0" << qint64{0} << qint64{1};
  }
  void partial_reads() {
    QFETCH(QString, name);
    QFETCH(qint64, first);
    QFETCH(qint64, count);
    const Checkpoint c = open_checkpoint(test::data("keras/keras2_storage.h5"));
    const Tensor& t = tensor(c, name.toStdString());
    const auto all = t.to_f32();
    std::vector<float> part(static_cast<std::size_t>(count));
    t.read_f32(first, part);
    for (qint64 i = 0; i < count; ++i) QCOMPARE(part[static_cast<std::size_t>(i)], all[static_cast<std::size_t>(first + i)]);
  }

  // Streaming a chunked tensor in pieces that do not line up with its chunks (the reader keeps
  // decoded slabs of chunk rows between reads) gives the same values as one read of everything.
  void chunked_streaming_data() {
    QTest::addColumn<qint64>("piece");
    for (qint64 p : {1, 7, 50, 183, 184, 185, 400, 851}) QTest::newRow(QByteArray::number(p).constData()) << p;
  }
  void chunked_streaming() {
    QFETCH(qint64, piece);
    const Checkpoint c = open_checkpoint(test::data("keras/keras2_storage.h5"));
    const Tensor& t = tensor(c, "dense/kernel:0");  // 37 x 23 in 8 x 5 chunks: slabs of 184
    const auto all = t.to_f32();
    std::vector<float> streamed;
    for (std::int64_t first = 0; first < t.numel(); first += piece) {
      std::vector<float> part(static_cast<std::size_t>(std::min<std::int64_t>(piece, t.numel() - first)));
      t.read_f32(first, part);
      t.release(first, static_cast<std::int64_t>(part.size()));  // as the statistics do
      streamed.insert(streamed.end(), part.begin(), part.end());
    }
    QCOMPARE(streamed, all);
    check_tensor(t, expected_["keras2_storage.h5"].toObject()["tensors"].toArray()[0].toObject());
  }

  // The boxes cover exactly the requested range, in row-major order, for every range of
  // several shapes (checked element by element against flattened indices).
  void hyperslab_boxes_data() {
    QTest::addColumn<QList<qint64>>("dims");
    QTest::newRow("1-D") << QList<qint64>{7};
    QTest::newRow("2-D") << QList<qint64>{3, 4};
    QTest::newRow("3-D") << QList<qint64>{2, 3, 4};
    QTest::newRow("unit dims") << QList<qint64>{1, 5, 1, 3};
    QTest::newRow("4-D") << QList<qint64>{2, 2, 3, 2};
  }
  void hyperslab_boxes() {
    QFETCH(QList<qint64>, dims);
    std::vector<hsize_t> d(dims.begin(), dims.end());
    std::uint64_t n = 1;
    for (auto x : d) n *= x;
    for (std::uint64_t first = 0; first < n; ++first)
      for (std::uint64_t count = 1; first + count <= n; ++count) {
        const auto boxes = io::keras::row_major_boxes(d, first, count);
        QVERIFY(boxes.size() <= 2 * d.size());
        std::vector<std::uint64_t> covered;
        for (const auto& b : boxes) {
          // Enumerate the box in row-major order.
          std::vector<hsize_t> idx(d.size(), 0);
          for (bool more = true; more;) {
            std::uint64_t flat = 0;
            for (std::size_t k = 0; k < d.size(); ++k) flat = flat * d[k] + b.start[k] + idx[k];
            covered.push_back(flat);
            more = false;
            for (std::size_t k = d.size(); k-- > 0;)
              if (++idx[k] < b.count[k]) {
                more = true;
                break;
              } else {
                idx[k] = 0;
              }
          }
        }
        QCOMPARE(covered.size(), count);
        for (std::uint64_t i = 0; i < count; ++i) QCOMPARE(covered[i], first + i);
      }
  }

  // Chunked tensors are read through HDF5 from several threads at once (one lock serialises the
  // library); every thread sees the right values.
  void concurrent_hdf5_reads() {
    const Checkpoint c = open_checkpoint(test::data("keras/keras2_storage.h5"));
    const Tensor& t = tensor(c, "dense/kernel:0");
    const auto want = t.to_f32();
    std::vector<int> ok(4, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k)
      threads.emplace_back([&, k] {
        bool good = true;
        for (int rep = 0; rep < 50; ++rep) {
          std::vector<float> part(97);
          const std::int64_t first = (rep * 131 + k * 17) % (t.numel() - 97);
          t.read_f32(first, part);
          for (std::size_t i = 0; i < part.size(); ++i) good = good && part[i] == want[static_cast<std::size_t>(first) + i];
        }
        ok[static_cast<std::size_t>(k)] = good;
      });
    for (auto& th : threads) th.join();
    QCOMPARE(ok, (std::vector<int>{1, 1, 1, 1}));
  }

  // Tensors keep their file alive: HDF5-read and mapped tensors outlive the Checkpoint.
  void tensors_outlive_checkpoint() {
    std::vector<Tensor> kept;
    {
      const Checkpoint c = open_checkpoint(test::data("keras/keras2_storage.h5"));
      kept = c.tensors();
    }
    const auto e = expected_["keras2_storage.h5"].toObject()["tensors"].toArray();
    for (qsizetype i = 0; i < e.size(); ++i) check_tensor(kept[static_cast<std::size_t>(i)], e[i].toObject());
  }

  // Keras 2 weights whose layer_names attribute is lost (written by our own HDF5 writer, which
  // sets no group attributes): the layer groups are walked in the order they were written.
  void keras2_without_layer_names() {
    const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6}, z = {7, 8, 9};
    write_hdf5(out("nolist.h5"),
               {{"zeta/zeta/kernel:0", TensorToWrite::from_floats("", DType::F32, {2, 2}, a), {}},
                {"zeta/zeta/bias:0", TensorToWrite::from_floats("", DType::F32, {2}, b), {}},
                {"alpha/alpha/kernel:0", TensorToWrite::from_floats("", DType::F32, {3}, z), {}}},
               {{"keras_version", "2.11.0", 0, false}, {"backend", "tensorflow", 0, false}});
    const Checkpoint c = open_checkpoint(out("nolist.h5"));
    QCOMPARE(q(c.format()), QString("keras-h5"));
    QStringList names;
    for (const auto& t : c.tensors()) names << q(t.name());
    QCOMPARE(names, (QStringList{"zeta/kernel:0", "zeta/bias:0", "alpha/kernel:0"}));
    QCOMPARE(c.at("alpha/kernel:0").to_f32(), z);
    QCOMPARE(c.metadata().at(0), (std::pair<std::string, std::string>("keras_version", "2.11.0")));
  }

  // write_hdf5: every plain dtype, read back by our reader (values and stored bytes), and the
  // attributes read back with the HDF5 C API.
  void writer_round_trip() {
    const auto in = writer_inputs();
    write_writer_input(out("all.h5"), in);
    const Checkpoint c = open_checkpoint(out("all.h5"));
    QCOMPARE(q(c.format()), QString("hdf5"));
    QCOMPARE(c.tensors().size(), in.size());
    for (const auto& w : in) {
      const Tensor& t = c.at(w.path);
      QCOMPARE(t.dtype(), w.dtype);
      QCOMPARE(t.shape(), w.shape);
      // Contiguous storage: the writer's bytes are mapped back unchanged.
      if (!w.bytes.empty()) QVERIFY(std::equal(w.bytes.begin(), w.bytes.end(), t.raw_bytes().begin(), t.raw_bytes().end()));
      const auto v = t.to_f32();
      QCOMPARE(v, w.values);  // every test value is exact in every dtype
    }
    std::lock_guard lock(h5::mutex());
    h5::Handle f(H5Fopen(out("all.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    QVERIFY(f.valid());
    QCOMPARE(read_attribute(f.get(), "producer"), QString("ParamScope test"));
    QCOMPARE(read_attribute(f.get(), "version"), QString("3"));
    h5::Handle ds(H5Dopen2(f.get(), "floats/bf16", H5P_DEFAULT));
    QCOMPARE(read_attribute(ds.get(), "unit"), QString("m/s"));
    QCOMPARE(read_attribute(ds.get(), "scale"), QString("0.5"));
    // BF16 is a 16-bit IEEE-style float with 8 exponent bits, as h5py would describe it.
    h5::Handle type(H5Dget_type(ds.get()));
    std::size_t spos, epos, esize, mpos, msize;
    H5Tget_fields(type.get(), &spos, &epos, &esize, &mpos, &msize);
    QCOMPARE(H5Tget_size(type.get()), std::size_t{2});
    QCOMPARE(esize, std::size_t{8});
    QCOMPARE(msize, std::size_t{7});
    QCOMPARE(H5Tget_ebias(type.get()), std::size_t{127});
  }

  // What h5py reads from the writer's output for the same input (committed reference made by
  // tests/tools/check_hdf5_with_h5py.py): dtypes, shapes, sums and attributes agree with ours.
  void writer_matches_h5py_reference() {
    const auto in = writer_inputs();
    write_writer_input(out("ref.h5"), in);
    if (const char* keep = std::getenv("PARAMSCOPE_KEEP_HDF5_WRITER_OUTPUT")) fs::copy_file(out("ref.h5"), keep, fs::copy_options::overwrite_existing);
    const auto ref = test::read_json(test::data("keras/hdf5_writer_h5py.json"));
    const auto datasets = ref["datasets"].toObject();
    QCOMPARE(static_cast<std::size_t>(datasets.size()), in.size());
    const Checkpoint c = open_checkpoint(out("ref.h5"));
    const std::map<DType, QString> numpy = {
        {DType::F16, "float16"}, {DType::F32, "float32"}, {DType::F64, "float64"}, {DType::I8, "int8"},
        {DType::I16, "int16"},   {DType::I32, "int32"},   {DType::I64, "int64"},   {DType::U8, "uint8"},
        {DType::U16, "uint16"},  {DType::U32, "uint32"},  {DType::U64, "uint64"},  {DType::BOOL, "bool"}};
    for (const auto& w : in) {
      const auto r = datasets[q(w.path)].toObject();
      QVERIFY2(!r.isEmpty(), w.path.c_str());
      const Tensor& t = c.at(w.path);
      // numpy has no bfloat16: h5py reads our BF16 type converted to float32 by HDF5.
      QCOMPARE(r["dtype"].toString(), w.dtype == DType::BF16 ? QString("float32") : numpy.at(t.dtype()));
      const auto shape = r["shape"].toArray();
      QCOMPARE(static_cast<std::size_t>(shape.size()), t.shape().size());
      for (qsizetype i = 0; i < shape.size(); ++i) QCOMPARE(shape[i].toInteger(), t.shape()[static_cast<std::size_t>(i)]);
      double sum = 0;
      for (float x : t.to_f32()) sum += x;
      QCOMPARE(sum, r["sum"].toDouble());
      const auto first = r["first"].toArray();
      for (qsizetype i = 0; i < first.size(); ++i) QCOMPARE(first[i].toDouble(), static_cast<double>(w.values[static_cast<std::size_t>(i)]));
      QCOMPARE(r["attributes"].toObject()["unit"].toString(), QString("m/s"));
      QCOMPARE(r["attributes"].toObject()["scale"].toDouble(), 0.5);
    }
    QCOMPARE(ref["attributes"].toObject()["producer"].toString(), QString("ParamScope test"));
    QCOMPARE(ref["attributes"].toObject()["version"].toDouble(), 3.0);
  }

  // A tensor larger than the writer's 8 MB chunk, with rows that straddle chunk boundaries.
  void writer_streams_large_tensor() {
    const std::int64_t rows = 3, cols = 1'000'003;
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<int>(i % 1000) - 500);
    write_hdf5(out("large.h5"), {{"big", TensorToWrite::from_floats("big", DType::F32, {rows, cols}, v), {}}});
    const Checkpoint c = open_checkpoint(out("large.h5"));
    const auto got = c.at("big").to_f32();
    QVERIFY(got == v);
  }

  void writer_rejects_bad_input_data() {
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("dtype");
    QTest::newRow("absolute path") << "/x" << static_cast<int>(DType::F32);
    QTest::newRow("empty component") << "a//b" << static_cast<int>(DType::F32);
    QTest::newRow("dot component") << "a/./b" << static_cast<int>(DType::F32);
    QTest::newRow("trailing slash") << "a/" << static_cast<int>(DType::F32);
    QTest::newRow("float8") << "f8" << static_cast<int>(DType::F8_E4M3);
  }
  void writer_rejects_bad_input() {
    QFETCH(QString, path);
    QFETCH(int, dtype);
    const std::vector<std::byte> bytes(4);
    try {
      write_hdf5(out("bad.h5"), {{path.toStdString(), TensorToWrite::from_bytes("x", static_cast<DType>(dtype), {1}, bytes), {}}});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
    }
    QVERIFY(!fs::exists(out("bad.h5")));
  }

  void writer_rejects_duplicate_paths() {
    const std::vector<float> v = {1};
    try {
      write_hdf5(out("dup.h5"), {{"a", TensorToWrite::from_floats("a", DType::F32, {1}, v), {}},
                                 {"a", TensorToWrite::from_floats("a", DType::F32, {1}, v), {}}});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY(std::string(e.what()).find("'a' given twice") != std::string::npos);
    }
  }

  void writer_rejects_dataset_inside_dataset() {
    const std::vector<float> v = {1};
    try {
      write_hdf5(out("nest.h5"), {{"a", TensorToWrite::from_floats("a", DType::F32, {1}, v), {}},
                                  {"a/b", TensorToWrite::from_floats("b", DType::F32, {1}, v), {}}});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY(std::string(e.what()).find("runs through the dataset 'a'") != std::string::npos);
    }
    QVERIFY(!fs::exists(out("nest.h5")));
  }

  void malformed_corpus_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("message");
    const auto expected = test::read_json(test::data("malformed/keras/expected.json"));
    for (const auto& name : expected.keys()) {
      const auto e = expected[name].toObject();
      QTest::newRow(name.toUtf8().constData()) << name << e["kind"].toString() << e["message"].toString();
    }
    QVERIFY(expected.size() >= 20);
  }
  void malformed_corpus() {
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QFETCH(QString, message);
    const fs::path p = test::data("malformed/keras/" + file.toStdString());
    const auto before = fs::file_size(p);
    std::string what;
    Error::Kind got_kind = Error::Kind::Usage;
    // HDF5 must stay silent: its error stack becomes our message, never stderr output.
    const std::string noise = stderr_of([&] {
      try {
        const Checkpoint c = open_checkpoint(p);
        for (const auto& t : c.tensors()) (void)t.to_f32();
        what = "<no error>";
      } catch (const Error& e) {
        what = e.what();
        got_kind = e.kind();
      }
    });
    QVERIFY2(noise.empty(), noise.c_str());
    QVERIFY2(what.find(file.toStdString()) != std::string::npos, what.c_str());
    QVERIFY2(what.find(message.toStdString()) != std::string::npos, what.c_str());
    QVERIFY2(what.find('\n') == std::string::npos, what.c_str());
    QCOMPARE(QString(kind_name(got_kind)), kind);
    QCOMPARE(fs::file_size(p), before);  // the input is never changed
  }
};

QTEST_GUILESS_MAIN(TestKerasReader)
#include "test_keras_reader.moc"
