// The heatmap tab: the controls above the view, and what they need beyond re-colouring: the
// element scores of the chosen criterion for the tensor shown, built as a pyramid by a job on the
// pool (for the importance heatmap and the top-k overlay) and kept until the tensor or the
// criterion changes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <QPointer>
#include <QWidget>

#include "checkpoint_tree_model.h"
#include "criterion_panel.h"
#include "job.h"

namespace paramscope {
class Tensor;
class TensorPyramid;
}  // namespace paramscope
namespace paramscope::figures {
class HeatmapScene;
}

namespace paramscope::ui {

class HeatmapControls;
class JobsModel;
class VtkViewWidget;

/// The element scores of one tensor for one criterion, as a pyramid the heatmap can show: max-abs
/// levels, and mean levels too when mean is set.
/// throws Error(Usage) for a criterion without element scores or an input it lacks.
Job::Work scorePyramidWork(CheckpointPtr checkpoint, const paramscope::Tensor* tensor, ComputeRequest request, bool mean,
                           std::function<void(std::shared_ptr<const paramscope::TensorPyramid>)> deliver);

class HeatmapPage : public QWidget {
  Q_OBJECT

public:
  /// Lays out controls over view (reparented here); view shows scene.
  HeatmapPage(JobsModel* jobs, std::shared_ptr<figures::HeatmapScene> scene, VtkViewWidget* view,
              QWidget* parent = nullptr);
  ~HeatmapPage() override;

  HeatmapControls* controls() const noexcept { return controls_; }
  /// Where the criterion comes from (the Importance dock); without one, magnitude.
  void setRequestSource(std::function<ComputeRequest()> source) { requestSource_ = std::move(source); }
  /// A tensor was chosen: its scores are built at once if the controls need them.
  void setTensor(CheckpointPtr checkpoint, const paramscope::Tensor* tensor);
  /// The tensor's weights pyramid is ready.
  void setWeights(std::shared_ptr<const paramscope::TensorPyramid> weights, const std::string& title);
  /// The criterion may have changed: scores are rebuilt when needed.
  void refreshScores();

  /// The scores shown or overlaid (nullptr until built).
  std::shared_ptr<const paramscope::TensorPyramid> scores() const { return scores_; }
  /// The latest scores job (nullptr if none was started).
  Job* scoresJob() const { return scoresJob_; }

signals:
  /// The picture changed (new data, settings or overlay).
  void updated();
  /// The weights' pyramid was rebuilt with the reduction per pixel the controls now ask for.
  void weightsRebuilt(std::shared_ptr<const paramscope::TensorPyramid> weights, const std::string& title);

private:
  ComputeRequest request() const;
  void update();
  void startScores();
  void startWeights();

  JobsModel* jobs_;
  std::shared_ptr<figures::HeatmapScene> scene_;
  VtkViewWidget* view_;
  HeatmapControls* controls_;
  std::function<ComputeRequest()> requestSource_;
  CheckpointPtr checkpoint_;
  const paramscope::Tensor* tensor_ = nullptr;
  std::shared_ptr<const paramscope::TensorPyramid> weights_, scores_, shown_;
  std::string title_;
  QString scoresKey_;   // request the scores (or the running job) are for, "" if none
  QString scoresLabel_; // "magnitude"
  QPointer<Job> scoresJob_;
  QPointer<Job> weightsJob_;  // rebuilding weights_ with both reductions
};

}  // namespace paramscope::ui
