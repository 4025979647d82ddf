// Comparing criteria: Spearman (average ranks, as scipy.stats.spearmanr) and top-k Jaccard (the
// masks' tie rule) per tensor, per block and overall, against tests/tools/make_mask_reference.py
// (scipy 1.10), in memory and through the rank histograms (compare::CompareTuning shrunk), with
// pools of 1 and 2 threads; plus hand-checked small cases.
#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "importance/compare/compare_units.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/compare.h"
#include "paramscope/error.h"
#include "test_paths.h"

using namespace paramscope;

Q_DECLARE_METATYPE(paramscope::compare::CompareTuning)

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
using Field = std::shared_ptr<const ScoreField>;

ThreadPool& pool(int threads) {
  static ThreadPool one(1), two(2);
  return threads == 1 ? one : two;
}

Field one_tensor(std::vector<float> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return make_memory_score_field({"w"}, {{n}}, {std::move(v)});
}

/// Tunings: in memory; histograms with every bin resolved (exact); histograms coarsened.
compare::CompareTuning in_memory() {
  return {};
}
compare::CompareTuning histogram(std::int64_t chunk, std::int64_t fine_bins = 1 << 20) {
  return {chunk, 0, fine_bins};
}

struct Reference {
  Checkpoint file = open_checkpoint(test::data("mask/compare.safetensors"));
  QJsonObject json = test::read_json(test::data("mask/compare.json"));
  Field a, b;

  Reference() {
    std::vector<float> table(256);
    file.at("table").read_f32(0, table);
    std::vector<std::string> names;
    std::vector<Shape> shapes;
    std::vector<std::vector<float>> va, vb;
    for (const auto& t : json["tensors"].toArray()) {
      names.push_back(t.toObject()["name"].toString().toStdString());
      shapes.push_back(file.at("a." + names.back()).shape());
      for (auto [prefix, out] : {std::pair{"a.", &va}, std::pair{"b.", &vb}}) {
        std::vector<float> v;
        for (std::byte c : file.at(prefix + names.back()).raw_bytes()) v.push_back(table[static_cast<std::size_t>(c)]);
        out->push_back(std::move(v));
      }
    }
    a = make_memory_score_field(names, shapes, std::move(va));
    b = make_memory_score_field(names, shapes, std::move(vb));
  }
};

const Reference& ref() {
  static const Reference r;
  return r;
}

bool same(double got, const QJsonValue& want, double tol) {
  if (want.isNull()) return std::isnan(got);
  return std::fabs(got - want.toDouble()) <= tol;
}

void check_unit(const CriteriaAgreement& got, const QJsonObject& want, bool exact_expected) {
  const QByteArray what = QByteArray("unit '") + got.name.c_str() + "'";
  QVERIFY2(got.name == want["name"].toString().toStdString(), what.constData());
  QCOMPARE(got.elements, static_cast<std::int64_t>(want["elements"].toInteger()));
  QVERIFY2(same(got.spearman, want["spearman"], 1e-12),
           (what + ": spearman " + QByteArray::number(got.spearman, 'g', 17) + " vs " +
            QByteArray::number(want["spearman"].toDouble(), 'g', 17))
               .constData());
  // Jaccard is a ratio of counts: exactly the reference's double.
  QVERIFY2(same(got.topk_jaccard, want["topk_jaccard"], 0),
           (what + ": jaccard " + QByteArray::number(got.topk_jaccard, 'g', 17) + " vs " +
            QByteArray::number(want["topk_jaccard"].toDouble(), 'g', 17))
               .constData());
  if (exact_expected) QVERIFY(got.exact);
}

bool identical(const CriteriaAgreement& x, const CriteriaAgreement& y) {
  auto eq = [](double p, double q) { return (std::isnan(p) && std::isnan(q)) || p == q; };
  return x.name == y.name && x.elements == y.elements && eq(x.spearman, y.spearman) &&
         eq(x.topk_jaccard, y.topk_jaccard) && x.exact == y.exact;
}

}  // namespace

class TestCompare : public QObject {
  Q_OBJECT

 private slots:
  void hand_checked_data() {
    QTest::addColumn<QList<float>>("a");
    QTest::addColumn<QList<float>>("b");
    QTest::addColumn<double>("top");
    QTest::addColumn<qint64>("elements");
    QTest::addColumn<double>("spearman");  // NaN: undefined
    QTest::addColumn<double>("jaccard");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    QTest::newRow("same order") << QList<float>{1, 2, 3, 4} << QList<float>{10, 20, 30, 40} << 0.5 << qint64{4} << 1.0
                                << 1.0;
    QTest::newRow("reversed") << QList<float>{1, 2, 3, 4} << QList<float>{4, 3, 2, 1} << 0.5 << qint64{4} << -1.0
                              << 0.0;
    // scipy.stats.spearmanr([1,1,2,3],[1,2,3,4]) = 0.9486832980505138 (a's ties share rank 1.5).
    QTest::newRow("ties average ranks") << QList<float>{1, 1, 2, 3} << QList<float>{1, 2, 3, 4} << 0.25 << qint64{4}
                                        << 0.9486832980505138 << 1.0;
    // Top 2 of a = {0, 1}, of b = {0, 1}: boundary ties kept first come first kept.
    QTest::newRow("jaccard tie rule") << QList<float>{5, 5, 5, 1} << QList<float>{5, 5, 1, 5} << 0.5 << qint64{4}
                                      << -1.0 / 3 << 1.0;
    // NaN on either side leaves the element out: [2, 3, 4] vs [1, 2, 0] remain; k = 1.
    QTest::newRow("NaN left out") << QList<float>{1, 2, kNaN, 3, 4} << QList<float>{kNaN, 1, 5, 2, 0} << 0.34
                                  << qint64{3} << -0.5 << 0.0;
    QTest::newRow("-0 equals +0") << QList<float>{-0.0f, 0.0f, 1} << QList<float>{0.0f, -0.0f, 1} << 0.34 << qint64{3}
                                  << 1.0 << 1.0;
    QTest::newRow("one side constant") << QList<float>{7, 7, 7} << QList<float>{1, 2, 3} << 1.0 << qint64{3} << nan
                                       << 1.0;
    QTest::newRow("one element") << QList<float>{1, kNaN} << QList<float>{2, 3} << 1.0 << qint64{1} << nan << 1.0;
    QTest::newRow("k = 0") << QList<float>{1, 2, 3} << QList<float>{1, 2, 3} << 0.1 << qint64{3} << 1.0 << nan;
    // k = round(0.25 * 6) = 2 (1.5 rounds up): a's top {5, 4}, b's top {5, 3} -> 1/3.
    QTest::newRow("k rounds half up") << QList<float>{1, 2, 3, 4, 5, 6} << QList<float>{1, 2, 3, 6, 4, 5} << 0.25
                                      << qint64{6} << 0.8285714285714285 << 1.0 / 3;
  }
  void hand_checked() {
    QFETCH(QList<float>, a);
    QFETCH(QList<float>, b);
    QFETCH(double, top);
    QFETCH(qint64, elements);
    QFETCH(double, spearman);
    QFETCH(double, jaccard);
    const Field fa = one_tensor({a.begin(), a.end()}), fb = one_tensor({b.begin(), b.end()});
    for (const auto& tuning : {in_memory(), histogram(1), histogram(2, 1)})
      for (int threads : {1, 2}) {
        const CriteriaComparison c = compare::compare_criteria(*fa, *fb, top, pool(threads), {}, tuning);
        for (const CriteriaAgreement* u : {&c.tensors.at(0), &c.overall}) {
          QCOMPARE(u->elements, elements);
          if (std::isnan(spearman))
            QVERIFY(std::isnan(u->spearman));
          else
            QVERIFY2(std::fabs(u->spearman - spearman) < 1e-12, QByteArray::number(u->spearman, 'g', 17).constData());
          if (std::isnan(jaccard))
            QVERIFY(std::isnan(u->topk_jaccard));
          else
            QVERIFY2(std::fabs(u->topk_jaccard - jaccard) < 1e-15, QByteArray::number(u->topk_jaccard).constData());
        }
        QCOMPARE(c.overall.name, std::string("(all)"));
      }
  }

  void reference_data() {
    QTest::addColumn<QString>("top");
    QTest::addColumn<compare::CompareTuning>("tuning");
    QTest::addColumn<int>("threads");
    for (const char* top : {"0.1", "0.3"})
      for (int threads : {1, 2}) {
        QTest::addRow("top %s in memory %dt", top, threads) << top << in_memory() << threads;
        QTest::addRow("top %s histograms chunk 777 %dt", top, threads) << top << histogram(777) << threads;
        QTest::addRow("top %s histograms chunk 64 %dt", top, threads) << top << histogram(64) << threads;
      }
  }
  void reference() {
    QFETCH(QString, top);
    QFETCH(compare::CompareTuning, tuning);
    QFETCH(int, threads);
    const QJsonObject want = ref().json["results"].toObject()[top].toObject();
    const CriteriaComparison c =
        compare::compare_criteria(*ref().a, *ref().b, top.toDouble(), pool(threads), {}, tuning);
    QCOMPARE(c.top_fraction, top.toDouble());
    const QJsonArray wt = want["tensors"].toArray(), wb = want["blocks"].toArray();
    QCOMPARE(c.tensors.size(), static_cast<std::size_t>(wt.size()));
    for (std::size_t i = 0; i < c.tensors.size(); ++i)
      check_unit(c.tensors[i], wt[static_cast<qsizetype>(i)].toObject(), true);
    QCOMPARE(c.blocks.size(), static_cast<std::size_t>(wb.size()));
    for (std::size_t i = 0; i < c.blocks.size(); ++i)
      check_unit(c.blocks[i], wb[static_cast<qsizetype>(i)].toObject(), true);
    check_unit(c.overall, want["overall"].toObject(), true);
  }

  void histogram_equals_memory_when_resolved() {
    // Bit-identical results (integer sums) whatever the path, chunking and thread count.
    const CriteriaComparison m = compare::compare_criteria(*ref().a, *ref().b, 0.1, pool(1), {}, in_memory());
    for (const auto& tuning : {histogram(1000), histogram(4099)})
      for (int threads : {1, 2}) {
        const CriteriaComparison h = compare::compare_criteria(*ref().a, *ref().b, 0.1, pool(threads), {}, tuning);
        for (std::size_t i = 0; i < m.tensors.size(); ++i) QVERIFY(identical(h.tensors[i], m.tensors[i]));
        for (std::size_t i = 0; i < m.blocks.size(); ++i) QVERIFY(identical(h.blocks[i], m.blocks[i]));
        QVERIFY(identical(h.overall, m.overall));
      }
  }

  void coarse_histograms_within_bound_data() {
    QTest::addColumn<qint64>("fine_bins");
    QTest::addColumn<int>("distribution");
    for (qint64 f : {64, 1024, 16384}) {
      QTest::addRow("uniform, %lld fine bins", static_cast<long long>(f)) << f << 0;
      QTest::addRow("normal, %lld fine bins", static_cast<long long>(f)) << f << 1;
    }
  }
  void coarse_histograms_within_bound() {
    // compare.h: with fine bins that cannot resolve every value, values sharing a fine bin get
    // its average rank; bins are sized to hold about n / fine_bins values, so the correlation
    // is off by about 1 / fine_bins at most (1e-6 for 2^20 bins). Check that bound and that
    // `exact` says so; Jaccard stays exact.
    QFETCH(qint64, fine_bins);
    QFETCH(int, distribution);
    std::mt19937 rng(12345);
    const std::size_t n = 200000;
    std::vector<float> a(n), b(n);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (std::size_t j = 0; j < n; ++j) {
      a[j] = distribution == 0 ? u(rng) : g(rng);
      b[j] = a[j] + 0.5f * (distribution == 0 ? u(rng) : g(rng));
    }
    const Field fa = one_tensor(a), fb = one_tensor(b);
    const CriteriaComparison exact = compare::compare_criteria(*fa, *fb, 0.1, pool(2), {}, in_memory());
    QVERIFY(exact.overall.exact);
    for (int threads : {1, 2}) {
      const CriteriaComparison h = compare::compare_criteria(*fa, *fb, 0.1, pool(threads), {}, {8192, 0, fine_bins});
      QVERIFY(!h.overall.exact);
      const double err = std::fabs(h.overall.spearman - exact.overall.spearman);
      qInfo("fine bins %lld: spearman %.15f exact %.15f error %.3g", static_cast<long long>(fine_bins),
            h.overall.spearman, exact.overall.spearman, err);
      QVERIFY2(err <= 1.0 / static_cast<double>(fine_bins), QByteArray::number(err).constData());
      QCOMPARE(h.overall.topk_jaccard, exact.overall.topk_jaccard);
      QCOMPARE(h.overall.elements, exact.overall.elements);
    }
  }

  void enough_fine_bins_is_exact() {
    // 4096 neighbouring floats above 1 (one first-level bin, a low-bit range of 4096): the
    // default fine bins resolve all of them, so the histogram ranks equal the sorted ones; 64
    // fine bins cannot, and say so. (Fine bins span a bin's low-bit range, not its distinct
    // values: few values spread over a wide range are not resolved.)
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> grid(0, 4095), noise(-300, 300);
    const std::size_t n = 150000;
    std::vector<float> a(n), b(n);
    for (std::size_t j = 0; j < n; ++j) {
      const int g = grid(rng);
      a[j] = 1.0f + std::ldexp(static_cast<float>(g), -23);
      b[j] = 1.0f + std::ldexp(static_cast<float>(std::clamp(g + noise(rng), 0, 4095)), -23);
    }
    const Field fa = one_tensor(a), fb = one_tensor(b);
    const CriteriaComparison exact = compare::compare_criteria(*fa, *fb, 0.1, pool(2), {}, in_memory());
    for (int threads : {1, 2}) {
      const CriteriaComparison full = compare::compare_criteria(*fa, *fb, 0.1, pool(threads), {}, histogram(5000));
      QVERIFY(full.overall.exact);
      QVERIFY(identical(full.overall, exact.overall));
      const CriteriaComparison coarse =
          compare::compare_criteria(*fa, *fb, 0.1, pool(threads), {}, histogram(5000, 64));
      QVERIFY(!coarse.overall.exact);
      QVERIFY(std::fabs(coarse.overall.spearman - exact.overall.spearman) <= 1.0 / 64);
      QVERIFY(coarse.overall.spearman != exact.overall.spearman);  // the coarsening is real
      QCOMPARE(coarse.overall.topk_jaccard, exact.overall.topk_jaccard);
    }
  }

  void block_names_and_order() {
    const CriteriaComparison c = compare_criteria(*ref().a, *ref().b, 0.1, pool(2));
    QStringList names;
    for (const auto& u : c.blocks) names << QString::fromStdString(u.name);
    // paramscope's Hierarchy gives the final norm a block of its own.
    QCOMPARE(names, (QStringList{"model.layers.0", "model.layers.1", "model.norm"}));
    std::int64_t sum = 0;
    for (const auto& u : c.tensors) sum += u.elements;
    QCOMPARE(c.overall.elements, sum);
  }

  void mismatched_fields_data() {
    QTest::addColumn<int>("which");
    QTest::newRow("tensor count") << 0;
    QTest::newRow("name") << 1;
    QTest::newRow("shape") << 2;
    QTest::newRow("top fraction above 1") << 3;
    QTest::newRow("top fraction negative") << 4;
    QTest::newRow("top fraction NaN") << 5;
  }
  void mismatched_fields() {
    QFETCH(int, which);
    const Field a = make_memory_score_field({"x", "y"}, {{2, 2}, {3}}, {{1, 2, 3, 4}, {1, 2, 3}});
    Field b = a;
    double top = 0.1;
    if (which == 0) b = make_memory_score_field({"x"}, {{2, 2}}, {{1, 2, 3, 4}});
    if (which == 1) b = make_memory_score_field({"x", "z"}, {{2, 2}, {3}}, {{1, 2, 3, 4}, {1, 2, 3}});
    if (which == 2) b = make_memory_score_field({"x", "y"}, {{4}, {3}}, {{1, 2, 3, 4}, {1, 2, 3}});
    if (which == 3) top = 1.5;
    if (which == 4) top = -0.1;
    if (which == 5) top = std::numeric_limits<double>::quiet_NaN();
    try {
      compare_criteria(*a, *b, top, pool(1));
      QFAIL("accepted");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
    }
  }

  void cancelled() {
    CancelToken cancel;
    cancel.cancel();
    for (const auto& tuning : {in_memory(), histogram(100)}) {
      try {
        compare::compare_criteria(*ref().a, *ref().b, 0.1, pool(2), {&cancel, {}}, tuning);
        QFAIL("not cancelled");
      } catch (const Error& e) {
        QCOMPARE(e.kind(), Error::Kind::Cancelled);
      }
    }
  }
};

QTEST_GUILESS_MAIN(TestCompare)
#include "test_compare.moc"
