// The Merge tab: where fine-tunes of one base interfere. Analyze compares their task vectors on
// the pool (pairwise similarity matrix, conflict and overlap per block, magnitudes per model);
// Preview maps one tensor element by element under a merge method (conflicts, dominant model,
// what the method keeps). Every page is a figures scene, exportable like the other views.
#pragma once

#include <memory>

#include <QPointer>
#include <QWidget>

#include "checkpoint_tree_model.h"
#include "job.h"
#include "paramscope/interference.h"

class QComboBox;
class QLabel;
class QTabWidget;

namespace paramscope::figures {
class HeatmapScene;
class LineChart;
class MatrixChart;
class ProfileChart;
class Scene;
}  // namespace paramscope::figures

namespace paramscope::ui {

class JobsModel;
class MergeInputsBar;
class MergePreviewBar;
class VtkViewWidget;

class MergeDashboard : public QWidget {
  Q_OBJECT

public:
  enum Page : int { SimilarityPage, BlocksPage, MagnitudesPage, ElementsPage };

  MergeDashboard(JobsModel* jobs, CheckpointTreeModel* model, QWidget* parent = nullptr);
  ~MergeDashboard() override;

  /// Starts the analysis of the checked fine-tunes against the base; nullptr if fewer than two.
  Job* analyze();
  /// Starts the element maps of the chosen tensor under the chosen method; nullptr without an
  /// analysis or a tensor.
  Job* preview();

  figures::Scene* currentScene() const;
  /// A file name for the current page's figure ("merge-similarity").
  QString currentPageName() const;
  QTabWidget* pages() const noexcept { return pages_; }
  MergeInputsBar* inputs() const noexcept { return inputs_; }
  MergePreviewBar* previewBar() const noexcept { return previewBar_; }
  VtkViewWidget* view(Page page) const noexcept { return views_[page]; }
  std::shared_ptr<const paramscope::InterferenceReport> report() const { return report_; }
  std::shared_ptr<const paramscope::ElementInterference> elements() const { return elements_; }
  figures::MatrixChart& matrix() const noexcept { return *matrix_; }
  figures::HeatmapScene& heatmap() const noexcept { return *heatmap_; }
  /// The text under the pages: what the analysis or the preview found.
  QString summary() const;

signals:
  /// A page shows new content (tests and the startup run wait on it).
  void updated(int page);

private:
  void showReport(std::shared_ptr<const paramscope::InterferenceReport> report);
  void showElements(std::shared_ptr<const paramscope::ElementInterference> maps);
  void updateMatrix();
  void updateElementMap();

  JobsModel* jobs_;
  MergeInputsBar* inputs_;
  MergePreviewBar* previewBar_;
  QTabWidget* pages_;
  QComboBox* metric_;
  QComboBox* scope_;
  QComboBox* mapKind_;  // which element map the heatmap shows
  QLabel* summary_;
  QLabel* readout_;
  std::shared_ptr<figures::MatrixChart> matrix_;
  std::shared_ptr<figures::ProfileChart> blocks_;
  std::shared_ptr<figures::LineChart> magnitudes_;
  std::shared_ptr<figures::HeatmapScene> heatmap_;
  VtkViewWidget* views_[4] = {};
  std::shared_ptr<const paramscope::InterferenceReport> report_;
  std::shared_ptr<const paramscope::ElementInterference> elements_;
  QString reportText_;  // the analysis' summary, shown above a preview's
  QPointer<Job> analysis_, previewJob_;
};

}  // namespace paramscope::ui
