#include "merge_preview_bar.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>

namespace paramscope::ui {
namespace {

// The methods whose result depends only on the task vectors and per-model weight and density,
// which is what the preview sets.
constexpr MergeMethod kPreviewMethods[] = {MergeMethod::Ties,       MergeMethod::DareTies,
                                           MergeMethod::DareLinear, MergeMethod::TaskArithmetic,
                                           MergeMethod::Breadcrumbs, MergeMethod::BreadcrumbsTies,
                                           MergeMethod::Linear};

}  // namespace

MergePreviewBar::MergePreviewBar(QWidget* parent)
    : QWidget(parent),
      tensor_(new QComboBox(this)),
      method_(new QComboBox(this)),
      density_(new QDoubleSpinBox(this)),
      seed_(new QSpinBox(this)),
      preview_(new QPushButton(tr("Preview"), this)) {
  tensor_->setObjectName(QStringLiteral("mergeTensor"));
  tensor_->setMinimumContentsLength(12);
  tensor_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  method_->setObjectName(QStringLiteral("mergeMethod"));
  for (MergeMethod m : kPreviewMethods)
    method_->addItem(QString::fromUtf8(merge_method_name(m).data(), static_cast<qsizetype>(merge_method_name(m).size())),
                     static_cast<int>(m));
  density_->setObjectName(QStringLiteral("mergeDensity"));
  density_->setRange(0, 1);
  density_->setSingleStep(0.05);
  density_->setDecimals(2);
  density_->setValue(0.2);
  density_->setToolTip(tr("Fraction of each task vector kept (TIES, DARE, breadcrumbs); also the top-k the "
                          "TIES-style conflict maps use"));
  seed_->setObjectName(QStringLiteral("mergeSeed"));
  seed_->setRange(0, 1 << 30);
  seed_->setToolTip(tr("Seed of DARE's random drop"));
  preview_->setObjectName(QStringLiteral("mergePreview"));
  preview_->setEnabled(false);

  auto* row = new QHBoxLayout(this);
  row->setContentsMargins(6, 2, 6, 0);
  row->addWidget(new QLabel(tr("Tensor:"), this));
  row->addWidget(tensor_, 1);
  row->addWidget(new QLabel(tr("Method:"), this));
  row->addWidget(method_);
  row->addWidget(new QLabel(tr("Density:"), this));
  row->addWidget(density_);
  row->addWidget(new QLabel(tr("Seed:"), this));
  row->addWidget(seed_);
  row->addWidget(preview_);

  connect(preview_, &QPushButton::clicked, this, &MergePreviewBar::previewRequested);
}

void MergePreviewBar::setTensors(const std::vector<std::string>& names) {
  const QString current = tensor_->currentText();
  const QSignalBlocker block(tensor_);
  tensor_->clear();
  for (const auto& n : names) tensor_->addItem(QString::fromStdString(n));
  const int i = tensor_->findText(current);
  if (i >= 0) tensor_->setCurrentIndex(i);
  preview_->setEnabled(!names.empty());
}

std::string MergePreviewBar::tensor() const { return tensor_->currentText().toStdString(); }

bool MergePreviewBar::selectTensor(const std::string& name) {
  const int i = tensor_->findText(QString::fromStdString(name));
  if (i >= 0) tensor_->setCurrentIndex(i);
  return i >= 0;
}

MergeParams MergePreviewBar::params() const {
  MergeParams p = default_merge_params(static_cast<MergeMethod>(method_->currentData().toInt()));
  p.seed = static_cast<std::uint64_t>(seed_->value());
  return p;
}

double MergePreviewBar::density() const { return density_->value(); }


}  // namespace paramscope::ui
