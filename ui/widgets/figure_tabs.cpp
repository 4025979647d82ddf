#include "figure_tabs.h"

#include <algorithm>

#include <QSettings>
#include <QString>

#include "attribution_dashboard.h"
#include "heatmap_controls.h"
#include "heatmap_page.h"
#include "job.h"
#include "jobs_model.h"
#include "merge_dashboard.h"
#include "paramscope/figures/block_chart.h"
#include "paramscope/figures/figure_data.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/histogram_chart.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/figures/spectrum_chart.h"
#include "paramscope/figures/surface_scene.h"
#include "paramscope/pyramid.h"
#include "paramscope/spectral.h"
#include "surface_controls.h"
#include "vtk_view_widget.h"

namespace paramscope::ui {
namespace {

// Above this many elements the spectrum waits for a click on its tab's refresh (an SVD of a
// 4096 x 11008 matrix takes seconds); below it comes with the tensor.
constexpr std::int64_t kSpectrumAuto = 4096 * 4096;
constexpr const char* kTabKey = "view/tab";
constexpr const char* kProfileLinesKey = "view/profileLines";

}  // namespace

FigureTabs::FigureTabs(JobsModel* jobs, CheckpointTreeModel* model, QWidget* parent)
    : QTabWidget(parent),
      jobs_(jobs),
      blocks_(std::make_shared<figures::BlockChart>()),
      heatmap_(std::make_shared<figures::HeatmapScene>()),
      profile_(std::make_shared<figures::ProfileChart>()),
      histogram_(std::make_shared<figures::HistogramChart>()),
      spectrum_(std::make_shared<figures::SpectrumChart>()),
      surface_(std::make_shared<figures::SurfaceScene>()) {
  setObjectName(QStringLiteral("figureTabs"));
  const std::pair<std::shared_ptr<figures::Scene>, QString> tabs[] = {
      {blocks_, tr("Blocks")},        {heatmap_, tr("Heatmap")},   {profile_, tr("Depth Profile")},
      {histogram_, tr("Distribution")}, {spectrum_, tr("Spectrum")}};
  for (int i = 0; i < 5; ++i) {
    views_[i] = new VtkViewWidget(this);
    views_[i]->setScene(tabs[i].first);
    if (i == HeatmapTab) heatmapPage_ = new HeatmapPage(jobs_, heatmap_, views_[i], this);
    addTab(i == HeatmapTab ? static_cast<QWidget*>(heatmapPage_) : views_[i], tabs[i].second);
  }
  // The 3D tab after the others, under its own bar.
  views_[SurfaceTab] = new VtkViewWidget(this);
  views_[SurfaceTab]->setScene(surface_);
  surfaceControls_ = new SurfaceControls(surface_, views_[SurfaceTab], this);
  addTab(surfaceControls_, tr("3D"));
  connect(surfaceControls_, &SurfaceControls::updated, this, [this] { emit viewUpdated(SurfaceTab); });
  merge_ = new MergeDashboard(jobs_, model, this);
  addTab(merge_, tr("Merge"));
  connect(merge_, &MergeDashboard::updated, this, [this] { emit viewUpdated(MergeTab); });
  attributions_ = new AttributionDashboard(jobs_, this);
  addTab(attributions_, tr("Attributions"));
  connect(attributions_, &AttributionDashboard::updated, this, [this] { emit viewUpdated(AttributionTab); });
  histogram_->set_log_counts(true);
  connect(heatmapPage_, &HeatmapPage::weightsRebuilt, this,
          [this](std::shared_ptr<const TensorPyramid> p, const std::string& title) { surfaceControls_->setTensor(p, title); });
  connect(heatmapPage_, &HeatmapPage::updated, this, [this] {
    updateDistribution();
    emit viewUpdated(HeatmapTab);
  });
  profile_->on_click([this](int block, int series) {
    if (series >= 0 && static_cast<std::size_t>(series) < profileTensors_.size() && block >= 0 &&
        static_cast<std::size_t>(block) < profileTensors_[static_cast<std::size_t>(series)].size()) {
      const std::string& name = profileTensors_[static_cast<std::size_t>(series)][static_cast<std::size_t>(block)];
      if (!name.empty()) emit tensorClicked(QString::fromStdString(name));
    }
  });
  // The view state comes back with the next window: the tab shown and the profile's style.
  QSettings settings;
  setProfileLines(settings.value(kProfileLinesKey, false).toBool());
  setCurrentIndex(std::clamp(settings.value(kTabKey, 0).toInt(), 0, count() - 1));
  connect(this, &QTabWidget::currentChanged, this, [](int tab) { QSettings().setValue(kTabKey, tab); });
  heatmap_->set_hover_callback([this](const std::optional<figures::Readout>& r) {
    emit readout(r ? tr("row %1, col %2: %3").arg(r->row).arg(r->col).arg(static_cast<double>(r->value), 0, 'g', 6)
                   : QString());
  });
}

FigureTabs::~FigureTabs() = default;

void FigureTabs::setProfileLines(bool lines) {
  profile_->set_style(lines ? figures::ProfileChart::Style::Lines : figures::ProfileChart::Style::Bars);
  QSettings().setValue(kProfileLinesKey, lines);
  views_[ProfileTab]->renderLater();
}

bool FigureTabs::profileLines() const { return profile_->style() == figures::ProfileChart::Style::Lines; }

figures::Scene* FigureTabs::currentScene() const {
  const int i = currentIndex();
  if (i == MergeTab) return merge_->currentScene();
  if (i == AttributionTab) return attributions_->currentScene();
  return i >= 0 && i <= SurfaceTab ? views_[i]->scene() : nullptr;
}

QString FigureTabs::currentFigureName() const {
  if (currentIndex() == MergeTab) return merge_->currentPageName();
  if (currentIndex() == AttributionTab) return attributions_->currentPageName();
  return tabText(currentIndex()).toLower().replace(QLatin1Char(' '), QLatin1Char('-'));
}

VtkViewWidget* FigureTabs::view(Tab tab) const { return views_[tab]; }

void FigureTabs::showCheckpoint(CheckpointPtr checkpoint) {
  if (checkpoint)
    blocks_->set_checkpoint(*checkpoint);
  else
    blocks_->clear();
  profile_->clear();
  profileTensors_.clear();
  surfaceControls_->clear();
  for (auto* v : views_) v->renderLater();
}

void FigureTabs::showTensor(CheckpointPtr checkpoint, const Tensor* tensor) {
  tensor_ = tensor;
  heatmapPage_->setTensor(checkpoint, tensor);
  if (!tensor || !checkpoint) return;
  const QString name = QString::fromStdString(tensor->name());
  const std::string title = tensor->name();
  // The pyramid first (the heatmap at any zoom, built on the pool in one pass over the tensor);
  // the distribution comes from the statistics gathered on the way, and the spectrum (an SVD)
  // only after it, so the first frame of the heatmap waits for nothing else.
  // Max-abs levels always (the overlay and the 3-D view read them); mean levels only when the
  // view shows means, as they cost as much again before the first frame.
  PyramidOptions options;
  options.mean = heatmapPage_->controls()->settings().reduction == PyramidReduction::Mean;
  jobs_->start(tr("heatmap of %1").arg(name), [this, checkpoint, tensor, title, options](const JobControl& control) {
    auto pyramid =
        std::make_shared<const TensorPyramid>(TensorPyramid::of_tensor(*tensor, ThreadPool::global(), control, options));
    return std::function<void()>([this, checkpoint, tensor, pyramid, title] {
      if (tensor != tensor_) return;  // another tensor was chosen meanwhile
      heatmapPage_->setWeights(pyramid, title);  // shows it, or the scores the controls ask for
      surfaceControls_->setTensor(pyramid, title);  // its heightfield, from the same pyramid
      if (tensor->shape().size() >= 2 && tensor->numel() <= kSpectrumAuto) startSpectrum(checkpoint, tensor);
    });
  });
}

// The Distribution follows the heatmap: the values or scores it shows, from the pyramid's own
// statistics (no pass over the data), with the overlay's threshold marked on scores.
void FigureTabs::updateDistribution() {
  const TensorPyramid* shown = heatmap_->pyramid();
  const bool scores = heatmapPage_->controls()->settings().importance;
  const std::optional<float> threshold = scores ? heatmap_->overlay_threshold() : std::nullopt;
  if (!shown || !tensor_) return;
  double lo = 0, hi = 1;
  std::vector<double> counts = shown->stats().histogram(100, lo, hi);
  histogram_->set_histogram(std::move(counts), lo, hi, tensor_->name() + (scores ? " · scores" : ""),
                            scores ? "score" : "value");
  if (threshold)
    histogram_->set_threshold(*threshold, "top " + QString::number(heatmapPage_->controls()->settings().overlayPercent)
                                                      .toStdString() + " %");
  else
    histogram_->clear_threshold();
  views_[HistogramTab]->renderLater();
  emit viewUpdated(HistogramTab);
}

void FigureTabs::startSpectrum(CheckpointPtr checkpoint, const Tensor* tensor) {
  const std::string title = tensor->name();
  jobs_->start(tr("spectrum of %1").arg(QString::fromStdString(title)),
               [this, checkpoint, tensor, title](const JobControl&) {
                 auto m = std::make_shared<SpectralMetrics>(spectral_metrics(*tensor));
                 return std::function<void()>([this, tensor, m, title] {
                   if (tensor != tensor_) return;
                   std::vector<double> eig;
                   for (double s : m->singular_values) eig.push_back(s * s);
                   spectrum_->set_values(std::move(eig), title, "eigenvalue of W^T W");
                   if (m->alpha > 1 && m->xmin > 0) spectrum_->set_fit(m->alpha, m->xmin);
                   views_[SpectrumTab]->renderLater();
                   emit viewUpdated(SpectrumTab);
                 });
               });
}

void FigureTabs::showProfile(CheckpointPtr checkpoint, const ReducedMaps& maps, Reduction r, const QString& title,
                             std::vector<std::pair<std::string, figures::SurfaceGrid>> surfaces) {
  if (!checkpoint) return;
  figures::ProfileData d = figures::profile_of(maps, *checkpoint, r);
  profileTensors_ = std::move(d.tensors);
  profile_->set_profile(std::move(d.block_labels), std::move(d.series), title.toStdString());
  views_[ProfileTab]->renderLater();
  emit viewUpdated(ProfileTab);
  // Neuron-granularity results also give the 3D tab a surface over (block, neuron) per module kind.
  surfaceControls_->setImportance(std::move(surfaces), title.toStdString());
}

}  // namespace paramscope::ui
