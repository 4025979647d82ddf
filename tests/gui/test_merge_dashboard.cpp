// The Merge tab: a base and two fine-tunes with hand-made task vectors, analysed and previewed
// through the dashboard's controls, checked against numbers worked out by hand.
//   layer 0: tau_a = 1..8, tau_b = -(1..8)          cosine -1, every sign opposed
//   layer 1: tau_a = +1 x 8, tau_b = +1 -1 +1 -1... cosine 0, half the signs opposed
//   overall: dot -204 + 0, |a|^2 = |b|^2 = 204 + 8: cosine -204 / 212; 12 of 16 signs opposed
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QtTest>

#include <cmath>
#include <filesystem>

#include "figure_tabs.h"
#include "gui_test_support.h"
#include "job.h"
#include "main_window.h"
#include "merge_dashboard.h"
#include "merge_inputs_bar.h"
#include "merge_preview_bar.h"
#include "paramscope/figures/colormap.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/interference_figures.h"
#include "paramscope/figures/matrix_chart.h"
#include "paramscope/pyramid.h"
#include "paramscope/writers.h"
#include "startup.h"

using namespace paramscope;

namespace {

constexpr const char* kL0 = "model.layers.0.mlp.up_proj.weight";
constexpr const char* kL1 = "model.layers.1.mlp.up_proj.weight";

void writeModel(const std::filesystem::path& file, const std::vector<float>& l0, const std::vector<float>& l1) {
  write_safetensors(file, {TensorToWrite::from_floats(kL0, DType::F32, {2, 4}, l0),
                           TensorToWrite::from_floats(kL1, DType::F32, {2, 4}, l1)});
}

struct Fixture {
  QTemporaryDir dir;
  std::filesystem::path base, a, b;
  Fixture() {
    const std::filesystem::path d = dir.path().toStdString();
    base = d / "base.safetensors";
    a = d / "ft-a.safetensors";
    b = d / "ft-b.safetensors";
    std::vector<float> up(8), down(8), ones(8, 1), alt(8);
    for (int i = 0; i < 8; ++i) {
      up[static_cast<std::size_t>(i)] = static_cast<float>(i + 1);
      down[static_cast<std::size_t>(i)] = -static_cast<float>(i + 1);
      alt[static_cast<std::size_t>(i)] = i % 2 ? -1.0f : 1.0f;
    }
    writeModel(base, std::vector<float>(8, 0), std::vector<float>(8, 0));
    writeModel(a, up, ones);
    writeModel(b, down, alt);
  }
};

int rowOf(const ui::MainWindow& w, const std::filesystem::path& p) {
  for (int r = 0; r < w.model()->checkpointCount(); ++r)
    if (std::filesystem::equivalent(w.model()->checkpointAt(r)->path(), p)) return r;
  return -1;
}

// Opens the fixture's three files in w and shows the Merge tab with base and both fine-tunes.
bool openAll(ui::MainWindow& w, const Fixture& f) {
  w.setErrorDialogsEnabled(false);
  w.resize(1400, 900);
  w.show();
  if (!QTest::qWaitForWindowExposed(&w)) return false;
  QSignalSpy loaded(&w, &ui::MainWindow::loaded);
  for (const auto& p : {f.base, f.a, f.b}) w.openPath(QString::fromStdString(p.string()));
  for (int i = 0; i < 50 && loaded.count() < 3; ++i) loaded.wait(200);
  if (loaded.count() != 3) return false;
  w.figures()->setCurrentIndex(ui::FigureTabs::MergeTab);
  w.figures()->mergeDashboard()->inputs()->select(rowOf(w, f.base), {rowOf(w, f.a), rowOf(w, f.b)});
  return true;
}

bool hasPage(const QSignalSpy& spy, int page) {
  for (const auto& args : spy)
    if (args.at(0).toInt() == page) return true;
  return false;
}

bool analyze(ui::MergeDashboard* d) {
  QSignalSpy updated(d, &ui::MergeDashboard::updated);
  QTest::mouseClick(d->inputs()->analyzeButton(), Qt::LeftButton);
  for (int i = 0; i < 50 && !hasPage(updated, ui::MergeDashboard::SimilarityPage); ++i) updated.wait(200);
  return d->report() != nullptr;
}

}  // namespace

class TestMergeDashboard : public QObject {
  Q_OBJECT

private slots:
  void init() { QSettings().clear(); }

  void analyzeNeedsABaseAndTwoFineTunes() {
    Fixture f;
    ui::MainWindow w;
    QVERIFY(openAll(w, f));
    ui::MergeDashboard* d = w.figures()->mergeDashboard();
    QVERIFY(d->inputs()->analyzeButton()->isEnabled());
    QCOMPARE(d->inputs()->fineTunes().size(), std::size_t{2});
    d->inputs()->select(rowOf(w, f.base), {rowOf(w, f.a)});
    QVERIFY(!d->inputs()->analyzeButton()->isEnabled());
    QVERIFY(d->analyze() == nullptr);
    // The base is never among the fine-tunes, even when checked.
    d->inputs()->select(rowOf(w, f.base), {rowOf(w, f.base), rowOf(w, f.a)});
    QVERIFY(!d->inputs()->analyzeButton()->isEnabled());
  }

  void analyzeShowsTheSimilarityMatrixAndBlocks() {
    Fixture f;
    ui::MainWindow w;
    QVERIFY(openAll(w, f));
    ui::MergeDashboard* d = w.figures()->mergeDashboard();
    QVERIFY(analyze(d));
    const figures::MatrixData& m = d->matrix().data();
    QCOMPARE(m.row_labels, (std::vector<std::string>{"ft-a", "ft-b"}));
    QCOMPARE(m.values.size(), std::size_t{4});
    QCOMPARE(m.values[0], 1.0);
    QVERIFY(std::fabs(m.values[1] - (-204.0 / 212.0)) < 1e-12);
    QVERIFY(std::fabs(m.values[2] - (-204.0 / 212.0)) < 1e-12);
    QVERIFY(d->summary().contains(QStringLiteral("75.0 %")));  // 12 of 16 signs opposed

    const figures::BlockSeries s = figures::block_series(*d->report());
    QCOMPARE(s.block_labels, (std::vector<std::string>{"model.layers.0", "model.layers.1"}));
    QCOMPARE(s.series[0].name, std::string("sign conflict"));
    QCOMPARE(s.series[0].values, (std::vector<double>{1.0, 0.5}));
    QVERIFY(std::fabs(s.series[3].values[0] + 1) < 1e-12);  // cosine per block
    QVERIFY(std::fabs(s.series[3].values[1]) < 1e-12);

    // Another metric over one block.
    auto* metric = d->findChild<QComboBox*>(QStringLiteral("mergeMetric"));
    auto* scope = d->findChild<QComboBox*>(QStringLiteral("mergeScope"));
    QVERIFY(metric && scope);
    metric->setCurrentIndex(metric->findData(static_cast<int>(figures::PairMetric::SignConflict)));
    scope->setCurrentIndex(scope->findText(QStringLiteral("model.layers.1")));
    QCOMPARE(d->matrix().data().values, (std::vector<double>{0, 0.5, 0.5, 0}));
  }

  void theMatrixIsDrawnInItsColours() {
    Fixture f;
    ui::MainWindow w;
    QVERIFY(openAll(w, f));
    ui::MergeDashboard* d = w.figures()->mergeDashboard();
    QVERIFY(analyze(d));
    QCOMPARE(w.figures()->currentScene(), static_cast<figures::Scene*>(&d->matrix()));
    const QImage shot = d->view(ui::MergeDashboard::SimilarityPage)->grabFramebuffer();
    test::keepImage(shot, QStringLiteral("gui-merge-similarity"));
    // Diagonal cells (cosine 1) in RdBu_r's top colour, the others near its bottom.
    const figures::Rgb diag = figures::colormap_color(figures::Colormap::RdBuR, 1.0);
    const figures::Rgb off = figures::colormap_color(figures::Colormap::RdBuR, (1 - 204.0 / 212.0) / 2);
    QVERIFY2(test::countPixels(shot, diag) > 5000, "no diagonal cells");
    QVERIFY2(test::countPixels(shot, off) > 5000, "no off-diagonal cells");
    // The same figure exports.
    QTemporaryDir out;
    const std::filesystem::path png = std::filesystem::path(out.path().toStdString()) / "m.png";
    w.figures()->currentScene()->save_png(png, 800, 600);
    const QImage exported(QString::fromStdString(png.string()));
    QCOMPARE(exported.size(), QSize(800, 600));
    QVERIFY(test::countPixels(exported, off) > 2000);
  }

  void previewMapsWhatTiesKeeps() {
    Fixture f;
    ui::MainWindow w;
    QVERIFY(openAll(w, f));
    ui::MergeDashboard* d = w.figures()->mergeDashboard();
    QVERIFY(analyze(d));
    QVERIFY(d->previewBar()->selectTensor(kL1));
    auto* density = d->findChild<QDoubleSpinBox*>(QStringLiteral("mergeDensity"));
    QVERIFY(density);
    density->setValue(1.0);
    QSignalSpy updated(d, &ui::MergeDashboard::updated);
    QTest::mouseClick(d->previewBar()->previewButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(hasPage(updated, ui::MergeDashboard::ElementsPage), 10000);
    QCOMPARE(d->pages()->currentIndex(), int{ui::MergeDashboard::ElementsPage});
    // TIES, density 1: the sum elects + everywhere; b opposes it at odd entries, where a alone
    // contributes; the disjoint mean is 1 everywhere.
    const ElementInterference& e = *d->elements();
    QCOMPARE(e.shape, (Shape{2, 4}));
    QCOMPARE(e.disagree, (std::vector<std::uint8_t>{0, 1, 0, 1, 0, 1, 0, 1}));
    QCOMPARE(e.contributes, (std::vector<std::uint32_t>{3, 1, 3, 1, 3, 1, 3, 1}));
    QCOMPARE(e.merged_delta, std::vector<float>(8, 1.0f));
    QVERIFY(d->summary().contains(QStringLiteral("ft-a 100.0 %, ft-b 50.0 %")));
    // The heatmap shows the chosen map: disagreeing models first, then contributing models.
    const TensorPyramid* p = d->heatmap().pyramid();
    QVERIFY(p);
    QCOMPARE(p->rows(), std::int64_t{2});
    QCOMPARE(p->cols(), std::int64_t{4});
    updated.clear();
    auto* map = d->findChild<QComboBox*>(QStringLiteral("mergeMap"));
    map->setCurrentIndex(map->findData(static_cast<int>(figures::ElementMapKind::Contributors)));
    QTRY_VERIFY_WITH_TIMEOUT(hasPage(updated, ui::MergeDashboard::ElementsPage), 10000);
    QCOMPARE(figures::element_map_values(e, figures::ElementMapKind::Contributors),
             (std::vector<float>{2, 1, 2, 1, 2, 1, 2, 1}));
    QCOMPARE(w.figures()->currentFigureName(), QStringLiteral("merge-element-map"));
  }

  void modelLabelsNameTheModel_data() {
    QTest::addColumn<QStringList>("paths");
    QTest::addColumn<QStringList>("labels");
    QTest::newRow("stems") << QStringList{"/m/ft-a.safetensors", "/m/ft-b.gguf"} << QStringList{"ft-a", "ft-b"};
    QTest::newRow("generic file names") << QStringList{"/m/math/model.safetensors", "/m/code/pytorch_model.bin",
                                                       "/m/chat/model-00001-of-00002.safetensors"}
                                        << QStringList{"math", "code", "chat"};
    QTest::newRow("folders") << QStringList{"/m/math", "/m/code/"} << QStringList{"math", "code"};
    QTest::newRow("duplicates") << QStringList{"/a/x.pt", "/b/x.pt", "/c/x.pt"} << QStringList{"x", "x (2)", "x (3)"};
  }
  void modelLabelsNameTheModel() {
    QFETCH(QStringList, paths);
    QFETCH(QStringList, labels);
    std::vector<std::string> p;
    for (const auto& s : paths) p.push_back(s.toStdString());
    QStringList got;
    for (const auto& s : figures::model_labels(p)) got << QString::fromStdString(s);
    QCOMPARE(got, labels);
  }

  void startupOptions_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<bool>("merge");
    QTest::addColumn<int>("page");
    QTest::addColumn<bool>("error");
    QTest::newRow("merge") << QStringList{"--merge", "b", "x", "y"} << true << -1 << false;
    QTest::newRow("page") << QStringList{"--merge", "--merge-page", "magnitudes", "b"} << true << 2 << false;
    QTest::newRow("bad page") << QStringList{"--merge", "--merge-page", "nope", "b"} << true << -1 << true;
    QTest::newRow("view merge") << QStringList{"--view", "merge", "b"} << false << -1 << false;
  }
  void startupOptions() {
    QFETCH(QStringList, args);
    QFETCH(bool, merge);
    QFETCH(int, page);
    QFETCH(bool, error);
    const ui::StartupOptions o = ui::parseStartupOptions(QStringList{"paramscope"} + args);
    QCOMPARE(o.error.isEmpty(), !error);
    if (error) {
      QVERIFY(o.error.contains(QStringLiteral("--merge-page")));
      return;
    }
    QCOMPARE(o.merge, merge);
    QCOMPARE(o.mergePage, page);
    if (args.contains(QStringLiteral("merge")) && !merge) QCOMPARE(o.view, int{ui::FigureTabs::MergeTab});
  }
};

PARAMSCOPE_GUI_TEST_MAIN(TestMergeDashboard)
#include "test_merge_dashboard.moc"
