#include "heatmap_controls.h"

#include <algorithm>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QVBoxLayout>
#include <QLabel>
#include <QSettings>

namespace paramscope::ui {
namespace {

constexpr const char* kShowKey = "heatmap/show";
constexpr const char* kWeightsMapKey = "heatmap/weightsColormap";
constexpr const char* kImportanceMapKey = "heatmap/importanceColormap";
constexpr const char* kScaleKey = "heatmap/scale";
constexpr const char* kClipLowKey = "heatmap/clipLow";
constexpr const char* kClipHighKey = "heatmap/clipHigh";
constexpr const char* kReductionKey = "heatmap/perPixel";
constexpr const char* kOverlayKey = "heatmap/overlay";
constexpr const char* kOverlayPercentKey = "heatmap/overlayPercent";

figures::Colormap mapOf(const QString& name, figures::Colormap fallback) {
  return figures::colormap_from_name(name.toStdString()).value_or(fallback);
}

QString nameOf(figures::Colormap m) { return QString::fromLatin1(figures::colormap_name(m).data()); }

// As matplotlib spells them in the combo box.
QString labelOf(figures::Colormap m) { return m == figures::Colormap::RdBuR ? QStringLiteral("RdBu_r") : nameOf(m); }

QComboBox* combo(QWidget* parent, const char* name, const QString& tip) {
  auto* c = new QComboBox(parent);
  c->setObjectName(QLatin1String(name));
  c->setToolTip(tip);
  c->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  return c;
}

QDoubleSpinBox* spin(QWidget* parent, const char* name, double lo, double hi, const QString& tip) {
  auto* s = new QDoubleSpinBox(parent);
  s->setObjectName(QLatin1String(name));
  s->setRange(lo, hi);
  s->setDecimals(2);
  s->setSuffix(QStringLiteral(" %"));
  s->setToolTip(tip);
  s->setKeyboardTracking(false);  // one re-render per finished edit, not per keystroke
  return s;
}

}  // namespace

HeatmapControls::HeatmapControls(QWidget* parent)
    : QWidget(parent),
      show_(combo(this, "heatmapShow", tr("Show the weights, or the element scores of the Importance dock's criterion"))),
      colormap_(combo(this, "heatmapColormap", tr("Colormap (each kind of data keeps its own)"))),
      scale_(combo(this, "heatmapScale", tr("Linear values, or log10 |x|"))),
      clipLow_(spin(this, "heatmapClipLow", 0, 99.99, tr("Colours start at this percentile of the values"))),
      clipHigh_(spin(this, "heatmapClipHigh", 0.01, 100, tr("Colours end at this percentile of the values"))),
      reduction_(combo(this, "heatmapPerPixel", tr("How a screen pixel shows the elements it covers"))),
      overlay_(new QCheckBox(tr("Overlay top"), this)),
      overlayPercent_(spin(this, "heatmapOverlayPercent", 0.01, 100, tr("Mark the elements with the top k % of scores"))),
      message_(new QLabel(this)) {
  setObjectName(QStringLiteral("heatmapControls"));
  overlay_->setObjectName(QStringLiteral("heatmapOverlay"));
  overlay_->setToolTip(tr("Mark the elements with the top k % of the criterion's element scores"));
  message_->setObjectName(QStringLiteral("heatmapMessage"));
  message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  show_->addItems({tr("Weights"), tr("Importance")});
  for (figures::Colormap m : figures::kColormaps) colormap_->addItem(labelOf(m), nameOf(m));
  scale_->addItems({tr("linear"), tr("log")});
  reduction_->addItems({tr("max-abs"), tr("mean")});

  // Two rows, so that the bar fits the heatmap tab of a window shared with three docks.
  auto* rows = new QVBoxLayout(this);
  rows->setContentsMargins(4, 2, 4, 2);
  rows->setSpacing(2);
  auto* top = new QHBoxLayout;
  auto* bottom = new QHBoxLayout;
  rows->addLayout(top);
  rows->addLayout(bottom);
  setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Fixed);
  auto label = [this](QHBoxLayout* row, const QString& text) { row->addWidget(new QLabel(text, this)); };
  for (QHBoxLayout* row : {top, bottom}) row->setSpacing(4);
  label(top, tr("Show"));
  top->addWidget(show_);
  top->addSpacing(6);
  label(top, tr("Colormap"));
  top->addWidget(colormap_);
  label(top, tr("Scale"));
  top->addWidget(scale_);
  top->addStretch(1);
  label(bottom, tr("Clip %"));
  bottom->addWidget(clipLow_);
  label(bottom, QStringLiteral("–"));
  bottom->addWidget(clipHigh_);
  bottom->addSpacing(6);
  label(bottom, tr("Per pixel"));
  bottom->addWidget(reduction_);
  bottom->addSpacing(6);
  bottom->addWidget(overlay_);
  bottom->addWidget(overlayPercent_);
  bottom->addSpacing(6);
  bottom->addWidget(message_, 1);
  // Each control keeps its natural width; a window too narrow for a row cuts off its right end.
  for (QWidget* w : findChildren<QWidget*>())
    if (w != message_) w->setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Fixed);

  QSettings s;
  settings_.importance = s.value(kShowKey).toString() == QLatin1String("importance");
  settings_.weightsColormap = mapOf(s.value(kWeightsMapKey).toString(), settings_.weightsColormap);
  settings_.importanceColormap = mapOf(s.value(kImportanceMapKey).toString(), settings_.importanceColormap);
  settings_.scale = s.value(kScaleKey).toString() == QLatin1String("log") ? figures::ColorScale::Log
                                                                          : figures::ColorScale::Linear;
  const double lo = s.value(kClipLowKey, 0.0).toDouble(), hi = s.value(kClipHighKey, 100.0).toDouble();
  if (lo >= 0 && lo < hi && hi <= 100) settings_.clipLow = lo, settings_.clipHigh = hi;
  settings_.reduction = s.value(kReductionKey).toString() == QLatin1String("mean") ? PyramidReduction::Mean
                                                                                  : PyramidReduction::MaxAbs;
  settings_.overlay = s.value(kOverlayKey, false).toBool();
  const double k = s.value(kOverlayPercentKey, 10.0).toDouble();
  if (k > 0 && k <= 100) settings_.overlayPercent = k;
  toWidgets();

  for (QComboBox* c : {show_, colormap_, scale_, reduction_})
    connect(c, &QComboBox::currentIndexChanged, this, &HeatmapControls::fromWidgets);
  for (QDoubleSpinBox* b : {clipLow_, clipHigh_, overlayPercent_})
    connect(b, &QDoubleSpinBox::valueChanged, this, &HeatmapControls::fromWidgets);
  connect(overlay_, &QCheckBox::toggled, this, &HeatmapControls::fromWidgets);
}

void HeatmapControls::setSettings(const HeatmapSettings& s) {
  settings_ = s;
  settings_.clipLow = std::clamp(s.clipLow, 0.0, 99.99);
  settings_.clipHigh = std::clamp(s.clipHigh, settings_.clipLow + 0.01, 100.0);
  settings_.overlayPercent = std::clamp(s.overlayPercent, 0.01, 100.0);
  toWidgets();
  save();
  emit changed();
}

void HeatmapControls::fromWidgets() {
  if (updating_) return;
  HeatmapSettings s = settings_;
  const bool importance = show_->currentIndex() == 1;
  if (importance == s.importance) {
    const figures::Colormap m = mapOf(colormap_->currentData().toString(), s.colormap());
    (importance ? s.importanceColormap : s.weightsColormap) = m;
  }
  s.importance = importance;  // a switch of data brings back that data's own map (toWidgets)
  s.scale = scale_->currentIndex() == 1 ? figures::ColorScale::Log : figures::ColorScale::Linear;
  s.clipLow = clipLow_->value();
  s.clipHigh = clipHigh_->value();
  // Keep lo < hi: the edited end pushes the other.
  if (s.clipLow >= s.clipHigh) {
    if (sender() == clipLow_)
      s.clipHigh = std::min(100.0, s.clipLow + 0.01);
    else
      s.clipLow = std::max(0.0, s.clipHigh - 0.01);
  }
  s.reduction = reduction_->currentIndex() == 1 ? PyramidReduction::Mean : PyramidReduction::MaxAbs;
  s.overlay = overlay_->isChecked();
  s.overlayPercent = overlayPercent_->value();
  setSettings(s);
}

void HeatmapControls::toWidgets() {
  updating_ = true;
  show_->setCurrentIndex(settings_.importance ? 1 : 0);
  colormap_->setCurrentIndex(colormap_->findData(nameOf(settings_.colormap())));
  scale_->setCurrentIndex(settings_.scale == figures::ColorScale::Log ? 1 : 0);
  clipLow_->setValue(settings_.clipLow);
  clipHigh_->setValue(settings_.clipHigh);
  reduction_->setCurrentIndex(settings_.reduction == PyramidReduction::Mean ? 1 : 0);
  overlay_->setChecked(settings_.overlay);
  overlayPercent_->setValue(settings_.overlayPercent);
  overlayPercent_->setEnabled(settings_.overlay);
  updating_ = false;
}

void HeatmapControls::save() const {
  QSettings s;
  s.setValue(kShowKey, settings_.importance ? QStringLiteral("importance") : QStringLiteral("weights"));
  s.setValue(kWeightsMapKey, nameOf(settings_.weightsColormap));
  s.setValue(kImportanceMapKey, nameOf(settings_.importanceColormap));
  s.setValue(kScaleKey, settings_.scale == figures::ColorScale::Log ? QStringLiteral("log") : QStringLiteral("linear"));
  s.setValue(kClipLowKey, settings_.clipLow);
  s.setValue(kClipHighKey, settings_.clipHigh);
  s.setValue(kReductionKey, settings_.reduction == PyramidReduction::Mean ? QStringLiteral("mean") : QStringLiteral("max-abs"));
  s.setValue(kOverlayKey, settings_.overlay);
  s.setValue(kOverlayPercentKey, settings_.overlayPercent);
}

void HeatmapControls::applyTo(figures::HeatmapScene& scene) const {
  scene.set_colormap(settings_.colormap());
  scene.set_scale(settings_.scale);
  scene.set_clip_percentiles(settings_.clipLow, settings_.clipHigh);
  scene.set_reduction(settings_.reduction);
}

void HeatmapControls::setMessage(const QString& text) {
  message_->setText(text);
  message_->setToolTip(text);
}

QString HeatmapControls::message() const { return message_->text(); }

}  // namespace paramscope::ui
