// The Attributions tab on the bundled digits CNN (resources/samples/digits-cnn): the model's top
// predictions against the engine run directly, one overlay per method with real pixels, RISE's
// map refining batch by batch and stopping early, the curves against xai::faithfulness on the
// same maps, and errors shown in place.
#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "attribution_dashboard.h"
#include "attribution_inputs_bar.h"
#include "figure_tabs.h"
#include "gui_test_support.h"
#include "main_window.h"
#include "paramscope/engine.h"
#include "paramscope/figures/line_chart.h"
#include "paramscope/npy.h"
#include "startup.h"

using namespace paramscope;
using ui::AttributionMethod;

namespace {

QString modelPath() {
  return QString::fromStdString((test::samples_dir() / "digits-cnn" / "model.onnx").string());
}
QString inputsPath() {
  return QString::fromStdString((test::samples_dir() / "digits-cnn" / "inputs.npy").string());
}

// Shows the window on the Attributions tab and opens the digits model and inputs; true once the
// class combo is filled.
bool openDigits(ui::MainWindow& w) {
  w.setErrorDialogsEnabled(false);
  w.resize(1500, 950);
  w.show();
  if (!QTest::qWaitForWindowExposed(&w)) return false;
  w.figures()->setCurrentIndex(ui::FigureTabs::AttributionTab);
  ui::AttributionDashboard* d = w.figures()->attributionDashboard();
  QSignalSpy predicted(d, &ui::AttributionDashboard::predicted);
  if (!d->open(modelPath(), {inputsPath()})) return false;
  return predicted.wait(30000);
}

bool computeAndWait(ui::AttributionDashboard* d) {
  QSignalSpy computed(d, &ui::AttributionDashboard::computed);
  if (d->compute().empty()) return false;
  return computed.wait(120000);
}

// The on-screen pixel at the centre of map element (row, col) of a scene shown in view.
QRgb pixelOf(ui::VtkViewWidget* view, const figures::AttributionScene& scene, std::int64_t row, std::int64_t col) {
  QSignalSpy swapped(view, &QOpenGLWidget::frameSwapped);
  view->renderLater();
  swapped.wait(5000);
  const QImage shot = view->grabFramebuffer().convertToFormat(QImage::Format_RGB32);
  const figures::PixelRect p = scene.plot_rect();
  const int x =
      p.x + static_cast<int>((static_cast<double>(col) + 0.5) * p.width / static_cast<double>(scene.map().width));
  const int y =
      p.y + static_cast<int>((static_cast<double>(row) + 0.5) * p.height / static_cast<double>(scene.map().height));
  return shot.pixel(x, y);
}

bool near(QRgb a, figures::Rgb b, int tolerance = 1) {
  return std::abs(qRed(a) - b.r) <= tolerance && std::abs(qGreen(a) - b.g) <= tolerance &&
         std::abs(qBlue(a) - b.b) <= tolerance;
}

}  // namespace

class TestAttributionDashboard : public QObject {
  Q_OBJECT

 private slots:
  void init() { QSettings().clear(); }

  void classComboListsTheTopPredictions() {
    ui::MainWindow w;
    QVERIFY(openDigits(w));
    ui::AttributionDashboard* d = w.figures()->attributionDashboard();
    QCOMPARE(d->inputs()->sampleBox()->count(), 16);
    QCOMPARE(d->inputs()->sampleBox()->itemText(3), QStringLiteral("inputs.npy #3"));
    // The engine run directly on sample 0: softmax of the logits, best first.
    const engine::Model model = engine::Model::load(modelPath().toStdString());
    const Array x = read_npy(inputsPath().toStdString()).rows(0, 1);
    const Array logits = model.run({{model.inputs().front().name, x}}).front();
    const auto v = logits.values<float>();
    std::vector<std::pair<double, int>> p;
    double sum = 0;
    for (float l : v) sum += std::exp(static_cast<double>(l));
    for (std::size_t i = 0; i < v.size(); ++i)
      p.emplace_back(std::exp(static_cast<double>(v[i])) / sum, static_cast<int>(i));
    std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    QComboBox* classes = d->inputs()->classBox();
    QCOMPARE(classes->count(), 5);
    for (int k = 0; k < 5; ++k) {
      QCOMPARE(classes->itemData(k).toLongLong(), static_cast<qlonglong>(p[static_cast<std::size_t>(k)].second));
      QCOMPARE(classes->itemText(k), QStringLiteral("%1 (p=%2)")
                                         .arg(p[static_cast<std::size_t>(k)].second)
                                         .arg(p[static_cast<std::size_t>(k)].first, 0, 'f', 3));
    }
    QCOMPARE(d->inputs()->classIndex(), static_cast<std::int64_t>(p.front().second));
    QVERIFY(d->inputs()->computeButton()->isEnabled());
    // Another sample predicts again.
    QSignalSpy predicted(d, &ui::AttributionDashboard::predicted);
    d->inputs()->sampleBox()->setCurrentIndex(1);
    QVERIFY(predicted.wait(30000));
    const Array x1 = read_npy(inputsPath().toStdString()).rows(1, 1);
    const Array logits1 = model.run({{model.inputs().front().name, x1}}).front();
    const auto v1 = logits1.values<float>();
    const auto top1 = std::max_element(v1.begin(), v1.end()) - v1.begin();
    QCOMPARE(d->inputs()->classIndex(), static_cast<std::int64_t>(top1));
  }

  void everyMethodShowsItsMapAndCurves() {
    ui::MainWindow w;
    QVERIFY(openDigits(w));
    ui::AttributionDashboard* d = w.figures()->attributionDashboard();
    const std::vector<AttributionMethod> methods{AttributionMethod::Rise, AttributionMethod::DeepLift,
                                                 AttributionMethod::IntegratedGradients,
                                                 AttributionMethod::GradientXInput};
    d->inputs()->setMethods(methods);
    d->inputs()->masksBox()->setValue(1000);
    QVERIFY(computeAndWait(d));
    QVERIFY2(!d->status().contains(QStringLiteral("failed")), qPrintable(d->status()));
    const engine::Model model = engine::Model::load(modelPath().toStdString());
    const Array x = d->currentInput();
    const std::int64_t cls = d->inputs()->classIndex();
    QCOMPARE(d->deletion().series_count(), methods.size());
    QCOMPARE(d->insertion().series_count(), methods.size());
    for (AttributionMethod m : methods) {
      const auto r = d->result(m);
      QVERIFY(r);
      QCOMPARE(r->attribution.classes.front(), cls);
      const figures::AttributionScene& scene = d->scene(m);
      QCOMPARE(scene.map().height, std::int64_t{8});
      QCOMPARE(scene.map().width, std::int64_t{8});
      // The element of largest magnitude: its pixel is the blend of input and map colours, not
      // the input alone.
      std::size_t best = 0;
      for (std::size_t i = 0; i < scene.map().values.size(); ++i)
        if (std::fabs(scene.map().values[i]) > std::fabs(scene.map().values[best])) best = i;
      const std::int64_t row = static_cast<std::int64_t>(best) / 8, col = static_cast<std::int64_t>(best) % 8;
      const figures::Rgb in = scene.input_color(row, col), over = scene.color_of(scene.map().values[best]);
      auto mix = [](int a, int b) { return static_cast<std::uint8_t>(std::lround(a * 0.5 + b * 0.5)); };
      const figures::Rgb blended{mix(in.r, over.r), mix(in.g, over.g), mix(in.b, over.b)};
      if (d->view(m)->devicePixelRatio() == 1) {
        const QRgb shown = pixelOf(d->view(m), scene, row, col);
        QVERIFY2(near(shown, blended), qPrintable(QStringLiteral("%1: pixel %2 %3 %4")
                                                      .arg(ui::attributionMethodTitle(m))
                                                      .arg(qRed(shown))
                                                      .arg(qGreen(shown))
                                                      .arg(qBlue(shown))));
        QVERIFY(!near(shown, in, 0));
      }
      // The curves are xai::faithfulness of the same map.
      xai::Target target;
      target.classes = {cls};
      const xai::Faithfulness f =
          xai::faithfulness(model, x, r->attribution.map, target, ui::attributionCurveOptions());
      QCOMPARE(r->curves.deletion.front().auc, f.deletion.front().auc);
      QCOMPARE(r->curves.insertion.front().auc, f.insertion.front().auc);
      QCOMPARE(r->curves.deletion.front().score.size(), std::size_t{65});  // 64 pixels, one per step
    }
    // DeepLIFT sums to the change in output; IG nearly.
    QVERIFY(std::fabs(d->result(AttributionMethod::DeepLift)->attribution.delta.front()) < 1e-3);
    QVERIFY(d->status().contains(QStringLiteral("RISE deletion ")));
    // Export writes the focused figure.
    QCOMPARE(w.figures()->currentFigureName(), QStringLiteral("attribution-rise"));
    QTemporaryDir dir;
    const std::string png = dir.filePath(QStringLiteral("rise.png")).toStdString();
    w.figures()->currentScene()->save(png);
    QVERIFY(std::filesystem::file_size(png) > 1000);
    // Sign and alpha reach every scene.
    d->setAlpha(0);
    d->setSign(figures::AttributionSign::Absolute);
    QCOMPARE(d->scene(AttributionMethod::DeepLift).alpha(), 0.0);
    QCOMPARE(d->scene(AttributionMethod::Rise).sign(), figures::AttributionSign::Absolute);
  }

  void riseRefinesAsBatchesComplete() {
    ui::MainWindow w;
    QVERIFY(openDigits(w));
    ui::AttributionDashboard* d = w.figures()->attributionDashboard();
    d->setPartialInterval(0);
    d->inputs()->setMethods({AttributionMethod::Rise});
    d->inputs()->masksBox()->setValue(2000);
    QSignalSpy partial(d, &ui::AttributionDashboard::partialShown);
    QVERIFY(computeAndWait(d));
    QVERIFY2(partial.count() > 1, qPrintable(QString::number(partial.count())));
    qlonglong last = 0;
    for (const auto& args : partial) {
      QVERIFY(args.at(0).toLongLong() > last);
      last = args.at(0).toLongLong();
    }
    QCOMPARE(d->result(AttributionMethod::Rise)->masks, std::int64_t{2000});
  }

  void stopKeepsRisesMapSoFar() {
    ui::MainWindow w;
    QVERIFY(openDigits(w));
    ui::AttributionDashboard* d = w.figures()->attributionDashboard();
    d->setPartialInterval(0);
    d->inputs()->setMethods({AttributionMethod::Rise, AttributionMethod::SmoothGrad});
    d->inputs()->masksBox()->setValue(1000000);
    QSignalSpy partial(d, &ui::AttributionDashboard::partialShown);
    QSignalSpy computed(d, &ui::AttributionDashboard::computed);
    QVERIFY(!d->compute().empty());
    QVERIFY(d->inputs()->stopButton()->isEnabled());
    QVERIFY(partial.wait(30000));
    QTest::mouseClick(d->inputs()->stopButton(), Qt::LeftButton);
    QVERIFY(computed.wait(60000));
    QVERIFY(!d->running());
    QVERIFY(!d->inputs()->stopButton()->isEnabled());
    const auto r = d->result(AttributionMethod::Rise);
    QVERIFY(r);
    QVERIFY(r->masks > 0 && r->masks < 1000000);
    QVERIFY(!d->scene(AttributionMethod::Rise).map().values.empty());
    QVERIFY(!r->curves.deletion.empty());
  }

  void errorsShowInPlace() {
    ui::MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QTemporaryDir dir;
    const QString bogus = dir.filePath(QStringLiteral("not-a-model.onnx"));
    std::ofstream(bogus.toStdString()) << "this is not a protobuf";
    ui::AttributionDashboard* d = w.figures()->attributionDashboard();
    QSignalSpy opened(d, &ui::AttributionDashboard::opened);
    QVERIFY(d->open(bogus, {inputsPath()}));
    QVERIFY(opened.wait(30000));
    QCOMPARE(opened.front().at(0).toBool(), false);
    QVERIFY2(d->status().startsWith(QStringLiteral("Cannot open: ")), qPrintable(d->status()));
    QVERIFY(d->status().contains(QStringLiteral("not-a-model.onnx")));
    QCOMPARE(d->inputs()->classBox()->count(), 0);
    QVERIFY(!d->inputs()->computeButton()->isEnabled());
    QVERIFY(d->compute().empty());
  }

  void startupOptions() {
    const auto o = ui::parseStartupOptions({QStringLiteral("paramscope"), QStringLiteral("--attribute"), modelPath(),
                                            inputsPath(), QStringLiteral("--methods"), QStringLiteral("rise,gxi")});
    QVERIFY2(o.error.isEmpty(), qPrintable(o.error));
    QCOMPARE(o.attribute, modelPath());
    QCOMPARE(o.paths, QStringList{inputsPath()});
    QCOMPARE(o.methods, (QStringList{QStringLiteral("rise"), QStringLiteral("gxi")}));
    const auto bad = ui::parseStartupOptions({QStringLiteral("paramscope"), QStringLiteral("--attribute"), modelPath(),
                                              QStringLiteral("--methods"), QStringLiteral("lime")});
    QVERIFY(bad.error.contains(QStringLiteral("lime")));
  }
};

PARAMSCOPE_GUI_TEST_MAIN(TestAttributionDashboard)
#include "test_attribution_dashboard.moc"
