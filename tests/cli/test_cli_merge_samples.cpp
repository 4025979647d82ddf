// paramscope-cli merge on the bundled digit fine-tunes (resources/samples/digits-merge/) with their
// recipes, against numpy references of the same formulas (tests/tools/make_merge_sample_reference.py,
// tests/data/merge-samples/): every merged tensor within 1 ulp of float32, the entries each model
// keeps and the sign conflicts exactly. DARE's drop cannot be reproduced in numpy, so dare_ties is
// checked by its keep rate and by every entry being the base plus a kept delta rescaled by 1/density.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <set>

#include "cli_run.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

fs::path sample(const std::string& rel) {
  return test::samples_dir() / "digits-merge" / rel;
}

QJsonObject recipe_reference(const QString& recipe) {
  return test::read_json(test::data("merge-samples/reference.json"))["recipes"].toObject()[recipe].toObject();
}

// Distance in representable float32 values (0 and -0 are equal; NaN is never close).
std::int64_t ulps(float a, float b) {
  if (a == b) return 0;
  if (std::isnan(a) || std::isnan(b)) return std::int64_t{1} << 40;
  const auto key = [](float f) {
    std::uint32_t u = 0;
    std::memcpy(&u, &f, sizeof u);
    const std::int64_t m = u & 0x7fffffffu;
    return (u >> 31) ? -m : m;
  };
  return std::llabs(key(a) - key(b));
}

struct CliMerge {
  QJsonObject summary;  // --json
  QJsonObject tensor(const QString& name) const {
    for (const auto& t : summary["tensors"].toArray())
      if (t.toObject()["name"].toString() == name) return t.toObject();
    return {};
  }
};

std::vector<std::int64_t> ints(const QJsonArray& a) {
  std::vector<std::int64_t> v;
  for (const auto& e : a) v.push_back(static_cast<std::int64_t>(e.toDouble()));
  return v;
}

// |count - p n| within 5 binomial standard deviations (and 1 for rounding).
bool near_rate(std::int64_t count, std::int64_t n, double p) {
  const double nd = static_cast<double>(n);
  return std::fabs(static_cast<double>(count) - p * nd) <= 5 * std::sqrt(nd * p * (1 - p)) + 1;
}

}  // namespace

class TestCliMergeSamples : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  CliMerge run(const QString& recipe, const QString& out, const QString& seed = "1") {
    const auto r = test::run_cli({"merge", QString::fromStdString(sample(recipe.toStdString() + ".yaml").string()),
                                  "-o", out, "--json", "--seed", seed});
    if (r.code != 0) qWarning("%s", r.err.constData());
    return {r.code == 0 ? QJsonDocument::fromJson(r.out).object() : QJsonObject{}};
  }

 private slots:
  void initTestCase() { QVERIFY(tmp_.isValid()); }

  void matches_numpy_reference_data() {
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<QString>("method");
    QTest::newRow("linear") << "linear" << "linear";
    QTest::newRow("task_arithmetic") << "task_arithmetic" << "task_arithmetic";
    QTest::newRow("ties") << "ties" << "ties";
  }

  // Every tensor of the CLI's merge equals numpy's within 1 ulp; kept counts and conflicts exactly.
  void matches_numpy_reference() {
    QFETCH(QString, recipe);
    QFETCH(QString, method);
    const QJsonObject ref = recipe_reference(recipe);
    QCOMPARE(ref["method"].toString(), method);
    const QString out = tmp_.filePath(recipe);
    const CliMerge m = run(recipe, out);
    QCOMPARE(m.summary["method"].toString(), method);
    QVERIFY(fs::exists(fs::path(out.toStdString()) / "config.json"));

    const Checkpoint got = open_checkpoint(out.toStdString());
    const Checkpoint want = open_checkpoint(test::data("merge-samples/" + ref["file"].toString().toStdString()));
    QCOMPARE(got.tensors().size(), want.tensors().size());
    std::int64_t compared = 0, worst = 0, exact = 0;
    for (const Tensor& w : want.tensors()) {
      const Tensor* g = got.find(w.name());
      QVERIFY2(g, w.name().c_str());
      QCOMPARE(g->dtype(), w.dtype());
      QCOMPARE(g->shape(), w.shape());
      const auto gv = g->to_f32(), wv = w.to_f32();
      for (std::size_t i = 0; i < wv.size(); ++i) {
        const std::int64_t d = ulps(gv[i], wv[i]);
        if (d > 1) QFAIL(qPrintable(QString("%1[%2]: %3, numpy %4 (%5 ulp)")
                                        .arg(QString::fromStdString(w.name()))
                                        .arg(i)
                                        .arg(gv[i], 0, 'g', 9)
                                        .arg(wv[i], 0, 'g', 9)
                                        .arg(d)));
        worst = std::max(worst, d);
        exact += d == 0;
        ++compared;
      }
    }
    QCOMPARE(compared, std::int64_t{38476});  // every value of the digits CNN
    qInfo("%s: %lld values, %lld bit-exact, worst %lld ulp", qPrintable(recipe), static_cast<long long>(compared),
          static_cast<long long>(exact), static_cast<long long>(worst));

    // What the summary says each model kept, and the conflicts, as numpy counts them.
    for (const auto& e : ref["tensors"].toArray()) {
      const QJsonObject t = e.toObject();
      const QJsonObject c = m.tensor(t["name"].toString());
      QCOMPARE(c["numel"].toInt(), t["numel"].toInt());
      QCOMPARE(c["copied"].toBool(), t["copied"].toBool());
      if (t["copied"].toBool()) continue;
      QCOMPARE(ints(c["kept"].toArray()), ints(t["kept"].toArray()));
      QCOMPARE(c["sign_conflicts"].toInt(), t["sign_conflicts"].toInt());
    }
  }

  void dare_keeps_and_rescales_data() {
    QTest::addColumn<QString>("seed");
    QTest::newRow("seed 1") << "1";
    QTest::newRow("seed 2") << "2";
  }

  // dare_ties: each model keeps a `density` fraction (binomial, 5 sigma) and every merged entry is
  // base + lambda * (the sum of the kept, sign-agreeing deltas, each divided by its density).
  void dare_keeps_and_rescales() {
    QFETCH(QString, seed);
    const QJsonObject ref = recipe_reference("dare_ties");
    QCOMPARE(ref["method"].toString(), QString("dare_ties"));
    QVERIFY(ref["rescale"].toBool());
    QVERIFY(!ref["normalize"].toBool());
    const double lambda = ref["lambda"].toDouble();
    std::vector<double> w, d;
    for (const auto& p : ref["model_parameters"].toArray()) {
      w.push_back(p.toObject()["weight"].toDouble());
      d.push_back(p.toObject()["density"].toDouble());
    }
    QCOMPARE(w.size(), std::size_t{2});
    QVERIFY(d[0] < 1 && d[1] < 1);

    const QString out = tmp_.filePath("dare_ties-" + seed);
    const CliMerge m = run("dare_ties", out, seed);
    QCOMPARE(m.summary["method"].toString(), QString("dare_ties"));
    const Checkpoint merged = open_checkpoint(out.toStdString());
    const Checkpoint base = open_checkpoint(sample("base"));
    std::vector<Checkpoint> fts;
    for (const auto& name : ref["models"].toArray()) fts.push_back(open_checkpoint(sample(name.toString().toStdString())));

    std::vector<std::int64_t> kept_total(2, 0);
    std::int64_t float_total = 0, distinct = 0, unchanged = 0, moved = 0, rescaled = 0;
    for (const auto& e : ref["tensors"].toArray()) {
      const QJsonObject t = e.toObject();
      const std::string name = t["name"].toString().toStdString();
      const QJsonObject c = m.tensor(t["name"].toString());
      const auto mv = merged.at(name).to_f32(), bv = base.at(name).to_f32();
      if (t["copied"].toBool()) {
        QVERIFY(c["copied"].toBool());
        QCOMPARE(mv, bv);
        continue;
      }
      const auto n = static_cast<std::int64_t>(bv.size());
      const auto kept = ints(c["kept"].toArray());
      for (std::size_t i = 0; i < 2; ++i) {
        QVERIFY2(near_rate(kept[i], n, d[i]), name.c_str());
        kept_total[i] += kept[i];
      }
      float_total += n;
      const auto av = fts[0].at(name).to_f32(), ov = fts[1].at(name).to_f32();
      for (std::size_t j = 0; j < bv.size(); ++j) {
        // The outcomes TIES' election allows: nothing kept, one model, or both when they agree.
        const double ta = static_cast<double>(av[j] - bv[j]) * w[0] / d[0];
        const double tb = static_cast<double>(ov[j] - bv[j]) * w[1] / d[1];
        const auto value = [&](double delta) { return static_cast<float>(bv[j] + lambda * delta); };
        std::vector<float> outcomes = {bv[j], value(ta), value(tb)};
        if ((ta > 0 && tb > 0) || (ta < 0 && tb < 0)) outcomes.push_back(value(ta + tb));
        bool match = false;
        for (const float o : outcomes) match = match || ulps(mv[j], o) <= 1;
        if (!match)
          QFAIL(qPrintable(QString("%1[%2]: %3 is not base + a rescaled kept delta")
                               .arg(t["name"].toString())
                               .arg(j)
                               .arg(mv[j], 0, 'g', 9)));
        // Where both rescaled deltas move the value, an unchanged entry means both were dropped.
        if (ulps(value(ta), bv[j]) > 2 && ulps(value(tb), bv[j]) > 2) {
          ++distinct;
          unchanged += mv[j] == bv[j];
        }
        // A moved entry should not also be what the drop without the 1/density factor gives.
        if (mv[j] != bv[j]) {
          ++moved;
          const float plain_a = value(ta * d[0]), plain_b = value(tb * d[1]), plain = value(ta * d[0] + tb * d[1]);
          rescaled += ulps(mv[j], plain_a) > 1 && ulps(mv[j], plain_b) > 1 && ulps(mv[j], plain) > 1;
        }
      }
    }
    QCOMPARE(float_total, std::int64_t{38474});
    QCOMPARE(ints(m.summary["kept"].toArray()), kept_total);
    for (std::size_t i = 0; i < 2; ++i) QVERIFY(near_rate(kept_total[i], float_total, d[i]));
    // The drops of the two models are independent: both dropped with (1 - d_a)(1 - d_b).
    QVERIFY(distinct > float_total / 2);
    QVERIFY2(near_rate(unchanged, distinct, (1 - d[0]) * (1 - d[1])),
             qPrintable(QString("%1 of %2 unchanged").arg(unchanged).arg(distinct)));
    // The rescale is seen: nearly every moved entry differs from the unscaled kept deltas.
    QVERIFY2(static_cast<double>(rescaled) >= 0.9 * static_cast<double>(moved),
             qPrintable(QString("%1 of %2 moved entries rescaled").arg(rescaled).arg(moved)));
    qInfo("seed %s: kept %.4f / %.4f (density %.2f / %.2f), both dropped %.4f of %lld", qPrintable(seed),
          static_cast<double>(kept_total[0]) / static_cast<double>(float_total),
          static_cast<double>(kept_total[1]) / static_cast<double>(float_total), d[0], d[1],
          static_cast<double>(unchanged) / static_cast<double>(distinct), static_cast<long long>(distinct));
  }
};

QTEST_GUILESS_MAIN(TestCliMergeSamples)
#include "test_cli_merge_samples.moc"
