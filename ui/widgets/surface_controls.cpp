#include "surface_controls.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

#include "paramscope/error.h"
#include "paramscope/figures/figure_data.h"
#include "paramscope/figures/surface_scene.h"
#include "paramscope/pyramid.h"
#include "vtk_view_widget.h"

namespace paramscope::ui {
namespace {

// Grid points a side: enough for a smooth surface, few enough to turn it at full frame rate.
constexpr int kGridSide = 512;

}  // namespace

SurfaceControls::SurfaceControls(std::shared_ptr<figures::SurfaceScene> scene, VtkViewWidget* view, QWidget* parent)
    : QWidget(parent),
      scene_(std::move(scene)),
      view_(view),
      source_(new QComboBox(this)),
      cell_(new QComboBox(this)),
      height_(new QDoubleSpinBox(this)),
      reset_(new QPushButton(tr("Reset View"), this)) {
  setObjectName(QStringLiteral("surfacePage"));
  source_->setObjectName(QStringLiteral("surfaceSource"));
  cell_->setObjectName(QStringLiteral("surfaceCell"));
  reset_->setObjectName(QStringLiteral("surfaceReset"));
  source_->addItem(tr("Tensor heightfield"));
  source_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  source_->setToolTip(tr("What the surface shows: the selected tensor, or an importance result computed per neuron "
                         "(one module kind over all blocks)"));
  cell_->addItem(tr("max |x|"));
  cell_->addItem(tr("mean"));
  cell_->setToolTip(tr("How one grid cell sums up the weights it covers (tensors larger than %1 x %1)").arg(kGridSide));
  reset_->setToolTip(tr("Back to the 3/4 view (drag rotates, the wheel zooms)"));
  height_->setObjectName(QStringLiteral("surfaceHeight"));
  height_->setRange(0.05, 10);
  height_->setSingleStep(0.1);
  height_->setDecimals(2);
  height_->setValue(scene_->height_fraction());
  height_->setToolTip(tr("Height of the value range as a fraction of the footprint's side"));

  auto* bar = new QHBoxLayout;
  bar->setContentsMargins(6, 4, 6, 4);
  bar->addWidget(new QLabel(tr("Show"), this));
  bar->addWidget(source_);
  bar->addSpacing(12);
  bar->addWidget(new QLabel(tr("Cell"), this));
  bar->addWidget(cell_);
  bar->addSpacing(12);
  bar->addWidget(new QLabel(tr("Height"), this));
  bar->addWidget(height_);
  bar->addSpacing(12);
  bar->addWidget(reset_);
  bar->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(0);
  layout->addLayout(bar);
  layout->addWidget(view_, 1);

  connect(source_, &QComboBox::currentIndexChanged, this, &SurfaceControls::changed);
  connect(cell_, &QComboBox::currentIndexChanged, this, &SurfaceControls::changed);
  // Only the geometry's scale: no new grid.
  connect(height_, &QDoubleSpinBox::valueChanged, this, [this](double h) {
    scene_->set_height_fraction(h);
    view_->renderLater();
    emit updated();
  });
  connect(reset_, &QPushButton::clicked, this, [this] {
    scene_->reset_camera();
    view_->renderLater();
  });
}

SurfaceControls::~SurfaceControls() = default;

void SurfaceControls::setTensor(std::shared_ptr<const TensorPyramid> pyramid, const std::string& title) {
  pyramid_ = std::move(pyramid);
  tensorTitle_ = title;
  if (source_->currentIndex() <= 0) changed();
}

void SurfaceControls::setImportance(std::vector<std::pair<std::string, figures::SurfaceGrid>> grids,
                                    const std::string& title) {
  // The kind shown stays if the new result has it.
  const QString shown = source_->currentIndex() > 0 ? source_->currentData().toString() : QString();
  const bool wasImportance = source_->currentIndex() > 0;
  grids_.clear();
  for (auto& [kind, grid] : grids)
    grids_.emplace_back(kind, std::make_shared<const figures::SurfaceGrid>(std::move(grid)));
  importanceTitle_ = title;
  {
    const QSignalBlocker block(source_);
    while (source_->count() > 1) source_->removeItem(source_->count() - 1);
    for (const auto& g : grids_) {
      const QString kind = QString::fromStdString(g.first);
      source_->addItem(tr("Importance over (block, neuron): %1").arg(kind), kind);
    }
    const int again = shown.isEmpty() ? -1 : source_->findData(shown);
    source_->setCurrentIndex(again > 0 ? again : wasImportance && source_->count() > 1 ? 1 : 0);
  }
  changed();
}

void SurfaceControls::clear() {
  pyramid_.reset();
  tensorTitle_.clear();
  setImportance({}, {});
}

void SurfaceControls::changed() {
  dirty_ = true;
  if (isVisible()) rebuild();
}

void SurfaceControls::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (dirty_) rebuild();
}

void SurfaceControls::rebuild() {
  dirty_ = false;
  const int i = source_->currentIndex();
  cell_->setEnabled(i <= 0);
  try {
    if (i > 0 && static_cast<std::size_t>(i - 1) < grids_.size()) {
      const auto& [kind, grid] = grids_[static_cast<std::size_t>(i - 1)];
      scene_->set_grid(*grid, importanceTitle_ + " · " + kind);
    } else if (pyramid_) {
      const auto cell = cell_->currentIndex() == 1 ? PyramidReduction::Mean : PyramidReduction::MaxAbs;
      scene_->set_grid(figures::surface_of_pyramid(*pyramid_, kGridSide, kGridSide, cell), tensorTitle_);
    } else {
      scene_->clear();
    }
  } catch (const Error&) {
    // A tensor that cannot be read shows nothing; the heatmap tab says why.
    scene_->clear();
  }
  view_->renderLater();
  emit updated();
}

}  // namespace paramscope::ui
