// Interference analysis (paramscope/interference.h): hand-computed cases over three task vectors
// of 8 entries (cosine, L2, sign conflicts with zeros, exact top-k with ties at the cut, Jaccard,
// magnitude ratio, group counts), the element maps (elected-sign and dominant ties, contributes
// and merged_delta against merge_tensor_values), aggregation tensor -> block -> model, the numpy
// reference of tests/tools/make_interference_reference.py, overlap scores instead of |tau|,
// independence of threads and chunk size, the log10 binning, and errors.
#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <bit>
#include <cmath>
#include <limits>
#include <map>

#include "json_file.h"
#include "merge/interference_detail.h"
#include "merge/interference_topk.h"
#include "merge/merge_kernel.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "paramscope/interference.h"
#include "paramscope/merge.h"
#include "paramscope/score_field.h"
#include "paramscope/writers.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

using Floats = std::vector<float>;
using Counts = std::vector<std::int64_t>;
Q_DECLARE_METATYPE(Counts)

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The hand case: base 0, so the task vectors are the models' values.
const Floats kTau0 = {1, 2, 0, -1, 3, 0, 1, 0};
const Floats kTau1 = {1, -2, 0, 1, 3, 1, -1, 0};
const Floats kTau2 = {-1, 2, 5, 0, -3, 0, 0, 0};

void write_model(const fs::path& p, const std::vector<std::pair<std::string, Floats>>& tensors, Shape shape = {}) {
  std::vector<TensorToWrite> w;
  for (const auto& [name, v] : tensors)
    w.push_back(TensorToWrite::from_floats(name, DType::F32,
                                           shape.empty() ? Shape{static_cast<std::int64_t>(v.size())} : shape, v));
  write_safetensors(p, w);
}

bool same(double a, double b, double rel = 1e-12) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= rel * std::max({std::fabs(a), std::fabs(b), 1e-300});
}

Error::Kind kind_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  qFatal("no error thrown");
}

double json_number(const QJsonValue& v) {
  return v.isNull() ? kNaN : v.toDouble();
}

// Compares sums and metrics with a reference object (reference.json's layout).
void compare_stats(const InterferenceStats& s, const QJsonObject& r, const QString& where) {
  const auto ctx = [&](const char* what) { return qPrintable(where + ": " + what); };
  QVERIFY2(s.numel == r["numel"].toInteger(), ctx("numel"));
  const auto models = r["models"].toArray();
  QCOMPARE(s.models.size(), static_cast<std::size_t>(models.size()));
  for (std::size_t i = 0; i < s.models.size(); ++i) {
    const auto m = models[static_cast<int>(i)].toObject();
    QVERIFY2(same(s.models[i].sq, m["sq"].toDouble(), 1e-6), ctx("sq"));
    QVERIFY2(same(s.models[i].abs, m["abs"].toDouble(), 1e-6), ctx("abs"));
    QVERIFY2(s.models[i].nonzero == m["nonzero"].toInteger(), ctx("nonzero"));
    QVERIFY2(s.models[i].top == m["top"].toInteger(), ctx("top"));
    QVERIFY2(s.models[i].top_conflicts == m["top_conflicts"].toInteger(), ctx("top_conflicts"));
  }
  const auto pairs = r["pairs"].toArray();
  QCOMPARE(s.pairs.size(), static_cast<std::size_t>(pairs.size()));
  for (std::size_t k = 0; k < s.pairs.size(); ++k) {
    const auto p = pairs[static_cast<int>(k)].toObject();
    const PairMetrics& m = s.pairs[k];
    QCOMPARE(m.a, static_cast<std::size_t>(p["a"].toInt()));
    QCOMPARE(m.b, static_cast<std::size_t>(p["b"].toInt()));
    QVERIFY2(same(m.sums.dot, p["dot"].toDouble(), 1e-6), ctx("dot"));
    QVERIFY2(same(m.sums.sq_a, p["sq_a"].toDouble(), 1e-6), ctx("sq_a"));
    QVERIFY2(same(m.sums.sq_b, p["sq_b"].toDouble(), 1e-6), ctx("sq_b"));
    QVERIFY2(same(m.sums.sq_diff, p["sq_diff"].toDouble(), 1e-6), ctx("sq_diff"));
    QVERIFY2(m.sums.both_nonzero == p["both_nonzero"].toInteger(), ctx("both_nonzero"));
    QVERIFY2(m.sums.sign_conflicts == p["sign_conflicts"].toInteger(), ctx("sign_conflicts"));
    QVERIFY2(m.sums.top_both == p["top_both"].toInteger(), ctx("top_both"));
    QVERIFY2(m.sums.top_either == p["top_either"].toInteger(), ctx("top_either"));
    QVERIFY2(m.sums.top_both_conflicts == p["top_both_conflicts"].toInteger(), ctx("top_both_conflicts"));
    QVERIFY2(same(m.cosine(), json_number(p["cosine"]), 1e-6), ctx("cosine"));
    QVERIFY2(same(m.l2_distance(), json_number(p["l2"]), 1e-6), ctx("l2"));
    QVERIFY2(same(m.sign_conflict(), json_number(p["sign_conflict"]), 1e-12), ctx("sign_conflict"));
    QVERIFY2(same(m.top_conflict(), json_number(p["top_conflict"]), 1e-12), ctx("top_conflict"));
    QVERIFY2(same(m.jaccard(), json_number(p["jaccard"]), 1e-12), ctx("jaccard"));
    QVERIFY2(same(m.magnitude_ratio(), json_number(p["magnitude_ratio"]), 1e-6), ctx("magnitude_ratio"));
  }
  const auto g = r["group"].toObject();
  QVERIFY2(s.group.entries == g["entries"].toInteger(), ctx("entries"));
  QVERIFY2(s.group.multi_nonzero == g["multi_nonzero"].toInteger(), ctx("multi_nonzero"));
  QVERIFY2(s.group.sign_conflicts == g["sign_conflicts"].toInteger(), ctx("group sign_conflicts"));
  QVERIFY2(s.group.top_multi == g["top_multi"].toInteger(), ctx("top_multi"));
  QVERIFY2(s.group.top_conflicts == g["top_conflicts"].toInteger(), ctx("group top_conflicts"));
  QVERIFY2(same(s.group.sign_conflict(), json_number(g["sign_conflict"])), ctx("group sign_conflict"));
  QVERIFY2(same(s.group.top_conflict(), json_number(g["top_conflict"])), ctx("group top_conflict"));
}

void expect_equal(const InterferenceStats& a, const InterferenceStats& b, double rel) {
  QCOMPARE(a.name, b.name);
  QCOMPARE(a.numel, b.numel);
  QCOMPARE(a.models.size(), b.models.size());
  for (std::size_t i = 0; i < a.models.size(); ++i) {
    QVERIFY(same(a.models[i].sq, b.models[i].sq, rel));
    QVERIFY(same(a.models[i].abs, b.models[i].abs, rel));
    QCOMPARE(a.models[i].nonzero, b.models[i].nonzero);
    QCOMPARE(a.models[i].top, b.models[i].top);
    QCOMPARE(a.models[i].top_conflicts, b.models[i].top_conflicts);
  }
  QCOMPARE(a.pairs.size(), b.pairs.size());
  for (std::size_t k = 0; k < a.pairs.size(); ++k) {
    const PairSums &x = a.pairs[k].sums, &y = b.pairs[k].sums;
    QVERIFY(same(x.dot, y.dot, rel) && same(x.sq_a, y.sq_a, rel) && same(x.sq_b, y.sq_b, rel) &&
            same(x.sq_diff, y.sq_diff, rel));
    QCOMPARE(x.both_nonzero, y.both_nonzero);
    QCOMPARE(x.sign_conflicts, y.sign_conflicts);
    QCOMPARE(x.top_both, y.top_both);
    QCOMPARE(x.top_either, y.top_either);
    QCOMPARE(x.top_both_conflicts, y.top_both_conflicts);
  }
  QCOMPARE(a.group.entries, b.group.entries);
  QCOMPARE(a.group.multi_nonzero, b.group.multi_nonzero);
  QCOMPARE(a.group.sign_conflicts, b.group.sign_conflicts);
  QCOMPARE(a.group.top_multi, b.group.top_multi);
  QCOMPARE(a.group.top_conflicts, b.group.top_conflicts);
}

}  // namespace

class TestInterference : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path dir_;
  Checkpoint base_, m0_, m1_, m2_, zero_, wide_;
  Checkpoint ref_base_;
  std::vector<Checkpoint> ref_models_;
  QJsonObject ref_;
  ThreadPool pool1_{1}, pool2_{2};

  std::vector<const Checkpoint*> hand() const { return {&m0_, &m1_, &m2_}; }
  std::vector<const Checkpoint*> reference_models() const {
    std::vector<const Checkpoint*> v;
    for (const auto& c : ref_models_) v.push_back(&c);
    return v;
  }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    dir_ = tmp_.path().toStdString();
    const Floats zeros(8, 0.0f);
    write_model(dir_ / "base.safetensors", {{"w", zeros}});
    write_model(dir_ / "m0.safetensors", {{"w", kTau0}});
    write_model(dir_ / "m1.safetensors", {{"w", kTau1}});
    write_model(dir_ / "m2.safetensors", {{"w", kTau2}});
    write_model(dir_ / "zero.safetensors", {{"w", zeros}});
    write_model(dir_ / "wide.safetensors", {{"w", zeros}}, {2, 4});  // same count, other shape
    base_ = open_checkpoint(dir_ / "base.safetensors");
    m0_ = open_checkpoint(dir_ / "m0.safetensors");
    m1_ = open_checkpoint(dir_ / "m1.safetensors");
    m2_ = open_checkpoint(dir_ / "m2.safetensors");
    zero_ = open_checkpoint(dir_ / "zero.safetensors");
    wide_ = open_checkpoint(dir_ / "wide.safetensors");
    ref_ = test::read_json(test::data("interference/reference.json"));
    ref_base_ = open_checkpoint(test::data("interference/" + ref_["base"].toString().toStdString()));
    for (const auto& m : ref_["models"].toArray())
      ref_models_.push_back(open_checkpoint(test::data("interference/" + m.toString().toStdString())));
  }

  // Per-model sums, hand-computed (top-k by |tau| with k = int(f * 8); ties at the cut in the order
  // of each model's tie hash, merge_detail::tie_hash(tie_key(i), index), which ranks the indices
  // 0 5 1 7 3 2 6 4 for model 0 and 1 4 3 5 0 6 7 2 for model 1):
  // f = 0.25: top0 = {1, 4}, top1 = {1, 4}, top2 = {2, 4};
  // f = 0.5:  top0 = {0, 1, 3, 4} (1s at 0, 3, 6 tie: 0 and 3 come first), top1 = {1, 3, 4, 5}
  //           (1s at 0, 3, 5, 6 tie: 3 and 5 come first), top2 = {0, 1, 2, 4}.
  void hand_models_data() {
    QTest::addColumn<double>("top");
    QTest::addColumn<Counts>("top_count");
    QTest::addColumn<Counts>("top_conflicts");
    QTest::newRow("top 25%") << 0.25 << Counts{2, 2, 2} << Counts{2, 2, 1};
    QTest::newRow("top 50%, ties at the cut") << 0.5 << Counts{4, 4, 4} << Counts{4, 3, 3};
    QTest::newRow("top 100%") << 1.0 << Counts{8, 8, 8} << Counts{5, 5, 3};
  }
  void hand_models() {
    QFETCH(double, top);
    QFETCH(Counts, top_count);
    QFETCH(Counts, top_conflicts);
    InterferenceOptions o;
    o.top_fraction = top;
    const auto r = analyze_interference(base_, hand(), o, pool2_, {});
    QCOMPARE(r.tensors.size(), std::size_t{1});
    const auto& s = r.tensors[0];
    QCOMPARE(s.numel, std::int64_t{8});
    const double sq[] = {16, 17, 39}, abs[] = {8, 9, 11};
    const std::int64_t nonzero[] = {5, 6, 4};
    for (std::size_t i = 0; i < 3; ++i) {
      QCOMPARE(s.models[i].sq, sq[i]);
      QCOMPARE(s.models[i].abs, abs[i]);
      QCOMPARE(s.models[i].nonzero, nonzero[i]);
      QCOMPARE(s.models[i].top, top_count[i]);
      QCOMPARE(s.models[i].top_conflicts, top_conflicts[i]);
    }
  }

  // Pair metrics: dot, |a - b|^2, entries both non-zero and of those with opposite signs, and the
  // top-k overlap (Jaccard) and opposite signs in both top-k.
  void hand_pairs_data() {
    QTest::addColumn<double>("top");
    QTest::addColumn<int>("pair");
    QTest::addColumn<double>("cosine");
    QTest::addColumn<double>("l2");
    QTest::addColumn<double>("sign_conflict");
    QTest::addColumn<Counts>("top_counts");  // top_both, top_either, top_both_conflicts
    QTest::addColumn<double>("ratio");
    const double c01 = 4 / std::sqrt(16.0 * 17), c02 = -6 / std::sqrt(16.0 * 39), c12 = -14 / std::sqrt(17.0 * 39);
    const double r01 = std::sqrt(16.0 / 17), r02 = std::sqrt(16.0 / 39), r12 = std::sqrt(17.0 / 39);
    QTest::newRow("25% (0,1)") << 0.25 << 0 << c01 << std::sqrt(25.0) << 3.0 / 5 << Counts{2, 2, 1} << r01;
    QTest::newRow("25% (0,2)") << 0.25 << 1 << c02 << std::sqrt(67.0) << 2.0 / 3 << Counts{1, 3, 1} << r02;
    QTest::newRow("25% (1,2)") << 0.25 << 2 << c12 << std::sqrt(84.0) << 3.0 / 3 << Counts{1, 3, 1} << r12;
    QTest::newRow("50% (0,1)") << 0.5 << 0 << c01 << 5.0 << 0.6 << Counts{3, 5, 2} << r01;
    QTest::newRow("50% (0,2)") << 0.5 << 1 << c02 << std::sqrt(67.0) << 2.0 / 3 << Counts{3, 5, 2} << r02;
    QTest::newRow("50% (1,2)") << 0.5 << 2 << c12 << std::sqrt(84.0) << 1.0 << Counts{2, 6, 2} << r12;
  }
  void hand_pairs() {
    QFETCH(double, top);
    QFETCH(int, pair);
    QFETCH(double, cosine);
    QFETCH(double, l2);
    QFETCH(double, sign_conflict);
    QFETCH(Counts, top_counts);
    QFETCH(double, ratio);
    InterferenceOptions o;
    o.top_fraction = top;
    const auto r = analyze_interference(base_, hand(), o, pool2_, {});
    const PairMetrics& p = r.tensors[0].pairs[static_cast<std::size_t>(pair)];
    const std::size_t pa[] = {0, 0, 1}, pb[] = {1, 2, 2};
    QCOMPARE(p.a, pa[pair]);
    QCOMPARE(p.b, pb[pair]);
    QVERIFY(same(p.cosine(), cosine));
    QVERIFY(same(p.l2_distance(), l2));
    QVERIFY(same(p.sign_conflict(), sign_conflict));
    QCOMPARE(p.sums.top_both, top_counts[0]);
    QCOMPARE(p.sums.top_either, top_counts[1]);
    QCOMPARE(p.sums.top_both_conflicts, top_counts[2]);
    QVERIFY(same(p.jaccard(), static_cast<double>(top_counts[0]) / static_cast<double>(top_counts[1])));
    QVERIFY(same(p.top_conflict(), static_cast<double>(top_counts[2]) / static_cast<double>(top_counts[0])));
    QVERIFY(same(p.magnitude_ratio(), ratio));
  }

  // Group: entries with 2+ non-zero deltas {0, 1, 3, 4, 6}, all of mixed sign; within the top-k
  // (25%): kept deltas at 1 (2, -2, .) and 4 (3, 3, -3); (50%): 0, 1, 3, 4, all mixed.
  // Task vectors whose magnitudes all tie (as in bf16, where millions of entries share the value
  // at the cut): each model still keeps exactly k, but its own tied entries (by its tie hash), so
  // two independent models overlap by chance (Jaccard about f / (2 - f) = 0.111 at f = 0.2), not
  // fully as the lowest-index rule would have it.
  void ties_at_the_cut_do_not_inflate_the_overlap() {
    const std::size_t n = 1000;
    Floats a(n), b(n), zeros(n, 0.0f);
    for (std::size_t j = 0; j < n; ++j) {
      a[j] = j % 2 ? 1.0f : -1.0f;
      b[j] = j % 3 ? 1.0f : -1.0f;
    }
    write_model(dir_ / "tie_base.safetensors", {{"w", zeros}}, {static_cast<std::int64_t>(n)});
    write_model(dir_ / "tie_a.safetensors", {{"w", a}}, {static_cast<std::int64_t>(n)});
    write_model(dir_ / "tie_b.safetensors", {{"w", b}}, {static_cast<std::int64_t>(n)});
    const Checkpoint base = open_checkpoint(dir_ / "tie_base.safetensors");
    const Checkpoint ma = open_checkpoint(dir_ / "tie_a.safetensors"), mb = open_checkpoint(dir_ / "tie_b.safetensors");
    InterferenceOptions o;
    o.top_fraction = 0.2;
    const auto r1 = analyze_interference(base, {&ma, &mb}, o, pool1_, {});
    const auto r2 = analyze_interference(base, {&ma, &mb}, o, pool2_, {});
    const PairSums& p = r1.overall.pairs[0].sums;
    QCOMPARE(r1.overall.models[0].top, std::int64_t{200});
    QCOMPARE(r1.overall.models[1].top, std::int64_t{200});
    QCOMPARE(p.top_both + p.top_either, std::int64_t{400});  // |A| + |B| = |A & B| + |A | B|
    QVERIFY2(p.top_both > 10 && p.top_both < 80, qPrintable(QString::number(p.top_both)));
    QCOMPARE(r2.overall.pairs[0].sums.top_both, p.top_both);  // the same whatever the threads
  }

  // More tied entries than the one-pass collection holds (numel / 8 + 2^20): the second pass over
  // one hash bucket still keeps exactly k, chosen independently per model.
  void many_ties_take_the_bucket_pass() {
    const std::int64_t n = 1 << 21;
    Floats ones(static_cast<std::size_t>(n), 1.0f), zeros(static_cast<std::size_t>(n), 0.0f);
    write_model(dir_ / "many_base.safetensors", {{"w", zeros}}, {n});
    write_model(dir_ / "many_a.safetensors", {{"w", ones}}, {n});
    const Checkpoint base = open_checkpoint(dir_ / "many_base.safetensors");
    const Checkpoint a = open_checkpoint(dir_ / "many_a.safetensors");
    InterferenceOptions o;
    o.top_fraction = 0.5;
    const auto r = analyze_interference(base, {&a, &a}, o, pool2_, {});
    const PairSums& p = r.overall.pairs[0].sums;
    QCOMPARE(r.overall.models[0].top, n / 2);
    QCOMPARE(r.overall.models[1].top, n / 2);
    QCOMPARE(p.top_both + p.top_either, n);
    // Independent halves overlap in n / 4 entries, give or take a few hundred (sd ~ 724).
    QVERIFY2(std::abs(p.top_both - n / 4) < 5000, qPrintable(QString::number(p.top_both)));
  }

  void hand_group_data() {
    QTest::addColumn<double>("top");
    QTest::addColumn<Counts>("counts");  // multi_nonzero, sign_conflicts, top_multi, top_conflicts
    QTest::newRow("25%") << 0.25 << Counts{5, 5, 2, 2};
    QTest::newRow("50%") << 0.5 << Counts{5, 5, 4, 4};
    QTest::newRow("100%") << 1.0 << Counts{5, 5, 5, 5};
  }
  void hand_group() {
    QFETCH(double, top);
    QFETCH(Counts, counts);
    InterferenceOptions o;
    o.top_fraction = top;
    const auto r = analyze_interference(base_, hand(), o, pool1_, {});
    const GroupSums& g = r.overall.group;
    QCOMPARE(g.entries, std::int64_t{8});
    QCOMPARE((Counts{g.multi_nonzero, g.sign_conflicts, g.top_multi, g.top_conflicts}), counts);
    QCOMPARE(g.sign_conflict(), 1.0);
  }

  // An all-zero task vector: cosine and sign conflict undefined, magnitude ratio infinite.
  void zero_task_vector() {
    const auto r = analyze_interference(base_, {&m0_, &zero_}, {}, pool2_, {});
    const PairMetrics& p = r.overall.pairs[0];
    QVERIFY(std::isnan(p.cosine()));
    QVERIFY(std::isnan(p.sign_conflict()));
    QCOMPARE(p.magnitude_ratio(), kInf);
    QCOMPARE(p.l2_distance(), 4.0);
    QCOMPARE(r.overall.models[1].top, std::int64_t{1});  // int(0.2 * 8) = 1: the first zero
    QVERIFY(std::isnan(r.overall.group.sign_conflict()));
    const auto z = analyze_interference(base_, {&zero_, &zero_}, {}, pool2_, {});
    QVERIFY(std::isnan(z.overall.pairs[0].magnitude_ratio()));
    QCOMPARE(z.magnitudes[0].zeros, std::int64_t{8});
  }

  // Elected sign of the kept deltas (density 0.5: the 50% tops above) and the TIES preview.
  void element_maps_hand() {
    std::vector<MergeInput> in;
    for (const Checkpoint* c : hand()) {
      MergeModelParams p;
      p.density = 0.5;
      in.push_back({c, p});
    }
    const auto e = element_interference(base_, in, "w", default_merge_params(MergeMethod::Ties), pool2_, {});
    QCOMPARE(e.shape, (Shape{8}));
    QCOMPARE(e.model_count, std::size_t{3});
    // kept: (1, 2, 0, -1, 3), (1, -2, 0, 1, 3), (-1, 2, 5, 0, -3); sums 1, 2, 5, 0 (a tie), 3.
    // The tie at entry 3 elects + (mergekit), which model 0's -1 opposes; nothing kept: 0.
    QCOMPARE(e.elected_sign, (std::vector<std::int8_t>{1, 1, 1, 1, 1, 0, 0, 0}));
    QCOMPARE(e.disagree, (std::vector<std::uint8_t>{1, 1, 0, 1, 1, 0, 0, 0}));
    // |tau| ties go to the lower index; no delta at all: -1.
    QCOMPARE(e.dominant, (std::vector<std::int8_t>{0, 0, 2, 0, 0, 1, 0, -1}));
    // TIES elects + on a tie (mergekit), so entry 3 keeps model 1's +1.
    QCOMPARE(e.contributes, (std::vector<std::uint32_t>{3, 5, 4, 2, 3, 0, 0, 0}));
    QCOMPARE(e.merged_delta, (Floats{1, 2, 5, 1, 3, 0, 0, 0}));
  }

  // contributes and merged_delta are what merge_tensor_values keeps and computes.
  void element_maps_vs_merge_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<double>("density");
    for (const char* m : {"ties", "dare_ties", "dare_linear", "breadcrumbs_ties", "task_arithmetic", "linear",
                          "magnitude_prune", "pcb"})
      for (const double d : {0.3, 1.0}) QTest::newRow(qPrintable(QString("%1 %2").arg(m).arg(d))) << m << d;
  }
  void element_maps_vs_merge() {
    QFETCH(QString, method);
    QFETCH(double, density);
    const std::string tensor = "model.layers.1.mlp.up_proj.weight";
    MergeParams p = default_merge_params(*merge_method_from_name(method.toStdString()));
    p.seed = 7;
    std::vector<MergeInput> in;
    std::vector<MergeModelParams> mp;
    std::vector<Floats> x;
    for (std::size_t i = 0; i < ref_models_.size(); ++i) {
      MergeModelParams q;
      q.density = density;
      q.weight = 0.5 + static_cast<double>(i);
      in.push_back({&ref_models_[i], q});
      mp.push_back(q);
      x.push_back(ref_models_[i].at(tensor).to_f32());
    }
    const Floats b = ref_base_.at(tensor).to_f32();
    std::vector<std::span<const float>> spans(x.begin(), x.end());
    MergedTensorStats stats;
    const Floats merged = merge_tensor_values(p, tensor, b, spans, mp, &stats);
    const auto e = element_interference(ref_base_, in, tensor, p, pool2_, {});
    QCOMPARE(e.merged_delta.size(), merged.size());
    for (std::size_t j = 0; j < merged.size(); ++j) QCOMPARE(e.merged_delta[j], merged[j] - b[j]);
    Counts contributed(in.size(), 0);
    for (const std::uint32_t bits : e.contributes)
      for (std::size_t i = 0; i < in.size(); ++i) contributed[i] += (bits >> i) & 1u;
    QCOMPARE(contributed, stats.contributed);
  }

  // The numpy reference: every tensor, block (names and model order) and the model.
  void reference_data() {
    QTest::addColumn<QString>("scores");
    QTest::addColumn<int>("threads");
    QTest::newRow("|tau|, 1 thread") << "magnitude" << 1;
    QTest::newRow("|tau|, 2 threads") << "magnitude" << 2;
    QTest::newRow("magnitude criterion") << "overlap_magnitude" << 2;
  }
  void reference() {
    QFETCH(QString, scores);
    QFETCH(int, threads);
    InterferenceOptions o;
    o.top_fraction = ref_["top_fraction"].toDouble();
    if (scores == "overlap_magnitude") {
      const Criterion& c = CriterionRegistry::builtin().get("magnitude");
      for (const auto& m : ref_models_) {
        TensorSelection all;
        all.all_tensors = true;
        o.overlap_scores.push_back(make_score_field(m, select_tensors(m, all), c, {}));
      }
    }
    const auto r = analyze_interference(ref_base_, reference_models(), o, threads == 1 ? pool1_ : pool2_, {});
    const auto expected = ref_[scores].toObject();
    const auto tensors = expected["tensors"].toArray();
    QCOMPARE(r.tensors.size(), static_cast<std::size_t>(tensors.size()));  // "steps" (I64) is left out
    for (std::size_t t = 0; t < r.tensors.size(); ++t) {
      const auto e = tensors[static_cast<int>(t)].toObject();
      QCOMPARE(QString::fromStdString(r.tensors[t].name), e["name"].toString());
      QCOMPARE(QString::fromStdString(r.tensor_blocks[t]), e["block"].toString());
      compare_stats(r.tensors[t], e, e["name"].toString());
    }
    const auto blocks = expected["blocks"].toArray();
    QCOMPARE(r.blocks.size(), static_cast<std::size_t>(blocks.size()));
    for (std::size_t b = 0; b < r.blocks.size(); ++b) {
      const auto e = blocks[static_cast<int>(b)].toObject();
      QCOMPARE(QString::fromStdString(r.blocks[b].name), e["name"].toString());
      compare_stats(r.blocks[b], e, "block " + e["name"].toString());
    }
    compare_stats(r.overall, expected["overall"].toObject(), "overall");
    const auto mags = expected["magnitudes"].toArray();
    for (std::size_t i = 0; i < r.magnitudes.size(); ++i) {
      const auto m = mags[static_cast<int>(i)].toObject();
      Counts counts;
      for (const auto& c : m["counts"].toArray()) counts.push_back(c.toInteger());
      QCOMPARE(r.magnitudes[i].counts, counts);
      QCOMPARE(r.magnitudes[i].zeros, m["zeros"].toInteger());
      QCOMPARE(r.magnitudes[i].nans, m["nans"].toInteger());
    }
    QCOMPARE(r.models.size(), std::size_t{3});
    QCOMPARE(r.top_fraction, o.top_fraction);
  }

  void reference_elements() {
    const auto e = ref_["elements"].toObject();
    std::vector<MergeInput> in;
    for (const auto& m : ref_models_) {
      MergeModelParams p;
      p.density = e["density"].toDouble();
      in.push_back({&m, p});
    }
    const auto r = element_interference(ref_base_, in, e["tensor"].toString().toStdString(),
                                        default_merge_params(MergeMethod::Ties), pool2_, {});
    const auto check = [](const auto& got, const QJsonArray& want, const char* what) {
      QVERIFY2(got.size() == static_cast<std::size_t>(want.size()), what);
      for (std::size_t j = 0; j < got.size(); ++j)
        QVERIFY2(same(static_cast<double>(got[j]), want[static_cast<int>(j)].toDouble(), 1e-6),
                 qPrintable(QString("%1[%2]").arg(what).arg(j)));
    };
    check(r.elected_sign, e["elected_sign"].toArray(), "elected_sign");
    check(r.disagree, e["disagree"].toArray(), "disagree");
    check(r.dominant, e["dominant"].toArray(), "dominant");
    check(r.contributes, e["contributes"].toArray(), "contributes");
    check(r.merged_delta, e["merged_delta"].toArray(), "merged_delta");
  }

  // Blocks are the sums of their tensors; the model the sum of everything.
  void aggregation() {
    const auto r = analyze_interference(ref_base_, reference_models(), {}, pool2_, {});
    std::map<std::string, InterferenceStats> by_block;
    InterferenceStats all;
    for (std::size_t t = 0; t < r.tensors.size(); ++t) {
      by_block[r.tensor_blocks[t]] += r.tensors[t];
      all += r.tensors[t];
    }
    QCOMPARE(r.blocks.size(), by_block.size());
    for (const auto& b : r.blocks) {
      InterferenceStats& e = by_block[b.name];
      e.name = b.name;
      expect_equal(b, e, 1e-12);
    }
    expect_equal(r.overall, all, 1e-12);
    std::int64_t numel = 0;
    for (const auto& b : r.blocks) numel += b.numel;
    QCOMPARE(r.overall.numel, numel);
  }

  // Scores given per model replace |tau|: NaN scores are never in the top-k; |tau| as scores
  // changes nothing; scores missing for a tensor fall back to |tau|.
  void overlap_scores() {
    InterferenceOptions o;
    o.top_fraction = 0.25;
    const auto plain = analyze_interference(base_, hand(), o, pool2_, {});
    std::vector<Floats> abs_tau = {kTau0, kTau1, kTau2};
    for (auto& v : abs_tau)
      for (float& f : v) f = std::fabs(f);
    for (const auto& v : abs_tau) o.overlap_scores.push_back(make_memory_score_field({"w"}, {{8}}, {v}));
    expect_equal(analyze_interference(base_, hand(), o, pool2_, {}).overall, plain.overall, 0);

    // Model 0 ranks by position (last two entries), model 1 has only NaN, model 2 scores another tensor.
    o.overlap_scores = {make_memory_score_field({"w"}, {{8}}, {{0, 1, 2, 3, 4, 5, 6, 7}}),
                        make_memory_score_field({"w"}, {{8}}, {Floats(8, std::nanf(""))}),
                        make_memory_score_field({"other"}, {{8}}, {Floats(8, 1.0f)})};
    const auto r = analyze_interference(base_, hand(), o, pool2_, {});
    const auto& s = r.overall;
    QCOMPARE(s.models[0].top, std::int64_t{2});  // entries 6 and 7
    QCOMPARE(s.models[1].top, std::int64_t{0});
    QCOMPARE(s.models[2].top, std::int64_t{2});  // |tau|: entries 2 and 4
    QCOMPARE(s.models[0].top_conflicts, std::int64_t{1});  // entry 6: +1 against model 1's -1
    QCOMPARE(s.pairs[1].sums.top_both, std::int64_t{0});
    QCOMPARE(s.pairs[1].sums.top_either, std::int64_t{4});
    QCOMPARE(s.pairs[0].sums.top_either, std::int64_t{2});

    o.overlap_scores.pop_back();
    QCOMPARE(kind_of([&] { analyze_interference(base_, hand(), o, pool2_, {}); }), Error::Kind::Usage);
    o.overlap_scores = {make_memory_score_field({"w"}, {{4}}, {Floats(4, 1.0f)}), o.overlap_scores[0],
                        o.overlap_scores[1]};
    std::string msg;
    QCOMPARE(kind_of([&] { analyze_interference(base_, hand(), o, pool2_, {}); }, &msg), Error::Kind::Usage);
    QVERIFY2(msg.find("'w'") != std::string::npos, msg.c_str());
  }

  // The same numbers for 1 or 2 threads (exactly) and any chunk size (counts exactly).
  void threads_and_chunks_data() {
    QTest::addColumn<qint64>("chunk");
    QTest::newRow("chunk 1") << qint64{1};
    QTest::newRow("chunk 7") << qint64{7};
    QTest::newRow("chunk 100") << qint64{100};
    QTest::newRow("default") << qint64{interference_detail::kDefaultChunk};
  }
  void threads_and_chunks() {
    QFETCH(qint64, chunk);
    InterferenceOptions o;
    o.top_fraction = 0.3;
    const auto one = interference_detail::analyze(ref_base_, reference_models(), o, pool1_, {}, chunk);
    const auto two = interference_detail::analyze(ref_base_, reference_models(), o, pool2_, {}, chunk);
    const auto ref = analyze_interference(ref_base_, reference_models(), o, pool2_, {});
    for (std::size_t t = 0; t < one.tensors.size(); ++t) {
      expect_equal(one.tensors[t], two.tensors[t], 0);
      expect_equal(one.tensors[t], ref.tensors[t], 1e-12);
    }
    expect_equal(one.overall, two.overall, 0);
    for (std::size_t i = 0; i < one.magnitudes.size(); ++i) {
      QCOMPARE(one.magnitudes[i].counts, ref.magnitudes[i].counts);
      QCOMPARE(one.magnitudes[i].zeros, ref.magnitudes[i].zeros);
    }
  }

  void include_exclude() {
    InterferenceOptions o;
    o.include = {"model.layers.*"};
    o.exclude = {"*norm*"};
    const auto r = analyze_interference(ref_base_, reference_models(), o, pool2_, {});
    QCOMPARE(r.tensors.size(), std::size_t{4});
    QCOMPARE(r.blocks.size(), std::size_t{2});
    QCOMPARE(r.blocks[0].name, std::string("model.layers.0"));
    QCOMPARE(r.overall.numel, std::int64_t{2 * (16 * 16 + 24 * 16)});
  }

  // log10 |tau| bins of width 0.1 from -8 to 1: below and above the range go to the ends.
  void magnitude_bins_data() {
    QTest::addColumn<float>("value");
    QTest::addColumn<int>("bin");
    QTest::newRow("1e-12 (below)") << 1e-12f << 0;
    QTest::newRow("1e-8") << 1.0001e-8f << 0;
    QTest::newRow("0.5") << 0.5f << 76;   // log10 = -0.301
    QTest::newRow("-0.5") << -0.5f << 76;
    QTest::newRow("1") << 1.0f << 80;
    QTest::newRow("0.99999") << 0.99999f << 79;
    QTest::newRow("3e-3") << 3e-3f << 54;  // log10 = -2.523
    QTest::newRow("10 (above)") << 10.0f << 89;
    QTest::newRow("inf") << std::numeric_limits<float>::infinity() << 89;
    QTest::newRow("subnormal") << 1e-40f << 0;
  }
  void magnitude_bins() {
    QFETCH(float, value);
    QFETCH(int, bin);
    MagnitudeHistogram h;
    const interference_detail::MagnitudeBinner binner(h);
    binner.add(h, value);
    QCOMPARE(h.counts[static_cast<std::size_t>(bin)], std::int64_t{1});
    binner.add(h, 0.0f);
    binner.add(h, std::nanf(""));
    QCOMPARE(h.zeros, std::int64_t{1});
    QCOMPARE(h.nans, std::int64_t{1});
  }

  // Every float against log10 in double, over a sweep of magnitudes.
  void magnitude_bins_sweep() {
    MagnitudeHistogram h;
    const interference_detail::MagnitudeBinner binner(h);
    for (float v = 1e-9f; v < 20.0f; v *= 1.0007f) {
      const double l = std::log10(static_cast<double>(v));
      const auto expect = static_cast<std::size_t>(std::clamp(std::floor((l + 8) / 0.1), 0.0, 89.0));
      const std::size_t got = binner.bin(v);
      // Within a few ulps of an edge, log10's rounding may differ: allow a neighbour there.
      const double frac = (l + 8) / 0.1 - std::floor((l + 8) / 0.1);
      if (frac > 1e-9 && frac < 1 - 1e-9) QCOMPARE(got, expect);
    }
  }

  // The array form agrees with add() one value at a time on every special value: zeros of both
  // signs, subnormals, inf and NaNs that share inf's top 16 bits or not.
  void magnitude_bins_array() {
    const std::uint32_t bits[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x0000FFFFu, 0x00010000u, 0x7F800000u,
                                  0xFF800000u, 0x7F800001u, 0x7FC00000u, 0xFFC00000u, 0x7F80FFFFu, 0x3F800000u,
                                  0x3B449BA6u, 0xBB449BA6u, 0x4E6E6B28u};
    std::vector<float> v;
    for (int rep = 0; rep < 3; ++rep)  // odd and even positions
      for (const auto b : bits) v.push_back(std::bit_cast<float>(b));
    MagnitudeHistogram one, all;
    const interference_detail::MagnitudeBinner binner(one);
    for (const float x : v) binner.add(one, x);
    binner.add(all, v.data(), v.size());
    QCOMPARE(all.counts, one.counts);
    QCOMPARE(all.zeros, std::int64_t{6});
    QCOMPARE(all.nans, std::int64_t{12});
    QCOMPARE(all.nans, one.nans);
    QCOMPARE(all.zeros, one.zeros);
  }

  // select_top_cuts against a full sort by (value desc, tie hash asc), on values with large tie
  // classes and NaN, for several k: the window over the tie hashes and the exact fallback passes
  // (forced with an empty window) give the same cuts, and each keeps exactly min(k, non-NaN).
  void top_cuts_data() {
    QTest::addColumn<double>("fraction");
    QTest::newRow("1%") << 0.01;
    QTest::newRow("20%") << 0.2;
    QTest::newRow("73%") << 0.73;
    QTest::newRow("99%, beyond the non-NaN") << 0.99;
  }
  void top_cuts() {
    QFETCH(double, fraction);
    constexpr std::size_t kModels = 3;
    constexpr std::int64_t kNumel = 150001, kChunk = 4096;
    std::vector<std::vector<float>> value(kModels, std::vector<float>(kNumel));
    for (std::size_t i = 0; i < kModels; ++i)
      for (std::int64_t j = 0; j < kNumel; ++j) {
        const std::uint64_t h = merge_detail::tie_hash(99 + i, j);
        value[i][static_cast<std::size_t>(j)] =
            h % 97 == 0 ? std::nanf("") : static_cast<float>(h % (7 + 5 * i)) * (i == 1 ? -0.25f : 0.5f);
      }
    const interference_detail::ChunkRanks ranks = [&](std::int64_t first, std::int64_t n, const std::vector<char>& want,
                                                      float* const* out, std::vector<float>&) {
      for (std::size_t i = 0; i < kModels; ++i)
        if (want[i]) std::copy_n(value[i].begin() + first, n, out[i]);
    };
    const auto k = static_cast<std::int64_t>(fraction * kNumel);
    const JobControl control;
    ProgressTracker tracker(control, 0);
    const auto fast = interference_detail::select_top_cuts(kModels, kNumel, k, kChunk, ranks, pool2_, tracker);
    const auto exact =
        interference_detail::select_top_cuts(kModels, kNumel, k, kChunk, ranks, pool2_, tracker, {0, 0});
    for (std::size_t i = 0; i < kModels; ++i) {
      QCOMPARE(fast[i].key, exact[i].key);
      QCOMPARE(fast[i].ties, exact[i].ties);
      QCOMPARE(fast[i].hash_last, exact[i].hash_last);
      // The reference: non-NaN entries sorted by value descending, then tie hash ascending.
      std::vector<std::int64_t> order;
      for (std::int64_t j = 0; j < kNumel; ++j)
        if (!std::isnan(value[i][static_cast<std::size_t>(j)])) order.push_back(j);
      const std::uint64_t key = merge_detail::tie_key(i);
      std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        const float va = value[i][static_cast<std::size_t>(a)], vb = value[i][static_cast<std::size_t>(b)];
        if (va != vb) return va > vb;
        return merge_detail::tie_hash(key, a) < merge_detail::tie_hash(key, b);
      });
      const auto kept = std::min<std::size_t>(static_cast<std::size_t>(k), order.size());
      std::vector<std::uint8_t> expect(kNumel, 0), got(kNumel, 0);
      for (std::size_t r = 0; r < kept; ++r) expect[static_cast<std::size_t>(order[r])] = 1;
      std::size_t marked = 0;
      for (std::int64_t first = 0; first < kNumel; first += kChunk) {
        const auto n = static_cast<std::size_t>(std::min(kChunk, kNumel - first));
        marked += fast[i].mark(value[i].data() + first, n, first, got.data() + first);
      }
      QCOMPARE(marked, kept);
      QVERIFY(got == expect);
    }
  }

  void errors() {
    std::string msg;
    QCOMPARE(kind_of([&] { analyze_interference(base_, {&m0_}, {}, pool2_, {}); }, &msg), Error::Kind::Usage);
    QVERIFY2(msg.find("two") != std::string::npos, msg.c_str());
    for (const double bad : {0.0, -0.1, 1.5, kNaN}) {
      InterferenceOptions o;
      o.top_fraction = bad;
      QCOMPARE(kind_of([&] { analyze_interference(base_, hand(), o, pool2_, {}); }), Error::Kind::Usage);
    }
    QCOMPARE(kind_of([&] { analyze_interference(base_, {&m0_, &wide_}, {}, pool2_, {}); }, &msg),
             Error::Kind::BadInput);
    QVERIFY2(msg.find("wide.safetensors") != std::string::npos && msg.find("'w'") != std::string::npos,
             msg.c_str());
    QCOMPARE(kind_of([&] { analyze_interference(ref_base_, {&m0_, &m1_}, {}, pool2_, {}); }, &msg),
             Error::Kind::BadInput);
    QVERIFY2(msg.find("m0.safetensors") != std::string::npos, msg.c_str());
    InterferenceOptions none;
    none.include = {"nothing*"};
    QCOMPARE(kind_of([&] { analyze_interference(base_, hand(), none, pool2_, {}); }), Error::Kind::Usage);
    CancelToken cancel;
    cancel.cancel();
    QCOMPARE(kind_of([&] { analyze_interference(base_, hand(), {}, pool2_, {&cancel, {}}); }),
             Error::Kind::Cancelled);

    std::vector<MergeInput> in = {{&m0_, {}}, {&m1_, {}}};
    const MergeParams ties = default_merge_params(MergeMethod::Ties);
    QCOMPARE(kind_of([&] { element_interference(base_, in, "nope", ties, pool2_, {}); }, &msg), Error::Kind::Usage);
    QVERIFY2(msg.find("nope") != std::string::npos, msg.c_str());
    QCOMPARE(kind_of([&] { element_interference(base_, {{&m0_, {}}}, "w", ties, pool2_, {}); }), Error::Kind::Usage);
    const std::vector<MergeInput> many(33, MergeInput{&m0_, {}});
    QCOMPARE(kind_of([&] { element_interference(base_, many, "w", ties, pool2_, {}); }), Error::Kind::Usage);
    in[1].params.density = 1.5;
    QCOMPARE(kind_of([&] { element_interference(base_, in, "w", ties, pool2_, {}); }), Error::Kind::Usage);
    in[1] = {&wide_, {}};
    QCOMPARE(kind_of([&] { element_interference(base_, in, "w", ties, pool2_, {}); }, &msg), Error::Kind::BadInput);
    QVERIFY2(msg.find("wide.safetensors") != std::string::npos, msg.c_str());
    in[1] = {&ref_models_[0], {}};
    QCOMPARE(kind_of([&] { element_interference(base_, in, "w", ties, pool2_, {}); }, &msg), Error::Kind::BadInput);
    QVERIFY2(msg.find("ft0.safetensors") != std::string::npos, msg.c_str());
  }
};

QTEST_GUILESS_MAIN(TestInterference)
#include "test_interference.moc"
