// Criteria and reductions against values computed independently with numpy from the same
// checkpoint and from statistics gathered by running the model in torch
// (tests/tools/make_importance_reference.py).
#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "paramscope/writers.h"
#include "test_paths.h"

using namespace paramscope;

namespace {

struct Fixture {
  Checkpoint model = open_checkpoint(test::data("importance/model.safetensors"));
  Checkpoint base = open_checkpoint(test::data("importance/base.safetensors"));
  Checkpoint stats = open_checkpoint(test::data("importance/stats.safetensors"));
  Checkpoint general = open_checkpoint(test::data("importance/stats_general.safetensors"));
  QJsonObject expected = test::read_json(test::data("importance/expected.json"));
  CriterionInputs inputs() const { return {&base, &stats, &general, {}}; }
};

const Fixture& fx() {
  static const Fixture f;
  return f;
}

bool close(double got, const QJsonValue& want, double rel = 1e-9) {
  if (want.isNull()) return std::isnan(got);
  const double w = want.toDouble();
  return std::fabs(got - w) <= rel * std::max(1.0, std::fabs(w));
}

}  // namespace

class TestImportance : public QObject {
  Q_OBJECT
 private slots:
  void default_selection_matches_the_papers_set() {
    const auto idx = select_tensors(fx().model, {});
    const auto want = fx().expected["scored"].toArray();
    QCOMPARE(static_cast<qsizetype>(idx.size()), want.size());
    // The model file lists tensors by dtype then name; compare as sets.
    QStringList got, expect;
    for (auto i : idx) got << QString::fromStdString(fx().model.tensors()[i].name());
    for (const auto& v : want) expect << v.toString();
    got.sort();
    expect.sort();
    QCOMPARE(got, expect);
  }

  void element_scores_data() {
    QTest::addColumn<QString>("criterion");
    for (const auto& c : {"magnitude", "magnitude-sq", "delta", "wanda", "taylor", "fisher", "obd"})
      QTest::newRow(c) << c;
  }
  void element_scores() {
    QFETCH(QString, criterion);
    const auto& f = fx();
    const auto want = f.expected["criteria"].toObject()[criterion].toObject()["tensors"].toObject();
    const auto idx = select_tensors(f.model, {});
    const auto field =
        make_score_field(f.model, idx, CriterionRegistry::builtin().get(criterion.toStdString()), f.inputs());
    for (std::size_t i = 0; i < field->size(); ++i) {
      const auto& t = field->tensors()[i];
      const auto first = want[QString::fromStdString(t.name)].toObject()["first"].toArray();
      std::vector<float> got(static_cast<std::size_t>(first.size()));
      field->scores(i, 0, got);
      for (qsizetype j = 0; j < first.size(); ++j) {
        if (first[j].isString())
          QVERIFY2(std::isnan(got[static_cast<std::size_t>(j)]), t.name.c_str());
        else
          QCOMPARE(got[static_cast<std::size_t>(j)], static_cast<float>(first[j].toDouble()));  // bit-exact in float32
      }
    }
  }

  // Wanda's norms broadcast against the weight's first two axes: [in] for [out, in] weights,
  // [d0, 1] for input-major ones (ONNX MatMul), [d0, d1] for grouped convolutions. Weight
  // w = [[1, -2, 3], [-4, 5, -6]] (or the same six values as a conv weight [2, 1, 3]).
  void wanda_norm_layouts_data() {
    QTest::addColumn<std::vector<std::int64_t>>("weight_shape");
    QTest::addColumn<std::vector<std::int64_t>>("norm_shape");
    QTest::addColumn<std::vector<float>>("norms");
    QTest::addColumn<std::vector<float>>("expected");
    QTest::newRow("[in]") << std::vector<std::int64_t>{2, 3} << std::vector<std::int64_t>{3}
                          << std::vector<float>{1, 2, 3} << std::vector<float>{1, 4, 9, 4, 10, 18};
    QTest::newRow("[d0, 1]") << std::vector<std::int64_t>{2, 3} << std::vector<std::int64_t>{2, 1}
                             << std::vector<float>{10, 100} << std::vector<float>{10, 20, 30, 400, 500, 600};
    QTest::newRow("[d0, d1]") << std::vector<std::int64_t>{2, 3} << std::vector<std::int64_t>{2, 3}
                              << std::vector<float>{1, 1, 1, 2, 2, 3}
                              << std::vector<float>{1, 2, 3, 8, 10, 18};
    // A conv weight [2, 1, 3] (kernel taps inner): the norm of row o applies to its three taps.
    QTest::newRow("conv [d0, d1]") << std::vector<std::int64_t>{2, 1, 3} << std::vector<std::int64_t>{2, 1}
                                   << std::vector<float>{2, 3} << std::vector<float>{2, 4, 6, 12, 15, 18};
  }
  void wanda_norm_layouts() {
    QFETCH(std::vector<std::int64_t>, weight_shape);
    QFETCH(std::vector<std::int64_t>, norm_shape);
    QFETCH(std::vector<float>, norms);
    QFETCH(std::vector<float>, expected);
    QTemporaryDir dir;
    const std::vector<float> w{1, -2, 3, -4, 5, -6};
    const std::string model = dir.filePath("w.safetensors").toStdString(), stats = dir.filePath("s.safetensors").toStdString();
    write_safetensors(model, {TensorToWrite::from_floats("layer.weight", DType::F32, weight_shape, w)});
    write_safetensors(stats, {TensorToWrite::from_floats("layer.weight@act_l2", DType::F32, norm_shape, norms)});
    const Checkpoint m = open_checkpoint(model), st = open_checkpoint(stats);
    const auto field = make_score_field(m, {0}, CriterionRegistry::builtin().get("wanda"), {nullptr, &st, nullptr, {}});
    std::vector<float> got(6);
    field->scores(0, 0, got);
    QCOMPARE(got, expected);
    std::vector<float> tail(2);  // from an offset inside a row
    field->scores(0, 4, tail);
    QCOMPARE(tail, std::vector<float>(expected.begin() + 4, expected.end()));
  }

  void reductions_data() {
    QTest::addColumn<QString>("criterion");
    QTest::addColumn<QString>("granularity");
    QTest::addColumn<QString>("reduction");
    for (const auto& c : {"magnitude", "wanda", "obd", "delta"})
      for (const auto& g : {"row", "column", "head", "tensor"})
        for (const auto& r : {"sum", "mean", "max", "l2"})
          QTest::newRow(qPrintable(QString("%1 %2 %3").arg(c, g, r))) << c << g << r;
  }
  void reductions() {
    QFETCH(QString, criterion);
    QFETCH(QString, granularity);
    QFETCH(QString, reduction);
    const auto& f = fx();
    const auto want = f.expected["criteria"].toObject()[criterion].toObject();
    const auto idx = select_tensors(f.model, {});
    const auto field =
        make_score_field(f.model, idx, CriterionRegistry::builtin().get(criterion.toStdString()), f.inputs());
    ThreadPool pool(2);
    const auto maps =
        reduce_scores(*field, parse_granularity(granularity.toStdString()), parse_reduction(reduction.toStdString()),
                      HeadConfig::from_checkpoint(f.model), pool);
    int checked = 0;
    for (const auto& m : maps.maps) {
      const auto t = want["tensors"].toObject()[QString::fromStdString(m.name)].toObject();
      QVERIFY2(t.contains(granularity), m.name.c_str());  // a map exists only where numpy made one
      const auto values = t[granularity].toObject()[reduction].toArray();
      QCOMPARE(static_cast<qsizetype>(m.values.size()), values.size());
      for (qsizetype j = 0; j < values.size(); ++j)
        QVERIFY2(close(m.values[static_cast<std::size_t>(j)], values[j], 1e-6),
                 qPrintable(QString("%1[%2]: %3 vs %4")
                                .arg(QString::fromStdString(m.name))
                                .arg(j)
                                .arg(m.values[static_cast<std::size_t>(j)])
                                .arg(values[j].toDouble())));
      ++checked;
    }
    if (granularity == "head") {
      QCOMPARE(checked, 4);  // q, k, v, o of the one layer; the rest are listed as skipped
      QCOMPARE(maps.skipped.size(), std::size_t{5});
    } else {
      QCOMPARE(checked, 9);
    }
    // Block summary of model.layers.0 (all its scored tensors together), in double precision.
    const auto block = want["block_layer0"].toObject();
    bool found = false;
    for (const auto& b : maps.blocks)
      if (b.name == "model.layers.0") {
        found = true;
        QVERIFY(close(b.sum, block["sum"].toArray()[0]));
        QVERIFY(close(b.mean, block["mean"].toArray()[0]));
        QVERIFY(close(b.max, block["max"].toArray()[0]));
        QVERIFY(close(b.l2, block["l2"].toArray()[0]));
        QCOMPARE(b.count, std::int64_t{64 * 4 + 96 * 3 - 1});  // 4 attention + 3 MLP matrices, one NaN left out
      }
    QVERIFY(found);
  }

  void same_result_on_any_thread_count() {
    const auto& f = fx();
    const auto idx = select_tensors(f.model, {});
    const auto field = make_score_field(f.model, idx, CriterionRegistry::builtin().get("wanda"), f.inputs());
    ThreadPool one(1), two(2);
    const auto a = reduce_scores(*field, Granularity::Column, Reduction::L2, {}, one);
    const auto b = reduce_scores(*field, Granularity::Column, Reduction::L2, {}, two);
    QCOMPARE(a.maps.size(), b.maps.size());
    for (std::size_t i = 0; i < a.maps.size(); ++i) QCOMPARE(a.maps[i].values, b.maps[i].values);
  }

  void contrast_data() {
    QTest::addColumn<QString>("mode");
    QTest::newRow("ratio") << "ratio";
    QTest::newRow("topk per row") << "topk";
  }
  void contrast() {
    QFETCH(QString, mode);
    const auto& f = fx();
    auto in = f.inputs();
    in.params = {{"mode", mode.toStdString()}, {"top", "0.25"}};
    const auto idx = select_tensors(f.model, {});
    const auto field = make_score_field(f.model, idx, CriterionRegistry::builtin().get("contrast"), in);
    const auto want = f.expected["contrast"].toObject();
    for (std::size_t i = 0; i < field->size(); ++i) {
      const auto& t = field->tensors()[i];
      std::vector<float> s(static_cast<std::size_t>(t.numel));
      field->scores(i, 0, s);
      double sum = 0;
      int nonzero = 0;
      for (float x : s)
        if (!std::isnan(x)) sum += x, nonzero += x != 0;
      const auto w = want[QString::fromStdString(t.name)].toObject();
      if (mode == "ratio") {
        QVERIFY2(close(sum, w["ratio_sum"], 1e-6), t.name.c_str());
      } else {
        QVERIFY2(close(sum, w["topk_sum"], 1e-6), t.name.c_str());
        QCOMPARE(nonzero, w["topk_nonzero"].toInt());
      }
    }
  }

  void matrix_criteria() {
    const auto& f = fx();
    const auto idx = select_tensors(f.model, {});
    ThreadPool pool(2);
    const auto want = f.expected["matrix"].toObject();
    const auto norms =
        matrix_scores(f.model, idx, CriterionRegistry::builtin().get("weight-norm"), {}, Reduction::L2, pool);
    const auto frob =
        matrix_scores(f.model, idx, CriterionRegistry::builtin().get("frobenius"), {}, Reduction::Mean, pool);
    CriterionInputs with_base;
    with_base.base = &f.base;
    const auto delta =
        matrix_scores(f.model, idx, CriterionRegistry::builtin().get("frobenius"), with_base, Reduction::Mean, pool);
    for (std::size_t k = 0; k < idx.size(); ++k) {
      const auto w = want[QString::fromStdString(norms.maps[k].name)].toObject();
      QVERIFY(close(norms.maps[k].values[0], w["weight-norm"], 1e-6));
      QVERIFY(close(frob.maps[k].values[0], w["frobenius"], 1e-6));
      QVERIFY(close(delta.maps[k].values[0], w["frobenius_delta"], 1e-6));
    }
  }

  void clear_errors_data() {
    QTest::addColumn<QString>("criterion");
    QTest::addColumn<bool>("with_stats");
    QTest::addColumn<QString>("message");
    QTest::newRow("wanda without stats") << "wanda" << false << "needs a statistics file (--stats)";
    QTest::newRow("delta without base") << "delta" << false << "needs a base checkpoint (--base)";
    QTest::newRow("spectral per weight") << "stable-rank" << true << "use --granularity tensor or block";
    QTest::newRow("unknown") << "magnitud" << true << "unknown criterion 'magnitud' (known: magnitude";
  }
  void clear_errors() {
    QFETCH(QString, criterion);
    QFETCH(bool, with_stats);
    QFETCH(QString, message);
    const auto& f = fx();
    CriterionInputs in;
    if (with_stats) in.stats = &f.stats;
    try {
      const auto idx = select_tensors(f.model, {});
      make_score_field(f.model, idx, CriterionRegistry::builtin().get(criterion.toStdString()), in);
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY2(QString(e.what()).contains(message), e.what());
    }
  }

  void registry_documents_every_criterion() {
    const auto all = CriterionRegistry::builtin().all();
    QCOMPARE(all.size(), std::size_t{15});
    for (const Criterion* c : all) {
      QVERIFY2(!c->info().formula.empty(), c->info().name.c_str());
      QVERIFY2(!c->info().source.empty(), c->info().name.c_str());
    }
  }
};

QTEST_GUILESS_MAIN(TestImportance)
#include "test_importance.moc"
