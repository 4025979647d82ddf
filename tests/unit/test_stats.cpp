// Streaming statistics: hand-checked values, NaN/Inf handling, chunk merging, and the worker pool.
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/stats.h"
#include "paramscope/writers.h"
#include "stats/block_sums.h"

using namespace paramscope;

class TestStats : public QObject {
  Q_OBJECT
 private slots:
  void hand_checked() {
    const float v[] = {1, 2, 3, 4, -10};
    const TensorStats s = stats_of(v, 5);
    QCOMPARE(s.finite, std::int64_t{5});
    QCOMPARE(s.min, -10.0);
    QCOMPARE(s.max, 4.0);
    QCOMPARE(s.mean, 0.0);
    QCOMPARE(s.abs_mean, 4.0);
    QVERIFY(std::fabs(s.std - std::sqrt(26.0)) < 1e-12);  // (1+4+9+16+100)/5 = 26
  }

  void nan_and_inf_are_counted_not_used() {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const float v[] = {nan, 2, -inf, 4, inf, nan, nan};
    const TensorStats s = stats_of(v, 7);
    QCOMPARE(s.nan, std::int64_t{3});
    QCOMPARE(s.inf, std::int64_t{2});
    QCOMPARE(s.finite, std::int64_t{2});
    QCOMPARE(s.mean, 3.0);
    QCOMPARE(s.min, 2.0);
    QCOMPARE(s.max, 4.0);
    QCOMPARE(s.std, 1.0);
  }

  void all_nan() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float v[] = {nan, nan};
    const TensorStats s = stats_of(v, 2);
    QCOMPARE(s.finite, std::int64_t{0});
    QCOMPARE(s.nan, std::int64_t{2});
    QCOMPARE(s.mean, 0.0);
  }

  // The score reductions' kernel: the same sums as sum_block's, bit for bit, for lengths around
  // its 8-wide loop, and non-finite sums wherever a NaN or Inf sits.
  void score_sums_match_block_sums_data() {
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("bad_at");  // -1: none
    QTest::addColumn<float>("bad");
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    QTest::newRow("empty") << 0 << -1 << 0.0f;
    QTest::newRow("tail only") << 7 << -1 << 0.0f;
    QTest::newRow("one loop") << 8 << -1 << 0.0f;
    QTest::newRow("loop and tail") << 4099 << -1 << 0.0f;
    QTest::newRow("nan in loop") << 4099 << 17 << nan;
    QTest::newRow("nan in tail") << 4099 << 4098 << nan;
    QTest::newRow("inf in loop") << 64 << 3 << inf;
  }
  void score_sums_match_block_sums() {
    QFETCH(int, n);
    QFETCH(int, bad_at);
    QFETCH(float, bad);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = dist(rng);
    if (bad_at >= 0) v[static_cast<std::size_t>(bad_at)] = bad;
    const ScoreSums s = sum_scores(v.data(), n);
    const BlockSums b = sum_block(v.data(), n, 0.0);
    if (bad_at >= 0) {
      QVERIFY(!std::isfinite(s.sum) || !std::isfinite(s.sq));
      return;
    }
    QCOMPARE(s.sum, b.sum);
    QCOMPARE(s.sq, b.sq);
    QCOMPARE(s.max, n ? b.max : -std::numeric_limits<float>::infinity());
    double sum = 0, sq = 0;
    for (float x : v) {
      sum += x;
      sq += static_cast<double>(x) * x;
    }
    QVERIFY(std::fabs(s.sum - sum) <= 1e-12);
    QVERIFY(std::fabs(s.sq - sq) <= 1e-12 * std::max(1.0, sq));
  }

  void score_sums_hand_checked() {
    const float v[] = {1, -2, 3, 0.5f, 4, -1, 2, 1, 10};
    const ScoreSums s = sum_scores(v, 9);
    QCOMPARE(s.sum, 18.5);
    QCOMPARE(s.sq, 136.25);  // 1+4+9+0.25+16+1+4+1+100
    QCOMPARE(s.max, 10.0f);
  }

  void precision_far_from_zero() {
    // LayerNorm weights: mean 1, tiny spread; naive sum-of-squares loses all digits in float.
    std::vector<float> v(100001);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 1.0f + (i % 2 ? 1e-4f : -1e-4f);
    const TensorStats s = stats_of(v.data(), static_cast<std::int64_t>(v.size()));
    QVERIFY(std::fabs(s.std - 1e-4) < 1e-7);
  }

  void merge_equals_whole() {
    std::mt19937 rng(7);
    std::normal_distribution<float> d(3.0f, 2.0f);
    std::vector<float> v(10007);
    for (auto& x : v) x = d(rng);
    v[5] = std::numeric_limits<float>::quiet_NaN();
    const TensorStats whole = stats_of(v.data(), static_cast<std::int64_t>(v.size()));
    TensorStats parts;
    for (std::size_t i = 0; i < v.size(); i += 333)
      parts.merge(stats_of(v.data() + i, static_cast<std::int64_t>(std::min<std::size_t>(333, v.size() - i))));
    QCOMPARE(parts.finite, whole.finite);
    QCOMPARE(parts.nan, std::int64_t{1});
    QVERIFY(std::fabs(parts.mean - whole.mean) < 1e-9);
    QVERIFY(std::fabs(parts.std - whole.std) < 1e-9);
    QCOMPARE(parts.min, whole.min);
    QCOMPARE(parts.max, whole.max);
    // Two-pass reference in double.
    double sum = 0, n = 0;
    for (float x : v)
      if (std::isfinite(x)) sum += x, n += 1;
    const double mean = sum / n;
    double sq = 0;
    for (float x : v)
      if (std::isfinite(x)) sq += (x - mean) * (x - mean);
    QVERIFY(std::fabs(whole.mean - mean) < 1e-9);
    QVERIFY(std::fabs(whole.std - std::sqrt(sq / n)) < 1e-7);
  }

  void checkpoint_on_pool_with_progress_and_cancel() {
    QTemporaryDir tmp;
    const auto path = std::filesystem::path(tmp.path().toStdString()) / "s.safetensors";
    std::vector<float> a(300000), b(7);
    std::iota(a.begin(), a.end(), 0.0f);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) - 3;
    write_safetensors(path, {TensorToWrite::from_floats("a", DType::F32, {300, 1000}, a),
                             TensorToWrite::from_floats("b", DType::BF16, {7}, b)});
    const Checkpoint c = open_checkpoint(path);
    ThreadPool pool(2);
    std::atomic<std::uint64_t> last{0}, total{0};
    JobControl control{nullptr, [&](std::uint64_t d, std::uint64_t t) { last = d, total = t; }};
    const auto stats = compute_stats(c, pool, control);
    QCOMPARE(last.load(), std::uint64_t{300007});
    QCOMPARE(total.load(), std::uint64_t{300007});
    QCOMPARE(stats[0].mean, 149999.5);
    QCOMPARE(stats[0].max, 299999.0);
    QVERIFY(std::fabs(stats[0].std - std::sqrt((300000.0 * 300000.0 - 1) / 12)) < 1e-3);
    QCOMPARE(stats[1].mean, 0.0);
    QCOMPARE(stats[1].std, 2.0);

    CancelToken cancel;
    cancel.cancel();
    JobControl cancelled{&cancel, {}};
    QVERIFY_THROWS_EXCEPTION(Error, compute_stats(c, pool, cancelled));
  }
};

QTEST_GUILESS_MAIN(TestStats)
#include "test_stats.moc"
