// Merge methods (paramscope/merge.h): hand-computed small cases (sign ties, sum vs count, zero
// deltas, density 0 and 1, top-k boundary ties, breadcrumbs windows, lambda, magnitude_prune, PCB,
// importance-weighted), DARE's keep rate and rescale with a fixed seed, numpy references from
// tests/tools/make_merge_reference.py (mergekit's, PEFT's and the PCB authors' formulas), per-tensor
// settings (filters, gradients, layer fractions), the streamed merge against the in-memory one,
// and alignment / parameter errors.
#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

#include <cmath>
#include <map>

#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/merge.h"
#include "paramscope/writers.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

using Floats = std::vector<float>;
using FloatsList = std::vector<std::vector<float>>;
using ParamsList = std::vector<MergeModelParams>;
using Counts = std::vector<std::int64_t>;
Q_DECLARE_METATYPE(Floats)
Q_DECLARE_METATYPE(FloatsList)
Q_DECLARE_METATYPE(ParamsList)
Q_DECLARE_METATYPE(Counts)
Q_DECLARE_METATYPE(MergeSetting)

namespace {

MergeModelParams mp(double weight, double density = 1.0, double gamma = 0.01) {
  MergeModelParams p;
  p.weight = weight;
  p.density = density;
  p.gamma = gamma;
  return p;
}

Floats run(const MergeParams& params, const Floats& base, const FloatsList& models, const ParamsList& p,
           MergedTensorStats* stats = nullptr, std::string_view name = "t") {
  std::vector<std::span<const float>> spans;
  for (const auto& m : models) spans.emplace_back(m);
  return merge_tensor_values(params, name, base, spans, p, stats);
}

Floats add(const Floats& base, const Floats& delta) {
  Floats r = base;
  for (std::size_t i = 0; i < r.size(); ++i) r[i] += delta[i];
  return r;
}

const MergedTensorStats& stats_of(const MergeSummary& s, const std::string& name) {
  for (const auto& t : s.tensors)
    if (t.name == name) return t;
  qFatal("no stats for %s", name.c_str());
}

void write_model(const fs::path& path, const std::vector<std::pair<std::string, Floats>>& tensors,
                 const std::vector<Shape>& shapes) {
  std::vector<TensorToWrite> w;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    w.push_back(TensorToWrite::from_floats(tensors[i].first, DType::F32, shapes[i], tensors[i].second));
  write_safetensors(path, w);
}

}  // namespace

class TestMerge : public QObject {
  Q_OBJECT

 private slots:
  void hand_computed_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<int>("normalize");  // -1: the method's default
    QTest::addColumn<double>("lambda");
    QTest::addColumn<QString>("consensus");  // "" default, "sum", "count"
    QTest::addColumn<Floats>("base");
    QTest::addColumn<FloatsList>("deltas");
    QTest::addColumn<ParamsList>("params");
    QTest::addColumn<Floats>("expected");
    QTest::addColumn<Counts>("kept");

    const Floats b3 = {1, 2, 3};
    QTest::newRow("linear normalized") << "linear" << -1 << 1.0 << "" << Floats{} << FloatsList{{1, 2, 3}, {3, 6, 9}}
                                       << ParamsList{mp(3), mp(1)} << Floats{1.5, 3, 4.5} << Counts{3, 3};
    QTest::newRow("linear raw") << "linear" << 0 << 1.0 << "" << Floats{} << FloatsList{{1, 2, 3}, {3, 6, 9}}
                                << ParamsList{mp(0.5), mp(0.5)} << Floats{2, 4, 6} << Counts{3, 3};
    QTest::newRow("task arithmetic lambda")
        << "task_arithmetic" << -1 << 0.5 << "" << b3 << FloatsList{{1, 2, 0}, {1, -2, 4}} << ParamsList{mp(1), mp(0.5)}
        << add(b3, {0.75, 0.5, 1}) << Counts{3, 3};
    QTest::newRow("task arithmetic normalized")
        << "task_arithmetic" << 1 << 1.0 << "" << b3 << FloatsList{{1, 2, 0}, {1, -2, 4}} << ParamsList{mp(3), mp(1)}
        << add(b3, {1, 1, 1}) << Counts{3, 3};
    QTest::newRow("zero deltas") << "ties" << -1 << 1.0 << "" << b3 << FloatsList{{0, 0, 0}, {0, 0, 0}}
                                 << ParamsList{mp(1, 0.5), mp(1, 0.5)} << b3 << Counts{1, 1};
    // Votes sum to 0: + is elected; only the positive entries are averaged.
    QTest::newRow("sign tie elects +") << "ties" << -1 << 1.0 << "" << b3 << FloatsList{{1, -1, 0}, {-1, 1, 0}}
                                       << ParamsList{mp(1), mp(1)} << add(b3, {1, 1, 0}) << Counts{3, 3};
    // Sum elects + (3 - 1 - 1 > 0), count elects - (two negatives).
    QTest::newRow("sum consensus") << "ties" << -1 << 1.0 << "sum" << Floats{0} << FloatsList{{3}, {-1}, {-1}}
                                   << ParamsList{mp(1), mp(1), mp(1)} << Floats{3} << Counts{1, 1, 1};
    QTest::newRow("count consensus") << "ties" << -1 << 1.0 << "count" << Floats{0} << FloatsList{{3}, {-1}, {-1}}
                                     << ParamsList{mp(1), mp(1), mp(1)} << Floats{-1} << Counts{1, 1, 1};
    // Weights enter the vote and the divisor: 2*(+1) vs 1*(-3): - wins, divided by its weight 1.
    QTest::newRow("weighted vote") << "ties" << -1 << 1.0 << "" << Floats{0} << FloatsList{{1}, {-3}}
                                   << ParamsList{mp(2), mp(1)} << Floats{-3} << Counts{1, 1};
    QTest::newRow("ties density 0") << "ties" << -1 << 1.0 << "" << b3 << FloatsList{{1, 2, 3}, {4, 5, 6}}
                                    << ParamsList{mp(1, 0), mp(1, 0)} << b3 << Counts{0, 0};
    QTest::newRow("ties density 1") << "ties" << -1 << 1.0 << "" << b3 << FloatsList{{1, 2, -3}, {3, 2, 1}}
                                    << ParamsList{mp(1, 1), mp(1, 1)} << add(b3, {2, 2, -3}) << Counts{3, 3};
    // k = int(0.4 * 5) = 2 of |tau| = 1 2 2 2 .5: the first two of the tied 2s by index.
    const Floats b5 = {0, 0, 0, 0, 0};
    QTest::newRow("top-k boundary ties") << "ties" << -1 << 1.0 << "" << b5 << FloatsList{{1, 2, -2, 2, 0.5}}
                                         << ParamsList{mp(1, 0.4)} << Floats{0, 2, -2, 0, 0} << Counts{2};
    QTest::newRow("top-k 60%") << "ties" << -1 << 1.0 << "" << b5 << FloatsList{{1, 2, -2, 2, 0.5}}
                               << ParamsList{mp(1, 0.6)} << Floats{0, 2, -2, 2, 0} << Counts{3};
    // n = 10, density .5, gamma .1: drop the largest 1 and the smallest 4, keep ranks 1..5.
    const Floats b10(10, 0.0f);
    const Floats t10 = {5, -4, 3, 2, -1, 0.5, 0.25, 0.1, 0.05, 0.01};
    QTest::newRow("breadcrumbs") << "breadcrumbs" << -1 << 1.0 << "" << b10 << FloatsList{t10}
                                 << ParamsList{mp(1, 0.5, 0.1)} << Floats{0, -4, 3, 2, -1, 0.5, 0, 0, 0, 0}
                                 << Counts{5};
    // density .8 + gamma .3 > 1: only 2 of the largest are dropped so that 8 stay.
    QTest::newRow("breadcrumbs n_bot < 0")
        << "breadcrumbs" << -1 << 1.0 << "" << b10 << FloatsList{t10} << ParamsList{mp(1, 0.8, 0.3)}
        << Floats{0, 0, 3, 2, -1, 0.5, 0.25, 0.1, 0.05, 0.01} << Counts{8};
    QTest::newRow("breadcrumbs density 1")
        << "breadcrumbs" << -1 << 1.0 << "" << b10 << FloatsList{t10} << ParamsList{mp(1, 1, 0.1)} << t10 << Counts{10};
    // magnitude_prune: TIES' trim without the election; opposite signs add up (no normalize).
    QTest::newRow("magnitude_prune") << "magnitude_prune" << -1 << 1.0 << "" << b5
                                     << FloatsList{{1, 2, -2, 2, 0.5}, {-3, 1, 1, 0, 0}}
                                     << ParamsList{mp(1, 0.4), mp(0.5, 0.2)} << Floats{-1.5, 2, -2, 0, 0}
                                     << Counts{2, 1};
    QTest::newRow("magnitude_prune normalized lambda")
        << "magnitude_prune" << 1 << 2.0 << "" << b5 << FloatsList{{1, 2, -2, 2, 0.5}, {-3, 1, 1, 0, 0}}
        << ParamsList{mp(1, 0.4), mp(0.5, 0.2)} << Floats{-2, 8.0f / 3, -8.0f / 3, 0, 0} << Counts{2, 1};
    // breadcrumbs_ties on two models: trims, then the sign election.
    QTest::newRow("breadcrumbs_ties") << "breadcrumbs_ties" << -1 << 1.0 << "" << b10
                                      << FloatsList{t10, {-5, 4, -3, -2, 1, -0.5, 0.25, 0.1, 0.05, 0.01}}
                                      << ParamsList{mp(1, 0.5, 0.1), mp(1, 0.5, 0.1)}
                                      << Floats{0, 4, 3, 2, 1, 0.5, 0, 0, 0, 0} << Counts{5, 5};
  }

  void hand_computed() {
    QFETCH(QString, method);
    QFETCH(int, normalize);
    QFETCH(double, lambda);
    QFETCH(QString, consensus);
    QFETCH(Floats, base);
    QFETCH(FloatsList, deltas);
    QFETCH(ParamsList, params);
    QFETCH(Floats, expected);
    QFETCH(Counts, kept);
    const auto m = merge_method_from_name(method.toStdString());
    QVERIFY(m);
    MergeParams p = default_merge_params(*m);
    if (normalize >= 0) p.normalize = normalize != 0;
    p.lambda = lambda;
    if (consensus == "count") p.consensus = SignConsensus::Count;
    FloatsList models;
    for (const auto& d : deltas) models.push_back(base.empty() ? d : add(base, d));
    MergedTensorStats stats;
    const Floats got = run(p, base, models, params, &stats);
    QCOMPARE(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      QVERIFY2(std::fabs(got[i] - expected[i]) <= 1e-6f,
               qPrintable(QString("element %1: %2 != %3").arg(i).arg(got[i]).arg(expected[i])));
    QCOMPARE(stats.kept, kept);
  }

  void breadcrumbs_ties_elects_on_trimmed() {
    // Kept ranks 1..5 of each: model 1 keeps -4 3 2 -1 .5 (indices 1-5), model 2 keeps 4 -3 -2 1 -.5:
    // they cancel entry by entry, the vote ties, + is elected and only the positive one counts
    // (normalize is off for breadcrumbs_ties, so the positive value itself is added).
    MergeParams p = default_merge_params(MergeMethod::BreadcrumbsTies);
    p.normalize = true;
    const Floats b(10, 0.0f);
    const Floats a = {5, -4, 3, 2, -1, 0.5, 0.25, 0.1, 0.05, 0.01};
    const Floats c = {-5, 4, -3, -2, 1, -0.5, 0.25, 0.1, 0.05, 0.01};
    MergedTensorStats s;
    const Floats got = run(p, b, {a, c}, {mp(1, 0.5, 0.1), mp(1, 0.5, 0.1)}, &s);
    const Floats want = {0, 4, 3, 2, 1, 0.5, 0, 0, 0, 0};
    for (std::size_t i = 0; i < want.size(); ++i) QCOMPARE(got[i], want[i]);
    QCOMPARE(s.sign_conflicts, std::int64_t{5});
    QCOMPARE(s.contributed, (Counts{3, 2}));
  }

  void dare_rescale_and_keep_rate_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<double>("density");
    QTest::addColumn<quint64>("seed");
    QTest::newRow("dare_linear .3") << "dare_linear" << 0.3 << quint64{7};
    QTest::newRow("dare_linear .9") << "dare_linear" << 0.9 << quint64{1234};
    QTest::newRow("dare_ties .5") << "dare_ties" << 0.5 << quint64{0};
  }

  void dare_rescale_and_keep_rate() {
    QFETCH(QString, method);
    QFETCH(double, density);
    QFETCH(quint64, seed);
    const std::size_t n = 200000;
    Floats base(n), x(n);
    for (std::size_t i = 0; i < n; ++i) {
      base[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i)));
      x[i] = base[i] + 0.01f * static_cast<float>(1 + (i % 7));  // all deltas positive: no sign conflicts
    }
    MergeParams p = default_merge_params(*merge_method_from_name(method.toStdString()));
    p.seed = seed;
    MergedTensorStats s;
    const Floats got = run(p, base, {x}, {mp(1, density)}, &s, "layer.weight");
    std::int64_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool keep = dare_keep(seed, 0, "layer.weight", static_cast<std::int64_t>(i), density);
      kept += keep;
      const float tau = x[i] - base[i];
      const float want = keep ? base[i] + tau / static_cast<float>(density) : base[i];
      QVERIFY2(std::fabs(got[i] - want) <= 1e-6f * std::max(1.0f, std::fabs(want)), qPrintable(QString::number(i)));
    }
    QCOMPARE(s.kept[0], kept);
    // Binomial(n, density): 5 standard deviations.
    const double sd = std::sqrt(static_cast<double>(n) * density * (1 - density));
    QVERIFY(std::fabs(static_cast<double>(kept) - density * static_cast<double>(n)) < 5 * sd);
    // Another seed, model index or tensor name draws differently.
    int differ = 0;
    for (std::int64_t i = 0; i < 1000; ++i)
      differ += dare_keep(seed, 0, "layer.weight", i, density) != dare_keep(seed + 1, 0, "layer.weight", i, density);
    QVERIFY(differ > 0);
    differ = 0;
    for (std::int64_t i = 0; i < 1000; ++i)
      differ += dare_keep(seed, 0, "layer.weight", i, density) != dare_keep(seed, 1, "layer.weight", i, density);
    QVERIFY(differ > 0);
  }

  void dare_without_rescale() {
    MergeParams p = default_merge_params(MergeMethod::DareLinear);
    p.rescale = false;
    const Floats base(1000, 1.0f), x(1000, 3.0f);
    const Floats got = run(p, base, {x}, {mp(1, 0.5)});
    for (std::size_t i = 0; i < got.size(); ++i)
      QCOMPARE(got[i], dare_keep(0, 0, "t", static_cast<std::int64_t>(i), 0.5) ? 3.0f : 1.0f);
  }

  void numpy_reference_data() {
    QTest::addColumn<QJsonObject>("c");
    const auto ref = test::read_json(test::data("merge/reference.json"));
    const auto cases = ref["cases"].toArray();
    QVERIFY(cases.size() >= 15);
    for (const auto& c : cases) QTest::newRow(qPrintable(c.toObject()["name"].toString())) << c.toObject();
  }

  void numpy_reference() {
    QFETCH(QJsonObject, c);
    const auto floats = [](const QJsonArray& a) {
      Floats v;
      for (const auto& e : a) v.push_back(static_cast<float>(e.toDouble()));
      return v;
    };
    MergeParams p = default_merge_params(*merge_method_from_name(c["method"].toString().toStdString()));
    p.normalize = c["normalize"].toBool();
    p.lambda = c["lambda"].toDouble();
    FloatsList models;
    for (const auto& m : c["models"].toArray()) models.push_back(floats(m.toArray()));
    ParamsList params;
    for (const auto& q : c["model_params"].toArray()) {
      const auto o = q.toObject();
      params.push_back(mp(o["weight"].toDouble(), o["density"].toDouble(1.0), o["gamma"].toDouble(0.01)));
    }
    p.pcb_ratio = c["pcb_ratio"].toDouble(0.1);
    if (p.method == MergeMethod::ImportanceWeighted) p.criterion = "given";
    std::vector<Floats> imp;
    for (const auto& m : c["importance"].toArray()) imp.push_back(floats(m.toArray()));
    const Floats base = floats(c["base"].toArray());
    const Floats want = floats(c["expected"].toArray());
    std::vector<std::span<const float>> spans, imp_spans;
    for (const auto& m : models) spans.emplace_back(m);
    for (const auto& m : imp) imp_spans.emplace_back(m);
    const Floats got = merge_tensor_values(p, "t", base, spans, params, nullptr, imp_spans);
    QCOMPARE(got.size(), want.size());
    int differing = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      differing += std::fabs(got[i] - want[i]) > 2e-6f * std::max(1.0f, std::fabs(want[i]));
    QCOMPARE(differing, 0);
  }

  void streamed_equals_in_memory_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<std::uint64_t>("shard");
    for (const char* m : {"linear", "task_arithmetic", "ties", "dare_linear", "dare_ties", "breadcrumbs",
                          "breadcrumbs_ties", "magnitude_prune", "pcb"})
      QTest::newRow(m) << m << std::uint64_t{5'000'000'000};
    QTest::newRow("ties sharded") << "ties" << std::uint64_t{100'000};
  }

  void streamed_equals_in_memory() {
    QFETCH(QString, method);
    QFETCH(std::uint64_t, shard);
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    // 300000 elements: several writer chunks and worker blocks, so chunking must not matter.
    const std::size_t n = 300000;
    Floats base(n), a(n), b(n), bias = {1, 2, 3};
    for (std::size_t i = 0; i < n; ++i) {
      base[i] = static_cast<float>(std::cos(0.37 * static_cast<double>(i)));
      a[i] = base[i] + 0.1f * static_cast<float>(std::sin(1.3 * static_cast<double>(i)));
      b[i] = base[i] + 0.1f * static_cast<float>(std::sin(2.9 * static_cast<double>(i) + 1));
    }
    const std::vector<Shape> shapes = {{600, 500}, {3}};
    write_model(dir / "base.safetensors", {{"w", base}, {"b", bias}}, shapes);
    write_model(dir / "a.safetensors", {{"w", a}, {"b", Floats{2, 2, 2}}}, shapes);
    write_model(dir / "b.safetensors", {{"w", b}, {"b", Floats{0, 5, 3}}}, shapes);
    const Checkpoint cb = open_checkpoint(dir / "base.safetensors");
    const Checkpoint ca = open_checkpoint(dir / "a.safetensors");
    const Checkpoint cc = open_checkpoint(dir / "b.safetensors");
    MergeParams p = default_merge_params(*merge_method_from_name(method.toStdString()));
    p.seed = 42;
    const std::vector<MergeInput> in = {{&ca, mp(0.7, 0.3, 0.05)}, {&cc, mp(0.5, 0.6, 0.02)}};
    ThreadPool pool(2);
    MergeOutputOptions out;
    out.shard_bytes = shard;
    const auto summary = merge_checkpoints(dir / "out", cb, in, p, out, pool, {});
    Checkpoint merged =
        shard < 1'000'000 ? open_checkpoint(dir / "out") : open_checkpoint(dir / "out" / "model.safetensors");
    if (shard < 1'000'000) {
      QVERIFY(summary.files.size() >= 3);
      QVERIFY(fs::exists(dir / "out" / "model.safetensors.index.json"));
    } else {
      QCOMPARE(summary.files.size(), std::size_t{1});
    }
    QVERIFY(!fs::exists(dir / "out" / (".merge-tmp-" + std::to_string(::getpid()))));
    const Floats want = run(p, base, {a, b}, {mp(0.7, 0.3, 0.05), mp(0.5, 0.6, 0.02)}, nullptr, "w");
    const Floats got = merged.at("w").to_f32();
    QCOMPARE(got, want);
    QCOMPARE(merged.at("w").dtype(), DType::F32);
    QCOMPARE(summary.tensors.size(), std::size_t{2});
    MergedTensorStats mem;
    run(p, base, {a, b}, {mp(0.7, 0.3, 0.05), mp(0.5, 0.6, 0.02)}, &mem, "w");
    QCOMPARE(stats_of(summary, "w").kept, mem.kept);
    QCOMPARE(stats_of(summary, "w").sign_conflicts, mem.sign_conflicts);
    QCOMPARE(stats_of(summary, "w").contributed, mem.contributed);
    // The recipe is in the metadata.
    bool recipe = false;
    const Checkpoint first_file = open_checkpoint(summary.files.front());
    for (const auto& [k, v] : first_file.metadata())
      recipe = recipe || (k == "merge_recipe" && v.find(method.toStdString()) != std::string::npos);
    QVERIFY(recipe);
  }

  void bf16_output_and_int_tensors_copied() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const std::vector<std::int64_t> steps = {5};
    const auto step_bytes = std::as_bytes(std::span(steps));
    for (const char* name : {"base", "a"}) {
      const Floats w = std::string(name) == "base" ? Floats{1, 2} : Floats{2, 4};
      write_safetensors(dir / (std::string(name) + ".safetensors"),
                        {TensorToWrite::from_floats("w", DType::F32, {2}, w),
                         TensorToWrite::from_bytes("steps", DType::I64, {1}, step_bytes)});
    }
    const Checkpoint cb = open_checkpoint(dir / "base.safetensors");
    const Checkpoint ca = open_checkpoint(dir / "a.safetensors");
    MergeOutputOptions out;
    out.dtype = DType::BF16;
    ThreadPool pool(1);
    const auto s = merge_checkpoints(dir / "m", cb, {{&ca, mp(0.5)}}, default_merge_params(MergeMethod::TaskArithmetic),
                                     out, pool, {});
    const Checkpoint m = open_checkpoint(dir / "m" / "model.safetensors");
    QCOMPARE(m.at("w").dtype(), DType::BF16);
    QCOMPARE(m.at("w").to_f32(), (Floats{1.5, 3}));
    QCOMPARE(m.at("steps").dtype(), DType::I64);
    QCOMPARE(m.at("steps").to_f32(), (Floats{5}));
    QVERIFY(stats_of(s, "steps").copied);
    QVERIFY(!stats_of(s, "w").copied);
  }

  void alignment_errors_data() {
    QTest::addColumn<QString>("which");
    QTest::addColumn<QString>("message");
    QTest::newRow("missing") << "missing"
                             << "tensor 'b' of the base";
    QTest::newRow("shape") << "shape"
                           << "tensor 'w' has shape [3, 2], the base has [2, 3]";
    QTest::newRow("extra") << "extra"
                           << "3 tensors, the base";
  }

  void alignment_errors() {
    QFETCH(QString, which);
    QFETCH(QString, message);
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const Floats six(6, 1.0f), two(2, 1.0f);
    write_model(dir / "base.safetensors", {{"w", six}, {"b", two}}, {{2, 3}, {2}});
    const fs::path bad = dir / "model-bad.safetensors";
    if (which == "missing") write_model(bad, {{"w", six}}, {{2, 3}});
    if (which == "shape") write_model(bad, {{"w", six}, {"b", two}}, {{3, 2}, {2}});
    if (which == "extra") write_model(bad, {{"w", six}, {"b", two}, {"x", two}}, {{2, 3}, {2}, {2}});
    const Checkpoint cb = open_checkpoint(dir / "base.safetensors");
    const Checkpoint cx = open_checkpoint(bad);
    try {
      check_merge_alignment(cb, {{&cx, mp(1)}});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::BadInput);
      const QString m = e.what();
      QVERIFY2(m.contains("model-bad.safetensors") && m.contains(message), e.what());
    }
    // The streamed merge checks first and leaves nothing behind.
    ThreadPool pool(1);
    QVERIFY_THROWS_EXCEPTION(Error, merge_checkpoints(dir / "out", cb, {{&cx, mp(1)}},
                                                      default_merge_params(MergeMethod::Ties), {}, pool, {}));
    QVERIFY(!fs::exists(dir / "out"));
  }

  void parameter_errors_data() {
    QTest::addColumn<double>("density");
    QTest::addColumn<double>("gamma");
    QTest::addColumn<double>("weight");
    QTest::addColumn<QString>("message");
    QTest::newRow("density > 1") << 1.5 << 0.01 << 1.0 << "density 1.5 is outside [0, 1]";
    QTest::newRow("density < 0") << -0.1 << 0.01 << 1.0 << "density -0.1 is outside [0, 1]";
    QTest::newRow("gamma") << 0.5 << 2.0 << 1.0 << "gamma 2.0 is outside [0, 1]";
    QTest::newRow("weight nan") << 0.5 << 0.01 << std::nan("") << "is not a finite number";
  }

  void parameter_errors() {
    QFETCH(double, density);
    QFETCH(double, gamma);
    QFETCH(double, weight);
    QFETCH(QString, message);
    const Floats b = {0, 0};
    try {
      run(default_merge_params(MergeMethod::Breadcrumbs), b, {b}, {mp(weight, density, gamma)});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY2(QString(e.what()).contains(message), e.what());
    }
  }

  void cancel_leaves_nothing() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const Floats w(100000, 1.0f), v(100000, 2.0f);
    write_model(dir / "base.safetensors", {{"w", w}}, {{100000}});
    write_model(dir / "a.safetensors", {{"w", v}}, {{100000}});
    const Checkpoint cb = open_checkpoint(dir / "base.safetensors");
    const Checkpoint ca = open_checkpoint(dir / "a.safetensors");
    CancelToken cancel;
    cancel.cancel();
    ThreadPool pool(1);
    try {
      merge_checkpoints(dir / "out", cb, {{&ca, mp(1)}}, default_merge_params(MergeMethod::TaskArithmetic), {}, pool,
                        {&cancel, {}});
      QFAIL("not cancelled");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Cancelled);
    }
    QVERIFY(!fs::exists(dir / "out"));
  }

  void pcb_hand_computed_data() {
    QTest::addColumn<double>("ratio");
    QTest::addColumn<double>("lambda");
    QTest::addColumn<Floats>("expected");
    QTest::addColumn<Counts>("kept");
    // tau1 = 1 2 -1 .5, tau2 = 1 -1 1 .5 (n = 4): the clip keeps sorted |tau|[0] .. sorted[int(4 *
    // .9999 - 1) = 2], i.e. [.5, 1], so clip(tau1) = 1 1 -1 .5 and clip(tau2) = 1 -1 1 .5; min-max
    // gives 1 1 1 0 and the intra term exp(2 x^2) = e^2 e^2 e^2 1. sum tau = 2 1 0 1, so the inter
    // term is tanh(2 2 0 .5) and tanh(2 -1 0 .5): b1 = 7.123 7.123 0 .462, b2 = 7.123 -5.627 0 .462.
    // ratio .75 cuts at sorted[1]: b1 at .462 -> scale 1 1 0 0; b2 at 0 -> scale 1 0 0 .0649.
    // Merged: (1+1)/2, 1/1, 0 (nothing kept), .5 * .0649 / .0649.
    QTest::newRow("ratio .75") << 0.75 << 1.0 << Floats{1, 1, 0, 0.5} << Counts{2, 2};
    QTest::newRow("lambda 2") << 0.75 << 2.0 << Floats{2, 2, 0, 1} << Counts{2, 2};
    // ratio .5 cuts b1 at sorted[2] = its maximum: a flat row keeps its top entries with scale 1;
    // b2 is cut at .462: only entry 0 is above it.
    QTest::newRow("ratio .5 flat row") << 0.5 << 1.0 << Floats{1, 1, 0, 0} << Counts{2, 1};
  }

  void pcb_hand_computed() {
    QFETCH(double, ratio);
    QFETCH(double, lambda);
    QFETCH(Floats, expected);
    QFETCH(Counts, kept);
    MergeParams p = default_merge_params(MergeMethod::Pcb);
    p.pcb_ratio = ratio;
    p.lambda = lambda;
    const Floats b(4, 0.0f);
    MergedTensorStats s;
    const Floats got = run(p, b, {{1, 2, -1, 0.5}, {1, -1, 1, 0.5}}, {mp(1), mp(1)}, &s);
    for (std::size_t i = 0; i < expected.size(); ++i)
      QVERIFY2(std::fabs(got[i] - expected[i]) <= 1e-6f, qPrintable(QString("%1: %2").arg(i).arg(got[i])));
    QCOMPARE(s.kept, kept);
  }

  void importance_hand_computed() {
    // e0: (1*1 + 3*3) / (1 + 3) = 2.5; e1: no score -> (2 + 4) / 2 = 3; e2: only model 2 counts: -3.
    MergeParams p = default_merge_params(MergeMethod::ImportanceWeighted);
    p.criterion = "magnitude";
    const Floats b = {0, 0, 0}, s1 = {1, 0, 0}, s2 = {3, 0, 1};
    MergedTensorStats st;
    const Floats got = merge_tensor_values(p, "t", b, {Floats{1, 2, 3}, Floats{3, 4, -3}}, {mp(1), mp(1)}, &st,
                                           {s1, s2});
    QCOMPARE(got, (Floats{2.5, 3, -3}));
    QCOMPARE(st.contributed, (Counts{2, 3}));
    // Weights scale the scores; lambda the result: (2*1*1 + 1*3*3) / (2 + 3) * .5 = 1.1 at e0.
    p.lambda = 0.5;
    const Floats w = merge_tensor_values(p, "t", b, {Floats{1, 2, 3}, Floats{3, 4, -3}}, {mp(2), mp(1)}, nullptr,
                                         {s1, s2});
    QVERIFY(std::fabs(w[0] - 1.1f) < 1e-6f);
    QVERIFY(std::fabs(w[1] - 0.5f * 8.0f / 3) < 1e-6f);
    // Without scores: the weighted mean everywhere.
    QCOMPARE(merge_tensor_values(p, "t", b, {Floats{1, 2, 3}, Floats{3, 4, -3}}, {mp(1), mp(1)}),
             (Floats{1, 1.5, 0}));
  }

  void setting_resolve_data() {
    QTest::addColumn<MergeSetting>("setting");
    QTest::addColumn<QString>("tensor");
    QTest::addColumn<double>("t");
    QTest::addColumn<double>("expected");  // NaN: no value (falls back)
    const auto filtered = [](std::vector<std::pair<const char*, std::vector<double>>> e) {
      MergeSetting s;
      s.filtered = true;
      for (auto& [f, v] : e)
        s.entries.push_back({f ? std::optional<std::string>(f) : std::nullopt, std::move(v)});
      return s;
    };
    const double none = std::nan("");
    QTest::newRow("scalar") << MergeSetting::scalar(0.5) << "a.weight" << 0.3 << 0.5;
    QTest::newRow("gradient start") << MergeSetting::gradient({0, 1}) << "x" << 0.0 << 0.0;
    QTest::newRow("gradient end") << MergeSetting::gradient({0, 1}) << "x" << 1.0 << 1.0;
    QTest::newRow("gradient middle") << MergeSetting::gradient({0, 1}) << "x" << 0.5 << 0.5;
    // scaled = t * 2: .5 -> halfway between 1 and .5; 1.5 -> halfway between .5 and 0.
    QTest::newRow("gradient 3 at .25") << MergeSetting::gradient({1, 0.5, 0}) << "x" << 0.25 << 0.75;
    QTest::newRow("gradient 3 at .75") << MergeSetting::gradient({1, 0.5, 0}) << "x" << 0.75 << 0.25;
    QTest::newRow("gradient 3 at 1") << MergeSetting::gradient({1, 0.5, 0}) << "x" << 1.0 << 0.0;
    QTest::newRow("gradient 3 at 1/3") << MergeSetting::gradient({1, 0.5, 0}) << "x" << 1.0 / 3 << 2.0 / 3;
    const MergeSetting f3 = filtered({{"mlp", {0.1}}, {"self_attn", {0.2}}, {nullptr, {0.3}}});
    QTest::newRow("filter 1") << f3 << "model.layers.0.mlp.up_proj.weight" << 0.0 << 0.1;
    QTest::newRow("filter 2") << f3 << "model.layers.0.self_attn.q_proj.weight" << 0.0 << 0.2;
    QTest::newRow("default entry") << f3 << "model.norm.weight" << 0.0 << 0.3;
    QTest::newRow("first match wins") << filtered({{"layers", {1}}, {"mlp", {2}}}) << "model.layers.0.mlp.w" << 0.0
                                      << 1.0;
    QTest::newRow("default first wins")
        << filtered({{nullptr, {7}}, {"mlp", {2}}}) << "model.layers.0.mlp.w" << 0.0 << 7.0;
    QTest::newRow("star matches all") << filtered({{"*", {4}}}) << "anything" << 0.0 << 4.0;
    QTest::newRow("no default: none") << filtered({{"mlp", {2}}}) << "model.norm.weight" << 0.0 << none;
    QTest::newRow("filtered gradient")
        << filtered({{"mlp", {0, 1}}, {nullptr, {5}}}) << "layers.3.mlp.w" << 0.25 << 0.25;
    QTest::newRow("case sensitive") << filtered({{"MLP", {2}}}) << "mlp.w" << 0.0 << none;
  }

  void setting_resolve() {
    QFETCH(MergeSetting, setting);
    QFETCH(QString, tensor);
    QFETCH(double, t);
    QFETCH(double, expected);
    const auto got = setting.resolve(tensor.toStdString(), t);
    if (std::isnan(expected)) {
      QVERIFY(!got);
    } else {
      QVERIFY(got);
      QVERIFY2(std::fabs(*got - expected) < 1e-12, qPrintable(QString::number(*got)));
    }
  }

  void resolve_order_and_required_weight() {
    MergeSetting mlp_only;
    mlp_only.filtered = true;
    mlp_only.entries.push_back({"mlp", {0.25}});
    MergeParams p = default_merge_params(MergeMethod::Ties);
    p.settings["density"] = MergeSetting::gradient({0.2, 0.8});
    p.settings["lambda"] = mlp_only;
    MergeInput a, b;
    a.params = mp(1, 0.5);
    a.settings["weight"] = mlp_only;  // mlp: .25; elsewhere the model's plain weight 1
    b.params = mp(std::nan(""), 0.5);
    b.settings["weight"] = mlp_only;  // required: nothing covers "norm"
    b.settings["density"] = MergeSetting::scalar(0.9);
    MergeParams out;
    std::vector<MergeModelParams> m;
    resolve_tensor_params(p, {a, b}, "layers.1.mlp.w", 0.5, out, m);
    QCOMPARE(m[0].weight, 0.25);
    QCOMPARE(m[1].weight, 0.25);
    QCOMPARE(m[0].density, 0.5);  // the global gradient: .2 + .5 * .6
    QCOMPARE(m[1].density, 0.9);  // the model's own setting first
    QCOMPARE(out.lambda, 0.25);
    resolve_tensor_params(p, {a}, "norm.weight", 1.0, out, m);
    QCOMPARE(m[0].weight, 1.0);
    QCOMPARE(m[0].density, 0.8);
    QCOMPARE(out.lambda, 1.0);  // no entry matches: the plain lambda
    try {
      resolve_tensor_params(p, {a, b}, "norm.weight", 1.0, out, m);
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY2(QString(e.what()).contains("model 2: no 'weight' for tensor 'norm.weight'"), e.what());
    }
  }

  void layer_fractions() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const Floats four(4, 1.0f);
    const std::vector<std::string> names = {"lm_head.weight",          "model.embed_tokens.weight",
                                            "model.layers.0.mlp.weight", "model.layers.1.mlp.weight",
                                            "model.layers.2.mlp.weight", "model.norm.weight"};
    std::vector<std::pair<std::string, Floats>> t;
    std::vector<Shape> shapes;
    for (const auto& n : names) {
      t.emplace_back(n, four);
      shapes.push_back(n.find("norm") != std::string::npos ? Shape{4} : Shape{2, 2});
    }
    write_model(dir / "m.safetensors", t, shapes);
    const Checkpoint c = open_checkpoint(dir / "m.safetensors");
    const auto f = merge_layer_fractions(c);
    QCOMPARE(f.size(), names.size());
    const std::map<std::string, double> want = {
        {"model.embed_tokens.weight", 0.0}, {"model.layers.0.mlp.weight", 0.0}, {"model.layers.1.mlp.weight", 0.5},
        {"model.layers.2.mlp.weight", 1.0}, {"model.norm.weight", 1.0},         {"lm_head.weight", 1.0}};
    for (std::size_t i = 0; i < c.tensors().size(); ++i)
      QVERIFY2(f[i] == want.at(c.tensors()[i].name()), c.tensors()[i].name().c_str());
  }

  void per_tensor_streamed() {
    // A gradient weight and a filtered density: each tensor merged with its own values, equal to
    // the in-memory merge with those values.
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const std::size_t n = 1000;
    Floats base(n), a(n), b(n);
    for (std::size_t i = 0; i < n; ++i) {
      base[i] = static_cast<float>(std::cos(0.1 * static_cast<double>(i)));
      a[i] = base[i] + 0.1f * static_cast<float>(std::sin(1.7 * static_cast<double>(i)));
      b[i] = base[i] + 0.1f * static_cast<float>(std::sin(2.3 * static_cast<double>(i) + 1));
    }
    const std::vector<Shape> shapes = {{10, 100}, {10, 100}};
    write_model(dir / "base.safetensors", {{"layers.0.mlp.w", base}, {"layers.1.attn.w", base}}, shapes);
    write_model(dir / "a.safetensors", {{"layers.0.mlp.w", a}, {"layers.1.attn.w", a}}, shapes);
    write_model(dir / "b.safetensors", {{"layers.0.mlp.w", b}, {"layers.1.attn.w", b}}, shapes);
    const Checkpoint cb = open_checkpoint(dir / "base.safetensors");
    const Checkpoint ca = open_checkpoint(dir / "a.safetensors");
    const Checkpoint cc = open_checkpoint(dir / "b.safetensors");
    MergeSetting dens;
    dens.filtered = true;
    dens.entries.push_back({"mlp", {0.3}});
    dens.entries.push_back({std::nullopt, {0.7}});
    MergeInput ia{&ca, mp(1, 0.5)}, ib{&cc, mp(1, 0.5)};
    ia.settings["weight"] = MergeSetting::gradient({0.2, 1.0});
    ib.settings["density"] = dens;
    const MergeParams p = default_merge_params(MergeMethod::Ties);
    ThreadPool pool(2);
    const auto summary = merge_checkpoints(dir / "out", cb, {ia, ib}, p, {}, pool, {});
    const Checkpoint m = open_checkpoint(dir / "out" / "model.safetensors");
    QCOMPARE(m.at("layers.0.mlp.w").to_f32(), run(p, base, {a, b}, {mp(0.2, 0.5), mp(1, 0.3)}, nullptr, "layers.0.mlp.w"));
    QCOMPARE(m.at("layers.1.attn.w").to_f32(),
             run(p, base, {a, b}, {mp(1.0, 0.5), mp(1, 0.7)}, nullptr, "layers.1.attn.w"));
    QCOMPARE(stats_of(summary, "layers.0.mlp.w").params[0].weight, 0.2);
    QCOMPARE(stats_of(summary, "layers.0.mlp.w").params[1].density, 0.3);
    QCOMPARE(stats_of(summary, "layers.1.attn.w").params[1].density, 0.7);
    QCOMPARE(stats_of(summary, "layers.1.attn.w").kept, (Counts{500, 700}));
  }

  void importance_streamed() {
    // Criterion magnitude: s_i = |theta_i|, streamed against the in-memory merge with those maps.
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const std::size_t n = 70000;
    Floats base(n), a(n), b(n), sa(n), sb(n);
    for (std::size_t i = 0; i < n; ++i) {
      base[i] = static_cast<float>(std::cos(0.37 * static_cast<double>(i)));
      a[i] = base[i] + 0.1f * static_cast<float>(std::sin(1.3 * static_cast<double>(i)));
      b[i] = base[i] + 0.1f * static_cast<float>(std::sin(2.9 * static_cast<double>(i) + 1));
      sa[i] = std::fabs(a[i]);
      sb[i] = std::fabs(b[i]);
    }
    write_model(dir / "base.safetensors", {{"w", base}}, {{700, 100}});
    write_model(dir / "a.safetensors", {{"w", a}}, {{700, 100}});
    write_model(dir / "b.safetensors", {{"w", b}}, {{700, 100}});
    const Checkpoint cb = open_checkpoint(dir / "base.safetensors");
    const Checkpoint ca = open_checkpoint(dir / "a.safetensors");
    const Checkpoint cc = open_checkpoint(dir / "b.safetensors");
    MergeParams p = default_merge_params(MergeMethod::ImportanceWeighted);
    p.criterion = "magnitude";
    p.lambda = 0.9;
    ThreadPool pool(2);
    merge_checkpoints(dir / "out", cb, {{&ca, mp(0.7)}, {&cc, mp(0.3)}}, p, {}, pool, {});
    const Floats got = open_checkpoint(dir / "out" / "model.safetensors").at("w").to_f32();
    const Floats want = merge_tensor_values(p, "w", base, {a, b}, {mp(0.7), mp(0.3)}, nullptr, {sa, sb});
    QCOMPARE(got, want);
    // fisher without statistics: no tensor can be scored, refused before anything is written.
    p.criterion = "fisher";
    QVERIFY_THROWS_EXCEPTION(Error, merge_checkpoints(dir / "out2", cb, {{&ca, mp(1)}, {&cc, mp(1)}}, p, {}, pool, {}));
    QVERIFY(!fs::exists(dir / "out2"));
    p.criterion = "nonsense";
    QVERIFY_THROWS_EXCEPTION(Error, merge_checkpoints(dir / "out2", cb, {{&ca, mp(1)}}, p, {}, pool, {}));
  }

  void names_and_defaults() {
    QCOMPARE(merge_method_names(), std::string("linear, task_arithmetic, ties, dare_linear, dare_ties, breadcrumbs, "
                                               "breadcrumbs_ties, magnitude_prune, pcb, importance_weighted, fisher"));
    QCOMPARE(merge_method_from_name("fisher"), std::optional(MergeMethod::ImportanceWeighted));
    QCOMPARE(merge_method_name(MergeMethod::Pcb), std::string_view("pcb"));
    QVERIFY(!default_merge_params(MergeMethod::MagnitudePrune).normalize);
    QCOMPARE(merge_method_traits(MergeMethod::MagnitudePrune).sparsification, Sparsification::Magnitude);
    QCOMPARE(default_merge_params(MergeMethod::MagnitudePrune).consensus, SignConsensus::None);
    QCOMPARE(default_merge_params(MergeMethod::Pcb).pcb_ratio, 0.1);
    QVERIFY(!merge_method_from_name("slerp"));
    // mergekit's registry: normalize on for linear and ties only, rescale on for DARE.
    QVERIFY(default_merge_params(MergeMethod::Linear).normalize);
    QVERIFY(default_merge_params(MergeMethod::Ties).normalize);
    QVERIFY(!default_merge_params(MergeMethod::TaskArithmetic).normalize);
    QVERIFY(!default_merge_params(MergeMethod::DareTies).normalize);
    QVERIFY(!default_merge_params(MergeMethod::BreadcrumbsTies).normalize);
    QVERIFY(default_merge_params(MergeMethod::DareLinear).rescale);
    QVERIFY(!default_merge_params(MergeMethod::Ties).rescale);
    QCOMPARE(default_merge_params(MergeMethod::DareTies).consensus, SignConsensus::Sum);
    QCOMPARE(default_merge_params(MergeMethod::Breadcrumbs).consensus, SignConsensus::None);
  }
};

QTEST_GUILESS_MAIN(TestMerge)
#include "test_merge.moc"
