// The chart scenes (histogram, depth profile, spectrum): data in, pixels and geometry out, clicks
// through a synthesized interactor event, and export of each to PNG, SVG and PDF.
//
// Pictures are rendered headless (Mesa EGL) so that the numbers do not depend on the X server;
// the click test needs a window with an interactor and runs under xvfb-run.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <QXmlStreamReader>
#include <QtTest>

#include <vtkGenericRenderWindowInteractor.h>
#include <vtkNew.h>
#include <vtkRenderWindow.h>

#include "gui_test_support.h"
#include "paramscope/error.h"
#include "paramscope/figures/histogram_chart.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/figures/spectrum_chart.h"

using namespace paramscope;
using figures::Rgb;

namespace {

constexpr int kWidth = 800, kHeight = 500;

QImage render(figures::Scene& scene, const QString& path, const QString& keepAs) {
  figures::ExportOptions o;
  o.width_px = kWidth;
  o.height_px = kHeight;
  o.backend = figures::ExportOptions::Backend::Headless;
  scene.save(path.toStdString(), o);
  QImage image = QImage(path).convertToFormat(QImage::Format_RGB32);
  test::keepImage(image, keepAs);
  return image;
}

/// Columns holding at least `min` pixels of colour c, left to right.
std::vector<int> columnsWith(const QImage& image, Rgb c, int min) {
  std::vector<int> cols;
  for (int x = 0; x < image.width(); ++x) {
    int n = 0;
    for (int y = 0; y < image.height(); ++y) n += test::is(image.pixel(x, y), c);
    if (n >= min) cols.push_back(x);
  }
  return cols;
}

/// The lowest row holding colour c (the bars' baseline), or -1.
int baseline(const QImage& image, Rgb c) {
  for (int y = image.height() - 1; y >= 0; --y)
    for (int x = 0; x < image.width(); ++x)
      if (test::is(image.pixel(x, y), c)) return y;
  return -1;
}

/// Pixels of colour c straight up from row `base` in column x.
int heightAt(const QImage& image, int x, int base, Rgb c) {
  int h = 0;
  for (int y = base; y >= 0 && test::is(image.pixel(x, y), c); --y) ++h;
  return h;
}

/// Runs of colour c along row y: [left, right] pairs.
std::vector<std::pair<int, int>> runsInRow(const QImage& image, int y, Rgb c) {
  std::vector<std::pair<int, int>> runs;
  for (int x = 0; x < image.width(); ++x) {
    if (!test::is(image.pixel(x, y), c)) continue;
    int r = x;
    while (r + 1 < image.width() && test::is(image.pixel(r + 1, y), c)) ++r;
    runs.emplace_back(x, r);
    x = r;
  }
  return runs;
}

QStringList svgTexts(const QString& file) {
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly)) return {};
  QXmlStreamReader xml(&f);
  QStringList texts;
  while (!xml.atEnd()) {
    xml.readNext();
    if (xml.isStartElement() && xml.name() == QLatin1String("text")) texts << xml.readElementText();
  }
  if (xml.hasError()) texts << QStringLiteral("XML ERROR: ") + xml.errorString();
  return texts;
}

figures::ProfileChart* makeProfile(figures::ProfileChart& chart) {
  // 3 blocks x 2 module kinds; heights chosen to be told apart.
  chart.set_profile({"layers.0", "layers.1", "layers.2"},
                    {{"q_proj", {1.0, 2.0, 4.0}}, {"up_proj", {3.0, 0.5, 2.0}}}, "depth profile", "mean |w|");
  return &chart;
}

}  // namespace

class TestCharts : public QObject {
  Q_OBJECT

private slots:
  void histogramBarsAndThreshold();
  void histogramLogCounts();
  void histogramThresholdOutsideWidensAxis();
  void histogramRejectsBadInput_data();
  void histogramRejectsBadInput();
  void profileBarsByBlockAndSeries();
  void profileLines();
  void profileRejectsBadInput();
  void profileClickReportsBlockAndSeries_data();
  void profileClickReportsBlockAndSeries();
  void spectrumRankOrderedIsStraightOnLogLog();
  void spectrumDensityNumbers();
  void spectrumFitLine_data();
  void spectrumFitLine();
  void spectrumDropsNonPositive();
  void exportEveryChart_data();
  void exportEveryChart();

private:
  QTemporaryDir tmp_;
};

void TestCharts::histogramBarsAndThreshold() {
  figures::HistogramChart chart;
  // 10 bins of width 1 over [0, 10]; the threshold at 7.5 is three quarters of the way.
  chart.set_histogram({5, 8, 12, 20, 30, 30, 20, 12, 8, 5}, 0, 10, "values of fc.weight");
  chart.set_threshold(7.5, "threshold 7.5");
  QCOMPARE(chart.bin_count(), std::size_t{10});
  const QImage image = render(chart, tmp_.filePath("hist.png"), "histogram");

  const Rgb bar = figures::palette::bar, mark = figures::palette::marker;
  const int base = baseline(image, bar);
  QVERIFY(base > 0);
  // The bins touch: one run of bar colour along a low row spans [0, 10] on the x axis.
  const auto runs = runsInRow(image, base - 1, bar);
  QVERIFY2(!runs.empty(), "no bars");
  const int left = runs.front().first, right = runs.back().second;
  const double per_unit = (right + 1 - left) / 10.0;
  QVERIFY(per_unit > 40);  // the plot fills most of the 800 px width
  // Heights in proportion to the counts: bin i's middle column.
  const double tallest = heightAt(image, static_cast<int>(left + 4.5 * per_unit), base, bar);
  QVERIFY(tallest > 200);
  const double counts[] = {5, 8, 12, 20, 30, 30, 20, 12, 8, 5};
  for (int i = 0; i < 10; ++i) {
    const int x = static_cast<int>(left + (i + 0.5) * per_unit);
    if (i == 7) continue;  // the threshold line runs over bin 7's middle
    const int h = heightAt(image, x, base, bar);
    QVERIFY2(std::abs(h - counts[i] / 30 * tallest) <= 2.0,
             qPrintable(QStringLiteral("bin %1: %2 px, want %3").arg(i).arg(h).arg(counts[i] / 30 * tallest)));
  }
  // The threshold: a vertical red line at x = 7.5, taller than the bars around it.
  const auto line = columnsWith(image, mark, 150);
  QVERIFY2(!line.empty(), "no threshold line");
  const double centre = (line.front() + line.back()) / 2.0;
  const double want = left + 7.5 * per_unit;
  QVERIFY2(std::abs(centre - want) <= 1.5, qPrintable(QStringLiteral("line at %1, want %2").arg(centre).arg(want)));
  QVERIFY2(line.back() - line.front() <= 3, "the line is 2 px wide");
}

void TestCharts::histogramLogCounts() {
  figures::HistogramChart chart;
  chart.set_histogram({1, 10, 100, 1000, 0}, 0, 5, "log counts");
  chart.set_log_counts(true);
  QVERIFY(chart.log_counts());
  const QImage image = render(chart, tmp_.filePath("hist_log.png"), "histogram_log");
  const Rgb bar = figures::palette::bar;
  const int base = baseline(image, bar);
  const auto runs = runsInRow(image, base, bar);
  QVERIFY(!runs.empty());
  const int left = runs.front().first;
  const double per_bin = (runs.back().second + 1 - left) / 4.0;  // bin 4 is empty: nothing drawn
  // On a log axis from 0.5, a bin's height is proportional to log10(count / 0.5).
  double h[4];
  for (int i = 0; i < 4; ++i) h[i] = heightAt(image, static_cast<int>(left + (i + 0.5) * per_bin), base, bar);
  const double per_decade = (h[3] - h[0]) / 3.0;
  QVERIFY(per_decade > 50);
  for (int i = 0; i < 4; ++i) {
    const double want = (i + std::log10(2.0)) * per_decade;
    QVERIFY2(std::abs(h[i] - want) <= 2.0, qPrintable(QStringLiteral("bin %1: %2 px, want %3").arg(i).arg(h[i]).arg(want)));
  }
  // Equal steps per decade: what makes the axis logarithmic.
  QVERIFY(std::abs((h[2] - h[1]) - (h[1] - h[0])) <= 2.0);
  // The empty bin has no bar.
  QCOMPARE(heightAt(image, static_cast<int>(left + 4.5 * per_bin), base, bar), 0);
}

void TestCharts::histogramThresholdOutsideWidensAxis() {
  figures::HistogramChart chart;
  chart.set_histogram({1, 2, 3}, 0, 3, "t");
  QCOMPARE(chart.x_range(), std::make_pair(0.0, 3.0));
  chart.set_threshold(4, "above");
  QVERIFY(chart.x_range().first == 0.0 && chart.x_range().second > 4.0);
  chart.set_threshold(-1, "below");
  QVERIFY(chart.x_range().first < -1.0 && chart.x_range().second == 3.0);
  chart.clear_threshold();
  QCOMPARE(chart.x_range(), std::make_pair(0.0, 3.0));
}

void TestCharts::histogramRejectsBadInput_data() {
  QTest::addColumn<QList<double>>("counts");
  QTest::addColumn<double>("lo");
  QTest::addColumn<double>("hi");
  QTest::newRow("empty range") << QList<double>{1} << 1.0 << 1.0;
  QTest::newRow("reversed") << QList<double>{1} << 2.0 << 1.0;
  QTest::newRow("infinite") << QList<double>{1} << 0.0 << HUGE_VAL;
  QTest::newRow("negative count") << QList<double>{1, -1} << 0.0 << 1.0;
  QTest::newRow("nan count") << QList<double>{std::nan("")} << 0.0 << 1.0;
}

void TestCharts::histogramRejectsBadInput() {
  QFETCH(QList<double>, counts);
  QFETCH(double, lo);
  QFETCH(double, hi);
  figures::HistogramChart chart;
  try {
    chart.set_histogram(std::vector<double>(counts.begin(), counts.end()), lo, hi, "bad");
    QFAIL("no error");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
  }
  QCOMPARE(chart.bin_count(), std::size_t{0});
  QVERIFY_THROWS_EXCEPTION(Error, chart.set_threshold(std::nan(""), "x"));
}

void TestCharts::profileBarsByBlockAndSeries() {
  figures::ProfileChart chart;
  makeProfile(chart);
  QCOMPARE(chart.block_count(), std::size_t{3});
  QCOMPARE(chart.series_count(), std::size_t{2});
  const QImage image = render(chart, tmp_.filePath("profile.png"), "profile_bars");
  const Rgb q = figures::palette::series[0], up = figures::palette::series[1];
  // Each series: three bars on one baseline, heights in proportion to its values, on one scale.
  const auto qBars = test::findBars(image, q), upBars = test::findBars(image, up);
  QCOMPARE(qBars.size(), std::size_t{3});
  QCOMPARE(upBars.size(), std::size_t{3});
  const double per_unit = qBars[2].height / 4.0;  // q in block 2 is the tallest (4)
  QVERIFY(per_unit > 50);
  const double qValues[] = {1, 2, 4}, upValues[] = {3, 0.5, 2};
  for (std::size_t b = 0; b < 3; ++b) {
    QVERIFY2(std::abs(qBars[b].height - qValues[b] * per_unit) <= 2.0, qPrintable(QString::number(qBars[b].height)));
    QVERIFY2(std::abs(upBars[b].height - upValues[b] * per_unit) <= 2.0, qPrintable(QString::number(upBars[b].height)));
    // Grouped: in each block q stands just left of up, and blocks are apart.
    QVERIFY(qBars[b].right < upBars[b].left);
    QVERIFY(upBars[b].left - qBars[b].right <= 3);
    if (b > 0) QVERIFY(qBars[b].left - upBars[b - 1].right > 10);
  }
  // Equal spacing of the blocks.
  QVERIFY(std::abs((qBars[2].left - qBars[1].left) - (qBars[1].left - qBars[0].left)) <= 1);
}

void TestCharts::profileLines() {
  figures::ProfileChart chart;
  makeProfile(chart);
  chart.set_style(figures::ProfileChart::Style::Lines);
  QCOMPARE(chart.style(), figures::ProfileChart::Style::Lines);
  const QImage image = render(chart, tmp_.filePath("profile_lines.png"), "profile_lines");
  const Rgb q = figures::palette::series[0], up = figures::palette::series[1];
  const auto qCols = columnsWith(image, q, 1), upCols = columnsWith(image, up, 1);
  QVERIFY(!qCols.empty() && !upCols.empty());
  // The lines run from block 0 to block 2 (the legend's sample lines sit to the right).
  QVERIFY(qCols.back() - qCols.front() > 400);
  // q rises: its highest pixel is at the right (block 2), up's at the left (block 0).
  auto highest = [&](Rgb c, int x0, int x1) {
    for (int y = 0; y < image.height(); ++y)
      for (int x = x0; x <= x1; ++x)
        if (test::is(image.pixel(x, y), c)) return x;
    return -1;
  };
  const int span = qCols.back() - qCols.front();
  QVERIFY(highest(q, qCols.front(), qCols.front() + span * 3 / 4) > qCols.front() + span / 2);
  QVERIFY(highest(up, qCols.front(), qCols.front() + span * 3 / 4) < qCols.front() + span / 4);
}

void TestCharts::profileRejectsBadInput() {
  figures::ProfileChart chart;
  QVERIFY_THROWS_EXCEPTION(Error, chart.set_profile({"a", "b"}, {{"q", {1.0}}}, "short series"));
  QVERIFY_THROWS_EXCEPTION(Error, chart.set_profile({"a"}, {{"q", {1.0}}, {"q", {2.0}}}, "same name"));
  QVERIFY_THROWS_EXCEPTION(Error, chart.set_profile({"a"}, {{"q", {HUGE_VAL}}}, "infinite"));
  QCOMPARE(chart.block_count(), std::size_t{0});
  // NaN marks a missing module: accepted.
  chart.set_profile({"a", "b"}, {{"q", {1.0, std::nan("")}}}, "gap");
  QCOMPARE(chart.block_count(), std::size_t{2});
}

void TestCharts::profileClickReportsBlockAndSeries_data() {
  QTest::addColumn<int>("block");
  QTest::addColumn<int>("series");
  QTest::newRow("q in block 0") << 0 << 0;
  QTest::newRow("up in block 0") << 0 << 1;
  QTest::newRow("q in block 2") << 2 << 0;
  QTest::newRow("up in block 1") << 1 << 1;
}

void TestCharts::profileClickReportsBlockAndSeries() {
  QFETCH(int, block);
  QFETCH(int, series);
  if (qEnvironmentVariable("DISPLAY").isEmpty()) QSKIP("needs a window with an interactor (run under xvfb-run)");
  figures::ProfileChart chart;
  makeProfile(chart);
  // Where the bar is: from a headless picture of the same size (same layout).
  const QImage image = render(chart, tmp_.filePath("click.png"), "profile_click");
  const auto bars = test::findBars(image, figures::palette::series[static_cast<std::size_t>(series)]);
  QCOMPARE(bars.size(), std::size_t{3});
  const auto& bar = bars[static_cast<std::size_t>(block)];
  const int x = (bar.left + bar.right) / 2;
  const int y = baseline(image, figures::palette::series[static_cast<std::size_t>(series)]) - bar.height / 2;

  vtkNew<vtkRenderWindow> window;
  window->SetOffScreenRendering(1);
  window->SetMultiSamples(0);
  window->SetSize(kWidth, kHeight);
  vtkNew<vtkGenericRenderWindowInteractor> interactor;
  interactor->SetRenderWindow(window);
  interactor->Initialize();
  chart.attach(window);
  window->Render();

  std::vector<std::pair<int, int>> clicks;
  chart.on_click([&](int b, int s) { clicks.emplace_back(b, s); });
  // VTK counts rows from the bottom.
  interactor->SetEventInformationFlipY(x, y);
  interactor->MouseMoveEvent();
  interactor->LeftButtonPressEvent();
  interactor->LeftButtonReleaseEvent();
  QCOMPARE(clicks.size(), std::size_t{1});
  QCOMPARE(clicks[0], std::make_pair(block, series));

  // A click on empty plot space (left of the first group of bars) reports nothing.
  const auto first = test::findBars(image, figures::palette::series[0]).front();
  interactor->SetEventInformationFlipY(first.left - 8, y);
  interactor->LeftButtonPressEvent();
  interactor->LeftButtonReleaseEvent();
  QCOMPARE(clicks.size(), std::size_t{1});
  chart.detach();
  window->Finalize();
}

void TestCharts::spectrumRankOrderedIsStraightOnLogLog() {
  // lambda_r = 1000 r^-2 for r = 1..300: a straight line on log-log axes only (on linear axes it
  // is a hyperbola hugging the corner).
  std::vector<double> values;
  for (int r = 300; r >= 1; --r) values.push_back(1000.0 / (static_cast<double>(r) * r));
  figures::SpectrumChart chart;
  chart.set_values(values, "rank ordered");
  chart.set_mode(figures::SpectrumChart::Mode::RankOrdered);
  QCOMPARE(chart.shown_count(), std::size_t{300});
  const auto pts = chart.points();
  QCOMPARE(pts.size(), std::size_t{300});
  QCOMPARE(pts.front().first, 1.0);
  QCOMPARE(pts.front().second, 1000.0);
  QCOMPARE(pts.back().first, 300.0);
  QVERIFY(std::abs(pts.back().second - 1000.0 / 90000) < 1e-12);

  const QImage image = render(chart, tmp_.filePath("rank.png"), "spectrum_rank");
  const Rgb c = figures::palette::bar;
  // Middle row of the line in each column it crosses (the legend's sample is right of the plot's
  // middle, above the line: take columns in the left 60 % only).
  std::vector<std::pair<double, double>> centre;
  for (int x = 0; x < image.width() * 6 / 10; ++x) {
    int sum = 0, n = 0;
    for (int y = 0; y < image.height(); ++y)
      if (test::is(image.pixel(x, y), c)) {
        sum += y;
        ++n;
      }
    if (n > 0 && n < 8) centre.emplace_back(x, static_cast<double>(sum) / n);
  }
  QVERIFY2(centre.size() > 200, qPrintable(QString::number(centre.size())));
  // Least-squares line through the centres; every centre within 2 px of it, and it falls.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : centre) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double n = static_cast<double>(centre.size());
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), icpt = (sy - slope * sx) / n;
  double worst = 0;
  for (const auto& [x, y] : centre) worst = std::max(worst, std::abs(y - (slope * x + icpt)));
  QVERIFY2(worst <= 2.0, qPrintable(QStringLiteral("%1 px off a straight line").arg(worst)));
  QVERIFY(slope > 0.2);  // rows grow downward: a falling line
}

void TestCharts::spectrumDensityNumbers() {
  // Hand-checked: values 1, 10, 100 in 2 log bins over [1, 100]: [1, 10) holds 1, [10, 100] holds 2.
  figures::SpectrumChart chart;
  chart.set_values({10, 1, 100}, "esd");
  chart.set_bins(2);
  QCOMPARE(chart.mode(), figures::SpectrumChart::Mode::Density);
  const auto pts = chart.points();
  QCOMPARE(pts.size(), std::size_t{2});
  QVERIFY(std::abs(pts[0].first - std::sqrt(10.0)) < 1e-9);
  QVERIFY(std::abs(pts[1].first - std::sqrt(1000.0)) < 1e-9);
  QVERIFY(std::abs(pts[0].second - 1.0 / (3 * 9)) < 1e-12);    // 1 / (n * width)
  QVERIFY(std::abs(pts[1].second - 2.0 / (3 * 90)) < 1e-12);
  // Any number of bins: the density integrates to 1 (bins are log-spaced; empty ones are left out).
  std::vector<double> values;
  for (int i = 1; i <= 1000; ++i) values.push_back(std::pow(static_cast<double>(i), 1.5));
  chart.set_values(values, "esd");
  chart.set_bins(37);
  const double lo = 1, hi = std::pow(1000.0, 1.5), ratio = std::pow(hi / lo, 1.0 / 37);
  double total = 0;
  for (const auto& [x, density] : chart.points()) {
    const double a = x / std::sqrt(ratio), b = x * std::sqrt(ratio);  // the bin around its centre
    total += density * (b - a);
  }
  QVERIFY2(std::abs(total - 1.0) < 1e-9, qPrintable(QString::number(total, 'g', 12)));
  QVERIFY_THROWS_EXCEPTION(Error, chart.set_bins(0));
}

void TestCharts::spectrumFitLine_data() {
  QTest::addColumn<int>("mode");
  QTest::newRow("density") << static_cast<int>(figures::SpectrumChart::Mode::Density);
  QTest::newRow("rank ordered") << static_cast<int>(figures::SpectrumChart::Mode::RankOrdered);
}

void TestCharts::spectrumFitLine() {
  QFETCH(int, mode);
  // A Pareto sample (alpha = 3, xmin = 1) by inverse transform of evenly spaced quantiles.
  std::vector<double> values;
  const int n = 2000;
  for (int i = 0; i < n; ++i) values.push_back(std::pow(1.0 - (i + 0.5) / n, -1.0 / 2.0));
  figures::SpectrumChart chart;
  chart.set_values(values, "pareto");
  chart.set_mode(static_cast<figures::SpectrumChart::Mode>(mode));
  const QImage without = render(chart, tmp_.filePath("nofit.png"), "spectrum_nofit");
  QCOMPARE(test::countPixels(without, figures::palette::marker), 0);
  chart.set_fit(3.0, 1.0);
  const QImage with = render(chart, tmp_.filePath("fit.png"), QStringLiteral("spectrum_fit_%1").arg(mode));
  // The fitted line is drawn, across most of the data (a sample of a power law lies on it).
  const auto cols = columnsWith(with, figures::palette::marker, 1);
  QVERIFY(!cols.empty());
  QVERIFY2(test::countPixels(with, figures::palette::marker) > 300, "no fitted line");
  const auto data = columnsWith(with, figures::palette::bar, 1);
  QVERIFY(cols.back() - cols.front() > (data.back() - data.front()) / 2);
  // alpha goes into the title.
  const QString svg = tmp_.filePath("fit.svg");
  figures::ExportOptions o;
  o.backend = figures::ExportOptions::Backend::Headless;
  chart.save(svg.toStdString(), o);
  const QStringList texts = svgTexts(svg);
  QVERIFY2(texts.contains(QStringLiteral("pareto  (alpha = 3.00)")), qPrintable(texts.join('|')));
  QVERIFY_THROWS_EXCEPTION(Error, chart.set_fit(1.0, 1.0));
  QVERIFY_THROWS_EXCEPTION(Error, chart.set_fit(2.0, 0.0));
}

void TestCharts::spectrumDropsNonPositive() {
  figures::SpectrumChart chart;
  chart.set_values({4, 0, -1, std::nan(""), HUGE_VAL, 1, 2}, "some zero");
  QCOMPARE(chart.shown_count(), std::size_t{3});
  chart.set_mode(figures::SpectrumChart::Mode::RankOrdered);
  const auto pts = chart.points();
  QCOMPARE(pts.size(), std::size_t{3});
  QCOMPARE(pts[0], std::make_pair(1.0, 4.0));
  QCOMPARE(pts[2], std::make_pair(3.0, 1.0));
  chart.clear();
  QCOMPARE(chart.shown_count(), std::size_t{0});
  QVERIFY(chart.points().empty());
}

void TestCharts::exportEveryChart_data() {
  QTest::addColumn<QString>("chart");
  QTest::addColumn<QString>("format");
  QTest::addColumn<QString>("title");
  for (const char* format : {"png", "svg", "pdf"}) {
    QTest::addRow("histogram %s", format) << "histogram" << format << "values of fc.weight";
    QTest::addRow("profile %s", format) << "profile" << format << "depth profile";
    QTest::addRow("spectrum %s", format) << "spectrum" << format << "ESD of fc.weight  (alpha = 2.50)";
  }
}

void TestCharts::exportEveryChart() {
  QFETCH(QString, chart);
  QFETCH(QString, format);
  QFETCH(QString, title);
  std::unique_ptr<figures::Scene> scene;
  if (chart == QLatin1String("histogram")) {
    auto h = std::make_unique<figures::HistogramChart>();
    h->set_histogram({3, 9, 27, 9, 3}, -1, 1, "values of fc.weight");
    h->set_threshold(0.5, "threshold 0.5");
    scene = std::move(h);
  } else if (chart == QLatin1String("profile")) {
    auto p = std::make_unique<figures::ProfileChart>();
    makeProfile(*p);
    scene = std::move(p);
  } else {
    auto s = std::make_unique<figures::SpectrumChart>();
    std::vector<double> v;
    for (int i = 1; i <= 500; ++i) v.push_back(std::pow(static_cast<double>(i), -0.7));
    s->set_values(v, "ESD of fc.weight");
    s->set_fit(2.5, 0.05);
    scene = std::move(s);
  }
  const QString file = tmp_.filePath(chart + "." + format);
  figures::ExportOptions o;
  o.dpi = 200;
  o.backend = figures::ExportOptions::Backend::Headless;
  scene->save(file.toStdString(), o);
  QFile f(file);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray bytes = f.readAll();
  if (const QString keep = qEnvironmentVariable("PARAMSCOPE_TEST_IMAGES"); !keep.isEmpty()) {
    QFile::remove(keep + "/export_" + chart + "." + format);
    QFile::copy(file, keep + "/export_" + chart + "." + format);
  }
  if (format == QLatin1String("png")) {
    const QImage image = QImage::fromData(bytes, "PNG");
    QCOMPARE(image.size(), QSize(1280, 800));
    QVERIFY(test::countPixels(image, figures::palette::background) < 1280 * 800);
    test::keepImage(image, "export_" + chart);
  } else if (format == QLatin1String("svg")) {
    const QStringList texts = svgTexts(file);
    QVERIFY2(texts.contains(title), qPrintable(texts.join('|')));
  } else {
    QVERIFY(bytes.startsWith("%PDF-"));
    QVERIFY(bytes.contains("/MediaBox [0 0 461 288]") || bytes.contains("/MediaBox[0 0 461 288]"));
  }
}

PARAMSCOPE_GUI_TEST_MAIN(TestCharts)
#include "test_charts.moc"
