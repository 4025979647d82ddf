// The Attributions tab: which parts of an input made an ONNX model give a class its score. Opens
// a model and its inputs (a job), lists the model's top predictions for the chosen sample (a job)
// and computes the checked methods side by side (a job each, with progress and Cancel in the Jobs
// dock): one overlay per method, and the deletion and insertion curves of every map beside them.
// RISE's map refines in place as its masks are used; Stop keeps it. Every figure is exportable.
#pragma once

#include <array>
#include <memory>

#include <QPointer>
#include <QStringList>
#include <QWidget>

#include "attribution_job.h"
#include "paramscope/figures/attribution_scene.h"

class QComboBox;
class QLabel;
class QSlider;

namespace paramscope::figures {
class LineChart;
class Scene;
}  // namespace paramscope::figures

namespace paramscope::ui {

class AttributionInputsBar;
class JobsModel;
class VtkViewWidget;

class AttributionDashboard : public QWidget {
  Q_OBJECT

 public:
  explicit AttributionDashboard(JobsModel* jobs, QWidget* parent = nullptr);
  ~AttributionDashboard() override;

  /// Opens the model and the inputs on the pool (the last paths are kept in the settings);
  /// opened() follows, then predicted() once the class combo is filled.
  Job* open(const QString& model, const QStringList& inputs);
  /// Reopens the model and inputs of the last session, if they still exist.
  void restoreSession();
  /// Starts the checked methods on the chosen sample and class; nullptr entries never: an empty
  /// list without a model, a sample or a class. computed() follows when all have ended.
  std::vector<Job*> compute();
  /// Stops the running methods: RISE keeps its map so far (and gets its curves), the others are
  /// cancelled.
  void stop();
  bool running() const;

  void setSign(figures::AttributionSign sign);
  void setAlpha(double alpha);
  /// How often RISE's partial maps reach the view at most (ms; 100 by default).
  void setPartialInterval(int ms) { partialInterval_ = ms; }

  AttributionInputsBar* inputs() const noexcept { return inputs_; }
  figures::AttributionScene& scene(AttributionMethod m) const { return *scenes_[static_cast<std::size_t>(m)]; }
  VtkViewWidget* view(AttributionMethod m) const { return views_[static_cast<std::size_t>(m)]; }
  figures::LineChart& deletion() const noexcept { return *deletion_; }
  figures::LineChart& insertion() const noexcept { return *insertion_; }
  VtkViewWidget* deletionView() const noexcept { return deletionView_; }
  VtkViewWidget* insertionView() const noexcept { return insertionView_; }
  /// The finished result of a method in the last Compute (nullptr if none).
  std::shared_ptr<const AttributionResult> result(AttributionMethod m) const {
    return results_[static_cast<std::size_t>(m)];
  }
  std::shared_ptr<const AttributionSamples> samples() const { return samples_; }
  /// The sample shown, [1, ...] (an empty array before any).
  Array currentInput() const;
  QString status() const;

  /// The figure the last click chose (an overlay or a curve chart), else the first overlay shown.
  figures::Scene* currentScene() const;
  /// A file name for it ("attribution-rise", "attribution-deletion").
  QString currentPageName() const;

 signals:
  /// The open job ended (failed: status() says why).
  void opened(bool ok);
  /// The class combo holds the top predictions of the sample.
  void predicted();
  /// RISE's map so far reached the view.
  void partialShown(qint64 masks);
  /// Every job of the last Compute has ended.
  void computed();
  /// A view shows new content.
  void updated();

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void showSamples(std::shared_ptr<const AttributionSamples> samples);
  void predict();
  void showPartial(unsigned generation, Array map, std::int64_t masks);
  void showResult(unsigned generation, std::shared_ptr<const AttributionResult> r);
  void showMap(AttributionMethod m, const Array& map, const std::string& title);
  void updateCurves();
  void updateSummary();
  void layoutViews();
  void jobEnded();

  JobsModel* jobs_;
  AttributionInputsBar* inputs_;
  QComboBox* sign_;
  QSlider* alpha_;
  QLabel* alphaLabel_;
  QLabel* status_;
  QWidget* grid_;
  std::array<std::shared_ptr<figures::AttributionScene>, kAttributionMethodCount> scenes_;
  std::array<VtkViewWidget*, kAttributionMethodCount> views_{};
  std::shared_ptr<figures::LineChart> deletion_, insertion_;
  VtkViewWidget* deletionView_;
  VtkViewWidget* insertionView_;
  figures::Scene* focused_ = nullptr;

  QString modelPath_;
  QStringList inputPaths_;
  std::shared_ptr<const AttributionSamples> samples_;
  std::vector<Prediction> predictions_;
  std::array<std::shared_ptr<const AttributionResult>, kAttributionMethodCount> results_;
  std::vector<AttributionMethod> shown_;  // the methods of the last Compute, in order
  QString error_;                         // a failure of the last Compute's jobs
  QString openText_;                      // what is open
  std::vector<QPointer<Job>> running_;
  std::shared_ptr<std::atomic<bool>> stop_;
  unsigned generation_ = 0;
  int partialInterval_ = 100;
  QPointer<Job> openJob_, predictJob_;
  std::shared_ptr<PostGuard> guard_;  // how RISE's worker reaches this dashboard
};

}  // namespace paramscope::ui
