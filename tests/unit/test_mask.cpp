// Masks: hand-checked small cases of every scope and rule (paramscope/mask.h), references computed
// with numpy by tests/tools/make_mask_reference.py (stable argsort + the documented tie rule) on
// > 65536 bf16-heavy scores with many ties, streamed (histogram) paths reached by shrinking
// mask::MaskTuning, pools of 1 and 2 threads, the written safetensors file, and PyTorch loading it.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "importance/mask/mask_plan.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "paramscope/mask.h"
#include "paramscope/writers.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Field = std::shared_ptr<const ScoreField>;

Field field(std::vector<std::string> names, std::vector<Shape> shapes, std::vector<std::vector<float>> values) {
  return make_memory_score_field(std::move(names), std::move(shapes), std::move(values));
}

/// The mask the rules give, as "0101..." over the field's tensors in order (the writer's path:
/// plan, then apply_rule per tensor), and the plan's summary.
struct Selected {
  std::string bits;
  MaskSummary summary;
};

Selected select_bits(const ScoreField& f, const MaskSpec& spec, ThreadPool& pool, const mask::MaskTuning& tuning = {}) {
  const JobControl control;
  mask::StagedProgress progress(control, f.elements());
  const mask::MaskPlan plan = mask::plan_mask(f, spec, pool, progress, tuning, true);
  Selected s{{}, plan.summary};
  for (std::size_t i = 0; i < f.size(); ++i) {
    const std::int64_t n = f.tensors()[i].numel;
    std::vector<std::byte> out(static_cast<std::size_t>(n), std::byte{7});
    const std::int64_t kept = mask::apply_rule(f, i, plan.rules[i], 0, n, out.data(), pool, nullptr);
    std::int64_t ones = 0;
    for (std::byte b : out) {
      if (b != std::byte{0} && b != std::byte{1}) qFatal("mask byte is not 0/1");
      s.bits += b == std::byte{1} ? '1' : '0';
      ones += b == std::byte{1};
    }
    if (ones != kept) qFatal("apply_rule's count differs from the bytes it wrote");
  }
  return s;
}

ThreadPool& pool(int threads) {
  static ThreadPool one(1), two(2);
  return threads == 1 ? one : two;
}

/// The reference fixture: scores from uint8 codes and a table, expected masks as packed bits.
struct Reference {
  Checkpoint file = open_checkpoint(test::data("mask/masks.safetensors"));
  QJsonObject json = test::read_json(test::data("mask/masks.json"));
  Field scores = through("table");
  Field scores_bf16 = through("table_bf16");  ///< the same codes, scores rounded to bf16

  Field through(const std::string& table_name) const {
    std::vector<float> table(256);
    file.at(table_name).read_f32(0, table);
    std::vector<std::string> names;
    std::vector<Shape> shapes;
    std::vector<std::vector<float>> values;
    for (const auto& t : json["tensors"].toArray()) {
      names.push_back(t.toObject()["name"].toString().toStdString());
      const Tensor& codes = file.at("codes." + names.back());
      shapes.push_back(codes.shape());
      std::vector<float> v;
      for (std::byte c : codes.raw_bytes()) v.push_back(table[static_cast<std::size_t>(c)]);
      values.push_back(std::move(v));
    }
    return field(std::move(names), std::move(shapes), std::move(values));
  }

  /// The scores a case selects from.
  const ScoreField& scores_of(const QJsonObject& kase) const {
    return kase["table"].toString() == "bf16" ? *scores_bf16 : *scores;
  }

  QJsonObject kase(const QString& name) const {
    for (const auto& c : json["cases"].toArray())
      if (c.toObject()["name"].toString() == name) return c.toObject();
    qFatal("no reference case %s", qPrintable(name));
  }

  std::string expected_bits(const QString& name) const {
    const auto packed = file.at("mask." + name.toStdString()).raw_bytes();
    std::string bits;
    const auto n = static_cast<std::size_t>(scores->elements());
    for (std::size_t j = 0; j < n; ++j) bits += (static_cast<unsigned>(packed[j / 8]) >> (j % 8)) & 1u ? '1' : '0';
    return bits;
  }
};

const Reference& ref() {
  static const Reference r;
  return r;
}

/// First position where two bit strings differ, for failure messages.
QByteArray first_difference(const std::string& a, const std::string& b) {
  if (a.size() != b.size())
    return QByteArray("sizes differ: ") + QByteArray::number(a.size()) + " vs " + QByteArray::number(b.size());
  for (std::size_t j = 0; j < a.size(); ++j)
    if (a[j] != b[j])
      return "first difference at element " + QByteArray::number(j) + ": got " + a[j] + ", want " + b[j];
  return {};
}

QString tmp_path(const QTemporaryDir& dir, const char* name) {
  return dir.filePath(name);
}

}  // namespace

class TestMask : public QObject {
  Q_OBJECT

 private slots:
  // ---- MaskSpec ----
  void parse_data() {
    QTest::addColumn<QString>("top");
    QTest::addColumn<QString>("scope");
    QTest::addColumn<QString>("described");
    QTest::newRow("percent") << "10%"
                             << "global"
                             << "top 10% global";
    QTest::newRow("fraction") << "0.25"
                              << "tensor"
                              << "top 25% per tensor";
    QTest::newRow("count") << "5000"
                           << "row"
                           << "top 5000 per row";
    QTest::newRow("1 is a count") << "1"
                                  << "global"
                                  << "top 1 global";
    QTest::newRow("1.0 is all") << "1.0"
                                << "global"
                                << "top 100% global";
    QTest::newRow("0 is a count") << "0"
                                  << "global"
                                  << "top 0 global";
    QTest::newRow("2:4 ignores top") << ""
                                     << "2:4"
                                     << "2:4";
    QTest::newRow("4:8") << "10%"
                         << "4:8"
                         << "4:8";
    QTest::newRow("threshold") << "0.5"
                               << "threshold"
                               << "score >= 0.5";
    QTest::newRow("negative threshold") << "-2"
                                        << "threshold"
                                        << "score >= -2";
  }
  void parse() {
    QFETCH(QString, top);
    QFETCH(QString, scope);
    QFETCH(QString, described);
    QCOMPARE(QString::fromStdString(MaskSpec::parse(top.toStdString(), scope.toStdString()).describe()), described);
  }

  void parse_rejects_data() {
    QTest::addColumn<QString>("top");
    QTest::addColumn<QString>("scope");
    QTest::newRow("over 100%") << "101%"
                               << "global";
    QTest::newRow("negative") << "-1"
                              << "global";
    QTest::newRow("fraction over 1") << "1.5"
                                     << "global";
    QTest::newRow("word") << "many"
                          << "global";
    QTest::newRow("empty") << ""
                           << "global";
    QTest::newRow("unknown scope") << "10%"
                                   << "layer";
    QTest::newRow("N over M") << ""
                              << "5:4";
    QTest::newRow("M too large") << ""
                                 << "2:512";
    QTest::newRow("M zero") << ""
                            << "0:0";
    QTest::newRow("threshold not a number") << "abc"
                                            << "threshold";
    QTest::newRow("threshold inf") << "inf"
                                   << "threshold";
  }
  void parse_rejects() {
    QFETCH(QString, top);
    QFETCH(QString, scope);
    try {
      MaskSpec::parse(top.toStdString(), scope.toStdString());
      QFAIL("accepted");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
    }
  }

  // ---- hand-checked small cases ----
  void small_cases_data() {
    QTest::addColumn<QStringList>("names");
    QTest::addColumn<QList<QList<qint64>>>("shapes");
    QTest::addColumn<QList<QList<float>>>("values");
    QTest::addColumn<QString>("top");
    QTest::addColumn<QString>("scope");
    QTest::addColumn<QString>("expected");  // bits over the tensors in field order

    const QList<qint64> s10{10};
    const QList<float> ten{5, 3, 9, 1, 10, 2, 8, 4, 7, 6};
    QTest::newRow("25% of 10 keeps 3") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten}
                                       << "25%"
                                       << "global"
                                       << "0010101000";
    QTest::newRow("24% of 10 keeps 2") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten}
                                       << "24%"
                                       << "global"
                                       << "0010100000";
    QTest::newRow("count 4") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten} << "4"
                             << "global"
                             << "0010101010";
    QTest::newRow("fraction 0.4") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten} << "0.4"
                                  << "global"
                                  << "0010101010";
    QTest::newRow("k = 0 count") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten} << "0"
                                 << "global"
                                 << "0000000000";
    QTest::newRow("k = 0 percent") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten} << "0%"
                                   << "tensor"
                                   << "0000000000";
    QTest::newRow("k = n") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten} << "100%"
                           << "global"
                           << "1111111111";
    QTest::newRow("count above n") << QStringList{"w"} << QList<QList<qint64>>{s10} << QList<QList<float>>{ten} << "99"
                                   << "tensor"
                                   << "1111111111";
    QTest::newRow("ties at the boundary: first come first kept")
        << QStringList{"w"} << QList<QList<qint64>>{{6}} << QList<QList<float>>{{1, 3, 3, 3, 2, 3}} << "2"
        << "global"
        << "011000";
    QTest::newRow("all equal") << QStringList{"w"} << QList<QList<qint64>>{{5}} << QList<QList<float>>{{7, 7, 7, 7, 7}}
                               << "40%"
                               << "global"
                               << "11000";
    QTest::newRow("NaN counts in n, never kept")
        << QStringList{"w"} << QList<QList<qint64>>{{6}} << QList<QList<float>>{{kNaN, kNaN, kNaN, 1, 2, 3}} << "50%"
        << "global"
        << "000111";
    QTest::newRow("NaN: fewer numbers than k")
        << QStringList{"w"} << QList<QList<qint64>>{{4}} << QList<QList<float>>{{kNaN, 5, kNaN, 1}} << "75%"
        << "global"
        << "0101";
    QTest::newRow("all NaN") << QStringList{"w"} << QList<QList<qint64>>{{3}} << QList<QList<float>>{{kNaN, kNaN, kNaN}}
                             << "100%"
                             << "global"
                             << "000";
    QTest::newRow("-0 and +0 tie") << QStringList{"w"} << QList<QList<qint64>>{{4}}
                                   << QList<QList<float>>{{-0.0f, 0.0f, -0.0f, 1}} << "2"
                                   << "global"
                                   << "1001";
    QTest::newRow("+0 first") << QStringList{"w"} << QList<QList<qint64>>{{4}}
                              << QList<QList<float>>{{0.0f, -0.0f, -0.0f, 1}} << "2"
                              << "global"
                              << "1001";
    QTest::newRow("global ties in field order")
        << QStringList{"a", "b"} << QList<QList<qint64>>{{3}, {2}} << QList<QList<float>>{{2, 1, 2}, {2, 5}} << "3"
        << "global"
        << "10101";
    QTest::newRow("global ties: second tensor loses")
        << QStringList{"a", "b"} << QList<QList<qint64>>{{2}, {2}} << QList<QList<float>>{{1, 2}, {2, 2}} << "2"
        << "global"
        << "0110";
    QTest::newRow("per tensor") << QStringList{"a", "b"} << QList<QList<qint64>>{{4}, {2, 2}}
                                << QList<QList<float>>{{1, 2, 3, 4}, {4, 4, 4, 1}} << "50%"
                                << "tensor"
                                << "00111100";
    QTest::newRow("per tensor rounding") << QStringList{"a", "b"} << QList<QList<qint64>>{{10}, {2}}
                                         << QList<QList<float>>{ten, {1, 2}} << "25%"
                                         << "tensor"
                                         << "0010101000"
                                            "01";  // 2.5 -> 3, 0.5 -> 1
    QTest::newRow("per row") << QStringList{"w"} << QList<QList<qint64>>{{3, 4}}
                             << QList<QList<float>>{{1, 2, 3, 4, 4, 4, 0, 4, kNaN, 1, kNaN, kNaN}} << "50%"
                             << "row"
                             << "0011"
                                "1100"
                                "0100";
    QTest::newRow("per row: conv rows are output channels") << QStringList{"c"} << QList<QList<qint64>>{{2, 2, 1, 2}}
                                                            << QList<QList<float>>{{1, 2, 3, 4, 8, 7, 6, 5}} << "1"
                                                            << "row"
                                                            << "0001"
                                                               "1000";
    QTest::newRow("per row: rank 1 is one row")
        << QStringList{"b"} << QList<QList<qint64>>{{4}} << QList<QList<float>>{{3, 1, 4, 1}} << "50%"
        << "row"
        << "1010";
    QTest::newRow("2:4") << QStringList{"w"} << QList<QList<qint64>>{{2, 8}}
                         << QList<QList<float>>{{1, 5, 5, 5, 0, -1, kNaN, kNaN, 3, 3, 3, 3, 9, 8, 7, 6}} << ""
                         << "2:4"
                         << "01101100"
                            "11001100";
    QTest::newRow("2:4 NaN in a group") << QStringList{"w"} << QList<QList<qint64>>{{1, 4}}
                                        << QList<QList<float>>{{kNaN, kNaN, kNaN, -3}} << ""
                                        << "2:4"
                                        << "0001";
    QTest::newRow("4:8") << QStringList{"w"} << QList<QList<qint64>>{{1, 16}}
                         << QList<QList<float>>{{1, 2, 3, 4, 5, 6, 7, 8, 2, 2, 2, 2, 2, 2, 2, 2}} << ""
                         << "4:8"
                         << "00001111"
                            "11110000";
    // [out 1, in 4, kh 1, kw 2]: groups run along input channels at each (out, kh, kw), as
    // ASP's m4n2_1d (it permutes conv weights to [out, kh, kw, in] before grouping by 4).
    QTest::newRow("2:4 conv groups input channels")
        << QStringList{"c"} << QList<QList<qint64>>{{1, 4, 1, 2}} << QList<QList<float>>{{1, 9, 2, 8, 3, 7, 4, 6}} << ""
        << "2:4"
        << "01011010";
    QTest::newRow("2:4 keeps rank 1 whole") << QStringList{"w", "bias"} << QList<QList<qint64>>{{1, 4}, {3}}
                                            << QList<QList<float>>{{4, 3, 2, 1}, {kNaN, -5, 0}} << ""
                                            << "2:4"
                                            << "1100"
                                               "011";
    QTest::newRow("threshold") << QStringList{"w"} << QList<QList<qint64>>{{5}}
                               << QList<QList<float>>{{0.5f, 0.4999f, 1, kNaN, -0.0f}} << "0.5"
                               << "threshold"
                               << "10100";
    QTest::newRow("threshold 0 keeps -0")
        << QStringList{"w"} << QList<QList<qint64>>{{3}} << QList<QList<float>>{{-0.0f, 0.0f, -1}} << "0"
        << "threshold"
        << "110";
    // 0.1f is just above the double 0.1; the float below it is not >= 0.1.
    QTest::newRow("threshold between floats") << QStringList{"w"} << QList<QList<qint64>>{{2}}
                                              << QList<QList<float>>{{0.1f, std::nextafter(0.1f, 0.0f)}} << "0.1"
                                              << "threshold"
                                              << "10";
  }
  void small_cases() {
    QFETCH(QStringList, names);
    QFETCH(QList<QList<qint64>>, shapes);
    QFETCH(QList<QList<float>>, values);
    QFETCH(QString, top);
    QFETCH(QString, scope);
    QFETCH(QString, expected);
    std::vector<std::string> ns;
    std::vector<Shape> ss;
    std::vector<std::vector<float>> vs;
    for (qsizetype i = 0; i < names.size(); ++i) {
      ns.push_back(names[i].toStdString());
      ss.emplace_back(shapes[i].begin(), shapes[i].end());
      vs.emplace_back(values[i].begin(), values[i].end());
    }
    const Field f = field(ns, ss, vs);
    const MaskSpec spec = MaskSpec::parse(top.toStdString(), scope.toStdString());
    const std::int64_t ones = expected.count('1');
    // In memory, and streamed in chunks of 1 and 3 elements (every histogram path).
    for (const mask::MaskTuning tuning : {mask::MaskTuning{}, mask::MaskTuning{1, 0}, mask::MaskTuning{3, 1}})
      for (int threads : {1, 2}) {
        const Selected s = select_bits(*f, spec, pool(threads), tuning);
        QCOMPARE(QString::fromStdString(s.bits), expected);
        QCOMPARE(s.summary.kept, ones);
        QCOMPARE(s.summary.total, static_cast<std::int64_t>(expected.size()));
        std::int64_t sum = 0;
        for (const auto& t : s.summary.tensors) sum += t.kept;
        QCOMPARE(sum, ones);
        const MaskSummary summary = mask::select_mask(*f, spec, pool(threads), {}, tuning);
        QCOMPARE(summary.kept, ones);
      }
  }

  void global_summary_threshold_and_ties() {
    const Field f = field({"a", "b"}, {{4}, {3}}, {{1, 3, 3, 0.5f}, {3, 9, 3}});
    for (const mask::MaskTuning tuning : {mask::MaskTuning{}, mask::MaskTuning{2, 0}}) {
      const MaskSummary s = mask::select_mask(*f, MaskSpec::parse("3", "global"), pool(2), {}, tuning);
      QCOMPARE(s.kept, std::int64_t{3});
      QVERIFY(s.threshold.has_value());
      QCOMPARE(*s.threshold, 3.0f);
      QCOMPARE(s.ties_kept, std::int64_t{2});
      QCOMPARE(s.tensors[0].kept, std::int64_t{2});
      QCOMPARE(s.tensors[1].kept, std::int64_t{1});
      QCOMPARE(s.tensors[1].total, std::int64_t{3});
    }
    const MaskSummary none = select_mask(*f, MaskSpec::parse("0", "global"), pool(1));
    QVERIFY(!none.threshold.has_value());
    QCOMPARE(none.kept, std::int64_t{0});
  }

  void nm_summary_marks_kept_whole() {
    const Field f = field({"w", "b"}, {{2, 4}, {2}}, {{1, 2, 3, 4, 5, 6, 7, 8}, {1, kNaN}});
    const MaskSummary s = select_mask(*f, MaskSpec::parse("", "2:4"), pool(1));
    QVERIFY(!s.tensors[0].kept_whole);
    QVERIFY(s.tensors[1].kept_whole);
    QCOMPARE(s.tensors[0].kept, std::int64_t{4});
    QCOMPARE(s.tensors[1].kept, std::int64_t{1});
    QCOMPARE(s.tensors[0].density(), 0.5);
  }

  // As NVIDIA ASP skips them: a tensor whose dim 1 is not a multiple of M stays dense and is
  // listed, the others get their N:M pattern.
  void nm_dim1_not_multiple_of_m_kept_whole() {
    const Field f = field({"ok", "model.layers.0.mlp.gate_proj.weight"}, {{2, 8}, {2, 6}},
                          {{1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1}, std::vector<float>(12, 1)});
    for (const char* scope : {"2:4", "4:8"}) {
      const MaskSummary s = select_mask(*f, MaskSpec::parse("", scope), pool(1));
      QVERIFY(!s.tensors[0].kept_whole);
      QCOMPARE(s.tensors[0].kept, std::int64_t{8});
      QVERIFY(s.tensors[1].kept_whole);
      QCOMPARE(s.tensors[1].kept, std::int64_t{12});
      QCOMPARE(s.kept, std::int64_t{20});
    }
  }

  // ---- references from numpy ----
  void reference_data() {
    QTest::addColumn<QString>("kase");
    QTest::addColumn<qint64>("chunk");
    QTest::addColumn<qint64>("memory_unit");
    QTest::addColumn<int>("threads");
    for (const auto& c : ref().json["cases"].toArray()) {
      const QString name = c.toObject()["name"].toString();
      // Default sizes (whole tensors and rows in memory, one 65536-element chunk boundary);
      // then everything streamed in chunks that cut rows and tensors at odd places.
      for (int threads : {1, 2}) {
        QTest::addRow("%s default %dt", qPrintable(name), threads)
            << name << qint64{kDefaultChunk} << qint64{1 << 20} << threads;
        QTest::addRow("%s streamed 4099 %dt", qPrintable(name), threads)
            << name << qint64{4099} << qint64{0} << threads;
        QTest::addRow("%s streamed 97 %dt", qPrintable(name), threads) << name << qint64{97} << qint64{100} << threads;
      }
    }
  }
  void reference() {
    QFETCH(QString, kase);
    QFETCH(qint64, chunk);
    QFETCH(qint64, memory_unit);
    QFETCH(int, threads);
    const QJsonObject c = ref().kase(kase);
    const MaskSpec spec = MaskSpec::parse(c["top"].toString().toStdString(), c["scope"].toString().toStdString());
    const Selected s = select_bits(ref().scores_of(c), spec, pool(threads), mask::MaskTuning{chunk, memory_unit});
    const std::string want = ref().expected_bits(kase);
    QVERIFY2(s.bits == want, first_difference(s.bits, want).constData());
    QCOMPARE(s.summary.kept, static_cast<std::int64_t>(c["kept"].toInteger()));
    QCOMPARE(s.summary.total, static_cast<std::int64_t>(c["total"].toInteger()));
    const QJsonArray per = c["tensor_kept"].toArray();
    QCOMPARE(s.summary.tensors.size(), static_cast<std::size_t>(per.size()));
    for (qsizetype i = 0; i < per.size(); ++i)
      QCOMPARE(s.summary.tensors[static_cast<std::size_t>(i)].kept, static_cast<std::int64_t>(per[i].toInteger()));
    if (c.contains("threshold")) {
      QVERIFY(s.summary.threshold.has_value());
      QCOMPARE(static_cast<double>(*s.summary.threshold), c["threshold"].toDouble());
      QCOMPARE(s.summary.ties_kept, static_cast<std::int64_t>(c["ties_kept"].toInteger()));
      // The fixture is about ties: the boundary group straddles the cut.
      QVERIFY(c["ties_kept"].toInteger() < c["boundary_ties_total"].toInteger());
    }
  }

  // Passes a selection makes, counted as elements read: scores of bf16 weights (every key of a
  // sign ends in the same 16 bits) need one histogram pass, other floats two. Ties are settled
  // by the writer, never by another pass.
  void selection_passes_data() {
    QTest::addColumn<QString>("kase");
    QTest::addColumn<int>("passes");
    QTest::addRow("float32 global") << "global_10pct" << 2;
    QTest::addRow("bf16 global") << "global_10pct_bf16" << 1;
    QTest::addRow("bf16 global 37pct") << "global_37pct_bf16" << 1;
    QTest::addRow("bf16 tensor") << "tensor_10pct_bf16" << 1;
  }
  void selection_passes() {
    QFETCH(QString, kase);
    QFETCH(int, passes);
    class Counting final : public ScoreField {
     public:
      explicit Counting(const ScoreField& f) : ScoreField(f.tensors()), f_(f) {}
      void scores(std::size_t i, std::int64_t first, std::span<float> out) const override {
        read += static_cast<std::int64_t>(out.size());
        f_.scores(i, first, out);
      }
      mutable std::atomic<std::int64_t> read{0};

     private:
      const ScoreField& f_;
    };
    const QJsonObject c = ref().kase(kase);
    const Counting counting(ref().scores_of(c));
    const MaskSpec spec = MaskSpec::parse(c["top"].toString().toStdString(), c["scope"].toString().toStdString());
    const JobControl control;
    mask::StagedProgress progress(control, counting.elements());
    // memory_unit 0: every tensor streamed, as large ones are.
    const mask::MaskPlan plan = mask::plan_mask(counting, spec, pool(2), progress, mask::MaskTuning{4099, 0}, false);
    QCOMPARE(counting.read.load(), passes * static_cast<std::int64_t>(counting.elements()));
    QCOMPARE(plan.summary.kept, static_cast<std::int64_t>(c["kept"].toInteger()));
  }

  // Magnitude scores of 16-bit weights come from a table of all 65536 stored values (one pass
  // over the codes, marks by table lookup). They must select exactly what the float path does
  // (checked against numpy above): the same checkpoint through a field that hides its codes.
  void coded_scores_match_float_path_data() {
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<QString>("top");
    QTest::addColumn<QString>("scope");
    QTest::addColumn<qint64>("chunk");
    QTest::addColumn<int>("threads");
    for (const char* dt : {"BF16", "F16"})
      for (int threads : {1, 2})
        for (qint64 chunk : {qint64{kDefaultChunk}, qint64{4099}}) {
          QTest::addRow("%s global 10pct %lld %dt", dt, chunk, threads) << dt << "10%" << "global" << chunk << threads;
          QTest::addRow("%s global 37pct %lld %dt", dt, chunk, threads) << dt << "37%" << "global" << chunk << threads;
          QTest::addRow("%s global count %lld %dt", dt, chunk, threads) << dt << "12345" << "global" << chunk << threads;
          QTest::addRow("%s tensor 10pct %lld %dt", dt, chunk, threads) << dt << "10%" << "tensor" << chunk << threads;
          QTest::addRow("%s row 30pct %lld %dt", dt, chunk, threads) << dt << "30%" << "row" << chunk << threads;
          QTest::addRow("%s threshold %lld %dt", dt, chunk, threads) << dt << "0.75" << "threshold" << chunk << threads;
        }
  }
  void coded_scores_match_float_path() {
    QFETCH(QString, dtype);
    QFETCH(QString, top);
    QFETCH(QString, scope);
    QFETCH(qint64, chunk);
    QFETCH(int, threads);
    // Weights: the reference codes through its float32 table, stored as bf16 or f16 (ties,
    // -0/+0, NaN and both signs, so |w| folds pairs of codes onto one score).
    QTemporaryDir dir;
    const fs::path file = tmp_path(dir, "w.safetensors").toStdString();
    const auto& ts = ref().scores->tensors();
    std::vector<std::vector<float>> values(ts.size());
    std::vector<TensorToWrite> out;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      values[i].resize(static_cast<std::size_t>(ts[i].numel));
      ref().scores->scores(i, 0, values[i]);
      out.push_back(TensorToWrite::from_floats(ts[i].name, *dtype_from_name(dtype.toStdString()), ts[i].shape, values[i]));
    }
    write_safetensors(file, out);
    const Checkpoint model = open_checkpoint(file);
    TensorSelection all;
    all.all_tensors = true;
    const auto field = make_score_field(model, select_tensors(model, all), CriterionRegistry::builtin().get("magnitude"), {});
    for (std::size_t i = 0; i < field->size(); ++i) QVERIFY(field->coded(i).has_value());

    class FloatsOnly final : public ScoreField {
     public:
      explicit FloatsOnly(const ScoreField& f) : ScoreField(f.tensors()), f_(f) {}
      void scores(std::size_t i, std::int64_t first, std::span<float> o) const override {
        read += static_cast<std::int64_t>(o.size());
        f_.scores(i, first, o);
      }
      mutable std::atomic<std::int64_t> read{0};

     private:
      const ScoreField& f_;
    };
    const MaskSpec spec = MaskSpec::parse(top.toStdString(), scope.toStdString());
    const mask::MaskTuning tuning{chunk, 0};  // memory_unit 0: tensors and rows streamed
    const Selected coded = select_bits(*field, spec, pool(threads), tuning);
    const FloatsOnly floats(*field);
    const Selected plain = select_bits(floats, spec, pool(threads), tuning);
    QVERIFY(floats.read.load() > 0);
    QVERIFY2(coded.bits == plain.bits, first_difference(coded.bits, plain.bits).constData());
    QCOMPARE(coded.summary.kept, plain.summary.kept);
    QCOMPARE(coded.summary.ties_kept, plain.summary.ties_kept);
    QCOMPARE(coded.summary.threshold.has_value(), plain.summary.threshold.has_value());
    if (coded.summary.threshold) QCOMPARE(*coded.summary.threshold, *plain.summary.threshold);
    for (std::size_t i = 0; i < field->size(); ++i)
      QCOMPARE(coded.summary.tensors[i].kept, plain.summary.tensors[i].kept);
    // The written file too (the writer's order and the tie budget across tensors).
    const fs::path mpath = tmp_path(dir, "m.safetensors").toStdString();
    const MaskSummary sum = mask::write_mask(mpath, *field, spec, DType::BOOL, pool(threads), {}, {}, tuning);
    QCOMPARE(sum.kept, plain.summary.kept);
    const Checkpoint m = open_checkpoint(mpath);
    std::string bits;
    for (const auto& t : field->tensors())  // field order: the checkpoint's
      for (std::byte b : m.at(t.name).raw_bytes()) bits += b == std::byte{1} ? '1' : '0';
    QVERIFY2(bits == plain.bits, first_difference(bits, plain.bits).constData());
  }

  // ---- the written file ----
  void write_mask_reads_back_data() {
    QTest::addColumn<QString>("kase");
    QTest::addColumn<QString>("dtype");
    for (const char* k : {"global_10pct", "global_10pct_bf16", "tensor_10pct_bf16", "row_30pct", "nm_2_4"})
      for (const char* d : {"BOOL", "U8"}) QTest::addRow("%s %s", k, d) << k << d;
  }
  void write_mask_reads_back() {
    QFETCH(QString, kase);
    QFETCH(QString, dtype);
    const QJsonObject c = ref().kase(kase);
    const MaskSpec spec = MaskSpec::parse(c["top"].toString().toStdString(), c["scope"].toString().toStdString());
    const DType dt = *dtype_from_name(dtype.toStdString());
    QTemporaryDir dir;
    const fs::path path = tmp_path(dir, "mask.safetensors").toStdString();
    const MaskSummary sum = mask::write_mask(path, ref().scores_of(c), spec, dt, pool(2), {}, {{"criterion", "magnitude"}},
                                             mask::MaskTuning{1000, 0});
    QCOMPARE(sum.kept, static_cast<std::int64_t>(c["kept"].toInteger()));
    const Checkpoint m = open_checkpoint(path);
    const std::string want = ref().expected_bits(kase);
    const auto& ts = ref().scores->tensors();
    QCOMPARE(m.tensors().size(), ts.size());
    std::size_t at = 0;
    const QJsonArray per = c["tensor_kept"].toArray();
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const Tensor& t = m.at(ts[i].name);
      QCOMPARE(t.dtype(), dt);
      QCOMPARE(t.shape(), ts[i].shape);
      std::string bits;
      for (std::byte b : t.raw_bytes()) {
        QVERIFY(b == std::byte{0} || b == std::byte{1});
        bits += b == std::byte{1} ? '1' : '0';
      }
      const std::string expect = want.substr(at, bits.size());
      QVERIFY2(bits == expect, (QByteArray(ts[i].name.c_str()) + ": " + first_difference(bits, expect)).constData());
      at += bits.size();
      QCOMPARE(sum.tensors[i].name, ts[i].name);
      QCOMPARE(sum.tensors[i].kept, static_cast<std::int64_t>(per[static_cast<qsizetype>(i)].toInteger()));
      QCOMPARE(sum.tensors[i].total, ts[i].numel);
    }
    QCOMPARE(at, want.size());
    std::map<std::string, std::string> md(m.metadata().begin(), m.metadata().end());
    QCOMPARE(md["paramscope.mask"], spec.describe());
    QCOMPARE(md["paramscope.mask.kept"], std::to_string(sum.kept));
    QCOMPARE(md["paramscope.mask.total"], std::to_string(sum.total));
    QCOMPARE(md["criterion"], std::string("magnitude"));
    if (spec.scope == MaskScope::Global) QCOMPARE(md["paramscope.mask.ties_kept"], std::to_string(sum.ties_kept));
    if (spec.scope == MaskScope::NM)
      QCOMPARE(md["paramscope.mask.kept_whole"], std::string(R"(["model.layers.0.input_layernorm.weight"])"));
  }

  void write_mask_rejects_other_dtypes() {
    QTemporaryDir dir;
    const fs::path path = tmp_path(dir, "m.safetensors").toStdString();
    try {
      write_mask(path, *ref().scores, MaskSpec{}, DType::F32, pool(1));
      QFAIL("accepted F32");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
    }
    QVERIFY(!fs::exists(path));
  }

  void write_mask_cancelled_data() {
    QTest::addColumn<bool>("before");
    QTest::newRow("cancelled before") << true;
    QTest::newRow("cancelled from progress") << false;
  }
  void write_mask_cancelled() {
    QFETCH(bool, before);
    QTemporaryDir dir;
    const fs::path path = tmp_path(dir, "mask.safetensors").toStdString();
    CancelToken cancel;
    if (before) cancel.cancel();
    JobControl control{&cancel, [&](std::uint64_t, std::uint64_t) { cancel.cancel(); }};
    try {
      mask::write_mask(path, *ref().scores, MaskSpec::parse("10%", "global"), DType::BOOL, pool(2), control, {},
                       mask::MaskTuning{512, 0});
      QFAIL("not cancelled");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Cancelled);
    }
    QVERIFY(!fs::exists(path));
    QVERIFY2(fs::is_empty(dir.path().toStdString()), "a temporary file was left behind");
  }

  void progress_reaches_total() {
    std::uint64_t last_done = 0, last_total = 0;
    std::mutex mu;
    JobControl control{nullptr, [&](std::uint64_t done, std::uint64_t total) {
                         const std::lock_guard lock(mu);
                         last_done = done;
                         last_total = total;
                       }};
    QTemporaryDir dir;
    mask::write_mask(tmp_path(dir, "m.safetensors").toStdString(), *ref().scores, MaskSpec::parse("10%", "global"),
                     DType::U8, pool(2), control, {}, mask::MaskTuning{4096, 0});
    QVERIFY(last_total > 0);
    QCOMPARE(last_done, last_total);
  }

  // ---- PyTorch opens the mask ----
  void torch_loads_mask() {
    if (!fs::exists("/usr/bin/python3")) QSKIP("/usr/bin/python3 is not installed");
    QTemporaryDir dir;
    // A checkpoint folder with the weights, and a mask over the same names.
    const auto& ts = ref().scores->tensors();
    std::vector<std::vector<float>> weights(ts.size());
    std::vector<TensorToWrite> tw;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      weights[i].resize(static_cast<std::size_t>(ts[i].numel));
      for (std::size_t j = 0; j < weights[i].size(); ++j) weights[i][j] = 1.0f + static_cast<float>(j % 7);
      tw.push_back(TensorToWrite::from_floats(ts[i].name, DType::BF16, ts[i].shape, weights[i]));
    }
    fs::create_directories(dir.path().toStdString() + "/model");
    write_safetensors(dir.path().toStdString() + "/model/model.safetensors", tw);
    const fs::path mask_path = tmp_path(dir, "mask.safetensors").toStdString();
    const MaskSummary sum = write_mask(mask_path, *ref().scores, MaskSpec::parse("2:4", "2:4"), DType::BOOL, pool(2));
    QProcess p;
    p.start("/usr/bin/python3",
            {QString::fromStdString((test::source_dir() / "tests/tools/check_mask_in_torch.py").string()),
             QString::fromStdString(mask_path.string()), dir.filePath("model")});
    QVERIFY(p.waitForFinished(120000));
    const QByteArray err = p.readAllStandardError();
    if (p.exitCode() == 3) QSKIP("python3-torch is not installed");
    QVERIFY2(p.exitCode() == 0, err.constData());
    const QJsonObject doc = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
    QCOMPARE(doc["__metadata__"].toObject()["paramscope.mask"].toString(), QString("2:4"));
    for (const auto& t : sum.tensors) {
      const QJsonObject o = doc[QString::fromStdString(t.name)].toObject();
      QVERIFY2(!o.isEmpty(), t.name.c_str());
      QCOMPARE(o["kept"].toInteger(), t.kept);
      QCOMPARE(o["total"].toInteger(), t.total);
      QVERIFY(std::fabs(o["density"].toDouble() - t.density()) < 1e-12);
      QVERIFY(o["pruned_matches"].toBool());  // weight == weight_orig * mask after pruning
    }
  }
};

QTEST_GUILESS_MAIN(TestMask)
#include "test_mask.moc"
