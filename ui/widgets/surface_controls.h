// The 3D tab: a small bar above the view chooses what the surface shows (the selected tensor's
// heightfield, or an importance result over (block, neuron) for one module kind) and how a grid
// cell reduces a large tensor. Grids come from data other jobs already built (the heatmap's
// pyramid, the importance maps): no second pass over the tensor. The surface is built when the tab
// is shown, so a hidden 3D tab costs the GUI thread nothing.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QPushButton;

namespace paramscope {
class TensorPyramid;
}
namespace paramscope::figures {
class SurfaceScene;
struct SurfaceGrid;
}  // namespace paramscope::figures

namespace paramscope::ui {

class VtkViewWidget;

class SurfaceControls : public QWidget {
  Q_OBJECT

public:
  /// Lays out the bar over view (reparented here); view shows scene.
  SurfaceControls(std::shared_ptr<figures::SurfaceScene> scene, VtkViewWidget* view, QWidget* parent = nullptr);
  ~SurfaceControls() override;

  /// The selected tensor's pyramid (built by the heatmap job) and its title; nullptr: none.
  void setTensor(std::shared_ptr<const paramscope::TensorPyramid> pyramid, const std::string& title);
  /// An importance result at neuron granularity: one grid per module kind (figure_data.h
  /// surface_of_neurons), in the order the kind combo lists them; an empty list removes them.
  void setImportance(std::vector<std::pair<std::string, figures::SurfaceGrid>> grids, const std::string& title);
  /// Forgets tensor and importance (another checkpoint).
  void clear();

  QComboBox* sourceBox() const noexcept { return source_; }

signals:
  /// The surface shows something else (tests wait on it).
  void updated();

protected:
  void showEvent(QShowEvent* event) override;

private:
  void changed();
  void rebuild();

  std::shared_ptr<figures::SurfaceScene> scene_;
  VtkViewWidget* view_;
  QComboBox* source_;  // item 0: the tensor's heightfield; then "importance: KIND"
  QComboBox* cell_;    // max-abs or mean per grid cell (heightfield)
  QDoubleSpinBox* height_;  // the scene's height fraction
  QPushButton* reset_;
  std::shared_ptr<const paramscope::TensorPyramid> pyramid_;
  std::string tensorTitle_, importanceTitle_;
  std::vector<std::pair<std::string, std::shared_ptr<const figures::SurfaceGrid>>> grids_;
  bool dirty_ = false;
};

}  // namespace paramscope::ui
