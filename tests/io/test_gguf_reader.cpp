// The GGUF reader against fixtures written from the spec by tests/tools/make_gguf_fixtures.py
// (expected values beside them in JSON) and against the malformed corpus.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

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

std::vector<std::byte> read_bytes(const fs::path& p) {
  QFile f(QString::fromStdString(p.string()));
  if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", p.c_str());
  const QByteArray a = f.readAll();
  std::vector<std::byte> v(static_cast<std::size_t>(a.size()));
  if (!v.empty()) std::memcpy(v.data(), a.constData(), v.size());
  return v;
}

Shape to_shape(const QJsonArray& a) {
  Shape s;
  for (const auto& d : a) s.push_back(static_cast<std::int64_t>(d.toDouble()));
  return s;
}

// A GGUF v3 file in memory: header, the given key/value bytes and tensor infos, data at 32.
struct Blob {
  std::vector<std::byte> b;
  void u32(std::uint32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  void str(std::string_view s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void raw(const void* p, std::size_t n) {
    const auto* c = static_cast<const std::byte*>(p);
    b.insert(b.end(), c, c + n);
  }
  void pad(std::size_t a) { b.resize((b.size() + a - 1) / a * a); }
};

// Each file of tests/data/malformed/gguf/, the Error kind it must raise and a phrase of the message.
struct Malformed {
  const char* file;
  const char* kind;
  const char* phrase;
};
const Malformed kMalformed[] = {
    {"zero_bytes", "BadInput", "empty file"},
    {"bad_magic", "BadInput", "not a GGUF file"},
    {"truncated_in_header", "BadInput", "truncated: tensor_count needs 8 bytes"},
    {"truncated_in_kv", "BadInput", "string of 40 bytes runs past the end"},
    {"truncated_in_tensor_info", "BadInput", "truncated: tensor info #0 n_dims"},
    {"truncated_in_data", "BadInput",
     "tensor 'a': data [0, 0 + 32) reaches past the end of the data section (24 bytes)"},
    {"version_0", "BadInput", "version 0"},
    {"version_1", "Unsupported", "GGUF version 1 is not supported"},
    {"version_99", "Unsupported", "GGUF version 99 is newer"},
    {"big_endian", "Unsupported", "big-endian GGUF"},
    {"kv_count_huge", "BadInput", "kv_count 1152921504606846976 cannot fit"},
    {"tensor_count_huge", "BadInput", "tensor_count 1152921504606846976 cannot fit"},
    {"key_length_beyond_file", "BadInput", "string of 1099511627776 bytes runs past the end"},
    {"string_value_beyond_file", "BadInput", "string of 1000000000 bytes runs past the end"},
    {"array_length_huge", "BadInput", "array of 2305843009213693952 string cannot fit"},
    {"arrays_nested_too_deep", "BadInput", "arrays nested deeper than 8 levels"},
    {"bool_value_2", "BadInput", "bool value 2 is neither 0 nor 1"},
    {"unknown_value_type", "BadInput", "unknown value type 13"},
    {"empty_key", "BadInput", "key #0 is empty"},
    {"duplicate_keys", "BadInput", "key 'general.architecture' appears twice"},
    {"alignment_not_power_of_two", "BadInput", "general.alignment 48 is not a power of two"},
    {"alignment_zero", "BadInput", "general.alignment 0 is not a power of two"},
    {"alignment_wrong_type", "BadInput", "general.alignment must be a uint32, not uint64"},
    {"n_dims_5", "BadInput", "tensor 'a': 5 dimensions"},
    {"dims_overflow", "BadInput", "tensor 'a': shape [4294967296, 4294967296, 4294967296] overflows"},
    {"unknown_type_id", "BadInput", "unknown ggml type id 77"},
    {"removed_type_id", "Unsupported", "ggml type 4 (Q4_2) is not supported"},
    {"q8_0_row_not_whole_blocks", "BadInput", "Q8_0 rows hold 33 elements, not a multiple of its 32-element block"},
    {"misaligned_offset", "BadInput", "tensor 'b': offset 36 is not a multiple of the alignment 32"},
    {"offset_beyond_file", "BadInput", "tensor 'b': data [1099511627776, "},
    {"offset_wraps_around", "BadInput", "reaches past the end of the data section"},
    {"overlapping_tensors", "BadInput", "tensors 'a' and 'b' overlap"},
    {"duplicate_tensor_names", "BadInput", "tensor name 'a' appears twice"},
    {"empty_tensor_name", "BadInput", "tensor info #0 has an empty name"},
};

}  // namespace

class TestGgufReader : public QObject {
  Q_OBJECT

 private slots:
  void tensors_match_fixture_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("tiny_llama_v3") << "tiny_llama_v3";
    QTest::newRow("aligned64_v2") << "aligned64_v2";
    QTest::newRow("vocab_only") << "vocab_only";
  }
  void tensors_match_fixture() {
    QFETCH(QString, name);
    const auto path = test::data("gguf/" + name.toStdString() + ".gguf");
    const auto expected = load_json(test::data("gguf/" + name.toStdString() + ".json"));
    const Checkpoint c = open_checkpoint(path);
    QCOMPARE(c.format(), std::string("gguf"));
    QCOMPARE(c.files().size(), std::size_t{1});
    QCOMPARE(c.files()[0], path);

    const auto tensors = expected["tensors"].toArray();
    QCOMPARE(c.tensors().size(), static_cast<std::size_t>(tensors.size()));
    std::uint64_t params = 0;
    for (qsizetype i = 0; i < tensors.size(); ++i) {
      const auto e = tensors[i].toObject();
      const Tensor& t = c.tensors()[static_cast<std::size_t>(i)];  // file order
      const std::string tname = e["name"].toString().toStdString();
      QCOMPARE(t.name(), tname);
      QCOMPARE(std::string(dtype_name(t.dtype())), e["dtype"].toString().toStdString());
      QCOMPARE(t.shape(), to_shape(e["shape"].toArray()));
      QCOMPARE(t.nbytes(), static_cast<std::uint64_t>(e["nbytes"].toDouble()));
      QCOMPARE(t.raw_bytes().size(), t.nbytes());
      QCOMPARE(dtype_info(t.dtype()).readable, e["readable"].toBool());
      params += static_cast<std::uint64_t>(t.numel());
      if (!e["readable"].toBool()) continue;
      const auto want = e["values"].toArray();
      QCOMPARE(t.numel(), static_cast<std::int64_t>(want.size()));
      const auto got = t.to_f32();
      for (qsizetype k = 0; k < want.size(); ++k) {
        const float w = static_cast<float>(want[k].toDouble());
        if (got[static_cast<std::size_t>(k)] != w)
          QFAIL(qPrintable(QString("%1[%2] = %3, expected %4")
                               .arg(QString::fromStdString(tname))
                               .arg(k)
                               .arg(double(got[static_cast<std::size_t>(k)]), 0, 'g', 9)
                               .arg(double(w), 0, 'g', 9)));
      }
    }
    QCOMPARE(c.parameter_count(), params);
  }

  void metadata_matches_fixture_data() { tensors_match_fixture_data(); }
  void metadata_matches_fixture() {
    QFETCH(QString, name);
    const auto expected = load_json(test::data("gguf/" + name.toStdString() + ".json"))["metadata"].toArray();
    const Checkpoint c = open_checkpoint(test::data("gguf/" + name.toStdString() + ".gguf"));
    QCOMPARE(c.metadata().size(), static_cast<std::size_t>(expected.size()));
    for (qsizetype i = 0; i < expected.size(); ++i) {
      const auto kv = expected[i].toArray();
      const auto& [k, v] = c.metadata()[static_cast<std::size_t>(i)];
      QCOMPARE(QString::fromStdString(k), kv[0].toString());
      QCOMPARE(QString::fromStdString(v), kv[1].toString());
    }
  }

  // Hand-checked: ggml's ne = [64, 3] is a 3 x 64 matrix; architecture and name lead the metadata.
  void shape_is_outermost_first() {
    const Checkpoint c = open_checkpoint(test::data("gguf/tiny_llama_v3.gguf"));
    QCOMPARE(c.at("token_embd.weight").shape(), (Shape{3, 64}));
    QCOMPARE(c.at("blk.0.ffn_up.weight").shape(), (Shape{2, 2, 8}));
    QCOMPARE(c.at("test.four_d").shape(), (Shape{2, 1, 3, 2}));
    QCOMPARE(c.at("test.scalar").shape(), Shape{});
    QCOMPARE(c.at("test.scalar").numel(), std::int64_t{1});
    QCOMPARE(c.at("test.empty").numel(), std::int64_t{0});
    QCOMPARE(c.metadata()[0].first, std::string("general.architecture"));
    QCOMPARE(c.metadata()[1].first, std::string("general.name"));
    QCOMPARE(c.metadata()[1].second, std::string("Tiny Llama"));
  }

  // Reads of any range must agree with the whole tensor, across block boundaries.
  void q8_0_ranges_agree_with_whole_tensor() {
    const Checkpoint c = open_checkpoint(test::data("gguf/tiny_llama_v3.gguf"));
    const Tensor& t = c.at("token_embd.weight");
    QCOMPARE(t.dtype(), DType::Q8_0);
    const auto all = t.to_f32();
    for (std::int64_t first : {0, 1, 31, 32, 33, 63, 100, 150}) {
      for (std::int64_t n : {1, 2, 31, 32, 33, 40}) {
        if (first + n > t.numel()) continue;
        std::vector<float> part(static_cast<std::size_t>(n));
        t.read_f32(first, part);
        for (std::int64_t i = 0; i < n; ++i)
          QCOMPARE(part[static_cast<std::size_t>(i)], all[static_cast<std::size_t>(first + i)]);
      }
    }
    // The fixture's last block is all zeros (d = 0).
    for (std::int64_t i = 160; i < 192; ++i) QCOMPARE(all[static_cast<std::size_t>(i)], 0.0f);
  }

  // One hand-made Q8_0 block: d = 0.5 (fp16 0x3800), q = -128, -1, 0, 1, 127, then 2s.
  void q8_0_hand_checked() {
    Blob f;
    f.raw("GGUF", 4);
    f.u32(3);
    f.u64(1);
    f.u64(0);
    f.str("w");
    f.u32(1);
    f.u64(32);
    f.u32(8);  // Q8_0
    f.u64(0);
    f.pad(32);
    const std::uint8_t block[34] = {0x00, 0x38, 0x80, 0xFF, 0x00, 0x01, 0x7F, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                                    2,    2,    2,    2,    2,    2,    2,    2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    f.raw(block, sizeof block);
    const Checkpoint c = io::parse_gguf(MappedFile::from_buffer(f.b, "hand.gguf"));
    const auto v = c.at("w").to_f32();
    QCOMPARE(v.size(), std::size_t{32});
    QCOMPARE(v[0], -64.0f);
    QCOMPARE(v[1], -0.5f);
    QCOMPARE(v[2], 0.0f);
    QCOMPARE(v[3], 0.5f);
    QCOMPARE(v[4], 63.5f);
    QCOMPARE(v[31], 1.0f);
    QCOMPARE(c.at("w").nbytes(), std::uint64_t{34});
  }

  void other_quantized_types_are_listed_but_not_read() {
    const Checkpoint c = open_checkpoint(test::data("gguf/tiny_llama_v3.gguf"));
    const Tensor& t = c.at("blk.0.ffn_down.weight");
    QCOMPARE(t.dtype(), DType::Q4_0);
    QCOMPARE(t.shape(), (Shape{2, 32}));
    QCOMPARE(t.nbytes(), std::uint64_t{36});
    QCOMPARE(t.raw_bytes().size(), std::size_t{36});
    std::vector<float> out(4);
    try {
      t.read_f32(0, out);
      QFAIL("reading Q4_0 values should throw");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Unsupported);
      QVERIFY2(std::string(e.what()).find("Q4_0") != std::string::npos, e.what());
      QVERIFY2(std::string(e.what()).find("blk.0.ffn_down.weight") != std::string::npos, e.what());
    }
  }

  // A custom alignment moves the data section: offsets count from the aligned end of the header.
  void custom_alignment_places_data() {
    const auto path = test::data("gguf/aligned64_v2.gguf");
    const Checkpoint c = open_checkpoint(path);
    const auto file = MappedFile::open(path);
    const Checkpoint same = io::parse_gguf(file);
    for (const auto& t : same.tensors()) {
      const auto at = static_cast<std::uint64_t>(t.raw_bytes().data() - file->bytes().data());
      QVERIFY2(at % 64 == 0, t.name().c_str());
      QVERIFY2(at >= 64, t.name().c_str());
    }
    QCOMPARE(c.metadata()[1], (std::pair<std::string, std::string>{"general.alignment", "64"}));
  }

  void malformed_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("phrase");
    for (const auto& m : kMalformed) QTest::newRow(m.file) << m.file << m.kind << m.phrase;
  }
  // Through open_checkpoint (format detection, mapped file) and parse_gguf on a buffer (the
  // fuzzing entry point): one Error of the expected kind whose message starts with the file.
  void malformed() {
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QFETCH(QString, phrase);
    const auto path = test::data("malformed/gguf/" + file.toStdString() + ".gguf");
    QVERIFY2(fs::exists(path), path.c_str());
    for (int via_buffer = 0; via_buffer < 2; ++via_buffer) {
      if (via_buffer && fs::file_size(path) == 0) continue;  // open_checkpoint catches empty files first
      try {
        if (via_buffer)
          io::parse_gguf(MappedFile::from_buffer(read_bytes(path), path));
        else
          open_checkpoint(path);
        QFAIL("no error");
      } catch (const Error& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.rfind(path.string() + ": ", 0) == 0, msg.c_str());
        QVERIFY2(msg.find(phrase.toStdString()) != std::string::npos, msg.c_str());
        QVERIFY2(msg.find('\n') == std::string::npos, msg.c_str());
        QCOMPARE(QString(kind_name(e.kind())), kind);
      }
    }
  }

  // Every file of the corpus has a row in kMalformed, so none is silently skipped.
  void malformed_corpus_is_complete() {
    std::set<std::string> known;
    for (const auto& m : kMalformed) known.insert(m.file);
    test::expect_corpus_complete(test::data("malformed/gguf"), "gguf", known);
  }

  // The input file is never changed by opening and reading it.
  void input_is_not_modified() {
    const auto path = test::data("gguf/tiny_llama_v3.gguf");
    const auto before = read_bytes(path);
    {
      const Checkpoint c = open_checkpoint(path);
      for (const auto& t : c.tensors())
        if (dtype_info(t.dtype()).readable) (void)t.to_f32();
    }
    QVERIFY(read_bytes(path) == before);
  }
};

QTEST_GUILESS_MAIN(TestGgufReader)
#include "test_gguf_reader.moc"
