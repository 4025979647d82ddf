// Spectral metrics: hand-checked small matrices, numpy references (tests/tools/
// make_spectral_reference.py: numpy.linalg.svd and a numpy port of WeightWatcher's power-law fit),
// conv layouts, bf16 input, errors, and concurrent calls.
#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/jobs.h"
#include "paramscope/spectral.h"
#include "paramscope/writers.h"
#include "tensor/tensor_source.h"
#include "test_paths.h"

using namespace paramscope;

namespace {

Tensor f32_tensor(const std::string& name, const Shape& shape, const std::vector<float>& v) {
  std::vector<std::byte> bytes(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());  // empty: data() may be null
  return Tensor(name, DType::F32, shape, detail::make_owned_source(std::move(bytes), DType::F32, "memory"));
}

// A little-endian, C-order .npy of float32 or float64 (what the reference script writes).
struct Npy {
  Shape shape;
  std::vector<double> values;
};

Npy load_npy(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> b{std::istreambuf_iterator<char>(in), {}};
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0 || b[6] != 1) qFatal("%s: not NPY 1.x", p.c_str());
  const std::size_t header_len = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
  const std::string header(b.data() + 10, header_len);
  const bool f64 = header.find("'<f8'") != std::string::npos;
  if (!f64 && header.find("'<f4'") == std::string::npos) qFatal("%s: not float32/64", p.c_str());
  if (header.find("'fortran_order': False") == std::string::npos) qFatal("%s: Fortran order", p.c_str());
  Npy n;
  const auto open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  for (std::size_t pos = 0; pos < dims.size();) {
    const auto comma = dims.find(',', pos);
    const std::string d = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (d.find_first_of("0123456789") != std::string::npos) n.shape.push_back(std::stoll(d));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const std::size_t count = static_cast<std::size_t>(numel(n.shape)), width = f64 ? 8 : 4;
  const char* data = b.data() + 10 + header_len;
  if (b.size() != 10 + header_len + count * width) qFatal("%s: size mismatch", p.c_str());
  n.values.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (f64) {
      std::memcpy(&n.values[i], data + 8 * i, 8);
    } else {
      float f;
      std::memcpy(&f, data + 4 * i, 4);
      n.values[i] = f;
    }
  }
  return n;
}

std::vector<float> as_floats(const std::vector<double>& v) {
  return {v.begin(), v.end()};
}

bool close(double a, double b, double rel, double abs = 0) {
  return std::fabs(a - b) <= abs + rel * std::fabs(b);
}

#define EXPECT_CLOSE(a, b, rel)    \
  QVERIFY2(close((a), (b), (rel)), \
           qPrintable(QString("%1 = %2, expected %3").arg(#a).arg((a), 0, 'g', 17).arg((b), 0, 'g', 17)))

// Compares every field with a reference (singular values to 1e-9 of sigma_max: the Gram method's
// error on these spectra is about 1e-13; the fit is deterministic given the eigenvalues).
void compare(const SpectralMetrics& m, const QJsonObject& e) {
  QCOMPARE(m.rows, static_cast<std::int64_t>(e["rows"].toInteger()));
  QCOMPARE(m.cols, static_cast<std::int64_t>(e["cols"].toInteger()));
  QCOMPARE(m.matrices, static_cast<std::int64_t>(e["matrices"].toInteger()));
  const QJsonArray sv = e["singular_values"].toArray();
  QCOMPARE(m.singular_values.size(), static_cast<std::size_t>(sv.size()));
  const double smax = sv[0].toDouble();
  for (qsizetype i = 0; i < sv.size(); ++i)
    QVERIFY2(std::fabs(m.singular_values[static_cast<std::size_t>(i)] - sv[i].toDouble()) <= 1e-9 * smax,
             qPrintable(QString("sigma_%1 = %2, expected %3")
                            .arg(i)
                            .arg(m.singular_values[static_cast<std::size_t>(i)], 0, 'g', 17)
                            .arg(sv[i].toDouble(), 0, 'g', 17)));
  EXPECT_CLOSE(m.frobenius, e["frobenius"].toDouble(), 1e-12);
  EXPECT_CLOSE(m.spectral_norm, e["spectral_norm"].toDouble(), 1e-12);
  EXPECT_CLOSE(m.stable_rank, e["stable_rank"].toDouble(), 1e-10);
  EXPECT_CLOSE(m.effective_rank, e["effective_rank"].toDouble(), 1e-10);
  EXPECT_CLOSE(m.alpha, e["alpha"].toDouble(), 1e-9);
  EXPECT_CLOSE(m.xmin, e["xmin"].toDouble(), 1e-10);
  EXPECT_CLOSE(m.ks_distance, e["ks_distance"].toDouble(), 1e-8);
  EXPECT_CLOSE(m.alpha_weighted, e["alpha_weighted"].toDouble(), 1e-9);
  QCOMPARE(m.tail_size, static_cast<std::int64_t>(e["tail_size"].toInteger()));
}

// [out, in, kh, kw] -> [kh, kw, in, out] (Keras's layout).
std::vector<float> to_keras(const std::vector<float>& w, const Shape& s) {
  std::vector<float> k(w.size());
  for (std::int64_t o = 0; o < s[0]; ++o)
    for (std::int64_t i = 0; i < s[1]; ++i)
      for (std::int64_t y = 0; y < s[2]; ++y)
        for (std::int64_t x = 0; x < s[3]; ++x)
          k[static_cast<std::size_t>(((y * s[3] + x) * s[1] + i) * s[0] + o)] =
              w[static_cast<std::size_t>(((o * s[1] + i) * s[2] + y) * s[3] + x)];
  return k;
}

std::vector<float> random_matrix(std::int64_t rows, std::int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (float& x : v) x = d(rng);
  return v;
}

Error::Kind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return Error::Kind::Cancelled;  // "no error": no call here can be cancelled
}

}  // namespace

class TestSpectral : public QObject {
  Q_OBJECT
 private slots:
  void diagonal_hand_checked() {
    // diag(3, 2, 1): sigma = 3, 2, 1; ||W||_F^2 = 14; lambda = 9, 4, 1.
    const std::vector<float> w = {3, 0, 0, 0, 2, 0, 0, 0, 1};
    const SpectralMetrics m = spectral_metrics(f32_tensor("d", {3, 3}, w));
    QCOMPARE(m.singular_values.size(), std::size_t{3});
    EXPECT_CLOSE(m.singular_values[0], 3.0, 1e-14);
    EXPECT_CLOSE(m.singular_values[1], 2.0, 1e-14);
    EXPECT_CLOSE(m.singular_values[2], 1.0, 1e-14);
    EXPECT_CLOSE(m.frobenius, std::sqrt(14.0), 1e-15);
    EXPECT_CLOSE(m.spectral_norm, 3.0, 1e-14);
    EXPECT_CLOSE(m.stable_rank, 14.0 / 9.0, 1e-14);
    const double p[] = {0.5, 1.0 / 3, 1.0 / 6};
    EXPECT_CLOSE(m.effective_rank, std::exp(-(p[0] * std::log(p[0]) + p[1] * std::log(p[1]) + p[2] * std::log(p[2]))),
                 1e-13);
    // Fit over lambda = 1, 4, 9. xmin = 1: alpha = 1 + 3 / ln(36); the theoretical CDF at 4 and 9
    // is 1 - 4^(1-alpha), 1 - 9^(1-alpha), the empirical one 1/3, 2/3. xmin = 4: alpha = 1 + 2 /
    // ln(9/4), D = 1 - (9/4)^(1-alpha) - 1/2. The smaller D (xmin = 1) wins.
    const double a1 = 1 + 3 / std::log(36.0);
    const double d1 =
        std::max(std::fabs(1 - std::pow(4.0, 1 - a1) - 1.0 / 3), std::fabs(1 - std::pow(9.0, 1 - a1) - 2.0 / 3));
    const double a4 = 1 + 2 / std::log(9.0 / 4);
    const double d4 = std::fabs(1 - std::pow(9.0 / 4, 1 - a4) - 0.5);
    QVERIFY(d1 < d4);  // 0.3532 < 0.3647
    EXPECT_CLOSE(m.alpha, a1, 1e-12);
    EXPECT_CLOSE(m.ks_distance, d1, 1e-12);
    EXPECT_CLOSE(m.xmin, 1.0, 1e-14);
    QCOMPARE(m.tail_size, std::int64_t{3});
    EXPECT_CLOSE(m.alpha_weighted, a1 * std::log10(9.0), 1e-12);
  }

  void rank_one() {
    // u v^T with |u| = 3 (u = (1, 2, 2)), |v| = 5 (v = (3, 4, 0, 0)): sigma = 15, 0, 0.
    const float u[] = {1, 2, 2}, v[] = {3, 4, 0, 0};
    std::vector<float> w;
    for (float a : u)
      for (float b : v) w.push_back(a * b);
    const SpectralMetrics m = spectral_metrics(f32_tensor("r1", {3, 4}, w));
    QCOMPARE(m.rows, std::int64_t{3});
    QCOMPARE(m.cols, std::int64_t{4});
    QCOMPARE(m.singular_values.size(), std::size_t{3});
    EXPECT_CLOSE(m.singular_values[0], 15.0, 1e-14);
    QVERIFY(m.singular_values[1] < 1e-6 && m.singular_values[2] < 1e-6);
    EXPECT_CLOSE(m.stable_rank, 1.0, 1e-12);
    EXPECT_CLOSE(m.effective_rank, 1.0, 1e-6);
    QCOMPARE(m.alpha, 0.0);  // one eigenvalue above the floor: no fit
    QCOMPARE(m.tail_size, std::int64_t{0});
  }

  void orthogonal_data() {
    QTest::addColumn<int>("n");
    QTest::newRow("rotation 2") << 2;
    QTest::newRow("hadamard 4") << 4;
    QTest::newRow("hadamard 8") << 8;
  }
  void orthogonal() {
    QFETCH(int, n);
    std::vector<float> w(static_cast<std::size_t>(n * n));
    if (n == 2) {
      const float c = std::cos(0.3f), s = std::sin(0.3f);
      w = {c, -s, s, c};
    } else {  // Sylvester Hadamard / sqrt(n)
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
          w[static_cast<std::size_t>(i * n + j)] =
              (std::popcount(static_cast<unsigned>(i & j)) % 2 ? -1.0f : 1.0f) / std::sqrt(static_cast<float>(n));
    }
    const SpectralMetrics m = spectral_metrics(f32_tensor("q", {n, n}, w));
    for (double s : m.singular_values) EXPECT_CLOSE(s, 1.0, 1e-6);
    EXPECT_CLOSE(m.effective_rank, static_cast<double>(n), 1e-6);
    EXPECT_CLOSE(m.stable_rank, static_cast<double>(n), 1e-6);
  }

  void zero_and_empty() {
    const SpectralMetrics z = spectral_metrics(f32_tensor("z", {4, 3}, std::vector<float>(12, 0.0f)));
    QCOMPARE(z.singular_values, std::vector<double>(3, 0.0));
    QCOMPARE(z.stable_rank, 0.0);
    QCOMPARE(z.effective_rank, 0.0);
    QCOMPARE(z.alpha, 0.0);
    const SpectralMetrics e = spectral_metrics(f32_tensor("e", {0, 5}, {}));
    QCOMPARE(e.rows, std::int64_t{0});
    QCOMPARE(e.cols, std::int64_t{5});
    QVERIFY(e.singular_values.empty());
    QCOMPARE(singular_values({}, 0, 7), std::vector<double>{});
  }

  void tall_and_wide_agree() {
    // W and W^T take the two branches of the Gram method (W^T W, W W^T) and must agree; both must
    // match the trace identity sum sigma^2 = ||W||_F^2.
    const std::int64_t r = 300, c = 70;  // 300 > 256: more than one block
    const std::vector<float> w = random_matrix(r, c, 5);
    std::vector<float> t(w.size());
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < c; ++j)
        t[static_cast<std::size_t>(j * r + i)] = w[static_cast<std::size_t>(i * c + j)];
    const auto a = singular_values(w, r, c), b = singular_values(t, c, r);
    QCOMPARE(a.size(), std::size_t{70});
    QCOMPARE(b.size(), std::size_t{70});
    for (std::size_t i = 0; i < a.size(); ++i) QVERIFY(std::fabs(a[i] - b[i]) <= 1e-12 * a[0]);
    QVERIFY(std::is_sorted(a.rbegin(), a.rend()));
    double sq = 0, ss = 0;
    for (float x : w) sq += static_cast<double>(x) * x;
    for (double s : a) ss += s * s;
    EXPECT_CLOSE(ss, sq, 1e-12);
  }

  void reference_matrices_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("mode");
    const QJsonObject e = test::read_json(test::data("spectral/expected.json"))["matrices"].toObject();
    QVERIFY(e.size() >= 4);
    for (auto it = e.begin(); it != e.end(); ++it)
      for (const char* mode : {"flatten", "weightwatcher", "keras_flatten", "keras_weightwatcher"}) {
        const QString m = QString(mode).remove("keras_");
        if (it.value().toObject().contains(m) && (!QString(mode).startsWith("keras") || it.key().startsWith("conv")))
          QTest::newRow(qPrintable(it.key() + " " + mode)) << it.key() << QString(mode);
      }
  }
  void reference_matrices() {
    QFETCH(QString, name);
    QFETCH(QString, mode);
    const QJsonObject c = test::read_json(test::data("spectral/expected.json"))["matrices"].toObject()[name].toObject();
    const Npy a = load_npy(test::data("spectral/" + c["file"].toString().toStdString()));
    std::vector<float> w = as_floats(a.values);
    Shape shape = a.shape;
    if (mode.startsWith("keras")) {  // the same kernel stored [kh, kw, in, out] must give the same metrics
      w = to_keras(w, shape);
      shape = {shape[2], shape[3], shape[1], shape[0]};
    }
    SpectralOptions o;
    o.conv = mode.endsWith("weightwatcher") ? ConvMatrices::WeightWatcher : ConvMatrices::Flatten;
    const SpectralMetrics m = spectral_metrics(f32_tensor(name.toStdString(), shape, w), o);
    compare(m, c[mode.remove("keras_")].toObject());
    if (QTest::currentTestFailed()) return;
    if (c.contains("alpha_true")) {
      // Pareto eigenvalues with exponent alpha_true: the fit lands within 3 standard errors
      // ((alpha - 1) / sqrt(n), Clauset et al.) of it.
      const double truth = c["alpha_true"].toDouble();
      QVERIFY2(std::fabs(m.alpha - truth) < 3 * (truth - 1) / std::sqrt(static_cast<double>(m.tail_size)),
               qPrintable(QString("alpha %1 vs %2").arg(m.alpha).arg(truth)));
    }
  }

  void conv_flatten_views_the_matrix() {
    // Flatten on a rank-4 tensor is spectral_metrics of its [out, in*kh*kw] reshape.
    const std::vector<float> w = random_matrix(6, 4 * 3 * 3, 9);
    const auto a = spectral_metrics(f32_tensor("conv", {6, 4, 3, 3}, w));
    const auto b = spectral_metrics(f32_tensor("mat", {6, 36}, w));
    QCOMPARE(a.rows, std::int64_t{6});
    QCOMPARE(a.cols, std::int64_t{36});
    QCOMPARE(a.singular_values, b.singular_values);
    QCOMPARE(a.alpha, b.alpha);
    // Rank 3 (Conv1d [out, in, k]) too, in both modes.
    SpectralOptions ww;
    ww.conv = ConvMatrices::WeightWatcher;
    const auto c = spectral_metrics(f32_tensor("conv1d", {6, 12, 3}, w), ww);
    QCOMPARE(c.singular_values, b.singular_values);
    QCOMPARE(c.matrices, std::int64_t{1});
  }

  void bf16_input() {
    // bf16 on disk, read through the safetensors reader and converted to float on the way.
    const QJsonObject c =
        test::read_json(test::data("spectral/expected.json"))["matrices"].toObject()["heavy_a2.5_192x96"].toObject();
    const Npy a = load_npy(test::data("spectral/" + c["file"].toString().toStdString()));
    const std::vector<float> w = as_floats(a.values);
    QTemporaryDir tmp;
    const auto path = std::filesystem::path(tmp.path().toStdString()) / "w.safetensors";
    write_safetensors(path, {TensorToWrite::from_floats("w", DType::BF16, a.shape, w)});
    const Checkpoint ck = open_checkpoint(path);
    QCOMPARE(ck.tensors()[0].dtype(), DType::BF16);
    const SpectralMetrics m = spectral_metrics(ck.tensors()[0]);
    compare(m, c["bf16"].toObject());
    // bf16 rounding moved the spectrum: the float32 references must not match.
    QVERIFY(m.alpha != c["flatten"].toObject()["alpha"].toDouble());
  }

  void fit_reference() {
    const QJsonObject f =
        test::read_json(test::data("spectral/expected.json"))["fits"].toObject()["pareto_a3"].toObject();
    const Npy a = load_npy(test::data("spectral/" + f["file"].toString().toStdString()));
    QVERIFY(a.values.size() > 2000);
    SpectralMetrics m;
    fit_power_law(a.values, m);
    EXPECT_CLOSE(m.alpha, f["alpha"].toDouble(), 1e-10);
    EXPECT_CLOSE(m.xmin, f["xmin"].toDouble(), 1e-14);
    EXPECT_CLOSE(m.ks_distance, f["ks_distance"].toDouble(), 1e-9);
    EXPECT_CLOSE(m.alpha_weighted, f["alpha_weighted"].toDouble(), 1e-10);
    QCOMPARE(m.tail_size, static_cast<std::int64_t>(f["tail_size"].toInteger()));
    QVERIFY(std::fabs(m.alpha - 3.0) < 3 * 2.0 / std::sqrt(static_cast<double>(m.tail_size)));
    // Order does not matter.
    std::vector<double> reversed(a.values.rbegin(), a.values.rend());
    SpectralMetrics r;
    fit_power_law(reversed, r);
    QCOMPARE(r.alpha, m.alpha);
    QCOMPARE(r.xmin, m.xmin);
  }

  void fit_edge_cases() {
    SpectralMetrics m;
    m.alpha = 7;  // stale values are cleared
    fit_power_law({}, m);
    QCOMPARE(m.alpha, 0.0);
    fit_power_law({5.0}, m);
    QCOMPARE(m.alpha, 0.0);
    fit_power_law({1e-6, 2e-6, 5.0}, m);  // below WeightWatcher's 1e-5 floor: one value left
    QCOMPARE(m.alpha, 0.0);
    fit_power_law({2.0, 2.0, 2.0}, m);  // an all-equal tail: alpha would be infinite
    QCOMPARE(m.alpha, 0.0);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    fit_power_law({1.0, nan, 4.0}, m);  // two values: alpha = 1 + 2 / ln 4, D over {1, 4}
    EXPECT_CLOSE(m.alpha, 1 + 2 / std::log(4.0), 1e-14);
    EXPECT_CLOSE(m.ks_distance, std::fabs(1 - std::pow(4.0, -2 / std::log(4.0)) - 0.5), 1e-14);
    QCOMPARE(m.tail_size, std::int64_t{2});
    // Ties, as WWFit treats them: each copy of a repeated value is its own candidate. Sorted
    // {1, 1, 2, 3, 50}: the second 1 (tail {1, 2, 3, 50}, n = 4, alpha = 1 + 4 / ln 300) has
    // D = 0.1857 < 0.2 of the first (n = 5), < 0.2637 of xmin 2 and < 0.3647 of xmin 3; the tail
    // still counts all 5 eigenvalues >= xmin, as WeightWatcher's num_pl_spikes does.
    fit_power_law({3.0, 1.0, 50.0, 1.0, 2.0}, m);
    const double a = 1 + 4 / std::log(300.0);
    double d = 0;
    const double tail[] = {1, 2, 3, 50};
    for (int k = 0; k < 4; ++k) d = std::max(d, std::fabs(1 - std::pow(tail[k], 1 - a) - k / 4.0));
    EXPECT_CLOSE(m.alpha, a, 1e-14);
    EXPECT_CLOSE(m.ks_distance, d, 1e-13);
    EXPECT_CLOSE(m.ks_distance, 0.18565260095532143, 1e-12);  // the numpy port's value
    QCOMPARE(m.xmin, 1.0);
    QCOMPARE(m.tail_size, std::int64_t{5});
  }

  void errors() {
    const float three[] = {1, 2, 3};
    QCOMPARE(kind_of([&] { spectral_metrics(f32_tensor("bias", {3}, {1, 2, 3})); }), Error::Kind::Usage);
    try {
      spectral_metrics(f32_tensor("bias", {3}, {1, 2, 3}));
      QFAIL("no error for a vector");
    } catch (const Error& e) {
      const QString what = e.what();
      QVERIFY2(what.contains("'bias'") && what.contains("[3]") && what.startsWith("memory: "), e.what());
    }
    QCOMPARE(kind_of([&] { spectral_metrics(f32_tensor("scalar", {}, {1})); }), Error::Kind::Usage);
    QCOMPARE(kind_of([&] { singular_values(three, 2, 2); }), Error::Kind::Usage);
    QCOMPARE(kind_of([&] { singular_values(three, -1, -3); }), Error::Kind::Usage);
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const float bad[] = {1, nan, 3, inf};
    QCOMPARE(kind_of([&] { singular_values(bad, 2, 2); }), Error::Kind::Usage);
    try {
      spectral_metrics(f32_tensor("w", {2, 2}, {1, nan, 3, inf}));
      QFAIL("no error for NaN");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("2 NaN or infinite"), e.what());
    }
    // Too large for a Gram matrix in memory: refused before a value is read (the source holds
    // none, so reading would overrun it).
    const Tensor huge("huge", DType::F32, {20000, 20000}, detail::make_owned_source({}, DType::F32, "big.bin"));
    try {
      spectral_metrics(huge);
      QFAIL("no error for a 20000 x 20000 matrix");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Usage);
      QVERIFY2(QString(e.what()).startsWith("big.bin: tensor 'huge' [20000, 20000]: ") &&
                   QString(e.what()).contains("at most 16384"),
               e.what());
    }
  }

  void threaded_path_and_concurrency() {
    // Smaller side >= 2048 runs OpenBLAS on all its threads (exclusive); smaller ones run
    // concurrently on one thread each. Both paths at once from the pool must give the serial results.
    const std::vector<float> big = random_matrix(2048, 2100, 11);
    std::vector<std::vector<float>> small;
    for (unsigned s = 0; s < 6; ++s) small.push_back(random_matrix(120 + 10 * s, 90, 100 + s));
    std::vector<std::vector<double>> serial;
    for (std::size_t i = 0; i < small.size(); ++i)
      serial.push_back(singular_values(small[i], 120 + 10 * static_cast<std::int64_t>(i), 90));
    std::vector<std::vector<double>> parallel(small.size() + 1);
    ThreadPool pool(2);
    pool.parallel_for(parallel.size(), 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i)
        parallel[i] = i == small.size() ? singular_values(big, 2048, 2100)
                                        : singular_values(small[i], 120 + 10 * static_cast<std::int64_t>(i), 90);
    });
    for (std::size_t i = 0; i < small.size(); ++i) QCOMPARE(parallel[i], serial[i]);
    // The big one: trace identity, and sigma_max against 30 steps of power iteration on W^T W.
    const auto& s = parallel.back();
    QCOMPARE(s.size(), std::size_t{2048});
    double sq = 0, ss = 0;
    for (float x : big) sq += static_cast<double>(x) * x;
    for (double x : s) ss += x * x;
    EXPECT_CLOSE(ss, sq, 1e-11);
    std::vector<double> v(2100, 1.0), u(2048);
    double lambda = 0;
    for (int it = 0; it < 30; ++it) {
      for (std::size_t r = 0; r < 2048; ++r) {
        double acc = 0;
        for (std::size_t c = 0; c < 2100; ++c) acc += big[r * 2100 + c] * v[c];
        u[r] = acc;
      }
      std::fill(v.begin(), v.end(), 0.0);
      for (std::size_t r = 0; r < 2048; ++r)
        for (std::size_t c = 0; c < 2100; ++c) v[c] += big[r * 2100 + c] * u[r];
      const double norm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
      lambda = norm;
      for (double& x : v) x /= norm;
    }
    // ||W^T W v|| <= lambda_max for a unit v, and power iteration approaches it from below (slowly:
    // the top of a Gaussian spectrum is crowded, hence 3 %).
    QVERIFY2(s[0] * s[0] >= lambda * (1 - 1e-12) && s[0] * s[0] <= lambda * 1.03,
             qPrintable(QString("%1 vs %2").arg(s[0] * s[0]).arg(lambda)));
    // Marchenko-Pastur edges for 2048 x 2100 N(0, 1): (sqrt(2100) +- sqrt(2048))^2.
    EXPECT_CLOSE(s[0], std::sqrt(2100.0) + std::sqrt(2048.0), 0.02);
  }
};

QTEST_GUILESS_MAIN(TestSpectral)
#include "test_spectral.moc"
