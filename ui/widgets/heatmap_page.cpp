#include "heatmap_page.h"

#include <QVBoxLayout>

#include "criterion_inputs.h"
#include "heatmap_controls.h"
#include "jobs_model.h"
#include "paramscope/error.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/pyramid.h"
#include "paramscope/tensor.h"
#include "vtk_view_widget.h"

namespace paramscope::ui {
namespace {

QString keyOf(const ComputeRequest& r, const Tensor* t) {
  return QStringLiteral("%1|%2|%3|%4").arg(r.criterion, r.base, r.stats).arg(reinterpret_cast<quintptr>(t));
}

}  // namespace

Job::Work scorePyramidWork(CheckpointPtr checkpoint, const Tensor* tensor, ComputeRequest request, bool mean,
                           std::function<void(std::shared_ptr<const TensorPyramid>)> deliver) {
  return [checkpoint = std::move(checkpoint), tensor, request = std::move(request), mean,
          deliver = std::move(deliver)](const JobControl& control) -> std::function<void()> {
    const auto opened = openCriterion(request);
    const Criterion& criterion = *opened->criterion;
    if (!criterion.info().elementwise)
      throw usage_error("criterion " + criterion.info().name + " gives one value per matrix: no element scores to show");
    const auto& all = checkpoint->tensors();
    if (all.empty() || tensor < all.data() || tensor >= all.data() + all.size())
      throw usage_error(tensor->name() + ": not a weight of " + checkpoint->path().string());
    const auto index = static_cast<std::size_t>(tensor - all.data());
    std::shared_ptr<const ScoreField> field = make_score_field(*checkpoint, {index}, criterion, opened->inputs);
    const auto [rows, cols] = matrix_shape(tensor->shape());
    // The reader keeps the checkpoint and the opened inputs alive as long as the pyramid reads.
    MatrixReader reader = [field, opened, checkpoint](std::int64_t first, std::span<float> out) {
      field->scores(0, first, out);
    };
    // The overlay's top-k reads max-abs levels; mean levels only when the view shows means.
    PyramidOptions options;
    options.mean = mean;
    auto pyramid = std::make_shared<const TensorPyramid>(
        TensorPyramid::of_reader(std::move(reader), rows, cols, ThreadPool::global(), control, options));
    return [deliver, pyramid] { deliver(pyramid); };
  };
}

HeatmapPage::HeatmapPage(JobsModel* jobs, std::shared_ptr<figures::HeatmapScene> scene, VtkViewWidget* view,
                         QWidget* parent)
    : QWidget(parent), jobs_(jobs), scene_(std::move(scene)), view_(view), controls_(new HeatmapControls(this)) {
  setObjectName(QStringLiteral("heatmapPage"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(0);
  layout->addWidget(controls_);
  layout->addWidget(view_, 1);
  controls_->applyTo(*scene_);
  connect(controls_, &HeatmapControls::changed, this, &HeatmapPage::update);
}

HeatmapPage::~HeatmapPage() = default;

ComputeRequest HeatmapPage::request() const {
  return requestSource_ ? requestSource_() : ComputeRequest{QStringLiteral("magnitude"), {}, {}, {}, {}};
}

void HeatmapPage::setTensor(CheckpointPtr checkpoint, const Tensor* tensor) {
  checkpoint_ = std::move(checkpoint);
  tensor_ = tensor;
  title_ = tensor ? tensor->name() : std::string();
  weights_.reset();
  scores_.reset();
  scoresKey_.clear();
  if (scoresJob_ && scoresJob_->running()) scoresJob_->cancel();
  if (weightsJob_ && weightsJob_->running()) weightsJob_->cancel();
  if (controls_->settings().needsScores()) startScores();
}

void HeatmapPage::setWeights(std::shared_ptr<const TensorPyramid> weights, const std::string& title) {
  weights_ = std::move(weights);
  title_ = title;
  update();
}

void HeatmapPage::refreshScores() {
  if (scoresKey_ == keyOf(request(), tensor_)) return;
  scores_.reset();
  scoresKey_.clear();
  update();
}

void HeatmapPage::startScores() {
  const ComputeRequest r = request();
  scoresKey_ = keyOf(r, tensor_);
  scoresLabel_ = r.criterion;
  scores_.reset();
  if (scoresJob_ && scoresJob_->running()) scoresJob_->cancel();
  if (!checkpoint_ || !tensor_) return;
  // Known on this thread: say it in place rather than through a failed job.
  const Criterion* c = CriterionRegistry::builtin().find(r.criterion.toStdString());
  if (c && !c->info().elementwise) {
    controls_->setMessage(tr("%1 gives one value per matrix: no element scores (choose an element-wise criterion "
                             "in the Importance dock)")
                              .arg(r.criterion));
    return;
  }
  controls_->setMessage(tr("computing %1 scores...").arg(r.criterion));
  QPointer<HeatmapPage> self(this);
  const QString key = scoresKey_;
  Job* job = jobs_->start(tr("%1 scores of %2").arg(r.criterion, QString::fromStdString(tensor_->name())),
                          scorePyramidWork(checkpoint_, tensor_, r, controls_->settings().reduction == PyramidReduction::Mean,
                                           [self, key](std::shared_ptr<const TensorPyramid> p) {
                            if (!self || self->scoresKey_ != key) return;  // another tensor or criterion meanwhile
                            self->scores_ = std::move(p);
                            self->update();
                          }));
  scoresJob_ = job;
  connect(job, &Job::finished, this, [this, job, key] {
    if (job->state() == Job::State::Failed && scoresKey_ == key)
      controls_->setMessage(tr("No element scores: %1").arg(job->message()));
  });
}

// The first pyramid of a tensor has only the reduction shown then (half the work before the first
// frame); the other comes when asked for.
void HeatmapPage::startWeights() {
  if (!checkpoint_ || !tensor_ || (weightsJob_ && weightsJob_->running())) return;
  QPointer<HeatmapPage> self(this);
  const paramscope::Tensor* tensor = tensor_;
  const std::string title = title_;
  weightsJob_ = jobs_->start(tr("heatmap of %1").arg(QString::fromStdString(title)),
                             [checkpoint = checkpoint_, tensor, title, self](const JobControl& control) {
                               PyramidOptions both;
                               both.mean = true;
                               auto p = std::make_shared<const TensorPyramid>(
                                   TensorPyramid::of_tensor(*tensor, ThreadPool::global(), control, both));
                               return std::function<void()>([self, tensor, title, p] {
                                 if (!self || self->tensor_ != tensor) return;
                                 self->weights_ = p;
                                 self->update();
                                 emit self->weightsRebuilt(p, title);
                               });
                             });
}

void HeatmapPage::update() {
  const HeatmapSettings s = controls_->settings();
  if (s.needsScores() && tensor_ && scoresKey_ != keyOf(request(), tensor_)) startScores();
  if (!s.importance && weights_ && !weights_->has(s.reduction)) startWeights();
  if (s.importance && scores_ && !scores_->has(s.reduction)) startScores();
  const std::shared_ptr<const TensorPyramid> want = s.importance ? scores_ : weights_;
  if (want != shown_) {
    shown_ = want;
    if (shown_)
      scene_->set_pyramid(shown_, s.importance ? title_ + " · " + scoresLabel_.toStdString() + " scores" : title_);
    else
      scene_->clear();
  }
  controls_->applyTo(*scene_);
  if (s.overlay && scores_ && shown_ && scores_->rows() == shown_->rows() && scores_->cols() == shown_->cols())
    scene_->set_overlay_top_k(scores_, s.overlayPercent);
  else
    scene_->clear_overlay();
  if (scores_ && s.needsScores())
    controls_->setMessage(s.importance ? tr("element scores: %1").arg(scoresLabel_)
                                       : tr("overlay: %1 scores").arg(scoresLabel_));
  else if (!s.needsScores())
    controls_->setMessage(QString());
  view_->renderLater();
  emit updated();
}

}  // namespace paramscope::ui
