#include "merge_dashboard.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTabWidget>
#include <QVBoxLayout>

#include "interference_job.h"
#include "jobs_model.h"
#include "merge_inputs_bar.h"
#include "merge_preview_bar.h"
#include "number_format.h"
#include "paramscope/checkpoint.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/interference_figures.h"
#include "paramscope/figures/line_chart.h"
#include "paramscope/figures/matrix_chart.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/pyramid.h"
#include "vtk_view_widget.h"

namespace paramscope::ui {
namespace {

QString percent(double fraction) {
  return std::isfinite(fraction) ? QStringLiteral("%1 %").arg(100 * fraction, 0, 'f', 1) : QStringLiteral("n/a");
}

QString qstr(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

// The element map as a pyramid for the heatmap, built on the pool: a large tensor's maps would
// stall the GUI thread.
Job::Work mapPyramidWork(std::shared_ptr<const ElementInterference> maps, figures::ElementMapKind kind,
                         std::function<void(std::shared_ptr<const TensorPyramid>)> deliver) {
  return [maps = std::move(maps), kind, deliver = std::move(deliver)](const JobControl& control) {
    auto values = std::make_shared<const std::vector<float>>(figures::element_map_values(*maps, kind));
    const auto [rows, cols] = matrix_shape(maps->shape);
    PyramidOptions options;
    options.mean = true;  // counts and model indices read better averaged than as max-abs
    auto pyramid = std::make_shared<const TensorPyramid>(
        TensorPyramid::of_values(values, rows, cols, ThreadPool::global(), control, options));
    return std::function<void()>([deliver, pyramid] { deliver(pyramid); });
  };
}

}  // namespace

MergeDashboard::MergeDashboard(JobsModel* jobs, CheckpointTreeModel* model, QWidget* parent)
    : QWidget(parent),
      jobs_(jobs),
      inputs_(new MergeInputsBar(model, this)),
      previewBar_(new MergePreviewBar(this)),
      pages_(new QTabWidget(this)),
      metric_(new QComboBox(this)),
      scope_(new QComboBox(this)),
      mapKind_(new QComboBox(this)),
      summary_(new QLabel(this)),
      readout_(new QLabel(this)),
      matrix_(std::make_shared<figures::MatrixChart>()),
      blocks_(std::make_shared<figures::ProfileChart>()),
      magnitudes_(std::make_shared<figures::LineChart>()),
      heatmap_(std::make_shared<figures::HeatmapScene>()) {
  setObjectName(QStringLiteral("mergeDashboard"));
  pages_->setObjectName(QStringLiteral("mergePages"));
  pages_->setDocumentMode(true);
  metric_->setObjectName(QStringLiteral("mergeMetric"));
  for (auto m : figures::kPairMetrics) metric_->addItem(qstr(figures::pair_metric_title(m)), static_cast<int>(m));
  scope_->setObjectName(QStringLiteral("mergeScope"));
  scope_->setMinimumContentsLength(20);
  scope_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  mapKind_->setObjectName(QStringLiteral("mergeMap"));
  for (auto k : {figures::ElementMapKind::Disagree, figures::ElementMapKind::Dominant,
                 figures::ElementMapKind::Contributors, figures::ElementMapKind::MergedDelta,
                 figures::ElementMapKind::ElectedSign})
    mapKind_->addItem(qstr(figures::element_map_title(k)), static_cast<int>(k));
  summary_->setObjectName(QStringLiteral("mergeSummary"));
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  summary_->setText(tr("Open a base checkpoint and two or more fine-tunes of it (File > Open), check them above "
                       "and press Analyze."));
  readout_->setObjectName(QStringLiteral("mergeReadout"));

  const std::shared_ptr<figures::Scene> scenes[] = {matrix_, blocks_, magnitudes_, heatmap_};
  for (int i = 0; i < 4; ++i) {
    views_[i] = new VtkViewWidget(this);
    views_[i]->setScene(scenes[i]);
  }
  auto* similarity = new QWidget(this);
  auto* bar = new QHBoxLayout;
  bar->setContentsMargins(6, 4, 6, 0);
  bar->addWidget(new QLabel(tr("Metric:"), similarity));
  bar->addWidget(metric_);
  bar->addWidget(new QLabel(tr("Over:"), similarity));
  bar->addWidget(scope_);
  bar->addStretch(1);
  auto* simLayout = new QVBoxLayout(similarity);
  simLayout->setContentsMargins(0, 0, 0, 0);
  simLayout->addLayout(bar);
  simLayout->addWidget(views_[SimilarityPage], 1);
  pages_->addTab(similarity, tr("Similarity"));
  pages_->addTab(views_[BlocksPage], tr("Per Block"));
  pages_->addTab(views_[MagnitudesPage], tr("Magnitudes"));
  auto* elementPage = new QWidget(this);
  auto* elementBar = new QHBoxLayout;
  elementBar->setContentsMargins(6, 4, 6, 0);
  elementBar->addWidget(new QLabel(tr("Show:"), elementPage));
  elementBar->addWidget(mapKind_);
  elementBar->addStretch(1);
  auto* elementLayout = new QVBoxLayout(elementPage);
  elementLayout->setContentsMargins(0, 0, 0, 0);
  elementLayout->addLayout(elementBar);
  elementLayout->addWidget(views_[ElementsPage], 1);
  elementLayout->addWidget(readout_);
  pages_->addTab(elementPage, tr("Element Map"));

  // The rows may be cut on the right in a narrow window rather than widen the whole main window.
  inputs_->setMinimumWidth(200);
  previewBar_->setMinimumWidth(200);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(2);
  layout->addWidget(inputs_);
  layout->addWidget(previewBar_);
  layout->addWidget(pages_, 1);
  layout->addWidget(summary_);

  blocks_->set_style(figures::ProfileChart::Style::Lines);
  magnitudes_->clear();
  connect(inputs_, &MergeInputsBar::analyzeRequested, this, [this] { analyze(); });
  connect(previewBar_, &MergePreviewBar::previewRequested, this, [this] { preview(); });
  connect(mapKind_, &QComboBox::currentIndexChanged, this, &MergeDashboard::updateElementMap);
  connect(metric_, &QComboBox::currentIndexChanged, this, &MergeDashboard::updateMatrix);
  connect(scope_, &QComboBox::currentIndexChanged, this, &MergeDashboard::updateMatrix);
  heatmap_->set_hover_callback([this](const std::optional<figures::Readout>& r) {
    readout_->setText(r ? tr("row %1, col %2: %3").arg(r->row).arg(r->col).arg(static_cast<double>(r->value), 0, 'g', 6)
                        : QString());
  });
}

MergeDashboard::~MergeDashboard() = default;

Job* MergeDashboard::analyze() {
  InterferenceRequest request{inputs_->base(), inputs_->fineTunes(), inputs_->topFraction()};
  if (!request.base || request.models.size() < 2) return nullptr;
  if (analysis_ && analysis_->running()) analysis_->cancel();
  const auto count = static_cast<int>(request.models.size());
  summary_->setText(tr("Comparing %n fine-tunes against the base...", nullptr, count));
  QPointer<MergeDashboard> self(this);
  Job* job = jobs_->start(tr("Interference of %n fine-tunes", nullptr, count),
                          interferenceWork(std::move(request), [self](std::shared_ptr<const InterferenceReport> r) {
                            if (self) self->showReport(std::move(r));
                          }));
  connect(job, &Job::finished, this, [this, job] {
    if (job->state() == Job::State::Failed) summary_->setText(tr("Analysis failed: %1").arg(job->message()));
    if (job->state() == Job::State::Cancelled) summary_->setText(tr("Analysis cancelled."));
  });
  analysis_ = job;
  return job;
}

void MergeDashboard::showReport(std::shared_ptr<const InterferenceReport> report) {
  report_ = std::move(report);
  elements_.reset();
  const InterferenceReport& r = *report_;
  {
    const QSignalBlocker block(scope_);
    scope_->clear();
    scope_->addItem(tr("all tensors"));
    for (const auto& b : r.blocks) scope_->addItem(QString::fromStdString(b.name.empty() ? "(other)" : b.name));
    for (const auto& t : r.tensors) scope_->addItem(QString::fromStdString(t.name));
  }
  updateMatrix();
  figures::BlockSeries s = figures::block_series(r);
  blocks_->set_profile(std::move(s.block_labels), std::move(s.series), "conflict and overlap per block", "rate");
  views_[BlocksPage]->renderLater();
  magnitudes_->set_series(figures::magnitude_series(r), "task-vector magnitudes", "log10 |tau|", "fraction of entries");
  views_[MagnitudesPage]->renderLater();
  // The preview starts on the largest tensor: where a merge changes the most weights.
  std::vector<std::string> names;
  const InterferenceStats* largest = nullptr;
  for (const auto& t : r.tensors) {
    names.push_back(t.name);
    if (!largest || t.numel > largest->numel) largest = &t;
  }
  const std::string previous = previewBar_->tensor();
  previewBar_->setTensors(names);
  if (largest && previous.empty()) previewBar_->selectTensor(largest->name);
  heatmap_->clear();
  views_[ElementsPage]->renderLater();

  // The headline numbers: the mean pairwise cosine, the conflicts, the most conflicted block.
  double cos = 0;
  int n = 0;
  for (const auto& p : r.overall.pairs)
    if (std::isfinite(p.cosine())) {
      cos += p.cosine();
      ++n;
    }
  const InterferenceStats* worst = nullptr;
  for (const auto& b : r.blocks)
    if (std::isfinite(b.group.sign_conflict()) && (!worst || b.group.sign_conflict() > worst->group.sign_conflict()))
      worst = &b;
  reportText_ = tr("%1 fine-tunes, %2 tensors, %3 parameters. Mean pairwise cosine %4. Sign conflict: %5 of the entries "
                   "two or more models change; %6 after each keeps its top %7.")
                    .arg(r.models.size())
                    .arg(r.tensors.size())
                    .arg(formatCount(static_cast<std::uint64_t>(r.overall.numel)))
                    .arg(n ? cos / n : std::nan(""), 0, 'f', 3)
                    .arg(percent(r.overall.group.sign_conflict()), percent(r.overall.group.top_conflict()),
                         percent(r.top_fraction));
  if (worst)
    reportText_ += tr(" Most conflicted block: %1 (%2).")
                       .arg(QString::fromStdString(worst->name.empty() ? "(other)" : worst->name),
                            percent(worst->group.sign_conflict()));
  summary_->setText(reportText_);
  for (int page : {SimilarityPage, BlocksPage, MagnitudesPage}) emit updated(page);
}

void MergeDashboard::updateMatrix() {
  if (!report_) return;
  const int i = scope_->currentIndex();
  const InterferenceReport& r = *report_;
  const auto nb = static_cast<int>(r.blocks.size());
  const InterferenceStats& stats = i <= 0 ? r.overall
                                   : i <= nb ? r.blocks[static_cast<std::size_t>(i - 1)]
                                             : r.tensors[static_cast<std::size_t>(std::min(
                                                   i - 1 - nb, static_cast<int>(r.tensors.size()) - 1))];
  matrix_->set_matrix(figures::pair_matrix(r, stats, static_cast<figures::PairMetric>(metric_->currentData().toInt())));
  views_[SimilarityPage]->renderLater();
}

Job* MergeDashboard::preview() {
  if (!report_ || previewBar_->tensor().empty()) return nullptr;
  ElementPreviewRequest request{inputs_->base(), inputs_->fineTunes(), previewBar_->tensor(), previewBar_->params(),
                                previewBar_->density()};
  if (!request.base || request.models.size() < 2) return nullptr;
  if (previewJob_ && previewJob_->running()) previewJob_->cancel();
  QPointer<MergeDashboard> self(this);
  const QString title = tr("Merge preview of %1").arg(QString::fromStdString(request.tensor));
  Job* job = jobs_->start(title,
                          elementPreviewWork(std::move(request), [self](std::shared_ptr<const ElementInterference> m) {
                            if (self) self->showElements(std::move(m));
                          }));
  connect(job, &Job::finished, this, [this, job] {
    if (job->state() == Job::State::Failed) summary_->setText(tr("Preview failed: %1").arg(job->message()));
  });
  previewJob_ = job;
  pages_->setCurrentIndex(ElementsPage);
  return job;
}

void MergeDashboard::showElements(std::shared_ptr<const ElementInterference> maps) {
  elements_ = std::move(maps);
  const ElementInterference& m = *elements_;
  // What the method keeps: each model's share of the entries, and the entries nobody changes.
  std::vector<std::int64_t> share(m.model_count, 0);
  std::int64_t none = 0, disagree = 0;
  for (std::size_t j = 0; j < m.contributes.size(); ++j) {
    const std::uint32_t bits = m.contributes[j];
    if (bits == 0) ++none;
    for (std::size_t i = 0; i < m.model_count && i < 32; ++i)
      if (bits & (1u << i)) ++share[i];
    if (j < m.disagree.size() && m.disagree[j] > 0) ++disagree;
  }
  const auto total = static_cast<double>(std::max<std::size_t>(m.contributes.size(), 1));
  const auto labels = report_ ? figures::model_labels(report_->models) : std::vector<std::string>{};
  const MergeParams p = previewBar_->params();
  QStringList parts;
  for (std::size_t i = 0; i < m.model_count; ++i)
    parts << tr("%1 %2").arg(QString::fromStdString(i < labels.size() ? labels[i] : std::to_string(i)),
                             percent(static_cast<double>(share[i]) / total));
  const QString previewText = tr("%1 at density %2 on %3 keeps: %4; %5 of the entries keep the base value. %6 of the entries "
                    "have a model whose kept delta opposes the elected sign.")
                     .arg(qstr(merge_method_name(p.method)))
                     .arg(previewBar_->density(), 0, 'f', 2)
                     .arg(QString::fromStdString(m.tensor), parts.join(QStringLiteral(", ")),
                          percent(static_cast<double>(none) / total), percent(static_cast<double>(disagree) / total));
  summary_->setText(reportText_ + QStringLiteral("\n") + previewText);
  updateElementMap();
}

void MergeDashboard::updateElementMap() {
  if (!elements_) return;
  const auto kind = static_cast<figures::ElementMapKind>(mapKind_->currentData().toInt());
  QPointer<MergeDashboard> self(this);
  const std::string title = std::string(figures::element_map_title(kind)) + ": " + elements_->tensor;
  jobs_->start(tr("Element map of %1").arg(QString::fromStdString(elements_->tensor)),
               mapPyramidWork(elements_, kind, [self, kind, title](std::shared_ptr<const TensorPyramid> pyramid) {
                 if (!self) return;
                 const bool signed_map =
                     kind == figures::ElementMapKind::MergedDelta || kind == figures::ElementMapKind::ElectedSign;
                 self->heatmap_->set_colormap(signed_map ? figures::Colormap::RdBuR : figures::Colormap::Viridis);
                 self->heatmap_->set_reduction(signed_map ? PyramidReduction::MaxAbs : PyramidReduction::Mean);
                 self->heatmap_->set_pyramid(std::move(pyramid), title);
                 self->views_[ElementsPage]->renderLater();
                 emit self->updated(ElementsPage);
               }));
}

figures::Scene* MergeDashboard::currentScene() const {
  const int i = pages_->currentIndex();
  return i >= 0 && i < 4 ? views_[i]->scene() : nullptr;
}

QString MergeDashboard::currentPageName() const {
  static const char* names[] = {"merge-similarity", "merge-blocks", "merge-magnitudes", "merge-element-map"};
  const int i = pages_->currentIndex();
  return QString::fromLatin1(i >= 0 && i < 4 ? names[i] : "merge");
}

QString MergeDashboard::summary() const { return summary_->text(); }

}  // namespace paramscope::ui
