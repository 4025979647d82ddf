// The PyTorch reader against files written by the real torch.save (torch 1.13; see
// tests/tools/make_pytorch_fixtures.py, whose expected.json holds names, dtypes, shapes, roles,
// sums and first values), hand-made pickles in the legacy container, and the malformed corpus
// (tests/tools/make_malformed_pytorch.py).
#include <QDir>
#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "io/readers.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "malformed.h"
#include "test_paths.h"
#include "util/mapped_file.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

QString role_name(TensorRole r) {
  switch (r) {
    case TensorRole::Parameter: return "parameter";
    case TensorRole::Buffer: return "buffer";
    case TensorRole::Optimizer: return "optimizer";
  }
  return "?";
}

std::vector<std::byte> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> c{std::istreambuf_iterator<char>(in), {}};
  std::vector<std::byte> out(c.size());
  if (!c.empty()) std::memcpy(out.data(), c.data(), c.size());
  return out;
}

// Compares tensors with the reference torch wrote: same order, names, dtypes, shapes, roles, sums and values.
void check_tensors(const std::vector<Tensor>& got, const QJsonArray& want, const char* what) {
  QStringList got_names, want_names;
  for (const auto& t : got) got_names << QString::fromStdString(t.name());
  for (const auto& w : want) want_names << w.toObject()["name"].toString();
  QVERIFY2(got_names == want_names, qPrintable(QString(what) + ": " + got_names.join(",") + " vs " + want_names.join(",")));
  for (qsizetype i = 0; i < want.size(); ++i) {
    const auto w = want[i].toObject();
    const Tensor& t = got[static_cast<std::size_t>(i)];
    const QByteArray name = QString::fromStdString(t.name()).toUtf8();
    QCOMPARE(QString::fromLatin1(dtype_name(t.dtype()).data()), w["dtype"].toString());
    const auto shape = w["shape"].toArray();
    QCOMPARE(static_cast<qsizetype>(t.shape().size()), shape.size());
    for (qsizetype d = 0; d < shape.size(); ++d) QCOMPARE(t.shape()[static_cast<std::size_t>(d)], shape[d].toInteger());
    QCOMPARE(t.numel(), w["numel"].toInteger());
    QVERIFY2(role_name(t.role()) == w["role"].toString(), name.constData());
    const auto v = t.to_f32();
    double sum = 0;
    for (float x : v) sum += x;
    QVERIFY2(std::fabs(sum - w["sum"].toDouble()) <= 1e-6 * std::max(1.0, std::fabs(w["sum"].toDouble())),
             qPrintable(QString("%1: sum %2, torch says %3").arg(name).arg(sum, 0, 'g', 17).arg(w["sum"].toDouble(), 0, 'g', 17)));
    const auto first = w["first"].toArray();
    for (qsizetype k = 0; k < first.size(); ++k)
      QVERIFY2(static_cast<double>(v[static_cast<std::size_t>(k)]) == first[k].toDouble(),
               qPrintable(QString("%1[%2] = %3, torch says %4").arg(name).arg(k).arg(v[static_cast<std::size_t>(k)]).arg(first[k].toDouble())));
  }
}

std::string metadata_value(const Checkpoint& c, const std::string& key) {
  for (const auto& [k, v] : c.metadata())
    if (k == key) return v;
  return "<absent>";
}

// A legacy torch.save file around a hand-written object pickle: the magic number, protocol 1001
// and an empty sys_info, then main, then the storage key list and storages.
std::vector<std::byte> legacy_file(const std::string& main, const std::string& keys = std::string("\x80\x02]."),
                                   const std::string& storages = "") {
  const std::string head = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15) +
                           std::string("\x80\x02M\xe9\x03.", 6) + std::string("\x80\x02}.", 4);
  const std::string all = head + main + keys + storages;
  std::vector<std::byte> out(all.size());
  std::memcpy(out.data(), all.data(), all.size());
  return out;
}

std::string binunicode(const std::string& s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  std::string out = "X";
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + s;
}

// torch._utils._rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), 0, (n,), (1,), False, OrderedDict())
std::string float_tensor(const std::string& key, int numel) {
  return "ctorch._utils\n_rebuild_tensor_v2\n((" + binunicode("storage") + "ctorch\nFloatStorage\n" + binunicode(key) +
         binunicode("cpu") + "K" + static_cast<char>(numel) + "tQK" + std::string(1, '\0') + "K" +
         static_cast<char>(numel) + "\x85K" + std::string("\x01\x85\x89", 3) + "ccollections\nOrderedDict\n)RtR";
}

std::string float_storage(std::initializer_list<float> values) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(values.size());
  for (float f : values) out.append(reinterpret_cast<const char*>(&f), 4);
  return out;
}

}  // namespace

class TestPytorchReader : public QObject {
  Q_OBJECT

private slots:
  void matches_torch_data() {
    QTest::addColumn<QJsonObject>("fixture");
    const auto fixtures = test::read_json(test::data("pytorch/expected.json"))["fixtures"].toArray();
    QVERIFY(fixtures.size() >= 15);
    for (const auto& f : fixtures) QTest::newRow(f.toObject()["file"].toString().toUtf8().constData()) << f.toObject();
  }
  void matches_torch() {
    QFETCH(QJsonObject, fixture);
    const Checkpoint c = open_checkpoint(test::data("pytorch/" + fixture["file"].toString().toStdString()));
    QCOMPARE(QString::fromStdString(c.format()), fixture["format"].toString());
    check_tensors(c.tensors(), fixture["tensors"].toArray(), "model");
    check_tensors(c.optimizer_tensors(), fixture["optimizer"].toArray(), "optimizer");
    const auto md = fixture["metadata"].toObject();
    for (auto it = md.begin(); it != md.end(); ++it)
      QCOMPARE(QString::fromStdString(metadata_value(c, it.key().toStdString())), it.value().toString());
    if (fixture["config_json"].toBool()) QVERIFY(c.config_json().find("tiny-convnet") != std::string::npos);
    std::uint64_t params = 0;
    for (const auto& t : c.tensors()) params += static_cast<std::uint64_t>(t.numel());
    QCOMPARE(c.parameter_count(), params);  // optimizer state is never counted
  }

  void reads_bundled_sample_like_torch() {
    // resources/samples/digits-cnn/model.pt against what torch.load saw in it (reference.json).
    const auto ref = test::read_json(test::data("samples/reference.json"))["digits-cnn"].toObject();
    const Checkpoint c = open_checkpoint(test::samples_dir() / "digits-cnn/model.pt");
    QCOMPARE(c.format(), std::string("pytorch"));
    QCOMPARE(static_cast<qsizetype>(c.tensors().size()), ref.size());
    for (const auto& t : c.tensors()) {
      const auto r = ref[QString::fromStdString(t.name())].toObject();
      QVERIFY2(!r.isEmpty(), t.name().c_str());
      QCOMPARE(QString::fromLatin1(dtype_name(t.dtype()).data()), r["dtype"].toString());
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
      for (qsizetype i = 0; i < first.size(); ++i)
        QCOMPARE(static_cast<double>(v[static_cast<std::size_t>(i)]), first[i].toDouble());
    }
  }

  void storages_are_mapped_in_place() {
    // torch.save stores tensors uncompressed: a contiguous tensor is its bytes in the file.
    const fs::path p = test::data("pytorch/state_dict_f32.pt");
    const Checkpoint c = open_checkpoint(p);
    const auto file = file_bytes(p);
    const Tensor& w = c.at("4.weight");
    const auto raw = w.raw_bytes();
    QCOMPARE(raw.size(), std::size_t{w.nbytes()});
    const auto v = w.to_f32();
    QCOMPARE(std::memcmp(raw.data(), v.data(), raw.size()), 0);
    // torch aligns storages to 64 bytes within the archive; the same bytes are in the file there.
    auto at = std::search(file.begin(), file.end(), raw.begin(), raw.end());
    QVERIFY(at != file.end());
    QCOMPARE((at - file.begin()) % 64, std::ptrdiff_t{0});
  }

  void views_share_storage() {
    const Checkpoint c = open_checkpoint(test::data("pytorch/views.pt"));
    const Tensor& w = c.at("weight");
    const Tensor& tied = c.at("tied");
    const Tensor& t = c.at("transposed");
    QCOMPARE(tied.raw_bytes().data(), w.raw_bytes().data());  // one storage, mapped once
    QVERIFY(t.raw_bytes().empty());                           // non-contiguous: no plain byte range
    QCOMPARE(t.shape(), (Shape{5, 3}));
    const auto wv = w.to_f32(), tv = t.to_f32();
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 5; ++j) QCOMPARE(tv[static_cast<std::size_t>(j * 3 + i)], wv[static_cast<std::size_t>(i * 5 + j)]);
    // Reads that start inside a strided view.
    std::vector<float> part(4);
    t.read_f32(7, part);
    for (std::size_t k = 0; k < 4; ++k) QCOMPARE(part[k], tv[7 + k]);
    QCOMPARE(c.at("column").to_f32(), (std::vector<float>{2, 8, 14, 20}));
    QCOMPARE(c.at("expanded").to_f32(), (std::vector<float>{1, 2, 1, 2, 1, 2}));
  }

  void big_endian_values_are_swapped() {
    const Checkpoint be = open_checkpoint(test::data("pytorch/bigendian.pt"));
    const Checkpoint le = open_checkpoint(test::data("pytorch/mixed_dtypes.pt"));
    for (const auto& t : le.tensors()) QCOMPARE(be.at(t.name()).to_f32(), t.to_f32());
    QVERIFY(be.at("half").raw_bytes().empty());  // swapped on read: not the little-endian bytes
    QVERIFY(!be.at("byte").raw_bytes().empty());
  }

  void module_pickle_names_like_state_dict() {
    const Checkpoint c = open_checkpoint(test::data("pytorch/module_pickle.pt"));
    QVERIFY(c.find("cache") == nullptr);   // non-persistent buffer
    QVERIFY(c.find("unused") == nullptr);  // None parameter
    QCOMPARE(c.at("norm.running_mean").role(), TensorRole::Buffer);
    QCOMPARE(c.at("layers.2.weight").role(), TensorRole::Parameter);
    QCOMPARE(metadata_value(c, "module_class"), std::string("__main__.TinyNet"));
  }

  void training_checkpoint_keeps_optimizer_apart() {
    const Checkpoint c = open_checkpoint(test::data("pytorch/training_checkpoint.pt"));
    QVERIFY(c.find("0.weight") != nullptr);  // the model's names, without "model."
    QVERIFY(c.find("optimizer.state.0.exp_avg") == nullptr);
    QVERIFY(!c.optimizer_tensors().empty());
    for (const auto& t : c.optimizer_tensors()) QCOMPARE(t.role(), TensorRole::Optimizer);
    QCOMPARE(c.parameter_count(), std::uint64_t{18 + 2 + 2 + 2 + 2 + 2 + 1 + 24 + 3});
  }

  void parses_buffers_like_files() {
    // parse_pytorch is the fuzzing entry point: the same bytes in memory read the same.
    const fs::path p = test::data("pytorch/legacy.pt");
    const Checkpoint a = open_checkpoint(p);
    const Checkpoint b = io::parse_pytorch(MappedFile::from_buffer(file_bytes(p), "mem.pt"));
    QCOMPARE(b.tensors().size(), a.tensors().size());
    for (const auto& t : a.tensors()) QCOMPARE(b.at(t.name()).to_f32(), t.to_f32());
  }

  void legacy_hand_made() {
    // {'w': tensor [1.5, -2], 'loop': [<itself>], 'epoch': 9}: the cycle is walked once.
    const std::string main = std::string("\x80\x02}(", 4) + binunicode("w") + float_tensor("k1", 2) + binunicode("loop") +
                             std::string("]q\x01h\x01", 5) + "a" + binunicode("epoch") + "K\x09u.";
    const std::string keys = std::string("\x80\x02]", 3) + binunicode("k1") + "a.";
    const Checkpoint c = io::parse_pytorch(MappedFile::from_buffer(legacy_file(main, keys, float_storage({1.5f, -2.0f})), "hand.pt"));
    QCOMPARE(c.format(), std::string("pytorch-legacy"));
    QCOMPARE(c.tensors().size(), std::size_t{1});
    QCOMPARE(c.at("w").to_f32(), (std::vector<float>{1.5f, -2.0f}));
    QCOMPARE(metadata_value(c, "epoch"), std::string("9"));
  }

  void legacy_errors_data() {
    QTest::addColumn<QByteArray>("main");
    QTest::addColumn<QByteArray>("keys");
    QTest::addColumn<QByteArray>("storages");
    QTest::addColumn<QString>("message");
    const std::string w = std::string("\x80\x02}(", 4) + binunicode("w") + float_tensor("k1", 2) + "u.";
    const std::string k1 = std::string("\x80\x02]", 3) + binunicode("k1") + "a.";
    auto row = [](const char* name, const std::string& m, const std::string& k, const std::string& s, const char* msg) {
      QTest::newRow(name) << QByteArray(m.data(), static_cast<qsizetype>(m.size()))
                          << QByteArray(k.data(), static_cast<qsizetype>(k.size()))
                          << QByteArray(s.data(), static_cast<qsizetype>(s.size())) << msg;
    };
    row("storage never listed", w, "\x80\x02].", "", "storage 'k1' is used by the pickle but its data is not in the file");
    row("key nobody uses", w, std::string("\x80\x02]", 3) + binunicode("zz") + "a.", "", "'zz' is listed but no tensor uses it");
    row("key listed twice", w, std::string("\x80\x02](", 4) + binunicode("k1") + binunicode("k1") + "e.",
        float_storage({1, 2}) + float_storage({1, 2}), "listed twice");
    row("count mismatch", w, k1, float_storage({1, 2, 3}), "holds 3 elements");
    row("truncated data", w, k1, float_storage({1, 2}).substr(0, 12), "truncated: storage 'k1' needs 8 bytes");
    row("key list not a list", w, "\x80\x02N.", "", "not a list");
    row("cyclic doubling", std::string("\x80\x02]q\x00h\x00h\x00\x86q\x01h\x01h\x01\x86q\x02", 19) + [] {
      // 60 levels of (x, x) tuples: 2^60 paths through shared references.
      std::string s;
      for (int i = 2; i < 62; ++i) s += "h" + std::string(1, static_cast<char>(i)) + "h" + std::string(1, static_cast<char>(i)) + "\x86q" + std::string(1, static_cast<char>(i + 1));
      return s + ".";
    }(), "\x80\x02].", "", "steps to walk");
  }
  void legacy_errors() {
    QFETCH(QByteArray, main);
    QFETCH(QByteArray, keys);
    QFETCH(QByteArray, storages);
    QFETCH(QString, message);
    const auto start = std::chrono::steady_clock::now();
    try {
      io::parse_pytorch(MappedFile::from_buffer(legacy_file(main.toStdString(), keys.toStdString(), storages.toStdString()), "hand.pt"));
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).startsWith("hand.pt: "), e.what());
      QVERIFY2(QString(e.what()).contains(message), e.what());
      QCOMPARE(e.kind(), Error::Kind::BadInput);
    }
    QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  }

  void malformed_corpus_is_complete() {
    // Every file the script wrote has an expected message, and the other way round.
    const auto expected = test::read_json(test::data("malformed/pytorch/expected.json"));
    std::set<QString> listed;
    for (auto it = expected.begin(); it != expected.end(); ++it) listed.insert(it.key());
    std::set<QString> present;
    for (const auto& e : fs::directory_iterator(test::data("malformed/pytorch")))
      if (e.path().filename() != "expected.json") present.insert(QString::fromStdString(e.path().filename().string()));
    QCOMPARE(present, listed);
    QVERIFY(listed.size() >= 40);
  }

  void malformed_corpus_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("message");
    const auto expected = test::read_json(test::data("malformed/pytorch/expected.json"));
    for (auto it = expected.begin(); it != expected.end(); ++it)
      QTest::newRow(it.key().toUtf8().constData()) << it.key() << it.value().toString();
  }
  void malformed_corpus() {
    QFETCH(QString, file);
    QFETCH(QString, message);
    test::expect_clear_error(test::data("malformed/pytorch") / file.toStdString(), message);
  }
};

QTEST_GUILESS_MAIN(TestPytorchReader)
#include "test_pytorch_reader.moc"
