// The compact tool bar above the heatmap: what to show (the weights or the element scores of the
// Importance dock's criterion), colormap, linear/log scale, percentile clipping, how a screen
// pixel reduces the elements it covers, and a top-k overlay. The choices live in QSettings.
#pragma once

#include <QWidget>

#include "paramscope/figures/colormap.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/pyramid.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;

namespace paramscope::ui {

struct HeatmapSettings {
  bool importance = false;  ///< show element scores instead of weights
  // Each kind of data remembers its own map: diverging for signed weights, sequential for scores.
  figures::Colormap weightsColormap = figures::Colormap::RdBuR;
  figures::Colormap importanceColormap = figures::Colormap::Viridis;
  figures::ColorScale scale = figures::ColorScale::Linear;
  double clipLow = 0, clipHigh = 100;  ///< percentiles, clipLow < clipHigh
  PyramidReduction reduction = PyramidReduction::MaxAbs;
  bool overlay = false;
  double overlayPercent = 10;  ///< in (0, 100]

  figures::Colormap colormap() const noexcept { return importance ? importanceColormap : weightsColormap; }
  /// Element scores are needed (shown or overlaid).
  bool needsScores() const noexcept { return importance || overlay; }
};

class HeatmapControls : public QWidget {
  Q_OBJECT

public:
  /// Restores the last choices from QSettings.
  explicit HeatmapControls(QWidget* parent = nullptr);

  HeatmapSettings settings() const { return settings_; }
  /// Shows s in the widgets, saves it and emits changed().
  void setSettings(const HeatmapSettings& s);
  /// Colormap, scale, clipping and reduction onto the scene (no data changes).
  void applyTo(figures::HeatmapScene& scene) const;
  /// A note at the end of the bar (which criterion is shown, or why there is nothing to show).
  void setMessage(const QString& text);
  QString message() const;

signals:
  void changed();

private:
  void fromWidgets();
  void toWidgets();
  void save() const;

  HeatmapSettings settings_;
  QComboBox* show_;
  QComboBox* colormap_;
  QComboBox* scale_;
  QDoubleSpinBox* clipLow_;
  QDoubleSpinBox* clipHigh_;
  QComboBox* reduction_;
  QCheckBox* overlay_;
  QDoubleSpinBox* overlayPercent_;
  QLabel* message_;
  bool updating_ = false;
};

}  // namespace paramscope::ui
