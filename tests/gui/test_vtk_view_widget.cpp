// The Qt <-> VTK bridge: a chart rendered by VTK inside a QOpenGLWidget, read back as pixels.
// Every check compares frames before and after a change, so a bridge that shows only its first
// frame (or never re-renders after zoom or pan) fails.
#include <QDockWidget>
#include <QMainWindow>
#include <QSignalSpy>
#include <QtTest>

#include "gui_test_support.h"
#include "paramscope/figures/block_chart.h"
#include "vtk_view_widget.h"

using namespace paramscope;
using ui::VtkViewWidget;

namespace {

constexpr int kWidth = 800;
constexpr int kHeight = 500;

// Plot area centre: the chart leaves room for axes on the left and at the bottom.
QPoint plotCentre() { return {kWidth / 2 + 30, kHeight / 2}; }

bool backgroundCorners(const QImage& image) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
  for (QPoint p : {QPoint(1, 1), QPoint(rgb.width() - 2, 1), QPoint(1, rgb.height() - 2),
                   QPoint(rgb.width() - 2, rgb.height() - 2)})
    if (!test::is(rgb.pixel(p), figures::palette::background)) return false;
  return true;
}

int widest(const std::vector<test::BarRun>& bars) {
  int w = 0;
  for (const auto& b : bars) w = std::max(w, b.right - b.left + 1);
  return w;
}

void sendWheel(QWidget* w, QPoint pos, int delta) {
  QWheelEvent e(pos, w->mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
  QCoreApplication::sendEvent(w, &e);
}

void sendDrag(QWidget* w, QPoint from, QPoint to) {
  QTest::mousePress(w, Qt::LeftButton, Qt::NoModifier, from);
  for (int i = 1; i <= 4; ++i) {
    const QPoint p = from + (to - from) * i / 4;
    QMouseEvent move(QEvent::MouseMove, p, w->mapToGlobal(p), Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(w, &move);
  }
  QTest::mouseRelease(w, Qt::LeftButton, Qt::NoModifier, to);
}

}  // namespace

class TestVtkViewWidget : public QObject {
  Q_OBJECT

private slots:
  void init();
  void cleanup();
  void rendersBarChart();
  void laterRendersShowNewContent();
  void wheelZoomRerenders();
  void dragPanRerenders();
  void hoverShowsTooltip();
  void sceneReplacedAndRemoved();
  void savePngWhileShownKeepsTheView();
  void survivesNewContextWhenReparented();

private:
  // Renders now (on screen), then reads back what was shown.
  QImage shownFrame();

  std::unique_ptr<VtkViewWidget> view_;
  std::shared_ptr<figures::BlockChart> chart_;
};

void TestVtkViewWidget::init() {
  chart_ = std::make_shared<figures::BlockChart>();
  chart_->set_checkpoint(*test::load("gui/tiny_llama.safetensors"));
  view_ = std::make_unique<VtkViewWidget>();
  view_->resize(kWidth, kHeight);
  view_->setScene(chart_);
  view_->show();
  QVERIFY(QTest::qWaitForWindowExposed(view_.get()));
}

void TestVtkViewWidget::cleanup() {
  view_.reset();
  chart_.reset();
}

QImage TestVtkViewWidget::shownFrame() {
  QSignalSpy swapped(view_.get(), &QOpenGLWidget::frameSwapped);
  view_->renderLater();
  if (!swapped.wait(5000)) qWarning("no frame shown within 5 s");
  // Nothing is pending now, so this copies the frame VTK rendered for the screen.
  return view_->grabFramebuffer();
}

void TestVtkViewWidget::rendersBarChart() {
  QCOMPARE(view_->scene(), chart_.get());
  QVERIFY(chart_->window() != nullptr);
  const QImage frame = shownFrame();
  test::keepImage(frame, QStringLiteral("view_llama"));
  QCOMPARE(frame.size(), QSize(kWidth, kHeight) * view_->devicePixelRatio());
  QVERIFY(backgroundCorners(frame));
  const auto bars = test::findBars(frame);
  QCOMPARE(bars.size(), std::size_t{5});
  // 592-parameter layers vs the 256-parameter embedding: heights in that ratio.
  QVERIFY2(std::abs(bars[0].height * 592.0 / 256.0 - bars[1].height) <= 3.0,
           qPrintable(QStringLiteral("%1 vs %2").arg(bars[0].height).arg(bars[1].height)));
  QVERIFY(test::countPixels(frame, figures::palette::bar) > kWidth * kHeight / 10);
}

void TestVtkViewWidget::laterRendersShowNewContent() {
  const QImage llama = shownFrame();
  QCOMPARE(test::findBars(llama).size(), std::size_t{5});

  chart_->set_checkpoint(*test::load("gui/tiny_mlp.safetensors"));
  const QImage mlp = shownFrame();
  test::keepImage(mlp, QStringLiteral("view_mlp"));
  QVERIFY(mlp != llama);
  const auto bars = test::findBars(mlp);
  QCOMPARE(bars.size(), std::size_t{2});
  QVERIFY(std::abs(bars[1].height * 144.0 / 68.0 - bars[0].height) <= 3.0);

  // And back: the third frame is the first one again, pixel for pixel.
  chart_->set_checkpoint(*test::load("gui/tiny_llama.safetensors"));
  QCOMPARE(shownFrame(), llama);

  chart_->clear();
  const QImage empty = shownFrame();
  QCOMPARE(test::countPixels(empty, figures::palette::bar), 0);
  QVERIFY(backgroundCorners(empty));
}

void TestVtkViewWidget::wheelZoomRerenders() {
  const QImage before = shownFrame();
  const int widthBefore = widest(test::findBars(before));
  // VTK re-renders from its own timer after a wheel step; the widget must show that frame.
  sendWheel(view_.get(), plotCentre(), 120);
  sendWheel(view_.get(), plotCentre(), 120);
  QTRY_VERIFY_WITH_TIMEOUT(view_->grabFramebuffer() != before, 5000);
  const QImage zoomed = view_->grabFramebuffer();
  test::keepImage(zoomed, QStringLiteral("view_zoomed"));
  QVERIFY2(widest(test::findBars(zoomed)) > widthBefore,
           qPrintable(QStringLiteral("%1 -> %2").arg(widthBefore).arg(widest(test::findBars(zoomed)))));
  // A new checkpoint starts unzoomed.
  chart_->set_checkpoint(*test::load("gui/tiny_llama.safetensors"));
  QCOMPARE(shownFrame(), before);
}

void TestVtkViewWidget::dragPanRerenders() {
  const QImage before = shownFrame();
  const auto barsBefore = test::findBars(before);
  QCOMPARE(barsBefore.size(), std::size_t{5});
  sendDrag(view_.get(), plotCentre(), plotCentre() + QPoint(120, 0));
  // The bars follow the pointer: 120 pixels to the right (the last one is cut by the plot's edge).
  // Frames count device pixels, events logical ones.
  const int want = static_cast<int>(120 * view_->devicePixelRatio());
  auto shiftOf = [&](std::size_t i) {
    const auto bars = test::findBars(view_->grabFramebuffer());
    return bars.size() == barsBefore.size() ? bars[i].left - barsBefore[i].left : -1;
  };
  QTRY_VERIFY_WITH_TIMEOUT(std::abs(shiftOf(0) - want) <= 2, 5000);
  QVERIFY(std::abs(shiftOf(3) - want) <= 2);
}

void TestVtkViewWidget::hoverShowsTooltip() {
  const QImage before = shownFrame();
  const auto bars = test::findBars(before);
  QCOMPARE(bars.size(), std::size_t{5});
  // Over the middle of the second bar (model.layers.0): VTK draws a tooltip box on the chart.
  const double dpr = view_->devicePixelRatio();
  const QPoint over(static_cast<int>((bars[1].left + bars[1].right) / 2 / dpr), kHeight / 2);
  QTest::mouseMove(view_.get(), over);
  QMouseEvent move(QEvent::MouseMove, over, view_->mapToGlobal(over), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
  QCoreApplication::sendEvent(view_.get(), &move);
  QTRY_VERIFY_WITH_TIMEOUT(view_->grabFramebuffer() != before, 5000);
  const QImage tip = view_->grabFramebuffer();
  test::keepImage(tip, QStringLiteral("view_tooltip"));
  // Covers part of the bar it points at; the bars themselves stay where they were.
  QVERIFY(test::countPixels(tip, figures::palette::bar) < test::countPixels(before, figures::palette::bar));
  QCOMPARE(test::findBars(tip).size(), std::size_t{5});
}

void TestVtkViewWidget::sceneReplacedAndRemoved() {
  auto other = std::make_shared<figures::BlockChart>();
  other->set_checkpoint(*test::load("gui/tiny_mlp.safetensors"));
  view_->setScene(other);
  QCOMPARE(view_->scene(), other.get());
  QVERIFY(chart_->window() == nullptr);
  QVERIFY(other->window() != nullptr);
  QCOMPARE(test::findBars(shownFrame()).size(), std::size_t{2});

  view_->setScene(nullptr);
  QVERIFY(other->window() == nullptr);
  const QImage blank = shownFrame();
  QCOMPARE(test::countPixels(blank, figures::palette::background), blank.width() * blank.height());

  view_->setScene(chart_);
  QCOMPARE(test::findBars(shownFrame()).size(), std::size_t{5});
}

void TestVtkViewWidget::savePngWhileShownKeepsTheView() {
  const QImage before = shownFrame();
  QTemporaryDir dir;
  const QString file = dir.filePath(QStringLiteral("chart.png"));
  chart_->save_png(file.toStdString(), 400, 300);
  QCOMPARE(test::findBars(QImage(file)).size(), std::size_t{5});
  // The scene went back to the widget, which still renders it (after a change, to be sure it
  // is a new frame).
  QVERIFY(chart_->window() != nullptr);
  chart_->set_checkpoint(*test::load("gui/tiny_mlp.safetensors"));
  QCOMPARE(test::findBars(shownFrame()).size(), std::size_t{2});
  chart_->set_checkpoint(*test::load("gui/tiny_llama.safetensors"));
  QCOMPARE(shownFrame(), before);
}

void TestVtkViewWidget::survivesNewContextWhenReparented() {
  // A QOpenGLWidget moved to another top-level window gets a new GL context.
  QMainWindow window;
  auto* dock = new QDockWidget(QStringLiteral("chart"), &window);
  window.addDockWidget(Qt::LeftDockWidgetArea, dock);
  window.setCentralWidget(new QWidget(&window));
  window.resize(kWidth + 200, kHeight + 100);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  VtkViewWidget* view = view_.release();
  dock->setWidget(view);
  view->show();
  dock->setFloating(true);
  dock->resize(kWidth, kHeight);
  QVERIFY(QTest::qWaitForWindowExposed(dock));
  view_.reset(view);  // destroyed before window: take it back out of the dock first
  chart_->set_checkpoint(*test::load("gui/tiny_mlp.safetensors"));
  QCOMPARE(test::findBars(shownFrame()).size(), std::size_t{2});
  view_->setParent(nullptr);
}

PARAMSCOPE_GUI_TEST_MAIN(TestVtkViewWidget)
#include "test_vtk_view_widget.moc"
