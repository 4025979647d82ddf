// The central area: one tab per view (blocks, heatmap, depth profile, distribution, spectrum, 3D,
// merge, attributions), each a figures scene in a VTK view. Data for the views is prepared on the worker pool through
// jobs; the tabs only show it. Export writes the current view as PNG, SVG or PDF.
#pragma once

#include <memory>

#include <QTabWidget>

#include "checkpoint_tree_model.h"
#include "paramscope/figures/figure_data.h"

namespace paramscope {
class Tensor;
struct ReducedMaps;
enum class Reduction : std::uint8_t;
}  // namespace paramscope
namespace paramscope::figures {
class BlockChart;
class HeatmapScene;
class HistogramChart;
class ProfileChart;
class Scene;
class SpectrumChart;
class SurfaceScene;
}  // namespace paramscope::figures

namespace paramscope::ui {

class AttributionDashboard;
class HeatmapPage;
class JobsModel;
class MergeDashboard;
class SurfaceControls;
class VtkViewWidget;

class FigureTabs : public QTabWidget {
  Q_OBJECT

public:
  enum Tab : int { BlocksTab, HeatmapTab, ProfileTab, HistogramTab, SpectrumTab, SurfaceTab, MergeTab, AttributionTab };

  /// model: the open checkpoints, from which the Merge tab picks its base and fine-tunes.
  FigureTabs(JobsModel* jobs, CheckpointTreeModel* model, QWidget* parent = nullptr);
  ~FigureTabs() override;

  /// Shows a checkpoint's blocks (nullptr: none) and forgets the tensor and profile of another.
  void showCheckpoint(CheckpointPtr checkpoint);
  /// Starts jobs for the tensor's heatmap pyramid, histogram and (for matrices) spectrum.
  void showTensor(CheckpointPtr checkpoint, const paramscope::Tensor* tensor);
  /// Shows the per-block, per-module-kind scores of an importance result, and gives the 3D tab
  /// its (block, neuron) surfaces per module kind (see ImportanceResult::surfaces; may be empty).
  void showProfile(CheckpointPtr checkpoint, const paramscope::ReducedMaps& maps, paramscope::Reduction r,
                   const QString& title, std::vector<std::pair<std::string, figures::SurfaceGrid>> surfaces = {});

  /// The Depth Profile as lines instead of bars (kept in the settings).
  void setProfileLines(bool lines);
  bool profileLines() const;

  figures::Scene* currentScene() const;
  VtkViewWidget* view(Tab tab) const;
  figures::BlockChart& blocks() const noexcept { return *blocks_; }
  figures::HeatmapScene& heatmap() const noexcept { return *heatmap_; }
  figures::ProfileChart& profile() const noexcept { return *profile_; }
  figures::HistogramChart& histogram() const noexcept { return *histogram_; }
  figures::SpectrumChart& spectrum() const noexcept { return *spectrum_; }
  figures::SurfaceScene& surface() const noexcept { return *surface_; }
  /// The 3D tab: the choice of what its surface shows.
  SurfaceControls* surfaceControls() const noexcept { return surfaceControls_; }
  /// The heatmap tab: its controls and the element scores it shows or overlays.
  HeatmapPage* heatmapPage() const noexcept { return heatmapPage_; }
  /// The Merge tab.
  MergeDashboard* mergeDashboard() const noexcept { return merge_; }
  /// The Attributions tab.
  AttributionDashboard* attributionDashboard() const noexcept { return attributions_; }
  /// A file name for the current view's figure ("heatmap", "merge-similarity").
  QString currentFigureName() const;

signals:
  /// A bar or point of the profile was clicked: the tensor behind it.
  void tensorClicked(const QString& name);
  /// A view changed its content (for tests waiting on jobs).
  void viewUpdated(int tab);
  /// The heatmap's hover read-out ("row 3, col 17: 0.0123"; "" when off the matrix).
  void readout(const QString& text);

private:
  void startSpectrum(CheckpointPtr checkpoint, const paramscope::Tensor* tensor);
  void updateDistribution();

  JobsModel* jobs_;
  std::shared_ptr<figures::BlockChart> blocks_;
  std::shared_ptr<figures::HeatmapScene> heatmap_;
  std::shared_ptr<figures::ProfileChart> profile_;
  std::shared_ptr<figures::HistogramChart> histogram_;
  std::shared_ptr<figures::SpectrumChart> spectrum_;
  std::shared_ptr<figures::SurfaceScene> surface_;
  VtkViewWidget* views_[6] = {};
  SurfaceControls* surfaceControls_ = nullptr;  // hosts views_[SurfaceTab] under its bar
  HeatmapPage* heatmapPage_ = nullptr;  // hosts views_[HeatmapTab] under its controls
  MergeDashboard* merge_ = nullptr;
  AttributionDashboard* attributions_ = nullptr;
  std::vector<std::vector<std::string>> profileTensors_;  // [series][block]
  const paramscope::Tensor* tensor_ = nullptr;             // the tensor the latest jobs are for
};

}  // namespace paramscope::ui
